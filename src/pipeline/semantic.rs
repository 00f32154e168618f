//! The L2 step of the cache stage: embed the last user message, search its
//! partition, and either answer from a verified near-duplicate — fetching the
//! answer from Redis when another node filled it — or carry the probe along
//! so the answer can be stored (and shared with the cluster) afterwards.

use std::sync::Arc;

use crate::access::RequestInfo;
use crate::cache::{CachePolicy, CachedResponse};
use crate::cluster::Cluster;
use crate::semantic::{Answer, L2, Lookup, NewEntry, PartitionKey, partition_of};
use crate::server::Gateway;

use super::ApiRequest;

/// What a miss needs to be stored in L2 later.
#[derive(Clone)]
pub struct Probe {
    l2: Arc<L2>,
    cluster: Arc<Cluster>,
    scope: String,
    partition: PartitionKey,
    text: String,
    vector: Arc<[f32]>,
}

impl Probe {
    /// Stores `entry` as the answer to this probe's prompt and publishes it
    /// to the other nodes.
    pub fn store(self, entry: Arc<CachedResponse>) {
        let new = NewEntry::local(&self.scope, self.partition, self.text, self.vector, entry);
        if self.l2.cache.insert(new.clone()) {
            self.cluster.publish(&new);
        }
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
        cluster: Arc::clone(&gw.cluster),
        scope: policy.scope.clone(),
        partition,
        text,
        vector,
    };
    let threshold = policy.semantic_threshold;
    match l2
        .cache
        .lookup(&partition, &probe.text, &probe.vector, threshold)
    {
        Lookup::Hit { answer, similarity } => {
            match answer_of(gw, l2, answer, &policy.scope).await {
                Some(response) => {
                    gw.metrics.l2_lookup(Some(similarity), "hit");
                    info.cache = Some("hit-l2");
                    info.similarity = Some(similarity);
                    Semantic::Hit(response)
                }
                None => {
                    gw.metrics.l2_lookup(Some(similarity), "error");
                    Semantic::Miss(Some(probe))
                }
            }
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

/// The hit's answer: in memory, or fetched from Redis (and kept) when another
/// node filled it. An answer gone from Redis drops the entry: a miss.
async fn answer_of(
    gw: &Gateway,
    l2: &L2,
    answer: Answer,
    scope: &str,
) -> Option<Arc<CachedResponse>> {
    match answer {
        Answer::Local(response) => Some(response),
        Answer::Remote(id) => match gw.cluster.fetch(&id, scope).await {
            Some(response) => {
                l2.cache.attach(&id, Arc::clone(&response));
                Some(response)
            }
            None => {
                l2.cache.forget(&id);
                None
            }
        },
    }
}
