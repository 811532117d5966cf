//! Token accounting of sections as [`super::render`] frames them: a cheap lower bound on a
//! frame's tokens, a section's settled count (its frame prints it), and the warm-up that
//! counts ahead the pieces every pack shares.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::candidates::{
    dependency_title, epic_title, excerpt_without_heading, gate_title, role_plan_title,
    story_title, units_with_body,
};
use super::{render, story_block};
use crate::model::{Citation, Plan};
use crate::search::SearchIndex;
use crate::tokens::{self, TokenCounter};

/// Section token counts whose frame text [`warm_counts`] counts ahead: every count a section
/// of a pack within the MCP server's largest budget (12,000) can print.
const SECTION_COUNTS_WARMED: usize = 12_000;

/// A lower bound on the tokens of any text holding `text`: its whitespace-separated words
/// with a letter or digit. No o200k_base or cl100k_base piece holds letters or digits from
/// two such words (only runs of whitespace, line breaks and `/` join across whitespace), and
/// every piece is at least one token.
pub(super) fn min_tokens(text: &str) -> usize {
    let mut words = 0;
    let mut counted = false;
    for b in text.bytes() {
        if b.is_ascii_whitespace() {
            counted = false;
        } else if !counted && b.is_ascii_alphanumeric() {
            counted = true;
            words += 1;
        }
    }
    words
}

/// The words ([`min_tokens`]) of a section's frame ([`render::section_frame`]) that are the
/// renderer's own, not its title's, path's or heading's: today "source:", the token count,
/// "tokens", "score" and the score. Measured once on a frame whose title, path and heading
/// are one word each (a count and a score are one word whatever their value; the fewer
/// words of the two cut marks). A word of the renderer's that joins one of them (the
/// citation's line numbers join the path's last word) is the placeholder's here, as in
/// every frame whose piece ends in a word; a piece without one only has fewer words.
static FRAME_OWN_WORDS: LazyLock<usize> = LazyLock::new(|| {
    let (title, path, heading) = ("t", "p", "h");
    let citation = Citation {
        path: path.into(),
        line_start: 1,
        line_end: 2,
        heading: heading.into(),
    };
    let pieces = min_tokens(title) + min_tokens(path) + min_tokens(heading);
    [false, true]
        .map(|cut| min_tokens(&render::section_frame(title, &citation, 0, 0.0, cut)))
        .into_iter()
        .min()
        .unwrap_or(0)
        .saturating_sub(pieces)
});

/// At most [`min_tokens`] of a section's frame ([`render::section_frame`]), without
/// rendering it: the words of its title, path and heading, and the frame's own
/// ([`FRAME_OWN_WORDS`]).
pub(super) fn frame_floor(title: &str, citation: &Citation) -> usize {
    min_tokens(title)
        + min_tokens(&citation.path)
        + min_tokens(&citation.heading)
        + *FRAME_OWN_WORDS
}

/// Tokens of a section as rendered, with its own count printed in it: counted until the
/// count printed is the count of the text. Only the frame (heading, source line) changes
/// between rounds; the excerpt's count comes from the cache (see [`tokens::joins_cleanly`]).
pub(super) fn settle_section(
    counter: &dyn TokenCounter,
    title: &str,
    citation: &Citation,
    score: f64,
    cut: bool,
    text: &str,
) -> usize {
    let body = render::section_body(text, cut);
    let head = render::frame_head(title, citation);
    // The head and the excerpt are the same in every pack citing them, so their counts are
    // remembered. So is the tail's: it is the section's count (` · 120`, the same in every
    // section of that many tokens; the warm-up counts them up to [`SECTION_COUNTS_WARMED`])
    // then the rest (` tokens · score 0.87`, the cut mark, a blank line: the same in every
    // section of that score and cut). Every count starts with a space and ends with a digit,
    // and the rest starts with a space and ends with a blank line, so one count tells how
    // all of them join.
    let rest = render::frame_tail_rest(score, cut);
    let first = render::frame_tail_count(0);
    let apart = tokens::joins_cleanly(&head, &first)
        && tokens::joins_cleanly(&first, &rest)
        && tokens::joins_cleanly(&rest, &body);
    let fixed = apart
        .then(|| counter.count(&head) + counter.count(&rest) + count_body(counter, &body, cut));
    let count = |t: usize| {
        let tail = render::frame_tail_count(t);
        match fixed {
            Some(f) => f + counter.count(&tail),
            None => tokens::count_concat(counter, &[&head, &tail, &rest, &body]),
        }
    };
    // More digits never mean fewer tokens, so from 0 the count only grows to its fixed point.
    let mut t = 0;
    for _ in 0..8 {
        let n = count(t);
        if n == t {
            break;
        }
        t = n;
    }
    t
}

/// Tokens of a section's excerpt as rendered ([`render::section_body`]). A cut excerpt is
/// counted sentence by sentence ([`tokens::count_pieces`]), so the prefixes
/// [`super::fitting`] tries when it cuts an excerpt to fit, and other packs' cuts of the
/// same excerpt, share the counts of their sentences.
fn count_body(counter: &dyn TokenCounter, body: &str, cut: bool) -> usize {
    if cut {
        tokens::count_pieces(counter, body, b".!?")
    } else {
        counter.count(body)
    }
}

/// Counts once every excerpt a pack can draw from the plan (the search index's sections,
/// epics, gate checklists) as packs render it, the part of each section's frame that names
/// it ([`render::frame_head`], also under the titles role plans, epics and gates take as
/// mandatory parts), every story's block, the token counts frames print and every document
/// as a footer's source, so later packs find those counts in the counter's cache and count
/// only what is their own (a frame's score, header, footer, cuts). Long-lived processes
/// (the server) call it in the background after indexing. Returns the excerpts counted.
pub(crate) fn warm_counts(plan: &Plan, index: &SearchIndex, counter: &dyn TokenCounter) -> usize {
    let body = |c: &Citation| {
        counter.count(&render::section_body(
            &excerpt_without_heading(plan, c),
            false,
        ));
    };
    // The fixed part of a section's frame (see `settle_section`).
    let head = |title: &str, c: &Citation| {
        counter.count(&render::frame_head(title, c));
    };
    // Units carry their emptiness from indexing; epics and gate checklists are read.
    let mut counted = 0;
    for (u, unit) in index.units.iter().enumerate() {
        if !index.bodiless(u) {
            body(&unit.citation);
            head(&unit.title, &unit.citation);
            counted += 1;
        }
    }
    // The frames of the mandatory parts drawn from them: role plans, epics, gates.
    let role_docs: BTreeSet<&str> = plan
        .role_sections
        .iter()
        .map(|r| r.citation.path.as_str())
        .collect();
    for u in units_with_body(plan, index, &role_docs) {
        let unit = &index.units[u];
        head(&role_plan_title(unit), &unit.citation);
    }
    let others = (plan.epics.iter().map(|e| (epic_title(e), &e.citation)))
        .chain(plan.gates.iter().map(|g| (gate_title(g), &g.citation)))
        .filter(|(_, c)| !plan.excerpt_is_bodiless(c));
    for (title, c) in others {
        body(c);
        head(&title, c);
        counted += 1;
    }
    // The counts sections print in their frames (see `settle_section`).
    for t in 0..=SECTION_COUNTS_WARMED {
        counter.count(&render::frame_tail_count(t));
    }
    // Every story as a pack's own story and as a dependency.
    for story in &plan.stories {
        for (title, with_place) in [(story_title(story), false), (dependency_title(story), true)] {
            counter.count(&render::section_body(
                &story_block(story, with_place),
                false,
            ));
            head(&title, &story.citation);
        }
    }
    // Every document as a source in a footer, between others or last (see `finish`).
    for doc in &plan.docs {
        let source = render::source_ref(&doc.path, &doc.hash);
        counter.count(&format!(" {source},"));
        counter.count(&format!(" {source}\n"));
    }
    counted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Encoding, Tiktoken};

    fn citation(path: &str, heading: &str) -> Citation {
        Citation {
            path: path.into(),
            line_start: 3,
            line_end: 40,
            heading: heading.into(),
        }
    }

    #[test]
    fn a_frames_floor_is_below_its_words_and_its_tokens() {
        let titles = [
            "ADR-003: Index layout",
            "x",
            "",
            "  spaced   out  ",
            "ünïcödé — dash",
            "### ## #",
        ];
        let paths = ["docs/01-architecture/adr-003.md", "a b/c d.md", "-/--", ""];
        let headings = ["", "Decision", "Decision > Consequences", "· ·"];
        let counters = [
            Tiktoken::get(Encoding::O200kBase),
            Tiktoken::get(Encoding::Cl100kBase),
        ];
        for title in titles {
            for path in paths {
                for heading in headings {
                    let c = citation(path, heading);
                    for (tokens, score, cut) in
                        [(0, 0.0, false), (12345, 0.1234, true), (7, 1.0, false)]
                    {
                        let frame = render::section_frame(title, &c, tokens, score, cut);
                        let words = min_tokens(&frame);
                        assert!(
                            frame_floor(title, &c) <= words,
                            "{frame:?}: floor {} > {words}",
                            frame_floor(title, &c)
                        );
                        for counter in counters {
                            assert!(words <= counter.count(&frame), "{frame:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_frames_floor_is_its_words_when_each_piece_ends_in_a_word() {
        // The floor is a bound worth testing against: exact for plain frames, whatever
        // their count and score, so the frame's own words are all found.
        for (title, path, heading) in [
            ("ADR-003: Index layout", "docs/adr-003.md", "Decision"),
            ("Story S1-01: Parse the plan", "docs/03-backlog/s1.md", ""),
        ] {
            let c = citation(path, heading);
            for (tokens, score) in [(0, 0.0), (12345, 0.1234), (7, 1.0)] {
                let frame = render::section_frame(title, &c, tokens, score, false);
                assert_eq!(frame_floor(title, &c), min_tokens(&frame), "{frame:?}");
            }
        }
    }
}
