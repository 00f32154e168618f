//! Shared load generator for the benchmarks: open-loop fixed-rate latency runs
//! (sends are spawned on schedule whatever the responses do) and closed-loop
//! max-throughput runs.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

/// `--bench` is passed by `cargo bench`; without it (`cargo test`) run a short smoke pass.
pub fn is_full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Seconds per phase: `BENCH_SECS`, else 10 (0.3 in smoke mode).
pub fn phase_duration() -> Duration {
    if !is_full_run() {
        return Duration::from_millis(300);
    }
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    Duration::from_secs_f64(secs)
}

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds")
}

/// A request target: a URL, a body and headers, sent with one shared client.
#[derive(Clone)]
pub struct Target {
    pub client: reqwest::Client,
    pub url: String,
    pub body: Option<String>,
    pub bearer: Option<String>,
}

impl Target {
    pub fn post(client: &reqwest::Client, addr: SocketAddr, path: &str, body: String) -> Self {
        Self {
            client: client.clone(),
            url: format!("http://{addr}{path}"),
            body: Some(body),
            bearer: None,
        }
    }

    pub fn with_bearer(mut self, key: &str) -> Self {
        self.bearer = Some(key.to_string());
        self
    }

    /// Sends once and reads the whole body; `false` on any failure or non-200.
    pub async fn hit(&self) -> bool {
        let mut request = match &self.body {
            Some(body) => self.client.post(&self.url).body(body.clone()),
            None => self.client.get(&self.url),
        };
        request = request.header("content-type", "application/json");
        if let Some(key) = &self.bearer {
            request = request.bearer_auth(key);
        }
        match request.send().await {
            Ok(response) => {
                let ok = response.status() == 200;
                response.bytes().await.is_ok() && ok
            }
            Err(_) => false,
        }
    }
}

/// Latency histograms (µs) of interleaved fixed-rate traffic to several targets:
/// each send slot goes to a random target, `rate` requests/s in total. Latency is
/// timed from the actual send (the schedule itself never waits on responses).
pub async fn interleaved_latency(
    targets: &[Target],
    rate: f64,
    duration: Duration,
) -> Vec<Histogram<u64>> {
    let n = targets.len();
    let total = (rate * duration.as_secs_f64()) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..total {
        let scheduled = start + interval * i as u32;
        tokio::time::sleep_until(scheduled).await;
        // Random slot assignment: tokio's 1 ms timer wakes some slots later than
        // others, and a fixed i % n pattern would hand that bias to one target.
        let which = rand::random_range(0..n);
        let target = targets[which].clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let sent = Instant::now();
            let ok = target.hit().await;
            let micros = sent.elapsed().as_micros() as u64;
            let _ = tx.send((which, ok, micros));
        });
    }
    drop(tx);
    let mut hists: Vec<_> = (0..n).map(|_| histogram()).collect();
    let mut failures = 0;
    while let Some((which, ok, micros)) = rx.recv().await {
        if ok {
            let _ = hists[which].record(micros.max(1));
        } else {
            failures += 1;
        }
    }
    if failures > 0 {
        eprintln!("warning: {failures} failed requests");
    }
    hists
}

/// Requests/s a target sustains with `concurrency` closed-loop workers.
pub async fn max_rate(target: &Target, concurrency: usize, duration: Duration) -> f64 {
    run_closed_loop(concurrency, duration, {
        let target = target.clone();
        move || {
            let target = target.clone();
            async move { target.hit().await }
        }
    })
    .await
}

/// Runs `op` in `concurrency` loops for `duration`; returns successful ops/s.
pub async fn run_closed_loop<F, Fut>(concurrency: usize, duration: Duration, op: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    // Warm-up: connections opened, caches filled.
    for _ in 0..concurrency {
        op().await;
    }
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (op, done, stop) = (op.clone(), Arc::clone(&done), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if op().await {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let count = done.load(Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    count as f64 / elapsed
}

/// Milliseconds at a quantile of a µs histogram.
pub fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// The servers' runtime (2 workers) and the load generator's (1 thread).
pub fn runtimes() -> (tokio::runtime::Runtime, tokio::runtime::Runtime) {
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    (servers, client)
}

/// A pooled HTTP client for the load generator.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client")
}

/// Runs a gateway with `config` on a free loopback port.
pub async fn spawn_gateway(config: g_aigateway::Config) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(g_aigateway::run(listener, config, shutdown));
    addr
}

/// A bare axum server answering every chat POST with `bytes`: the ceiling of
/// the HTTP stack on this machine.
pub async fn start_bare(bytes: bytes::Bytes) -> SocketAddr {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
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

/// A config whose only upstream is `base_url`.
/// No snapshots: a benchmark gateway must start empty, never from a file a
/// developer's gateway left in `snapshots/`.
pub fn config_for(base_url: String) -> g_aigateway::Config {
    let mut config = g_aigateway::Config {
        upstreams: vec![g_aigateway::config::UpstreamConfig {
            name: "mock".into(),
            base_url,
            api_keys: vec![],
        }],
        ..g_aigateway::Config::default()
    };
    config.cluster.snapshots = false;
    config
}

/// The chat request the proxy and cache benchmarks send.
pub fn sample_body() -> String {
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

/// A `redis-server` on a free port (no persistence) and its port.
pub fn start_redis() -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (Debian: apt-get install redis-server)");
    for _ in 0..200 {
        if redis_cli(port, &["PING"]).trim() == "PONG" {
            return (child, port);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("redis-server did not start");
}

/// `redis-cli -p <port> <args>`, its standard output.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli must be installed (Debian: apt-get install redis-tools)");
    String::from_utf8_lossy(&output.stdout).to_string()
}
