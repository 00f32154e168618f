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

mod entry;
mod partition;
mod store;
pub mod verify;

use std::sync::Arc;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::cache::{Purges, canonical_json};
use crate::metrics::Metrics;
pub use entry::{Answer, Lookup, NewEntry, Stats};
pub use store::SemanticCache;
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

/// A cluster-wide L2 entry id: the first 16 bytes of SHA-256 over the
/// partition and the prompt, so every node names the same fill alike.
pub type EntryId = [u8; 16];

pub fn entry_id(partition: &PartitionKey, text: &str) -> EntryId {
    let mut hasher = Sha256::new();
    hasher.update(partition);
    hasher.update(text.as_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

/// Lower-case hex of an id (its Redis key suffix and log field).
pub fn id_hex(id: &EntryId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
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
    pub fn from_config(
        config: &crate::config::Config,
        purges: Arc<Purges>,
        metrics: Arc<Metrics>,
    ) -> Option<Self> {
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
            cache: SemanticCache::new(config.semantic.clone(), purges, metrics),
        })
    }
}
