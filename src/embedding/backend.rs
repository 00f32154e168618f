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
    #[error("the embedder is saturated: the text would wait past its budget")]
    Saturated,
    #[error("the embedder is shut down")]
    Closed,
}

impl EmbedError {
    /// A low-cardinality label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Load(_) | Self::Failed(_) => "error",
            Self::Timeout => "timeout",
            Self::Saturated => "saturated",
            Self::Closed => "closed",
        }
    }
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

/// Bytes of a text the embedders read: the model sees at most 256 tokens,
/// which no text needs more than 4 KiB for, so anything longer is cut before
/// tokenizing (a 7 MB prompt costs what a 4 KiB one does).
pub const MAX_TEXT_BYTES: usize = 4096;

/// `text` cut to at most `max` bytes, at a character boundary.
pub fn cap(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capping_keeps_short_texts_and_cuts_long_ones_at_a_character_boundary() {
        assert_eq!(cap("hello", 10), "hello");
        assert_eq!(cap("hello", 3), "hel");
        // "é" is two bytes: a cut through it backs off to before it.
        assert_eq!(cap("aé", 2), "a");
        assert_eq!(
            cap(&"x".repeat(10_000), MAX_TEXT_BYTES).len(),
            MAX_TEXT_BYTES
        );
    }
}
