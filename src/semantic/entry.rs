//! What the L2 store holds and answers: an entry (from a local fill, the
//! cluster log or a snapshot), the answer of a hit, and look-up outcomes.

use std::sync::Arc;

use super::keys::{EntryId, PartitionKey, entry_id};
use super::verify::Rejection;
use crate::cache::CachedResponse;
use crate::embedding::cap;
use crate::verifier::MAX_TEXT_BYTES;

/// The prompt an entry keeps — for the verifier and the guards, which read
/// no further — so memory, the log and snapshots grow with the number of
/// entries, not the size of prompts.
pub fn prompt(mut text: String) -> String {
    let keep = cap(&text, MAX_TEXT_BYTES).len();
    text.truncate(keep);
    // A long prompt cut to its first bytes must not keep its whole buffer.
    text.shrink_to_fit();
    text
}

/// An entry to add (from a local fill, the cluster log or a snapshot).
#[derive(Clone)]
pub struct NewEntry {
    pub id: EntryId,
    /// The cache scope (tenant or shared scope) the entry belongs to.
    pub scope: Arc<str>,
    pub partition: PartitionKey,
    pub text: String,
    pub vector: Arc<[f32]>,
    pub stored_at_ms: u64,
    pub expires_at_ms: u64,
    /// The answer; `None` when it is only in Redis (`{prefix}l2:e:{id}`).
    pub response: Option<Arc<CachedResponse>>,
}

impl NewEntry {
    /// A node's own fill of `response`.
    pub fn local(
        scope: &str,
        partition: PartitionKey,
        text: String,
        vector: Arc<[f32]>,
        response: Arc<CachedResponse>,
    ) -> Self {
        let id = entry_id(&partition, &text);
        Self {
            id,
            scope: scope.into(),
            partition,
            text: prompt(text),
            vector,
            stored_at_ms: response.stored_at_ms,
            expires_at_ms: response.expires_at_ms,
            response: Some(response),
        }
    }

    pub(super) fn bytes(&self) -> usize {
        let body = self.response.as_ref().map_or(0, |r| r.weight() as usize);
        self.vector.len() * 4 + self.text.len() + self.scope.len() + body + 128
    }
}

/// The answer of a hit.
pub enum Answer {
    Local(Arc<CachedResponse>),
    /// Held in Redis only: fetch it, then [`SemanticCache::attach`] it.
    Remote(EntryId),
}

/// A live entry close to a query: what deciding a hit reads.
pub struct Candidate {
    pub answer: Answer,
    /// The prompt the entry answers.
    pub text: String,
    pub similarity: f32,
}

pub enum Lookup {
    Hit {
        answer: Answer,
        similarity: f32,
    },
    /// Best candidate refused by a guard.
    Rejected {
        similarity: f32,
        why: Rejection,
    },
    /// Nothing at or above the threshold (`best`: the closest, if any).
    Miss {
        best: Option<f32>,
    },
}

/// Figures for `/admin/stats`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub entries: usize,
    pub bytes: usize,
    /// Entries whose answer is in Redis only.
    pub remote_bodies: usize,
    pub partitions: usize,
    pub hnsw_partitions: usize,
    /// Vectors in the indexes, tombstones included.
    pub indexed: usize,
    pub tombstones: usize,
    pub rebuilding: usize,
}
