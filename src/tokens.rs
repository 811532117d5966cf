//! Token counting behind a small trait. The tiktoken encoders are built once per process;
//! counts are cached by content hash, so a section is counted once however many packs use it.
//! Text is encoded as ordinary text: `<|endoftext|>` inside a doc is just characters.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use rustc_hash::FxHashMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tiktoken_rs::CoreBPE;

use crate::error::Error;
use crate::sync::lock;

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

    pub(crate) fn as_str(self) -> &'static str {
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
///
/// Counting splits the text into tiktoken's pieces with the `regex` crate (see [`Splitter`])
/// and sums, per piece, the count tiktoken-rs gives that piece alone, remembered per
/// distinct piece: plan text repeats its words, so most pieces cost a lookup, not a BPE run.
pub struct Tiktoken {
    encoding: Encoding,
    bpe: &'static CoreBPE,
    splitter: Option<Splitter>,
    cache: Mutex<HashMap<[u8; 16], u32>>,
    pieces: Mutex<FxHashMap<Box<str>, u32>>,
    /// Entries of `cache` when it was last read from or written to the persisted index.
    persisted: std::sync::atomic::AtomicUsize,
}

static O200K: OnceLock<Tiktoken> = OnceLock::new();
static CL100K: OnceLock<Tiktoken> = OnceLock::new();

/// The persisted index folder whose counts encoders read when built (see
/// [`keep_counts_in`]).
static COUNTS_DIR: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

/// A hash of what decides a count: this file's counting code and the crate version (which
/// pins tiktoken-rs). Counts of another build are not reused.
const COUNTER_ID: u64 = xxhash_rust::const_xxh3::xxh3_64_with_seed(
    include_bytes!("tokens.rs"),
    xxhash_rust::const_xxh3::xxh3_64(env!("CARGO_PKG_VERSION").as_bytes()),
);
const COUNTS_MAGIC: &[u8; 8] = b"SPCOUNT\0";

/// Counts are cached by content hash, so they hold for any plan: from now on encoders
/// start from the counts kept in `dir` (a plan's `.storypack/index/`), and
/// [`persist_counts`] writes what they learned there.
pub(crate) fn keep_counts_in(dir: &std::path::Path) {
    *lock(&COUNTS_DIR) = Some(dir.to_path_buf());
    for cell in [&O200K, &CL100K] {
        if let Some(t) = cell.get() {
            t.import_counts(dir);
        }
    }
}

/// Writes each built encoder's counts to the kept folder when they grew since read or
/// last written (atomically; failures are logged: the counts are never needed).
pub fn persist_counts() {
    let Some(dir) = lock(&COUNTS_DIR).clone() else {
        return;
    };
    for cell in [&O200K, &CL100K] {
        if let Some(t) = cell.get() {
            t.export_counts(&dir);
        }
    }
}

/// Distinct pieces remembered per encoder before that memory is cleared.
const PIECE_LIMIT: usize = 1 << 20;
/// Pieces looked up under one lock of that memory.
const PIECE_BATCH: usize = 256;

/// Pieces of one text waiting to be counted (see [`Tiktoken::count_uncached`]).
struct PieceBatch<'c, 't> {
    counter: &'c Tiktoken,
    pieces: Vec<&'t str>,
    total: usize,
}

impl PieceBatch<'_, '_> {
    fn flush(&mut self) {
        if self.pieces.is_empty() {
            return;
        }
        let known = &self.counter.pieces;
        let mut new: Vec<(&str, u32)> = Vec::new();
        {
            let known = lock(known);
            for &p in &self.pieces {
                match known.get(p) {
                    Some(&n) => self.total += n as usize,
                    None => new.push((p, 0)),
                }
            }
        }
        self.pieces.clear();
        if new.is_empty() {
            return;
        }
        for (p, n) in &mut new {
            *n = self.counter.bpe.encode_ordinary(p).len() as u32;
            self.total += *n as usize;
        }
        let mut known = lock(known);
        if known.len() + new.len() > PIECE_LIMIT {
            known.clear();
        }
        for (p, n) in new {
            known.insert(p.into(), n);
        }
    }
}

impl Tiktoken {
    /// The shared counter for an encoding (built on first use, then reused).
    pub fn get(encoding: Encoding) -> &'static Tiktoken {
        let (cell, bpe): (_, fn() -> &'static CoreBPE) = match encoding {
            Encoding::O200kBase => (&O200K, tiktoken_rs::o200k_base_singleton),
            Encoding::Cl100kBase => (&CL100K, tiktoken_rs::cl100k_base_singleton),
        };
        cell.get_or_init(|| {
            let t = Tiktoken {
                encoding,
                bpe: bpe(),
                splitter: Splitter::new(encoding),
                cache: Mutex::new(HashMap::new()),
                pieces: Mutex::new(FxHashMap::default()),
                persisted: std::sync::atomic::AtomicUsize::new(0),
            };
            if let Some(dir) = lock(&COUNTS_DIR).clone() {
                t.import_counts(&dir);
            }
            t
        })
    }

    fn counts_file(&self, dir: &std::path::Path) -> std::path::PathBuf {
        dir.join(format!("counts-{}.bin", self.encoding.as_str()))
    }

    /// Adds the counts kept in `dir` to the cache, if the file is whole and of this build.
    fn import_counts(&self, dir: &std::path::Path) {
        let path = self.counts_file(dir);
        let Ok(Ok(bytes)) = crate::regular::read(&path, 1 << 28) else {
            return;
        };
        let entries = crate::plan::persist::unseal(&bytes, COUNTS_MAGIC)
            .ok()
            .filter(|body| body.get(8..16) == Some(COUNTER_ID.to_le_bytes().as_slice()))
            .and_then(|body| body.get(16..))
            .filter(|rest| rest.len().is_multiple_of(20));
        let Some(entries) = entries else {
            tracing::debug!(file = %path.display(), "kept token counts not used (corrupt or of another build)");
            return;
        };
        let mut cache = lock(&self.cache);
        for e in entries.chunks_exact(20) {
            let mut key = [0u8; 16];
            key.copy_from_slice(&e[..16]);
            let n = u32::from_le_bytes([e[16], e[17], e[18], e[19]]);
            if cache.len() < CACHE_LIMIT {
                cache.insert(key, n);
            }
        }
        self.persisted
            .store(cache.len(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Writes the cache to `dir` when it grew since read or last written.
    fn export_counts(&self, dir: &std::path::Path) {
        let body = {
            let cache = lock(&self.cache);
            if cache.len() <= self.persisted.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let mut body = Vec::with_capacity(16 + cache.len() * 20 + 32);
            body.extend_from_slice(COUNTS_MAGIC);
            body.extend_from_slice(&COUNTER_ID.to_le_bytes());
            let mut entries: Vec<(&[u8; 16], &u32)> = cache.iter().collect();
            entries.sort_unstable();
            for (k, n) in entries {
                body.extend_from_slice(k);
                body.extend_from_slice(&n.to_le_bytes());
            }
            self.persisted
                .store(cache.len(), std::sync::atomic::Ordering::Relaxed);
            body
        };
        let path = self.counts_file(dir);
        match crate::plan::persist::write_file(&path, &crate::plan::persist::seal(body)) {
            Ok(()) => tracing::debug!(file = %path.display(), "token counts kept"),
            Err(e) => tracing::debug!(error = %e, "token counts not kept"),
        }
    }

    /// Counts without the content-hash cache (what that cache stores; used by benchmarks).
    ///
    /// Pieces are looked up in batches: the memory of pieces is locked only for a batch's
    /// lookups and again for its new pieces, never while text is split or encoded, so
    /// threads counting at once do not take turns for whole texts.
    pub fn count_uncached(&self, text: &str) -> usize {
        let Some(splitter) = &self.splitter else {
            return self.count_reference(text);
        };
        let mut batch = PieceBatch {
            counter: self,
            pieces: Vec::with_capacity(PIECE_BATCH),
            total: 0,
        };
        let covered = splitter.split(text, |piece| {
            batch.pieces.push(piece);
            if batch.pieces.len() == PIECE_BATCH {
                batch.flush();
            }
        });
        batch.flush();
        if covered {
            batch.total
        } else {
            self.count_reference(text)
        }
    }

    /// Builds the counter for `encoding` on another thread (about 0.2 s of work), so a command
    /// that will count can read and parse the plan meanwhile.
    pub fn warm_in_background(encoding: Encoding) {
        std::thread::spawn(move || Tiktoken::get(encoding));
    }

    /// Forgets every remembered count (content hashes and pieces): the next counts start
    /// from nothing, as in a new process.
    pub fn forget(&self) {
        lock(&self.cache).clear();
        lock(&self.pieces).clear();
    }

    /// tiktoken-rs's own count (`encode_ordinary` over the whole text): what
    /// [`Tiktoken::count_uncached`] must equal; tests and benchmarks compare the two.
    pub fn count_reference(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }
}

/// tiktoken's split of text into pieces, with the `regex` crate instead of `fancy-regex`.
///
/// The encodings' patterns use one look-around, `\s+(?!\S)`: a run of whitespace that is
/// followed by a non-space character gives that last whitespace character to the next
/// piece. Here the alternative is `\s+` and the run is shortened by one character after the
/// match. Such a run holds no line break (the alternatives before it take runs with one), so
/// a match that is all whitespace without line breaks, two characters or more and followed by
/// a non-space character can only come from it. cl100k_base's possessive quantifiers match
/// as the greedy ones do in these patterns (what follows them can never match what they
/// gave back).
struct Splitter {
    re: regex::Regex,
}

impl Splitter {
    fn new(encoding: Encoding) -> Option<Splitter> {
        let pattern = match encoding {
            Encoding::O200kBase => concat!(
                r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
                r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
                r"|\p{N}{1,3}",
                r"| ?[^\s\p{L}\p{N}]+[\r\n/]*",
                r"|\s*[\r\n]+",
                r"|\s+",
            ),
            Encoding::Cl100kBase => concat!(
                r"'(?i:[sdmt]|ll|ve|re)",
                r"|[^\r\n\p{L}\p{N}]?\p{L}+",
                r"|\p{N}{1,3}",
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*",
                r"|\s+$",
                r"|\s*[\r\n]",
                r"|\s+",
            ),
        };
        // Constant patterns (a test builds both); without one, counting uses tiktoken-rs whole.
        regex::Regex::new(pattern).ok().map(|re| Splitter { re })
    }

    /// Calls `piece` for each piece of `text` in order; false if the pieces did not cover
    /// the text (which the patterns rule out: every character starts some alternative).
    fn split<'t>(&self, text: &'t str, mut piece: impl FnMut(&'t str)) -> bool {
        let mut at = 0;
        while let Some(m) = self.re.find_at(text, at) {
            if m.start() != at || m.is_empty() {
                return false;
            }
            let mut end = m.end();
            let p = m.as_str();
            if let Some(next) = text[end..].chars().next()
                && !next.is_whitespace()
                && p.chars()
                    .all(|c| c.is_whitespace() && c != '\r' && c != '\n')
                && let Some((last, _)) = p.char_indices().nth(1).and(p.char_indices().last())
            {
                end = m.start() + last;
            }
            piece(&text[m.start()..end]);
            at = end;
        }
        at == text.len()
    }
}

impl TokenCounter for Tiktoken {
    fn count(&self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        let mut key = [0u8; 16];
        key.copy_from_slice(&blake3::hash(text.as_bytes()).as_bytes()[..16]);
        if let Some(&n) = lock(&self.cache).get(&key) {
            return n as usize;
        }
        let n = self.count_uncached(text);
        let mut cache = lock(&self.cache);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, n as u32);
        n
    }

    fn encoding(&self) -> Encoding {
        self.encoding
    }
}

/// Whether `a` followed by `b` has exactly as many tokens as `a` and `b` counted apart, in
/// both encodings: true when `a` ends with a line break and `b` starts with a character that
/// is neither whitespace nor `/`, or when `a` ends with a character that is not whitespace
/// and `b` starts with a space (` `).
///
/// tiktoken encodes text piece by piece, the pieces cut by its encoding's split pattern, so
/// `count(a + b) == count(a) + count(b)` whenever no piece spans the join and the piece
/// ending `a` is the same whether `a` ends the text or `b` follows. The patterns have no
/// look-behind, so `b`'s pieces then start where they start when `b` is alone.
///
/// - After a line break: of the o200k_base and cl100k_base alternatives, only these go on
///   past a line break: whitespace runs (`\s*[\r\n]+`, `\s+(?!\S)`, `\s+`, `\s++$`) and
///   punctuation followed by line breaks (`[\r\n/]*` in o200k_base, `[\r\n]*` in
///   cl100k_base). None of them can take a first character of `b` that is not whitespace or
///   `/`; the letter and digit alternatives never start with a line break; and `\s*[\r\n]`
///   and `\s++$` take the same run at the end of `a` whether `b` follows or not.
/// - Before a space: no alternative takes a space after a character that is not whitespace.
///   Letters, digits and contractions are runs of their own classes; punctuation
///   (` ?[^\s\p{L}\p{N}]+`) may only be followed by line breaks (and `/`); the optional
///   leading character of the letter and punctuation alternatives starts a piece. And since
///   `a` ends with no whitespace, no whitespace alternative (nor its look-ahead) is at its
///   end.
pub(crate) fn joins_cleanly(a: &str, b: &str) -> bool {
    let after_line_break = a.ends_with('\n')
        && b.chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '/');
    after_line_break
        || (b.starts_with(' ') && a.chars().next_back().is_some_and(|c| !c.is_whitespace()))
}

/// Tokens of the concatenation of `pieces`, counted piece by piece where they join cleanly
/// ([`joins_cleanly`]), so pieces shared by many texts hit the cache; pieces that do not join
/// cleanly are counted together.
pub(crate) fn count_concat(counter: &dyn TokenCounter, pieces: &[&str]) -> usize {
    let mut total = 0;
    // The pieces not yet counted: one borrowed piece, or several joined.
    let mut run: Cow<'_, str> = Cow::Borrowed("");
    for &p in pieces.iter().filter(|p| !p.is_empty()) {
        if run.is_empty() {
            run = Cow::Borrowed(p);
        } else if joins_cleanly(&run, p) {
            total += counter.count(&run);
            run = Cow::Borrowed(p);
        } else {
            run.to_mut().push_str(p);
        }
    }
    total + counter.count(&run)
}

/// Tokens of `text`, counted in pieces cut where they join cleanly ([`joins_cleanly`]):
/// after each blank line, and before each space that follows one of the bytes `after`
/// (`b".!?"` cuts at sentences, `b","` at list items). Texts that share such pieces share
/// their counts.
pub(crate) fn count_pieces(counter: &dyn TokenCounter, text: &str, after: &[u8]) -> usize {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    for i in 1..bytes.len() {
        let cut = match (bytes[i - 1], bytes[i]) {
            // After a blank line: `i` is the second line break.
            (b'\n', b'\n') => i + 1,
            (end, b' ') if after.contains(&end) => i,
            _ => continue,
        };
        if cut > start && cut < bytes.len() {
            pieces.push(&text[start..cut]);
            start = cut;
        }
    }
    pieces.push(&text[start..]);
    count_concat(counter, &pieces)
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

#[cfg(test)]
mod join_tests {
    use super::*;

    /// Both encodings' shared counters.
    pub(super) fn both() -> [&'static Tiktoken; 2] {
        [
            Tiktoken::get(Encoding::O200kBase),
            Tiktoken::get(Encoding::Cl100kBase),
        ]
    }

    #[test]
    fn clean_joins_add_up_and_unclean_ones_are_refused() {
        let ends = [
            "text\n",
            "text.\n\n",
            "a list:\n- item\n",
            "trailing spaces  \n",
            "tabs\t\n\n",
            "done!\n\n\n",
            "code `x`\n",
            "42\n",
            "—\n",
        ];
        let starts = [
            "## Heading",
            "- item",
            "---",
            "Word",
            "'s quoted",
            "123 numbers",
            "| table |",
            "é accent",
            "> quote",
            "`code`",
        ];
        for t in both() {
            for a in ends {
                for b in starts {
                    assert!(joins_cleanly(a, b), "{a:?} {b:?}");
                    let joined = format!("{a}{b}");
                    assert_eq!(
                        t.count_uncached(&joined),
                        t.count_uncached(a) + t.count_uncached(b),
                        "{} {a:?} + {b:?}",
                        t.encoding()
                    );
                    assert_eq!(count_concat(t, &[a, b]), t.count_uncached(&joined));
                }
            }
        }
        // Joins the rule refuses, where counting apart would be wrong.
        assert!(!joins_cleanly("no newline", "x"));
        assert!(!joins_cleanly("x\n", " indented"));
        assert!(!joins_cleanly("x\n", "\nmore"));
        assert!(!joins_cleanly("x.\n", "/path"));
        assert!(!joins_cleanly("x ", " y"));
        assert!(!joins_cleanly("x", "\ty"));
        assert!(!joins_cleanly("x.", "\ny"));
        let o200k = Tiktoken::get(Encoding::O200kBase);
        for (a, b) in [("x:\n", "/"), ("x\n", "\ny"), ("ab", "cd"), ("x.", "\n")] {
            let joined = format!("{a}{b}");
            assert_ne!(
                o200k.count_uncached(&joined),
                o200k.count_uncached(a) + o200k.count_uncached(b),
                "{a:?} + {b:?}"
            );
            // count_concat joins such pieces before counting.
            assert_eq!(count_concat(o200k, &[a, b]), o200k.count_uncached(&joined));
        }
    }

    /// Every plan document of the example plan and the fixtures, cut at every line where the
    /// rule allows, counts the same in pieces as whole.
    #[test]
    fn documents_cut_at_clean_lines_count_the_same() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut docs = 0;
        let mut cuts = 0;
        for dir in ["examples/plan", "tests/fixtures"] {
            for entry in ignore::WalkBuilder::new(root.join(dir)).build().flatten() {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "md") {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(path) else {
                    continue;
                };
                let mut pieces: Vec<&str> = Vec::new();
                let mut start = 0;
                for (i, _) in text.match_indices('\n') {
                    let (a, b) = (&text[start..=i], &text[i + 1..]);
                    if joins_cleanly(a, b) {
                        pieces.push(a);
                        start = i + 1;
                    }
                }
                pieces.push(&text[start..]);
                cuts += pieces.len() - 1;
                docs += 1;
                for t in both() {
                    let whole = t.count_uncached(&text);
                    let apart: usize = pieces.iter().map(|p| t.count_uncached(p)).sum();
                    assert_eq!(apart, whole, "{} {}", t.encoding(), path.display());
                    // Cut at sentences, list items and paragraphs too.
                    assert_eq!(
                        count_pieces(t, &text, b".!?,"),
                        whole,
                        "{} {}",
                        t.encoding(),
                        path.display()
                    );
                }
            }
        }
        assert!(docs > 50 && cuts > 2_000, "{docs} documents, {cuts} cuts");
    }
}

#[cfg(test)]
mod split_tests {
    use super::join_tests::both;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_patterns_build() {
        for t in both() {
            assert!(t.splitter.is_some(), "{}", t.encoding());
        }
    }

    #[test]
    fn counts_equal_tiktoken_on_tricky_text() {
        let cases = [
            "",
            " ",
            "  ",
            "a  b",
            "a   \tb",
            "x \n y",
            "end   ",
            "end  \n",
            "  \n  \n\n x",
            "tabs\t\tand\u{a0}\u{a0}nbsp x",
            "don't we'll THEY'RE it's O'Neil",
            "1234567 12 1,000.50 ٣٤٥",
            "path/to/file.md:12-40 a.\n/b //c",
            "émoji 🙂🙂 ok; ünïcödé Straße ΑΒΓ αβγ 日本語テキスト",
            "e\u{301}\u{301} combining \u{301}marks",
            "CamelCaseWords and lowerUPPER MiXeD",
            "```rust\nfn main() {\n    println!(\"hi\");\n}\n```\n",
            "| a | b |\n|---|---|\n| 1 | 2 |\n",
            "<|endoftext|> <|fim_prefix|>",
            "\r\n\r\n  \r\n\tx\r",
        ];
        for t in both() {
            for c in cases {
                assert_eq!(
                    t.count_uncached(c),
                    t.count_reference(c),
                    "{} {c:?}",
                    t.encoding()
                );
            }
        }
    }

    #[test]
    fn counts_equal_tiktoken_on_every_example_document() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut bytes = 0;
        for dir in ["examples/plan", "tests/fixtures", "docs", "prompts"] {
            for entry in ignore::WalkBuilder::new(root.join(dir)).build().flatten() {
                let Ok(text) = std::fs::read_to_string(entry.path()) else {
                    continue;
                };
                bytes += text.len();
                for t in both() {
                    assert_eq!(
                        t.count_uncached(&text),
                        t.count_reference(&text),
                        "{} {}",
                        t.encoding(),
                        entry.path().display()
                    );
                }
            }
        }
        assert!(bytes > 200_000, "{bytes} bytes checked");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn counts_equal_tiktoken_on_arbitrary_text(
            text in r"([ \t\r\n\u{a0}\u{3000}]{0,4}|[a-zA-Z]{1,6}|[0-9]{1,5}|['’.,;:!?/\\()\[\]{}<>|#*`~_=+-]{1,3}|[éÅßΩж日本🙂\u{301}\u{200d}]{1,3}|'(s|t|re|ve|m|ll|d|S|LL)){0,40}"
        ) {
            for t in both() {
                prop_assert_eq!(t.count_uncached(&text), t.count_reference(&text), "{} {:?}", t.encoding(), text);
            }
        }

        /// Text cut at its sentences, list items and paragraphs counts as the whole does.
        #[test]
        fn sentences_count_as_the_whole(
            text in r"([ \n]{0,3}|[a-zA-Z]{1,6}|[0-9]{1,3}|[.!?,:/'()#*-]{1,2}|[éΩ日🙂]{1,2}|[.!?] |\n\n){0,40}"
        ) {
            for t in both() {
                prop_assert_eq!(count_pieces(t, &text, b".!?,"), t.count_uncached(&text), "{} {:?}", t.encoding(), text);
            }
        }

        /// Wherever [`joins_cleanly`] holds, tiktoken-rs itself counts the join as the sum of
        /// its sides; the generated pairs are made to meet the rule (a space after something
        /// that is not whitespace, or a line break before something that is neither
        /// whitespace nor `/`) and are also tried as they come.
        #[test]
        fn clean_joins_add_up_in_tiktoken(
            a in r"([ \t\r\n\u{a0}]{0,3}|[a-zA-Z]{1,6}|[0-9]{1,5}|['’.,;:!?/\\()\[\]<>|#*`~_=+-]{1,3}|[éΩ日🙂\u{301}]{1,2}|'(s|t|ll)){0,12}",
            last in r"[a-zA-Z0-9'’.,;:!?/\\)\]>|#*`~_=+éΩ日🙂\u{301}-]",
            b in r"([ \t\r\n\u{a0}]{0,3}|[a-zA-Z]{1,6}|[0-9]{1,5}|['’.,;:!?/\\()\[\]<>|#*`~_=+-·]{1,3}|[éΩ日🙂\u{301}]{1,2}|'(s|t|ll)){0,12}",
            first in r"[a-zA-Z0-9'’.,;:!?\\(\[<|#*`~_=+é日🙂·-]",
        ) {
            let pairs = [
                (format!("{a}{last}"), format!(" {b}")),
                (format!("{a}\n"), format!("{first}{b}")),
                (a.clone(), b.clone()),
            ];
            for (i, (x, y)) in pairs.iter().enumerate() {
                if i < 2 {
                    prop_assert!(joins_cleanly(x, y), "{:?} {:?}", x, y);
                }
                if joins_cleanly(x, y) {
                    for t in both() {
                        prop_assert_eq!(
                            t.count_reference(&format!("{x}{y}")),
                            t.count_reference(x) + t.count_reference(y),
                            "{} {:?} + {:?}", t.encoding(), x, y
                        );
                    }
                }
            }
        }
    }
}
