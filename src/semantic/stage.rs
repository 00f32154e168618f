//! The L2 stage of the pipeline: embed the last user message, search its
//! partition, verify the best candidates, and either answer from a verified
//! near-duplicate — fetching the answer from a peer node when another node
//! filled it — or hand back a probe, so the upstream's answer can be stored
//! (and shared with the cluster) afterwards.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use super::entry::{Answer, Lookup, NewEntry};
use super::keys::{EntryId, PartitionKey, partition_of};
use super::store::SemanticCache;
use crate::cache::{CachedResponse, Purges};
use crate::config::{Config, EmbedderKind, EmbeddingConfig};
use crate::embedding::{Backend, Embedder, LocalModel, RemoteEmbedder};
use crate::metrics::Metrics;

/// The other nodes of the cluster, as L2 needs them (implemented by the
/// cluster stage, so L2 does not depend on how nodes talk).
pub trait Peers: Send + Sync {
    /// Shares a node's own fill with every other node.
    fn publish(&self, entry: &NewEntry);
    /// The answer of an entry another node filled; `None` when it is gone.
    fn fetch<'a>(
        &'a self,
        id: &'a EntryId,
        scope: &'a str,
    ) -> BoxFuture<'a, Option<Arc<CachedResponse>>>;
}

/// The L2 stage: the embedder and the semantic store.
pub struct L2 {
    pub embedder: Embedder,
    pub cache: SemanticCache,
    metrics: Arc<Metrics>,
}

/// What an L2 look-up found.
pub enum L2Lookup {
    Hit {
        answer: Arc<CachedResponse>,
        similarity: f32,
    },
    /// No hit; a probe when L2 applies to the request.
    Miss(Option<Probe>),
}

/// What a miss needs to be stored in L2 later.
pub struct Probe {
    l2: Arc<L2>,
    peers: Arc<dyn Peers>,
    scope: String,
    partition: PartitionKey,
    text: String,
    vector: Arc<[f32]>,
}

impl Probe {
    /// Stores `entry` as the answer to this probe's prompt and publishes it
    /// to the other nodes.
    pub fn store(self, entry: Arc<CachedResponse>) {
        let new = NewEntry::local(&self.scope, self.partition, self.text, self.vector, entry);
        if self.l2.cache.insert(new.clone()) {
            self.peers.publish(&new);
        }
    }
}

impl L2 {
    pub fn new(embedder: Embedder, cache: SemanticCache, metrics: Arc<Metrics>) -> Self {
        Self {
            embedder,
            cache,
            metrics,
        }
    }

    /// Looks a chat request up. An embedder failure or timeout skips L2 (it is
    /// counted) and the request goes on to the upstream.
    pub async fn lookup(
        self: &Arc<Self>,
        peers: &Arc<dyn Peers>,
        scope: &str,
        threshold: f32,
        fields: &Map<String, Value>,
    ) -> L2Lookup {
        let embedder = &self.embedder;
        let Some((partition, text)) = partition_of(scope, embedder.id(), embedder.dim(), fields)
        else {
            return L2Lookup::Miss(None);
        };
        let vector = match embedder.embed(&text).await {
            Ok(vector) => vector,
            Err(e) => {
                tracing::debug!(error = %e, "L2 skipped: embedding failed");
                self.metrics.l2_lookup(None, "error");
                return L2Lookup::Miss(None);
            }
        };
        let found = self.cache.lookup(&partition, &text, &vector, threshold);
        let probe = Probe {
            l2: Arc::clone(self),
            peers: Arc::clone(peers),
            scope: scope.to_string(),
            partition,
            text,
            vector,
        };
        let (similarity, answer) = match found {
            Lookup::Hit { answer, similarity } => (similarity, answer),
            Lookup::Rejected { similarity, why } => {
                self.metrics.l2_lookup(Some(similarity), "rejected");
                self.metrics.l2_rejection(why.label());
                return L2Lookup::Miss(Some(probe));
            }
            Lookup::Miss { best } => {
                self.metrics.l2_lookup(best, "miss");
                return L2Lookup::Miss(Some(probe));
            }
        };
        match self.answer_of(peers, answer, scope).await {
            Some(answer) => {
                self.metrics.l2_lookup(Some(similarity), "hit");
                L2Lookup::Hit { answer, similarity }
            }
            None => {
                self.metrics.l2_lookup(Some(similarity), "error");
                L2Lookup::Miss(Some(probe))
            }
        }
    }

    /// The hit's answer: in memory, or fetched from a peer's fill in Redis
    /// (and kept). An answer gone from Redis drops the entry: a miss.
    async fn answer_of(
        &self,
        peers: &Arc<dyn Peers>,
        answer: Answer,
        scope: &str,
    ) -> Option<Arc<CachedResponse>> {
        match answer {
            Answer::Local(response) => Some(response),
            Answer::Remote(id) => match peers.fetch(&id, scope).await {
                Some(response) => {
                    self.cache.attach(&id, Arc::clone(&response));
                    Some(response)
                }
                None => {
                    self.cache.forget(&id);
                    None
                }
            },
        }
    }

    /// Builds the stage the configuration asks for; `None` (with a log line)
    /// when L2 is off or no embedder is available.
    pub fn from_config(
        config: &Config,
        purges: Arc<Purges>,
        metrics: Arc<Metrics>,
    ) -> Option<Self> {
        if !config.semantic.enabled {
            return None;
        }
        let e = &config.embedding;
        let timeout = std::time::Duration::from_millis(e.timeout_ms);
        let (id, dim, backend) = backend(e, timeout)?;
        tracing::info!(embedder = %id, dim, "semantic cache on");
        let embedder = Embedder::new(id, dim, backend, e.max_batch, timeout, Arc::clone(&metrics));
        let cache = SemanticCache::new(config.semantic.clone(), purges, Arc::clone(&metrics));
        Some(Self::new(embedder, cache, metrics))
    }
}

/// The embedder backend the configuration names (or, for `auto`, a remote
/// URL first, then the local model): its id, dimension and backend.
fn backend(e: &EmbeddingConfig, timeout: Duration) -> Option<(String, usize, Arc<dyn Backend>)> {
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
    match kind {
        EmbedderKind::Local => match LocalModel::load(&e.model_dir) {
            Ok(model) => {
                let dim = model.dim();
                Some((
                    "local:all-MiniLM-L6-v2".into(),
                    dim,
                    Arc::new(Arc::new(model)),
                ))
            }
            Err(err) => {
                tracing::error!(error = %err, "semantic cache off: the local model did not load");
                None
            }
        },
        EmbedderKind::Remote => {
            let url = e.url.clone()?;
            let model = e
                .model
                .clone()
                .unwrap_or_else(|| "text-embedding-3-small".into());
            match RemoteEmbedder::new(&url, e.api_key.clone(), model.clone(), timeout) {
                Ok(remote) => Some((format!("remote:{model}"), e.dimensions, Arc::new(remote))),
                Err(err) => {
                    tracing::error!(error = %err, "semantic cache off: remote embedder");
                    None
                }
            }
        }
        EmbedderKind::Auto | EmbedderKind::Off => None,
    }
}
