//! Our own HNSW graph (Malkov & Yashunin) behind [`VectorIndex`], written so
//! that a graph can be saved and loaded back — through a format this module
//! writes and validates in full (checksum first, then every length, level and
//! neighbour id) — rather than rebuilt after every restart.
//!
//! Layout: node `n`'s layer-0 links are `layer0[n * m0 ..][.. count0[n]]`, one
//! flat array, with each link's distance beside it in `dists0` (16 bits); links above
//! layer 0 (about one node in `m`) live in `upper`. Vectors are the store's
//! shared `Arc<[f32]>`s, never copied.
//!
//! Build speed (README, index benchmark): at 1M the codes and link lists are
//! far beyond the cache, so the walk and the shrink of a full list prefetch
//! the nodes they are about to read, and the int8 dot product is an explicit
//! AVX2 kernel.
//!
//! Concurrency: a search holds the read lock. An insert finds its neighbours
//! under the read lock too (beside searches and other inserts' searches) and
//! takes the write lock only to link itself in, so a bulk build on several
//! threads overlaps the expensive part.

use std::cell::RefCell;
use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use sha2::{Digest, Sha256};

use super::space::{VectorIndex, distance, dot_i8, prefetch, quantize};

const NONE: u32 = u32::MAX;
/// The key of a node saved with its vector inline (its entry was removed).
pub const DEAD: u64 = u64::MAX;
/// Levels above 16 have probability below m^-16: never, in practice.
const MAX_LEVEL: u8 = 16;
const MAGIC: &[u8; 8] = b"GAIGRAPH";
const VERSION: u32 = 1;

/// Graph parameters: links per node above layer 0 (`m`; layer 0 keeps
/// `2 m`), and the candidate-list widths when inserting and searching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphParams {
    pub m: usize,
    pub ef_construction: usize,
    pub ef_search: usize,
    /// Links a new node picks for itself on layer 0 (its list holds `2 m`,
    /// filled up by later nodes linking back). Each is a link back to add,
    /// and a full list's shrink is the costliest step of an insert.
    pub new_links0: usize,
}

impl Default for GraphParams {
    /// Measured on this machine (README, index benchmark, 1M synthetic
    /// vectors, 1,000 held-out queries): a new node picking 16 links on
    /// layer 0 instead of 32 builds 1M in 5.3–5.7 min instead of 6.9 (half
    /// the links back to add and shrink); its graph needs a wider search for
    /// the same recall: ef 192 finds the exact top-1 for 98.7 % of queries at
    /// p99 0.96 ms (ef 96: 94.4 %).
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 100,
            ef_search: 192,
            new_links0: 16,
        }
    }
}

/// A link distance in 16 bits: [0, 2] in steps of 2/65534 (3e-5, far finer
/// than the int8 codes it is computed from), `u16::MAX` when unknown. Fixed
/// point rather than f16: packing and unpacking are two inline instructions
/// (an f16 conversion per link slowed the build by 12 %).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Dist16(u16);

impl Dist16 {
    const UNKNOWN: Self = Self(u16::MAX);
    const SCALE: f32 = 32767.0;

    fn of(d: f32) -> Self {
        if d.is_nan() {
            return Self::UNKNOWN;
        }
        Self((d.clamp(0.0, 2.0) * Self::SCALE + 0.5) as u16)
    }

    fn get(self) -> f32 {
        if self == Self::UNKNOWN {
            return f32::NAN;
        }
        f32::from(self.0) / Self::SCALE
    }
}

#[derive(Default)]
struct Inner {
    ids: Vec<usize>,
    vectors: Vec<Arc<[f32]>>,
    /// Every node's int8 code, `dims` apart, and its scale: the graph is
    /// walked on these (a quarter of the memory traffic of the f32 vectors);
    /// answers are re-ranked on the exact vectors.
    codes: Vec<i8>,
    scales: Vec<f32>,
    dims: usize,
    levels: Vec<u8>,
    counts0: Vec<u8>,
    layer0: Vec<u32>,
    /// Each layer-0 link's distance to its node ([`Dist16`]; unknown, as
    /// after a load, until a shrink computes it), so shrinking a full list
    /// does not recompute them: 64 B a node instead of 128 as f32.
    dists0: Vec<Dist16>,
    /// Node → its links on layers 1..=level (index 0 is layer 1).
    upper: HashMap<u32, Vec<Vec<u32>>>,
    entry: u32,
    max_level: u8,
}

impl Inner {
    fn links(&self, m0: usize, node: u32, level: u8) -> &[u32] {
        let n = node as usize;
        if level == 0 {
            return &self.layer0[n * m0..n * m0 + self.counts0[n] as usize];
        }
        self.upper
            .get(&node)
            .and_then(|l| l.get(level as usize - 1))
            .map_or(&[], Vec::as_slice)
    }

    /// The distances of `node`'s layer-0 links, as many as its links.
    fn dists(&self, m0: usize, node: u32) -> &[Dist16] {
        let n = node as usize;
        &self.dists0[n * m0..n * m0 + self.counts0[n] as usize]
    }

    /// Sets `node`'s links on `level`; `dists`, when given, are their
    /// distances to it.
    fn set_links(&mut self, m0: usize, node: u32, level: u8, links: &[u32], dists: Option<&[f32]>) {
        let n = node as usize;
        if level == 0 {
            let count = links.len().min(m0);
            self.layer0[n * m0..n * m0 + count].copy_from_slice(&links[..count]);
            let slot = &mut self.dists0[n * m0..n * m0 + count];
            match dists {
                Some(d) if d.len() >= count => {
                    for (to, &from) in slot.iter_mut().zip(d) {
                        *to = Dist16::of(from);
                    }
                }
                _ => slot.fill(Dist16::UNKNOWN),
            }
            self.counts0[n] = count as u8;
            return;
        }
        if let Some(slot) = self
            .upper
            .get_mut(&node)
            .and_then(|l| l.get_mut(level as usize - 1))
        {
            slot.clear();
            slot.extend_from_slice(links);
        }
    }

    /// Sets `node`'s links on `level` from neighbours with their distances.
    fn set_near(&mut self, m0: usize, node: u32, level: u8, near: &[Near]) {
        let ids: Vec<u32> = near.iter().map(|n| n.1).collect();
        let dists: Vec<f32> = near.iter().map(|n| n.0).collect();
        self.set_links(m0, node, level, &ids, Some(&dists));
    }

    fn code(&self, node: u32) -> &[i8] {
        let at = node as usize * self.dims;
        &self.codes[at..at + self.dims]
    }

    /// The approximate distance of a query's code to a node.
    fn dist(&self, q: &Code, node: u32) -> f32 {
        let dot = dot_i8(&q.code, self.code(node)) as f32 * q.scale * self.scales[node as usize];
        (1.0 - dot).max(0.0)
    }

    /// The approximate distance between two nodes.
    fn between(&self, a: u32, b: u32) -> f32 {
        let dot = dot_i8(self.code(a), self.code(b)) as f32
            * self.scales[a as usize]
            * self.scales[b as usize];
        (1.0 - dot).max(0.0)
    }

    /// Room for `n` more nodes of `dims` dimensions, reserved exactly: a
    /// bulk build or a load knows its size, and growth by doubling would
    /// leave up to half of every array unused (128 bytes a node, measured at
    /// 100k). Only a hint: a reservation the allocator refuses (a forged
    /// file's counts) is skipped, never an abort; pushes still grow.
    fn reserve(&mut self, n: usize, dims: usize, m0: usize) {
        let _ = self.ids.try_reserve_exact(n);
        let _ = self.vectors.try_reserve_exact(n);
        let _ = self.codes.try_reserve_exact(n.saturating_mul(dims));
        let _ = self.scales.try_reserve_exact(n);
        let _ = self.levels.try_reserve_exact(n);
        let _ = self.counts0.try_reserve_exact(n);
        let _ = self.layer0.try_reserve_exact(n.saturating_mul(m0));
        let _ = self.dists0.try_reserve_exact(n.saturating_mul(m0));
    }

    fn push_code(&mut self, code: &Code) {
        if self.dims == 0 {
            self.dims = code.code.len();
        }
        self.codes.extend_from_slice(&code.code);
        self.scales.push(code.scale);
    }
}

/// A vector's int8 code.
struct Code {
    code: Vec<i8>,
    scale: f32,
}

impl Code {
    fn of(v: &[f32]) -> Self {
        let mut code = Vec::with_capacity(v.len());
        let scale = quantize(v, &mut code);
        Self { code, scale }
    }
}

/// A candidate: its distance to the query, then its node (a total order).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Near(f32, u32);

impl Eq for Near {}

impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Near {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

thread_local! {
    /// Visit marks of this thread's searches: a node is visited when its
    /// mark equals the current epoch (so nothing is cleared between searches).
    static VISITED: RefCell<(u32, Vec<u32>)> = const { RefCell::new((0, Vec::new())) };
}

/// The HNSW index.
pub struct GraphIndex {
    params: GraphParams,
    m0: usize,
    level_mult: f64,
    inner: RwLock<Inner>,
    count: AtomicUsize,
}

/// Why a saved graph was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("not a graph file (bad magic or version)")]
    Format,
    #[error("the graph file's checksum does not match its contents")]
    Checksum,
    #[error("the graph file is cut short or has bytes left over")]
    Length,
    #[error("the graph file is inconsistent: {0}")]
    Invalid(&'static str),
}

impl GraphIndex {
    pub fn new(params: GraphParams) -> Self {
        let m = params.m.clamp(2, 64);
        let new_links0 = params.new_links0.clamp(1, 2 * m);
        Self {
            params: GraphParams {
                m,
                new_links0,
                ..params
            },
            m0: 2 * m,
            level_mult: 1.0 / (m as f64).ln(),
            inner: RwLock::new(Inner {
                entry: NONE,
                ..Inner::default()
            }),
            count: AtomicUsize::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A node's level, drawn from its id (splitmix64): the same id gets the
    /// same level in every build.
    fn level_of(&self, id: usize) -> u8 {
        let mut z = (id as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // Uniform in (0, 1].
        let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        ((-u.ln() * self.level_mult) as u8).min(MAX_LEVEL)
    }

    /// Greedy descent on one layer: the closest node reachable from `from`.
    fn closest(&self, inner: &Inner, query: &Code, from: Near, level: u8) -> Near {
        let mut best = from;
        loop {
            let mut moved = false;
            let links = inner.links(self.m0, best.1, level);
            links.iter().for_each(|&next| prefetch(inner.code(next)));
            for &next in links {
                let d = inner.dist(query, next);
                if d < best.0 {
                    best = Near(d, next);
                    moved = true;
                }
            }
            if !moved {
                return best;
            }
        }
    }

    /// The `ef` closest nodes found on `level` from `entry`, closest first.
    fn search_layer(
        &self,
        inner: &Inner,
        query: &Code,
        entry: &[Near],
        ef: usize,
        level: u8,
    ) -> Vec<Near> {
        VISITED.with_borrow_mut(|(epoch, marks)| {
            if marks.len() < inner.ids.len() {
                marks.resize(inner.ids.len(), 0);
            }
            *epoch = epoch.wrapping_add(1);
            if *epoch == 0 {
                marks.iter_mut().for_each(|m| *m = 0);
                *epoch = 1;
            }
            let epoch = *epoch;
            let mut candidates: BinaryHeap<Reverse<Near>> = BinaryHeap::new();
            let mut found: BinaryHeap<Near> = BinaryHeap::new();
            for &e in entry {
                marks[e.1 as usize] = epoch;
                candidates.push(Reverse(e));
                found.push(e);
            }
            while let Some(Reverse(current)) = candidates.pop() {
                if found.len() >= ef && found.peek().is_some_and(|w| current.0 > w.0) {
                    break;
                }
                let links = inner.links(self.m0, current.1, level);
                // Start every unvisited neighbour's code on its way to the
                // cache before the first distance needs one (the walk is
                // bound by these random reads).
                for &next in links {
                    if marks[next as usize] != epoch {
                        prefetch(inner.code(next));
                    }
                }
                for &next in links {
                    let mark = &mut marks[next as usize];
                    if *mark == epoch {
                        continue;
                    }
                    *mark = epoch;
                    let d = inner.dist(query, next);
                    if found.len() < ef || found.peek().is_some_and(|w| d < w.0) {
                        candidates.push(Reverse(Near(d, next)));
                        found.push(Near(d, next));
                        if found.len() > ef {
                            found.pop();
                        }
                    }
                }
            }
            found.into_sorted_vec()
        })
    }

    /// The neighbour-selection heuristic: closest first, each kept only if
    /// it is closer to the base than to every one kept before (spreads the
    /// links over directions).
    fn select(&self, inner: &Inner, sorted: &[Near], keep: usize) -> Vec<Near> {
        let mut kept: Vec<Near> = Vec::with_capacity(keep);
        for &c in sorted {
            if kept.len() >= keep {
                break;
            }
            if kept.iter().all(|k| inner.between(c.1, k.1) >= c.0) {
                kept.push(c);
            }
        }
        kept
    }

    fn width(&self, level: u8) -> usize {
        if level == 0 { self.m0 } else { self.params.m }
    }

    /// Adds node `id` with `vector`.
    fn add(&self, id: usize, vector: &Arc<[f32]>) {
        let level = self.level_of(id);
        let code = Code::of(vector);
        // Phase 1, shared: find the neighbours on each layer.
        let found: Vec<Vec<Near>> = {
            let inner = self.read();
            if inner.entry == NONE || inner.dims != vector.len() {
                Vec::new()
            } else {
                self.neighbours(&inner, &code, level)
            }
        };
        // Phase 2, exclusive: link in.
        let mut inner = self.write();
        if inner.dims != 0 && vector.len() != inner.dims {
            // One index holds one embedder's vectors; another length would
            // break the code layout.
            return;
        }
        let node = inner.ids.len() as u32;
        inner.ids.push(id);
        inner.vectors.push(Arc::clone(vector));
        inner.push_code(&code);
        inner.levels.push(level);
        inner.counts0.push(0);
        let m0 = self.m0;
        inner.layer0.extend(std::iter::repeat_n(NONE, m0));
        inner
            .dists0
            .extend(std::iter::repeat_n(Dist16::UNKNOWN, m0));
        if level > 0 {
            inner.upper.insert(node, vec![Vec::new(); level as usize]);
        }
        if inner.entry == NONE {
            inner.entry = node;
            inner.max_level = level;
            self.count.fetch_add(1, Ordering::Release);
            return;
        }
        for (l, links) in found.iter().enumerate() {
            let l = l as u8;
            inner.set_near(m0, node, l, links);
            if l == 0 {
                // The neighbours' link lists are random reads: start them all.
                for other in links {
                    let at = other.1 as usize * m0;
                    prefetch(&inner.layer0[at..at + m0]);
                    prefetch(&inner.dists0[at..at + m0]);
                }
            }
            for &other in links {
                self.link_back(&mut inner, other, node, l);
            }
        }
        if found.is_empty() {
            // The graph was empty when this insert looked: hang it on the entry.
            let entry = inner.entry;
            let near = Near(inner.between(entry, node), entry);
            inner.set_near(m0, node, 0, &[near]);
            self.link_back(&mut inner, near, node, 0);
        }
        if level > inner.max_level {
            inner.entry = node;
            inner.max_level = level;
        }
        self.count.fetch_add(1, Ordering::Release);
    }

    /// The selected neighbours of a new node on layers `0..=min(level, top)`
    /// (index = layer).
    fn neighbours(&self, inner: &Inner, vector: &Code, level: u8) -> Vec<Vec<Near>> {
        let top = inner.max_level;
        let mut near = Near(inner.dist(vector, inner.entry), inner.entry);
        for l in (level.saturating_add(1)..=top).rev() {
            near = self.closest(inner, vector, near, l);
        }
        let mut entry = vec![near];
        let mut out = vec![Vec::new(); level.min(top) as usize + 1];
        for l in (0..=level.min(top)).rev() {
            let found = self.search_layer(inner, vector, &entry, self.params.ef_construction, l);
            let keep = match l {
                0 => self.params.new_links0,
                _ => self.width(l),
            };
            out[l as usize] = self.select(inner, &found, keep);
            entry = found;
        }
        out
    }

    /// Adds `node` to the links on `level` of `other` (at distance
    /// `other.0`); when they overflow, the neighbour heuristic picks which
    /// stay (keeping only the closest turns a clustered graph into cliques:
    /// recall@1 fell to 0.82 at 1M). On the int8 codes, so the O(width²)
    /// distances stay cheap; layer 0 keeps each link's distance.
    fn link_back(&self, inner: &mut Inner, other: Near, node: u32, level: u8) {
        let (m0, width) = (self.m0, self.width(level));
        let current = inner.links(m0, other.1, level);
        if current.contains(&node) {
            return;
        }
        if current.len() >= width {
            // A full list is shrunk over its members' codes: start them.
            current.iter().for_each(|&n| prefetch(inner.code(n)));
        }
        let known = (level == 0).then(|| inner.dists(m0, other.1));
        let mut all: Vec<Near> = current
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let d = known.and_then(|k| k.get(i)).map_or(f32::NAN, |d| d.get());
                Near(
                    if d.is_nan() {
                        inner.between(other.1, n)
                    } else {
                        d
                    },
                    n,
                )
            })
            .collect();
        all.push(Near(other.0, node));
        if all.len() > width {
            all.sort();
            all = self.select(inner, &all, width);
        }
        inner.set_near(m0, other.1, level, &all);
    }

    /// Searches with breadth `ef`, dropping refused ids afterwards; widens
    /// until `k` pass or the graph is exhausted.
    pub fn search_ef(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        allow: &dyn Fn(usize) -> bool,
    ) -> Vec<(usize, f32)> {
        let inner = self.read();
        if inner.entry == NONE || k == 0 || query.len() != inner.dims {
            return Vec::new();
        }
        let code = Code::of(query);
        let total = inner.ids.len();
        let mut near = Near(inner.dist(&code, inner.entry), inner.entry);
        for l in (1..=inner.max_level).rev() {
            near = self.closest(&inner, &code, near, l);
        }
        let mut ef = ef.max(k.saturating_mul(2)).max(k + 2);
        loop {
            let found = self.search_layer(&inner, &code, &[near], ef, 0);
            let returned = found.len();
            // Re-ranked on the exact vectors: the codes only steer the walk.
            let mut exact: Vec<Near> = found
                .into_iter()
                .filter(|n| allow(inner.ids[n.1 as usize]))
                .map(|n| Near(distance(query, &inner.vectors[n.1 as usize]), n.1))
                .collect();
            exact.sort();
            let hits: Vec<(usize, f32)> = exact
                .into_iter()
                .take(k)
                .map(|n| (inner.ids[n.1 as usize], 1.0 - n.0))
                .collect();
            if hits.len() >= k || returned < ef || ef >= total {
                return hits;
            }
            ef = ef.saturating_mul(4).min(total);
        }
    }

    /// Threads for a graph build that leave one core for requests.
    pub fn build_threads() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
    }

    /// Builds an index of `rows` on `threads` threads.
    pub fn build(params: GraphParams, rows: &[(usize, Arc<[f32]>)], threads: usize) -> Self {
        let index = Self::new(params);
        index
            .write()
            .reserve(rows.len(), rows.first().map_or(0, |r| r.1.len()), index.m0);
        let next = AtomicUsize::new(0);
        let work = || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((id, v)) = rows.get(i) else {
                    return;
                };
                index.add(*id, v);
            }
        };
        let threads = threads.max(1);
        if threads == 1 {
            work();
        } else {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(work);
                }
            });
        }
        index
    }

    /// The ids of every node, in node order.
    pub fn ids(&self) -> Vec<usize> {
        self.read().ids.clone()
    }

    /// Bytes held per node beyond its f32 vector (links, ids, levels, the
    /// int8 code, the vector's pointer).
    pub fn link_bytes(&self) -> usize {
        let inner = self.read();
        let n = inner.ids.len().max(1);
        let upper: usize = inner
            .upper
            .values()
            .map(|l| 48 + l.iter().map(|v| 24 + v.capacity() * 4).sum::<usize>())
            .sum();
        let codes = inner.codes.len() + inner.scales.len() * 4;
        (inner.layer0.len() * 4
            + inner.dists0.len() * 2
            + inner.counts0.len()
            + inner.levels.len()
            + inner.ids.len() * 8
            + inner.vectors.len() * 16
            + codes
            + upper)
            / n
    }

    /// The graph as bytes: a header (magic, version, SHA-256 of the rest),
    /// then parameters, then per node its key (from `key_of`, e.g. a
    /// cluster-wide entry id) — or, for a node `key_of` has no key for (an
    /// entry removed since), [`DEAD`] and its vector inline — its level and
    /// its links on every layer.
    pub fn save(&self, key_of: impl Fn(usize) -> Option<u64>) -> Vec<u8> {
        let inner = self.read();
        let dims = inner.vectors.first().map_or(0, |v| v.len());
        let mut body = Vec::with_capacity(inner.ids.len() * (self.m0 * 4 + 16) + 64);
        let put32 = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_le_bytes());
        put32(&mut body, self.params.m as u32);
        put32(&mut body, self.params.ef_construction as u32);
        put32(&mut body, self.params.ef_search as u32);
        put32(&mut body, dims as u32);
        put32(&mut body, inner.ids.len() as u32);
        put32(&mut body, inner.entry);
        body.push(inner.max_level);
        for (n, &id) in inner.ids.iter().enumerate() {
            match key_of(id).filter(|k| *k != DEAD) {
                Some(key) => body.extend_from_slice(&key.to_le_bytes()),
                None => {
                    body.extend_from_slice(&DEAD.to_le_bytes());
                    for x in inner.vectors[n].iter() {
                        body.extend_from_slice(&x.to_le_bytes());
                    }
                }
            }
            let level = inner.levels[n];
            body.push(level);
            for l in 0..=level {
                let links = inner.links(self.m0, n as u32, l);
                body.push(links.len() as u8);
                for &link in links {
                    put32(&mut body, link);
                }
            }
        }
        let mut out = Vec::with_capacity(body.len() + 44);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&body));
        out.extend_from_slice(&body);
        out
    }

    /// Loads a graph [`save`](Self::save) wrote. `resolve` maps a node's key
    /// to its id and vector now (a key it does not know refuses the graph:
    /// the caller rebuilds); a node saved without a key gets an id from
    /// `dead` (one the caller's filter refuses). Nothing here panics or
    /// trusts a length: the checksum first, then every count, level and link.
    pub fn load(
        bytes: &[u8],
        mut resolve: impl FnMut(u64) -> Option<(usize, Arc<[f32]>)>,
        mut dead: impl FnMut() -> usize,
    ) -> Result<Self, GraphError> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or(GraphError::Format)?;
        let mut r = Reader(rest);
        if r.u32()? != VERSION {
            return Err(GraphError::Format);
        }
        let digest = r.take(32)?;
        if Sha256::digest(r.0).as_slice() != digest {
            return Err(GraphError::Checksum);
        }
        let (m, ef_construction) = (r.u32()? as usize, r.u32()? as usize);
        // The saved search width is not used: how wide to search is this
        // build's setting, not the graph's.
        r.u32()?;
        let params = GraphParams {
            m,
            ef_construction,
            ..GraphParams::default()
        };
        if !(2..=64).contains(&params.m) {
            return Err(GraphError::Invalid("m out of range"));
        }
        let index = Self::new(params);
        let m0 = index.m0;
        let dims = r.u32()? as usize;
        if dims > 65_536 {
            return Err(GraphError::Invalid("dimensions out of range"));
        }
        let n = r.u32()? as usize;
        let entry = r.u32()?;
        let max_level = r.u8()?;
        // Each node takes at least 10 bytes: a count that cannot fit is a lie.
        if n > r.0.len() / 10 + 1 || max_level > MAX_LEVEL {
            return Err(GraphError::Invalid("node count or level"));
        }
        let mut inner = Inner {
            entry: NONE,
            ..Inner::default()
        };
        // Layer 0 is allocated at its full size just below.
        inner.reserve(n, dims, 0);
        inner.layer0 = vec![NONE; n * m0];
        inner.dists0 = vec![Dist16::UNKNOWN; n * m0];
        inner.counts0 = vec![0; n];
        for node in 0..n {
            let key = r.u64()?;
            let (id, vector) = match key {
                DEAD => {
                    let raw = r.take(dims * 4)?;
                    let v: Vec<f32> = raw
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    (dead(), Arc::from(v))
                }
                key => resolve(key).ok_or(GraphError::Invalid("a node's entry is unknown"))?,
            };
            if vector.len() != dims {
                return Err(GraphError::Invalid("a vector of another length"));
            }
            let level = r.u8()?;
            if level > max_level {
                return Err(GraphError::Invalid("a node above the top level"));
            }
            inner.ids.push(id);
            inner.push_code(&Code::of(&vector));
            inner.vectors.push(vector);
            inner.levels.push(level);
            if level > 0 {
                inner
                    .upper
                    .insert(node as u32, vec![Vec::new(); level as usize]);
            }
            for l in 0..=level {
                let count = r.u8()? as usize;
                if count > index.width(l) {
                    return Err(GraphError::Invalid("too many links"));
                }
                let mut links = Vec::with_capacity(count);
                for _ in 0..count {
                    let link = r.u32()?;
                    if link as usize >= n || link as usize == node {
                        return Err(GraphError::Invalid("a link out of range"));
                    }
                    links.push(link);
                }
                inner.set_links(m0, node as u32, l, &links, None);
            }
        }
        if !r.0.is_empty() {
            return Err(GraphError::Length);
        }
        if n > 0 {
            let e = entry as usize;
            if e >= n || inner.levels[e] != max_level {
                return Err(GraphError::Invalid("the entry point"));
            }
            // Links above layer 0 must point at nodes that reach that layer.
            for layers in inner.upper.values() {
                for (i, links) in layers.iter().enumerate() {
                    if links
                        .iter()
                        .any(|&l| (inner.levels[l as usize] as usize) < i + 1)
                    {
                        return Err(GraphError::Invalid("a link to a node below its layer"));
                    }
                }
            }
            inner.entry = entry;
            inner.max_level = max_level;
        }
        index.count.store(n, Ordering::Release);
        *index.write() = inner;
        Ok(index)
    }
}

/// A bounds-checked little-endian reader.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], GraphError> {
        if self.0.len() < n {
            return Err(GraphError::Length);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, GraphError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, GraphError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, GraphError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

impl VectorIndex for GraphIndex {
    fn insert(&self, id: usize, vector: &Arc<[f32]>) {
        self.add(id, vector);
    }

    fn search(&self, query: &[f32], k: usize, allow: &dyn Fn(usize) -> bool) -> Vec<(usize, f32)> {
        self.search_ef(query, k, self.params.ef_search, allow)
    }

    fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ExactIndex, tests::random_unit};
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn rows(n: usize, dim: usize, seed: u64) -> Vec<(usize, Arc<[f32]>)> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|i| (i * 3 + 1, random_unit(&mut rng, dim)))
            .collect()
    }

    fn recall(index: &GraphIndex, data: &[(usize, Arc<[f32]>)], seed: u64) -> usize {
        let exact = ExactIndex::default();
        for (id, v) in data {
            exact.insert(*id, v);
        }
        let mut rng = StdRng::seed_from_u64(seed);
        (0..100)
            .filter(|_| {
                let q = random_unit(&mut rng, data[0].1.len());
                index.search(&q, 1, &|_| true)[0].0 == exact.search(&q, 1, &|_| true)[0].0
            })
            .count()
    }

    #[test]
    fn the_graph_finds_what_the_exact_scan_finds_built_on_one_or_two_threads() {
        let data = rows(3_000, 32, 1);
        for threads in [1, 2] {
            let index = GraphIndex::build(GraphParams::default(), &data, threads);
            assert_eq!(index.len(), data.len());
            let agree = recall(&index, &data, 2);
            assert!(agree >= 95, "{threads} threads: recall@1 {agree}/100");
        }
    }

    #[test]
    fn search_honours_the_filter_and_identical_vectors_do_not_break_it() {
        let mut rng = StdRng::seed_from_u64(4);
        let v = random_unit(&mut rng, 32);
        let index = GraphIndex::new(GraphParams::default());
        for i in 0..200 {
            index.insert(i, &v);
        }
        let hits = index.search(&v, 5, &|id| id % 2 == 0);
        assert_eq!(hits.len(), 5);
        assert!(
            hits.iter()
                .all(|(id, s)| id % 2 == 0 && (*s - 1.0).abs() < 1e-5)
        );
        assert!(
            GraphIndex::new(GraphParams::default())
                .search(&v, 3, &|_| true)
                .is_empty()
        );
    }

    #[test]
    fn every_kept_link_distance_is_the_distance_between_its_nodes() {
        let data = rows(3_000, 32, 11);
        let index = GraphIndex::build(GraphParams::default(), &data, 1);
        let inner = index.read();
        let mut checked = 0;
        for node in 0..inner.ids.len() as u32 {
            let links = inner.links(index.m0, node, 0);
            let dists = inner.dists(index.m0, node);
            assert_eq!(links.len(), dists.len());
            for (&link, &d) in links.iter().zip(dists) {
                let exact = inner.between(node, link);
                assert!((d.get() - exact).abs() < 2e-5, "{} {exact}", d.get());
                checked += 1;
            }
        }
        assert!(checked > 3_000 * 4, "{checked} links");
    }

    #[test]
    fn a_saved_graph_loads_back_to_the_same_answers() {
        let data = rows(2_000, 32, 5);
        let index = GraphIndex::build(GraphParams::default(), &data, 1);
        let by_key: HashMap<u64, (usize, Arc<[f32]>)> = data
            .iter()
            .map(|(id, v)| (*id as u64 * 7, (*id, Arc::clone(v))))
            .collect();
        let bytes = index.save(|id| Some(id as u64 * 7));
        let loaded =
            GraphIndex::load(&bytes, |k| by_key.get(&k).cloned(), || usize::MAX).expect("loads");
        assert_eq!(loaded.len(), index.len());
        let mut rng = StdRng::seed_from_u64(6);
        for _ in 0..50 {
            let q = random_unit(&mut rng, 32);
            assert_eq!(
                index.search(&q, 3, &|_| true),
                loaded.search(&q, 3, &|_| true)
            );
        }
        // Inserts go on into a loaded graph.
        let more = rows(10, 32, 7);
        for (id, v) in &more {
            loaded.insert(id + 1_000_000, v);
        }
        let top = loaded.search(&more[3].1, 1, &|_| true);
        assert_eq!(top[0].0, more[3].0 + 1_000_000);
    }

    #[test]
    fn a_damaged_or_lying_file_is_refused_never_a_panic() {
        let data = rows(300, 16, 8);
        let index = GraphIndex::build(GraphParams::default(), &data, 1);
        let by_key: HashMap<u64, (usize, Arc<[f32]>)> = data
            .iter()
            .map(|(id, v)| (*id as u64, (*id, Arc::clone(v))))
            .collect();
        let resolve = |k: u64| by_key.get(&k).cloned();
        let bytes = index.save(|id| Some(id as u64));
        let load = |b: &[u8]| GraphIndex::load(b, resolve, || usize::MAX);
        assert!(load(&bytes).is_ok());
        // Every truncation, and a flipped byte anywhere, is an error.
        for cut in (0..bytes.len()).step_by(97) {
            assert!(load(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in (8..bytes.len()).step_by(53) {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert!(load(&bad).is_err(), "flip at {at}");
        }
        // A checksum recomputed over lies is caught by the validation.
        let forge = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut body = bytes[44..].to_vec();
            edit(&mut body);
            let mut out = bytes[..12].to_vec();
            out.extend_from_slice(&Sha256::digest(&body));
            out.extend_from_slice(&body);
            load(&out)
        };
        assert_eq!(
            forge(&|b| b[16..20].copy_from_slice(&u32::MAX.to_le_bytes())).err(),
            Some(GraphError::Invalid("node count or level"))
        );
        assert_eq!(
            forge(&|b| b[12..16].copy_from_slice(&u32::MAX.to_le_bytes())).err(),
            Some(GraphError::Invalid("dimensions out of range"))
        );
        assert!(forge(&|b| b[20..24].copy_from_slice(&9999u32.to_le_bytes())).is_err());
        // The first node's first link pointed past the end.
        assert!(
            forge(&|b| {
                let first_link = 25 + 8 + 1 + 1;
                b[first_link..first_link + 4].copy_from_slice(&5000u32.to_le_bytes());
            })
            .is_err()
        );
        assert!(forge(&|b| b.push(0)).is_err());
        // A key nobody knows refuses the graph (the caller rebuilds).
        let gone = data[10].0 as u64;
        let unknown = GraphIndex::load(&bytes, |k| (k != gone).then(|| resolve(k)).flatten(), || 0);
        assert_eq!(
            unknown.err(),
            Some(GraphError::Invalid("a node's entry is unknown"))
        );
    }

    #[test]
    fn nodes_of_removed_entries_travel_with_their_vector_and_come_back_as_dead_ids() {
        let data = rows(500, 16, 9);
        let index = GraphIndex::build(GraphParams::default(), &data, 1);
        // Every third entry was removed since the graph was built.
        let removed = |id: usize| id % 3 == 0;
        let bytes = index.save(|id| (!removed(id)).then_some(id as u64));
        let by_key: HashMap<u64, (usize, Arc<[f32]>)> = data
            .iter()
            .map(|(id, v)| (*id as u64, (*id, Arc::clone(v))))
            .collect();
        let mut next_dead = 10_000_000;
        let loaded = GraphIndex::load(
            &bytes,
            |k| by_key.get(&k).cloned(),
            || {
                next_dead += 1;
                next_dead
            },
        )
        .expect("loads");
        assert_eq!(loaded.len(), 500);
        let mut rng = StdRng::seed_from_u64(10);
        for _ in 0..50 {
            let q = random_unit(&mut rng, 16);
            let live = |id: usize| id < 10_000_000;
            let a = index.search(&q, 2, &|id| !removed(id));
            let b = loaded.search(&q, 2, &live);
            assert_eq!(a, b, "dead nodes route but are never answers");
        }
    }
}
