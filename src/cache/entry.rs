//! A cached answer: the completion JSON (as the upstream sent it, or assembled
//! from a captured stream), its absolute expiry and its token usage. Encoded
//! with a small versioned header for the shared Redis tier; decoding checks
//! every length, since Redis content is not trusted to be ours.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

/// `GWL2` adds the store time (for purges) to `GWL1`; older entries decode as
/// `None`, i.e. a miss.
const MAGIC: &[u8; 4] = b"GWL2";
const HEADER_LEN: usize = 4 + 8 + 8 + 8 + 8;

/// Tokens the cached answer cost upstream (saved by every hit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt: u64,
    pub completion: u64,
}

impl Usage {
    /// The `usage` of a chat completion (`prompt_tokens`, `completion_tokens`)
    /// or of a Responses API response (`input_tokens`, `output_tokens`).
    pub fn of(response: &Value) -> Self {
        let usage = &response["usage"];
        let tokens = |a: &str, b: &str| usage[a].as_u64().or_else(|| usage[b].as_u64());
        Self {
            prompt: tokens("prompt_tokens", "input_tokens").unwrap_or(0),
            completion: tokens("completion_tokens", "output_tokens").unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    /// `chat.completion` (or embeddings list) JSON bytes.
    pub body: Bytes,
    /// Unix milliseconds after which the entry is dead (fixed at write time).
    pub expires_at_ms: u64,
    /// Unix milliseconds when it was stored (a purge removes what came before).
    pub stored_at_ms: u64,
    pub usage: Usage,
}

pub use crate::clock::now_ms;

impl CachedResponse {
    pub fn new(body: Bytes, ttl: Duration, usage: Usage) -> Self {
        let now = now_ms();
        Self {
            body,
            expires_at_ms: now.saturating_add(ttl.as_millis() as u64),
            stored_at_ms: now,
            usage,
        }
    }

    /// Time left to live, `None` once expired.
    pub fn remaining(&self, now_ms: u64) -> Option<Duration> {
        (self.expires_at_ms > now_ms).then(|| Duration::from_millis(self.expires_at_ms - now_ms))
    }

    /// Bytes the entry holds in memory (body plus bookkeeping), for the budget.
    pub fn weight(&self) -> u32 {
        (self.body.len() + 32 + std::mem::size_of::<Self>()).min(u32::MAX as usize) as u32
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.expires_at_ms.to_le_bytes());
        out.extend_from_slice(&self.stored_at_ms.to_le_bytes());
        out.extend_from_slice(&self.usage.prompt.to_le_bytes());
        out.extend_from_slice(&self.usage.completion.to_le_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// `None` for anything that is not an entry this format wrote.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
            return None;
        }
        let word = |at: usize| -> Option<u64> {
            Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        Some(Self {
            expires_at_ms: word(4)?,
            stored_at_ms: word(12)?,
            usage: Usage {
                prompt: word(20)?,
                completion: word(28)?,
            },
            body: Bytes::copy_from_slice(&bytes[HEADER_LEN..]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_their_encoding() {
        let entry = CachedResponse::new(
            Bytes::from_static(b"{\"id\":1}"),
            Duration::from_secs(60),
            Usage {
                prompt: 7,
                completion: 9,
            },
        );
        assert_eq!(CachedResponse::decode(&entry.encode()), Some(entry));
    }

    #[test]
    fn foreign_or_truncated_bytes_are_refused() {
        assert_eq!(CachedResponse::decode(b""), None);
        assert_eq!(CachedResponse::decode(b"GWL2short"), None);
        assert_eq!(CachedResponse::decode(&[0u8; 64]), None);
    }

    #[test]
    fn an_entry_is_dead_after_its_expiry() {
        let entry = CachedResponse {
            body: Bytes::new(),
            expires_at_ms: 1_000,
            stored_at_ms: 0,
            usage: Usage::default(),
        };
        assert_eq!(entry.remaining(400), Some(Duration::from_millis(600)));
        assert_eq!(entry.remaining(1_000), None);
    }
}
