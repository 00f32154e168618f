//! L2 semantic cache, in one run on one machine:
//! 1. local embedding latency (batch 1, p50/p99) and batched throughput;
//! 2. index: HNSW vs exact scan at several sizes — search p50/p99, recall@1 of
//!    HNSW against the exact answer, insert rate, memory per entry — on real
//!    QQP embeddings when `l2-eval` has cached them (else random unit vectors);
//! 3. the pair verifier: batch-1 latency, batched throughput;
//! 4. L2 hits end to end through the gateway vs a 1 s upstream (the ratio),
//!    deciding by the verifier (the default) and by rules, with CPU per hit;
//! 5. saturation: many clients at once sending distinct prompts that each
//!    need an embedding and a verification — nothing fails, L2 is skipped
//!    for what cannot be served within the budget.
//!
//! `cargo bench --bench semantic` (needs the model: `bash scripts/fetch-model.sh`).
//! `BENCH_PHASES=verifier,end_to_end` runs only the phases named (embedding,
//! index, verifier, end_to_end, saturation; all when unset).

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use g_aigateway::config::{EmbedderKind, VerifierMode};
use g_aigateway::embedding::{LocalModel, normalize};
use g_aigateway::index::{ExactIndex, GraphIndex, GraphParams, VectorIndex};
use g_aigateway::verifier::{PairModel, Source};
use hdrhistogram::Histogram;
use mock_upstream::{MockOptions, MockUpstream};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const VERBS: &[&str] = &[
    "reset", "change", "delete", "update", "recover", "verify", "export", "share",
];
const NOUNS: &[&str] = &[
    "password",
    "email address",
    "account",
    "profile picture",
    "subscription",
    "phone number",
    "billing details",
    "username",
];

fn model_dir() -> PathBuf {
    let dir = PathBuf::from("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "run `bash scripts/fetch-model.sh` first"
    );
    dir
}

fn us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64
}

fn embedding_phase(model: &LocalModel, full: bool) {
    let texts: Vec<String> = (0..if full { 200 } else { 8 })
        .map(|i| {
            format!(
                "How do I {} my {} on device number {i}?",
                VERBS[i % 8],
                NOUNS[(i / 8) % 8]
            )
        })
        .collect();
    let mut h = histogram();
    for t in &texts {
        let started = Instant::now();
        let _ = model.embed(std::slice::from_ref(t));
        let _ = h.record(started.elapsed().as_micros() as u64);
    }
    let batch: Vec<String> = (0..if full { 512 } else { 32 })
        .map(|i| format!("question number {i} about {}", NOUNS[i % 8]))
        .collect();
    let started = Instant::now();
    for chunk in batch.chunks(32) {
        let _ = model.embed(chunk);
    }
    let rate = batch.len() as f64 / started.elapsed().as_secs_f64();
    println!("## local embedding (all-MiniLM-L6-v2, candle, CPU)\n");
    println!("| batch 1 p50 ms | batch 1 p99 ms | batched (32) texts/s |");
    println!("|---|---|---|");
    println!("| {:.2} | {:.2} | {rate:.0} |\n", ms(&h, 0.5), ms(&h, 0.99));
}

/// Real QQP vectors from the `l2-eval` cache, else random unit vectors.
fn vectors(n: usize) -> (Vec<Arc<[f32]>>, &'static str) {
    let mut real = Vec::new();
    if let Ok(dir) = std::fs::read_dir("target/l2-eval") {
        for entry in dir.flatten() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                real.extend(bytes.chunks_exact(384 * 4).map(|row| {
                    row.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect::<Vec<f32>>()
                        .into()
                }));
            }
        }
    }
    if real.len() >= 10_200 {
        real.truncate(n);
        return (real, "QQP embeddings");
    }
    let mut rng = StdRng::seed_from_u64(7);
    let random = (0..n)
        .map(|_| {
            let mut v: Vec<f32> = (0..384).map(|_| rng.random_range(-1.0..1.0)).collect();
            normalize(&mut v);
            v.into()
        })
        .collect();
    (random, "random unit vectors")
}

fn index_phase(full: bool) {
    let sizes: &[usize] = if full {
        &[100, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000]
    } else {
        &[100, 1_000]
    };
    let (all, source) = vectors(*sizes.iter().max().unwrap_or(&1000) + 200);
    // The QQP set holds 98,600 vectors: its largest size is what is left after the queries.
    let sizes: Vec<usize> = sizes.iter().map(|n| (*n).min(all.len() - 200)).collect();
    println!("## index search ({source}, 384 dims; queries: 200 held-out vectors)\n");
    println!(
        "| entries | exact p50 µs | exact p99 µs | HNSW p50 µs | HNSW p99 µs | HNSW recall@1 | HNSW inserts/s | HNSW bytes per entry (vector + links) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let queries = &all[all.len() - 200..];
    for &n in &sizes {
        let data = &all[..n];
        let exact = ExactIndex::default();
        for (i, v) in data.iter().enumerate() {
            exact.insert(i, v);
        }
        let started = Instant::now();
        let rows: Vec<(usize, Arc<[f32]>)> = data.iter().cloned().enumerate().collect();
        let hnsw = GraphIndex::build(GraphParams::default(), &rows, 1);
        let insert_rate = n as f64 / started.elapsed().as_secs_f64();
        let per_entry = (384 * 4 + hnsw.link_bytes()) as f64;
        let (mut he, mut hh, mut agree) = (histogram(), histogram(), 0);
        for q in queries {
            let t = Instant::now();
            let e = exact.search(q, 1, &|_| true);
            let _ = he.record(t.elapsed().as_micros().max(1) as u64);
            let t = Instant::now();
            let h = hnsw.search(q, 1, &|_| true);
            let _ = hh.record(t.elapsed().as_micros().max(1) as u64);
            // QQP repeats questions: a tie with the exact top-1 is as good.
            let (best, got) = (e.first(), h.first());
            if best
                .zip(got)
                .is_some_and(|(b, g)| g.0 == b.0 || g.1 >= b.1 - 1e-6)
            {
                agree += 1;
            }
        }
        println!(
            "| {n} | {:.0} | {:.0} | {:.0} | {:.0} | {:.3} | {insert_rate:.0} | {:.0} B |",
            us(&he, 0.5),
            us(&he, 0.99),
            us(&hh, 0.5),
            us(&hh, 0.99),
            agree as f64 / queries.len() as f64,
            per_entry
        );
    }
    println!();
}

async fn start_gateway(upstream: &MockUpstream, mode: VerifierMode) -> SocketAddr {
    let mut config = config_for(upstream.base_url());
    config.embedding.kind = EmbedderKind::Local;
    config.embedding.model_dir = model_dir();
    config.semantic.verifier = mode;
    let gateway = spawn_gateway(config).await;
    wait_ready(gateway).await;
    gateway
}

async fn wait_ready(gateway: SocketAddr) {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        let ready = client
            .get(format!("http://{gateway}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway never became ready");
}

/// This process's CPU time (user + system), from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    let ticks: u64 = fields.iter().sum();
    Duration::from_secs_f64(ticks as f64 / 100.0)
}

fn verifier_phase(full: bool) {
    let model = PairModel::load(&model_dir(), &Source::Shipped).expect("verifier loads");
    let pairs: Vec<(String, String)> = (0..if full { 200 } else { 8 })
        .map(|i| {
            let (v, n) = (VERBS[i % 8], NOUNS[(i / 8) % 8]);
            (
                format!("How do I {v} my {n}?"),
                format!("how can I {v} my {n} on device {i}"),
            )
        })
        .collect();
    let mut h = histogram();
    for pair in &pairs {
        let started = Instant::now();
        let _ = model.score(std::slice::from_ref(pair));
        let _ = h.record(started.elapsed().as_micros() as u64);
    }
    // A look-up's candidates: up to three pairs in one batch.
    let mut h3 = histogram();
    for three in pairs.chunks(3) {
        let started = Instant::now();
        let _ = model.score(three);
        let _ = h3.record(started.elapsed().as_micros() as u64);
    }
    let started = Instant::now();
    for chunk in pairs.chunks(16) {
        let _ = model.score(chunk);
    }
    let rate = pairs.len() as f64 / started.elapsed().as_secs_f64();
    println!("## pair verifier (base all-MiniLM-L6-v2 + adapter, candle, CPU)\n");
    println!(
        "| batch 1 p50 ms | batch 1 p99 ms | batch 3 p50 ms | batch 3 p99 ms | batched (16) pairs/s |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| {:.2} | {:.2} | {:.2} | {:.2} | {rate:.0} |\n",
        ms(&h, 0.5),
        ms(&h, 0.99),
        ms(&h3, 0.5),
        ms(&h3, 0.99)
    );
}

fn ask(text: &str) -> String {
    serde_json::json!({"model": "mock-model", "messages": [{"role": "user", "content": text}]})
        .to_string()
}

async fn timed(client: &reqwest::Client, gateway: SocketAddr, text: &str) -> (Duration, String) {
    let started = Instant::now();
    let response = client
        .post(format!("http://{gateway}/v1/chat/completions"))
        .body(ask(text))
        .send()
        .await
        .expect("gateway answers");
    let label = match response.status().is_success() {
        true => response
            .headers()
            .get("x-gateway-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        // A failed request: counted as such, whatever its cache label.
        false => String::new(),
    };
    let _ = response.bytes().await;
    (started.elapsed(), label)
}

fn paraphrase_pairs(n: usize) -> Vec<(String, String)> {
    VERBS
        .iter()
        .flat_map(|v| {
            NOUNS.iter().map(move |n| {
                (
                    format!("How do I {v} my {n}?"),
                    format!("how can I {v} my {n}"),
                )
            })
        })
        .take(n)
        .collect()
}

/// Hits after misses, through one gateway deciding by `mode`: the miss and
/// hit latency histograms, how many paraphrases hit, and CPU per hit.
async fn end_to_end(
    mode: VerifierMode,
    pairs: &[(String, String)],
) -> (Histogram<u64>, Histogram<u64>, usize, Duration) {
    let options = MockOptions {
        latency: Duration::from_secs(1),
        ..MockOptions::default()
    };
    let mock = MockUpstream::start(options).await.expect("mock");
    let gateway = start_gateway(&mock, mode).await;
    let client = reqwest::Client::new();
    let primes = pairs.iter().map(|(a, _)| timed(&client, gateway, a));
    let misses: Vec<_> = futures_util::future::join_all(primes).await;
    let mut hits = histogram();
    let mut count = 0;
    let cpu = cpu_time();
    for (_, b) in pairs {
        let (elapsed, label) = timed(&client, gateway, b).await;
        if label == "hit-l2" {
            let _ = hits.record(elapsed.as_micros() as u64);
            count += 1;
        }
    }
    let cpu_per = (cpu_time() - cpu) / pairs.len().max(1) as u32;
    let mut miss_h = histogram();
    for (elapsed, _) in &misses {
        let _ = miss_h.record(elapsed.as_micros() as u64);
    }
    std::mem::forget(mock);
    (miss_h, hits, count, cpu_per)
}

fn end_to_end_phase(full: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let pairs = paraphrase_pairs(if full { 64 } else { 4 });
    println!("## L2 hit end to end (local model, upstream latency 1 s)\n");
    println!("| decision | path | p50 ms | p99 ms | CPU ms per look-up | paraphrases hit |");
    println!("|---|---|---|---|---|---|");
    for (mode, name) in [
        (VerifierMode::Model, "verifier"),
        (VerifierMode::Rules, "rules"),
    ] {
        let (misses, hits, count, cpu) = runtime.block_on(end_to_end(mode, &pairs));
        println!(
            "| {name} | miss: through the 1 s upstream | {:.1} | {:.1} | | |",
            ms(&misses, 0.5),
            ms(&misses, 0.99)
        );
        println!(
            "| {name} | L2 hit (embedding + search + decision) | {:.2} | {:.2} | {:.2} | {count}/{} |",
            ms(&hits, 0.5),
            ms(&hits, 0.99),
            cpu.as_secs_f64() * 1e3,
            pairs.len()
        );
        println!(
            "| {name} | **ratio L2 hit / upstream (p50)** | **{:.4}** | | | |",
            ms(&hits, 0.5) / ms(&misses, 0.5).max(1e-9),
        );
    }
    println!();
}

/// `clients` clients at once, each sending distinct paraphrases of cached
/// prompts (an embedding and a verification each): answers, failures, L2 hits
/// and skips.
fn saturation_phase(full: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let clients = if full { 64 } else { 4 };
    let per_client = if full { 8 } else { 2 };
    let (h, failed, labels, elapsed) = runtime.block_on(async {
        let mock = MockUpstream::start(MockOptions::default())
            .await
            .expect("mock");
        let gateway = start_gateway(&mock, VerifierMode::Model).await;
        let client = reqwest::Client::new();
        for (a, _) in paraphrase_pairs(64) {
            let _ = timed(&client, gateway, &a).await;
        }
        let started = Instant::now();
        let runs = (0..clients).map(|c| {
            let client = client.clone();
            async move {
                let mut out = Vec::new();
                for i in 0..per_client {
                    let (v, n) = (VERBS[(c + i) % 8], NOUNS[(c * 3 + i) % 8]);
                    let text = format!("could you tell me how I {v} my {n} (client {c}, try {i})");
                    out.push(timed(&client, gateway, &text).await);
                }
                out
            }
        });
        let results: Vec<_> = futures_util::future::join_all(runs)
            .await
            .into_iter()
            .flatten()
            .collect();
        let elapsed = started.elapsed();
        let mut h = histogram();
        let mut labels = Vec::new();
        let mut failed = 0;
        for (took, label) in results {
            let _ = h.record(took.as_micros() as u64);
            if label.is_empty() {
                failed += 1;
            }
            labels.push(label);
        }
        std::mem::forget(mock);
        (h, failed, labels, elapsed)
    });
    let total = labels.len();
    let hits = labels.iter().filter(|l| *l == "hit-l2").count();
    println!(
        "## saturation: {clients} clients at once, {total} distinct prompts, embedding + verification each\n"
    );
    println!("| answered per s | p50 ms | p99 ms | failed | L2 hits | misses (incl. L2 skipped) |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {:.0} | {:.1} | {:.1} | {failed} | {hits} | {} |\n",
        total as f64 / elapsed.as_secs_f64(),
        ms(&h, 0.5),
        ms(&h, 0.99),
        total - hits - failed
    );
}

/// Whether `BENCH_PHASES` (a comma-separated list; unset: every phase) names `phase`.
fn runs(phase: &str) -> bool {
    std::env::var("BENCH_PHASES").map_or(true, |list| list.split(',').any(|p| p.trim() == phase))
}

fn main() {
    let full = is_full_run();
    if runs("embedding") {
        let model = Arc::new(LocalModel::load(&model_dir()).expect("model loads"));
        embedding_phase(&model, full);
    }
    if runs("index") {
        index_phase(full);
    }
    if runs("verifier") {
        verifier_phase(full);
    }
    if runs("end_to_end") {
        end_to_end_phase(full);
    }
    if runs("saturation") {
        saturation_phase(full);
    }
}
