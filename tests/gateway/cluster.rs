//! Several gateway nodes sharing the L2 index through a spawned Redis (and a
//! three-master Redis Cluster): fills become hits everywhere, purges reach
//! every node, restarts are warm from snapshots, broken snapshots are refused.
//! Waits poll a condition against a deadline, never a fixed sleep.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use g_aigateway::config::{Config, RedisConfig, Secret};
use g_aigateway::metrics::Metrics;
use g_aigateway::shared::Shared;
use mock_upstream::MockUpstream;
use serde_json::{Value, json};

use crate::redis::{RedisCluster, RedisServer};
use crate::semantic::{ask, question, with_l2};
use crate::support::*;

const ADMIN: &str = "admin-secret";
const SYSTEM: &str = "You are the help desk.";
const DEADLINE: Duration = Duration::from_secs(30);

fn node(mock: &MockUpstream, redis: &str, name: &str, dir: &Path) -> Config {
    let mut config = config_for(mock);
    with_l2(&mut config);
    config.redis.url = Some(Secret::new(redis));
    config.cluster.node_id = Some(name.into());
    config.cluster.snapshots = true;
    config.cluster.snapshot_dir = dir.to_path_buf();
    config.admin.key = Some(Secret::new(ADMIN));
    config
}

async fn admin(gw: &TestGateway, method: &str, path: &str, body: Option<Value>) -> Value {
    let mut request = match method {
        "GET" => gw.http.get(gw.url(path)),
        _ => gw.http.post(gw.url(path)),
    }
    .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.expect("admin call");
    assert_eq!(response.status(), 200, "{method} {path}");
    response.json().await.expect("admin JSON")
}

async fn l2_entries(gw: &TestGateway) -> u64 {
    let stats = admin(gw, "GET", "/admin/stats", None).await;
    stats["l2"]["index"]["entries"].as_u64().unwrap_or(0)
}

/// Polls `check` until it holds or the deadline passes (then fails with `what`).
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_entries(gw: &TestGateway, n: u64) {
    wait_for(&format!("{n} L2 entries on {}", gw.addr), || async {
        l2_entries(gw).await == n
    })
    .await;
}

async fn wait_ready(gw: &TestGateway) {
    wait_for("readiness", || async {
        let response = gw.http.get(gw.url("/readyz")).send().await;
        response.is_ok_and(|r| r.status() == 200)
    })
    .await;
}

async fn label(gw: &TestGateway, text: &str) -> String {
    ask(gw, KEY_A, &question(SYSTEM, text), &[]).await.0
}

async fn stop(gw: TestGateway) {
    gw.shutdown.cancel();
    let stopped = tokio::time::timeout(DEADLINE, gw.handle).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "the node stops cleanly");
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_on_one_node_is_an_l2_hit_on_the_others_and_a_purge_reaches_all() {
    let redis = RedisServer::start();
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let a = start(node(&mock, &url, "a", dir.path())).await;
    let b = start(node(&mock, &url, "b", dir.path())).await;
    let c = start(node(&mock, &url, "c", dir.path())).await;
    for gw in [&a, &b, &c] {
        wait_ready(gw).await;
    }
    assert_eq!(label(&a, "How do I reset my password?").await, "miss");
    wait_entries(&b, 1).await;
    wait_entries(&c, 1).await;
    assert_eq!(label(&b, "how can I reset my password").await, "hit-l2");
    assert_eq!(label(&c, "How do I reset my password").await, "hit-l2");
    assert_eq!(mock.requests(), 1, "one upstream call for three nodes");
    let log = redis.keys("gw:l2:*").await;
    assert!(log.contains(&"gw:l2:log".to_string()), "{log:?}");
    let metrics = b.metrics().await;
    assert_eq!(
        metric(&metrics, "gateway_cluster_entries_applied_total"),
        1.0
    );
    assert!(
        metrics.contains("gateway_cluster_sync_lag_seconds_count"),
        "{metrics}"
    );

    let report = admin(
        &b,
        "POST",
        "/admin/cache/purge",
        Some(json!({"tenant": "team-a"})),
    )
    .await;
    assert_eq!(report["shared"], true, "{report}");
    for gw in [&a, &b, &c] {
        wait_entries(gw, 0).await;
    }
    // The exact prompt (L1, memory and Redis) and its paraphrase are gone
    // everywhere (asked with no-store, so these misses fill nothing anew).
    let no_store = [("cache-control", "no-store")];
    for gw in [&a, &b, &c] {
        for text in ["How do I reset my password?", "how can I reset my password"] {
            let asked = ask(gw, KEY_A, &question(SYSTEM, text), &no_store).await;
            assert_eq!(asked.0, "miss", "{text} on {}", gw.addr);
        }
    }
    assert_eq!(mock.requests(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_serves_from_its_snapshot_and_catches_up_what_it_missed() {
    let redis = RedisServer::start();
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let a = start(node(&mock, &url, "a", dir.path())).await;
    let c = start(node(&mock, &url, "c", dir.path())).await;
    wait_ready(&a).await;
    wait_ready(&c).await;
    assert_eq!(label(&a, "How do I reset my password?").await, "miss");
    wait_entries(&c, 1).await;
    stop(c).await;
    assert!(
        dir.path().join("c.snap").is_file(),
        "snapshot written at shutdown"
    );

    // While c is down, a keeps filling.
    assert_eq!(label(&a, "How do I delete my account?").await, "miss");
    let c = start(node(&mock, &url, "c", dir.path())).await;
    wait_ready(&c).await;
    assert_eq!(l2_entries(&c).await, 2);
    let metrics = c.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "gateway_snapshots_total{op=\"load\",result=\"ok\"}"
        ),
        1.0
    );
    // Only the missed fill came from the log; the first from the snapshot.
    assert_eq!(
        metric(&metrics, "gateway_cluster_entries_applied_total"),
        1.0
    );
    assert_eq!(label(&c, "how can I reset my password").await, "hit-l2");
    assert_eq!(label(&c, "How do I delete my account").await, "hit-l2");
    assert_eq!(mock.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_resumes_after_a_redis_restart_with_nothing_lost_that_redis_kept() {
    let data = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start_persistent(data.path());
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let a = start(node(&mock, &url, "a", dir.path())).await;
    let b = start(node(&mock, &url, "b", dir.path())).await;
    wait_ready(&a).await;
    wait_ready(&b).await;
    assert_eq!(label(&a, "How do I reset my password?").await, "miss");
    wait_entries(&b, 1).await;

    redis.restart_persistent(data.path());
    wait_for("node a to reach the restarted Redis", || async {
        a.readyz().await["redis"] == "up"
    })
    .await;
    assert_eq!(label(&a, "How do I delete my account?").await, "miss");
    wait_entries(&b, 2).await;
    // Both answers come from what Redis kept (b never held them in memory).
    assert_eq!(label(&b, "how can I reset my password").await, "hit-l2");
    assert_eq!(label(&b, "How do I delete my account").await, "hit-l2");
    assert_eq!(mock.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_read_after_a_redis_restart_is_answered() {
    // The shared connection only learns that Redis restarted when it next
    // sends a command; a read must not be lost to that (a node whose
    // connection sat idle through the restart would answer its first L2 hit
    // with a miss).
    let data = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start_persistent(data.path());
    let metrics = Arc::new(Metrics::new());
    let shared = Shared::connect_lazily(&redis.url(), &RedisConfig::default(), metrics).unwrap();
    let ttl = Duration::from_secs(60);
    shared.set_px("test", "gw:k", b"kept", ttl).await.unwrap();
    assert_eq!(
        shared.get("test", "gw:k").await.unwrap(),
        Some(b"kept".to_vec())
    );

    redis.restart_persistent(data.path());
    assert_eq!(
        shared.get("test", "gw:k").await.unwrap(),
        Some(b"kept".to_vec())
    );
    assert!(shared.ping().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_converge_again_after_redis_loses_its_data() {
    let mut redis = RedisServer::start();
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let a = start(node(&mock, &url, "a", dir.path())).await;
    let b = start(node(&mock, &url, "b", dir.path())).await;
    let c = start(node(&mock, &url, "c", dir.path())).await;
    for gw in [&a, &b, &c] {
        wait_ready(gw).await;
    }
    assert_eq!(label(&a, "How do I reset my password?").await, "miss");
    wait_entries(&b, 1).await;
    wait_entries(&c, 1).await;
    stop(c).await;
    // c never reads this one before Redis loses the log.
    assert_eq!(label(&a, "How do I delete my account?").await, "miss");
    wait_entries(&b, 2).await;

    // Redis restarts empty: the log, and the answers b would fetch, are gone.
    redis.restart_empty();
    wait_for("node a to write back the answers it holds", || async {
        metric(&a.metrics().await, "gateway_cluster_republished_total") == 2.0
    })
    .await;
    // c comes back from its snapshot (one entry) and learns the other.
    let c = start(node(&mock, &url, "c", dir.path())).await;
    wait_ready(&c).await;
    wait_entries(&c, 2).await;
    // b's answers were only in Redis: they are there again.
    assert_eq!(label(&b, "how can I reset my password").await, "hit-l2");
    assert_eq!(label(&b, "How do I delete my account").await, "hit-l2");
    assert_eq!(label(&c, "how can I delete my account").await, "hit-l2");
    assert_eq!(l2_entries(&b).await, 2);
    assert_eq!(mock.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_redis_cannot_give_now_is_a_miss_that_keeps_the_entry() {
    let data = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start_persistent(data.path());
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let a = start(node(&mock, &url, "a", dir.path())).await;
    let b = start(node(&mock, &url, "b", dir.path())).await;
    wait_ready(&a).await;
    wait_ready(&b).await;
    assert_eq!(label(&a, "How do I reset my password?").await, "miss");
    wait_entries(&b, 1).await;
    // Redis down: b's hit cannot fetch the answer a made. A miss (answered
    // by the upstream, stored on no tier), and b still knows the entry.
    redis.kill();
    let no_store = [("cache-control", "no-store")];
    let asked = ask(
        &b,
        KEY_A,
        &question(SYSTEM, "how can I reset my password"),
        &no_store,
    )
    .await;
    assert_eq!(asked.0, "miss");
    assert_eq!(
        l2_entries(&b).await,
        1,
        "a Redis outage does not erase the entry"
    );
    // Redis back with its data: the same paraphrase is a hit on b again.
    redis.restart_persistent(data.path());
    wait_for("node b to reach the restarted Redis", || async {
        b.readyz().await["redis"] == "up"
    })
    .await;
    let asked = ask(
        &b,
        KEY_A,
        &question(SYSTEM, "how can I reset my password"),
        &[],
    )
    .await;
    assert_eq!(asked.0, "hit-l2");
    assert_eq!(mock.requests(), 2);
}

/// The ways a snapshot file can be broken, each applied to a good one.
fn corruptions(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut flipped = good.to_vec();
    let at = good.len() - 40;
    flipped[at] ^= 0x01;
    let mut version = good.to_vec();
    version[8] = version[8].wrapping_add(1);
    let embedder = b"local:all-MiniLM-L6-v2";
    let at = good
        .windows(embedder.len())
        .position(|w| w == embedder)
        .expect("the header names the embedder");
    let mut other = good.to_vec();
    other[at + embedder.len() - 1] = b'3';
    vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("flipped byte", flipped),
        ("wrong version", version),
        ("other embedder", other),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_snapshots_are_refused_moved_aside_and_the_node_rebuilds_from_the_log() {
    let redis = RedisServer::start();
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let a = start(node(&mock, &url, "a", dir.path())).await;
    wait_ready(&a).await;
    assert_eq!(label(&a, "How do I reset my password?").await, "miss");
    admin(&a, "POST", "/admin/snapshot", None).await;
    let path: PathBuf = dir.path().join("a.snap");
    let good = std::fs::read(&path).unwrap();
    stop(a).await;

    for (case, bytes) in corruptions(&good) {
        std::fs::write(&path, &bytes).unwrap();
        let a = start(node(&mock, &url, "a", dir.path())).await;
        wait_ready(&a).await;
        let metrics = a.metrics().await;
        assert_eq!(
            metric(
                &metrics,
                "gateway_snapshots_total{op=\"load\",result=\"refused\"}"
            ),
            1.0,
            "{case}"
        );
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".bad-"))
            .count();
        assert!(aside >= 1, "{case}: the broken file is kept aside");
        // Rebuilt from the log: the entry is there and answers.
        assert_eq!(l2_entries(&a).await, 1, "{case}");
        assert_eq!(
            label(&a, "how can I reset my password").await,
            "hit-l2",
            "{case}"
        );
        for entry in std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
        {
            std::fs::remove_file(entry.path()).unwrap();
        }
        // Shut down without a snapshot left behind for the next case.
        a.shutdown.cancel();
        let _ = a.handle.await;
        let _ = std::fs::remove_file(&path);
    }
    assert_eq!(mock.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_cluster_flow_runs_on_a_three_master_redis_cluster() {
    let cluster = RedisCluster::start();
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let cluster_node = |name: &str| {
        let mut config = node(&mock, &cluster.urls(), name, dir.path());
        config.redis.cluster = true;
        config.tenants[1].limits.requests_per_minute = Some(2);
        config
    };
    let a = start(cluster_node("a")).await;
    let b = start(cluster_node("b")).await;
    wait_ready(&a).await;
    wait_ready(&b).await;
    // L2 sync through the stream, answers fetched from the cluster.
    assert_eq!(label(&a, "How do I reset my password?").await, "miss");
    wait_entries(&b, 1).await;
    assert_eq!(label(&b, "how can I reset my password").await, "hit-l2");
    // The shared L1 tier.
    assert_eq!(label(&b, "How do I reset my password?").await, "hit-l1");
    assert_eq!(mock.requests(), 1);
    // Rate limits (one Lua script per tenant hash tag) across both nodes.
    let mut statuses = Vec::new();
    for gw in [&a, &b, &a] {
        let response = gw
            .http
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(KEY_B)
            .body(chat("limited").to_string())
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
    // A purge on b reaches a.
    admin(&b, "POST", "/admin/cache/purge", Some(json!({"all": true}))).await;
    wait_entries(&a, 0).await;
    assert_eq!(label(&a, "How do I reset my password").await, "miss");
    let metrics = a.metrics().await;
    assert!(
        !metrics.contains("gateway_redis_errors_total{"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_admin_api_needs_its_own_key() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.admin.key = Some(Secret::new(ADMIN));
    let gw = start(config).await;
    wait_ready(&gw).await;
    let stats = gw.http.get(gw.url("/admin/stats"));
    assert_eq!(stats.send().await.unwrap().status(), 401);
    let tenant_key = gw.http.get(gw.url("/admin/stats")).bearer_auth(KEY_A);
    assert_eq!(tenant_key.send().await.unwrap().status(), 401);
    let stats = admin(&gw, "GET", "/admin/stats", None).await;
    assert_eq!(stats["redis"], "absent");
    assert_eq!(stats["ready"], true);
    let bad = gw
        .http
        .post(gw.url("/admin/cache/purge"))
        .bearer_auth(ADMIN)
        .body("{\"tenant\": 3}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(error_code(bad).await, "invalid_request");

    let off = start(config_for(&mock)).await;
    let response = off
        .http
        .get(off.url("/admin/stats"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "admin_disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_fills_and_purges_stay_local_and_nothing_fails() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.kill();
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let a = start(node(&mock, &url, "a", dir.path())).await;
    wait_ready(&a).await;
    assert_eq!(a.readyz().await["redis"], "down");
    assert_eq!(label(&a, "How do I reset my password?").await, "miss");
    assert_eq!(label(&a, "how can I reset my password").await, "hit-l2");
    // The share waits in the outbox (retried, counted as Redis errors).
    wait_for("the share to wait in the outbox", || async {
        let metrics = a.metrics().await;
        metric(&metrics, "gateway_redis_outbox_pending") >= 1.0
            && metrics.contains("gateway_redis_errors_total{op=")
    })
    .await;
    let report = admin(&a, "POST", "/admin/cache/purge", Some(json!({"all": true}))).await;
    assert_eq!(report["shared"], false, "{report}");
    assert_eq!(report["l2_removed"], 1, "{report}");
    assert_eq!(l2_entries(&a).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_made_while_redis_is_down_reaches_the_other_nodes_once_it_is_back() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let port = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .expect("port in the url");
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let a = start(node(&mock, &url, "a", dir.path())).await;
    let b = start(node(&mock, &url, "b", dir.path())).await;
    wait_ready(&a).await;
    wait_ready(&b).await;
    redis.kill();
    // Filled on A while Redis is away: answered, and kept in A's outbox.
    assert_eq!(label(&a, "How do I reset my password?").await, "miss");
    wait_for("the write to wait in the outbox", || async {
        metric(&a.metrics().await, "gateway_redis_outbox_pending") >= 1.0
    })
    .await;
    let _restarted = RedisServer::start_on(port);
    // Once Redis answers again the outbox drains and B's reader, reconnected,
    // applies the fill: B answers the paraphrase from it.
    wait_for("the outbox to drain", || async {
        metric(&a.metrics().await, "gateway_redis_outbox_pending") == 0.0
    })
    .await;
    wait_entries(&b, 1).await;
    assert_eq!(label(&b, "how can I reset my password").await, "hit-l2");
    assert_eq!(mock.requests(), 1);
}
