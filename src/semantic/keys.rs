//! The names L2 gives things: the partition a request searches in (everything
//! in the L1 key but the last user message's text, plus the embedder), and
//! the cluster-wide id of an entry.

use std::sync::Arc;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::cache::canonical_json;

/// The partition a request searches in: SHA-256 over everything in the L1 key
/// except the last user message's text, plus the embedder's id and dimension.
pub type PartitionKey = [u8; 32];

/// The text to embed and the partition of a chat request, or `None` when the
/// request's last message is not a user's text (L2 does not apply).
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
    let text = user_text(last.get("content")?)?;
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

/// The text of a user message: its content string, or the text of content
/// parts that are all text (`[{"type": "text", "text": …}, …]`, as some
/// clients send plain prompts), joined by newlines; `None` when a part is
/// anything else (an image, audio, a file: the answer turns on it, and L2
/// reads only text).
fn user_text(content: &Value) -> Option<String> {
    if let Some(text) = content.as_str() {
        return Some(text.trim().to_string());
    }
    let parts = content.as_array()?;
    let mut texts = Vec::with_capacity(parts.len());
    for part in parts {
        if part.get("type")?.as_str()? != "text" {
            return None;
        }
        texts.push(part.get("text")?.as_str()?);
    }
    Some(texts.join("\n").trim().to_string())
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

/// A node's key in a saved graph: the first 8 bytes of its entry id.
pub fn graph_key(id: &EntryId) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&id[..8]);
    u64::from_le_bytes(b)
}

/// What a snapshot's loader can tell of an entry it read: its id and vector
/// (also for entries the store refused, expired or purged by now).
pub type Archived<'a> = dyn Fn(u64) -> Option<(EntryId, Arc<[f32]>)> + 'a;
