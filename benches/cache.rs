//! L1 hit path, in one run on one machine:
//! 1. max request rate of L1 hits through the gateway vs a bare axum server
//!    returning the same bytes (the HTTP stack's ceiling here), as a ratio;
//! 2. L1-hit latency p50/p99 at a fixed moderate rate, interleaved with the bare
//!    server at the same rate.
//!
//! `cargo bench --bench cache` (BENCH_SECS=10 per phase by default).

mod common;

use std::net::SocketAddr;

use common::*;
use mock_upstream::{MockOptions, MockUpstream};

const RATE: f64 = 1000.0;
const CONCURRENCY: usize = 32;

async fn start_gateway(upstream: &MockUpstream) -> SocketAddr {
    let mut config = config_for(upstream.base_url());
    // Measure the L1 hit path alone.
    config.embedding.kind = g_aigateway::config::EmbedderKind::Off;
    spawn_gateway(config).await
}

fn main() {
    let (servers, client_rt) = runtimes();
    let duration = phase_duration();
    let client = client();

    let (mock, gateway, bare) = servers.block_on(async {
        let mock = MockUpstream::start(MockOptions::default())
            .await
            .expect("mock");
        let gateway = start_gateway(&mock).await;
        // Prime the cache; the bare server returns exactly the cached bytes.
        let first = reqwest::Client::new()
            .post(format!("http://{gateway}/v1/chat/completions"))
            .body(sample_body())
            .send()
            .await
            .expect("prime");
        let bytes = first.bytes().await.expect("prime body");
        let bare = start_bare(bytes).await;
        (mock, gateway, bare)
    });
    let via = Target::post(&client, gateway, "/v1/chat/completions", sample_body());
    let direct = Target::post(&client, bare, "/v1/chat/completions", sample_body());

    let bare_rps = client_rt.block_on(max_rate(&direct, CONCURRENCY, duration));
    let hit_rps = client_rt.block_on(max_rate(&via, CONCURRENCY, duration));
    let hists = client_rt.block_on(interleaved_latency(&[direct, via], RATE, duration));
    let upstream_calls = mock.requests();

    println!(
        "## L1 hit path, {:.1} s per phase\n",
        duration.as_secs_f64()
    );
    println!("| max request rate, {CONCURRENCY} concurrent clients | req/s |");
    println!("|---|---|");
    println!("| bare axum server, same bytes | {bare_rps:.0} |");
    println!("| gateway, L1 hit | {hit_rps:.0} |");
    println!(
        "| **ratio gateway / bare** | **{:.2}** |\n",
        hit_rps / bare_rps
    );
    println!("| at {RATE:.0} req/s (interleaved) | p50 ms | p99 ms |");
    println!("|---|---|---|");
    let (d, g) = (&hists[0], &hists[1]);
    println!(
        "| bare axum server | {:.3} | {:.3} |",
        ms(d, 0.5),
        ms(d, 0.99)
    );
    println!(
        "| gateway, L1 hit | {:.3} | {:.3} |",
        ms(g, 0.5),
        ms(g, 0.99)
    );
    println!("\nupstream calls during the run: {upstream_calls} (1 = only the priming miss)");
}
