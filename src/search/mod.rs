//! Relevance over the plan: every document cut into units (heading-delimited sections, long
//! ones split into paragraph groups), a BM25 inverted index over them, built once per plan.
//! Ranking for packs and `search` share it. Deterministic: ties break by plan order.

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{Citation, DocKind, Plan};
use crate::plan::text;

/// Sections longer than this are split into paragraph groups of about `CHUNK_BYTES`.
const SPLIT_BYTES: usize = 3_000;
const CHUNK_BYTES: usize = 2_000;
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Words too common to rank by. A `match` compiles to length-then-bytes comparisons: this
/// runs for every word of the plan.
fn is_stopword(w: &str) -> bool {
    matches!(
        w,
        "a" | "an"
            | "and"
            | "are"
            | "as"
            | "at"
            | "be"
            | "by"
            | "for"
            | "from"
            | "has"
            | "have"
            | "in"
            | "is"
            | "it"
            | "its"
            | "of"
            | "on"
            | "or"
            | "that"
            | "the"
            | "this"
            | "to"
            | "was"
            | "were"
            | "will"
            | "with"
            | "we"
            | "our"
            | "not"
            | "no"
            | "but"
            | "can"
            | "all"
            | "any"
            | "each"
            | "per"
            | "into"
            | "than"
            | "then"
            | "when"
            | "which"
            | "who"
            | "what"
            | "so"
            | "if"
            | "do"
            | "does"
            | "done"
            | "via"
    )
}

/// A searchable piece of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Unit {
    /// Index into `plan.docs`.
    pub doc: usize,
    pub kind: DocKind,
    pub title: String,
    pub start: usize,
    pub end: usize,
    pub citation: Citation,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Hit {
    pub title: String,
    pub citation: Citation,
    pub score: f64,
    pub snippet: String,
}

/// Calls `emit` for each search term of `text`: lowercased words (light plural stemming,
/// stopwords and bare numbers dropped) plus whole hyphenated ids with a digit (`sre-04-01`,
/// `f3-e1`), so ids match exactly. Runs over every byte of the plan: words are slices of the
/// text, copied only when they need lowercasing or stemming.
fn tokenize(text: &str, emit: impl FnMut(&str)) {
    tokenize_into(text, &mut EveryTerm(emit));
}

/// Where the tokenizer sends terms. [`Sink::wants`] sees a term's first two bytes and its
/// length (as the term will have them: lowercased, stemmed) before the term is lowercased or
/// stemmed; a term not wanted goes to [`Sink::skipped`] instead, uncopied.
trait Sink {
    fn wants(&self, first_two: [u8; 2], len: usize) -> bool;
    fn term(&mut self, term: &str);
    fn skipped(&mut self);
}

struct EveryTerm<F>(F);

impl<F: FnMut(&str)> Sink for EveryTerm<F> {
    fn wants(&self, _: [u8; 2], _: usize) -> bool {
        true
    }
    fn term(&mut self, term: &str) {
        (self.0)(term);
    }
    fn skipped(&mut self) {}
}

/// Per byte: bit 0 set for word bytes (ASCII letters and digits, every non-ASCII byte), bit 1
/// for ASCII digits. One lookup per byte of the plan.
const BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c >= 0x80 {
            t[b] |= 1;
        }
        if c.is_ascii_digit() {
            t[b] |= 2;
        }
        b += 1;
    }
    t
};

fn tokenize_into(text: &str, sink: &mut impl Sink) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let is_word = |b: u8| BYTE_CLASS[usize::from(b)] & 1 != 0;
    let mut lower = String::new();
    let mut stemmed = String::new();
    let mut i = 0;
    while i < n {
        if !is_word(bytes[i]) {
            i += 1;
            continue;
        }
        let compound_start = i;
        let mut parts = 0usize;
        let mut digit = false;
        loop {
            let start = i;
            // Classes of the word's bytes: any digit (or), only digits (and).
            let (mut any, mut all) = (0u8, 0xFFu8);
            while i < n && is_word(bytes[i]) {
                let class = BYTE_CLASS[usize::from(bytes[i])];
                any |= class;
                all &= class;
                i += 1;
            }
            digit |= any & 2 != 0;
            if i - start >= 2 && all & 2 == 0 {
                word(&text[start..i], &mut lower, &mut stemmed, sink);
            }
            if i + 1 < n && matches!(bytes[i], b'-' | b'_') && bytes[i + 1].is_ascii_alphanumeric()
            {
                parts += 1;
                i += 1;
                continue;
            }
            break;
        }
        if parts > 0 && digit {
            let first_two = [bytes[compound_start], bytes[compound_start + 1]].map(|b| {
                if b == b'_' {
                    b'-'
                } else {
                    b.to_ascii_lowercase()
                }
            });
            if !sink.wants(first_two, i - compound_start) {
                sink.skipped();
                continue;
            }
            lower.clear();
            lower.extend(text[compound_start..i].chars().map(|c| match c {
                '_' => '-',
                c => c.to_ascii_lowercase(),
            }));
            sink.term(&lower);
        }
    }
}

/// The longest stopword, in bytes.
const MAX_STOPWORD_LEN: usize = 5;

/// One word of two bytes or more that is not a bare number: dropped if a stopword; else
/// lowercased and stemmed.
fn word(w: &str, lower: &mut String, stemmed: &mut String, sink: &mut impl Sink) {
    let b = w.as_bytes();
    let lower_at = |i: usize| b[i].to_ascii_lowercase();
    let n = b.len();
    // The stemmed length (the rules below, on the lowercased word).
    let len = if n > 4 && [lower_at(n - 3), lower_at(n - 2), lower_at(n - 1)] == *b"ies" {
        n - 2
    } else if n > 3 && lower_at(n - 1) == b's' && !matches!(lower_at(n - 2), b's' | b'u') {
        n - 1
    } else {
        n
    };
    if !sink.wants([lower_at(0), lower_at(1)], len) {
        // Only whether it is a term at all matters: stopwords are short.
        if w.len() > MAX_STOPWORD_LEN || !is_stopword_any_case(w) {
            sink.skipped();
        }
        return;
    }
    let w: &str = if w.bytes().any(|b| b.is_ascii_uppercase()) {
        lower.clear();
        lower.extend(w.chars().map(|c| c.to_ascii_lowercase()));
        lower
    } else {
        w
    };
    if is_stopword(w) {
        return;
    }
    if w.len() > 4 && w.ends_with("ies") {
        stemmed.clear();
        stemmed.push_str(&w[..w.len() - 3]);
        stemmed.push('y');
        sink.term(stemmed);
    } else if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        sink.term(&w[..w.len() - 1]);
    } else {
        sink.term(w);
    }
}

/// [`is_stopword`] of a short word in any case, without allocating.
fn is_stopword_any_case(w: &str) -> bool {
    let mut buf = [0u8; MAX_STOPWORD_LEN];
    let Some(dst) = buf.get_mut(..w.len()) else {
        return false;
    };
    for (d, s) in dst.iter_mut().zip(w.bytes()) {
        *d = s.to_ascii_lowercase();
    }
    std::str::from_utf8(dst).is_ok_and(is_stopword)
}

/// Terms with their counts, in first-seen order.
type TermCounts = Vec<(String, u32)>;

/// Terms of a text, with counts, in first-seen order.
fn term_counts(text: &str) -> TermCounts {
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    let mut out: Vec<(String, u32)> = Vec::new();
    tokenize(text, |t| match index.get(t) {
        Some(&i) => out[i].1 += 1,
        None => {
            index.insert(t.to_string(), out.len());
            out.push((t.to_string(), 1));
        }
    });
    out
}

/// Units of one document: its sections, long ones split at blank lines.
fn units_of(plan: &Plan, doc_idx: usize) -> Vec<Unit> {
    let doc = &plan.docs[doc_idx];
    let mut out = Vec::new();
    let title_of = |s: &crate::model::Section| {
        if s.title.is_empty() {
            doc.title.clone().unwrap_or_else(|| doc.path.clone())
        } else {
            s.title.clone()
        }
    };
    for section in &doc.sections {
        let body = doc.section_text(section);
        if body.trim().is_empty() {
            continue;
        }
        if body.len() <= SPLIT_BYTES {
            out.push(Unit {
                doc: doc_idx,
                kind: doc.kind,
                title: title_of(section),
                start: section.start,
                end: section.end,
                citation: section.citation.clone(),
            });
            continue;
        }
        let mut chunk_start = section.start;
        let mut part = 1;
        let mut pos = section.start;
        let end = section.end;
        while pos < end {
            let next_break = doc.text[pos..end]
                .find("\n\n")
                .map(|i| pos + i + 2)
                .unwrap_or(end);
            if next_break - chunk_start >= CHUNK_BYTES || next_break == end {
                let cite_start = text::line_of(&doc.line_starts, chunk_start);
                let cite_end =
                    text::last_line_of(&doc.text, &doc.line_starts, chunk_start, next_break);
                out.push(Unit {
                    doc: doc_idx,
                    kind: doc.kind,
                    title: format!("{} (part {part})", title_of(section)),
                    start: chunk_start,
                    end: next_break,
                    citation: Citation {
                        path: doc.path.clone(),
                        line_start: cite_start,
                        line_end: cite_end.max(cite_start),
                        heading: section.citation.heading.clone(),
                    },
                });
                part += 1;
                chunk_start = next_break;
            }
            pos = next_break;
        }
    }
    out
}

/// Query terms kept (by idf x count): enough for ranking, bounded for speed.
const MAX_QUERY_TERMS: usize = 24;

/// A BM25 inverted index over the plan's units, in compressed-row form: for term `t`,
/// `post_units[offsets[t]..offsets[t + 1]]` are the units holding it (ascending) and
/// `post_impact` their BM25 term weights before idf (`tf * (K1 + 1) / (tf + norm)`, as f32).
/// Terms are keyed by a 64-bit xxh3 of their text.
///
/// Built whole ([`SearchIndex::build`], kept by long-lived processes) or for a known set of
/// terms only ([`SearchIndex::for_terms`], what a one-shot CLI pack needs): both give the same
/// scores for those terms.
#[derive(Debug, Clone, Default)]
pub struct SearchIndex {
    pub units: Vec<Unit>,
    /// Per unit, its document's kind (a compact copy of `units`' field, for passes over
    /// every scored unit).
    kinds: Vec<DocKind>,
    /// Runs of consecutive units of one kind: each run's first unit and the kind (plan order
    /// keeps a folder's documents, and so a kind, together).
    kind_runs: Vec<(u32, DocKind)>,
    /// Per unit, whether its citation holds nothing but its heading
    /// ([`Plan::excerpt_is_bodiless`]): packs skip such excerpts.
    bodiless: Vec<bool>,
    /// Per document (by index in `plan.docs`): its units, `start..end` in `units`.
    doc_units: Vec<(u32, u32)>,
    terms: FxHashMap<u64, u32>,
    offsets: Vec<u32>,
    post_units: Vec<u32>,
    post_impact: Vec<f32>,
}

/// BM25 scores of one query, dense by unit (zero where no query term occurs).
#[derive(Debug, Clone, Default)]
pub(crate) struct Scores {
    dense: Vec<f32>,
    max: f64,
}

impl Scores {
    pub(crate) fn get(&self, unit: u32) -> f64 {
        self.dense.get(unit as usize).map_or(0.0, |&s| f64::from(s))
    }

    /// Every unit's score, by unit.
    pub(crate) fn dense(&self) -> &[f32] {
        &self.dense
    }

    /// Units with a score, ascending.
    fn units(&self) -> Vec<u32> {
        (0u32..)
            .zip(&self.dense)
            .filter(|&(_, &s)| s > 0.0)
            .map(|(u, _)| u)
            .collect()
    }

    pub(crate) fn max(&self) -> f64 {
        self.max
    }
}

/// The largest of non-negative scores (0 for none), in eight lanes so it vectorises.
fn max_score(dense: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = dense.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &s) in lanes.iter_mut().zip(c) {
            *l = if s > *l { s } else { *l };
        }
    }
    lanes
        .iter()
        .chain(rest)
        .fold(0.0f32, |m, &s| if s > m { s } else { m })
}

fn term_hash(term: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(term.as_bytes())
}

/// One unit's terms: (hash, count), and its length in terms.
struct UnitTerms {
    terms: Vec<(u64, u32)>,
    len: u32,
}

/// A term set, with a bit set for each (first two bytes, length) of its terms (several may
/// share a bit: a set bit lets a word through to the exact test).
type TermFilter = (FxHashSet<u64>, Box<[u64; 1024]>);

fn pair_bit(first_two: [u8; 2], len: usize) -> (usize, u64) {
    let key = (usize::from(u16::from_le_bytes(first_two)) * 31 + len) & 0xFFFF;
    (key / 64, 1u64 << (key % 64))
}

/// Counts a unit's terms, keeping (by hash) those in a term set, if any.
struct UnitSink<'a> {
    only: Option<&'a TermFilter>,
    scratch: &'a mut FxHashMap<u64, u32>,
    len: u32,
}

impl Sink for UnitSink<'_> {
    fn wants(&self, first_two: [u8; 2], len: usize) -> bool {
        self.only.is_none_or(|(_, pairs)| {
            let (word, bit) = pair_bit(first_two, len);
            pairs[word] & bit != 0
        })
    }
    fn term(&mut self, term: &str) {
        self.len += 1;
        let h = term_hash(term);
        if self.only.is_none_or(|(set, _)| set.contains(&h)) {
            *self.scratch.entry(h).or_default() += 1;
        }
    }
    fn skipped(&mut self) {
        self.len += 1;
    }
}

fn unit_terms(
    text: &str,
    only: Option<&TermFilter>,
    scratch: &mut FxHashMap<u64, u32>,
) -> UnitTerms {
    scratch.clear();
    let mut sink = UnitSink {
        only,
        scratch,
        len: 0,
    };
    tokenize_into(text, &mut sink);
    let len = sink.len;
    UnitTerms {
        terms: scratch.iter().map(|(&h, &n)| (h, n)).collect(),
        len,
    }
}

impl SearchIndex {
    /// The whole index: every term of every unit.
    pub(crate) fn build(plan: &Plan) -> SearchIndex {
        Self::build_with(plan, None)
    }

    /// An index of these terms only (words or ids, as a query would give them).
    pub(crate) fn for_terms(plan: &Plan, terms: &[String]) -> SearchIndex {
        let mut set = FxHashSet::default();
        let mut pairs = Box::new([0u64; 1024]);
        for t in terms {
            tokenize(t, |w| {
                set.insert(term_hash(w));
                let b = w.as_bytes();
                let (word, bit) = pair_bit([b[0], b[1]], b.len());
                pairs[word] |= bit;
            });
        }
        Self::build_with(plan, Some((set, pairs)))
    }

    fn build_with(plan: &Plan, only: Option<TermFilter>) -> SearchIndex {
        let per_doc: Vec<Vec<(Unit, UnitTerms, bool)>> = (0..plan.docs.len())
            .into_par_iter()
            .map_init(FxHashMap::default, |scratch, d| {
                let doc = &plan.docs[d];
                units_of(plan, d)
                    .into_iter()
                    .map(|u| {
                        let t = unit_terms(&doc.text[u.start..u.end], only.as_ref(), scratch);
                        let bodiless = plan.excerpt_is_bodiless(&u.citation);
                        (u, t, bodiless)
                    })
                    .collect()
            })
            .collect();
        let mut index = SearchIndex::default();
        let mut start = 0u32;
        for units in &per_doc {
            let end = start + units.len() as u32;
            index.doc_units.push((start, end));
            start = end;
        }
        // Document frequencies, term ids in first-seen order (deterministic), offsets.
        let mut df: Vec<u32> = Vec::new();
        for (_, t, _) in per_doc.iter().flatten() {
            for &(h, _) in &t.terms {
                let next = df.len() as u32;
                let id = *index.terms.entry(h).or_insert(next);
                if id == next {
                    df.push(0);
                }
                df[id as usize] += 1;
            }
        }
        index.offsets = Vec::with_capacity(df.len() + 1);
        let mut acc = 0u32;
        index.offsets.push(0);
        for n in &df {
            acc += n;
            index.offsets.push(acc);
        }
        index.post_units = vec![0; acc as usize];
        let mut post_tf: Vec<u16> = vec![0; acc as usize];
        let mut cursor: Vec<u32> = index.offsets[..df.len()].to_vec();
        // Units' lengths in terms: only needed here, for the postings' weights.
        let mut lengths: Vec<u32> = Vec::new();
        for (unit_id, (unit, t, bodiless)) in per_doc.into_iter().flatten().enumerate() {
            lengths.push(t.len);
            if index.kind_runs.last().is_none_or(|&(_, k)| k != unit.kind) {
                index.kind_runs.push((unit_id as u32, unit.kind));
            }
            index.kinds.push(unit.kind);
            index.bodiless.push(bodiless);
            index.units.push(unit);
            for (h, tf) in t.terms {
                if let Some(&id) = index.terms.get(&h) {
                    let at = cursor[id as usize] as usize;
                    index.post_units[at] = unit_id as u32;
                    post_tf[at] = tf.min(u32::from(u16::MAX)) as u16;
                    cursor[id as usize] += 1;
                }
            }
        }
        let total: u64 = lengths.iter().map(|&l| u64::from(l)).sum();
        let avg_len = if lengths.is_empty() {
            1.0
        } else {
            (total as f64 / lengths.len() as f64).max(1.0)
        };
        // BM25's length normalisation per unit, then each posting's weight before idf.
        let norms: Vec<f64> = lengths
            .iter()
            .map(|&len| K1 * (1.0 - B + B * f64::from(len) / avg_len))
            .collect();
        index.post_impact = index
            .post_units
            .iter()
            .zip(&post_tf)
            .map(|(&u, &tf)| {
                let tf = f64::from(tf);
                (tf * (K1 + 1.0) / (tf + norms[u as usize])) as f32
            })
            .collect();
        index
    }

    /// The units of one document (by its index in `plan.docs`).
    pub(crate) fn units_of_doc(&self, doc: usize) -> std::ops::Range<usize> {
        self.doc_units
            .get(doc)
            .map(|&(a, b)| a as usize..b as usize)
            .unwrap_or(0..0)
    }

    /// The kind of document a unit is in.
    pub(crate) fn kind(&self, unit: u32) -> DocKind {
        self.kinds[unit as usize]
    }

    /// Every unit's kind of document, by unit.
    pub(crate) fn kinds(&self) -> &[DocKind] {
        &self.kinds
    }

    /// The units in runs of one kind, in order: each run's units and their kind.
    pub(crate) fn kind_runs(&self) -> impl Iterator<Item = (std::ops::Range<usize>, DocKind)> + '_ {
        self.kind_runs
            .iter()
            .enumerate()
            .map(|(i, &(start, kind))| {
                let end = self
                    .kind_runs
                    .get(i + 1)
                    .map_or(self.units.len(), |&(next, _)| next as usize);
                (start as usize..end, kind)
            })
    }

    /// Whether a unit's citation holds nothing but its heading ([`Plan::excerpt_is_bodiless`]).
    pub(crate) fn bodiless(&self, unit: usize) -> bool {
        self.bodiless[unit]
    }

    fn text<'p>(&self, plan: &'p Plan, unit: usize) -> &'p str {
        let u = &self.units[unit];
        plan.docs[u.doc].text.get(u.start..u.end).unwrap_or("")
    }

    fn term_range(&self, h: u64) -> std::ops::Range<usize> {
        match self.terms.get(&h) {
            Some(&t) => self.offsets[t as usize] as usize..self.offsets[t as usize + 1] as usize,
            None => 0..0,
        }
    }

    /// Units holding a term (an id like `F3-E1` matches whole), ascending.
    pub(crate) fn postings(&self, term: &str) -> &[u32] {
        let mut whole = None;
        tokenize(term, |t| whole = Some(t.to_string()));
        let range = whole
            .map(|t| self.term_range(term_hash(&t)))
            .unwrap_or(0..0);
        &self.post_units[range]
    }

    /// BM25 of the units matching the query's most telling terms (at most
    /// [`MAX_QUERY_TERMS`], by idf x count in the query).
    pub(crate) fn bm25(&self, query: &str) -> Scores {
        let n = self.units.len() as f64;
        let mut picked: Vec<(String, std::ops::Range<usize>, f64, f64)> = term_counts(query)
            .into_iter()
            .filter_map(|(term, qtf)| {
                let r = self.term_range(term_hash(&term));
                if r.is_empty() {
                    return None;
                }
                let df = r.len() as f64;
                let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                Some((term, r, idf, f64::from(qtf)))
            })
            .collect();
        // Ties by the term itself, not by where the index keeps it: an index of one
        // request's terms numbers them otherwise than the whole index, and the picks (and
        // the order the f32 sums are made in) must not depend on which index answers.
        picked.sort_by(|a, b| {
            (b.2 * b.3)
                .total_cmp(&(a.2 * a.3))
                .then_with(|| a.0.cmp(&b.0))
        });
        picked.truncate(MAX_QUERY_TERMS);
        let mut dense = vec![0.0f32; self.units.len()];
        for (_, range, idf, qtf) in picked {
            let weight = (idf * qtf) as f32;
            for (&u, &impact) in self.post_units[range.clone()]
                .iter()
                .zip(&self.post_impact[range])
            {
                dense[u as usize] += weight * impact;
            }
        }
        let max = f64::from(max_score(&dense));
        Scores { dense, max }
    }

    /// The unit holding a line of a document.
    fn unit_at(&self, path: &str, line: u32) -> Option<u32> {
        self.units
            .iter()
            .position(|u| {
                u.citation.path == path
                    && u.citation.line_start <= line
                    && line <= u.citation.line_end
            })
            .map(|u| u as u32)
    }

    /// The best units for a query, highest score first, ties in plan order. Units holding an
    /// `anchor` (where an id named in the query is declared) come first: explicit links
    /// before text relevance.
    pub(crate) fn search(
        &self,
        plan: &Plan,
        query: &str,
        limit: usize,
        anchors: &[Citation],
    ) -> Vec<Hit> {
        let scores = self.bm25(query);
        let mut ranked: Vec<(u32, f64)> = scores
            .units()
            .into_iter()
            .map(|u| (u, scores.get(u)))
            .collect();
        for a in anchors {
            if let Some(u) = self.unit_at(&a.path, a.line_start) {
                match ranked.iter_mut().find(|r| r.0 == u) {
                    Some(r) => r.1 += scores.max() + 1.0,
                    None => ranked.push((u, scores.max() + 1.0)),
                }
            }
        }
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(limit)
            .map(|(u, score)| {
                let unit = &self.units[u as usize];
                Hit {
                    title: unit.title.clone(),
                    citation: unit.citation.clone(),
                    score: round(score),
                    snippet: snippet(self.text(plan, u as usize), 240),
                }
            })
            .collect()
    }
}

/// Scores are shown with 4 decimals so output is stable and readable.
pub(crate) fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The first `max` characters of a unit's prose, headings and blank lines left out.
fn snippet(text: &str, max: usize) -> String {
    let flat = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map(|(a, _)| a).unwrap_or(&cut);
    format!("{cut} …")
}

pub(crate) mod persist;
#[cfg(test)]
mod tests;
