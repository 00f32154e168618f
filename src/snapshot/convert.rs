//! Between the store's entries and their archived form.

use std::sync::Arc;

use super::format::{ArchivedSnapEntry, SnapBody, SnapEntry};
use crate::cache::{CachedResponse, Usage};
use crate::semantic::NewEntry;

pub fn snap_entry(e: &NewEntry) -> SnapEntry {
    SnapEntry {
        id: e.id,
        scope: e.scope.to_string(),
        partition: e.partition,
        text: e.text.clone(),
        vector: e.vector.to_vec(),
        stored_at_ms: e.stored_at_ms,
        expires_at_ms: e.expires_at_ms,
        body: e.response.as_ref().map(|r| SnapBody {
            bytes: r.body.to_vec(),
            prompt_tokens: r.usage.prompt,
            completion_tokens: r.usage.completion,
        }),
    }
}

pub fn new_entry(e: &ArchivedSnapEntry) -> NewEntry {
    let expires_at_ms = e.expires_at_ms.to_native();
    let stored_at_ms = e.stored_at_ms.to_native();
    let response = e.body.as_ref().map(|b| {
        Arc::new(CachedResponse {
            body: bytes::Bytes::copy_from_slice(b.bytes.as_slice()),
            expires_at_ms,
            stored_at_ms,
            usage: Usage {
                prompt: b.prompt_tokens.to_native(),
                completion: b.completion_tokens.to_native(),
            },
        })
    });
    NewEntry {
        id: e.id,
        scope: e.scope.as_str().into(),
        partition: e.partition,
        text: e.text.as_str().to_string(),
        vector: e.vector.iter().map(|x| x.to_native()).collect(),
        stored_at_ms,
        expires_at_ms,
        response,
    }
}
