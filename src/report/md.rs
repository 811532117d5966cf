//! The gate package as Markdown (`report gate --md`): the same facts as [`super::html`],
//! for a pull request or a wiki page. Text from the plan is escaped so that it cannot open
//! a table cell, a link or raw HTML.

use std::fmt::Write;

use super::{GatePackage, handoff_label, pack_label, verdict_label};

/// Escapes Markdown's punctuation and flattens line breaks (one table cell, one line).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let flat = text.replace(['\n', '\r'], " ");
    for c in crate::model::escape_controls(&flat).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Inline code that no backtick in `text` can close.
fn code(text: &str) -> String {
    let flat = text.replace(['\n', '\r', '|'], " ");
    let text = crate::model::escape_controls(&flat);
    let mut fence = "`".to_string();
    while text.contains(&fence) {
        fence.push('`');
    }
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// The whole Markdown document.
pub fn document(pkg: &GatePackage) -> String {
    let r = &pkg.report;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Gate evidence: sprint {} {}\n",
        esc(&r.sprint),
        esc(r.gate.as_deref().unwrap_or("(no gate)"))
    );
    let _ = writeln!(out, "**Verdict: {}**\n", verdict_label(r.verdict));
    let _ = write!(out, "- Today: {}", r.today);
    if let Some(d) = r.day {
        let _ = write!(out, " (day {d} of the sprint)");
    }
    out.push('\n');
    if let (Some(s), Some(e)) = (r.start, r.end) {
        let _ = writeln!(out, "- Sprint: {s} to {e}");
    }
    let _ = writeln!(out, "- Generated: {}", pkg.generated_at);
    let _ = writeln!(out, "- Plan hash: `{}`", pkg.plan_hash);
    let checklists: Vec<String> = r.checklists.iter().map(|c| code(&c.to_string())).collect();
    let _ = writeln!(out, "- Checklists: {}", checklists.join(", "));
    if r.reasons.is_empty() {
        let _ = writeln!(out, "\nNothing stands in the way of this gate.");
    } else {
        let _ = writeln!(out, "\n## Reasons\n");
        for reason in &r.reasons {
            let _ = writeln!(out, "- {}", esc(reason));
        }
    }
    let overdue: Vec<_> = pkg.overdue().collect();
    if !overdue.is_empty() {
        let _ = writeln!(out, "\n## Overdue items ({})\n", overdue.len());
        for i in overdue {
            let date = i.due_date.map(|d| format!(", {d}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "- {} (due {}{date}) {}",
                esc(&i.text),
                esc(&i.due),
                code(&i.citation.to_string())
            );
        }
    }
    let _ = writeln!(out, "\n## Evidence checklist ({} items)\n", r.items.len());
    let _ = writeln!(out, "| Item | State | Due | Owner | Evidence | Source |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for i in &r.items {
        let state = if i.checked {
            "checked"
        } else if i.overdue {
            "overdue"
        } else {
            "open"
        };
        let evidence: Vec<String> = i
            .evidence
            .iter()
            .map(|e| {
                let mut s = format!("{} {}", e.state.as_str(), code(&e.reference));
                if let Some(d) = &e.detail {
                    let _ = write!(s, ": {}", esc(d));
                }
                s
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {state} | {} | {} | {} | {} |",
            esc(&i.text),
            esc(&i.due),
            esc(i.owner.as_deref().unwrap_or("")),
            if evidence.is_empty() {
                "none cited".to_string()
            } else {
                evidence.join("<br>")
            },
            code(&i.citation.to_string())
        );
    }
    let _ = writeln!(out, "\n## Stories ({})\n", r.stories.len());
    let _ = writeln!(out, "| Story | State | Claim | Pack | Handoff | Source |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for s in &r.stories {
        let claim = s
            .claim
            .as_ref()
            .map(|c| format!("{} until {}", esc(&c.agent), c.until))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} {} | {} | {claim} | {} | {} | {} |",
            esc(&s.id),
            esc(&s.title),
            s.state.as_str(),
            pack_label(s.pack),
            handoff_label(s.handoff),
            code(&s.citation.to_string())
        );
    }
    let with_handoffs: Vec<_> = pkg
        .timelines
        .iter()
        .filter(|t| !t.handoffs.is_empty())
        .collect();
    if !with_handoffs.is_empty() {
        let _ = writeln!(out, "\n## Handoffs\n");
        for t in with_handoffs {
            let _ = writeln!(out, "### {}\n", esc(&t.story_id));
            for h in &t.handoffs {
                let _ = writeln!(
                    out,
                    "1. {} {}, {}: {} to {}. {}",
                    code(&h.id),
                    h.status,
                    h.received_at,
                    esc(&h.from),
                    esc(&h.to),
                    esc(&h.summary)
                );
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_text_cannot_break_a_table_or_a_code_span() {
        assert_eq!(esc("a | b <script>"), "a \\| b \\<script\\>");
        assert_eq!(esc("line\nbreak"), "line break");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("p|q"), "`p q`");
    }
}
