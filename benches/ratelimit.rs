//! Rate limiter cost, in one run on one machine against one spawned Redis:
//! 1. limiter decisions/s through Redis (the real script, closed loop) vs
//!    `redis-benchmark` running a trivial EVALSHA on the same server (ratio);
//! 2. script calls (client round trips) per request, counted with INFO
//!    commandstats: a request limit alone, and request + token limits (whose
//!    reconciliation runs after the response);
//! 3. latency the limiter adds to a request: a gateway whose tenant has a
//!    (never reached) request + token limit vs one whose tenant has none,
//!    interleaved at a fixed rate, cache off for both.
//!
//! `cargo bench --bench ratelimit` (BENCH_SECS=10 per phase by default).
//! Needs `redis-server` and `redis-benchmark` (Debian: redis-server, redis-tools).

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use common::*;
use g_aigateway::auth::Tenant;
use g_aigateway::config::{
    RateLimitConfig, RedisConfig, Secret, TenantCache, TenantConfig, TenantLimits,
};
use g_aigateway::metrics::Metrics;
use g_aigateway::ratelimit::{Decision, RateLimiter};
use g_aigateway::shared::Shared;
use mock_upstream::{MockOptions, MockUpstream};

const RATE: f64 = 400.0;
const CONCURRENCY: usize = 32;

fn huge_limits() -> TenantLimits {
    TenantLimits {
        requests_per_minute: Some(1_000_000_000),
        tokens_per_minute: Some(1_000_000_000),
        ..TenantLimits::default()
    }
}

/// Calls of `command` so far, from INFO commandstats.
fn calls(port: u16, command: &str) -> u64 {
    let stats = redis_cli(port, &["INFO", "commandstats"]);
    let prefix = format!("cmdstat_{command}:calls=");
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn redis_benchmark_evalsha(port: u16, requests: u64) -> f64 {
    let sha = redis_cli(port, &["SCRIPT", "LOAD", "return 1"])
        .trim()
        .to_string();
    let output = Command::new("redis-benchmark")
        .args(["-p", &port.to_string(), "-c", &CONCURRENCY.to_string()])
        .args(["-n", &requests.to_string(), "-q", "EVALSHA", &sha, "0"])
        .output()
        .expect("redis-benchmark must be installed (Debian: apt-get install redis-tools)");
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .collect::<Vec<_>>()
        .windows(3)
        .find(|w| w[1] == "requests" && w[2] == "per")
        .and_then(|w| w[0].parse().ok())
        .unwrap_or(0.0)
}

async fn start_gateway(mock: &MockUpstream, port: u16, limits: TenantLimits) -> SocketAddr {
    let mut config = config_for(mock.base_url());
    config.tenants = vec![TenantConfig {
        name: "bench".into(),
        api_keys: vec![Secret::new("gw-bench")],
        limits,
        cache: TenantCache {
            enabled: false,
            ..TenantCache::default()
        },
    }];
    config.embedding.kind = g_aigateway::config::EmbedderKind::Off;
    config.redis.url = Some(Secret::new(format!("redis://127.0.0.1:{port}/")));
    spawn_gateway(config).await
}

fn main() {
    let (mut redis, port) = start_redis();
    let (servers, client_rt) = runtimes();
    let duration = phase_duration();

    // 1. Decisions per second through Redis, the limiter called directly.
    let metrics = Arc::new(Metrics::new());
    let url = format!("redis://127.0.0.1:{port}/");
    let limiter = client_rt.block_on(async {
        let shared = Shared::connect_lazily(&url, &RedisConfig::default(), Arc::clone(&metrics))
            .expect("redis client");
        Arc::new(RateLimiter::new(
            RateLimitConfig::default(),
            Some(shared),
            metrics,
        ))
    });
    let tenant = Arc::new(Tenant {
        name: "bench".into(),
        limits: huge_limits(),
        cache: TenantCache::default(),
    });
    let decisions = client_rt.block_on(run_closed_loop(CONCURRENCY, duration, {
        let (limiter, tenant) = (Arc::clone(&limiter), Arc::clone(&tenant));
        move || {
            let (limiter, tenant) = (Arc::clone(&limiter), Arc::clone(&tenant));
            async move { matches!(limiter.admit(&tenant, "m", 100).await, Decision::Allow(_)) }
        }
    }));
    let baseline_n = if is_full_run() { 200_000 } else { 5_000 };
    let baseline = redis_benchmark_evalsha(port, baseline_n);

    // 2 + 3. Through the gateway: round trips and added latency.
    let client = client();
    let (limited, open, requests_only) = servers.block_on(async {
        let mock = MockUpstream::start(MockOptions::default())
            .await
            .expect("mock");
        let limited = start_gateway(&mock, port, huge_limits()).await;
        let open = start_gateway(&mock, port, TenantLimits::default()).await;
        let only = TenantLimits {
            tokens_per_minute: None,
            ..huge_limits()
        };
        let requests_only = start_gateway(&mock, port, only).await;
        std::mem::forget(mock);
        (limited, open, requests_only)
    });
    let body = serde_json::json!({"model": "mock-model",
        "messages": [{"role": "user", "content": "How do I reset my password?"}]})
    .to_string();
    let target = |addr| {
        Target::post(&client, addr, "/v1/chat/completions", body.clone()).with_bearer("gw-bench")
    };
    let (to_limited, to_open) = (target(limited), target(open));
    let probe = 200u64;
    let script_calls = |target: Target| {
        let before = calls(port, "evalsha") + calls(port, "eval");
        client_rt.block_on(async {
            for _ in 0..probe {
                target.hit().await;
            }
            // Reconciliations run in the background after each response.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        });
        (calls(port, "evalsha") + calls(port, "eval") - before) as f64 / probe as f64
    };
    let per_request_only = script_calls(target(requests_only));
    let per_request_tokens = script_calls(to_limited.clone());
    let hists = client_rt.block_on(interleaved_latency(&[to_open, to_limited], RATE, duration));

    println!(
        "## rate limiter, {:.1} s per phase\n",
        duration.as_secs_f64()
    );
    println!("| decisions per second ({CONCURRENCY} concurrent) | per s |");
    println!("|---|---|");
    println!("| redis-benchmark: EVALSHA of `return 1` | {baseline:.0} |");
    println!("| g-aigateway limiter (request + token limit, one script call) | {decisions:.0} |");
    println!(
        "| **ratio limiter / trivial EVALSHA** | **{:.2}** |\n",
        decisions / baseline.max(1.0)
    );
    println!("| script calls (round trips) per request, cache off | per request |");
    println!("|---|---|");
    println!("| request limit only: the decision | {per_request_only:.2} |");
    println!(
        "| request + token limit: decision, then reconcile after the response | {per_request_tokens:.2} |\n"
    );
    println!("| at {RATE:.0} req/s (interleaved, miss path) | p50 ms | p99 ms |");
    println!("|---|---|---|");
    let (o, l) = (&hists[0], &hists[1]);
    println!(
        "| tenant without limits | {:.3} | {:.3} |",
        ms(o, 0.5),
        ms(o, 0.99)
    );
    println!(
        "| tenant with request + token limits | {:.3} | {:.3} |",
        ms(l, 0.5),
        ms(l, 0.99)
    );
    println!(
        "| **added by the limiter** | **{:.3}** | **{:.3}** |",
        ms(l, 0.5) - ms(o, 0.5),
        ms(l, 0.99) - ms(o, 0.99)
    );
    let _ = redis.kill();
    let _ = redis.wait();
}
