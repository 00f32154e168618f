//! The verification stage of an L2 hit: embeddings score near-misses above
//! 0.97 when one number, one negation, the direction or a named entity
//! changes ("3 eggs"/"4 eggs", "can I"/"can't I", "Celsius to Fahrenheit"/
//! "Fahrenheit to Celsius", "Paris to Rome"/"Paris to Milan"). A candidate
//! must pass every guard; each guard is cheap and reports why it refused.
//! The `question` guard refuses another leading question word: "When did
//! the Berlin Wall fall?" / "Why did the Berlin Wall fall?". The `antonyms`
//! guard refuses a word swapped for its antonym ("hard" / "soft yolk",
//! "raise" / "lower the pH") from a WordNet list shipped with the verifier.
//! What each guard costs in recall on labelled pairs is measured by the
//! evaluation command (README, "Semantic quality").

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use crate::config::Guard;

/// Why a candidate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Numbers,
    Negation,
    Direction,
    Entities,
    Question,
    Antonyms,
}

impl Rejection {
    pub fn label(self) -> &'static str {
        match self {
            Self::Numbers => "numbers",
            Self::Negation => "negation",
            Self::Direction => "direction",
            Self::Entities => "entities",
            Self::Question => "question",
            Self::Antonyms => "antonyms",
        }
    }
}

/// Which guards run (all by default; the evaluation toggles them).
#[derive(Debug, Clone, Copy)]
pub struct Guards {
    pub numbers: bool,
    pub negation: bool,
    pub direction: bool,
    pub entities: bool,
    /// Another leading question word (`Guard::Question`).
    pub question: bool,
    /// A word swapped for its antonym (`Guard::Antonyms`; a model-mode veto,
    /// not one of the `rules` mode's guards).
    pub antonyms: bool,
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            numbers: true,
            negation: true,
            direction: true,
            entities: true,
            question: true,
            antonyms: false,
        }
    }
}

impl Guards {
    pub fn none() -> Self {
        Self {
            numbers: false,
            negation: false,
            direction: false,
            entities: false,
            question: false,
            antonyms: false,
        }
    }

    /// Only the named guards.
    pub fn only(names: &[Guard]) -> Self {
        let has = |g: Guard| names.contains(&g);
        Self {
            numbers: has(Guard::Numbers),
            negation: has(Guard::Negation),
            direction: has(Guard::Direction),
            entities: has(Guard::Names),
            question: has(Guard::Question),
            antonyms: has(Guard::Antonyms),
        }
    }

    /// `Ok` when `query` may be answered with the answer cached for `cached`.
    pub fn check(&self, query: &str, cached: &str) -> Result<(), Rejection> {
        let (q, c) = (Text::new(query), Text::new(cached));
        if self.numbers && numbers_differ(&q, &c) {
            return Err(Rejection::Numbers);
        }
        if self.negation && q.negated() != c.negated() {
            return Err(Rejection::Negation);
        }
        if self.direction && direction_flipped(&q, &c) {
            return Err(Rejection::Direction);
        }
        if self.entities && (q.names_missing_from(&c) || c.names_missing_from(&q)) {
            return Err(Rejection::Entities);
        }
        if self.question && questions_differ(&q, &c) {
            return Err(Rejection::Question);
        }
        if self.antonyms && antonym_swapped(&q, &c) {
            return Err(Rejection::Antonyms);
        }
        Ok(())
    }
}

const NEGATIONS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "without",
    "cannot", "cant", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont",
    "wouldnt", "shouldnt", "couldnt", "hasnt", "havent", "hadnt", "mustnt",
];

/// Words that make word order carry meaning, each with the role it gives
/// what follows it: "from A to B", "A into B", "A than B", "A got hit by B".
/// Words of one role are the same marker ("to" and "into").
const DIRECTIONAL: &[(&str, Marker)] = &[
    ("to", Marker::To),
    ("into", Marker::To),
    ("onto", Marker::To),
    ("towards", Marker::To),
    ("from", Marker::From),
    ("than", Marker::Than),
    ("before", Marker::Before),
    ("after", Marker::After),
    ("by", Marker::By),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    To,
    From,
    Than,
    Before,
    After,
    By,
}

fn marker(word: &str) -> Option<Marker> {
    DIRECTIONAL
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, m)| *m)
}

const NUMBER_WORDS: &[(&str, &str)] = &[
    ("zero", "0"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("twenty", "20"),
    ("hundred", "100"),
    ("thousand", "1000"),
    ("million", "1000000"),
    ("first", "1st"),
    ("second", "2nd"),
    ("third", "3rd"),
];

/// Words that name a count of a unit: "over the past decade" is "in the
/// last ten years", "a dozen eggs" is "12 eggs". They stand in for their
/// number only where the other text has that number and this one lacks it,
/// so "Which decade had the best movies?" still reads as no number at all.
const COUNT_WORDS: &[(&str, &str)] = &[("decade", "10"), ("dozen", "12"), ("century", "100")];

/// The texts' numbers differ, once a number of one side that the other
/// names by a count word ("ten years" / "a decade") is set aside.
fn numbers_differ(q: &Text, c: &Text) -> bool {
    let (mut q_only, mut c_only) = (q.numbers(), c.numbers());
    if q_only == c_only {
        return false;
    }
    // The multiset difference, both ways.
    q_only.retain(|n| match c_only.iter().position(|m| m == n) {
        Some(i) => {
            c_only.remove(i);
            false
        }
        None => true,
    });
    !(named_by_count_words(&q_only, c) && named_by_count_words(&c_only, q))
}

/// Every number of `numbers` is named by a count word of `other`, each
/// count word standing in for one number ("10 and 10" / "a decade" differ).
fn named_by_count_words(numbers: &[String], other: &Text) -> bool {
    let mut counts = other.count_words();
    numbers
        .iter()
        .all(|n| match counts.iter().position(|m| m == n) {
            Some(i) => {
                counts.remove(i);
                true
            }
            None => false,
        })
}

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "do", "does", "did", "i", "you",
    "he", "she", "it", "we", "they", "my", "your", "his", "her", "its", "our", "their", "me", "of",
    "in", "on", "at", "for", "with", "by", "and", "or", "what", "which", "who", "whom", "how",
    "why", "when", "where", "can", "could", "should", "would", "will", "shall", "may", "might",
    "must", "there", "this", "that", "these", "those", "as", "if", "so", "about", "any", "some",
    "get", "best", "way", "ways", "good", "some", "one", "someone", "things",
];

/// What a question asks for, read off its opening words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asks {
    Time,
    Reason,
    Person,
    Place,
    /// "How did X …", "How do birds …": the way something happens.
    Manner,
}

impl Asks {
    /// Two openings that ask for different things. A manner and a reason
    /// are one question often enough ("How did the dinosaurs die out?" /
    /// "Why did …") to be left to the verifier.
    fn differs(self, other: Asks) -> bool {
        let pair = |a, b| (self, other) == (a, b) || (self, other) == (b, a);
        self != other && !pair(Asks::Manner, Asks::Reason)
    }
}

/// The auxiliaries after which "how" asks for a manner ("How did …").
const MANNER_AUXILIARIES: &[&str] = &[
    "did", "was", "were", "does", "do", "is", "are", "has", "have", "had",
];

/// The subjects that make "how + auxiliary" a task rather than a manner
/// ("How do I …", "How does one …": a request for steps, which crosses
/// every other question word in real rewordings).
const TASK_SUBJECTS: &[&str] = &["i", "you", "we", "one", "u", "my", "your", "our"];

/// Openings of more than one word, each naming what it asks: "What year
/// was …" asks a time as "When was …" does, "How come …" a reason.
const QUESTION_PHRASES: &[(&[&str], Asks)] = &[
    (&["at", "what", "point"], Asks::Time),
    (&["in", "what", "year"], Asks::Time),
    (&["in", "which", "year"], Asks::Time),
    (&["how", "long", "ago"], Asks::Time),
    (&["for", "what", "reason"], Asks::Reason),
    (&["what", "year"], Asks::Time),
    (&["what", "time"], Asks::Time),
    (&["what", "date"], Asks::Time),
    (&["what", "day"], Asks::Time),
    (&["what", "month"], Asks::Time),
    (&["how", "come"], Asks::Reason),
    (&["what", "made"], Asks::Reason),
    (&["what", "caused"], Asks::Reason),
];

/// What a text's leading question word asks — a time, a reason, a person,
/// a place or a manner ("How did X …", "How do birds …") — or `None`: "how"
/// before a task ("How do I …") or a quantity ("How much …") crosses the
/// others in real rewordings ("Why am I getting a 502 from Docker?" / "How
/// do I fix a 502 in Docker?", "Where do I change my password?" / "How do I
/// change …"), and "what", "which", "did", "is" ask nothing a word names.
/// Two question words joined ("When and why do …") ask both, and a text of
/// several questions asks more than its first: `None`.
fn asks(text: &Text) -> Option<Asks> {
    let w = &text.words;
    if text.several_questions || w.get(1).is_some_and(|x| x == "and" || x == "or") {
        return None;
    }
    for (phrase, asks) in QUESTION_PHRASES {
        if w.len() >= phrase.len() && w.iter().zip(phrase.iter()).all(|(a, b)| a == b) {
            return Some(*asks);
        }
    }
    match w.first()?.as_str() {
        "when" => Some(Asks::Time),
        "why" => Some(Asks::Reason),
        "who" | "whom" | "whose" => Some(Asks::Person),
        "where" => Some(Asks::Place),
        "how"
            if w.get(1)
                .is_some_and(|x| MANNER_AUXILIARIES.contains(&x.as_str()))
                && w.get(2)
                    .is_some_and(|x| !TASK_SUBJECTS.contains(&x.as_str())) =>
        {
            Some(Asks::Manner)
        }
        _ => None,
    }
}

/// Both texts open with a question word and they ask for different things:
/// "When did the Titanic sink?" / "Why did the Titanic sink?".
fn questions_differ(q: &Text, c: &Text) -> bool {
    matches!((asks(q), asks(c)), (Some(a), Some(b)) if a.differs(b))
}

/// A question split into words, keeping what the guards need.
struct Text {
    /// Lower-cased words with apostrophes dropped ("can't" → "cant").
    words: Vec<String>,
    /// The same words without a possessive "'s" ("the buyer's" → "buyer"),
    /// so an owner and a doer are one word for the direction guard.
    roots: Vec<String>,
    /// Words that start with a capital letter, not sentence-initial (lower-cased).
    capitalised: Vec<String>,
    /// A question mark with words after it: more than one question.
    several_questions: bool,
}

impl Text {
    fn new(text: &str) -> Self {
        let mut words = Vec::new();
        let mut roots = Vec::new();
        let mut capitalised = Vec::new();
        let mut sentence_start = true;
        for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’' || c == '.'))
        {
            let trimmed = raw.trim_matches(|c: char| c == '.' || c == '\'' || c == '’');
            let ends_sentence = raw.ends_with('.') && !trimmed.chars().any(|c| c.is_ascii_digit());
            if trimmed.is_empty() {
                continue;
            }
            let word: String = trimmed
                .chars()
                .filter(|c| *c != '\'' && *c != '’')
                .flat_map(char::to_lowercase)
                .collect();
            if !sentence_start
                && trimmed.chars().next().is_some_and(char::is_uppercase)
                && word != "i"
            {
                capitalised.push(word.clone());
            }
            sentence_start = ends_sentence;
            let possessive = ["'s", "’s", "'S", "’S"]
                .iter()
                .any(|suffix| trimmed.ends_with(suffix));
            roots.push(if possessive {
                word[..word.len() - 1].to_string()
            } else {
                word.clone()
            });
            words.push(word);
        }
        let several_questions = text
            .split_once('?')
            .is_some_and(|(_, rest)| rest.chars().any(char::is_alphanumeric));
        Self {
            words,
            roots,
            capitalised,
            several_questions,
        }
    }

    /// Numbers (digits, or number words) as a sorted multiset, without
    /// one: "one" is most often the article or the generic pronoun ("how
    /// many ounces in one cup" / "… in a cup", "How does one learn Rust?"),
    /// so the word and its digit are left out on both sides; a 1 that became
    /// another number still differs ("1 egg" / "2 eggs").
    fn numbers(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .words
            .iter()
            .filter_map(|w| {
                if w.chars().any(|c| c.is_ascii_digit()) {
                    return Some(w.trim_end_matches('.').to_string());
                }
                NUMBER_WORDS
                    .iter()
                    .find(|(name, _)| name == w)
                    .map(|(_, n)| n.to_string())
            })
            .filter(|n| n != "1")
            .collect();
        out.sort();
        out
    }

    /// The numbers this text names by a count word ("decade" → 10).
    fn count_words(&self) -> Vec<&'static str> {
        self.words
            .iter()
            .filter_map(|w| COUNT_WORDS.iter().find(|(name, _)| name == w))
            .map(|(_, n)| *n)
            .collect()
    }

    /// An odd number of negations.
    fn negated(&self) -> bool {
        let count = self
            .words
            .iter()
            .filter(|w| NEGATIONS.contains(&w.as_str()))
            .count();
        count % 2 == 1
    }

    /// A name (capitalised word) of this text that the other does not
    /// mention at all, in any case: "Rome" against "… to Milan".
    fn names_missing_from(&self, other: &Text) -> bool {
        self.capitalised
            .iter()
            .any(|name| !other.words.contains(name))
    }

    /// Each word and where it first stands.
    fn first_positions(&self) -> HashMap<&str, usize> {
        let mut at = HashMap::new();
        for (i, w) in self.words.iter().enumerate() {
            at.entry(w.as_str()).or_insert(i);
        }
        at
    }

    fn content_positions(&self) -> BTreeMap<&str, Vec<usize>> {
        let mut positions: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, w) in self.roots.iter().enumerate() {
            if !STOPWORDS.contains(&w.as_str()) && marker(w).is_none() {
                positions.entry(w.as_str()).or_default().push(i);
            }
        }
        positions
    }

    /// The phrase each marker governs: the words after it (past any
    /// preposition right after it: "than in Munich") up to the next marker,
    /// preposition or conjunction — "to the old domain", "from Los Angeles".
    fn phrases(&self) -> Vec<Phrase> {
        let ends = |w: &str| PHRASE_ENDS.contains(&w) || marker(w).is_some();
        let mut out = Vec::new();
        for (at, w) in self.words.iter().enumerate() {
            let Some(kind) = marker(w) else { continue };
            let mut start = at + 1;
            while start < self.words.len() && PHRASE_ENDS.contains(&self.words[start].as_str()) {
                start += 1;
            }
            let mut end = start;
            while end < self.words.len() && !ends(&self.words[end]) {
                end += 1;
            }
            let head = (start..end).find(|&k| !STOPWORDS.contains(&self.roots[k].as_str()));
            out.push(Phrase {
                kind,
                at,
                words: start..end,
                head,
            });
        }
        out
    }
}

/// Words that end a marker's phrase.
const PHRASE_ENDS: &[&str] = &[
    "in", "on", "at", "for", "with", "about", "over", "under", "via", "using", "without", "within",
    "during", "per", "and", "or", "but",
];

/// A marker and the words it governs.
struct Phrase {
    kind: Marker,
    /// The marker's position.
    at: usize,
    words: std::ops::Range<usize>,
    /// Its first content word ("to my phone" → phone).
    head: Option<usize>,
}

/// The positions (in `q`, in `c`) of each content word both texts hold once.
fn shared_once(q: &Text, c: &Text) -> Vec<(usize, usize)> {
    let (qp, cp) = (q.content_positions(), c.content_positions());
    qp.iter()
        .filter_map(|(w, qs)| {
            let cs = cp.get(w)?;
            (qs.len() == 1 && cs.len() == 1).then(|| (qs[0], cs[0]))
        })
        .collect()
}

/// The direction of the two texts differs, in one of two ways:
/// - a shared word heads a "to" phrase in one and a "from" phrase in the
///   other: "copy files from Google Drive to my phone" / "copy files to
///   Google Drive from my phone";
/// - two shared content words (once each) stand in opposite orders, the
///   second in the phrase of the same kind of marker in both: "Celsius to
///   Fahrenheit" / "Fahrenheit to Celsius", "A got hit by B" / "B got hit by
///   A".
///
/// A reordering that keeps each word's role passes ("from A to B" / "to B
/// from A", "Are raw oysters safe to eat?" / "Is it safe to eat raw
/// oysters?", "convert a string to lowercase in Go" / "Go code to convert a
/// string to lowercase"); what else word order changes is the verifier's to
/// read.
fn direction_flipped(q: &Text, c: &Text) -> bool {
    let shared = shared_once(q, c);
    if shared.is_empty() {
        return false;
    }
    let (qph, cph) = (q.phrases(), c.phrases());
    let heads = |phrases: &[Phrase], p: usize, kind: Marker| {
        phrases.iter().any(|x| x.kind == kind && x.head == Some(p))
    };
    let swapped_end = shared.iter().any(|&(a, b)| {
        (heads(&qph, a, Marker::To) && heads(&cph, b, Marker::From))
            || (heads(&qph, a, Marker::From) && heads(&cph, b, Marker::To))
    });
    swapped_end
        || shared.iter().enumerate().any(|(i, a)| {
            shared[i + 1..].iter().any(|b| {
                // `first` comes first in the query, second in the cached text.
                let (first, second) = if a.0 < b.0 { (a, b) } else { (b, a) };
                first.1 > second.1
                    && qph.iter().any(|x| {
                        first.0 < x.at
                            && x.at < second.0
                            && x.words.contains(&second.0)
                            && cph.iter().any(|y| {
                                y.kind == x.kind
                                    && second.1 < y.at
                                    && y.at < first.1
                                    && y.words.contains(&first.1)
                                    && !converse(
                                        q,
                                        x.at,
                                        [first.0, second.0],
                                        c,
                                        y.at,
                                        [first.1, second.1],
                                    )
                            })
                    })
            })
        })
}

/// Words that grade a comparison ("more popular than", "less crowded than").
const GRADES: &[&str] = &["more", "less", "fewer"];

/// Two comparisons around "than" with their ends swapped and the comparison
/// itself changed — "Is a cheetah faster than a horse?" / "Is a horse slower
/// than a cheetah?", "Is Rust less popular than Perl?" / "Is Perl more popular
/// than Rust?" — ask the same question in its converse form (or another one):
/// what they ask is the verifier's to read, not a flipped direction. The
/// comparison is the word right before "than" with any grading word up to two
/// words before it; when that word is one of the swapped ones ("live in Atlanta
/// than in Munich") there is no comparison word to read and the veto stands.
fn converse(q: &Text, qa: usize, qs: [usize; 2], c: &Text, ca: usize, cs: [usize; 2]) -> bool {
    fn comparison(t: &Text, at: usize, swapped: [usize; 2]) -> Option<Vec<&str>> {
        let word = at.checked_sub(1).filter(|w| !swapped.contains(w))?;
        if marker(t.words.get(at)?) != Some(Marker::Than) {
            return None;
        }
        let mut out: Vec<&str> = t.roots[word.saturating_sub(2)..word]
            .iter()
            .map(String::as_str)
            .filter(|w| GRADES.contains(w))
            .collect();
        out.push(t.roots.get(word)?.as_str());
        Some(out)
    }
    match (comparison(q, qa, qs), comparison(c, ca, cs)) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

/// Antonym pairs, one per line (`tools/verifier/antonym_list.py build`:
/// WordNet 3.0's direct antonyms of common adjectives, adverbs and verbs,
/// inflected alike).
const ANTONYM_LIST: &str = include_str!("../../assets/verifier/antonyms.txt");

/// Each word's antonyms (both directions of every pair).
static ANTONYMS: LazyLock<HashMap<&'static str, Vec<&'static str>>> = LazyLock::new(|| {
    let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
    for (a, b) in ANTONYM_LIST
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
    {
        out.entry(a).or_default().push(b);
        out.entry(b).or_default().push(a);
    }
    out
});

/// `other` is `word` with a short ending ("slow" / "slowing").
fn inflects(word: &str, other: &str) -> bool {
    other.starts_with(word) && other.len() - word.len() <= 3
}

/// A word of one text only whose antonym is in the other only: "for a hard
/// yolk" / "for a soft yolk", "raise the pH" / "lower the pH". Not when the
/// text holds the other word in another form ("slowing down so fast" / "slow
/// down so quickly"), nor a converse — two shared words on either side of
/// the antonym, swapped: "Is X shorter than Y?" / "Is Y taller than X?",
/// "How much did X borrow from Y?" / "How much did Y lend X?" ask the same.
/// Linear in the words but for the pairs found (texts are capped before the
/// guards read them).
fn antonym_swapped(q: &Text, c: &Text) -> bool {
    let (qw, cw) = (q.first_positions(), c.first_positions());
    let mut shared = None;
    qw.iter()
        .filter(|(x, _)| !cw.contains_key(*x))
        .any(|(&x, &qa)| {
            ANTONYMS.get(x).into_iter().flatten().any(|&y| {
                let Some(&ca) = cw.get(y).filter(|_| !qw.contains_key(y)) else {
                    return false;
                };
                if q.words.iter().any(|w| inflects(y, w)) || c.words.iter().any(|w| inflects(x, w))
                {
                    return false;
                }
                let shared: &Vec<(usize, usize)> = shared.get_or_insert_with(|| shared_once(q, c));
                let converse = shared.iter().any(|p| {
                    shared
                        .iter()
                        .any(|r| p.0 < qa && qa < r.0 && r.1 < ca && ca < p.1)
                });
                !converse
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, b: &str) -> Result<(), Rejection> {
        Guards::default().check(a, b)
    }

    #[test]
    fn paraphrases_pass() {
        for (a, b) in [
            ("How do I reset my password?", "how can I reset my password"),
            (
                "What is the capital of France?",
                "Which city is the capital of France?",
            ),
            (
                "How to convert Celsius to Fahrenheit?",
                "How do I convert Celsius to Fahrenheit",
            ),
            (
                "Why is Donald Trump so popular?",
                "Why do people like Donald Trump?",
            ),
            (
                "What's the best way to learn Python 3?",
                "How should I learn Python 3?",
            ),
        ] {
            assert_eq!(check(a, b), Ok(()), "{a} / {b}");
        }
    }

    #[test]
    fn changed_numbers_are_refused() {
        assert_eq!(
            check(
                "Can I bake a cake with 3 eggs?",
                "Can I bake a cake with 4 eggs?"
            ),
            Err(Rejection::Numbers)
        );
        assert_eq!(
            check("What's new in Python 3.11?", "What's new in Python 3.12?"),
            Err(Rejection::Numbers)
        );
        assert_eq!(
            check("Is two enough?", "Is three enough?"),
            Err(Rejection::Numbers)
        );
        assert_eq!(
            check(
                "Can I bake a cake with 1 egg?",
                "Can I bake a cake with 2 eggs?"
            ),
            Err(Rejection::Numbers)
        );
        assert_eq!(
            check("Is one enough?", "Is ten enough?"),
            Err(Rejection::Numbers)
        );
    }

    #[test]
    fn one_as_article_or_pronoun_is_not_a_changed_number() {
        for (a, b) in [
            (
                "How many ounces are in a cup?",
                "how many ounces in one cup",
            ),
            ("How does one learn Rust?", "How do I learn Rust?"),
            (
                "Convert 1 mile to kilometers",
                "Convert one mile to kilometers",
            ),
            (
                "How long does it take to walk a mile?",
                "how long does walking one mile take",
            ),
        ] {
            assert_eq!(check(a, b), Ok(()), "{a} / {b}");
        }
    }

    #[test]
    fn negation_is_refused() {
        assert_eq!(
            check(
                "Can I eat eggs while pregnant?",
                "Can't I eat eggs while pregnant?"
            ),
            Err(Rejection::Negation)
        );
        assert_eq!(
            check("Why does my code work?", "Why does my code not work?"),
            Err(Rejection::Negation)
        );
        assert_eq!(
            check("Why doesn't it fail?", "Why does it not fail?"),
            Ok(())
        );
    }

    #[test]
    fn a_swapped_direction_is_refused() {
        assert_eq!(
            check(
                "How do I convert Celsius to Fahrenheit?",
                "How do I convert Fahrenheit to Celsius?"
            ),
            Err(Rejection::Direction)
        );
        assert_eq!(
            check(
                "cheap flights from Paris to Rome",
                "cheap flights from Rome to Paris"
            ),
            Err(Rejection::Direction)
        );
    }

    #[test]
    fn a_count_word_is_its_number() {
        for (a, b) in [
            (
                "Why did Lake Mead shrink over the past decade?",
                "Why did Lake Mead shrink in the last ten years?",
            ),
            ("How much is a dozen eggs?", "How much are 12 eggs?"),
            (
                "Which decade had the best movies?",
                "Which era had the best movies?",
            ),
        ] {
            assert_eq!(check(a, b), Ok(()), "{a} / {b}");
        }
        for (a, b) in [
            ("How much is a dozen eggs?", "How much are 10 eggs?"),
            (
                "What changed over the past decade?",
                "What changed in the last 20 years?",
            ),
            (
                "What changed in 10 or 10 years?",
                "What changed in a decade?",
            ),
        ] {
            assert_eq!(check(a, b), Err(Rejection::Numbers), "{a} / {b}");
        }
    }

    #[test]
    fn a_swapped_role_around_the_same_marker_is_refused() {
        for (a, b) in [
            (
                "What does Mexico export to Germany?",
                "What does Germany export to Mexico?",
            ),
            (
                "Is Oslo more expensive than Rome?",
                "Is Rome more expensive than Oslo?",
            ),
            (
                "Is a cheetah faster than a horse?",
                "Is a horse faster than a cheetah?",
            ),
            (
                "Is Rust less popular than Perl?",
                "Is Perl less popular than Rust?",
            ),
            (
                "What happened after the chef got frightened by the prisoner?",
                "What happened after the prisoner got frightened by the chef?",
            ),
            (
                "How do I turn ounces into grams?",
                "How do I convert grams to ounces?",
            ),
            (
                "What warning did the council get from the landlord?",
                "What warning did the landlord get from the council?",
            ),
            (
                "What led to the buyer's forgiveness by the seller?",
                "What led to the seller's forgiveness by the buyer?",
            ),
            (
                "Does it cost more to live in Atlanta than in Munich?",
                "Does it cost more to live in Munich than in Atlanta?",
            ),
            (
                "How do I copy files from Google Drive to my phone?",
                "How do I copy files to Google Drive from my phone?",
            ),
        ] {
            assert_eq!(check(a, b), Err(Rejection::Direction), "{a} / {b}");
        }
    }

    #[test]
    fn a_reordering_that_keeps_each_role_passes() {
        for (a, b) in [
            (
                "How do I migrate from PHP to Rust?",
                "How can I migrate to Rust from PHP?",
            ),
            (
                "Are raw oysters safe to eat?",
                "Is it safe to eat raw oysters?",
            ),
            (
                "How do I get to Austin the cheapest way?",
                "Which is the cheapest way to reach Austin?",
            ),
            (
                "Should I learn Danish after Czech?",
                "Should I learn Czech before Danish?",
            ),
            (
                "How do I convert a string to lowercase in Go?",
                "Show me Go code to convert a string to lowercase.",
            ),
            (
                "Is it normal for the owl to warn the seal?",
                "Is it normal for the seal to be warned by the owl?",
            ),
            (
                "What are the steps to upgrade Debian to Fedora?",
                "How do I upgrade from Debian to Fedora?",
            ),
            (
                "Which is better to learn, Python or Java?",
                "Which is better to learn, Java or Python?",
            ),
            (
                "Is a cheetah faster than a horse?",
                "Is a horse slower than a cheetah?",
            ),
            (
                "Is Rust less popular than Perl?",
                "Is Perl more popular than Rust?",
            ),
            (
                "Is Linux better than Windows for programming?",
                "For programming, is Windows worse than Linux?",
            ),
        ] {
            assert_eq!(check(a, b), Ok(()), "{a} / {b}");
        }
    }

    #[test]
    fn a_replaced_entity_is_refused() {
        assert_eq!(
            check(
                "Flights from Paris to Rome?",
                "Flights from Paris to Milan?"
            ),
            Err(Rejection::Entities)
        );
        assert_eq!(
            check("Who founded Apple?", "Who founded Microsoft?"),
            Err(Rejection::Entities)
        );
    }

    #[test]
    fn names_written_in_another_case_are_the_same_name() {
        assert_eq!(
            check("How can I learn Python fast?", "how to learn python fast"),
            Ok(())
        );
    }

    /// One guard alone.
    fn only(guard: Guard, a: &str, b: &str) -> Result<(), Rejection> {
        Guards::only(&[guard]).check(a, b)
    }

    fn question(a: &str, b: &str) -> Result<(), Rejection> {
        only(Guard::Question, a, b)
    }

    #[test]
    fn another_leading_question_word_is_refused() {
        for (a, b) in [
            (
                "When did the Berlin Wall fall?",
                "Why did the Berlin Wall fall?",
            ),
            ("Where was Einstein born?", "When was Einstein born?"),
            (
                "Who invented the telephone?",
                "When was the telephone invented?",
            ),
            (
                "What year did the Titanic sink?",
                "Why did the Titanic sink?",
            ),
            ("How come the sky is blue?", "Where is the sky blue?"),
            ("Why was Caesar assassinated?", "Who assassinated Caesar?"),
            // "How" before a subject other than the asker: a manner.
            ("How did Napoleon die?", "When did Napoleon die?"),
            ("How do birds migrate?", "Where do birds migrate?"),
        ] {
            assert_eq!(question(a, b), Err(Rejection::Question), "{a} / {b}");
            assert_eq!(question(b, a), Err(Rejection::Question), "{b} / {a}");
        }
    }

    #[test]
    fn the_same_question_word_or_an_open_one_passes() {
        for (a, b) in [
            // The same thing asked, in other words.
            ("When was Einstein born?", "What year was Einstein born?"),
            (
                "Why did the Berlin Wall fall?",
                "What caused the Berlin Wall to fall?",
            ),
            ("Why is the sky blue?", "How come the sky is blue?"),
            ("Who's the author of Dune?", "Whose novel is Dune?"),
            // "how" crosses the others in real rewordings.
            (
                "Why am I getting a 502 error from Docker?",
                "How do I fix error 502 in Docker?",
            ),
            (
                "Where do I change my password?",
                "How do I change my password?",
            ),
            // No question word names what is asked.
            (
                "Did Google acquire YouTube?",
                "Why did Google acquire YouTube?",
            ),
            (
                "What is the capital of France?",
                "Where is the capital of France?",
            ),
            // A manner and a reason are often one question.
            (
                "How did the dinosaurs die out?",
                "Why did the dinosaurs die out?",
            ),
            // "How" before the asker is a task, before a quantity a measure.
            ("How do I get to the Louvre?", "Where is the Louvre?"),
            ("How long ago did Rome fall?", "When did Rome fall?"),
            // Two question words joined, or two questions, ask both.
            ("When and why do birds migrate?", "Why do birds migrate?"),
            (
                "When did dinosaurs go extinct? How did they go extinct?",
                "How did dinosaurs become extinct?",
            ),
        ] {
            assert_eq!(question(a, b), Ok(()), "{a} / {b}");
        }
    }

    #[test]
    fn the_question_guard_is_a_rules_mode_guard_too() {
        let (a, b) = ("When did Rome fall?", "Why did Rome fall?");
        assert_eq!(check(a, b), Err(Rejection::Question));
    }

    #[test]
    fn a_word_swapped_for_its_antonym_is_refused() {
        for (a, b) in [
            (
                "How long should I boil an egg for a hard yolk?",
                "How long should I boil an egg for a soft yolk?",
            ),
            (
                "How can I raise the pH of my pool?",
                "How can I lower the pH of my pool?",
            ),
            (
                "Is Iran larger than Finland?",
                "Is Iran smaller than Finland?",
            ),
            // The same order, another verb: not a converse.
            (
                "How much did Finland borrow from Meta?",
                "How much did Finland lend Meta?",
            ),
            (
                "Sort SQL results in ascending order",
                "sort sql results in descending order",
            ),
            (
                "Is Kotlin easy to learn?",
                "How difficult is it to learn Kotlin?",
            ),
        ] {
            for (x, y) in [(a, b), (b, a)] {
                assert_eq!(
                    only(Guard::Antonyms, x, y),
                    Err(Rejection::Antonyms),
                    "{x} / {y}"
                );
            }
        }
    }

    #[test]
    fn a_converse_or_another_form_of_the_word_passes() {
        for (a, b) in [
            (
                "Is George Washington shorter than Charles Darwin?",
                "Is Charles Darwin taller than George Washington?",
            ),
            (
                "How much did Intel borrow from Uber?",
                "How much did Uber lend Intel?",
            ),
            (
                "Would chickens lose a fight to tigers?",
                "Would tigers win a fight against chickens?",
            ),
            // "slow" is in both texts, in two forms.
            (
                "Why is my iPad slowing down so fast?",
                "Why does my iPad slow down so quickly?",
            ),
            // Both words on both sides.
            (
                "Is it hot or cold in Oslo in May?",
                "In May, is Oslo cold or hot?",
            ),
            (
                "How do I boil an egg hard?",
                "What's the way to hard-boil an egg?",
            ),
        ] {
            for (x, y) in [(a, b), (b, a)] {
                assert_eq!(only(Guard::Antonyms, x, y), Ok(()), "{x} / {y}");
            }
        }
    }

    #[test]
    fn the_antonym_list_is_read_whole() {
        // Every line a pair, each pair in both directions.
        let lines = ANTONYM_LIST.lines().filter(|l| !l.starts_with('#')).count();
        assert!(lines > 500, "{lines} pairs");
        assert_eq!(ANTONYMS.values().map(Vec::len).sum::<usize>(), 2 * lines);
        assert!(ANTONYMS["soft"].contains(&"hard") && ANTONYMS["hard"].contains(&"soft"));
    }

    #[test]
    fn disabled_guards_let_everything_through() {
        assert_eq!(Guards::none().check("3 eggs", "4 eggs"), Ok(()));
    }
}
