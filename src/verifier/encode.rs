//! The verifier's input: `[CLS] a [SEP] b [SEP]` with token types 0 for the
//! first segment and 1 for the second. A pair that fits `MAX_PAIR_TOKENS` is
//! read whole and must match `tools/verifier/train.py` token for token. Two
//! texts that tokenize alike are the same prompt, whatever the model would
//! say of them ([`Reading::Same`]). A keyboard slip is read as the word it
//! slipped from ([`super::spelling`]). A longer pair is read where the two texts
//! differ ([`differing_sentences`]); a pair whose difference does not fit, or
//! with a text longer than `MAX_TEXT_BYTES`, is not read at all.

use tokenizers::Tokenizer;

use super::spelling;
use crate::embedding::cap;

/// Bytes of each text read (before tokenizing).
pub const MAX_TEXT_BYTES: usize = 2048;
/// Tokens of a pair, the three special tokens included.
pub const MAX_PAIR_TOKENS: usize = 256;

/// One encoded pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub ids: Vec<u32>,
    pub types: Vec<u32>,
}

/// How the verifier reads a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The model reads these tokens.
    Pair(Pair),
    /// The two texts tokenize alike (the vocabulary is uncased), but for
    /// terminal punctuation that one of them lacks: the same prompt to the
    /// model, which scores such pairs erratically — 82 of 2,993 training
    /// positives below the shipped cut-off, "What does this sentence mean?"
    /// against itself at 0.03 — so it is not asked.
    Same,
    /// Too long to read whole: never a hit.
    Unreadable,
}

/// Encodes pairs with the base model's WordPiece vocabulary.
pub struct Encoder {
    tokenizer: Tokenizer,
    cls: u32,
    sep: u32,
    /// `.`, `?` and `!`.
    ends: [u32; 3],
}

impl Encoder {
    /// `tokenizer` with its own truncation and padding switched off (the
    /// pair is assembled here).
    pub fn new(mut tokenizer: Tokenizer) -> Result<Self, String> {
        tokenizer.with_truncation(None).map_err(|e| e.to_string())?;
        tokenizer.with_padding(None);
        let id = |token: &str| {
            tokenizer
                .token_to_id(token)
                .ok_or_else(|| format!("the tokenizer has no {token} token"))
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        let ends = [id(".")?, id("?")?, id("!")?];
        Ok(Self {
            tokenizer,
            cls,
            sep,
            ends,
        })
    }

    fn ids(&self, text: &str) -> Result<Vec<u32>, String> {
        let encoding = self
            .tokenizer
            .encode(clip(text), false)
            .map_err(|e| e.to_string())?;
        Ok(encoding.get_ids().to_vec())
    }

    /// How the verifier reads `(a, b)`: whole when the pair fits
    /// `MAX_PAIR_TOKENS`; else the sentences where the two differ, when those
    /// fit (the rest is the same on both sides, so it cannot make one answer
    /// wrong for the other); else not at all.
    pub fn read(&self, a: &str, b: &str) -> Result<Reading, String> {
        if a.len() > MAX_TEXT_BYTES || b.len() > MAX_TEXT_BYTES {
            return Ok(Reading::Unreadable);
        }
        let aligned = spelling::align(a, b, |w| self.tokenizer.token_to_id(w).is_some());
        let (a, b) = aligned
            .as_ref()
            .map_or((a, b), |(a, b)| (a.as_str(), b.as_str()));
        let budget = MAX_PAIR_TOKENS - 3;
        let (x, y) = (self.ids(a)?, self.ids(b)?);
        if x.len() + y.len() > budget {
            let (a, b) = differing_sentences(a, b);
            let (x, y) = (self.ids(a)?, self.ids(b)?);
            return Ok(if x.len() + y.len() > budget {
                Reading::Unreadable
            } else {
                self.assemble(&x, &y)
            });
        }
        Ok(self.assemble(&x, &y))
    }

    /// Whether `(a, b)` is the same prompt once its keyboard slips are read
    /// as the words they slipped from: a prompt typed again with a slip,
    /// whose embedding can fall below the prefilter ("Explain how vacines
    /// work." after "Explain how vaccines work.": cosine 0.50) although the
    /// verifier would score it 1. Cheap (word sets) unless a slip is found;
    /// only then are the two texts tokenized.
    pub fn same_but_for_slips(&self, a: &str, b: &str) -> bool {
        let Some((a, b)) = self.aligned(a, b) else {
            return false;
        };
        matches!((self.ids(&a), self.ids(&b)), (Ok(x), Ok(y)) if self.same(&x, &y))
    }

    /// `(a, b)` with its keyboard slips read as the words they slipped from
    /// ([`spelling::align`]); `None` when it has none or a text is over
    /// `MAX_TEXT_BYTES`.
    pub fn aligned(&self, a: &str, b: &str) -> Option<(String, String)> {
        if a.len() > MAX_TEXT_BYTES || b.len() > MAX_TEXT_BYTES {
            return None;
        }
        spelling::align(a, b, |w| self.tokenizer.token_to_id(w).is_some())
    }

    fn assemble(&self, x: &[u32], y: &[u32]) -> Reading {
        if self.same(x, y) {
            return Reading::Same;
        }
        let mut ids = Vec::with_capacity(x.len() + y.len() + 3);
        ids.push(self.cls);
        ids.extend(x);
        ids.push(self.sep);
        ids.extend(y);
        ids.push(self.sep);
        let mut types = vec![0u32; x.len() + 2];
        types.resize(ids.len(), 1);
        Reading::Pair(Pair { ids, types })
    }

    /// The same tokens, but for terminal punctuation one side lacks.
    fn same(&self, x: &[u32], y: &[u32]) -> bool {
        let ends = |t: &[u32]| t.iter().rev().take_while(|i| self.ends.contains(i)).count();
        let ((x, x_end), (y, y_end)) =
            (x.split_at(x.len() - ends(x)), y.split_at(y.len() - ends(y)));
        x == y && (x_end == y_end || x_end.is_empty() || y_end.is_empty())
    }
}

/// The sentences (or lines) of `a` and `b` from the one where they first
/// differ to the one where they last differ: what is before and after is the
/// same text on both sides. Two long prompts that share a pasted text and ask
/// different questions of it read as the two questions; a change inside the
/// pasted text reads as the two versions of its sentence. Until stop 37 a
/// pair longer than the window was cut from the end of its longer side, so
/// two such prompts read as the same stretch of the pasted text.
pub fn differing_sentences<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    let prefix = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    let room = a.len().min(b.len()) - prefix;
    let mut suffix = 0;
    for (x, y) in a[prefix..].chars().rev().zip(b[prefix..].chars().rev()) {
        if x != y || suffix + x.len_utf8() > room {
            break;
        }
        suffix += x.len_utf8();
    }
    // The start of the sentence holding the first difference (the prefix is
    // shared, so it is the same offset in both texts).
    let start = (0..=prefix)
        .rev()
        .find(|&j| a.is_char_boundary(j) && sentence_starts(a.as_bytes(), j))
        .unwrap_or(0);
    let end = |t: &'a str| {
        (t.len() - suffix..=t.len())
            .find(|&k| t.is_char_boundary(k) && sentence_ends(t.as_bytes(), k))
            .unwrap_or(t.len())
    };
    (a[start..end(a)].trim(), b[start..end(b)].trim())
}

fn sentence_starts(t: &[u8], j: usize) -> bool {
    j == 0
        || t[j - 1] == b'\n'
        || (j >= 2 && t[j - 1].is_ascii_whitespace() && matches!(t[j - 2], b'.' | b'?' | b'!'))
}

fn sentence_ends(t: &[u8], k: usize) -> bool {
    k == t.len()
        || t[k] == b'\n'
        || (k > 0 && matches!(t[k - 1], b'.' | b'?' | b'!') && t[k].is_ascii_whitespace())
}

/// `text` as the verifier reads it (cut to `MAX_TEXT_BYTES`).
pub fn clip(text: &str) -> &str {
    cap(text, MAX_TEXT_BYTES)
}
