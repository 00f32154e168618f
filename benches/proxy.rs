//! Gateway overhead on the miss path, in one run on one machine:
//! 1. fixed-rate latency, interleaved: client → mock vs client → gateway → mock
//!    (same upstream latency), reported as p50/p99 and the difference;
//! 2. max request rate: gateway → mock vs a bare axum server returning the same bytes.
//!
//! `cargo bench --bench proxy` (BENCH_SECS=10 per phase by default).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use common::*;
use g_aigateway::config::{Config, UpstreamConfig};
use g_aigateway::mock::{MockOptions, MockUpstream};
use tokio_util::sync::CancellationToken;

const RATE: f64 = 400.0;
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
            api_keys: vec![g_aigateway::config::Secret::new("sk-bench")],
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

/// A bare axum server answering every POST with `bytes`: the HTTP stack's ceiling.
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
        let direct = Target::post(&client, mock.addr, "/v1/chat/completions", body());
        let via = Target::post(&client, gateway, "/v1/chat/completions", body());
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
            .body(body())
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
        &Target::post(&client, bare, "/v1/chat/completions", body()),
        CONCURRENCY,
        duration,
    ));
    let gw_rps = client_rt.block_on(max_rate(
        &Target::post(&client, gateway, "/v1/chat/completions", body()),
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
