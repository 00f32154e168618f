//! What an embedder backend is: a batch of texts in, one unit vector per
//! text out, or an error.

use futures_util::future::BoxFuture;

#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model could not be loaded: {0}")]
    Load(String),
    #[error("embedding failed: {0}")]
    Failed(String),
    #[error("embedding timed out")]
    Timeout,
    #[error("the embedder is shut down")]
    Closed,
}

/// A backend that embeds a batch of texts.
pub trait Backend: Send + Sync + 'static {
    fn embed_batch(&self, texts: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, EmbedError>>;
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > f32::EPSILON {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
