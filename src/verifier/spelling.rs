//! Keyboard slips read as the word they slipped from. "how do i convert a
//! stirng to an integer" after "How do I convert a string to an integer?"
//! is the same question, but to the model "stirng" is three unknown word
//! pieces where "string" was one word: the shipped adapter scores that pair
//! 0.015. Of the development split's texts beside themselves with one or two
//! slips, it passed 44 %; of its paraphrases with a slip, 43 %.
//!
//! So before the verifier reads a pair, a word of one side that the other
//! side lacks, and that is one keyboard slip ([`slip`]) from exactly one word
//! of the other side, is read as that word — when the slipped word is not in
//! the vocabulary as a whole word and the other is, or neither is and both
//! have five letters or more (names: "Shopiffy" / "Shopify"). Two real words
//! are never aligned ("form" / "from", "Iran" / "Iraq" stay the model's), nor
//! a change of the first letter ("React" / "Preact", "typical" / "atypical"),
//! nor a letter added at the end but a doubled one ("JSON" / "JSONB"), nor a
//! replaced letter that is not a neighbouring key ("abduction" /
//! "adduction", "butane" / "butene"). The model then reads the pair as if
//! the slip had not been made; what else differs is still its to judge.

use std::collections::{BTreeSet, HashMap};

const ROWS: [&[u8]; 3] = [b"qwertyuiop", b"asdfghjkl", b"zxcvbnm"];

/// The (row, column) of a lower-case letter on a QWERTY keyboard.
fn key(c: u8) -> Option<(usize, usize)> {
    ROWS.iter()
        .enumerate()
        .find_map(|(r, row)| row.iter().position(|&k| k == c).map(|i| (r, i)))
}

/// Neighbouring keys: beside each other on a row, or touching across rows
/// (each row sits about half a key right of the one above).
fn near(p: u8, q: u8) -> bool {
    let (Some((r1, c1)), Some((r2, c2))) = (key(p), key(q)) else {
        return false;
    };
    if r1 == r2 {
        c1.abs_diff(c2) == 1
    } else if r2 == r1 + 1 {
        c2 == c1 || c2 + 1 == c1
    } else if r1 == r2 + 1 {
        c1 == c2 || c1 + 1 == c2
    } else {
        false
    }
}

/// Whether `y` is `x` with one keyboard slip, or `x` is `y` with one (both
/// lower-case ASCII letters): two neighbouring letters transposed, a letter
/// replaced by a neighbouring key, or a letter left out or typed in the
/// middle (at the end only a doubled one). The first letter is never the
/// slip.
pub fn slip(x: &str, y: &str) -> bool {
    let (x, y) = (x.as_bytes(), y.as_bytes());
    if x.is_empty() || y.is_empty() || x[0] != y[0] || x == y {
        return false;
    }
    if x.len() == y.len() {
        let diff: Vec<usize> = (0..x.len()).filter(|&i| x[i] != y[i]).collect();
        return match diff[..] {
            [i] => near(x[i], y[i]),
            [i, j] => j == i + 1 && x[i] == y[j] && x[j] == y[i],
            _ => false,
        };
    }
    let (long, short) = if x.len() > y.len() { (x, y) } else { (y, x) };
    if long.len() != short.len() + 1 {
        return false;
    }
    let i = (0..short.len())
        .find(|&k| long[k] != short[k])
        .unwrap_or(short.len());
    if long[i + 1..] != short[i..] {
        return false;
    }
    i + 1 < long.len() || long[i - 1] == long[i]
}

/// The ASCII-alphabetic words of `text` (runs of letters, digits and `_`
/// made of ASCII letters only), lower-cased.
fn words(text: &str) -> BTreeSet<String> {
    runs(text)
        .filter(|(_, w)| w.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(|(_, w)| w.to_ascii_lowercase())
        .collect()
}

/// Runs of word characters (Unicode letters, digits, `_`) with their byte
/// offsets.
fn runs(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some(&(_, c)) = rest.peek() {
            if c.is_alphanumeric() || c == '_' {
                break;
            }
            rest.next();
        }
        let (start, _) = *rest.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = rest.peek() {
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        Some((start, &text[start..end]))
    })
}

/// `text` with each word (case-insensitive) in `swap` replaced.
fn rewrite(text: &str, swap: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, word) in runs(text) {
        if let Some(to) = swap.get(&word.to_ascii_lowercase()) {
            out.push_str(&text[last..start]);
            out.push_str(to);
            last = start + word.len();
        }
    }
    out.push_str(&text[last..]);
    out
}

/// The pair with its keyboard slips read as the words they slipped from
/// (module docs); `None` when there is none. `known`: whether a lower-case
/// word is a whole word of the vocabulary.
pub fn align(a: &str, b: &str, known: impl Fn(&str) -> bool) -> Option<(String, String)> {
    let (wa, wb) = (words(a), words(b));
    let (mut swap_a, mut swap_b) = (HashMap::new(), HashMap::new());
    for y in wb.difference(&wa).filter(|y| y.len() >= 4) {
        let mut found = wa.iter().filter(|x| x.len() >= 4 && slip(x, y));
        let (Some(x), None) = (found.next(), found.next()) else {
            continue;
        };
        let (x_known, y_known) = (known(x), known(y));
        if !y_known && (x_known || x.len().min(y.len()) >= 5) {
            swap_b.insert(y.clone(), x.clone());
        } else if y_known && !x_known && !wb.contains(x) {
            swap_a.insert(x.clone(), y.clone());
        }
    }
    if swap_a.is_empty() && swap_b.is_empty() {
        return None;
    }
    Some((rewrite(a, &swap_a), rewrite(b, &swap_b)))
}
