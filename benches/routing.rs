//! Routing across upstreams, in one run on one machine:
//! 1. the chooser's cost: one pick among three deployments (P2C, weighted)
//!    against the route look-up alone, in ns per call;
//! 2. availability: three deployments of one model, one of them failing 50 %
//!    of its requests, against the same load on one deployment failing 50 %
//!    (the same retries) — the share of requests answered 200.
//!
//! `cargo bench --bench routing` (REQUESTS=20000 by default; the test
//! command's short form sends 600).

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use g_aigateway::config::{
    Balancer, Config, DeploymentConfig, ModelDeployments, ModelTarget, UpstreamConfig,
};
use g_aigateway::upstream::Upstreams;
use mock_upstream::{MockOptions, MockUpstream};

const CONCURRENCY: usize = 16;

fn three_deployments(urls: &[String], balancer: Balancer) -> Config {
    let mut config = config_for(urls[0].clone());
    config.upstreams = urls
        .iter()
        .enumerate()
        .map(|(i, url)| UpstreamConfig {
            name: format!("u{i}"),
            base_url: url.clone(),
            api_keys: vec![],
        })
        .collect();
    let deployments = (0..urls.len())
        .map(|i| DeploymentConfig::on(&format!("u{i}")))
        .collect();
    config.models.insert(
        "mock-model".into(),
        ModelTarget::Deployments(ModelDeployments {
            deployments,
            fallbacks: Vec::new(),
        }),
    );
    config.routing.balancer = balancer;
    config.cache.enabled = false;
    config.embedding.kind = g_aigateway::config::EmbedderKind::Off;
    config.retry.base_delay_ms = 5;
    config.retry.max_delay_ms = 50;
    config
}

/// Nanoseconds per call of `f`, best of three rounds.
fn ns_per_call(n: u32, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let start = std::time::Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

fn chooser(n: u32) {
    let urls: Vec<String> = (0..3).map(|i| format!("http://u{i}.invalid/v1")).collect();
    println!("## chooser: one pick among 3 deployments ({n} calls, best of 3)\n");
    println!("| operation | ns per call | vs look-up |");
    println!("|---|---|---|");
    let table = Upstreams::from_config(&three_deployments(&urls, Balancer::P2c)).expect("routes");
    let lookup = ns_per_call(n, || {
        black_box(table.route(Some(black_box("mock-model"))));
    });
    println!("| route look-up alone (baseline) | {lookup:.0} | 1.0x |");
    for balancer in [Balancer::P2c, Balancer::Weighted] {
        let table = Upstreams::from_config(&three_deployments(&urls, balancer)).expect("routes");
        let pick = ns_per_call(n, || {
            let route = table.route(Some(black_box("mock-model")));
            black_box(route.pick(&[], false, tokio::time::Instant::now()));
        });
        println!(
            "| look-up + pick ({balancer:?}) | {pick:.0} | {:.1}x |",
            pick / lookup
        );
    }
    println!();
}

/// Sends `total` requests, `CONCURRENCY` at a time; returns how many got 200.
async fn drive(client: &reqwest::Client, addr: std::net::SocketAddr, total: u64) -> u64 {
    let next = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, next, ok) = (client.clone(), Arc::clone(&next), Arc::clone(&ok));
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let sent = client
                        .post(format!("http://{addr}/v1/chat/completions"))
                        .header("content-type", "application/json")
                        .body(sample_body())
                        .send()
                        .await;
                    if let Ok(response) = sent
                        && response.status() == 200
                        && response.bytes().await.is_ok()
                    {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    ok.load(Ordering::Relaxed)
}

fn availability(total: u64) {
    let (servers, client_rt) = runtimes();
    let client = client();
    let mock = |error_rate: f64| {
        let options = MockOptions {
            latency: Duration::from_millis(5),
            error_rate,
            ..MockOptions::default()
        };
        servers.block_on(async { MockUpstream::start(options).await.expect("mock") })
    };
    println!("## availability: {total} requests, {CONCURRENCY} at a time, upstream latency 5 ms\n");
    println!("| setup | answered 200 | attempts sent to the failing upstream |");
    println!("|---|---|---|");
    // Baseline: the one upstream fails half its requests; only retries help.
    let lone = mock(0.5);
    let config = three_deployments(&[lone.base_url()], Balancer::P2c);
    let addr = servers.block_on(spawn_gateway(config));
    let ok = client_rt.block_on(drive(&client, addr, total));
    println!(
        "| 1 deployment failing 50 % (baseline) | {:.2} % | {} |",
        100.0 * ok as f64 / total as f64,
        lone.requests()
    );
    for balancer in [Balancer::P2c, Balancer::Weighted] {
        let mocks = [mock(0.5), mock(0.0), mock(0.0)];
        let urls: Vec<String> = mocks.iter().map(MockUpstream::base_url).collect();
        let addr = servers.block_on(spawn_gateway(three_deployments(&urls, balancer)));
        let ok = client_rt.block_on(drive(&client, addr, total));
        let rate = 100.0 * ok as f64 / total as f64;
        let bad = mocks[0].requests();
        let all: u64 = mocks.iter().map(MockUpstream::requests).sum();
        println!(
            "| 3 deployments ({balancer:?}), 1 failing 50 % | {rate:.2} % | {bad} of {all} ({:.1} %) |",
            100.0 * bad as f64 / all.max(1) as f64
        );
        assert!(
            rate >= 99.9,
            "availability {rate:.2} % with one of three upstreams failing half its requests"
        );
    }
    println!();
}

fn main() {
    let full = is_full_run();
    chooser(if full { 2_000_000 } else { 20_000 });
    let total = match full {
        true => std::env::var("REQUESTS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_000),
        false => 600,
    };
    availability(total);
}
