//! Semantic-cache quality on labelled question pairs (JSON lines `{"a","b","label"}`):
//! inserts every `a`, queries every `b` through the real L2 path — the local
//! model, the real index, the verification guards — and prints, per threshold,
//! precision, recall, F1 and false-hit rate for plain cosine and with guards.
//!
//! A query "hits" when the best candidate it may use scores at or above the
//! threshold. A hit is right only when it returns the query's own `a` (or an
//! identical text) and the pair is labelled a duplicate; every other hit is a
//! false hit, i.e. a wrong cached answer.
//!
//! With `--verifier`, every pair above the prefilter is also read by the pair
//! verifier (the shipped adapter, or `--verifier-dir`), and the tables compare
//! cosine alone, rules, the verifier and the verifier with vetoes — overall,
//! at each calibrated operating point, and per `kind` of pair when the file
//! has one (the training's validation split does).
//!
//! Retrieval (without `--pairwise-only`) inserts every `a` in one partition
//! and asks every `b` of it, so each query meets every other pair's entries:
//! with `--verifier` also through the gateway's own decision (`Judge::Model`:
//! the `--candidates` nearest entries, a candidate below the prefilter with
//! keyboard slips given the cosine of its aligned texts as the L2 stage gives
//! it, the prefilter, the default vetoes, the verifier at `--min-precision`),
//! each answer judged by the label of the query's own pair or counted apart
//! when it is another pair's entry.
//!
//! `cargo run --release -p l2-eval -- ../shared/data/qqp_dev.jsonl` (add
//! `--ablation` for each guard alone; `--verifier` for the pair verifier)

mod verified;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use g_aigateway::cache::{CachedResponse, Usage};
use g_aigateway::config::SemanticConfig;
use g_aigateway::embedding::LocalModel;
use g_aigateway::metrics::Metrics;
use g_aigateway::semantic::{Answer, Guards, Lookup, NewEntry, SemanticCache};
use g_aigateway::verifier::{PairModel, Source};

#[derive(Parser)]
#[command(name = "l2-eval")]
struct Cli {
    /// Labelled pairs, JSON lines with "a", "b" and "label" (1 = same meaning).
    pairs: PathBuf,
    #[arg(long, default_value = "models/all-MiniLM-L6-v2")]
    model_dir: PathBuf,
    /// Use only the first N pairs.
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Also evaluate each guard alone (five more index builds).
    #[arg(long)]
    ablation: bool,
    /// Only the pairwise table (no index builds).
    #[arg(long)]
    pairwise_only: bool,
    /// Also evaluate the pair verifier.
    #[arg(long)]
    verifier: bool,
    /// A verifier other than the shipped one (adapter.safetensors + verifier.json).
    #[arg(long)]
    verifier_dir: Option<PathBuf>,
    /// Cosine threshold of the cosine and rules modes in the verifier tables.
    #[arg(long, default_value_t = 0.95)]
    threshold: f32,
    /// Also write every pair's kind, label, cosine, verifier score and whether
    /// the shipped vetoes pass it here (JSON lines), for curves of your own.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Score pairs down to this cosine (default: the verifier's prefilter).
    #[arg(long)]
    prefilter: Option<f32>,
    /// Retrieval with `--verifier`: candidates read per query (the
    /// gateway's `semantic.candidates`).
    #[arg(long, default_value_t = 3)]
    candidates: usize,
    /// Retrieval with `--verifier`: the precision asked of the verifier (the
    /// gateway's `semantic.min_precision`).
    #[arg(long, default_value_t = 0.95)]
    min_precision: f64,
    /// Retrieval with `--verifier`: also write each query's answer (the entry,
    /// its score, the labels' verdict) here as JSON lines.
    #[arg(long)]
    dump_retrieval: Option<PathBuf>,
    /// With `--verifier`: only the retrieval through the gateway's decision
    /// (no pairwise verifier tables, no cosine and rules retrieval tables).
    #[arg(long)]
    retrieval_only: bool,
}

pub struct Pair {
    pub a: String,
    pub b: String,
    pub label: bool,
    /// What kind of pair it is (the file's `kind` field, else `all`).
    pub kind: String,
}

fn read_pairs(cli: &Cli) -> anyhow::Result<Vec<Pair>> {
    let text = std::fs::read_to_string(&cli.pairs)
        .with_context(|| format!("cannot read {}", cli.pairs.display()))?;
    let mut pairs = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("line {}: not JSON", n + 1))?;
        let field = |k: &str| v[k].as_str().map(str::to_string);
        let (Some(a), Some(b)) = (field("a"), field("b")) else {
            anyhow::bail!("line {}: needs string fields a and b", n + 1);
        };
        pairs.push(Pair {
            a,
            b,
            label: v["label"].as_i64() == Some(1),
            kind: v["kind"].as_str().unwrap_or("all").to_string(),
        });
        if cli.limit.is_some_and(|l| pairs.len() >= l) {
            break;
        }
    }
    Ok(pairs)
}

/// Embeddings of `texts`, cached in `target/l2-eval/` under a hash of the texts
/// (raw little-endian f32), so a rerun skips the model.
fn embed_cached(
    model: &LocalModel,
    texts: &[String],
    batch: usize,
) -> anyhow::Result<Vec<Arc<[f32]>>> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for t in texts {
        hasher.update((t.len() as u64).to_le_bytes());
        hasher.update(t.as_bytes());
    }
    let digest: [u8; 32] = hasher.finalize().into();
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let path = PathBuf::from("target/l2-eval").join(format!("{name}.f32"));
    let dim = model.dim();
    if let Ok(bytes) = std::fs::read(&path)
        && bytes.len() == texts.len() * dim * 4
    {
        eprintln!("embeddings from {}", path.display());
        return Ok(bytes
            .chunks_exact(dim * 4)
            .map(|row| {
                row.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect::<Vec<f32>>()
                    .into()
            })
            .collect());
    }
    let vectors = embed_all(model, texts, batch)?;
    let mut bytes = Vec::with_capacity(texts.len() * dim * 4);
    for v in &vectors {
        for x in v.iter() {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    std::fs::create_dir_all("target/l2-eval")?;
    std::fs::write(&path, bytes)?;
    Ok(vectors)
}

fn embed_all(
    model: &LocalModel,
    texts: &[String],
    batch: usize,
) -> anyhow::Result<Vec<Arc<[f32]>>> {
    let started = Instant::now();
    let mut out = Vec::with_capacity(texts.len());
    for (i, chunk) in texts.chunks(batch.max(1)).enumerate() {
        for v in model.embed(chunk)? {
            out.push(Arc::from(v));
        }
        if i % 100 == 0 {
            eprintln!(
                "embedded {}/{} ({:.0}/s)",
                out.len(),
                texts.len(),
                out.len() as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(out)
}

/// For each query: the similarity and index of the candidate L2 would answer with.
fn answers(
    cache: &SemanticCache,
    pairs: &[Pair],
    b_vectors: &[Arc<[f32]>],
) -> Vec<Option<(f32, usize)>> {
    pairs
        .iter()
        .zip(b_vectors)
        .map(|(p, v)| match cache.lookup(&[0; 32], &p.b, v, -1.0) {
            Lookup::Hit {
                answer: Answer::Local(response),
                similarity,
            } => {
                let index = std::str::from_utf8(&response.body).ok()?.parse().ok()?;
                Some((similarity, index))
            }
            _ => None,
        })
        .collect()
}

/// The cosine of each pair as the gateway's verifier stage reads it: a pair
/// below `floor` with keyboard slips (`Encoder::aligned`) gets the cosine of
/// its aligned texts when that is higher (src/semantic/stage.rs
/// `reread_slips`). Those texts are embedded here, uncached (few).
fn read_cosines(
    model: &LocalModel,
    verifier: &PairModel,
    pairs: &[Pair],
    cos: &[f32],
    floor: f32,
    batch: usize,
) -> anyhow::Result<Vec<f32>> {
    let mut out = cos.to_vec();
    let slipped: Vec<(usize, (String, String))> = (0..pairs.len())
        .filter(|&i| cos[i] < floor)
        .filter_map(|i| {
            verifier
                .encoder()
                .aligned(&pairs[i].a, &pairs[i].b)
                .map(|p| (i, p))
        })
        .collect();
    if slipped.is_empty() {
        return Ok(out);
    }
    let a: Vec<String> = slipped.iter().map(|(_, (a, _))| a.clone()).collect();
    let b: Vec<String> = slipped.iter().map(|(_, (_, b))| b.clone()).collect();
    let (va, vb) = (embed_all(model, &a, batch)?, embed_all(model, &b, batch)?);
    let mut raised = 0;
    for (((i, _), x), y) in slipped.iter().zip(&va).zip(&vb) {
        let read = g_aigateway::index::similarity(x, y);
        if read > out[*i] {
            raised += usize::from(read >= floor);
            out[*i] = read;
        }
    }
    eprintln!(
        "{} pairs below the prefilter have keyboard slips; aligned, {raised} of them reach it",
        slipped.len()
    );
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let pairs = read_pairs(&cli)?;
    let model = LocalModel::load(&cli.model_dir)?;
    let a_texts: Vec<String> = pairs.iter().map(|p| p.a.clone()).collect();
    let b_texts: Vec<String> = pairs.iter().map(|p| p.b.clone()).collect();
    let started = Instant::now();
    let a_vectors = embed_cached(&model, &a_texts, cli.batch)?;
    let b_vectors = embed_cached(&model, &b_texts, cli.batch)?;
    let embed_secs = started.elapsed().as_secs_f64();

    if cli.retrieval_only && (cli.pairwise_only || !cli.verifier) {
        anyhow::bail!("--retrieval-only needs --verifier and no --pairwise-only");
    }
    if !cli.retrieval_only {
        pairwise(&pairs, &a_vectors, &b_vectors);
    }
    let mut verifier_source = None;
    if cli.retrieval_only {
        verifier_source = Some(match &cli.verifier_dir {
            Some(dir) => Source::Dir(dir),
            None => Source::Shipped,
        });
    } else if cli.verifier {
        let source = match &cli.verifier_dir {
            Some(dir) => Source::Dir(dir),
            None => Source::Shipped,
        };
        let verifier = PairModel::load(&cli.model_dir, &source)?;
        verifier_source = Some(source.clone());
        let cos: Vec<f32> = a_vectors
            .iter()
            .zip(&b_vectors)
            .map(|(x, y)| g_aigateway::index::similarity(x, y))
            .collect();
        let floor = cli.prefilter.unwrap_or(verifier.manifest.prefilter);
        let read_cos = read_cosines(&model, &verifier, &pairs, &cos, floor, cli.batch)?;
        let scores = verified::score(&verifier, &pairs, &read_cos, floor);
        verified::tables(&verifier, &pairs, &cos, &scores, cli.threshold);
        if let Some(path) = &cli.dump {
            verified::dump(path, &verifier, &pairs, &cos, &read_cos, &scores)?;
        }
    }
    if cli.pairwise_only {
        return Ok(());
    }
    let config = SemanticConfig {
        max_entries: usize::MAX,
        max_bytes: usize::MAX,
        ..SemanticConfig::default()
    };
    // Retrieval builds an index per mode: the three main ones unless --ablation.
    let modes: Vec<_> = guard_sets()
        .into_iter()
        .filter(|(name, _)| cli.ablation || MAIN_MODES.contains(name))
        .filter(|(name, _)| !cli.retrieval_only || *name == "cosine")
        .collect();
    let metrics = Arc::new(Metrics::new());
    let hour = Duration::from_secs(3600);
    let mut results = Vec::new();
    let mut verified_results = Vec::new();
    let mut search_ms = 0.0;
    for (name, guards) in modes {
        let purges = Arc::default();
        let cache =
            SemanticCache::with_guards(config.clone(), guards, purges, Arc::clone(&metrics));
        for (i, (p, v)) in pairs.iter().zip(&a_vectors).enumerate() {
            let entry = Arc::new(CachedResponse::new(
                Bytes::from(i.to_string()),
                hour,
                Usage::default(),
            ));
            cache.insert(NewEntry::local(
                "eval",
                [0; 32],
                p.a.clone(),
                Arc::clone(v),
                entry,
            ));
        }
        // The partition outgrew the exact scan: search the HNSW graph it moves to.
        while cache.rebuilding() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let started = Instant::now();
        results.push((name, answers(&cache, &pairs, &b_vectors)));
        search_ms = started.elapsed().as_secs_f64() * 1e3 / pairs.len() as f64;
        eprintln!("evaluated {name}");
        if name == "cosine"
            && let Some(source) = &verifier_source
        {
            let pair_model = PairModel::load(&cli.model_dir, source)?;
            let found = verified::retrieval(
                pair_model,
                &model,
                cli.batch,
                &cache,
                &pairs,
                &b_vectors,
                cli.candidates,
                cli.min_precision,
            )?;
            verified_results.push(found);
        }
    }

    let positives = pairs.iter().filter(|p| p.label).count();
    println!(
        "{} pairs ({positives} duplicates); embedded {} texts in {embed_secs:.0} s \
         ({:.0}/s, batch {}); {search_ms:.3} ms per look-up\n",
        pairs.len(),
        2 * pairs.len(),
        2.0 * pairs.len() as f64 / embed_secs,
        cli.batch
    );
    println!("| threshold | mode | hits | precision | recall | F1 | false-hit rate |");
    println!("|---|---|---|---|---|---|---|");
    for t in [0.70f32, 0.75, 0.80, 0.85, 0.875, 0.90, 0.925, 0.95, 0.97] {
        for (name, found) in &results {
            let s = score(&pairs, found, t, positives);
            println!(
                "| {t:.3} | {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
                s.hits, s.precision, s.recall, s.f1, s.false_rate
            );
        }
    }
    for found in &verified_results {
        verified::retrieval_table(&pairs, found, cli.candidates, cli.min_precision);
        if let Some(path) = &cli.dump_retrieval {
            verified::dump_retrieval(path, &pairs, found)?;
        }
    }
    Ok(())
}

struct Score {
    hits: usize,
    precision: f64,
    recall: f64,
    f1: f64,
    false_rate: f64,
}

fn score(pairs: &[Pair], found: &[Option<(f32, usize)>], t: f32, positives: usize) -> Score {
    let (mut hits, mut right) = (0usize, 0usize);
    for (i, answer) in found.iter().enumerate() {
        let Some((s, j)) = answer else { continue };
        if *s < t {
            continue;
        }
        hits += 1;
        if pairs[i].label && (*j == i || pairs[*j].a == pairs[i].a) {
            right += 1;
        }
    }
    let precision = if hits == 0 {
        1.0
    } else {
        right as f64 / hits as f64
    };
    let recall = right as f64 / positives.max(1) as f64;
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Score {
        hits,
        precision,
        recall,
        f1,
        false_rate: (hits - right) as f64 / pairs.len() as f64,
    }
}

/// Each labelled pair judged alone — is `b` a hit for `a`? — as a duplicate
/// detector: precision, recall and F1 over the labels, for plain cosine and
/// with each guard set.
fn pairwise(pairs: &[Pair], a: &[Arc<[f32]>], b: &[Arc<[f32]>]) {
    let sets = guard_sets();
    let sims: Vec<f32> = a
        .iter()
        .zip(b)
        .map(|(x, y)| g_aigateway::index::similarity(x, y))
        .collect();
    let passes: Vec<Vec<bool>> = sets
        .iter()
        .map(|(_, g)| pairs.iter().map(|p| g.check(&p.b, &p.a).is_ok()).collect())
        .collect();
    let positives = pairs.iter().filter(|p| p.label).count();
    println!(
        "Pairwise: each pair alone, duplicate predicted when cosine >= threshold and the guards pass\n"
    );
    println!("| threshold | mode | predicted | precision | recall | F1 | false-positive rate |");
    println!("|---|---|---|---|---|---|---|");
    let negatives = pairs.len() - positives;
    for t in [0.80f32, 0.85, 0.875, 0.90, 0.925, 0.95, 0.97] {
        for ((name, _), pass) in sets.iter().zip(&passes) {
            let (mut predicted, mut right) = (0usize, 0usize);
            for (i, p) in pairs.iter().enumerate() {
                if sims[i] >= t && pass[i] {
                    predicted += 1;
                    right += usize::from(p.label);
                }
            }
            let precision = if predicted == 0 {
                1.0
            } else {
                right as f64 / predicted as f64
            };
            let recall = right as f64 / positives.max(1) as f64;
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            let fpr = (predicted - right) as f64 / negatives.max(1) as f64;
            println!(
                "| {t:.3} | {name} | {predicted} | {precision:.3} | {recall:.3} | {f1:.3} | {fpr:.3} |"
            );
        }
    }
    println!();
}

/// The modes evaluated without --ablation.
const MAIN_MODES: [&str; 3] = ["cosine", "+ numbers, negation, direction", "+ all guards"];

/// Plain cosine, each guard alone, the three cheap guards, and all of them.
fn guard_sets() -> Vec<(&'static str, Guards)> {
    let none = Guards::none();
    let only = |set: fn(&mut Guards)| {
        let mut g = none;
        set(&mut g);
        g
    };
    vec![
        ("cosine", none),
        ("+ numbers", only(|g| g.numbers = true)),
        ("+ negation", only(|g| g.negation = true)),
        ("+ direction", only(|g| g.direction = true)),
        ("+ names", only(|g| g.entities = true)),
        ("+ question", only(|g| g.question = true)),
        (
            "+ numbers, negation, direction",
            Guards {
                entities: false,
                question: false,
                ..Guards::default()
            },
        ),
        ("+ all guards", Guards::default()),
    ]
}
