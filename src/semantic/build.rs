//! Building the L2 stage from the configuration: the embedder (remote or
//! the local model), its admission lane, and how hits are decided — the pair
//! verifier loaded and checked, or the rules.

use std::sync::Arc;
use std::time::Duration;

use super::decide::Judge;
use super::stage::L2;
use super::store::SemanticCache;
use super::verify::Guards;
use crate::admission::LaneLimits;
use crate::cache::Purges;
use crate::config::{Config, EmbedderKind, EmbeddingConfig, VerifierMode};
use crate::embedding::{Backend, Embedder, LocalModel, RemoteEmbedder};
use crate::metrics::Metrics;
use crate::verifier::{PairModel, Source, Verifier, VerifierError};

impl L2 {
    /// Builds the stage the configuration asks for: `None` (with a log line)
    /// when L2 is off or no embedder is available; an error when the
    /// verifier is asked for but broken (a corrupt or mismatched adapter).
    pub fn from_config(
        config: &Config,
        purges: Arc<Purges>,
        metrics: Arc<Metrics>,
    ) -> Result<Option<Self>, VerifierError> {
        if !config.semantic.enabled {
            return Ok(None);
        }
        let e = &config.embedding;
        let budget = Duration::from_millis(e.timeout_ms);
        let Some((id, dim, backend)) = backend(e, budget) else {
            return Ok(None);
        };
        let judge = judge(config)?;
        tracing::info!(embedder = %id, dim, decision = judge.mode(), "semantic cache on");
        let embedder = Embedder::new(id, dim, backend, embedding_lane(e), Arc::clone(&metrics));
        let cache = SemanticCache::new(config.semantic.clone(), purges, Arc::clone(&metrics));
        let l2 = Self::new(embedder, cache, judge, budget, metrics);
        Ok(Some(l2.with_candidates(config.semantic.candidates)))
    }
}

/// The embedder's lane: batches of `max_batch` texts and at most 1024 tokens
/// (a batch of four 256-token texts: a short job never waits behind more),
/// `max_queued_tokens` queued.
fn embedding_lane(e: &EmbeddingConfig) -> LaneLimits {
    LaneLimits {
        max_batch: e.max_batch,
        max_batch_cost: 1024,
        max_queued_cost: e.max_queued_tokens,
        initial_rate: 4000.0,
    }
}

/// How hits are decided: the configured mode; for `model` the verifier is
/// loaded and checked (or, with a warning, `rules` when the base model is
/// not on this node, e.g. with a remote embedder).
fn judge(config: &Config) -> Result<Judge, VerifierError> {
    let s = &config.semantic;
    let rules = || {
        Judge::Rules(if s.verify {
            Guards::default()
        } else {
            Guards::none()
        })
    };
    match s.verifier {
        VerifierMode::Off => return Ok(Judge::Off),
        VerifierMode::Rules => return Ok(rules()),
        VerifierMode::Model => {}
    }
    let model_dir = &config.embedding.model_dir;
    if !model_dir.join("model.safetensors").is_file() {
        tracing::warn!(
            model_dir = %model_dir.display(),
            "the pair verifier needs the local base model: deciding L2 hits by rules"
        );
        return Ok(rules());
    }
    let source = match &s.verifier_dir {
        Some(dir) => Source::Dir(dir),
        None => Source::Shipped,
    };
    let model = PairModel::load(model_dir, &source)?;
    let lane = LaneLimits {
        max_batch: 16,
        max_batch_cost: 2048,
        max_queued_cost: config.embedding.max_queued_tokens,
        initial_rate: 3000.0,
    };
    Ok(Judge::Model {
        verifier: Arc::new(Verifier::new(model, lane)),
        vetoes: Guards::only(&s.vetoes),
    })
}

/// The embedder backend the configuration names (or, for `auto`, a remote
/// URL first, then the local model): its id, dimension and backend.
fn backend(e: &EmbeddingConfig, timeout: Duration) -> Option<(String, usize, Arc<dyn Backend>)> {
    let local_present = e.model_dir.join("model.safetensors").is_file();
    let kind = match e.kind {
        EmbedderKind::Auto if e.url.is_some() => EmbedderKind::Remote,
        EmbedderKind::Auto if local_present => EmbedderKind::Local,
        EmbedderKind::Auto => {
            tracing::warn!(
                model_dir = %e.model_dir.display(),
                "semantic cache off: no EMBEDDING_URL and no local model (bash scripts/fetch-model.sh)"
            );
            return None;
        }
        other => other,
    };
    match kind {
        EmbedderKind::Local => match LocalModel::load(&e.model_dir) {
            Ok(model) => {
                let dim = model.dim();
                Some((
                    "local:all-MiniLM-L6-v2".into(),
                    dim,
                    Arc::new(Arc::new(model)),
                ))
            }
            Err(err) => {
                tracing::error!(error = %err, "semantic cache off: the local model did not load");
                None
            }
        },
        EmbedderKind::Remote => {
            let url = e.url.clone()?;
            let model = e
                .model
                .clone()
                .unwrap_or_else(|| "text-embedding-3-small".into());
            match RemoteEmbedder::new(&url, e.api_key.clone(), model.clone(), timeout) {
                Ok(remote) => Some((format!("remote:{model}"), e.dimensions, Arc::new(remote))),
                Err(err) => {
                    tracing::error!(error = %err, "semantic cache off: remote embedder");
                    None
                }
            }
        }
        EmbedderKind::Auto | EmbedderKind::Off => None,
    }
}
