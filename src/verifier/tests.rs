use std::path::PathBuf;

use super::encode::clip;
use super::model::merge;
use super::*;

fn model_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "the base model is missing: run `bash scripts/fetch-model.sh`"
    );
    dir
}

fn encoder() -> Encoder {
    let tokenizer = Tokenizer::from_file(model_dir().join("tokenizer.json")).unwrap();
    Encoder::new(tokenizer).unwrap()
}

#[test]
fn a_pair_is_cls_a_sep_b_sep_with_token_types_zero_then_one() {
    let pair = encoder().pair("hello world", "good morning").unwrap();
    // [CLS] hello world [SEP] good morning [SEP]
    assert_eq!(pair.ids, vec![101, 7592, 2088, 102, 2204, 2851, 102]);
    assert_eq!(pair.types, vec![0, 0, 0, 0, 1, 1, 1]);
}

#[test]
fn long_texts_are_cut_before_tokenizing_and_the_longer_side_trimmed() {
    let enc = encoder();
    let huge = "word ".repeat(200_000);
    let started = std::time::Instant::now();
    let pair = enc.pair(&huge, "a short question?").unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(pair.ids.len(), MAX_PAIR_TOKENS);
    // The short side is kept whole: "a short question?" is 4 tokens.
    let second: Vec<_> = pair.types.iter().filter(|t| **t == 1).collect();
    assert_eq!(second.len(), 4 + 1);
    assert_eq!(clip(&huge).len(), MAX_TEXT_BYTES);
}

#[test]
fn merging_adds_b_times_a_and_replaces_other_tensors() {
    // Factors stored in float16 (full_tune.py's higher-rank adapters) are
    // widened; a bias in the adapter replaces the base's.
    let dev = Device::Cpu;
    let t = |v: Vec<f32>, shape: (usize, usize)| Tensor::from_vec(v, shape, &dev).unwrap();
    let mut base = HashMap::new();
    let mut adapter = HashMap::new();
    for name in model::ADAPTED {
        let p = format!("encoder.layer.0.{name}");
        base.insert(format!("{p}.weight"), t(vec![1.0, 2.0, 3.0, 4.0], (2, 2)));
        let half = |v: Tensor| v.to_dtype(candle_core::DType::F16).unwrap();
        adapter.insert(format!("{p}.lora_a"), half(t(vec![1.0, 1.0], (1, 2))));
        adapter.insert(format!("{p}.lora_b"), half(t(vec![0.5, -1.0], (2, 1))));
        base.insert(format!("{p}.bias"), t(vec![0.0, 0.0], (1, 2)));
    }
    base.insert(
        "embeddings.LayerNorm.weight".into(),
        t(vec![1.0, 1.0], (1, 2)),
    );
    adapter.insert(
        "embeddings.LayerNorm.weight".into(),
        t(vec![2.0, 3.0], (1, 2)),
    );
    adapter.insert(
        "encoder.layer.0.output.dense.bias".into(),
        t(vec![0.25, -0.25], (1, 2)),
    );
    adapter.insert("head.dense.weight".into(), t(vec![9.0; 4], (2, 2)));
    let merged = merge(base, &adapter, 1).unwrap();
    let w: Vec<Vec<f32>> = merged["encoder.layer.0.attention.self.query.weight"]
        .to_vec2()
        .unwrap();
    assert_eq!(w, vec![vec![1.5, 2.5], vec![2.0, 3.0]]);
    let ln: Vec<Vec<f32>> = merged["embeddings.LayerNorm.weight"].to_vec2().unwrap();
    assert_eq!(ln, vec![vec![2.0, 3.0]]);
    let bias: Vec<Vec<f32>> = merged["encoder.layer.0.output.dense.bias"]
        .to_vec2()
        .unwrap();
    assert_eq!(bias, vec![vec![0.25, -0.25]]);
    let kept: Vec<Vec<f32>> = merged["encoder.layer.0.intermediate.dense.bias"]
        .to_vec2()
        .unwrap();
    assert_eq!(kept, vec![vec![0.0, 0.0]]);
    assert_eq!(
        merged["encoder.layer.0.output.dense.weight"].dtype(),
        candle_core::DType::F32
    );
    assert!(!merged.contains_key("head.dense.weight"));
}

#[test]
fn base_plus_adapter_reproduces_the_reference_scores_of_training() {
    let model = PairModel::load(&model_dir(), &Source::Shipped).unwrap();
    let refs = model.manifest.reference.clone();
    assert!(!refs.is_empty(), "verifier.json has reference pairs");
    let pairs: Vec<_> = refs.iter().map(|r| (r.a.clone(), r.b.clone())).collect();
    let batched = model.score(&pairs).unwrap();
    for (r, got) in refs.iter().zip(&batched) {
        assert!(
            (got - r.score).abs() < 1e-4,
            "{} | {}: {got} vs {}",
            r.a,
            r.b,
            r.score
        );
    }
    // One at a time (no padding) gives the same.
    for (pair, want) in pairs.iter().zip(&batched) {
        let alone = model.score(std::slice::from_ref(pair)).unwrap()[0];
        assert!((alone - want).abs() < 1e-4);
    }
}

#[test]
fn a_corrupt_or_missing_adapter_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = PairModel::load(&model_dir(), &Source::Dir(dir.path()));
    assert!(matches!(missing, Err(VerifierError::Read { .. })));
    let mut bytes = ADAPTER.to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(dir.path().join("adapter.safetensors"), &bytes).unwrap();
    std::fs::write(dir.path().join("verifier.json"), MANIFEST).unwrap();
    let corrupt = PairModel::load(&model_dir(), &Source::Dir(dir.path()));
    match corrupt {
        Err(e @ VerifierError::Checksum { .. }) => {
            assert!(e.to_string().contains("adapter"), "{e}")
        }
        Err(e) => panic!("expected a checksum error, got {e}"),
        Ok(_) => panic!("a corrupt adapter loaded"),
    }
}

#[test]
fn the_shipped_adapter_fits_the_8_mb_budget() {
    // Issue 10: only what is new ships, in a file of at most 8 MB.
    assert!(ADAPTER.len() <= 8_000_000, "{} bytes", ADAPTER.len());
    let adapter = candle_core::safetensors::load_buffer(ADAPTER, &Device::Cpu).unwrap();
    assert!(adapter.keys().any(|k| k.ends_with(".lora_a")));
}
