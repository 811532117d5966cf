//! Token accounting of sections as [`super::render`] frames them: a cheap lower bound on a
//! frame's tokens, a section's count, and the warm-up that counts ahead the pieces every
//! pack shares.

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
/// renderer's own, not its title's or path's: today none but the citation's line numbers,
/// which join the path's last word. Measured once on a frame whose title and path are one
/// word each; a word of the renderer's that joins one of them is the placeholder's here, as
/// in every frame whose piece ends in a word; a piece without one only has fewer words.
static FRAME_OWN_WORDS: LazyLock<usize> = LazyLock::new(|| {
    let (title, path) = ("t", "p");
    let citation = Citation {
        path: path.into(),
        line_start: 1,
        line_end: 2,
        heading: String::new(),
    };
    min_tokens(&render::section_frame(title, &citation))
        .saturating_sub(min_tokens(title) + min_tokens(path))
});

/// At most [`min_tokens`] of a section's frame ([`render::section_frame`]), without
/// rendering it: the words of its title and path, and the frame's own ([`FRAME_OWN_WORDS`]).
pub(super) fn frame_floor(title: &str, citation: &Citation) -> usize {
    min_tokens(title) + min_tokens(&citation.path) + *FRAME_OWN_WORDS
}

/// Tokens of a section as rendered: its frame and its excerpt, each counted apart when they
/// join cleanly (see [`tokens::joins_cleanly`]), so both come from the cache: the frame is
/// the same in every pack citing the excerpt, and so is the excerpt used whole.
pub(super) fn settle_section(
    counter: &dyn TokenCounter,
    title: &str,
    citation: &Citation,
    cut: bool,
    text: &str,
) -> usize {
    let body = render::section_body(text, cut);
    let frame = render::section_frame(title, citation);
    if tokens::joins_cleanly(&frame, &body) {
        counter.count(&frame) + count_body(counter, &body, cut)
    } else {
        tokens::count_concat(counter, &[&frame, &body])
    }
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
/// epics, gate checklists) as packs render it, each section's frame that names it
/// ([`render::section_frame`], also under the titles role plans, epics and gates take as
/// mandatory parts) and every story's block, so later packs find those counts in the
/// counter's cache and count only what is their own (header, footer, cuts, merges). Long-lived processes
/// (the server) call it in the background after indexing. Returns the excerpts counted.
pub(crate) fn warm_counts(plan: &Plan, index: &SearchIndex, counter: &dyn TokenCounter) -> usize {
    let body = |c: &Citation| {
        counter.count(&render::section_body(
            &excerpt_without_heading(plan, c),
            false,
        ));
    };
    // A section's frame (see `settle_section`).
    let head = |title: &str, c: &Citation| {
        counter.count(&render::section_frame(title, c));
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
                    let frame = render::section_frame(title, &c);
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

    #[test]
    fn a_frames_floor_is_its_words_when_each_piece_ends_in_a_word() {
        // The floor is a bound worth testing against: exact for plain frames, so the
        // frame's own words are all found.
        for (title, path, heading) in [
            ("ADR-003: Index layout", "docs/adr-003.md", "Decision"),
            ("Story S1-01: Parse the plan", "docs/03-backlog/s1.md", ""),
        ] {
            let c = citation(path, heading);
            let frame = render::section_frame(title, &c);
            assert_eq!(frame_floor(title, &c), min_tokens(&frame), "{frame:?}");
        }
    }
}
