//! The L2 entries and their per-partition indexes. Every entry has a
//! cluster-wide id (a hash of its partition and prompt, so the same fill made
//! twice, replayed from the log or loaded from a snapshot, is one entry) and a
//! local slot number used by the indexes. An entry's answer is held in memory,
//! or — for entries learned from other nodes — left in Redis until a hit needs it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::partition::{self, Partition};

/// Inserts a finished rebuild replays under the store's lock; more are
/// replayed outside it first.
const HANDOVER: usize = 256;
use super::{EntryId, Guards, PartitionKey, Rejection};
use crate::cache::{CachedResponse, PurgeScope, Purges, now_ms};
use crate::config::SemanticConfig;
use crate::metrics::Metrics;

/// An entry to add (from a local fill, the cluster log or a snapshot).
#[derive(Clone)]
pub struct NewEntry {
    pub id: EntryId,
    /// The cache scope (tenant or shared scope) the entry belongs to.
    pub scope: Arc<str>,
    pub partition: PartitionKey,
    pub text: String,
    pub vector: Arc<[f32]>,
    pub stored_at_ms: u64,
    pub expires_at_ms: u64,
    /// The answer; `None` when it is only in Redis (`{prefix}l2:e:{id}`).
    pub response: Option<Arc<CachedResponse>>,
}

impl NewEntry {
    /// A node's own fill of `response`.
    pub fn local(
        scope: &str,
        partition: PartitionKey,
        text: String,
        vector: Arc<[f32]>,
        response: Arc<CachedResponse>,
    ) -> Self {
        Self {
            id: super::entry_id(&partition, &text),
            scope: scope.into(),
            partition,
            text,
            vector,
            stored_at_ms: response.stored_at_ms,
            expires_at_ms: response.expires_at_ms,
            response: Some(response),
        }
    }

    fn bytes(&self) -> usize {
        let body = self.response.as_ref().map_or(0, |r| r.weight() as usize);
        self.vector.len() * 4 + self.text.len() + self.scope.len() + body + 128
    }
}

/// The answer of a hit.
pub enum Answer {
    Local(Arc<CachedResponse>),
    /// Held in Redis only: fetch it, then [`SemanticCache::attach`] it.
    Remote(EntryId),
}

pub enum Lookup {
    Hit {
        answer: Answer,
        similarity: f32,
    },
    /// Best candidate refused by a guard.
    Rejected {
        similarity: f32,
        why: Rejection,
    },
    /// Nothing at or above the threshold (`best`: the closest, if any).
    Miss {
        best: Option<f32>,
    },
}

/// Figures for `/admin/stats`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub entries: usize,
    pub bytes: usize,
    /// Entries whose answer is in Redis only.
    pub remote_bodies: usize,
    pub partitions: usize,
    pub hnsw_partitions: usize,
    /// Vectors in the indexes, tombstones included.
    pub indexed: usize,
    pub tombstones: usize,
    pub rebuilding: usize,
}

#[derive(Default)]
struct Store {
    entries: HashMap<usize, NewEntry>,
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
    /// `threshold` and the guards.
    pub fn lookup(
        &self,
        partition: &PartitionKey,
        text: &str,
        vector: &[f32],
        threshold: f32,
    ) -> Lookup {
        let now = now_ms();
        let store = self.read();
        let Some(part) = store.partitions.get(partition) else {
            return Lookup::Miss { best: None };
        };
        let cut = self.purges.cut(part.scope());
        let alive = |slot: usize| {
            store
                .entries
                .get(&slot)
                .is_some_and(|e| e.expires_at_ms > now && e.stored_at_ms > cut)
        };
        let candidates = part.search(vector, 4, &alive);
        let best = candidates.first().map(|(_, s)| *s);
        let mut rejected = None;
        for (slot, similarity) in candidates {
            if similarity < threshold {
                break;
            }
            let Some(entry) = store.entries.get(&slot) else {
                continue;
            };
            match self.guards.check(text, &entry.text) {
                Ok(()) => {
                    let answer = match &entry.response {
                        Some(response) => Answer::Local(Arc::clone(response)),
                        None => Answer::Remote(entry.id),
                    };
                    return Lookup::Hit { answer, similarity };
                }
                Err(why) => {
                    rejected.get_or_insert((similarity, why));
                }
            }
        }
        match rejected {
            Some((similarity, why)) => Lookup::Rejected { similarity, why },
            None => Lookup::Miss { best },
        }
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
        store.entries.insert(slot, entry);
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
            .filter_map(|slot| store.entries.get(slot))
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

    /// Starts a background rebuild of `partition` if its index is over 20 %
    /// dead or has outgrown the exact scan.
    fn maybe_rebuild(&self, store: &mut Store, partition: PartitionKey) {
        let Some(part) = store.partitions.get_mut(&partition) else {
            return;
        };
        if !part.needs_rebuild() {
            return;
        }
        part.start_rebuild();
        let live: Vec<(usize, Arc<[f32]>)> = part
            .ids()
            .filter_map(|slot| {
                let entry = store.entries.get(&slot)?;
                Some((slot, Arc::clone(&entry.vector)))
            })
            .collect();
        let shared = Arc::clone(&self.store);
        let exact_max = self.config.exact_scan_max;
        let metrics = Arc::clone(&self.metrics);
        let build = move || {
            let built = partition::build(&live, exact_max);
            let mut built_ids: Vec<usize> = live.iter().map(|(slot, _)| *slot).collect();
            drop(live);
            // Inserts that arrived meanwhile go into the new index outside
            // the lock, round after round, until few enough are left to hand
            // over under it: a bulk load never blocks searches for long.
            loop {
                let mut store = shared.write().unwrap_or_else(PoisonError::into_inner);
                let Store {
                    partitions,
                    entries,
                    ..
                } = &mut *store;
                let Some(part) = partitions.get_mut(&partition) else {
                    return;
                };
                if part.pending() <= HANDOVER {
                    let vector_of = |slot| entries.get(&slot).map(|e| Arc::clone(&e.vector));
                    part.finish_rebuild(built, built_ids, vector_of);
                    break;
                }
                let late: Vec<(usize, Arc<[f32]>)> = part
                    .take_pending()
                    .into_iter()
                    .filter_map(|slot| Some((slot, Arc::clone(&entries.get(&slot)?.vector))))
                    .collect();
                drop(store);
                for (slot, vector) in &late {
                    built.0.insert(*slot, vector);
                    built_ids.push(*slot);
                }
            }
            metrics.l2_rebuild();
        };
        // Never inline: `build` takes the store's write lock, held by our caller.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(build);
            }
            Err(_) => {
                std::thread::spawn(build);
            }
        }
    }
}
