//! The L2 entries and their per-partition indexes. Every entry has a
//! cluster-wide id (a hash of its partition and prompt, so the same fill made
//! twice, replayed from the log or loaded from a snapshot, is one entry) and a
//! local slot number used by the indexes. An entry's answer is held in memory,
//! or — for entries learned from other nodes — left in Redis until a hit needs it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::decide::rules;
use super::entry::{Answer, Candidate, Lookup, NewEntry, Stats};
use super::keys::{EntryId, PartitionKey};
use super::partition::Partition;
use super::verify::Guards;
use crate::cache::{CachedResponse, PurgeScope, Purges, now_ms};
use crate::config::SemanticConfig;
use crate::metrics::Metrics;

mod graphs;
mod rebuild;

#[derive(Default)]
struct Store {
    /// Boxed: a map's table is between 44 % and 88 % full, so an inline
    /// entry would waste up to 1.3 times its size in empty buckets (measured
    /// at 1M, README index benchmark); a box wastes 16 B at most.
    entries: HashMap<usize, Box<NewEntry>>,
    slots: HashMap<EntryId, usize>,
    partitions: HashMap<PartitionKey, Partition>,
    /// Slots oldest first, for eviction (may hold slots already gone).
    order: VecDeque<usize>,
    next_slot: usize,
    bytes: usize,
    /// Bumped by every change (so an unchanged store need not be snapshotted).
    generation: u64,
}

impl Store {
    /// Removes an entry (a tombstone in its partition's index); its partition.
    fn remove(&mut self, slot: usize) -> Option<PartitionKey> {
        let entry = self.entries.remove(&slot)?;
        self.generation += 1;
        self.slots.remove(&entry.id);
        self.bytes = self.bytes.saturating_sub(entry.bytes());
        if let Some(part) = self.partitions.get_mut(&entry.partition) {
            part.tombstone(slot);
            if part.live() == 0 && !part.rebuilding() {
                self.partitions.remove(&entry.partition);
            }
        }
        Some(entry.partition)
    }
}

pub struct SemanticCache {
    store: Arc<RwLock<Store>>,
    config: SemanticConfig,
    guards: Guards,
    purges: Arc<Purges>,
    metrics: Arc<Metrics>,
    /// Held by the running background rebuild (they run one at a time).
    rebuild_slot: Arc<std::sync::Mutex<()>>,
}

impl SemanticCache {
    pub fn new(config: SemanticConfig, purges: Arc<Purges>, metrics: Arc<Metrics>) -> Self {
        let guards = if config.verify {
            Guards::default()
        } else {
            Guards::none()
        };
        Self::with_guards(config, guards, purges, metrics)
    }

    pub fn with_guards(
        config: SemanticConfig,
        guards: Guards,
        purges: Arc<Purges>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store: Arc::new(RwLock::new(Store::default())),
            config,
            guards,
            purges,
            metrics,
            rebuild_slot: Arc::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.read().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes with every insert and removal.
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    pub fn contains(&self, id: &EntryId) -> bool {
        self.read().slots.contains_key(id)
    }

    /// Whether a background rebuild is under way.
    pub fn rebuilding(&self) -> bool {
        self.read().partitions.values().any(Partition::rebuilding)
    }

    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The best live candidate in `partition` for `vector`, judged against
    /// `threshold` and the store's guards (the `rules` decision).
    pub fn lookup(
        &self,
        partition: &PartitionKey,
        text: &str,
        vector: &[f32],
        threshold: f32,
    ) -> Lookup {
        let candidates = self.candidates(partition, vector, 4);
        rules(candidates, text, threshold, &self.guards)
    }

    /// Up to `k` live entries of `partition` (not expired, not purged), most
    /// similar to `vector` first, with their prompts and answers.
    pub fn candidates(&self, partition: &PartitionKey, vector: &[f32], k: usize) -> Vec<Candidate> {
        let now = now_ms();
        let store = self.read();
        let Some(part) = store.partitions.get(partition) else {
            return Vec::new();
        };
        let cut = self.purges.cut(part.scope());
        let alive = |slot: usize| {
            store
                .entries
                .get(&slot)
                .is_some_and(|e| e.expires_at_ms > now && e.stored_at_ms > cut)
        };
        part.search(vector, k, &alive)
            .into_iter()
            .filter_map(|(slot, similarity)| {
                let entry = store.entries.get(&slot)?;
                let answer = match &entry.response {
                    Some(response) => Answer::Local(Arc::clone(response)),
                    None => Answer::Remote(entry.id),
                };
                Some(Candidate {
                    answer,
                    text: entry.text.clone(),
                    similarity,
                })
            })
            .collect()
    }

    /// Adds an entry, evicting the oldest past the count or memory bound.
    /// `false` when it is already known, expired or purged.
    pub fn insert(&self, entry: NewEntry) -> bool {
        let partition = entry.partition;
        let mut store = self.write();
        let added = self.add(&mut store, entry);
        if added {
            self.evict(&mut store);
            self.maybe_rebuild(&mut store, partition);
            self.metrics.l2_entries(store.entries.len());
        }
        added
    }

    /// Adds many entries (a snapshot, a replay), a chunk per lock so requests
    /// interleave, and starts the rebuilds they call for once, at the end —
    /// not one per entry; how many were new.
    pub fn insert_all(&self, entries: impl IntoIterator<Item = NewEntry>) -> usize {
        self.insert_all_then(entries, |_| {})
    }

    /// [`insert_all`](Self::insert_all), running `before_rebuilds` once
    /// every entry is in and before any rebuild starts (a snapshot's saved
    /// graphs are installed there, so their partitions need none).
    pub fn insert_all_then(
        &self,
        entries: impl IntoIterator<Item = NewEntry>,
        before_rebuilds: impl FnOnce(&Self),
    ) -> usize {
        let mut entries = entries.into_iter().peekable();
        let mut touched = std::collections::HashSet::new();
        let mut added = 0;
        while entries.peek().is_some() {
            let mut store = self.write();
            for entry in entries.by_ref().take(1024) {
                let partition = entry.partition;
                if self.add(&mut store, entry) {
                    added += 1;
                    touched.insert(partition);
                }
            }
            self.evict(&mut store);
        }
        before_rebuilds(self);
        let mut store = self.write();
        for partition in touched {
            self.maybe_rebuild(&mut store, partition);
        }
        self.metrics.l2_entries(store.entries.len());
        added
    }

    /// Puts an entry in the store and its partition's index (no eviction,
    /// no rebuild); `false` when known, expired or purged.
    fn add(&self, store: &mut Store, entry: NewEntry) -> bool {
        if entry.expires_at_ms <= now_ms()
            || self.purges.purged(&entry.scope, entry.stored_at_ms)
            || store.slots.contains_key(&entry.id)
        {
            return false;
        }
        let slot = store.next_slot;
        store.next_slot += 1;
        store.generation += 1;
        let (partition, vector) = (entry.partition, Arc::clone(&entry.vector));
        let scope = Arc::clone(&entry.scope);
        store.bytes += entry.bytes();
        store.slots.insert(entry.id, slot);
        store.entries.insert(slot, Box::new(entry));
        store.order.push_back(slot);
        store
            .partitions
            .entry(partition)
            .or_insert_with(|| Partition::new(scope))
            .insert(slot, &vector, self.config.exact_scan_max);
        true
    }

    fn evict(&self, store: &mut Store) {
        while store.entries.len() > self.config.max_entries || store.bytes > self.config.max_bytes {
            let Some(oldest) = store.order.pop_front() else {
                break;
            };
            if let Some(partition) = store.remove(oldest) {
                self.metrics.cache_eviction("l2");
                self.maybe_rebuild(store, partition);
            }
        }
    }

    /// Keeps the answer of an entry that was held in Redis only.
    pub fn attach(&self, id: &EntryId, response: Arc<CachedResponse>) {
        let mut store = self.write();
        let Some(slot) = store.slots.get(id).copied() else {
            return;
        };
        let Some(entry) = store.entries.get_mut(&slot) else {
            return;
        };
        if entry.response.is_some() {
            return;
        }
        let before = entry.bytes();
        entry.response = Some(response);
        let after = entry.bytes();
        store.bytes = store.bytes + after - before;
        self.evict(&mut store);
    }

    /// Drops one entry (e.g. its answer is gone from Redis).
    pub fn forget(&self, id: &EntryId) {
        let mut store = self.write();
        if let Some(slot) = store.slots.get(id).copied()
            && let Some(partition) = store.remove(slot)
        {
            self.maybe_rebuild(&mut store, partition);
        }
        self.metrics.l2_entries(store.entries.len());
    }

    /// Drops the entries `scope` covers that were stored at or before `at_ms`
    /// (the purge mark itself is recorded by the caller); how many.
    pub fn purge(&self, scope: &PurgeScope, at_ms: u64) -> usize {
        self.drop_where(|e| scope.covers(&e.scope) && e.stored_at_ms <= at_ms)
    }

    /// Drops expired entries (tombstones in their indexes) and rebuilds what needs it.
    pub fn sweep(&self) -> usize {
        let now = now_ms();
        self.drop_where(|e| e.expires_at_ms <= now)
    }

    fn drop_where(&self, doomed: impl Fn(&NewEntry) -> bool) -> usize {
        let mut store = self.write();
        let slots: Vec<usize> = store
            .entries
            .iter()
            .filter(|(_, e)| doomed(e))
            .map(|(slot, _)| *slot)
            .collect();
        let mut touched: Vec<PartitionKey> = slots
            .iter()
            .filter_map(|slot| store.remove(*slot))
            .collect();
        touched.sort();
        touched.dedup();
        for partition in touched {
            self.maybe_rebuild(&mut store, partition);
        }
        self.metrics.l2_entries(store.entries.len());
        slots.len()
    }

    /// Every live entry, oldest first (for snapshots). Cheap: vectors and
    /// answers are shared, not copied.
    pub fn export(&self) -> Vec<NewEntry> {
        let now = now_ms();
        let store = self.read();
        store
            .order
            .iter()
            .filter_map(|slot| store.entries.get(slot).map(Box::as_ref))
            .filter(|e| e.expires_at_ms > now)
            .cloned()
            .collect()
    }

    pub fn stats(&self) -> Stats {
        let store = self.read();
        let mut stats = Stats {
            entries: store.entries.len(),
            bytes: store.bytes,
            remote_bodies: store
                .entries
                .values()
                .filter(|e| e.response.is_none())
                .count(),
            partitions: store.partitions.len(),
            ..Stats::default()
        };
        for part in store.partitions.values() {
            stats.hnsw_partitions += usize::from(!part.is_exact());
            stats.indexed += part.size();
            stats.tombstones += part.dead();
            stats.rebuilding += usize::from(part.rebuilding());
        }
        stats
    }
}
