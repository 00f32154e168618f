//! The embedder the gateway uses: a cache by text hash in front of a batcher —
//! concurrent requests are embedded together, one batch at a time, off the
//! async runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::backend::{Backend, EmbedError};
use crate::metrics::Metrics;

struct Job {
    text: String,
    reply: oneshot::Sender<Result<Vec<f32>, EmbedError>>,
}

/// The embedder the gateway uses.
pub struct Embedder {
    id: String,
    dim: usize,
    jobs: mpsc::Sender<Job>,
    cache: moka::sync::Cache<[u8; 32], Arc<[f32]>>,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Embedder {
    /// `id` names model and kind (it is part of every L2 partition key).
    pub fn new(
        id: String,
        dim: usize,
        backend: Arc<dyn Backend>,
        max_batch: usize,
        timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        tokio::spawn(batcher(backend, rx, max_batch.max(1)));
        Self {
            id,
            dim,
            jobs,
            cache: moka::sync::Cache::new(20_000),
            timeout,
            metrics,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The vector of `text`, from the cache or the backend (within the timeout).
    pub async fn embed(&self, text: &str) -> Result<Arc<[f32]>, EmbedError> {
        let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if let Some(vector) = self.cache.get(&key) {
            return Ok(vector);
        }
        let started = Instant::now();
        let result = self.embed_uncached(text).await;
        self.metrics.embedding(started.elapsed(), result.is_ok());
        let vector: Arc<[f32]> = result?.into();
        if vector.len() != self.dim {
            self.metrics.embedding(Duration::ZERO, false);
            return Err(EmbedError::Failed(format!(
                "expected {} dimensions, got {}",
                self.dim,
                vector.len()
            )));
        }
        self.cache.insert(key, Arc::clone(&vector));
        Ok(vector)
    }

    async fn embed_uncached(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            text: text.to_string(),
            reply,
        };
        let work = async {
            self.jobs.send(job).await.map_err(|_| EmbedError::Closed)?;
            answer.await.map_err(|_| EmbedError::Closed)?
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| EmbedError::Timeout)?
    }
}

/// Takes whatever jobs are waiting (up to `max_batch`), embeds them together,
/// answers each; one batch at a time.
async fn batcher(backend: Arc<dyn Backend>, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let texts = jobs.iter().map(|j| j.text.clone()).collect();
        match backend.embed_batch(texts).await {
            Ok(vectors) if vectors.len() == jobs.len() => {
                for (job, vector) in jobs.into_iter().zip(vectors) {
                    let _ = job.reply.send(Ok(vector));
                }
            }
            Ok(_) => fail_all(jobs, EmbedError::Failed("wrong number of vectors".into())),
            Err(e) => fail_all(jobs, e),
        }
    }
}

fn fail_all(jobs: Vec<Job>, error: EmbedError) {
    for job in jobs {
        let _ = job.reply.send(Err(error.clone()));
    }
}
