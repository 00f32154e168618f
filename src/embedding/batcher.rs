//! The embedder the gateway uses: a cache by text hash in front of an
//! admission-controlled lane — concurrent requests are embedded together, one
//! batch at a time, off the async runtime; a request that would wait past its
//! deadline is refused at once, and tenants are served in turn.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::backend::{Backend, EmbedError, MAX_TEXT_BYTES, cap};
use crate::admission::{Lane, LaneLimits, Refused, Runner};
use crate::metrics::Metrics;

/// The embedder the gateway uses.
pub struct Embedder {
    id: String,
    dim: usize,
    lane: Lane<String, Vec<f32>>,
    cache: moka::sync::Cache<[u8; 32], Arc<[f32]>>,
    metrics: Arc<Metrics>,
}

struct Batches(Arc<dyn Backend>);

impl Runner<String, Vec<f32>> for Batches {
    fn run(&self, texts: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, String>> {
        Box::pin(async move { self.0.embed_batch(texts).await.map_err(|e| e.to_string()) })
    }
}

impl EmbedError {
    fn refused(refused: Refused) -> Self {
        match refused {
            Refused::Saturated => Self::Saturated,
            Refused::Timeout => Self::Timeout,
            Refused::Failed(e) => Self::Failed(e),
            Refused::Closed => Self::Closed,
        }
    }
}

/// About the tokens a text costs the model (≈ 4 bytes a token, plus the
/// special tokens; the model reads 256 at most).
pub fn token_cost(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4).min(256) + 2
}

impl Embedder {
    /// `id` names model and kind (it is part of every L2 partition key).
    pub fn new(
        id: String,
        dim: usize,
        backend: Arc<dyn Backend>,
        limits: LaneLimits,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            id,
            dim,
            lane: Lane::new(Arc::new(Batches(backend)), limits),
            cache: moka::sync::Cache::new(20_000),
            metrics,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The vector of `text` for `tenant`, from the cache or the backend, by
    /// `deadline` or not at all. The text is capped to its first
    /// `MAX_TEXT_BYTES` first: the model reads no further.
    pub async fn embed(
        &self,
        tenant: &str,
        text: &str,
        deadline: Instant,
    ) -> Result<Arc<[f32]>, EmbedError> {
        let text = cap(text, MAX_TEXT_BYTES);
        let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if let Some(vector) = self.cache.get(&key) {
            return Ok(vector);
        }
        let started = Instant::now();
        let result = self
            .lane
            .submit(tenant, text.to_string(), token_cost(text), deadline)
            .await
            .map_err(EmbedError::refused);
        if !matches!(result, Err(EmbedError::Saturated)) {
            self.metrics.embedding(started.elapsed(), result.is_ok());
        }
        let vector: Arc<[f32]> = result?.into();
        if vector.len() != self.dim {
            self.metrics.embedding(std::time::Duration::ZERO, false);
            return Err(EmbedError::Failed(format!(
                "expected {} dimensions, got {}",
                self.dim,
                vector.len()
            )));
        }
        self.cache.insert(key, Arc::clone(&vector));
        Ok(vector)
    }
}
