//! Deciding a semantic hit among a query's candidates (DESIGN.md §2):
//! - `off`: the most similar candidate at or above the cosine threshold;
//! - `rules`: the same, past every rule guard (numbers, negation, direction,
//!   names);
//! - `model`: candidates above the prefilter cosine that no veto guard
//!   refuses are read together with the query by the pair verifier; the
//!   best-scoring one at or above the cut-off for the wanted precision wins.
//!   The closest is read first, alone: when its score reaches [`SURE`] (and
//!   the cut-off) it wins without the others being read.
//!   A candidate below the prefilter is read when it is the same prompt but
//!   for keyboard slips (`Verifier::same_but_for_slips`).

use std::sync::Arc;

use tokio::time::Instant;

use super::entry::{Candidate, Lookup};
use super::verify::{Guards, Rejection};
use crate::admission::Refused;
use crate::verifier::Verifier;

/// A verifier score at which the closest candidate wins without the others
/// being read: a paraphrase of the entry it came from scores about 0.998
/// (median of the generated paraphrases), so a lower-cosine candidate could
/// only tie it, and the hit costs one pair instead of a batch of three.
pub const SURE: f32 = 0.99;

/// How hits are decided.
pub enum Judge {
    Off,
    Rules(Guards),
    Model {
        verifier: Arc<Verifier>,
        /// Rule guards that still veto before the model reads a pair.
        vetoes: Guards,
    },
}

/// What a request asks of the decision.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub tenant: &'a str,
    /// Cosine a hit needs in `off` and `rules` modes.
    pub threshold: f32,
    /// A cosine floor the request raised (`x-gateway-semantic-threshold`),
    /// on top of the model's prefilter.
    pub raised: Option<f32>,
    /// The precision wanted of the model's decision.
    pub min_precision: f64,
    /// When the L2 stage must be done.
    pub deadline: Instant,
}

/// The decision: which candidate answers, if any.
pub enum Decision {
    Hit {
        candidate: Candidate,
        /// The verifier's score, in `model` mode.
        score: Option<f32>,
    },
    /// The closest candidates were refused (by a guard or the verifier).
    Rejected {
        similarity: f32,
        why: &'static str,
    },
    Miss {
        best: Option<f32>,
    },
    /// The verifier could not decide in time: L2 is skipped.
    Skipped(Refused),
}

/// `off` and `rules`: the first candidate at or above `threshold` that the
/// guards pass.
pub fn rules(candidates: Vec<Candidate>, text: &str, threshold: f32, guards: &Guards) -> Lookup {
    let best = candidates.first().map(|c| c.similarity);
    let mut rejected: Option<(f32, Rejection)> = None;
    for candidate in candidates {
        if candidate.similarity < threshold {
            break;
        }
        match guards.check(text, &candidate.text) {
            Ok(()) => {
                return Lookup::Hit {
                    answer: candidate.answer,
                    similarity: candidate.similarity,
                };
            }
            Err(why) => {
                rejected.get_or_insert((candidate.similarity, why));
            }
        }
    }
    match rejected {
        Some((similarity, why)) => Lookup::Rejected { similarity, why },
        None => Lookup::Miss { best },
    }
}

impl Judge {
    pub fn mode(&self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Rules(_) => "rules",
            Self::Model { .. } => "model",
        }
    }

    /// The cosine below which no candidate is worth reading.
    pub fn floor(&self, ask: &Ask<'_>) -> f32 {
        match self {
            Self::Off | Self::Rules(_) => ask.threshold,
            Self::Model { verifier, .. } => ask.raised.unwrap_or(0.0).max(verifier.prefilter()),
        }
    }

    /// In `model` mode, the candidates below the verifier's prefilter whose
    /// pair has keyboard slips (`crate::verifier::spelling`), by position,
    /// with the pair's two texts as the verifier reads them (slips aligned):
    /// their cosine is worth measuring again, since a slip can pull a
    /// rewording's cosine far down ("whats the captial of australia" against
    /// "What is the capital city of Australia?": 0.65; aligned, 0.88). None
    /// when the request raised its own cosine floor. The L2 stage embeds
    /// them (`stage.rs`), `l2-eval` too; [`raise_reread`] applies what they find.
    pub fn slipped(
        &self,
        candidates: &[Candidate],
        text: &str,
        raised: Option<f32>,
    ) -> Vec<(usize, (String, String))> {
        let Self::Model { verifier, .. } = self else {
            return Vec::new();
        };
        if raised.is_some() {
            return Vec::new();
        }
        let floor = verifier.prefilter();
        candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.similarity < floor)
            .filter_map(|(i, c)| verifier.aligned(&c.text, text).map(|pair| (i, pair)))
            .collect()
    }

    /// The decision, and how many candidate pairs the verifier read for it.
    pub async fn decide(
        &self,
        candidates: Vec<Candidate>,
        text: &str,
        ask: &Ask<'_>,
    ) -> (Decision, usize) {
        let (verifier, vetoes) = match self {
            Self::Off => {
                return (
                    from_lookup(rules(candidates, text, ask.threshold, &Guards::none())),
                    0,
                );
            }
            Self::Rules(guards) => {
                return (
                    from_lookup(rules(candidates, text, ask.threshold, guards)),
                    0,
                );
            }
            Self::Model { verifier, vetoes } => (verifier, vetoes),
        };
        let best = candidates.first().map(|c| c.similarity);
        let floor = self.floor(ask);
        let mut vetoed = None;
        let mut readable = Vec::new();
        // Below the prefilter, a candidate is read only when it is the same
        // prompt but for keyboard slips (a misspelt word can pull the cosine
        // of a retyped prompt far down), and only when the request did not
        // raise its own cosine floor.
        let slipped =
            |c: &Candidate| ask.raised.is_none() && verifier.same_but_for_slips(&c.text, text);
        for candidate in candidates
            .into_iter()
            .filter(|c| c.similarity >= floor || slipped(c))
        {
            match vetoes.check(text, &candidate.text) {
                Ok(()) => readable.push(candidate),
                Err(why) => {
                    vetoed.get_or_insert((candidate.similarity, why.label()));
                }
            }
        }
        if readable.is_empty() {
            let decision = match vetoed {
                Some((similarity, why)) => Decision::Rejected { similarity, why },
                None => Decision::Miss { best },
            };
            return (decision, 0);
        }
        let cutoff = verifier.cutoff(ask.min_precision);
        let top = readable.first().map_or(0.0, |c| c.similarity);
        let pair = |c: &Candidate| (c.text.clone(), text.to_string());
        // The closest candidate is read alone first; only when the verifier
        // is not sure of it (below `SURE` or the cut-off) are the others read,
        // in one batch. A hit — the usual paraphrase of the closest entry —
        // so costs one pair, not a batch of three.
        let mut scores = match verifier
            .score(
                ask.tenant,
                readable.iter().take(1).map(pair).collect(),
                ask.deadline,
            )
            .await
        {
            Ok(scores) => scores,
            Err(refused) => return (Decision::Skipped(refused), 0),
        };
        let sure = cutoff.max(SURE);
        if readable.len() > 1 && scores.first().copied().flatten().is_none_or(|s| s < sure) {
            let rest = readable.iter().skip(1).map(pair).collect();
            match verifier.score(ask.tenant, rest, ask.deadline).await {
                Ok(more) => scores.extend(more),
                // What was read still decides: the closest candidate when it
                // passes, else L2 is skipped as when nothing could be read.
                Err(refused) => {
                    if scores.first().copied().flatten().is_none_or(|s| s < cutoff) {
                        return (Decision::Skipped(refused), scores.len());
                    }
                }
            }
        }
        // A pair the verifier cannot read whole (a long prompt whose
        // difference from the candidate does not fit its window) is never a
        // hit: refused as `too_long` when no candidate could be read.
        let read = scores.iter().any(Option::is_some);
        let pairs = scores.len();
        let winner = readable
            .into_iter()
            .zip(scores)
            .filter_map(|(candidate, score)| score.map(|s| (candidate, s)))
            .filter(|(_, score)| *score >= cutoff)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let decision = match winner {
            Some((candidate, score)) => Decision::Hit {
                candidate,
                score: Some(score),
            },
            None => Decision::Rejected {
                similarity: top,
                why: if read { "verifier" } else { "too_long" },
            },
        };
        (decision, pairs)
    }
}

/// Each candidate at `position` gets the cosine `read` of its texts as the
/// verifier reads them ([`Judge::slipped`]) when that is higher; the
/// candidates stay in order of similarity.
pub fn raise_reread(candidates: &mut [Candidate], reread: impl IntoIterator<Item = (usize, f32)>) {
    let mut moved = false;
    for (position, read) in reread {
        if let Some(candidate) = candidates.get_mut(position)
            && read > candidate.similarity
        {
            candidate.similarity = read;
            moved = true;
        }
    }
    if moved {
        candidates.sort_by(|x, y| y.similarity.total_cmp(&x.similarity));
    }
}

fn from_lookup(lookup: Lookup) -> Decision {
    match lookup {
        Lookup::Hit { answer, similarity } => Decision::Hit {
            candidate: Candidate {
                answer,
                text: String::new(),
                similarity,
            },
            score: None,
        },
        Lookup::Rejected { similarity, why } => Decision::Rejected {
            similarity,
            why: why.label(),
        },
        Lookup::Miss { best } => Decision::Miss { best },
    }
}
