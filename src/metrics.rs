//! Prometheus metrics. Each gateway instance owns its recorder (no global state),
//! so several instances in one process — as in tests — keep separate series.

use std::time::Duration;

mod describe;

use metrics::{Recorder, counter, gauge, histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Latency buckets in seconds: sub-millisecond cache hits up to long completions.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0,
];

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        // Only fails on an empty bucket list, which a constant is not.
        let builder = builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let builder = builder
            .set_buckets_for_metric(
                Matcher::Full("gateway_l2_similarity".into()),
                &[0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.99, 1.0],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let builder = builder
            .set_buckets_for_metric(
                Matcher::Full("gateway_l2_verifier_score".into()),
                &[0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = Self { recorder, handle };
        metrics.with(describe::all);
        metrics.with(zeroes);
        metrics
    }

    /// Runs `f` with this instance's recorder as the target of the `metrics` macros.
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder as &dyn Recorder, f)
    }

    /// Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Housekeeping the exporter needs periodically (drains histogram buffers).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let route = route.to_string();
        self.with(|| {
            counter!("gateway_requests_total", "route" => route.clone(), "status" => status.to_string())
                .increment(1);
            histogram!("gateway_request_duration_seconds", "route" => route)
                .record(elapsed.as_secs_f64());
        });
    }

    /// One upstream attempt; `outcome` is the status code or `error`/`timeout`.
    pub fn upstream_attempt(&self, upstream: &str, outcome: &str, elapsed: Duration) {
        let (upstream, outcome) = (upstream.to_string(), outcome.to_string());
        self.with(|| {
            counter!("gateway_upstream_requests_total", "upstream" => upstream.clone(), "status" => outcome)
                .increment(1);
            histogram!("gateway_upstream_duration_seconds", "upstream" => upstream)
                .record(elapsed.as_secs_f64());
        });
    }

    /// An attempt went to this deployment of a model.
    pub fn upstream_choice(&self, model: &str, deployment: &str) {
        let (model, deployment) = (model.to_string(), deployment.to_string());
        self.with(|| {
            counter!("gateway_upstream_choices_total", "model" => model, "deployment" => deployment)
                .increment(1)
        });
    }

    /// A deployment's breaker changed phase; an ejection is also counted.
    pub fn upstream_health(&self, model: &str, deployment: &str, value: f64, ejected: bool) {
        self.upstream_health_now(model, deployment, value);
        if ejected {
            let (model, deployment) = (model.to_string(), deployment.to_string());
            self.with(|| {
                counter!("gateway_upstream_ejections_total", "model" => model, "deployment" => deployment)
                    .increment(1)
            });
        }
    }

    /// A request waited for a concurrency slot (`scope`: `tenant` or `deployment`).
    pub fn upstream_queued(&self, model: &str, deployment: &str) {
        let (model, deployment) = (model.to_string(), deployment.to_string());
        self.with(|| {
            counter!("gateway_concurrency_queued_total", "scope" => "deployment", "model" => model, "deployment" => deployment)
                .increment(1)
        });
    }

    /// A concurrency limit stayed full: the request got a 429.
    pub fn concurrency_rejected(&self, scope: &'static str) {
        self.with(|| counter!("gateway_concurrency_rejected_total", "scope" => scope).increment(1));
    }

    /// An active health probe's result.
    pub fn upstream_probe(&self, model: &str, deployment: &str, ok: bool) {
        let (model, deployment) = (model.to_string(), deployment.to_string());
        let result = if ok { "ok" } else { "failed" };
        self.with(|| {
            counter!("gateway_upstream_probes_total", "model" => model, "deployment" => deployment, "result" => result)
                .increment(1)
        });
    }

    /// A deployment's breaker phase, without counting an ejection.
    pub fn upstream_health_now(&self, model: &str, deployment: &str, value: f64) {
        let (model, deployment) = (model.to_string(), deployment.to_string());
        self.with(|| {
            gauge!("gateway_upstream_health", "model" => model, "deployment" => deployment)
                .set(value)
        });
    }

    /// A configuration reload: `applied` or `refused`.
    pub fn config_reload(&self, result: &'static str) {
        self.with(|| counter!("gateway_config_reloads_total", "result" => result).increment(1));
    }

    /// A pool key the provider refused was quarantined.
    pub fn upstream_key_quarantined(&self, upstream: &str) {
        let upstream = upstream.to_string();
        self.with(|| {
            counter!("gateway_upstream_keys_quarantined_total", "upstream" => upstream).increment(1)
        });
    }

    /// A retry the retry budget refused.
    pub fn upstream_retry_refused(&self, upstream: &str) {
        let upstream = upstream.to_string();
        self.with(|| {
            counter!("gateway_upstream_retries_refused_total", "upstream" => upstream).increment(1)
        });
    }

    /// A request whose model's upstream failed, tried on a fallback model:
    /// `result` is `ok` or `failed`.
    pub fn upstream_fallback(&self, from: &str, to: &str, result: &'static str) {
        let (from, to) = (from.to_string(), to.to_string());
        self.with(|| {
            counter!("gateway_upstream_fallbacks_total", "from" => from, "to" => to, "result" => result)
                .increment(1)
        });
    }

    pub fn upstream_retry(&self, upstream: &str) {
        let upstream = upstream.to_string();
        self.with(|| {
            counter!("gateway_upstream_retries_total", "upstream" => upstream).increment(1)
        });
    }
    /// One cache look-up: `tier` is `l1_memory`, `l1_redis` (later `l2`),
    /// `result` is `hit`, `miss` or `error`.
    pub fn cache_lookup(&self, tier: &'static str, result: &'static str) {
        self.with(|| {
            counter!("gateway_cache_lookups_total", "tier" => tier, "result" => result).increment(1)
        });
    }

    /// Tokens an answer from memory saved (its recorded upstream usage).
    /// Dollars an upstream answer cost. Exposed as a gauge that only grows
    /// (the `metrics` crate's counters count whole units): `rate()` works on
    /// it as on a counter.
    pub fn cost(&self, tenant: &str, model: &str, dollars: f64) {
        let (tenant, model) = (tenant.to_string(), model.to_string());
        self.with(|| {
            gauge!("gateway_cost_usd_total", "tenant" => tenant, "model" => model)
                .increment(dollars)
        });
    }

    /// Dollars a cache hit saved (the cached answer's usage, priced).
    pub fn cost_saved(&self, tenant: &str, tier: &'static str, dollars: f64) {
        let tenant = tenant.to_string();
        self.with(|| {
            gauge!("gateway_cost_saved_usd_total", "tenant" => tenant, "tier" => tier)
                .increment(dollars)
        });
    }

    /// A coalesced stream relayed live from its leader.
    pub fn coalesced_stream(&self) {
        self.with(|| counter!("gateway_singleflight_streams_relayed_total").increment(1));
    }

    /// An entry dropped for room (count or byte budget), by tier.
    pub fn cache_eviction(&self, tier: &'static str) {
        self.with(|| counter!("gateway_cache_evictions_total", "tier" => tier).increment(1));
    }

    pub fn tokens_saved(&self, prompt: u64, completion: u64) {
        self.with(|| {
            counter!("gateway_tokens_saved_total", "kind" => "prompt").increment(prompt);
            counter!("gateway_tokens_saved_total", "kind" => "completion").increment(completion);
        });
    }

    /// Point-in-time cache figures, set just before each scrape.
    pub fn cache_size(&self, entries: u64, bytes: u64, flight_waiters: usize) {
        self.with(|| {
            gauge!("gateway_cache_entries", "tier" => "l1").set(entries as f64);
            gauge!("gateway_cache_bytes", "tier" => "l1").set(bytes as f64);
            gauge!("gateway_singleflight_waiting").set(flight_waiters as f64);
        });
    }

    pub fn ratelimit_decision(
        &self,
        result: &'static str,
        limit: &'static str,
        source: &'static str,
    ) {
        self.with(|| {
            counter!("gateway_ratelimit_decisions_total", "result" => result, "limit" => limit, "source" => source)
                .increment(1)
        });
    }

    /// One embedding computed (cache misses only); failures are counted too.
    pub fn embedding(&self, elapsed: Duration, ok: bool) {
        self.with(|| {
            if ok {
                histogram!("gateway_embedding_duration_seconds").record(elapsed.as_secs_f64());
            } else {
                counter!("gateway_embedding_errors_total").increment(1);
            }
        });
    }

    pub fn l2_entries(&self, entries: usize) {
        self.with(|| gauge!("gateway_l2_index_entries").set(entries as f64));
    }

    /// A snapshot's saved graph failed its checks (its partition is rebuilt).
    pub fn l2_graph_refused(&self) {
        self.with(|| counter!("gateway_l2_graphs_refused_total").increment(1));
    }

    pub fn l2_rebuild(&self) {
        self.with(|| counter!("gateway_l2_index_rebuilds_total").increment(1));
    }

    /// The best similarity an L2 look-up found, and how it ended.
    pub fn l2_lookup(&self, best: Option<f32>, result: &'static str) {
        self.with(|| {
            if let Some(best) = best {
                histogram!("gateway_l2_similarity").record(f64::from(best));
            }
            counter!("gateway_cache_lookups_total", "tier" => "l2", "result" => result)
                .increment(1);
        });
    }

    /// L2 was skipped for a request: `stage` (embedding, verifier) could
    /// not answer within the budget (`reason`: saturated, timeout, error).
    pub fn l2_skipped(&self, stage: &'static str, reason: &'static str) {
        self.with(|| {
            counter!("gateway_l2_skipped_total", "stage" => stage, "reason" => reason).increment(1)
        });
    }

    /// An audit of an L2 hit: `agree`, `differ`, `error` or `skipped`.
    pub fn l2_audit(&self, result: &'static str) {
        self.with(|| counter!("gateway_l2_audit_total", "result" => result).increment(1));
    }

    /// Tokens the audits' upstream calls cost.
    pub fn l2_audit_tokens(&self, tokens: u64) {
        self.with(|| counter!("gateway_l2_audit_tokens_total").increment(tokens));
    }

    /// Candidate pairs the verifier read for one look-up.
    pub fn l2_verifier_pairs(&self, pairs: usize) {
        if pairs > 0 {
            self.with(|| counter!("gateway_l2_verifier_pairs_total").increment(pairs as u64));
        }
    }

    /// The verifier's score of a hit it decided.
    pub fn l2_verifier_score(&self, score: f32) {
        self.with(|| histogram!("gateway_l2_verifier_score").record(f64::from(score)));
    }

    pub fn l2_rejection(&self, why: &'static str) {
        self.with(|| counter!("gateway_l2_verifier_rejections_total", "guard" => why).increment(1));
    }

    /// A log entry from another node (or an earlier life) entered the index,
    /// `lag` after it was filled.
    pub fn cluster_applied(&self, lag: Duration) {
        self.with(|| {
            counter!("gateway_cluster_entries_applied_total").increment(1);
            histogram!("gateway_cluster_sync_lag_seconds").record(lag.as_secs_f64());
        });
    }

    /// A purge applied; `source` is `local` (admin call here) or `log`.
    pub fn cluster_purge(&self, source: &'static str) {
        self.with(|| counter!("gateway_cluster_purges_total", "source" => source).increment(1));
    }

    /// An entry written back after Redis lost its data.
    pub fn cluster_republished(&self) {
        self.with(|| counter!("gateway_cluster_republished_total").increment(1));
    }

    pub fn cluster_connected(&self, connected: bool) {
        self.with(|| {
            gauge!("gateway_cluster_reader_connected").set(f64::from(u8::from(connected)))
        });
    }

    /// A snapshot written or loaded; `result` is `ok`, `absent`, `refused`
    /// or `error`.
    pub fn snapshot(&self, op: &'static str, result: &'static str, elapsed: Duration) {
        self.with(|| {
            counter!("gateway_snapshots_total", "op" => op, "result" => result).increment(1);
            histogram!("gateway_snapshot_duration_seconds", "op" => op)
                .record(elapsed.as_secs_f64());
            if op == "write" && result == "ok" {
                gauge!("gateway_snapshot_last_write_timestamp_seconds")
                    .set(crate::clock::now_ms() as f64 / 1000.0);
            }
        });
    }

    /// The Redis outbox: writes waiting, their bytes, and how many were just
    /// dropped for room.
    pub fn outbox(&self, pending: usize, bytes: usize, dropped: usize) {
        self.with(|| {
            gauge!("gateway_redis_outbox_pending").set(pending as f64);
            gauge!("gateway_redis_outbox_bytes").set(bytes as f64);
            if dropped > 0 {
                counter!("gateway_redis_outbox_dropped_total").increment(dropped as u64);
            }
        });
    }

    pub fn redis_error(&self, op: &'static str) {
        self.with(|| counter!("gateway_redis_errors_total", "op" => op).increment(1));
    }
}

/// Series that exist from the start at zero, so that "nothing happened"
/// reads as 0 on a dashboard and in an alert, not as no data: the rare events
/// an operator watches for (skips, rebuilds, Redis errors, outbox drops).
fn zeroes() {
    for stage in ["embedding", "verifier"] {
        for reason in ["saturated", "timeout", "error"] {
            counter!("gateway_l2_skipped_total", "stage" => stage, "reason" => reason).absolute(0);
        }
    }
    counter!("gateway_l2_skipped_total", "stage" => "prompt", "reason" => "too_long").absolute(0);
    counter!("gateway_l2_index_rebuilds_total").absolute(0);
    counter!("gateway_l2_graphs_refused_total").absolute(0);
    counter!("gateway_redis_outbox_dropped_total").absolute(0);
    gauge!("gateway_redis_outbox_pending").set(0.0);
    gauge!("gateway_redis_outbox_bytes").set(0.0);
    for result in ["applied", "refused"] {
        counter!("gateway_config_reloads_total", "result" => result).absolute(0);
    }
    for scope in ["tenant", "deployment"] {
        counter!("gateway_concurrency_rejected_total", "scope" => scope).absolute(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_instances_keep_separate_series() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.request("chat", 200, Duration::from_millis(3));
        assert!(
            a.render()
                .contains("gateway_requests_total{route=\"chat\",status=\"200\"} 1")
        );
        assert!(!b.render().contains("gateway_requests_total{"));
    }
}
