//! The HNSW index at scale (issue 16), in one run on one machine: build time
//! and inserts/s (our graph on one and two threads; `hnsw_rs`, the index it
//! replaces, as the baseline up to 100k), search p50/p99 and recall@1 against
//! an exact scan, bytes per entry, the saved graph's size, and restart to
//! full-speed search: loading the saved graph (warm) against rebuilding it
//! (cold), the index alone and through the L2 store (`RESTART_MAX`, default
//! 100000: the largest size given that second table).
//!
//! `cargo bench --bench index` (sizes 100k and 1M; `INDEX_SIZES=100000` for
//! fewer, `INDEX_BASELINE=0` to skip `hnsw_rs`, `INDEX_THREADS=1` for one build,
//! `INDEX_EF=96,128` to also search the built graph wider, `INDEX_QUERIES` for
//! more held-out queries than 200). The 100k set is real QQP embeddings when `target/l2-eval` holds
//! them (`cargo run --release -p l2-eval` fills it), else the synthetic set;
//! beyond, synthetic vectors with realistic structure: 4,000 topics, each a
//! random direction, and every vector its topic plus noise (cosine to the
//! topic ≈ 0.75). The test command runs a 600-vector form.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering as AtomicOrdering};
use std::time::Instant;

use common::*;
use g_aigateway::config::SemanticConfig;
use g_aigateway::embedding::normalize;
use g_aigateway::index::{ExactIndex, GraphIndex, GraphParams, HnswIndex, VectorIndex};
use g_aigateway::metrics::Metrics;
use g_aigateway::semantic::{EntryId, NewEntry, PartitionKey, SemanticCache, entry_id, graph_key};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIM: usize = 384;

/// The system allocator, counting live heap bytes: the restart table's
/// memory per entry is what the store allocated for its entries and graph.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; only a counter
// is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, AtomicOrdering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, AtomicOrdering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                AtomicOrdering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;
/// Held-out queries for search latency and recall@1 (`INDEX_QUERIES`, default
/// 200; recall's standard error is about 0.009 at 200, 0.004 at 1,000).
fn queries() -> usize {
    std::env::var("INDEX_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&q| q > 0)
        .unwrap_or(200)
}

/// One search: a query to its hits.
type Search<'a> = dyn Fn(&[f32]) -> Vec<(usize, f32)> + 'a;

fn synthetic(n: usize, seed: u64) -> Vec<Arc<[f32]>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let unit = |rng: &mut StdRng| {
        let mut v: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        normalize(&mut v);
        v
    };
    let topics: Vec<Vec<f32>> = (0..4_000).map(|_| unit(&mut rng)).collect();
    (0..n)
        .map(|_| {
            let topic = &topics[rng.random_range(0..topics.len())];
            let noise = unit(&mut rng);
            let mut v: Vec<f32> = topic.iter().zip(&noise).map(|(t, e)| t + 0.9 * e).collect();
            normalize(&mut v);
            v.into()
        })
        .collect()
}

/// QQP vectors from the `l2-eval` cache, when there are enough.
fn real(n: usize) -> Option<Vec<Arc<[f32]>>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("target/l2-eval").ok()?.flatten() {
        let bytes = std::fs::read(entry.path()).ok()?;
        out.extend(bytes.chunks_exact(DIM * 4).map(|row| {
            row.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<f32>>()
                .into()
        }));
    }
    (out.len() >= n).then(|| {
        out.truncate(n);
        out
    })
}

fn secs(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

fn main() {
    let sizes: Vec<usize> = match is_full_run() {
        false => vec![600],
        true => std::env::var("INDEX_SIZES")
            .ok()
            .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![100_000, 1_000_000]),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let held_out = queries();
    println!(
        "## index at scale (384 dims, M 16, {} new links on layer 0, ef_construction 100, ef {}; {held_out} held-out queries)\n",
        GraphParams::default().new_links0,
        GraphParams::default().ef_search,
    );
    println!(
        "| entries | data | index | build s | inserts/s | search p50 µs | p99 µs | recall@1 | bytes/entry (vector + graph) | saved graph | load (warm) s | warm vs cold |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in &sizes {
        let (data, source) = match (n <= 100_000).then(|| real(n + held_out)).flatten() {
            Some(v) => (v, "QQP"),
            None => (synthetic(n + held_out, n as u64), "synthetic"),
        };
        let (rows, queries) = data.split_at(n);
        let rows: Vec<(usize, Arc<[f32]>)> = rows.iter().cloned().enumerate().collect();
        let exact = ExactIndex::default();
        for (id, v) in &rows {
            exact.insert(*id, v);
        }
        let truth: Vec<(usize, f32)> = queries
            .iter()
            .map(|q| exact.search(q, 1, &|_| true)[0])
            .collect();
        let measure_with = |search: &Search| {
            let (mut h, mut agree) = (histogram(), 0);
            for (q, best) in queries.iter().zip(&truth) {
                let t = Instant::now();
                let got = search(q);
                let _ = h.record(t.elapsed().as_micros().max(1) as u64);
                // A tie with the exact top-1 is as good (repeated questions).
                if got
                    .first()
                    .is_some_and(|g| g.0 == best.0 || g.1 >= best.1 - 1e-6)
                {
                    agree += 1;
                }
            }
            (
                ms(&h, 0.5) * 1000.0,
                ms(&h, 0.99) * 1000.0,
                agree as f64 / queries.len() as f64,
            )
        };
        let measure = |index: &dyn VectorIndex| measure_with(&|q| index.search(q, 1, &|_| true));
        let baseline = std::env::var("INDEX_BASELINE").map_or(true, |v| v != "0");
        if n <= 100_000 && baseline {
            let started = Instant::now();
            let old = HnswIndex::with_capacity(n);
            for (id, v) in &rows {
                old.insert(*id, v);
            }
            let build = secs(started);
            let (p50, p99, recall) = measure(&old);
            println!(
                "| {n} | {source} | hnsw_rs (baseline) | {build:.1} | {:.0} | {p50:.0} | {p99:.0} | {recall:.3} | ≈{} | — | — | — |",
                n as f64 / build,
                DIM * 4 + 2 * 16 * 8 + 64
            );
        }
        let counts: Vec<usize> = std::env::var("INDEX_THREADS")
            .ok()
            .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![1, threads]);
        // Links a new node picks on layer 0 (`INDEX_NEW_LINKS`, e.g. `32,16`
        // for an A/B in one run; the default's value otherwise).
        let new_links: Vec<usize> = std::env::var("INDEX_NEW_LINKS")
            .ok()
            .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![GraphParams::default().new_links0]);
        let builds: Vec<(usize, usize)> = counts
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .flat_map(|t| new_links.iter().map(move |&l| (t, l)))
            .collect();
        for (t, new_links0) in builds {
            let params = GraphParams {
                new_links0,
                ..GraphParams::default()
            };
            let t_label = match new_links0 == GraphParams::default().new_links0 {
                true => t.to_string(),
                false => format!("{t} (new links {new_links0})"),
            };
            let started = Instant::now();
            let graph = GraphIndex::build(params, &rows, t);
            let build = secs(started);
            let (p50, p99, recall) = measure(&graph);
            // Wider searches on the same graph (`INDEX_EF`, e.g. `96,128`).
            let widths: Vec<usize> = std::env::var("INDEX_EF")
                .ok()
                .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
                .unwrap_or_default();
            for ef in widths {
                let (p50, p99, recall) = measure_with(&|q| graph.search_ef(q, 1, ef, &|_| true));
                println!(
                    "| {n} | {source} | graph, {t_label} thread(s), search ef {ef} | — | — | {p50:.0} | {p99:.0} | {recall:.3} | — | — | — | — |"
                );
            }
            let bytes = graph.save(|id| Some(id as u64 * 2 + 1));
            let by_key: HashMap<u64, (usize, Arc<[f32]>)> = rows
                .iter()
                .map(|(id, v)| (*id as u64 * 2 + 1, (*id, Arc::clone(v))))
                .collect();
            let started = Instant::now();
            let loaded = GraphIndex::load(&bytes, |k| by_key.get(&k).cloned(), || usize::MAX)
                .expect("loads");
            let load = secs(started);
            assert_eq!(loaded.len(), n);
            let (_, _, loaded_recall) = measure(&loaded);
            assert!(
                (loaded_recall - recall).abs() < 1e-9,
                "a loaded graph answers as built"
            );
            println!(
                "| {n} | {source} | graph, {t_label} thread(s) | {build:.1} | {:.0} | {p50:.0} | {p99:.0} | {recall:.3} | {} | {:.1} MB | {load:.2} | {:.0}x |",
                n as f64 / build,
                DIM * 4 + graph.link_bytes(),
                bytes.len() as f64 / 1e6,
                build / load.max(1e-9)
            );
        }
    }
    println!();
    restart(&sizes);
}

/// Restart to full-speed search through the L2 store, as a node's snapshot
/// load does it (file I/O and rkyv aside): the entries go in, then either
/// the partition's graph is rebuilt in the background (cold; searches scan
/// meanwhile) or the saved graph is installed (warm). Timed until the
/// partition answers from a graph.
fn restart(sizes: &[usize]) {
    let limit: usize = std::env::var("RESTART_MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let sizes: Vec<usize> = sizes.iter().copied().filter(|n| *n <= limit).collect();
    if sizes.is_empty() {
        return;
    }
    println!("## restart to full-speed L2 search (one partition, through the store)\n");
    println!(
        "| entries | cold: entries + rebuild s | warm: entries + saved graph s | **cold / warm** | graphs installed | store bytes/entry (vector + graph + prompt + metadata) |"
    );
    println!("|---|---|---|---|---|---|");
    for &n in &sizes {
        let vectors = synthetic(n, n as u64 + 1);
        let partition = [7u8; 32];
        let entries: Vec<NewEntry> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| {
                // About 100 bytes, a typical prompt.
                let text = format!(
                    "q{i}: how do I configure the gateway so that this setting works with the other {i:08}?"
                );
                let now = g_aigateway::cache::now_ms();
                NewEntry {
                    id: entry_id(&partition, &text),
                    scope: "s".into(),
                    partition,
                    text,
                    vector: Arc::clone(v),
                    stored_at_ms: now,
                    expires_at_ms: now + 3_600_000,
                    response: None,
                }
            })
            .collect();
        let store = || {
            let config = SemanticConfig {
                max_entries: n * 2,
                max_bytes: usize::MAX,
                // Past the exact scan, as a large partition is.
                exact_scan_max: (n / 4).min(10_000),
                ..SemanticConfig::default()
            };
            SemanticCache::new(config, Arc::default(), Arc::new(Metrics::new()))
        };
        let graphed = |cache: &SemanticCache, since: Instant| {
            assert!(since.elapsed().as_secs() < 3600, "never reached a graph");
            cache.stats().hnsw_partitions == 1 && !cache.rebuilding()
        };
        // Cold: what a node without saved graphs does.
        let prompt = entries.iter().map(|e| e.text.len()).sum::<usize>() / n.max(1);
        let before = LIVE.load(AtomicOrdering::Relaxed);
        let started = Instant::now();
        let cold = store();
        cold.insert_all(entries.clone());
        while !graphed(&cold, started) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let cold_s = secs(started);
        // The vectors were allocated before and are shared, not copied.
        let per_entry =
            (LIVE.load(AtomicOrdering::Relaxed) - before) as f64 / n as f64 + (DIM * 4) as f64;
        let (exported, graphs) = cold.export_with_graphs();
        drop(cold);
        let archive: HashMap<u64, (EntryId, Arc<[f32]>)> = exported
            .iter()
            .map(|e| (graph_key(&e.id), (e.id, Arc::clone(&e.vector))))
            .collect();
        let lookup = |key: u64| archive.get(&key).cloned();
        let saved: Vec<(PartitionKey, &[u8])> =
            graphs.iter().map(|(p, b)| (*p, b.as_slice())).collect();
        // Warm: the same entries with their saved graph.
        let started = Instant::now();
        let warm = store();
        let mut installed = 0;
        warm.insert_all_then(exported, |c| installed = c.install_graphs(&saved, &lookup));
        while !graphed(&warm, started) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let warm_s = secs(started);
        println!(
            "| {n} | {cold_s:.2} | {warm_s:.2} | **{:.0}x** | {installed} | {per_entry:.0} B ({prompt}-byte prompts) |",
            cold_s / warm_s.max(1e-9)
        );
    }
    println!();
}
