//! Gateway overhead on the miss path, in one run on one machine:
//! 1. fixed-rate latency, interleaved: client → mock vs client → gateway → mock
//!    (same upstream latency), reported as p50/p99 and the difference;
//! 2. max request rate: gateway → mock vs a bare axum server returning the same bytes.
//!
//! `cargo bench --bench proxy` (BENCH_SECS=10 per phase by default).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use mock_upstream::{MockOptions, MockUpstream};

const RATE: f64 = 400.0;
const CONCURRENCY: usize = 32;

async fn start_gateway(upstream: &MockUpstream) -> SocketAddr {
    let mut config = config_for(upstream.base_url());
    config.upstreams[0].api_keys = vec![g_aigateway::config::Secret::new("sk-bench")];
    // The miss path: every request goes upstream.
    config.cache.enabled = false;
    config.embedding.kind = g_aigateway::config::EmbedderKind::Off;
    spawn_gateway(config).await
}

fn main() {
    let (servers, client_rt) = runtimes();
    let duration = phase_duration();
    let client = client();

    println!(
        "## proxy overhead (miss path), {:.1} s per phase\n",
        duration.as_secs_f64()
    );
    println!("| upstream latency | path | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    for latency_ms in [0u64, 10] {
        let (mock, gateway) = servers.block_on(async {
            let options = MockOptions {
                latency: Duration::from_millis(latency_ms),
                ..MockOptions::default()
            };
            let mock = MockUpstream::start(options).await.expect("mock");
            let gateway = start_gateway(&mock).await;
            (mock, gateway)
        });
        let direct = Target::post(&client, mock.addr, "/v1/chat/completions", sample_body());
        let via = Target::post(&client, gateway, "/v1/chat/completions", sample_body());
        let hists = client_rt.block_on(interleaved_latency(&[direct, via], RATE, duration));
        let (d, g) = (&hists[0], &hists[1]);
        println!(
            "| {latency_ms} ms | direct to mock | {:.3} | {:.3} |",
            ms(d, 0.5),
            ms(d, 0.99)
        );
        println!(
            "| {latency_ms} ms | through gateway | {:.3} | {:.3} |",
            ms(g, 0.5),
            ms(g, 0.99)
        );
        println!(
            "| {latency_ms} ms | **added by gateway** | **{:.3}** | **{:.3}** |",
            ms(g, 0.5) - ms(d, 0.5),
            ms(g, 0.99) - ms(d, 0.99)
        );
    }

    let (gateway, bare) = servers.block_on(async {
        let mock = MockUpstream::start(MockOptions::default())
            .await
            .expect("mock");
        let gateway = start_gateway(&mock).await;
        let sample = reqwest::Client::new()
            .post(format!("{}/chat/completions", mock.base_url()))
            .body(sample_body())
            .send()
            .await
            .expect("sample")
            .bytes()
            .await
            .expect("sample body");
        std::mem::forget(mock);
        (gateway, start_bare(sample).await)
    });
    let bare_rps = client_rt.block_on(max_rate(
        &Target::post(&client, bare, "/v1/chat/completions", sample_body()),
        CONCURRENCY,
        duration,
    ));
    let gw_rps = client_rt.block_on(max_rate(
        &Target::post(&client, gateway, "/v1/chat/completions", sample_body()),
        CONCURRENCY,
        duration,
    ));
    println!("\n## max request rate, {CONCURRENCY} concurrent clients\n");
    println!("| server | req/s |");
    println!("|---|---|");
    println!("| bare axum, same bytes | {bare_rps:.0} |");
    println!("| gateway → mock upstream (miss path) | {gw_rps:.0} |");
    println!(
        "| **ratio gateway / bare** | **{:.2}** |",
        gw_rps / bare_rps
    );
}
