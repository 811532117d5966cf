//! Packs rendered for agents (Markdown) and tools (JSON), from the one `Pack` value.

use std::fmt::Write;

use super::Pack;
use crate::model::Citation;

/// One excerpt: its heading, its citation (`path:lines`), the text. It is
/// [`section_frame`] followed by [`section_body`].
pub fn section(title: &str, citation: &Citation, cut: bool, text: &str) -> String {
    let mut out = section_frame(title, citation);
    out.push_str(&section_body(text, cut));
    out
}

/// A section's heading and its citation line, ending in a blank line: the same in every pack
/// citing this excerpt under this title, so its token count is cached across packs. The
/// heading path, the score and the token count are the JSON pack's only.
pub(crate) fn section_frame(title: &str, citation: &Citation) -> String {
    let mut out = String::with_capacity(title.len() + citation.path.len() + 16);
    let _ = write!(out, "## {title}\n> {citation}\n\n");
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

/// Why the story's own text comes first, and where the numbers went.
const ORDER_LINE: &str =
    "> story first, then required parts, then by relevance; scores in the JSON\n";

/// The pack's title, its line of facts (story, sprint, role, recipe, encoding, tokens,
/// hash) and a line saying how the excerpts are ordered, then a blank line.
pub(crate) fn header(pack: &Pack) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Context pack: {} — {}", pack.story_id, pack.title);
    let _ = writeln!(
        out,
        "> story {}{} · sprint {} · role {} · recipe {} · {} · {} of {} tokens · hash {}",
        pack.story_id,
        pack.state
            .map(|s| format!(" ({})", s.as_str().replace('_', " ")))
            .unwrap_or_default(),
        pack.sprint.as_deref().unwrap_or("-"),
        pack.role.as_deref().unwrap_or("-"),
        pack.recipe,
        pack.encoding,
        pack.total_tokens,
        pack.budget_tokens,
        pack.hash,
    );
    out.push_str(ORDER_LINE);
    out.push('\n');
    out
}

/// After the sections, when excerpts were left out: a rule and how many, for which reasons
/// (the JSON pack lists them, and the sources with their hashes). Empty otherwise.
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
    format!(
        "---\nLeft out: {left} excerpts ({}), listed in the JSON.\n",
        reasons.join(", ")
    )
}

/// One chosen section of a pack, as rendered.
fn pack_section(s: &super::PackSection) -> String {
    section(&s.title, &s.citation, s.cut, &s.text)
}

/// The whole pack as Markdown; this is the text `total_tokens` and the budget count. It is
/// [`header`], the sections, [`footer`]: every piece ends in a line break and the next starts
/// with `#` or `-`, so a tokenizer that splits text the way tiktoken does never joins two
/// pieces into one token, and the pack's count is the sum of its pieces' counts (see
/// [`crate::tokens::joins_cleanly`]).
pub fn markdown(pack: &Pack) -> String {
    let mut out = header(pack);
    for s in &pack.sections {
        out.push_str(&pack_section(s));
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
