//! The pair verifier (DESIGN.md §2): a cross-encoder that reads a cached
//! prompt and a new one together and says how likely one answer serves both.
//! It is all-MiniLM-L6-v2 — the base weights the embedder already uses —
//! fine-tuned with LoRA adapters, trained LayerNorms and a small head
//! (`tools/verifier/train.py`); only that adapter ships (`assets/verifier/`,
//! compiled in), merged into the base weights at start-up after both are
//! checked against the manifest's SHA-256s. Nothing is fetched at run time.
//!
//! The operator asks for a precision (`semantic.min_precision`), which the
//! manifest's calibration table — measured on the training's own validation
//! split — maps to a score cut-off. Scoring runs in batches on an
//! admission-controlled lane, like the embedder's.

mod calibration;
mod encode;
mod model;
mod spelling;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use futures_util::future::{BoxFuture, join_all};
use sha2::{Digest, Sha256};
use tokenizers::Tokenizer;
use tokio::time::Instant;

use crate::admission::{Lane, LaneLimits, Refused, Runner};
use crate::embedding::token_cost;
pub use calibration::{Manifest, Point, Reference};
pub use encode::{Encoder, MAX_PAIR_TOKENS, MAX_TEXT_BYTES, Pair, Reading, differing_sentences};
use model::Model;

/// The adapter and manifest this build ships.
const ADAPTER: &[u8] = include_bytes!("../assets/verifier/adapter.safetensors");
const MANIFEST: &[u8] = include_bytes!("../assets/verifier/verifier.json");

/// Why the verifier could not be built.
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error(
        "{what} does not match its SHA-256 in verifier.json (expected {expected}, found {found})"
    )]
    Checksum {
        what: &'static str,
        expected: String,
        found: String,
    },
    #[error("invalid verifier: {0}")]
    Invalid(String),
}

/// Where the adapter comes from: compiled in, or a directory holding
/// `adapter.safetensors` and `verifier.json` (a retrained one).
#[derive(Debug, Clone)]
pub enum Source<'a> {
    Shipped,
    Dir(&'a Path),
}

/// The model and its input encoding, for blocking use.
pub struct PairModel {
    model: Model,
    encoder: Encoder,
    pub manifest: Manifest,
}

fn read(path: &Path) -> Result<Vec<u8>, VerifierError> {
    std::fs::read(path).map_err(|e| VerifierError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn check(what: &'static str, bytes: &[u8], expected: &str) -> Result<(), VerifierError> {
    let found: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if found != expected {
        return Err(VerifierError::Checksum {
            what,
            expected: expected.to_string(),
            found,
        });
    }
    Ok(())
}

fn tensors(bytes: &[u8], what: &str) -> Result<HashMap<String, Tensor>, VerifierError> {
    candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| VerifierError::Invalid(format!("{what}: {e}")))
}

impl PairModel {
    /// Builds the verifier from the base model in `model_dir` and `source`.
    pub fn load(model_dir: &Path, source: &Source<'_>) -> Result<Self, VerifierError> {
        let (adapter, manifest) = match source {
            Source::Shipped => (ADAPTER.to_vec(), MANIFEST.to_vec()),
            Source::Dir(dir) => (
                read(&dir.join("adapter.safetensors"))?,
                read(&dir.join("verifier.json"))?,
            ),
        };
        let manifest = Manifest::parse(&manifest).map_err(VerifierError::Invalid)?;
        check("the verifier adapter", &adapter, &manifest.adapter_sha256)?;
        let base = read(&model_dir.join("model.safetensors"))?;
        check("the base model", &base, &manifest.base_sha256)?;
        let config: candle_transformers::models::bert::Config =
            serde_json::from_slice(&read(&model_dir.join("config.json"))?)
                .map_err(|e| VerifierError::Invalid(format!("config.json: {e}")))?;
        let tokenizer = Tokenizer::from_bytes(read(&model_dir.join("tokenizer.json"))?)
            .map_err(|e| VerifierError::Invalid(format!("tokenizer.json: {e}")))?;
        let encoder = Encoder::new(tokenizer).map_err(VerifierError::Invalid)?;
        let base = tensors(&base, "model.safetensors")?;
        let adapter = tensors(&adapter, "adapter.safetensors")?;
        let model = Model::new(base, &adapter, &config).map_err(VerifierError::Invalid)?;
        Ok(Self {
            model,
            encoder,
            manifest,
        })
    }

    /// Scores `(cached, new)` pairs in one batch (blocking): 1 for two texts
    /// the model reads as the same ([`Reading::Same`]), `None` for a pair it
    /// cannot read whole ([`Reading::Unreadable`]: never a hit).
    pub fn score(&self, pairs: &[(String, String)]) -> Result<Vec<Option<f32>>, String> {
        let mut encoded = Vec::with_capacity(pairs.len());
        let mut slots = Vec::with_capacity(pairs.len());
        for (a, b) in pairs {
            slots.push(match self.encoder.read(a, b)? {
                Reading::Pair(pair) => {
                    encoded.push(pair);
                    Slot::Model(encoded.len() - 1)
                }
                Reading::Same => Slot::Same,
                Reading::Unreadable => Slot::Unreadable,
            });
        }
        let scores = if encoded.is_empty() {
            Vec::new()
        } else {
            self.model.score(&encoded)?
        };
        Ok(slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Model(i) => scores.get(i).copied(),
                Slot::Same => Some(1.0),
                Slot::Unreadable => None,
            })
            .collect())
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// [`Encoder::same_but_for_slips`].
    pub fn same_but_for_slips(&self, a: &str, b: &str) -> bool {
        self.encoder.same_but_for_slips(a, b)
    }
}

/// Where a pair's score comes from.
enum Slot {
    Model(usize),
    Same,
    Unreadable,
}

struct Batches(Arc<PairModel>);

impl Runner<(String, String), Option<f32>> for Batches {
    fn run(&self, pairs: Vec<(String, String)>) -> BoxFuture<'_, Result<Vec<Option<f32>>, String>> {
        let model = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || model.score(&pairs))
                .await
                .map_err(|e| e.to_string())?
        })
    }
}

/// The verifier the gateway uses: the model behind an admission lane.
pub struct Verifier {
    lane: Lane<(String, String), Option<f32>>,
    model: Arc<PairModel>,
    manifest: Manifest,
}

impl Verifier {
    pub fn new(model: PairModel, limits: LaneLimits) -> Self {
        let manifest = model.manifest.clone();
        let model = Arc::new(model);
        Self {
            lane: Lane::new(Arc::new(Batches(Arc::clone(&model))), limits),
            model,
            manifest,
        }
    }

    /// A candidate below the prefilter that is the same prompt but for
    /// keyboard slips is read all the same ([`Encoder::same_but_for_slips`];
    /// tokenizes only when a slip is found).
    pub fn same_but_for_slips(&self, cached: &str, new: &str) -> bool {
        self.model.same_but_for_slips(cached, new)
    }

    /// The pair with its keyboard slips aligned ([`Encoder::aligned`]).
    pub fn aligned(&self, cached: &str, new: &str) -> Option<(String, String)> {
        self.model.encoder.aligned(cached, new)
    }

    /// Candidates need this cosine to be verified at all.
    pub fn prefilter(&self) -> f32 {
        self.manifest.prefilter
    }

    /// The score a pair needs for the wanted precision.
    pub fn cutoff(&self, min_precision: f64) -> f32 {
        self.manifest.cutoff(min_precision)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Scores `(cached, new)` pairs for `tenant` by `deadline`: all of them
    /// (`None` for a pair it cannot read whole), or a refusal (then L2 is
    /// skipped for the request).
    pub async fn score(
        &self,
        tenant: &str,
        pairs: Vec<(String, String)>,
        deadline: Instant,
    ) -> Result<Vec<Option<f32>>, Refused> {
        let jobs = pairs.into_iter().map(|(a, b)| {
            let cost = token_cost(encode::clip(&a)) + token_cost(encode::clip(&b));
            self.lane.submit(tenant, (a, b), cost, deadline)
        });
        join_all(jobs).await.into_iter().collect()
    }
}

#[cfg(test)]
mod tests;
