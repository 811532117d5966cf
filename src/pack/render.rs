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

/// A section's heading and source line, ending in a blank line.
pub fn section_frame(
    title: &str,
    citation: &Citation,
    tokens: usize,
    score: f64,
    cut: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## {title}");
    let heading = if citation.heading.is_empty() {
        String::new()
    } else {
        format!(" · {}", citation.heading)
    };
    let _ = writeln!(
        out,
        "> source: {citation}{heading} · {tokens} tokens · score {score}{}",
        if cut { " · cut to fit" } else { "" }
    );
    out.push('\n');
    out
}

/// A section's excerpt as rendered: the text, the cut mark, a blank line. The same for every
/// pack that uses the excerpt whole, so its token count is cached across packs.
pub fn section_body(text: &str, cut: bool) -> String {
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

fn header(pack: &Pack) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Context pack: {} — {}", pack.story_id, pack.title);
    let _ = writeln!(
        out,
        "> story {} · sprint {} · role {} · recipe {} · {} · {} of {} tokens · hash {}",
        pack.story_id,
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

fn footer(pack: &Pack) -> String {
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
        .map(|s| format!("{}@{}", s.path, s.hash.get(..8).unwrap_or(&s.hash)))
        .collect();
    let _ = writeln!(out, "Sources: {}", sources.join(", "));
    out
}

/// One chosen section of a pack, as rendered.
pub fn pack_section(s: &super::PackSection) -> String {
    section(&s.title, &s.citation, s.tokens, s.score, s.cut, &s.text)
}

/// The whole pack as Markdown; this is the text `total_tokens` and the budget count.
pub fn markdown(pack: &Pack) -> String {
    let mut out = header(pack);
    for s in &pack.sections {
        out.push_str(&pack_section(s));
    }
    out.push_str(&footer(pack));
    out
}

/// The pack's Markdown in its three kinds of pieces: header, sections, footer. Every piece
/// ends in a newline and the next starts with `#` or `-`, so a tokenizer that splits text
/// the way tiktoken does never joins two pieces into one token: the pack's count is the sum
/// of its pieces' counts (see [`crate::tokens::joins_cleanly`]).
pub fn header_and_footer(pack: &Pack) -> (String, String) {
    (header(pack), footer(pack))
}

/// The pack as pretty JSON (the structured result of `build_context_pack`), newline-ended.
pub fn json(pack: &Pack) -> String {
    let mut s =
        serde_json::to_string_pretty(pack).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
