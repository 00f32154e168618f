//! What every metric means, for the `# HELP` lines of `/metrics`.

use metrics::{describe_counter, describe_gauge, describe_histogram};

pub fn all() {
    describe_counter!(
        "gateway_l2_graphs_refused_total",
        "Saved HNSW graphs a snapshot carried that failed their checks (the partition was rebuilt instead)"
    );
    describe_counter!(
        "gateway_cache_lookups_total",
        "Cache look-ups by tier (l1_memory, l1_redis) and result (hit, miss, error)"
    );
    describe_counter!(
        "gateway_tokens_saved_total",
        "Upstream tokens not spent thanks to cached answers, by kind"
    );
    describe_gauge!("gateway_cache_entries", "Entries in the in-process cache");
    describe_gauge!("gateway_cache_bytes", "Bytes held by the in-process cache");
    describe_gauge!(
        "gateway_singleflight_waiting",
        "Requests waiting for an identical in-flight upstream call"
    );
    describe_counter!(
        "gateway_ratelimit_decisions_total",
        "Rate-limit decisions by result (allow, deny), limit (requests, tokens), source (redis, local)"
    );
    describe_histogram!(
        "gateway_embedding_duration_seconds",
        "Time to embed one prompt (batched, cache misses only)"
    );
    describe_counter!(
        "gateway_embedding_errors_total",
        "Embedding failures and timeouts (L2 skipped for the request)"
    );
    describe_gauge!(
        "gateway_l2_index_entries",
        "Live entries in the L2 semantic index"
    );
    describe_counter!(
        "gateway_l2_index_rebuilds_total",
        "Background L2 partition rebuilds"
    );
    describe_histogram!(
        "gateway_l2_similarity",
        "Best cosine similarity found by each L2 look-up"
    );
    describe_counter!(
        "gateway_l2_verifier_pairs_total",
        "Candidate pairs the L2 pair verifier read (the closest alone first; the others only when it is not sure)"
    );
    describe_counter!(
        "gateway_l2_verifier_rejections_total",
        "L2 candidates above the threshold refused by a guard, by guard"
    );
    describe_counter!(
        "gateway_cluster_entries_applied_total",
        "L2 entries inserted from the cluster log (other nodes' fills, replays)"
    );
    describe_histogram!(
        "gateway_cluster_sync_lag_seconds",
        "Time from a fill on one node to its entry applied on this node"
    );
    describe_counter!(
        "gateway_cluster_purges_total",
        "Purges applied, by source (local admin call, log)"
    );
    describe_gauge!(
        "gateway_cluster_reader_connected",
        "1 while the cluster log reader holds a Redis connection"
    );
    describe_counter!(
        "gateway_snapshots_total",
        "Snapshot writes and loads, by op (write, load) and result"
    );
    describe_histogram!(
        "gateway_snapshot_duration_seconds",
        "Time to write or load a snapshot"
    );
    describe_counter!(
        "gateway_upstream_choices_total",
        "Attempts sent to each deployment of a model, by model and deployment"
    );
    describe_gauge!(
        "gateway_upstream_health",
        "A deployment's circuit breaker: 1 closed (healthy), 0.5 half-open (probing), 0 open (ejected)"
    );
    describe_counter!(
        "gateway_upstream_ejections_total",
        "Times a deployment was ejected by its circuit breaker"
    );
    describe_counter!(
        "gateway_upstream_probes_total",
        "Active health probes by model, deployment and result"
    );
    describe_counter!(
        "gateway_concurrency_queued_total",
        "Requests that waited for a concurrency slot, by scope"
    );
    describe_counter!(
        "gateway_concurrency_rejected_total",
        "Requests refused (429) because a concurrency limit stayed full, by scope (tenant, deployment)"
    );
    describe_counter!(
        "gateway_config_reloads_total",
        "Configuration reloads (SIGHUP, POST /admin/reload) by result (applied, refused)"
    );
    describe_counter!(
        "gateway_upstream_fallbacks_total",
        "Requests tried on a fallback model after their model's upstream failed, by from, to and result"
    );
    describe_gauge!(
        "gateway_snapshot_last_write_timestamp_seconds",
        "Unix time of this node's last successful snapshot write"
    );
    describe_counter!(
        "gateway_redis_errors_total",
        "Failed or timed-out Redis commands, by operation"
    );
    describe_counter!(
        "gateway_requests_total",
        "Requests answered, by route and status"
    );
    describe_histogram!(
        "gateway_request_duration_seconds",
        "Time from request to the end of the response body"
    );
    describe_counter!(
        "gateway_upstream_requests_total",
        "Upstream attempts, by upstream and status (or error/timeout)"
    );
    describe_counter!(
        "gateway_upstream_retries_total",
        "Upstream attempts that were retried"
    );
    describe_histogram!(
        "gateway_upstream_duration_seconds",
        "Time of one upstream attempt until its response head (JSON: whole body)"
    );
    describe_counter!(
        "gateway_l2_skipped_total",
        "Requests whose L2 look-up was skipped, by stage (embedding, verifier) and reason (saturated, timeout, error)"
    );
    describe_histogram!(
        "gateway_l2_verifier_score",
        "The pair verifier's score of the hits it decided"
    );
    describe_counter!(
        "gateway_l2_audit_total",
        "Audited L2 hits by result: the fresh upstream answer agrees with the cached one, differs, or could not be compared"
    );
    describe_counter!(
        "gateway_l2_audit_tokens_total",
        "Upstream tokens spent on audits of L2 hits"
    );
    describe_gauge!(
        "gateway_redis_outbox_pending",
        "Writes (fills, purges) waiting to be sent to Redis"
    );
    describe_gauge!(
        "gateway_redis_outbox_bytes",
        "Bytes waiting in the Redis outbox"
    );
    describe_counter!(
        "gateway_redis_outbox_dropped_total",
        "Writes dropped from a full Redis outbox (oldest first)"
    );
    describe_counter!(
        "gateway_upstream_keys_quarantined_total",
        "Pool keys the provider refused (401/403), left out for key_quarantine_secs"
    );
    describe_counter!(
        "gateway_cache_evictions_total",
        "Cache entries dropped for room (entry or byte budget), by tier (l1, l2)"
    );
    describe_counter!(
        "gateway_upstream_retries_refused_total",
        "Retries not made because the retry budget was spent"
    );
    describe_gauge!(
        "gateway_cost_usd_total",
        "Dollars upstream calls cost (usage x the price table), by tenant and model; only grows"
    );
    describe_gauge!(
        "gateway_cost_saved_usd_total",
        "Dollars cache hits saved (the cached answer's usage x price), by tenant and tier; only grows"
    );
    describe_counter!(
        "gateway_singleflight_streams_relayed_total",
        "Coalesced streams relayed live from the leader's upstream stream"
    );
}
