//! all-MiniLM-L6-v2 in process with candle: WordPiece tokens (no fixed padding,
//! at most the model's 256), BERT, mean pooling over the attention mask, L2
//! normalisation — the sentence-transformers recipe, but for a text longer than
//! 256 tokens, which is read as its first and last 127 ("head + tail") rather
//! than its first 254: a prompt that pastes a long text and asks about it at
//! the end keeps its question in its vector.

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use futures_util::future::BoxFuture;
use tokenizers::Tokenizer;

use super::backend::{Backend, EmbedError, MAX_TEXT_BYTES, cap, normalize};

/// The model's `max_seq_length` (the shipped tokenizer.json says 128).
const MAX_TOKENS: usize = 256;

pub struct LocalModel {
    model: BertModel,
    tokenizer: Tokenizer,
    /// `[CLS]` and `[SEP]`.
    cls: u32,
    sep: u32,
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
        // Special tokens, truncation and padding are done here (`tokens`).
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(load_error)?;
        let id = |token: &str| {
            tokenizer
                .token_to_id(token)
                .ok_or_else(|| load_error(format!("the tokenizer has no {token} token")))
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        let device = Device::Cpu;
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(load_error)?;
        let model = BertModel::load(vb, &config).map_err(load_error)?;
        Ok(Self {
            model,
            tokenizer,
            cls,
            sep,
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
        // Cut before tokenizing: the head and tail are taken after the whole
        // text is tokenized.
        let capped: Vec<&str> = texts.iter().map(|t| cap(t, MAX_TEXT_BYTES)).collect();
        let encodings = self.tokenizer.encode_batch(capped, false).map_err(failed)?;
        let rows: Vec<Vec<u32>> = encodings.iter().map(|e| self.tokens(e.get_ids())).collect();
        let len = rows.iter().map(Vec::len).max().unwrap_or(0);
        let n = rows.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for row in &rows {
            // `[PAD]` is 0, masked out.
            ids.extend(row.iter().copied().chain(std::iter::repeat(0)).take(len));
            mask.extend((0..len).map(|i| u32::from(i < row.len())));
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

impl LocalModel {
    /// `[CLS] text [SEP]`, the text's first and last `(MAX_TOKENS - 2) / 2`
    /// tokens when it has more than `MAX_TOKENS - 2`.
    fn tokens(&self, text: &[u32]) -> Vec<u32> {
        let body = MAX_TOKENS - 2;
        let mut row = Vec::with_capacity(text.len().min(body) + 2);
        row.push(self.cls);
        if text.len() > body {
            let head = body / 2;
            row.extend(&text[..head]);
            row.extend(&text[text.len() - (body - head)..]);
        } else {
            row.extend(text);
        }
        row.push(self.sep);
        row
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

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> LocalModel {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
        assert!(
            dir.join("model.safetensors").is_file(),
            "the base model is missing: run `bash scripts/fetch-model.sh`"
        );
        LocalModel::load(&dir).unwrap()
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn a_long_text_is_read_as_its_head_and_tail() {
        let model = model();
        let pasted = "Unused items can be sent back within thirty days of delivery. ".repeat(40);
        let texts: Vec<String> = [
            format!("{pasted}How do I start a return?"),
            format!("{pasted}Will my shipping costs be refunded?"),
            format!(
                "{}Exchanges are free. {}How do I start a return?",
                &pasted[..pasted.len() / 2],
                &pasted[pasted.len() / 2..]
            ),
            "How do I start a return?".to_string(),
        ]
        .into();
        let v = model.embed(&texts).unwrap();
        // The question after 400 tokens of pasted text is in the vector (with
        // the first 254 tokens alone both read as the same text, cosine 1).
        assert!(cosine(&v[0], &v[1]) < 0.99, "{}", cosine(&v[0], &v[1]));
        // What lies past the head and before the tail is not read.
        assert!(cosine(&v[0], &v[2]) > 0.999, "{}", cosine(&v[0], &v[2]));
        // A short text embeds the same alone as beside long ones (padding is
        // masked out).
        let alone = model.embed(&texts[3..]).unwrap();
        assert!(cosine(&alone[0], &v[3]) > 0.9999);
        let tokens = model.tokens(&[7; 300]);
        assert_eq!(tokens.len(), MAX_TOKENS);
        assert_eq!((tokens[0], tokens[MAX_TOKENS - 1]), (model.cls, model.sep));
    }
}
