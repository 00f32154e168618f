//! The L2 semantic cache (DESIGN.md §2, §4): the last user message is embedded
//! and searched among earlier prompts of the same partition — everything else
//! about the request identical — and a candidate is a hit only above the
//! similarity threshold *and* past the verification guards.
//!
//! Each partition is searched exactly while small and through its own HNSW
//! graph once it grows past `exact_scan_max`. Expired, purged and evicted
//! entries become tombstones, filtered from every search; a partition whose
//! graph holds over 20 % tombstones is rebuilt in the background and swapped
//! in, so no request waits for a rebuild.

mod partition;
pub mod verify;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::cache::{CachedResponse, canonical_json, now_ms};
use crate::config::SemanticConfig;
use crate::metrics::Metrics;
use partition::Partition;
pub use verify::{Guards, Rejection};

/// The partition a request searches in: SHA-256 over everything in the L1 key
/// except the last user message's text, plus the embedder's id and dimension.
pub type PartitionKey = [u8; 32];

/// The text to embed and the partition of a chat request, or `None` when the
/// request has no plain-text last user message (L2 does not apply).
pub fn partition_of(
    scope: &str,
    embedder: &str,
    dim: usize,
    fields: &Map<String, Value>,
) -> Option<(PartitionKey, String)> {
    let messages = fields.get("messages")?.as_array()?;
    let last = messages.last()?;
    if last.get("role")?.as_str()? != "user" {
        return None;
    }
    let text = last.get("content")?.as_str()?.trim().to_string();
    if text.is_empty() {
        return None;
    }
    let mut rest = fields.clone();
    for field in crate::cache::NON_SEMANTIC_FIELDS {
        rest.remove(*field);
    }
    let mut earlier = messages.clone();
    if let Some(Value::Object(last)) = earlier.last_mut() {
        last.remove("content");
    }
    rest.insert("messages".into(), Value::Array(earlier));
    let mut hasher = Sha256::new();
    for part in [scope, "chat/completions", embedder, &dim.to_string()] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.update(canonical_json(&Value::Object(rest)));
    Some((hasher.finalize().into(), text))
}

pub struct Entry {
    partition: PartitionKey,
    text: String,
    vector: Arc<[f32]>,
    response: Arc<CachedResponse>,
}

impl Entry {
    fn bytes(&self) -> usize {
        self.vector.len() * 4 + self.text.len() + self.response.weight() as usize + 96
    }
}

pub enum Lookup {
    Hit {
        response: Arc<CachedResponse>,
        similarity: f32,
    },
    /// Best candidate refused by a guard.
    Rejected { similarity: f32, why: Rejection },
    /// Nothing at or above the threshold (`best`: the closest, if any).
    Miss { best: Option<f32> },
}

#[derive(Default)]
struct Store {
    entries: HashMap<usize, Entry>,
    partitions: HashMap<PartitionKey, Partition>,
    /// Ids oldest first, for eviction (may hold ids already gone).
    order: VecDeque<usize>,
    next_id: usize,
    bytes: usize,
}

pub struct SemanticCache {
    store: Arc<RwLock<Store>>,
    config: SemanticConfig,
    guards: Guards,
    metrics: Arc<Metrics>,
}

impl SemanticCache {
    pub fn new(config: SemanticConfig, metrics: Arc<Metrics>) -> Self {
        let guards = if config.verify {
            Guards::default()
        } else {
            Guards::none()
        };
        Self::with_guards(config, guards, metrics)
    }

    pub fn with_guards(config: SemanticConfig, guards: Guards, metrics: Arc<Metrics>) -> Self {
        Self {
            store: Arc::new(RwLock::new(Store::default())),
            config,
            guards,
            metrics,
        }
    }

    pub fn len(&self) -> usize {
        self.read().entries.len()
    }

    /// Whether a background rebuild is under way.
    pub fn rebuilding(&self) -> bool {
        self.read().partitions.values().any(Partition::rebuilding)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
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
        let alive = |id: usize| {
            store
                .entries
                .get(&id)
                .is_some_and(|e| e.response.remaining(now).is_some())
        };
        let candidates = part.search(vector, 4, &alive);
        let best = candidates.first().map(|(_, s)| *s);
        let mut rejected = None;
        for (id, similarity) in candidates {
            if similarity < threshold {
                break;
            }
            let Some(entry) = store.entries.get(&id) else {
                continue;
            };
            match self.guards.check(text, &entry.text) {
                Ok(()) => {
                    return Lookup::Hit {
                        response: Arc::clone(&entry.response),
                        similarity,
                    };
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

    /// Stores an answer for `text` (already embedded) in `partition`, evicting
    /// the oldest entries past the count or memory bound.
    pub fn insert(
        &self,
        partition: PartitionKey,
        text: String,
        vector: Arc<[f32]>,
        response: Arc<CachedResponse>,
    ) {
        let mut store = self.write();
        let id = store.next_id;
        store.next_id += 1;
        let entry = Entry {
            partition,
            text,
            vector: Arc::clone(&vector),
            response,
        };
        store.bytes += entry.bytes();
        store.entries.insert(id, entry);
        store.order.push_back(id);
        let exact_max = self.config.exact_scan_max;
        store
            .partitions
            .entry(partition)
            .or_insert_with(Partition::new)
            .insert(id, &vector, exact_max);
        while store.entries.len() > self.config.max_entries || store.bytes > self.config.max_bytes {
            let Some(oldest) = store.order.pop_front() else {
                break;
            };
            remove(&mut store, oldest);
        }
        self.maybe_rebuild(&mut store, partition);
        self.metrics.l2_entries(store.entries.len());
    }

    /// Drops expired entries (tombstones in their indexes) and rebuilds what needs it.
    pub fn sweep(&self) {
        let now = now_ms();
        let mut store = self.write();
        let expired: Vec<usize> = store
            .entries
            .iter()
            .filter(|(_, e)| e.response.remaining(now).is_none())
            .map(|(id, _)| *id)
            .collect();
        let mut touched = Vec::new();
        for id in expired {
            if let Some(p) = remove(&mut store, id) {
                touched.push(p);
            }
        }
        touched.sort();
        touched.dedup();
        for partition in touched {
            self.maybe_rebuild(&mut store, partition);
        }
        self.metrics.l2_entries(store.entries.len());
    }

    /// Starts a background rebuild of `partition` if its index is over 20 % dead.
    fn maybe_rebuild(&self, store: &mut Store, partition: PartitionKey) {
        let Some(part) = store.partitions.get_mut(&partition) else {
            return;
        };
        if !part.needs_rebuild() {
            return;
        }
        let live: Vec<(usize, Arc<[f32]>)> = part
            .ids()
            .filter_map(|id| store.entries.get(&id).map(|e| (id, Arc::clone(&e.vector))))
            .collect();
        let Some(part) = store.partitions.get_mut(&partition) else {
            return;
        };
        part.start_rebuild();
        let shared = Arc::clone(&self.store);
        let exact_max = self.config.exact_scan_max;
        let metrics = Arc::clone(&self.metrics);
        let build = move || {
            let built = partition::build(&live, exact_max);
            let built_ids = live.iter().map(|(id, _)| *id).collect();
            let mut store = shared.write().unwrap_or_else(PoisonError::into_inner);
            let Store {
                partitions,
                entries,
                ..
            } = &mut *store;
            if let Some(part) = partitions.get_mut(&partition) {
                let vector_of = |id| entries.get(&id).map(|e: &Entry| Arc::clone(&e.vector));
                part.finish_rebuild(built, built_ids, vector_of);
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

/// Removes an entry (a tombstone in its partition's index); its partition key.
fn remove(store: &mut Store, id: usize) -> Option<PartitionKey> {
    let entry = store.entries.remove(&id)?;
    store.bytes = store.bytes.saturating_sub(entry.bytes());
    if let Some(part) = store.partitions.get_mut(&entry.partition) {
        part.tombstone(id);
        if part.live() == 0 && !part.rebuilding() {
            store.partitions.remove(&entry.partition);
        }
    }
    Some(entry.partition)
}

#[cfg(test)]
mod tests;

/// The L2 stage: the embedder and the semantic store.
pub struct L2 {
    pub embedder: crate::embedding::Embedder,
    pub cache: SemanticCache,
}

impl L2 {
    /// Builds the stage the configuration asks for; `None` (with a log line)
    /// when L2 is off or no embedder is available.
    pub fn from_config(config: &crate::config::Config, metrics: Arc<Metrics>) -> Option<Self> {
        use crate::config::EmbedderKind;
        use crate::embedding::{Backend, Embedder, LocalModel, RemoteEmbedder};
        if !config.semantic.enabled {
            return None;
        }
        let e = &config.embedding;
        let timeout = std::time::Duration::from_millis(e.timeout_ms);
        let local_present = e.model_dir.join("model.safetensors").is_file();
        let kind = match e.kind {
            EmbedderKind::Auto if e.url.is_some() => EmbedderKind::Remote,
            EmbedderKind::Auto if local_present => EmbedderKind::Local,
            EmbedderKind::Auto => {
                tracing::warn!(
                    model_dir = %e.model_dir.display(),
                    "semantic cache off: no EMBEDDING_URL and no local model (bash scripts/fetch-model.sh)"
                );
                return None;
            }
            other => other,
        };
        let (id, dim, backend): (String, usize, Arc<dyn Backend>) = match kind {
            EmbedderKind::Local => match LocalModel::load(&e.model_dir) {
                Ok(model) => (
                    "local:all-MiniLM-L6-v2".into(),
                    model.dim(),
                    Arc::new(Arc::new(model)),
                ),
                Err(err) => {
                    tracing::error!(error = %err, "semantic cache off: the local model did not load");
                    return None;
                }
            },
            EmbedderKind::Remote => {
                let url = e.url.clone()?;
                let model = e
                    .model
                    .clone()
                    .unwrap_or_else(|| "text-embedding-3-small".into());
                let dim = e.dimensions;
                match RemoteEmbedder::new(&url, e.api_key.clone(), model.clone(), timeout) {
                    Ok(remote) => (format!("remote:{model}"), dim, Arc::new(remote)),
                    Err(err) => {
                        tracing::error!(error = %err, "semantic cache off: remote embedder");
                        return None;
                    }
                }
            }
            EmbedderKind::Auto | EmbedderKind::Off => return None,
        };
        tracing::info!(embedder = %id, dim, "semantic cache on");
        let embedder = Embedder::new(id, dim, backend, e.max_batch, timeout, Arc::clone(&metrics));
        Some(Self {
            embedder,
            cache: SemanticCache::new(config.semantic.clone(), metrics),
        })
    }
}
