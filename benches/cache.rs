//! L1 hit path, in one run on one machine:
//! 1. max request rate of L1 hits through the gateway vs a bare axum server
//!    returning the same bytes (the HTTP stack's ceiling here), as a ratio;
//! 2. L1-hit latency p50/p99 at a fixed moderate rate, interleaved with the bare
//!    server at the same rate.
//!
//! `cargo bench --bench cache` (BENCH_SECS=10 per phase by default).

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use common::*;
use g_aigateway::config::{Config, UpstreamConfig};
use g_aigateway::mock::{MockOptions, MockUpstream};
use tokio_util::sync::CancellationToken;

const RATE: f64 = 1000.0;
const CONCURRENCY: usize = 32;

fn body() -> String {
    serde_json::json!({
        "model": "mock-model",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "How do I reset my password?"},
        ],
        "temperature": 0.2,
    })
    .to_string()
}

async fn start_gateway(upstream: &MockUpstream) -> SocketAddr {
    let config = Config {
        upstreams: vec![UpstreamConfig {
            name: "mock".into(),
            base_url: upstream.base_url(),
            api_keys: vec![],
        }],
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(g_aigateway::run(listener, config, CancellationToken::new()));
    addr
}

async fn start_bare(bytes: Bytes) -> SocketAddr {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let bytes = bytes.clone();
            async move { ([("content-type", "application/json")], bytes) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn main() {
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let duration = phase_duration();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");

    let (mock, gateway, bare) = servers.block_on(async {
        let mock = MockUpstream::start(MockOptions::default())
            .await
            .expect("mock");
        let gateway = start_gateway(&mock).await;
        // Prime the cache; the bare server returns exactly the cached bytes.
        let first = reqwest::Client::new()
            .post(format!("http://{gateway}/v1/chat/completions"))
            .body(body())
            .send()
            .await
            .expect("prime");
        let bytes = first.bytes().await.expect("prime body");
        let bare = start_bare(bytes).await;
        (mock, gateway, bare)
    });
    let via = Target::post(&client, gateway, "/v1/chat/completions", body());
    let direct = Target::post(&client, bare, "/v1/chat/completions", body());

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
