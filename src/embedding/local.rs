//! all-MiniLM-L6-v2 in process with candle: WordPiece tokens (no fixed padding,
//! truncation at the model's 256), BERT, mean pooling over the attention mask,
//! L2 normalisation — the sentence-transformers recipe.

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use futures_util::future::BoxFuture;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::backend::{Backend, EmbedError, MAX_TEXT_BYTES, cap, normalize};

/// The model's `max_seq_length` (the shipped tokenizer.json says 128).
const MAX_TOKENS: usize = 256;

pub struct LocalModel {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
}

fn load_error(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Load(e.to_string())
}

fn failed(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Failed(e.to_string())
}

impl LocalModel {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| {
                EmbedError::Load(format!(
                    "{}: {e} (fetch it with `bash scripts/fetch-model.sh`)",
                    dir.join(name).display()
                ))
            })
        };
        let config: Config = serde_json::from_slice(&read("config.json")?).map_err(load_error)?;
        let dim = config.hidden_size;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?).map_err(load_error)?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(load_error)?;
        let device = Device::Cpu;
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(load_error)?;
        let model = BertModel::load(vb, &config).map_err(load_error)?;
        Ok(Self {
            model,
            tokenizer,
            device,
            dim,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Embeds a batch synchronously (call it off the async runtime).
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // Cut before tokenizing: the tokenizer's own truncation comes after
        // it has tokenized the whole text.
        let capped: Vec<&str> = texts.iter().map(|t| cap(t, MAX_TEXT_BYTES)).collect();
        let encodings = self.tokenizer.encode_batch(capped, true).map_err(failed)?;
        let len = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0);
        let n = encodings.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend(e.get_ids().iter().copied());
            mask.extend(e.get_attention_mask().iter().copied());
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device).map_err(failed)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device).map_err(failed)?;
        let types = ids.zeros_like().map_err(failed)?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(failed)?;
        let pooled = mean_pool(&hidden, &mask).map_err(failed)?;
        let mut rows: Vec<Vec<f32>> = pooled.to_vec2().map_err(failed)?;
        rows.iter_mut().for_each(|r| normalize(r));
        Ok(rows)
    }
}

/// Mean of the token vectors where the mask is 1: `[n, len, d]` → `[n, d]`.
fn mean_pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    summed.broadcast_div(&counts)
}

impl Backend for Arc<LocalModel> {
    fn embed_batch(&self, texts: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, EmbedError>> {
        let model = Arc::clone(self);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || model.embed(&texts))
                .await
                .map_err(|e| EmbedError::Failed(e.to_string()))?
        })
    }
}
