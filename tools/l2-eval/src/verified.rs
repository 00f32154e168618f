//! The pair verifier's side of the evaluation: every pair above the
//! prefilter cosine scored by the real verifier (base model + shipped adapter,
//! the gateway's own code), then precision and recall for each way of
//! deciding — cosine alone, rules, the verifier, the verifier with vetoes —
//! overall, at each calibrated operating point, and per kind of pair.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use g_aigateway::admission::LaneLimits;
use g_aigateway::config::{Guard, SemanticConfig};
use g_aigateway::embedding::LocalModel;
use g_aigateway::index::similarity;
use g_aigateway::semantic::{
    Answer, Ask, Candidate, Decision, Guards, Judge, SemanticCache, raise_reread,
};
use g_aigateway::verifier::{PairModel, Verifier};

use crate::Pair;

/// The verifier's score of each pair (`None` below the prefilter, or a pair
/// it cannot read whole: never a hit either way).
pub fn score(model: &PairModel, pairs: &[Pair], cos: &[f32], prefilter: f32) -> Vec<Option<f32>> {
    let started = Instant::now();
    // As the gateway decides: pairs above the prefilter (`cos`: as the
    // verifier stage reads them, slips aligned), and below it those that are
    // the same prompt but for keyboard slips.
    let todo: Vec<usize> = (0..pairs.len())
        .filter(|&i| cos[i] >= prefilter || model.same_but_for_slips(&pairs[i].a, &pairs[i].b))
        .collect();
    let mut out = vec![None; pairs.len()];
    let mut unreadable = 0;
    // Similar lengths together: less padding per batch.
    let mut order = todo.clone();
    order.sort_by_key(|&i| pairs[i].a.len() + pairs[i].b.len());
    for (n, chunk) in order.chunks(32).enumerate() {
        let batch: Vec<(String, String)> = chunk
            .iter()
            .map(|&i| (pairs[i].a.clone(), pairs[i].b.clone()))
            .collect();
        match model.score(&batch) {
            Ok(scores) => {
                for (&i, s) in chunk.iter().zip(scores) {
                    unreadable += usize::from(s.is_none());
                    out[i] = s;
                }
            }
            Err(e) => eprintln!("batch failed: {e}"),
        }
        if n % 50 == 0 {
            eprintln!(
                "verified {}/{} ({:.0} pairs/s)",
                (n + 1) * 32,
                todo.len(),
                ((n + 1) * 32) as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    if unreadable > 0 {
        eprintln!("{unreadable} pairs the verifier cannot read whole (never a hit)");
    }
    out
}

/// Every pair's kind, label, cosine, the cosine the verifier stage reads
/// (`read_cos`: of the texts with keyboard slips aligned, when higher), score,
/// whether it is the same prompt but for keyboard slips (`slips`: read below
/// the prefilter too) and the default veto that refuses it (`veto`:
/// "numbers", "direction", … or null), as JSON lines.
pub fn dump(
    path: &std::path::Path,
    model: &PairModel,
    pairs: &[Pair],
    cos: &[f32],
    read_cos: &[f32],
    scores: &[Option<f32>],
) -> std::io::Result<()> {
    // Whether the shipped vetoes (`semantic.vetoes`) let the pair through.
    let vetoes = Guards::only(&SemanticConfig::default().vetoes);
    let mut out = String::new();
    for (i, p) in pairs.iter().enumerate() {
        // The first veto that refuses the pair, if any.
        let veto = vetoes.check(&p.b, &p.a).err().map(|r| r.label());
        // Each guard alone, for vetoes other than the shipped ones.
        let guards: serde_json::Map<String, serde_json::Value> = GUARDS
            .iter()
            .map(|(name, g)| {
                let pass = Guards::only(&[*g]).check(&p.b, &p.a).is_ok();
                ((*name).to_string(), pass.into())
            })
            .collect();
        let line = serde_json::json!({"kind": p.kind, "label": u8::from(p.label), "cos": cos[i], "read_cos": read_cos[i], "score": scores[i], "slips": model.same_but_for_slips(&p.a, &p.b), "vetoes_pass": veto.is_none(), "veto": veto, "guards": guards});
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::write(path, out)
}

/// Every rule guard by the name the configuration gives it.
const GUARDS: [(&str, Guard); 6] = [
    ("numbers", Guard::Numbers),
    ("negation", Guard::Negation),
    ("direction", Guard::Direction),
    ("names", Guard::Names),
    ("question", Guard::Question),
    ("antonyms", Guard::Antonyms),
];

/// One way of deciding: a name and a predicate over a pair's index.
type Mode<'a> = (String, Box<dyn Fn(usize) -> bool + 'a>);

#[derive(Default, Clone, Copy)]
struct Count {
    pos: usize,
    neg: usize,
    tp: usize,
    fp: usize,
}

impl Count {
    fn row(&self) -> String {
        let precision = if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        };
        let recall = self.tp as f64 / self.pos.max(1) as f64;
        let fpr = self.fp as f64 / self.neg.max(1) as f64;
        format!(
            "{} | {} | {precision:.3} | {recall:.3} | {fpr:.3}",
            self.pos, self.neg
        )
    }
}

fn count(
    pairs: &[Pair],
    idx: impl Iterator<Item = usize>,
    decide: &dyn Fn(usize) -> bool,
) -> Count {
    let mut c = Count::default();
    for i in idx {
        let label = pairs[i].label;
        let hit = decide(i);
        c.pos += usize::from(label);
        c.neg += usize::from(!label);
        c.tp += usize::from(hit && label);
        c.fp += usize::from(hit && !label);
    }
    c
}

/// Prints the pairwise tables.
pub fn tables(
    model: &PairModel,
    pairs: &[Pair],
    cos: &[f32],
    scores: &[Option<f32>],
    threshold: f32,
) {
    let manifest = &model.manifest;
    let cutoff = manifest.cutoff(0.95);
    let checks = |guards: Guards| -> Vec<bool> {
        pairs
            .iter()
            .map(|p| guards.check(&p.b, &p.a).is_ok())
            .collect()
    };
    let all = checks(Guards::default());
    let vetoes: Vec<(&str, Vec<bool>)> = GUARDS
        .iter()
        .map(|&(name, g)| (name, checks(Guards::only(&[g]))))
        .collect();
    // The shipped default: the verifier behind `semantic.vetoes`.
    let shipped = SemanticConfig::default().vetoes;
    let shipped_name = shipped
        .iter()
        .map(|g| format!("{g:?}").to_lowercase())
        .collect::<Vec<_>>()
        .join(", ");
    let shipped_pass = checks(Guards::only(&shipped));
    let verified = |i: usize, cut: f32| scores[i].is_some_and(|s| s >= cut);
    let mut modes: Vec<Mode<'_>> = vec![
        (
            format!("cosine >= {threshold}"),
            Box::new(|i| cos[i] >= threshold),
        ),
        (
            format!("rules (cosine >= {threshold} + all guards)"),
            Box::new(|i| cos[i] >= threshold && all[i]),
        ),
        (
            "verifier (min_precision 0.95)".into(),
            Box::new(move |i| verified(i, cutoff)),
        ),
    ];
    for (name, pass) in &vetoes {
        modes.push((
            format!("verifier + {name} veto"),
            Box::new(move |i| verified(i, cutoff) && pass[i]),
        ));
    }
    modes.push((
        "verifier + all guards".into(),
        Box::new(|i| verified(i, cutoff) && all[i]),
    ));
    modes.push((
        format!("**default: verifier + {shipped_name} vetoes**"),
        Box::new(|i| verified(i, cutoff) && shipped_pass[i]),
    ));
    // The default with each veto it lacks added, the default row kept last.
    let all_guards_row = modes.len() - 2;
    for ((name, pass), (_, g)) in vetoes.iter().zip(GUARDS) {
        if !shipped.contains(&g) {
            let shipped_pass = &shipped_pass;
            modes.insert(
                modes.len() - 1,
                (
                    format!("default + {name} veto"),
                    Box::new(move |i| verified(i, cutoff) && shipped_pass[i] && pass[i]),
                ),
            );
        }
    }

    println!(
        "\n### Each pair alone: decision modes (prefilter cosine {})\n",
        manifest.prefilter
    );
    println!("| mode | positives | negatives | precision | recall | false-positive rate |");
    println!("|---|---|---|---|---|---|");
    for (name, decide) in &modes {
        println!(
            "| {name} | {} |",
            count(pairs, 0..pairs.len(), decide.as_ref()).row()
        );
    }

    println!("\n### The verifier at each calibrated operating point\n");
    println!(
        "| min_precision | cut-off | positives | negatives | precision | recall | false-positive rate |"
    );
    println!("|---|---|---|---|---|---|---|");
    for point in &manifest.calibration {
        let decide = |i: usize| verified(i, point.cutoff);
        let row = count(pairs, 0..pairs.len(), &decide).row();
        println!("| {} | {:.4} | {row} |", point.min_precision, point.cutoff);
    }

    let mut kinds: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in pairs.iter().enumerate() {
        kinds.entry(p.kind.as_str()).or_default().push(i);
        // Every generated class together: LLM-app style prompts.
        if !matches!(p.kind.as_str(), "qqp" | "mrpc" | "") {
            kinds.entry("(all generated)").or_default().push(i);
        }
    }
    if kinds.len() > 1 {
        // Cosine, rules, the verifier, with all guards, the default with
        // each veto it lacks, the default.
        let mut pick = vec![0usize, 1, 2];
        pick.extend(all_guards_row..modes.len());
        println!("\n### By kind of pair\n");
        let names: Vec<&str> = pick.iter().map(|&m| modes[m].0.as_str()).collect();
        println!(
            "| kind | mode | positives | negatives | precision | recall | false-positive rate |"
        );
        println!("|---|---|---|---|---|---|---|");
        for (kind, idx) in &kinds {
            for (&m, name) in pick.iter().zip(&names) {
                let row = count(pairs, idx.iter().copied(), modes[m].1.as_ref()).row();
                println!("| {kind} | {name} | {row} |");
            }
        }
    }
}

/// Retrieval through the gateway's own decision: for each query, the
/// `candidates` entries of `cache` nearest its vector, decided by
/// `Judge::Model` (the prefilter, the shipped default vetoes, `model` at
/// `min_precision`) — the answer's index (the entry's body) and the
/// verifier's score, or `None`. As in the L2 stage, a candidate below the
/// prefilter with keyboard slips is first given the cosine of its texts with
/// the slips aligned (`Judge::slipped`, embedded here by `embedder`,
/// `raise_reread`). Queries run 64 at a time, so the verifier's lane batches
/// their pairs as it does under load.
#[allow(clippy::too_many_arguments)]
pub fn retrieval(
    model: PairModel,
    embedder: &LocalModel,
    batch: usize,
    cache: &SemanticCache,
    pairs: &[Pair],
    b_vectors: &[Arc<[f32]>],
    candidates: usize,
    min_precision: f64,
) -> anyhow::Result<Vec<Option<(f32, usize)>>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let floor = model.manifest.prefilter;
    let found = runtime.block_on(async {
        let limits = LaneLimits {
            max_batch: 16,
            max_batch_cost: 2048,
            max_queued_cost: u64::MAX,
            initial_rate: 3000.0,
        };
        let judge = Judge::Model {
            verifier: Arc::new(Verifier::new(model, limits)),
            vetoes: Guards::only(&SemanticConfig::default().vetoes),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(7 * 24 * 3600);
        let ask = Ask {
            tenant: "eval",
            threshold: SemanticConfig::default().threshold,
            raised: None,
            min_precision,
            deadline,
        };
        let mut found = Vec::with_capacity(pairs.len());
        let (mut slips, mut reached, mut read) = (0usize, 0usize, 0usize);
        for (n, chunk) in pairs
            .iter()
            .zip(b_vectors)
            .collect::<Vec<_>>()
            .chunks(64)
            .enumerate()
        {
            let mut nears: Vec<Vec<Candidate>> = chunk
                .iter()
                .map(|(_, v)| cache.candidates(&[0; 32], v, candidates))
                .collect();
            let slipped: Vec<(usize, usize, (String, String))> = chunk
                .iter()
                .zip(&nears)
                .enumerate()
                .flat_map(|(q, ((p, _), near))| {
                    judge
                        .slipped(near, &p.b, None)
                        .into_iter()
                        .map(move |(position, texts)| (q, position, texts))
                })
                .collect();
            if !slipped.is_empty() {
                let texts: Vec<String> = slipped
                    .iter()
                    .flat_map(|(_, _, (a, b))| [a.clone(), b.clone()])
                    .collect();
                let mut vectors = Vec::with_capacity(texts.len());
                for part in texts.chunks(batch.max(1)) {
                    vectors.extend(embedder.embed(part)?);
                }
                let mut reread: Vec<Vec<(usize, f32)>> = vec![Vec::new(); nears.len()];
                for ((q, position, _), two) in slipped.iter().zip(vectors.chunks(2)) {
                    let read = similarity(&two[0], &two[1]);
                    slips += 1;
                    reached += usize::from(read >= floor);
                    reread[*q].push((*position, read));
                }
                for (near, reread) in nears.iter_mut().zip(reread) {
                    raise_reread(near, reread);
                }
            }
            let decisions = join_all(
                chunk
                    .iter()
                    .zip(nears)
                    .map(|((p, _), near)| judge.decide(near, &p.b, &ask)),
            )
            .await;
            read += decisions.iter().map(|(_, pairs)| pairs).sum::<usize>();
            found.extend(decisions.into_iter().map(|(d, _)| match d {
                Decision::Hit {
                    candidate:
                        Candidate {
                            answer: Answer::Local(response),
                            ..
                        },
                    score,
                } => {
                    let index = std::str::from_utf8(&response.body).ok()?.parse().ok()?;
                    Some((score.unwrap_or(1.0), index))
                }
                _ => None,
            }));
            if n % 50 == 0 {
                eprintln!(
                    "decided {}/{} ({:.0} queries/s)",
                    found.len(),
                    pairs.len(),
                    found.len() as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
        eprintln!(
            "{slips} candidates below the prefilter had keyboard slips; aligned, {reached} of them reached it"
        );
        println!(
            "The verifier read {read} candidate pairs for {} look-ups ({:.2} per look-up; the closest \
             candidate alone first, the others only when it is not sure).\n",
            found.len(),
            read as f64 / found.len().max(1) as f64
        );
        anyhow::Ok(found)
    })?;
    Ok(found)
}

/// What the labels of the whole file say of one retrieval answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// The query's own pair's `a` (or an identical text), labelled a duplicate.
    OwnRight,
    /// The query's own pair's `a`, labelled different.
    OwnWrong,
    /// Another pair's entry that the file's duplicate labels join to the query
    /// (a chain of label-1 pairs, by text).
    SameCluster,
    /// Another pair's entry whose duplicate cluster a label-0 pair of the file
    /// separates from the query's.
    KnownDifferent,
    /// Another pair's entry that no label speaks of.
    Unlabelled,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::OwnRight => "own-right",
            Verdict::OwnWrong => "own-wrong",
            Verdict::SameCluster => "same-cluster",
            Verdict::KnownDifferent => "known-different",
            Verdict::Unlabelled => "unlabelled",
        }
    }
}

/// Duplicate clusters of the file's texts: label-1 pairs join their two texts
/// (transitively), label-0 pairs mark their two clusters as different.
pub struct Clusters {
    ids: std::collections::HashMap<String, usize>,
    parent: Vec<usize>,
    different: std::collections::HashSet<(usize, usize)>,
}

impl Clusters {
    pub fn new(pairs: &[Pair]) -> Self {
        let mut ids = std::collections::HashMap::new();
        let mut parent = Vec::new();
        let mut id = |text: &str, parent: &mut Vec<usize>| -> usize {
            *ids.entry(text.to_string()).or_insert_with(|| {
                parent.push(parent.len());
                parent.len() - 1
            })
        };
        let mut edges = Vec::with_capacity(pairs.len());
        for p in pairs {
            let (a, b) = (id(&p.a, &mut parent), id(&p.b, &mut parent));
            edges.push((a, b, p.label));
        }
        let mut clusters = Clusters {
            ids,
            parent,
            different: Default::default(),
        };
        for &(a, b, same) in &edges {
            if same {
                let (ra, rb) = (clusters.root(a), clusters.root(b));
                clusters.parent[ra] = rb;
            }
        }
        for &(a, b, same) in &edges {
            if !same {
                let (ra, rb) = (clusters.root(a), clusters.root(b));
                clusters.different.insert((ra.min(rb), ra.max(rb)));
            }
        }
        // Flatten, so each look-up is one step.
        for i in 0..clusters.parent.len() {
            clusters.parent[i] = clusters.root(i);
        }
        clusters
    }

    fn root(&self, mut i: usize) -> usize {
        while self.parent[i] != i {
            i = self.parent[i];
        }
        i
    }

    fn cluster(&self, text: &str) -> Option<usize> {
        self.ids.get(text).map(|&i| self.root(i))
    }

    /// The verdict on query `i` answered with entry `j`.
    pub fn verdict(&self, pairs: &[Pair], i: usize, j: usize) -> Verdict {
        let (query, entry) = (&pairs[i].b, &pairs[j].a);
        if *entry == pairs[i].a {
            return if pairs[i].label {
                Verdict::OwnRight
            } else {
                Verdict::OwnWrong
            };
        }
        match (self.cluster(query), self.cluster(entry)) {
            (Some(q), Some(e)) if q == e => Verdict::SameCluster,
            (Some(q), Some(e)) if self.different.contains(&(q.min(e), q.max(e))) => {
                Verdict::KnownDifferent
            }
            _ => Verdict::Unlabelled,
        }
    }
}

/// Each query's answer as JSON lines: the query, the entry that answered it
/// (text and index) or null, the score, and the labels' verdict — for reading
/// the unlabelled answers by hand.
pub fn dump_retrieval(
    path: &std::path::Path,
    pairs: &[Pair],
    found: &[Option<(f32, usize)>],
) -> std::io::Result<()> {
    let clusters = Clusters::new(pairs);
    let mut out = String::new();
    for (i, (p, f)) in pairs.iter().zip(found).enumerate() {
        let line = match f {
            Some((score, j)) => {
                serde_json::json!({"query": i, "kind": p.kind, "label": u8::from(p.label), "b": p.b, "a": p.a, "entry": j, "entry_text": pairs[*j].a, "score": score, "verdict": clusters.verdict(pairs, i, *j).label()})
            }
            None => {
                serde_json::json!({"query": i, "kind": p.kind, "label": u8::from(p.label), "b": p.b, "a": p.a, "entry": null, "score": null, "verdict": null})
            }
        };
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::write(path, out)
}

/// Prints the retrieval outcomes, overall and per kind. A query answered with
/// its own pair's `a` (or an identical text) is judged by the pair's label; an
/// answer from another pair's entry is judged by the file's labels where they
/// reach it — right when a chain of duplicate labels joins the entry to the
/// query, wrong when a label-0 pair separates their clusters — and counted
/// apart where no label does (in a generated split another pair's `a` is often
/// a rewording of the same question).
pub fn retrieval_table(
    pairs: &[Pair],
    found: &[Option<(f32, usize)>],
    candidates: usize,
    min_precision: f64,
) {
    println!(
        "\n### Retrieval through the gateway's decision: verifier at min_precision \
         {min_precision}, default vetoes, {candidates} candidates\n"
    );
    println!(
        "| pairs | answered | own pair, right | own pair, wrong | precision (own pair) | recall | another entry: same cluster | another entry: known different | precision (labelled) | another entry, no label |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let clusters = Clusters::new(pairs);
    let mut kinds: Vec<&str> = pairs.iter().map(|p| p.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in std::iter::once("(all)").chain(kinds.into_iter().filter(|k| *k != "all")) {
        let (mut asked, mut positives, mut answered) = (0, 0, 0);
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, (p, f)) in pairs.iter().zip(found).enumerate() {
            if kind != "(all)" && p.kind != kind {
                continue;
            }
            asked += 1;
            positives += usize::from(p.label);
            let Some((_, j)) = f else { continue };
            answered += 1;
            *seen
                .entry(clusters.verdict(pairs, i, *j).label())
                .or_default() += 1;
        }
        let n = |v: Verdict| seen.get(v.label()).copied().unwrap_or(0);
        let (right, wrong) = (n(Verdict::OwnRight), n(Verdict::OwnWrong));
        let (same, different) = (n(Verdict::SameCluster), n(Verdict::KnownDifferent));
        let ratio = |r: usize, w: usize| {
            if r + w == 0 {
                "—".to_string()
            } else {
                format!("{:.3}", r as f64 / (r + w) as f64)
            }
        };
        let unlabelled = n(Verdict::Unlabelled);
        println!(
            "| {kind} ({asked}) | {answered} | {right} | {wrong} | {} | {:.3} | {same} | {different} | {} | {unlabelled} ({:.1} %) |",
            ratio(right, wrong),
            right as f64 / positives.max(1) as f64,
            ratio(right + same, wrong + different),
            100.0 * unlabelled as f64 / asked.max(1) as f64
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: &str, b: &str, label: bool) -> Pair {
        Pair {
            a: a.into(),
            b: b.into(),
            label,
            kind: "all".into(),
        }
    }

    #[test]
    fn an_answer_from_another_entry_is_judged_by_the_chains_of_labels() {
        let pairs = [
            pair("boil an egg soft", "soft-boil an egg", true),
            pair("how to soft boil an egg", "boil an egg soft", true),
            pair("boil an egg hard", "hard-boil an egg", true),
            pair("hard-boil an egg", "soft-boil an egg", false),
            pair("peel garlic", "crush garlic", false),
            pair("peel an onion", "peel onions", true),
        ];
        let clusters = Clusters::new(&pairs);
        // Own pair: its label decides, whatever the clusters say.
        assert_eq!(clusters.verdict(&pairs, 0, 0), Verdict::OwnRight);
        assert_eq!(clusters.verdict(&pairs, 3, 3), Verdict::OwnWrong);
        // "soft-boil an egg" answered with "how to soft boil an egg": joined
        // through "boil an egg soft".
        assert_eq!(clusters.verdict(&pairs, 0, 1), Verdict::SameCluster);
        // "soft-boil an egg" answered with "boil an egg hard": pair 3 separates
        // the hard cluster from the soft one.
        assert_eq!(clusters.verdict(&pairs, 0, 2), Verdict::KnownDifferent);
        // "crush garlic" answered with "peel an onion": no label reaches it.
        assert_eq!(clusters.verdict(&pairs, 4, 5), Verdict::Unlabelled);
        // An entry identical to the query's own `a` counts as the own pair.
        let twice = [pair("a b", "a c", true), pair("a b", "x", false)];
        assert_eq!(
            Clusters::new(&twice).verdict(&twice, 1, 0),
            Verdict::OwnWrong
        );
    }
}
