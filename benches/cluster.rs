//! Cluster sync and warm restarts, in one run against one spawned Redis:
//! 1. sync lag: node A fills L2 entries at a steady rate (answer SET + XADD,
//!    as the gateway does after a miss); node B follows the log; lag = fill
//!    on A → entry applied on B, p50/p99;
//! 2. start-up at N entries (default 100k, `BENCH_START_SIZES=100000,1000000`):
//!    cold (rebuild from the stream) vs warm (snapshot + catch-up), both to
//!    ready; snapshot size per entry.
//!
//! The embedder is not involved (vectors are random unit vectors): these
//! phases measure the log, the index inserts and the snapshot only.
//!
//! `cargo bench --bench cluster`

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_util::future::BoxFuture;
use g_aigateway::admission::LaneLimits;
use g_aigateway::cache::{CachedResponse, L1, Purges, Usage};
use g_aigateway::cluster::{Cluster, Event, Fill};
use g_aigateway::config::{ClusterConfig, RedisConfig, SemanticConfig};
use g_aigateway::embedding::{Backend, EmbedError, Embedder, normalize};
use g_aigateway::metrics::Metrics;
use g_aigateway::node;
use g_aigateway::semantic::{Judge, L2, NewEntry, SemanticCache, id_hex};
use g_aigateway::shared::Shared;
use g_aigateway::snapshot::Snapshots;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

const DIM: usize = 384;
const PARTITIONS: u8 = 10;

/// The benchmark never embeds: vectors are made up.
struct NoEmbedder;

impl Backend for NoEmbedder {
    fn embed_batch(&self, _: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(async { Err(EmbedError::Failed("not used".into())) })
    }
}

/// The parts of a node these phases use: its cluster sync, its L2 store and
/// its snapshots (no HTTP, no embedder).
struct Node {
    cluster: Arc<Cluster>,
    l2: Arc<L2>,
    snapshots: Arc<Snapshots>,
}

impl Node {
    /// Loads the snapshot and follows the log until `shutdown`, as a gateway does.
    fn start(&self, shutdown: &CancellationToken) {
        let (cluster, snapshots) = (Arc::clone(&self.cluster), Arc::clone(&self.snapshots));
        tokio::spawn(node::sync(cluster, Some(snapshots), shutdown.clone()));
    }
}

fn node(name: &str, url: &str, dir: &Path) -> Node {
    let metrics = Arc::new(Metrics::new());
    let shared = Shared::connect_lazily(url, &RedisConfig::default(), Arc::clone(&metrics))
        .expect("redis client");
    let purges = Arc::new(Purges::default());
    let l1 = Arc::new(L1::new(
        1 << 26,
        Some(shared.clone()),
        Arc::clone(&purges),
        Arc::clone(&metrics),
    ));
    let embedder = Embedder::new(
        "bench:none".into(),
        DIM,
        Arc::new(NoEmbedder),
        LaneLimits {
            max_batch: 32,
            max_batch_cost: 4096,
            max_queued_cost: 32_768,
            initial_rate: 4000.0,
        },
        Arc::clone(&metrics),
    );
    let semantic = SemanticConfig {
        max_entries: 2_000_000,
        max_bytes: usize::MAX,
        ..SemanticConfig::default()
    };
    let cache = SemanticCache::new(semantic, Arc::clone(&purges), Arc::clone(&metrics));
    let budget = Duration::from_secs(1);
    let l2 = Arc::new(L2::new(
        embedder,
        cache,
        Judge::Off,
        budget,
        Arc::clone(&metrics),
    ));
    let config = ClusterConfig {
        node_id: Some(name.into()),
        snapshot_dir: dir.to_path_buf(),
        snapshot_interval_secs: 0,
        ..ClusterConfig::default()
    };
    let snapshots = Arc::new(Snapshots::new(
        dir,
        name,
        Arc::clone(&l2),
        Arc::clone(&purges),
        Arc::clone(&metrics),
    ));
    let cluster = Arc::new(Cluster::new(
        config,
        Some(shared),
        l1,
        Some(Arc::clone(&l2)),
        purges,
        metrics,
    ));
    Node {
        cluster,
        l2,
        snapshots,
    }
}

/// A local fill: a made-up prompt, vector and ~600-byte answer.
fn fill(rng: &mut StdRng, i: usize) -> NewEntry {
    let mut v: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect();
    normalize(&mut v);
    let partition = [(i % PARTITIONS as usize) as u8; 32];
    let text = format!("How do I configure feature number {i} of the product on my device?");
    let body = format!(
        "{{\"id\":\"chatcmpl-{i}\",\"choices\":[{{\"message\":{{\"role\":\"assistant\",\"content\":\"{}\"}}}}]}}",
        "x".repeat(520)
    );
    let response = CachedResponse::new(
        Bytes::from(body),
        Duration::from_secs(3600),
        Usage {
            prompt: 20,
            completion: 130,
        },
    );
    NewEntry::local(
        "tenant:bench",
        partition,
        text,
        v.into(),
        Arc::new(response),
    )
}

async fn wait_ready(cluster: &Cluster) {
    while !cluster.readiness.ready() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Node A fills at `rate` per second; the time from each fill to its entry
/// applied on node B.
async fn lag_phase(
    url: &str,
    dir: &Path,
    rate: u32,
    duration: Duration,
) -> (hdrhistogram::Histogram<u64>, usize, usize) {
    let (a, b) = (node("lag-a", url, dir), node("lag-b", url, dir));
    let shutdown = CancellationToken::new();
    b.start(&shutdown);
    wait_ready(&b.cluster).await;
    let sent: Arc<Mutex<HashMap<[u8; 16], Instant>>> = Arc::default();
    // Woken whenever B's reader applies entries: each sent entry now in B's
    // store is timed (entries applied in one batch share the wake-up time).
    let mut changes = b.cluster.watch_sync();
    let collector = {
        let (sent, l2) = (Arc::clone(&sent), Arc::clone(&b.l2));
        tokio::spawn(async move {
            let mut h = histogram();
            while changes.changed().await.is_ok() {
                let mut sent = sent.lock().unwrap();
                sent.retain(|id, at| {
                    let applied = l2.cache.contains(id);
                    if applied {
                        let _ = h.record(at.elapsed().as_micros().max(1) as u64);
                    }
                    !applied
                });
            }
            h
        })
    };
    let mut rng = StdRng::seed_from_u64(u64::from(rate));
    let total = (duration.as_secs_f64() * f64::from(rate)) as usize;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let l2 = Arc::clone(&a.l2);
    for i in 0..total {
        tick.tick().await;
        let entry = fill(&mut rng, i + rate as usize * 1_000_000);
        sent.lock().unwrap().insert(entry.id, Instant::now());
        l2.cache.insert(entry.clone());
        a.cluster.publish_fill(&entry);
    }
    // Let the last entries arrive (bounded), then stop B and collect.
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.cluster.sync_state().applied < total as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let applied = b.cluster.sync_state().applied as usize;
    shutdown.cancel();
    drop(b);
    let h = collector.await.expect("collector");
    (h, total, applied)
}

/// Writes `n` fills to the stream and their answers to Redis, pipelined.
async fn populate(url: &str, n: usize) {
    let client = redis::Client::open(url).expect("url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let mut rng = StdRng::seed_from_u64(42);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut pipe = redis::pipe();
        for &i in chunk {
            let e = fill(&mut rng, i);
            let response = e.response.as_ref().expect("local fill");
            pipe.cmd("SET")
                .arg(format!("gw:l2:e:{}", id_hex(&e.id)))
                .arg(response.encode())
                .arg("PX")
                .arg(3_600_000)
                .ignore();
            let event = Event::Fill(Fill::of(&e, "prime"));
            let xadd = pipe
                .cmd("XADD")
                .arg("gw:l2:log")
                .arg("MAXLEN")
                .arg("~")
                .arg(n + 1000)
                .arg("*");
            for (field, value) in event.fields() {
                xadd.arg(field).arg(value);
            }
            xadd.ignore();
        }
        let _: () = pipe.query_async(&mut connection).await.expect("populate");
    }
}

/// Time from start to ready for a fresh node named `name`.
async fn start_up(name: &str, url: &str, dir: &Path) -> (Duration, Node, CancellationToken) {
    let node = node(name, url, dir);
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    node.start(&shutdown);
    wait_ready(&node.cluster).await;
    (started.elapsed(), node, shutdown)
}

fn start_sizes(full: bool) -> Vec<usize> {
    if !full {
        return vec![2_000];
    }
    std::env::var("BENCH_START_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![100_000])
}

fn main() {
    let full = is_full_run();
    let (mut redis, port) = start_redis();
    let url = format!("redis://127.0.0.1:{port}/");
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let duration = phase_duration();

    println!("## sync lag (fill on node A → applied on node B, one Redis on loopback)\n");
    println!("| fills per s | fills | applied on B | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for rate in [100, 1_000] {
        let _ = redis_cli(port, &["FLUSHALL"]);
        let (h, sent, applied) = runtime.block_on(lag_phase(&url, dir.path(), rate, duration));
        println!(
            "| {rate} | {sent} | {applied} | {:.2} | {:.2} | {:.2} |",
            ms(&h, 0.5),
            ms(&h, 0.99),
            h.max() as f64 / 1000.0
        );
    }

    println!(
        "\n## start-up to ready ({PARTITIONS} partitions, {DIM}-dim vectors, ~600-byte answers)\n"
    );
    println!(
        "| entries | cold: rebuild from the stream s | warm: snapshot + catch-up s | **cold / warm** | snapshot write s | snapshot bytes per entry |"
    );
    println!("|---|---|---|---|---|---|");
    for n in start_sizes(full) {
        let _ = redis_cli(port, &["FLUSHALL"]);
        runtime.block_on(populate(&url, n));
        // Three rounds, alternating, each node dropped before the next
        // starts; the medians are reported (this machine is noisy).
        let (mut colds, mut warms, mut written) = (Vec::new(), Vec::new(), None);
        for round in 0..3 {
            let name = format!("cold{round}");
            let (cold, node, stop) = runtime.block_on(start_up(&name, &url, dir.path()));
            let held = node.l2.cache.len();
            assert_eq!(held, n, "the cold node rebuilt every entry");
            let position = node.cluster.sync_state().position;
            let w = node.snapshots.write(position).expect("snapshot");
            stop.cancel();
            drop(node);
            std::fs::copy(&w.path, dir.path().join("warm.snap")).expect("copy snapshot");
            let (warm, node, stop) = runtime.block_on(start_up("warm", &url, dir.path()));
            let held = node.l2.cache.len();
            assert_eq!(held, n, "the warm node loaded every entry");
            stop.cancel();
            drop(node);
            colds.push(cold.as_secs_f64());
            warms.push(warm.as_secs_f64());
            written = Some(w);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (cold, warm) = (median(&mut colds), median(&mut warms));
        let written = written.expect("three rounds");
        println!(
            "| {n} | {cold:.3} | {warm:.3} | **{:.1}** | {:.3} | {:.0} |",
            cold / warm.max(1e-9),
            written.millis as f64 / 1000.0,
            written.bytes as f64 / n as f64
        );
    }
    let _ = redis.kill();
    let _ = redis.wait();
}
