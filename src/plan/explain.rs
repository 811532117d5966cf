//! `storypack explain FILE`: what storypack read from one file, line by line, and which
//! lists and tables it read nothing from (and why), so a team adapting its plan sees at once
//! where it stands.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::extract::{FileFacts, front_matter};
use super::markdown::{self, BlockKind};
use super::text;
use crate::model::{Citation, Diagnostic, DocKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Explanation {
    pub path: String,
    /// The part of the plan the file's folder makes it (`backlog`, `role_plans`, `other`..).
    pub kind: DocKind,
    /// What was read, in line order.
    pub read: Vec<Reading>,
    /// Lists and tables nothing was read from, with why.
    pub skipped: Vec<Reading>,
    /// The plan's diagnostics about this file.
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reading {
    pub line_start: u32,
    pub line_end: u32,
    /// `sprint row`, `story`, `story mention`, `feature`, `epic`, `gate checklist`,
    /// `gate item`, `role-plan section`, `mission focus`, `checklist step`, or for skipped
    /// blocks `list` / `table`.
    pub what: String,
    pub detail: String,
}

fn reading(c: &Citation, what: &str, detail: String) -> Reading {
    Reading {
        line_start: c.line_start,
        line_end: c.line_end,
        what: what.to_string(),
        detail,
    }
}

fn or_dash(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

/// Explains one file from its facts and the plan's diagnostics.
pub(crate) fn explain(facts: &FileFacts, diagnostics: &[Diagnostic]) -> Explanation {
    let mut read = Vec::new();
    for r in &facts.roadmap_rows {
        let dates = match (r.start, r.end) {
            (Some(a), Some(b)) => format!("{a} .. {b}"),
            (Some(a), None) => format!("from {a}"),
            _ => "no dates".into(),
        };
        let roles: Vec<&str> = r.roles.iter().map(|x| x.label.as_str()).collect();
        let mut detail = format!(
            "sprint {}: theme {}, gate {}, epics [{}], {dates}",
            r.sprint,
            or_dash(&r.theme),
            or_dash(&r.gate),
            r.epics.join(", ")
        );
        if !roles.is_empty() {
            detail.push_str(&format!(", roles [{}]", roles.join(", ")));
        }
        if !r.extra.is_empty() {
            let extra: Vec<&str> = r.extra.keys().map(String::as_str).collect();
            detail.push_str(&format!(", kept as extras: {}", extra.join(", ")));
        }
        read.push(reading(&r.citation, "sprint row", detail));
    }
    for s in &facts.checklist {
        read.push(reading(
            &s.citation,
            "checklist step",
            format!("{}. {}", s.n, s.text),
        ));
    }
    for f in &facts.features {
        read.push(reading(
            &f.citation,
            "feature",
            format!("{} {}", f.id, f.title),
        ));
    }
    for e in &facts.epics {
        read.push(reading(
            &e.citation,
            "epic",
            format!("{} {}", e.id, e.title),
        ));
    }
    for (i, s) in facts.stories.iter().enumerate() {
        let what = if facts.mentions.contains(&i) {
            "story mention"
        } else {
            "story"
        };
        let mut detail = format!(
            "{} {} [sprint {}, role {}, epic {}, {}]",
            s.id,
            s.title,
            or_dash(&s.sprint),
            or_dash(&s.role),
            or_dash(&s.epic),
            if s.status == crate::model::StoryStatus::Done {
                "done"
            } else {
                "todo"
            }
        );
        detail.push_str(&format!(", {} acceptance criteria", s.acceptance.len()));
        if !s.depends_on.is_empty() {
            detail.push_str(&format!(", depends on {}", s.depends_on.join(", ")));
        }
        read.push(reading(&s.citation, what, detail));
    }
    for g in &facts.gates {
        read.push(reading(
            &g.citation,
            "gate checklist",
            format!(
                "{} (sprint {}), {} items",
                g.gate,
                or_dash(&g.sprint),
                g.items.len()
            ),
        ));
        for item in &g.items {
            let mut detail = format!("[{}] {}", if item.checked { "x" } else { " " }, item.text);
            if !item.evidence.is_empty() {
                detail.push_str(&format!("; evidence: {}", item.evidence.join(", ")));
            }
            if let Some(due) = &item.due {
                detail.push_str(&format!("; due {due}"));
            }
            read.push(reading(&item.citation, "gate item", detail));
        }
    }
    for r in &facts.role_sections {
        let week = r.week.map(|w| format!(", week {w}")).unwrap_or_default();
        read.push(reading(
            &r.citation,
            "role-plan section",
            format!("sprint {}, {}: {}{week}", r.sprint, r.role, r.section),
        ));
    }
    for f in &facts.focus {
        read.push(reading(
            &f.citation,
            "mission focus",
            format!("sprint {}, {}: {}", f.sprint, f.role, f.text),
        ));
    }
    read.sort_by_key(|r| (r.line_start, r.line_end));

    let skipped = skipped_blocks(facts, &read);
    Explanation {
        path: facts.doc.path.clone(),
        kind: facts.doc.kind,
        read,
        skipped,
        diagnostics: diagnostics
            .iter()
            .filter(|d| d.path == facts.doc.path)
            .cloned()
            .collect(),
    }
}

/// Top-level lists and tables that no reading overlaps.
fn skipped_blocks(facts: &FileFacts, read: &[Reading]) -> Vec<Reading> {
    let doc = &facts.doc;
    let body = front_matter(&doc.text).1;
    let parsed = markdown::parse(&doc.text[body..], body);
    let line = |offset: usize| text::line_of(&doc.line_starts, offset);
    let mut out = Vec::new();
    for block in &parsed.blocks {
        let (what, detail) = match &block.kind {
            BlockKind::List { items, .. } => (
                "list",
                format!(
                    "{} items, starting `{}`: not under a heading storypack reads (a backlog, a \
                     gate checklist, a role plan's sprint section, a roadmap checklist), and no \
                     item is a story, a gate item or a field",
                    items.len(),
                    items
                        .first()
                        .map(|i| i
                            .text
                            .lines()
                            .next()
                            .unwrap_or("")
                            .chars()
                            .take(48)
                            .collect::<String>())
                        .unwrap_or_default()
                ),
            ),
            BlockKind::Table { header, .. } => (
                "table",
                format!(
                    "columns {}: not a roadmap (needs a Sprint column, in a roadmap file or under a \
                     Roadmap heading) nor a backlog table (needs ID and Title columns, in a backlog)",
                    header.iter().map(|h| &**h).collect::<Vec<_>>().join(", ")
                ),
            ),
            _ => continue,
        };
        let (start, end) = (
            line(block.start),
            line(block.end.saturating_sub(1).max(block.start)),
        );
        if read
            .iter()
            .any(|r| r.line_start <= end && start <= r.line_end)
        {
            continue;
        }
        out.push(Reading {
            line_start: start,
            line_end: end,
            what: what.to_string(),
            detail,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Config;
    use crate::plan::extract::extract;

    #[test]
    fn a_backlog_file_is_explained_and_a_stray_list_named() {
        let text = "# Backlog\n\n## Sprint 2\n\n- [ ] PAY-1 Ledger table\n  - Epic: F1-E1\n  \
                    - Acceptance: rows balance\n\n## Notes\n\n- talk to finance\n";
        let facts = extract("docs/03-backlog/b.md", text, &Config::default());
        let e = explain(&facts, &[]);
        assert_eq!(e.read.len(), 1, "{e:#?}");
        assert_eq!(e.read[0].what, "story");
        assert_eq!(
            e.read[0].detail,
            "PAY-1 Ledger table [sprint 02, role -, epic F1-E1, todo], 1 acceptance criteria"
        );
        assert_eq!((e.read[0].line_start, e.read[0].line_end), (5, 7));
        // The notes list is read as a story-less list in a backlog: named as skipped.
        assert_eq!(e.skipped.len(), 1, "{e:#?}");
        assert_eq!(
            (e.skipped[0].what.as_str(), e.skipped[0].line_start),
            ("list", 11)
        );
    }
}
