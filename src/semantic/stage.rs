//! The L2 stage of the pipeline: embed the last user message, search its
//! partition, decide among the closest candidates (the pair verifier, rules,
//! or cosine alone), and either answer from the chosen near-duplicate —
//! fetching the answer from a peer node when another node filled it — or hand
//! back a probe, so the upstream's answer can be stored (and shared with the
//! cluster) afterwards. The stage has one budget for embedding and verifying:
//! when either cannot be done in time, L2 is skipped for the request.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use tokio::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

use super::decide::{Ask, Decision, Judge, raise_reread};
use super::entry::{Answer, Candidate, NewEntry};
use super::keys::{EntryId, PartitionKey, partition_of};
use super::store::SemanticCache;
use crate::cache::CachedResponse;
use crate::embedding::Embedder;
use crate::index::similarity;
use crate::metrics::Metrics;
use crate::verifier::MAX_TEXT_BYTES;

/// The other nodes of the cluster, as L2 needs them (implemented by the
/// cluster stage, so L2 does not depend on how nodes talk).
pub trait Peers: Send + Sync {
    /// Shares a node's own fill with every other node.
    fn publish(&self, entry: &NewEntry);
    /// The answer of an entry another node filled.
    fn fetch<'a>(&'a self, id: &'a EntryId, scope: &'a str) -> BoxFuture<'a, Fetched>;
}

/// What asking the peers for an entry's answer found.
pub enum Fetched {
    Answer(Arc<CachedResponse>),
    /// Redis answered that it is gone (expired, purged, or lost with Redis's
    /// data): the entry can be dropped.
    Gone,
    /// Redis did not answer (down, frozen, timed out): a miss this time; the
    /// entry stays, or a Redis blip would erase what the node knows.
    Unavailable,
}

/// The L2 stage: the embedder, the semantic store and how hits are decided.
pub struct L2 {
    pub embedder: Embedder,
    pub cache: SemanticCache,
    judge: Judge,
    /// Candidates read per look-up.
    candidates: usize,
    /// Budget of the whole stage (embedding and verification).
    budget: Duration,
    metrics: Arc<Metrics>,
}

/// What a request asks of L2.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub tenant: &'a str,
    pub scope: &'a str,
    /// Cosine a hit needs in `rules` and `off` modes.
    pub threshold: f32,
    /// A cosine floor the request raised to, on top of the prefilter.
    pub raised: Option<f32>,
    /// Precision wanted of the verifier's decision.
    pub min_precision: f64,
}

/// What an L2 look-up found.
pub enum L2Lookup {
    Hit {
        answer: Arc<CachedResponse>,
        similarity: f32,
        /// The verifier's score, when it decided.
        score: Option<f32>,
    },
    /// No hit; a probe when L2 applies to the request.
    Miss(Option<Probe>),
}

/// What a miss needs to be stored in L2 later.
pub struct Probe {
    l2: Arc<L2>,
    peers: Arc<dyn Peers>,
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
            self.peers.publish(&new);
        }
    }
}

impl L2 {
    pub fn new(
        embedder: Embedder,
        cache: SemanticCache,
        judge: Judge,
        budget: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            embedder,
            cache,
            judge,
            candidates: 3,
            budget,
            metrics,
        }
    }

    /// Reads `candidates` candidates per look-up.
    pub fn with_candidates(mut self, candidates: usize) -> Self {
        self.candidates = candidates.max(1);
        self
    }

    /// Which decision this stage makes: `model`, `rules` or `off`.
    pub fn mode(&self) -> &'static str {
        self.judge.mode()
    }

    /// Looks a chat request up. When the embedder or the verifier cannot
    /// answer within the stage's budget, L2 is skipped (and counted) and the
    /// request goes on to the upstream.
    pub async fn lookup(
        self: &Arc<Self>,
        peers: &Arc<dyn Peers>,
        query: &Query<'_>,
        fields: &Map<String, Value>,
    ) -> L2Lookup {
        let embedder = &self.embedder;
        let Some((partition, text)) =
            partition_of(query.scope, embedder.id(), embedder.dim(), fields)
        else {
            return L2Lookup::Miss(None);
        };
        if text.len() > MAX_TEXT_BYTES {
            // An entry keeps its prompt's first MAX_TEXT_BYTES, which is all
            // the verifier and the guards read: a longer prompt could only be
            // matched on part of it, so L2 neither answers nor stores it (L1
            // still answers its exact repeats).
            self.metrics.l2_lookup(None, "skipped");
            self.metrics.l2_skipped("prompt", "too_long");
            return L2Lookup::Miss(None);
        }
        let deadline = Instant::now() + self.budget;
        let embedded =
            embedder
                .embed(query.tenant, &text, deadline)
                .instrument(crate::stage_span!(
                    "embed",
                    gateway.embedder = embedder.id()
                ));
        let vector = match embedded.await {
            Ok(vector) => vector,
            Err(e) => {
                tracing::debug!(error = %e, "L2 skipped: no embedding");
                let result = if e.label() == "error" {
                    "error"
                } else {
                    "skipped"
                };
                self.metrics.l2_lookup(None, result);
                self.metrics.l2_skipped("embedding", e.label());
                return L2Lookup::Miss(None);
            }
        };
        let candidates = {
            let span = crate::stage_span!("l2.search", gateway.l2.candidates = Empty);
            let _entered = span.enter();
            let candidates = self.cache.candidates(&partition, &vector, self.candidates);
            span.record("gateway.l2.candidates", candidates.len());
            candidates
        };
        let candidates = self
            .reread_slips(query.tenant, query.raised, &text, candidates, deadline)
            .await;
        let probe = Probe {
            l2: Arc::clone(self),
            peers: Arc::clone(peers),
            scope: query.scope.to_string(),
            partition,
            text,
            vector,
        };
        let ask = Ask {
            tenant: query.tenant,
            threshold: query.threshold,
            raised: query.raised,
            min_precision: query.min_precision,
            deadline,
        };
        let verify = crate::stage_span!("l2.verify", gateway.l2.mode = self.judge.mode());
        let (decision, read) = self
            .judge
            .decide(candidates, &probe.text, &ask)
            .instrument(verify)
            .await;
        self.metrics.l2_verifier_pairs(read);
        self.conclude(peers, decision, query.scope, probe).await
    }

    /// In `model` mode, a candidate below the verifier's prefilter whose pair
    /// has keyboard slips ([`Judge::slipped`]) gets the cosine of the pair as
    /// the verifier reads it — the two texts with the slips aligned, embedded
    /// again — when that is higher ([`raise_reread`]). Two more embeddings (the
    /// embedder's cache, lane and deadline), only for such candidates; none
    /// when the request raised its own cosine floor. A refused embedding
    /// leaves the candidate as it was.
    async fn reread_slips(
        &self,
        tenant: &str,
        raised: Option<f32>,
        text: &str,
        mut candidates: Vec<Candidate>,
        deadline: Instant,
    ) -> Vec<Candidate> {
        let slipped = self.judge.slipped(&candidates, text, raised);
        let mut reread = Vec::with_capacity(slipped.len());
        for (position, (cached, new)) in slipped {
            let (a, b) = tokio::join!(
                self.embedder.embed(tenant, &cached, deadline),
                self.embedder.embed(tenant, &new, deadline)
            );
            if let (Ok(a), Ok(b)) = (a, b) {
                reread.push((position, similarity(&a, &b)));
            }
        }
        raise_reread(&mut candidates, reread);
        candidates
    }

    /// Turns the decision into a hit (its answer fetched when a peer holds
    /// it) or a miss with the probe, counted either way.
    async fn conclude(
        &self,
        peers: &Arc<dyn Peers>,
        decision: Decision,
        scope: &str,
        probe: Probe,
    ) -> L2Lookup {
        let (candidate, score) = match decision {
            Decision::Hit { candidate, score } => (candidate, score),
            Decision::Rejected { similarity, why } => {
                self.metrics.l2_lookup(Some(similarity), "rejected");
                self.metrics.l2_rejection(why);
                return L2Lookup::Miss(Some(probe));
            }
            Decision::Miss { best } => {
                self.metrics.l2_lookup(best, "miss");
                return L2Lookup::Miss(Some(probe));
            }
            Decision::Skipped(refused) => {
                self.metrics.l2_lookup(None, "skipped");
                self.metrics.l2_skipped("verifier", refused.label());
                return L2Lookup::Miss(Some(probe));
            }
        };
        let similarity = candidate.similarity;
        let Some(answer) = self.answer_of(peers, candidate.answer, scope).await else {
            self.metrics.l2_lookup(Some(similarity), "error");
            return L2Lookup::Miss(Some(probe));
        };
        self.metrics.l2_lookup(Some(similarity), "hit");
        if let Some(score) = score {
            self.metrics.l2_verifier_score(score);
        }
        L2Lookup::Hit {
            answer,
            similarity,
            score,
        }
    }

    /// The hit's answer: in memory, or fetched from a peer's fill in Redis
    /// (and kept). An answer gone from Redis drops the entry: a miss; one
    /// Redis cannot give now is a miss that keeps the entry.
    async fn answer_of(
        &self,
        peers: &Arc<dyn Peers>,
        answer: Answer,
        scope: &str,
    ) -> Option<Arc<CachedResponse>> {
        match answer {
            Answer::Local(response) => Some(response),
            Answer::Remote(id) => match peers.fetch(&id, scope).await {
                Fetched::Answer(response) => {
                    self.cache.attach(&id, Arc::clone(&response));
                    Some(response)
                }
                Fetched::Gone => {
                    self.cache.forget(&id);
                    None
                }
                Fetched::Unavailable => None,
            },
        }
    }
}
