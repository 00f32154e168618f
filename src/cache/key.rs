//! Canonical cache keys (DESIGN.md §2). The L1 key is SHA-256 over a canonical
//! encoding of the cache scope, the endpoint and every request field that can
//! change the answer; JSON-equivalent requests (key order, whitespace, `1.0` vs
//! `1`, escaped vs raw unicode) encode identically.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Request fields that cannot change the answer and so stay out of the key.
/// Everything else — unknown fields included — is part of it.
pub const NON_SEMANTIC_FIELDS: &[&str] = &["stream", "stream_options", "user", "metadata", "store"];

/// A 32-byte cache key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(pub [u8; 32]);

impl CacheKey {
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CacheKey({})", &self.hex()[..16])
    }
}

/// The L1 key of a request body (already parsed to an object).
pub fn l1_key(scope: &str, endpoint: &str, fields: &Map<String, Value>) -> CacheKey {
    let mut hasher = Sha256::new();
    write_str(&mut hasher, scope);
    write_str(&mut hasher, endpoint);
    let mut buf = Vec::with_capacity(256);
    let semantic = fields
        .iter()
        .filter(|(k, _)| !NON_SEMANTIC_FIELDS.contains(&k.as_str()));
    encode_object(semantic, &mut buf);
    hasher.update(&buf);
    CacheKey(hasher.finalize().into())
}

/// Length-prefixed, so `("ab","c")` and `("a","bc")` differ.
fn write_str(hasher: &mut Sha256, s: &str) {
    hasher.update((s.len() as u64).to_le_bytes());
    hasher.update(s.as_bytes());
}

/// Canonical JSON: object keys sorted, no whitespace, numbers normalised.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut buf = Vec::new();
    encode(value, &mut buf);
    buf
}

fn encode(value: &Value, buf: &mut Vec<u8>) {
    match value {
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => encode_number(n, buf),
        Value::String(s) => encode_string(s, buf),
        Value::Array(items) => {
            buf.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                encode(item, buf);
            }
            buf.push(b']');
        }
        Value::Object(map) => encode_object(map.iter(), buf),
    }
}

fn encode_object<'a>(entries: impl Iterator<Item = (&'a String, &'a Value)>, buf: &mut Vec<u8>) {
    let mut entries: Vec<_> = entries.collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    buf.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        encode_string(k, buf);
        buf.push(b':');
        encode(v, buf);
    }
    buf.push(b'}');
}

fn encode_string(s: &str, buf: &mut Vec<u8>) {
    // serde_json's escaping is deterministic for a given string.
    match serde_json::to_vec(s) {
        Ok(bytes) => buf.extend_from_slice(&bytes),
        Err(_) => buf.extend_from_slice(s.as_bytes()),
    }
}

/// Integers (and floats with an exact integer value within ±2^53) as integers;
/// other floats in their shortest round-trip form.
fn encode_number(n: &serde_json::Number, buf: &mut Vec<u8>) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if let Some(i) = n.as_i64() {
        buf.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(u) = n.as_u64() {
        buf.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(f) = n.as_f64() {
        if f.fract() == 0.0 && f.abs() < EXACT {
            buf.extend_from_slice((f as i64).to_string().as_bytes());
        } else {
            buf.extend_from_slice(format!("{f:?}").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests;
