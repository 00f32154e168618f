//! The verifier's input: `[CLS] a [SEP] b [SEP]` with token types 0 for the
//! first segment and 1 for the second, each text cut to `MAX_TEXT_BYTES`
//! before tokenizing and the longer side trimmed until the pair fits
//! `MAX_PAIR_TOKENS`. Must match `tools/verifier/train.py` token for token.

use tokenizers::Tokenizer;

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

/// Encodes pairs with the base model's WordPiece vocabulary.
pub struct Encoder {
    tokenizer: Tokenizer,
    cls: u32,
    sep: u32,
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
        Ok(Self {
            tokenizer,
            cls,
            sep,
        })
    }

    fn ids(&self, text: &str) -> Result<Vec<u32>, String> {
        let encoding = self
            .tokenizer
            .encode(clip(text), false)
            .map_err(|e| e.to_string())?;
        Ok(encoding.get_ids().to_vec())
    }

    pub fn pair(&self, a: &str, b: &str) -> Result<Pair, String> {
        let (mut x, mut y) = (self.ids(a)?, self.ids(b)?);
        let budget = MAX_PAIR_TOKENS - 3;
        while x.len() + y.len() > budget {
            if x.len() >= y.len() {
                x.pop();
            } else {
                y.pop();
            }
        }
        let mut ids = Vec::with_capacity(x.len() + y.len() + 3);
        ids.push(self.cls);
        ids.extend(&x);
        ids.push(self.sep);
        ids.extend(&y);
        ids.push(self.sep);
        let mut types = vec![0u32; x.len() + 2];
        types.resize(ids.len(), 1);
        Ok(Pair { ids, types })
    }
}

/// `text` as the verifier reads it (cut to `MAX_TEXT_BYTES`).
pub fn clip(text: &str) -> &str {
    cap(text, MAX_TEXT_BYTES)
}
