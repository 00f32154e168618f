//! The L2 step of the cache stage: embed the last user message, search its
//! partition, and either answer from a verified near-duplicate or carry the
//! probe along so the answer can be stored under it afterwards.

use std::sync::Arc;

use crate::access::RequestInfo;
use crate::cache::{CachePolicy, CachedResponse};
use crate::semantic::{L2, Lookup, PartitionKey, partition_of};
use crate::server::Gateway;

use super::ApiRequest;

/// What a miss needs to be stored in L2 later.
#[derive(Clone)]
pub struct Probe {
    l2: Arc<L2>,
    partition: PartitionKey,
    text: String,
    vector: Arc<[f32]>,
}

impl Probe {
    /// Stores `entry` as the answer to this probe's prompt.
    pub fn store(self, entry: Arc<CachedResponse>) {
        self.l2
            .cache
            .insert(self.partition, self.text, self.vector, entry);
    }
}

pub enum Semantic {
    Hit(Arc<CachedResponse>),
    /// No hit; a probe when L2 applies to the request.
    Miss(Option<Probe>),
}

/// Looks the request up in L2. An embedder failure or timeout skips L2 (it is
/// counted) and the request goes on to the upstream.
pub async fn lookup(
    gw: &Gateway,
    policy: &CachePolicy,
    request: &ApiRequest,
    info: &mut RequestInfo,
) -> Semantic {
    let Some(l2) = &gw.l2 else {
        return Semantic::Miss(None);
    };
    let embedder = &l2.embedder;
    let Some((partition, text)) = partition_of(
        &policy.scope,
        embedder.id(),
        embedder.dim(),
        &request.fields,
    ) else {
        return Semantic::Miss(None);
    };
    let vector = match embedder.embed(&text).await {
        Ok(vector) => vector,
        Err(e) => {
            tracing::debug!(error = %e, "L2 skipped: embedding failed");
            gw.metrics.l2_lookup(None, "error");
            return Semantic::Miss(None);
        }
    };
    let probe = Probe {
        l2: Arc::clone(l2),
        partition,
        text,
        vector,
    };
    match l2.cache.lookup(
        &partition,
        &probe.text,
        &probe.vector,
        policy.semantic_threshold,
    ) {
        Lookup::Hit {
            response,
            similarity,
        } => {
            gw.metrics.l2_lookup(Some(similarity), "hit");
            info.cache = Some("hit-l2");
            info.similarity = Some(similarity);
            Semantic::Hit(response)
        }
        Lookup::Rejected { similarity, why } => {
            gw.metrics.l2_lookup(Some(similarity), "rejected");
            gw.metrics.l2_rejection(why.label());
            Semantic::Miss(Some(probe))
        }
        Lookup::Miss { best } => {
            gw.metrics.l2_lookup(best, "miss");
            Semantic::Miss(Some(probe))
        }
    }
}
