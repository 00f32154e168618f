//! The cross-encoder: the base BERT weights with the adapter merged in
//! (`W + B·A` for every adapted matrix; LayerNorms, token-type embeddings
//! replaced), a head over the mean of the token vectors, and a sigmoid.
//! Runs on the CPU with candle; call it off the async runtime.

use std::collections::HashMap;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config};

use super::encode::Pair;

/// The matrices the adapter adapts, below `encoder.layer.{i}.`.
pub const ADAPTED: [&str; 6] = [
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
];

pub struct Model {
    bert: BertModel,
    dense: Linear,
    out: Linear,
    device: Device,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// An adapter tensor in float32 (factors may be stored in float16: a
/// higher-rank adapter in the same file size).
fn wide(t: &Tensor) -> Result<Tensor, String> {
    t.to_dtype(DType::F32).map_err(err)
}

/// The base weights with the adapter applied: every `lora_a`/`lora_b` pair
/// merged into its matrix, every other adapter tensor (LayerNorms, token
/// types, biases) replacing its namesake.
pub fn merge(
    mut base: HashMap<String, Tensor>,
    adapter: &HashMap<String, Tensor>,
    layers: usize,
) -> Result<HashMap<String, Tensor>, String> {
    for layer in 0..layers {
        for name in ADAPTED {
            let prefix = format!("encoder.layer.{layer}.{name}");
            let get = |suffix: &str| {
                adapter
                    .get(&format!("{prefix}.{suffix}"))
                    .ok_or_else(|| format!("the adapter has no {prefix}.{suffix}"))
            };
            let (a, b) = (get("lora_a")?, get("lora_b")?);
            let key = format!("{prefix}.weight");
            let weight = base
                .get(&key)
                .ok_or_else(|| format!("the base model has no {key}"))?;
            let delta = wide(b)?.matmul(&wide(a)?).map_err(err)?;
            if delta.dims() != weight.dims() {
                return Err(format!(
                    "{prefix}: adapter shape {:?} does not fit",
                    delta.dims()
                ));
            }
            let merged = (weight + delta).map_err(err)?;
            base.insert(key, merged);
        }
    }
    for (name, tensor) in adapter {
        if name.ends_with(".lora_a") || name.ends_with(".lora_b") || name.starts_with("head.") {
            continue;
        }
        match base.get(name) {
            Some(old) if old.dims() == tensor.dims() => {
                base.insert(name.clone(), wide(tensor)?);
            }
            _ => return Err(format!("the adapter's {name} has no matching base tensor")),
        }
    }
    Ok(base)
}

impl Model {
    pub fn new(
        weights: HashMap<String, Tensor>,
        adapter: &HashMap<String, Tensor>,
        config: &Config,
    ) -> Result<Self, String> {
        let device = Device::Cpu;
        let merged = merge(weights, adapter, config.num_hidden_layers)?;
        let vb = VarBuilder::from_tensors(merged, DType::F32, &device);
        let bert = BertModel::load(vb, config).map_err(err)?;
        let linear = |name: &str| {
            let weight = adapter
                .get(&format!("head.{name}.weight"))
                .ok_or_else(|| format!("the adapter has no head.{name}.weight"))?;
            let bias = adapter
                .get(&format!("head.{name}.bias"))
                .map(wide)
                .transpose()?;
            Ok::<_, String>(Linear::new(wide(weight)?, bias))
        };
        Ok(Self {
            bert,
            dense: linear("dense")?,
            out: linear("out")?,
            device,
        })
    }

    /// The probability that one answer serves both texts of each pair.
    pub fn score(&self, pairs: &[Pair]) -> Result<Vec<f32>, String> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let len = pairs.iter().map(|p| p.ids.len()).max().unwrap_or(0);
        let n = pairs.len();
        let (mut ids, mut types, mut mask) = (
            Vec::with_capacity(n * len),
            Vec::with_capacity(n * len),
            Vec::with_capacity(n * len),
        );
        for p in pairs {
            let pad = len - p.ids.len();
            ids.extend(p.ids.iter().copied().chain(std::iter::repeat_n(0, pad)));
            types.extend(p.types.iter().copied().chain(std::iter::repeat_n(0, pad)));
            mask.extend(std::iter::repeat_n(1u32, p.ids.len()).chain(std::iter::repeat_n(0, pad)));
        }
        let tensor = |v: Vec<u32>| Tensor::from_vec(v, (n, len), &self.device).map_err(err);
        let (ids, types, mask) = (tensor(ids)?, tensor(types)?, tensor(mask)?);
        let hidden = self.bert.forward(&ids, &types, Some(&mask)).map_err(err)?;
        let mask = mask
            .to_dtype(DType::F32)
            .map_err(err)?
            .unsqueeze(2)
            .map_err(err)?;
        let summed = hidden
            .broadcast_mul(&mask)
            .map_err(err)?
            .sum(1)
            .map_err(err)?;
        let counts = mask
            .sum(1)
            .map_err(err)?
            .clamp(1e-9, f64::MAX)
            .map_err(err)?;
        let pooled = summed.broadcast_div(&counts).map_err(err)?;
        let h = self
            .dense
            .forward(&pooled)
            .map_err(err)?
            .tanh()
            .map_err(err)?;
        let logits = self.out.forward(&h).map_err(err)?.squeeze(1).map_err(err)?;
        let probs = candle_nn::ops::sigmoid(&logits).map_err(err)?;
        probs.to_vec1::<f32>().map_err(err)
    }
}
