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
/// renderer's own, not its title's: today the short citation (`[n:lines]`). Measured once on
/// a frame whose title is one word; a word of the renderer's that joins the title is the
/// placeholder's here, as in every frame whose title ends in a word; a title without one
/// only has fewer words.
static FRAME_OWN_WORDS: LazyLock<usize> = LazyLock::new(|| {
    let title = "t";
    let citation = Citation {
        path: "p".into(),
        line_start: 1,
        line_end: 2,
        heading: String::new(),
    };
    min_tokens(&render::section_frame(
        title,
        render::COUNTED_SOURCE,
        &citation,
    ))
    .saturating_sub(min_tokens(title))
});

/// At most [`min_tokens`] of a section's frame ([`render::section_frame`]), without
/// rendering it: the words of its title and the frame's own ([`FRAME_OWN_WORDS`]).
pub(super) fn frame_floor(title: &str) -> usize {
    min_tokens(title) + *FRAME_OWN_WORDS
}

/// Tokens of a section as rendered: its frame and its excerpt, each counted apart when they
/// join cleanly (see [`tokens::joins_cleanly`]), so both come from the cache: the frame is
/// the same in every pack citing the excerpt, and so is the excerpt used whole. The frame is
/// counted as source [`render::COUNTED_SOURCE`]: exact for any source below
/// [`render::ONE_TOKEN_SOURCES`]; [`settle_numbered`] counts one past them.
pub(super) fn settle_section(
    counter: &dyn TokenCounter,
    title: &str,
    citation: &Citation,
    cut: bool,
    text: &str,
) -> usize {
    settle_numbered(counter, title, render::COUNTED_SOURCE, citation, cut, text)
}

/// [`settle_section`] with the section's own source number.
pub(super) fn settle_numbered(
    counter: &dyn TokenCounter,
    title: &str,
    source: usize,
    citation: &Citation,
    cut: bool,
    text: &str,
) -> usize {
    let body = render::section_body(text, cut);
    let frame = render::section_frame(title, source, citation);
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
        counter.count(&render::section_frame(title, render::COUNTED_SOURCE, c));
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
            "ends in a bracket]",
        ];
        let paths = ["docs/01-architecture/adr-003.md", "a b/c d.md", "-/--", ""];
        let counters = [
            Tiktoken::get(Encoding::O200kBase),
            Tiktoken::get(Encoding::Cl100kBase),
        ];
        for title in titles {
            for path in paths {
                for source in [1, 7, 42, 999, 1_000, 123_456] {
                    let c = citation(path, "");
                    let frame = render::section_frame(title, source, &c);
                    let words = min_tokens(&frame);
                    assert!(
                        frame_floor(title) <= words,
                        "{frame:?}: floor {} > {words}",
                        frame_floor(title)
                    );
                    for counter in counters {
                        assert!(words <= counter.count(&frame), "{frame:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_frames_floor_is_its_words_when_its_title_ends_in_a_word() {
        // The floor is a bound worth testing against: exact for plain frames, so the
        // frame's own words are all found.
        for title in ["ADR-003: Index layout", "Story S1-01: Parse the plan"] {
            let c = citation("docs/adr-003.md", "Decision");
            let frame = render::section_frame(title, render::COUNTED_SOURCE, &c);
            assert_eq!(frame_floor(title), min_tokens(&frame), "{frame:?}");
        }
    }

    /// Sections are counted as source 1 while a pack is fitted: any number below 1,000
    /// counts the same, in both encodings, whatever the title and lines around it.
    #[test]
    fn a_frame_counts_the_same_under_every_source_below_a_thousand() {
        let counters = [
            Tiktoken::get(Encoding::O200kBase),
            Tiktoken::get(Encoding::Cl100kBase),
        ];
        let titles = [
            "Story SRE-04-01: Provision",
            "x",
            "",
            "ends in 7",
            "[1]",
            "ünï —",
        ];
        let lines = [(1, 1), (3, 40), (999, 1_000), (12_345, 67_890)];
        for counter in counters {
            for title in titles {
                for (a, b) in lines {
                    let mut c = citation("p.md", "");
                    (c.line_start, c.line_end) = (a, b);
                    let at = |n| settle_numbered(counter, title, n, &c, false, "Some text.\n");
                    let one = at(render::COUNTED_SOURCE);
                    assert_eq!(
                        one,
                        settle_section(counter, title, &c, false, "Some text.\n")
                    );
                    for n in 0..render::ONE_TOKEN_SOURCES {
                        assert_eq!(at(n), one, "{title:?} [{n}:{a}-{b}]");
                    }
                }
            }
        }
    }
}
