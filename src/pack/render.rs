//! Packs rendered for agents (Markdown) and tools (JSON), from the one `Pack` value.

use std::fmt::Write;

use super::Pack;
use crate::model::Citation;

/// One excerpt: a heading, a source line (citation, heading path, tokens, score), the text.
/// It is [`section_frame`] followed by [`section_body`].
pub fn section(
    title: &str,
    citation: &Citation,
    tokens: usize,
    score: f64,
    cut: bool,
    text: &str,
) -> String {
    let mut out = section_frame(title, citation, tokens, score, cut);
    out.push_str(&section_body(text, cut));
    out
}

/// A section's heading and source line, ending in a blank line: [`frame_head`], then the
/// tail (this pack's own): [`frame_tail_count`] and [`frame_tail_rest`].
pub(crate) fn section_frame(
    title: &str,
    citation: &Citation,
    tokens: usize,
    score: f64,
    cut: bool,
) -> String {
    let mut out = frame_head(title, citation);
    out.push_str(&frame_tail_count(tokens));
    out.push_str(&frame_tail_rest(score, cut));
    out
}

/// The part of a frame that is the same in every pack citing this excerpt: the heading and
/// the source line's citation and heading path (so its token count is cached across packs).
pub(crate) fn frame_head(title: &str, citation: &Citation) -> String {
    let mut out = String::with_capacity(title.len() + citation.path.len() + 48);
    let _ = write!(out, "## {title}\n> source: {citation}");
    if !citation.heading.is_empty() {
        let _ = write!(out, " · {}", citation.heading);
    }
    out
}

/// A frame tail's first part: the section's token count.
pub(crate) fn frame_tail_count(tokens: usize) -> String {
    format!(" · {tokens}")
}

/// A frame tail's second part: the score, the cut mark, the end of the line and a blank
/// line; the same for every section with this score and cut mark.
pub(crate) fn frame_tail_rest(score: f64, cut: bool) -> String {
    format!(
        " tokens · score {score}{}\n\n",
        if cut { " · cut to fit" } else { "" }
    )
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

/// The pack's title and its line of facts (story, sprint, role, recipe, encoding, tokens,
/// hash), then a blank line.
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
    out.push('\n');
    out
}

/// The rule after the sections, what was left out, and the sources (short hashes).
pub(crate) fn footer(pack: &Pack) -> String {
    let mut out = String::from("---\n");
    let left = pack.omitted.len() + pack.omitted_more;
    if left > 0 {
        let c = pack.omitted_by_reason;
        let _ = writeln!(
            out,
            "Left out: {left} excerpts ({} over budget, {} below the relevance threshold, {} over a part's cap); the JSON pack lists the best {} with citation and score.",
            c.over_budget,
            c.below_threshold,
            c.cap_reached,
            pack.omitted.len(),
        );
    }
    // Short hashes here; the JSON pack carries them whole.
    let sources: Vec<String> = pack
        .sources
        .iter()
        .map(|s| source_ref(&s.path, &s.hash))
        .collect();
    let _ = writeln!(out, "Sources: {}", sources.join(", "));
    out
}

/// A source as the footer names it: its path and short hash.
pub(crate) fn source_ref(path: &str, hash: &str) -> String {
    format!("{path}@{}", hash.get(..8).unwrap_or(hash))
}

/// One chosen section of a pack, as rendered.
fn pack_section(s: &super::PackSection) -> String {
    section(&s.title, &s.citation, s.tokens, s.score, s.cut, &s.text)
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
