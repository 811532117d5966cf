//! Packs rendered for agents (Markdown) and tools (JSON), from the one `Pack` value.

use std::fmt::Write;

use rustc_hash::FxHashMap;

use super::Pack;
use crate::model::{Citation, escape_controls};

/// One excerpt: its heading, which ends in its short citation (`[n:lines]`, `n` numbering
/// the pack's source files, listed in its header), then the text. It is [`section_frame`]
/// followed by [`section_body`].
pub fn section(title: &str, source: usize, citation: &Citation, cut: bool, text: &str) -> String {
    let mut out = section_frame(title, source, citation);
    out.push_str(&section_body(text, cut));
    out
}

/// The source number sections are counted with while a pack is fitted, before the pack's
/// list of sources is settled: every number below 1,000 is one token of o200k_base and
/// cl100k_base, so a frame counts the same under any of them (tested); the few sections of
/// a pack past its 999th source are counted again with their own (`finish`).
pub(crate) const COUNTED_SOURCE: usize = 1;

/// Sources below this number count as [`COUNTED_SOURCE`] does.
pub(crate) const ONE_TOKEN_SOURCES: usize = 1_000;

/// A section's heading line with its short citation, then a blank line: the same in every
/// pack citing this excerpt under this title and number, so its token count is cached
/// across packs. The path is in the header ([`Sources`]); the heading path, the score
/// and the token count are the JSON pack's only.
pub(crate) fn section_frame(title: &str, source: usize, citation: &Citation) -> String {
    let mut out = String::with_capacity(title.len() + 24);
    let _ = write!(out, "## {title} [{source}:{}", citation.line_start);
    if citation.line_end != citation.line_start {
        let _ = write!(out, "-{}", citation.line_end);
    }
    out.push_str("]\n\n");
    out
}

/// A section's excerpt as rendered: the text, the cut mark, a blank line. The same for every
/// pack that uses the excerpt whole, so its token count is cached across packs.
pub(crate) fn section_body(text: &str, cut: bool) -> String {
    let text = text.trim_end();
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(text);
    out.push('\n');
    if cut {
        out.push_str("[…]\n");
    }
    out.push('\n');
    out
}

/// The files a pack's sections cite, in the order they are first cited, and each one's
/// number (from 1): source `n` of a section's citation is the `n`th.
pub(crate) struct Sources<'a> {
    pub(crate) paths: Vec<&'a str>,
    numbers: FxHashMap<&'a str, usize>,
}

impl<'a> Sources<'a> {
    pub(crate) fn of(citations: impl IntoIterator<Item = &'a Citation>) -> Self {
        let mut sources = Sources {
            paths: Vec::new(),
            numbers: FxHashMap::default(),
        };
        for c in citations {
            if !sources.numbers.contains_key(c.path.as_str()) {
                sources.paths.push(&c.path);
                sources.numbers.insert(&c.path, sources.paths.len());
            }
        }
        sources
    }

    /// The number of a cited file (0 for one no section cites).
    pub(crate) fn number(&self, path: &str) -> usize {
        self.numbers.get(path).copied().unwrap_or(0)
    }
}

/// A source's line in the pack's header: `[n]: path` (a Markdown link reference).
pub(crate) fn source_line(source: usize, path: &str) -> String {
    format!("[{source}]: {}\n", escape_controls(path))
}

/// The pack's title (with the story's state), its line of facts (sprint, role, tokens,
/// hash; the recipe and the encoding are the JSON's), the numbered list of the files its sections cite, then a blank line.
pub(crate) fn header(pack: &Pack) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Context pack: {}{}",
        pack.story_id,
        pack.state
            .map(|s| format!(" ({})", s.as_str().replace('_', " ")))
            .unwrap_or_default(),
    );
    let _ = writeln!(
        out,
        "> sprint {} · role {} · {} of {} tokens · hash {}",
        pack.sprint.as_deref().unwrap_or("-"),
        pack.role.as_deref().unwrap_or("-"),
        pack.total_tokens,
        pack.budget_tokens,
        pack.hash,
    );
    let cited = Sources::of(pack.sections.iter().map(|s| &s.citation));
    for (n, path) in cited.paths.iter().enumerate() {
        out.push_str(&source_line(n + 1, path));
    }
    out.push('\n');
    out
}

/// After the sections, when excerpts were left out: a rule and how many, for which reasons
/// (the JSON pack lists them). Empty otherwise.
pub(crate) fn footer(pack: &Pack) -> String {
    let left = pack.omitted.len() + pack.omitted_more;
    if left == 0 {
        return String::new();
    }
    let c = pack.omitted_by_reason;
    let reasons: Vec<String> = [
        (c.over_budget, "over budget"),
        (c.below_threshold, "below threshold"),
        (c.cap_reached, "over a part's cap"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{n} {why}"))
    .collect();
    format!("---\nLeft out: {left} excerpts ({}).\n", reasons.join(", "))
}

/// Each section of the pack as rendered in it, in order (a section's `tokens` is its count).
pub fn sections(pack: &Pack) -> Vec<String> {
    let cited = Sources::of(pack.sections.iter().map(|s| &s.citation));
    pack.sections
        .iter()
        .map(|s| {
            let n = cited.number(&s.citation.path);
            section(&s.title, n, &s.citation, s.cut, &s.text)
        })
        .collect()
}

/// The whole pack as Markdown; this is the text `total_tokens` and the budget count. It is
/// [`header`], the [`sections`], [`footer`]: every piece ends in a line break and the next
/// starts with `#` or `-`, so a tokenizer that splits text the way tiktoken does never joins
/// two pieces into one token, and the pack's count is the sum of its pieces' counts (see
/// [`crate::tokens::joins_cleanly`]).
pub fn markdown(pack: &Pack) -> String {
    let mut out = header(pack);
    for s in sections(pack) {
        out.push_str(&s);
    }
    out.push_str(&footer(pack));
    out
}

/// The pack as pretty JSON (the structured result of `build_context_pack`), newline-ended.
pub fn json(pack: &Pack) -> String {
    let mut s =
        serde_json::to_string_pretty(pack).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
