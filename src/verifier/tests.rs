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

fn read(enc: &Encoder, a: &str, b: &str) -> Pair {
    match enc.read(a, b).unwrap() {
        Reading::Pair(pair) => pair,
        other => panic!("{a:?} / {b:?} read as {other:?}"),
    }
}

#[test]
fn a_pair_is_cls_a_sep_b_sep_with_token_types_zero_then_one() {
    let pair = read(&encoder(), "hello world", "good morning");
    // [CLS] hello world [SEP] good morning [SEP]
    assert_eq!(pair.ids, vec![101, 7592, 2088, 102, 2204, 2851, 102]);
    assert_eq!(pair.types, vec![0, 0, 0, 0, 1, 1, 1]);
}

#[test]
fn texts_that_tokenize_alike_are_the_same_prompt() {
    let enc = encoder();
    for (a, b) in [
        // The model scored this pair 0.002 (uncased: the same tokens).
        (
            "Convert this function to TypeScript.",
            "convert this function to typescript.",
        ),
        (
            "What index would speed up this query?",
            "what index would speed up this query",
        ),
        (
            "How do I import from China to Ghana?",
            "how do i import from china to ghana ?",
        ),
        ("Really?!", "really"),
    ] {
        assert_eq!(enc.read(a, b).unwrap(), Reading::Same, "{a} / {b}");
    }
    // Other terminal punctuation on both sides, another word, or one more
    // word: the model reads them.
    for (a, b) in [
        ("You are leaving.", "You are leaving?"),
        (
            "Convert this function to TypeScript.",
            "Convert this function to JavaScript.",
        ),
        ("Is it safe?", "Is it safe now?"),
    ] {
        read(&enc, a, b);
    }
}

#[test]
fn a_text_longer_than_the_bound_is_not_read_and_never_tokenized_whole() {
    let enc = encoder();
    let huge = "word ".repeat(200_000);
    let started = std::time::Instant::now();
    assert_eq!(
        enc.read(&huge, "a short question?").unwrap(),
        Reading::Unreadable
    );
    assert_eq!(
        enc.read("a short question?", &huge).unwrap(),
        Reading::Unreadable
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Cut before tokenizing (the admission cost reads no further either).
    assert_eq!(clip(&huge).len(), MAX_TEXT_BYTES);
}

#[test]
fn a_long_pair_is_read_where_the_texts_differ() {
    let enc = encoder();
    let tokenizer = Tokenizer::from_file(model_dir().join("tokenizer.json")).unwrap();
    let text = |ids: &[u32]| tokenizer.decode(ids, true).unwrap();
    let policy = "Unused items can be sent back within thirty days of delivery with the receipt. \
                  Refunds go to the original payment method.\n"
        .repeat(8);
    // A question after a pasted text: the two questions are read (until stop
    // 37 both sides read as the same stretch of the policy).
    let a = format!("{policy}\nHow do I start a return?");
    let b = format!("{policy}\nWill shipping be refunded?");
    assert!(enc.read(&a, &format!("{a} ")).unwrap() == Reading::Same);
    let pair = read(&enc, &a, &b);
    assert_eq!(
        text(&pair.ids),
        "how do i start a return? will shipping be refunded?"
    );
    // A question before it.
    let pair = read(
        &enc,
        &format!("Summarise this policy.\n{policy}"),
        &format!("Translate this policy into French.\n{policy}"),
    );
    assert_eq!(
        text(&pair.ids),
        "summarise this policy. translate this policy into french."
    );
    // A change inside the pasted text: its sentence in both versions.
    let changed =
        format!("{policy}Exchanges are free of charge.\n{policy}\nHow will I be refunded?");
    let other = changed.replace("are free of charge", "cost five dollars");
    let pair = read(&enc, &changed, &other);
    assert_eq!(
        text(&pair.ids),
        "exchanges are free of charge. exchanges cost five dollars."
    );
    // Nothing in common: the difference is the whole of both.
    let one = "Summarise this report about the harbour. ".repeat(30);
    let two = "Translate this letter from my landlord. ".repeat(30);
    assert_eq!(enc.read(&one, &two).unwrap(), Reading::Unreadable);
    // A pair that fits is read whole, as the training read it.
    let short = read(
        &enc,
        "Intro. How do I start a return?",
        "Intro. Will shipping be refunded?",
    );
    assert_eq!(
        text(&short.ids),
        "intro. how do i start a return? intro. will shipping be refunded?"
    );
}

#[test]
fn differing_sentences_keep_whole_sentences_and_lines() {
    let ds = |a, b| differing_sentences(a, b);
    assert_eq!(ds("A b. C d? E f.", "A b. C x? E f."), ("C d?", "C x?"));
    // The difference at a sentence's start or end, across lines, one text a
    // prefix of the other, identical texts (their last sentence).
    assert_eq!(ds("One. Two.\nThree", "One. Two.\nFour"), ("Three", "Four"));
    assert_eq!(
        ds("x = 1\ny = 2\nz = 3", "x = 1\ny = 5\nz = 3"),
        ("y = 2", "y = 5")
    );
    assert_eq!(
        ds("Keep. Ask this", "Keep. Ask this too"),
        ("Ask this", "Ask this too")
    );
    assert_eq!(ds("Same. Text.", "Same. Text."), ("Text.", "Text."));
    // Multi-byte characters on either side of the difference.
    assert_eq!(ds("Café é. Olé à", "Café é. Olé ò"), ("Olé à", "Olé ò"));
    assert_eq!(ds("ünï. ä", "ünï. ö"), ("ä", "ö"));
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
        let got = got.expect("a reference pair is read");
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
        assert!((alone.unwrap() - want.unwrap()).abs() < 1e-4);
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

#[test]
fn a_keyboard_slip_is_one_of_four_edits_never_the_first_letter() {
    use super::spelling::slip;
    for (x, y) in [
        ("string", "stirng"),     // neighbours transposed
        ("chicago", "chicgo"),    // a letter left out in the middle
        ("account", "acount"),    // a doubled letter left out
        ("juliet", "juliett"),    // a doubled last letter
        ("calories", "calroies"), // transposed
        ("facebook", "facebok"),
        ("summarize", "summarise"), // s is next to z
        ("shower", "shiwer"),       // o -> i: neighbours
    ] {
        assert!(slip(x, y) && slip(y, x), "{x} / {y}");
    }
    for (x, y) in [
        ("react", "preact"),        // first letter
        ("typical", "atypical"),    // first letter
        ("json", "jsonb"),          // a letter added at the end
        ("autumn", "autum"),        // a last letter left out (plurals look alike)
        ("abduction", "adduction"), // b and d are not neighbours
        ("butane", "butene"),
        ("benefits", "benifits"),
        ("string", "string"),
        ("recommend", "reccomend"), // two slips
        ("hat", "hate"),
    ] {
        assert!(!slip(x, y) && !slip(y, x), "{x} / {y}");
    }
}

#[test]
fn a_slipped_word_is_read_as_the_word_it_slipped_from() {
    use super::spelling::align;
    let enc = encoder();
    let tokenizer = Tokenizer::from_file(model_dir().join("tokenizer.json")).unwrap();
    let known = |w: &str| tokenizer.token_to_id(w).is_some();
    // The slipped word, on either side, becomes the known one; the rest of
    // the text (case, punctuation, other words) is kept.
    assert_eq!(
        align(
            "How do I convert a string to an integer in Python?",
            "how do i convert a stirng to an integer in python",
            known
        ),
        Some((
            "How do I convert a string to an integer in Python?".to_string(),
            "how do i convert a string to an integer in python".to_string()
        ))
    );
    assert_eq!(
        align(
            "What time zone is Chicgo in?",
            "What time zone is Chicago in?",
            known
        ),
        Some((
            "What time zone is chicago in?".to_string(),
            "What time zone is Chicago in?".to_string()
        ))
    );
    // Both unknown and five letters or more: names.
    assert!(
        align(
            "What made Spotify stop Shopify?",
            "What made Spotify stop Shopiffy?",
            known
        )
        .is_some()
    );
    // Two known words, a change of first letter, no unique partner, or a
    // word both sides have: nothing is aligned.
    for (a, b) in [
        (
            "What causes a rainbow to form?",
            "What causes a rainbow to from?",
        ),
        (
            "Is React faster than Preact?",
            "Is Preact faster than React?",
        ),
        ("What is typical pneumonia?", "What is atypical pneumonia?"),
        ("What is JSON in Postgres?", "What is JSONB in Postgres?"),
        ("Does MySQL support JSON?", "Does MSSQL support JSON?"),
        ("Is it safe?", "Is it safe?"),
    ] {
        assert_eq!(align(a, b, known), None, "{a} / {b}");
    }
    // Through the encoder: a text beside itself with a slip is the same
    // prompt; a slip beside an opposite is still read by the model, as the
    // opposite alone.
    assert_eq!(
        enc.read(
            "How do I delete my Facebook account?",
            "how do i delete my facebok account"
        )
        .unwrap(),
        Reading::Same
    );
    assert_eq!(
        read(
            &enc,
            "How do I enable dark mode in Chrome?",
            "How do I disable dark mode in Chorme?"
        ),
        read(
            &enc,
            "How do I enable dark mode in Chrome?",
            "How do I disable dark mode in chrome?"
        )
    );
    // Read below the prefilter only when the slips are all that differs.
    assert!(enc.same_but_for_slips("Explain how vaccines work.", "explain how vacines work"));
    assert!(!enc.same_but_for_slips(
        "How do I enable dark mode in Chrome?",
        "How do I disable dark mode in Chorme?"
    ));
    assert!(!enc.same_but_for_slips("Explain how vaccines work.", "Explain how vaccines work."));
    // A slip in a long pair is aligned before the pair is cut to where it differs.
    let pasted = "The quick brown fox jumps over the lazy dog. ".repeat(30);
    let (a, b) = (
        format!("{pasted}Summarize this paragraph."),
        format!("{pasted}Summarize this paragrpah."),
    );
    assert_eq!(enc.read(&a, &b).unwrap(), Reading::Same);
}
