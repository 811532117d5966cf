//! Token counting behind a small trait. The tiktoken encoders are built once per process;
//! counts are cached by content hash, so a section is counted once however many packs use it.
//! Text is encoded as ordinary text: `<|endoftext|>` inside a doc is just characters.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tiktoken_rs::CoreBPE;

use crate::error::Error;

/// Cached counts kept per encoder before the cache is cleared (bounds memory on huge plans).
const CACHE_LIMIT: usize = 1 << 20;

#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub enum Encoding {
    #[default]
    #[serde(rename = "o200k_base")]
    O200kBase,
    #[serde(rename = "cl100k_base")]
    Cl100kBase,
}

impl Encoding {
    pub const ALL: [Encoding; 2] = [Encoding::O200kBase, Encoding::Cl100kBase];

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Encoding {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "o200k_base" | "o200k" => Ok(Encoding::O200kBase),
            "cl100k_base" | "cl100k" => Ok(Encoding::Cl100kBase),
            other => Err(Error::invalid(
                "encoding",
                format!(
                    "`{}` is not a supported encoding (o200k_base, cl100k_base)",
                    other.chars().take(64).collect::<String>()
                ),
            )),
        }
    }
}

/// Counts tokens of text. Implementations must be deterministic.
pub trait TokenCounter: Send + Sync {
    fn count(&self, text: &str) -> usize;
    fn encoding(&self) -> Encoding;
}

/// tiktoken's BPE with a content-hash cache.
pub struct Tiktoken {
    encoding: Encoding,
    bpe: &'static CoreBPE,
    cache: Mutex<HashMap<[u8; 16], u32>>,
}

impl Tiktoken {
    /// The shared counter for an encoding (built on first use, then reused).
    pub fn get(encoding: Encoding) -> &'static Tiktoken {
        static O200K: OnceLock<Tiktoken> = OnceLock::new();
        static CL100K: OnceLock<Tiktoken> = OnceLock::new();
        let (cell, bpe): (_, fn() -> &'static CoreBPE) = match encoding {
            Encoding::O200kBase => (&O200K, tiktoken_rs::o200k_base_singleton),
            Encoding::Cl100kBase => (&CL100K, tiktoken_rs::cl100k_base_singleton),
        };
        cell.get_or_init(|| Tiktoken {
            encoding,
            bpe: bpe(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Counts without the cache (what the cache stores; used by benchmarks).
    pub fn count_uncached(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }
}

impl TokenCounter for Tiktoken {
    fn count(&self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        let mut key = [0u8; 16];
        key.copy_from_slice(&blake3::hash(text.as_bytes()).as_bytes()[..16]);
        if let Ok(cache) = self.cache.lock()
            && let Some(&n) = cache.get(&key)
        {
            return n as usize;
        }
        let n = self.count_uncached(text);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key, n as u32);
        }
        n
    }

    fn encoding(&self) -> Encoding {
        self.encoding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_parse_and_count_differently() {
        assert_eq!(
            "o200k_base".parse::<Encoding>().ok(),
            Some(Encoding::O200kBase)
        );
        assert_eq!(
            "cl100k_base".parse::<Encoding>().ok(),
            Some(Encoding::Cl100kBase)
        );
        let err = "gpt2".parse::<Encoding>().unwrap_err();
        assert_eq!(err.field(), Some("encoding"));
        let text = "Provision worker runtime settings per environment.";
        let o = Tiktoken::get(Encoding::O200kBase).count(text);
        let c = Tiktoken::get(Encoding::Cl100kBase).count(text);
        assert!(o > 3 && c > 3);
        assert_eq!(Tiktoken::get(Encoding::O200kBase).count(""), 0);
    }

    #[test]
    fn special_tokens_are_plain_text_and_the_cache_agrees() {
        let t = Tiktoken::get(Encoding::O200kBase);
        let text = "before <|endoftext|> after";
        // As ordinary text the marker is several tokens, not one special token.
        assert!(t.count(text) > 4);
        assert_eq!(t.count(text), t.count_uncached(text));
        assert_eq!(t.count(text), t.count(text));
    }
}
