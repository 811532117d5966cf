//! Tests of the search index: tokenizing, ranking, and the fast paths against their oracles.

use super::*;

/// The first tokenizer, kept to check the faster one against.
/// Calls `emit` for each search term of `text`: lowercased words (light plural stemming,
/// stopwords and bare numbers dropped) plus whole hyphenated ids with a digit (`sre-04-01`,
/// `f3-e1`), so ids match exactly.
fn tokenize_before(text: &str, mut emit: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut word = String::new();
    let mut compound = String::new();
    let mut compound_parts = 0usize;
    let mut compound_digit = false;
    let mut i = 0;
    let flush_word = |word: &mut String, emit: &mut dyn FnMut(&str)| {
        if word.len() >= 2 && !word.bytes().all(|b| b.is_ascii_digit()) && !is_stopword(word) {
            stem(word);
            emit(word);
        }
        word.clear();
    };
    while i <= bytes.len() {
        let b = bytes.get(i).copied();
        match b {
            Some(c) if c.is_ascii_alphanumeric() || c >= 0x80 => {
                let ch = c.to_ascii_lowercase() as char;
                // Non-ASCII bytes are copied whole (a UTF-8 sequence stays valid).
                if c >= 0x80 {
                    let len = utf8_len(c);
                    let end = (i + len).min(bytes.len());
                    if let Some(s) = text.get(i..end) {
                        word.push_str(s);
                        compound.push_str(s);
                    }
                    i = end;
                    continue;
                }
                if c.is_ascii_digit() {
                    compound_digit = true;
                }
                word.push(ch);
                compound.push(ch);
            }
            Some(b'-') | Some(b'_')
                if !word.is_empty()
                    && bytes.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric()) =>
            {
                flush_word(&mut word, &mut emit);
                compound.push('-');
                compound_parts += 1;
            }
            _ => {
                flush_word(&mut word, &mut emit);
                if compound_parts > 0 && compound_digit {
                    emit(&compound);
                }
                compound.clear();
                compound_parts = 0;
                compound_digit = false;
            }
        }
        i += 1;
    }
}

fn stem(word: &mut String) {
    if word.len() > 4 && word.ends_with("ies") {
        word.truncate(word.len() - 3);
        word.push('y');
    } else if word.len() > 3
        && word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
    {
        word.pop();
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// The index's per-unit flag, which packs trust instead of reading the excerpt, says
/// what reading the excerpt says, and the example plan has units of both sorts.
#[test]
fn a_units_bodiless_flag_is_what_its_excerpt_says() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plan");
    let plan = crate::plan::parse_dir(&root).plan;
    let index = SearchIndex::build(&plan);
    let mut seen = [0usize; 2];
    for (u, unit) in index.units.iter().enumerate() {
        let read = plan.excerpt_is_bodiless(&unit.citation);
        assert_eq!(index.bodiless(u), read, "{:?}", unit.citation);
        seen[usize::from(read)] += 1;
    }
    assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
}

#[test]
fn the_fast_tokenizer_gives_the_same_terms_on_the_example_plan() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plan");
    let plan = crate::plan::parse_dir(&root).plan;
    let mut samples: Vec<String> = plan.docs.iter().map(|d| d.text.clone()).collect();
    samples.push("İİ ẞ café Queues_x-1 a-b_c-9 --x F3-E1- -F3-E2 x_ SRE-04-01's ÉCOLE-2".into());
    for text in samples {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        tokenize(&text, |t| a.push(t.to_string()));
        tokenize_before(&text, |t| b.push(t.to_string()));
        assert_eq!(a, b);
    }
}

/// Indexing for a term set skips the words it cannot hold, uncopied, yet counts the same
/// length and finds the same terms as indexing everything.
#[test]
fn term_set_indexing_counts_and_finds_as_the_whole_does() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plan");
    let plan = crate::plan::parse_dir(&root).plan;
    let mut samples: Vec<String> = plan.docs.iter().map(|d| d.text.clone()).collect();
    samples.push("İİ ẞ café Queues_x-1 a-b_c-9 THE The tHe Its ITS F3-E1 f3-e1 WHICH".into());
    for (k, text) in samples.iter().enumerate() {
        let all = terms(text);
        // A term set of every third distinct term (and a stopword-like id, a compound).
        let mut distinct: Vec<&String> = all.iter().collect();
        distinct.sort();
        distinct.dedup();
        let picked: Vec<String> = distinct
            .iter()
            .skip(k % 3)
            .step_by(3)
            .map(|t| t.to_string())
            .chain(["a-b-c-9".to_string(), "queues-x-1".to_string()])
            .collect();
        let mut set = FxHashSet::default();
        let mut pairs = Box::new([0u64; 1024]);
        for t in &picked {
            set.insert(term_hash(t));
            let b = t.as_bytes();
            let (w, bit) = pair_bit([b[0], b[1]], b.len());
            pairs[w] |= bit;
        }
        let filter: TermFilter = (set, pairs);
        let mut scratch = FxHashMap::default();
        let got = unit_terms(text, Some(&filter), &mut scratch);
        assert_eq!(got.len as usize, all.len(), "doc {k}");
        let mut want: FxHashMap<u64, u32> = FxHashMap::default();
        for t in &all {
            if picked.contains(t) {
                *want.entry(term_hash(t)).or_default() += 1;
            }
        }
        let got: FxHashMap<u64, u32> = got.terms.into_iter().collect();
        assert_eq!(got, want, "doc {k}");
    }
}

fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    tokenize(text, |t| out.push(t.to_string()));
    out
}

#[test]
fn tokenizer_keeps_ids_whole_and_drops_noise() {
    assert_eq!(
        terms("SRE-04-01 tunes the Queues for F3-E1, 2026."),
        [
            "sre",
            "04",
            "01",
            "sre-04-01",
            "tune",
            "queue",
            "f3",
            "e1",
            "f3-e1"
        ]
        .iter()
        .filter(|t| !t.chars().all(|c| c.is_ascii_digit()))
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
    );
    assert_eq!(terms("policies café"), ["policy", "café"]);
    assert!(terms("a an the 42").is_empty());
}
