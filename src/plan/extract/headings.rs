//! Headings: the context they open (role-plan sections, weeks, sprints, gate evidence,
//! checklists), features and epics they declare, and the sections they delimit.

use super::{Heading, Walker, front_matter};
use crate::model::{DocKind, Epic, Feature, GateChecklist, RoleSection, Section};
use crate::plan::markdown::{Block, BlockKind};
use crate::plan::text;

impl Walker<'_> {
    pub(super) fn open_heading(&mut self, level: u8, heading: &str, start: usize, end: usize) {
        while self.headings.last().is_some_and(|h| h.level >= level) {
            self.headings.pop();
        }
        let ctx = &mut self.ctx;
        let closes = |slot: Option<u8>| slot.is_some_and(|l| l >= level);
        if closes(ctx.section.map(|s| s.1)) {
            ctx.section = None;
            ctx.week = None;
        }
        if closes(ctx.week.map(|w| w.1)) {
            ctx.week = None;
        }
        if closes(ctx.sprint.as_ref().map(|s| s.1)) {
            ctx.sprint = None;
        }
        if closes(ctx.gate.map(|g| g.1)) {
            ctx.gate = None;
        }
        if closes(ctx.checklist) {
            ctx.checklist = None;
        }
        if closes(ctx.area.map(|a| a.1)) {
            ctx.area = None;
        }
        if self.kind == DocKind::Other
            && let Some(area) = area_of(heading)
        {
            self.ctx.area = Some((area, level));
        }
        self.headings.push(Heading {
            level,
            text: heading.to_string(),
        });

        // `## Sprint 2` in a role plan names the sprint of the sections below it.
        if self.kind == DocKind::RolePlans
            && self.plan_sprint.is_none()
            && let Some(sprint) = text::sprint_in_text(heading)
        {
            self.ctx.sprint = Some((sprint, level));
        }
        if let (Some(sprint), Some(role)) = (self.role_plan_sprint(), self.role.clone()) {
            if let Some((_, key)) = text::section_key(heading) {
                self.ctx.section = Some((key, level));
                self.ctx.week = None;
                let citation = self.cite(start, end);
                self.role_sections.push(RoleSection {
                    sprint,
                    role,
                    section: key.to_string(),
                    week: None,
                    citation,
                });
            } else if let (Some((key, _)), Some(week)) = (self.ctx.section, text::week_of(heading))
            {
                self.ctx.week = Some((week, level));
                let citation = self.cite(start, end);
                self.role_sections.push(RoleSection {
                    sprint,
                    role,
                    section: key.to_string(),
                    week: Some(week),
                    citation,
                });
            }
        }
        if self.file_gate.is_none() && is_gate_heading(heading) {
            let citation = self.cite(start, end);
            let sprint = text::sprint_in_text(heading).or_else(|| {
                self.ctx
                    .sprint
                    .as_ref()
                    .map(|s| s.0.clone())
                    .or_else(|| self.plan_sprint.clone())
            });
            self.gates.push(GateChecklist {
                gate: heading.to_string(),
                sprint,
                items: Vec::new(),
                citation,
            });
            self.ctx.gate = Some((self.gates.len() - 1, level));
        }
        if let Some(sprint) = text::sprint_in_text(heading) {
            self.ctx.sprint = Some((sprint, level));
        }
        if text::lowercase_contains(heading, "checklist") {
            self.ctx.checklist = Some(level);
        }
        if let Some(g) = self.file_gate
            && level == 1
            && !self.front.contains_key("gate")
            && self.gates[g].gate.is_empty()
        {
            self.gates[g].gate = heading.to_string();
        }
        if self.kind_here() == DocKind::Features
            && let Some(caps) = text::feature_caps(heading)
        {
            let feature = caps
                .get(1)
                .map(|m| m.as_str())
                .unwrap_or_default()
                .to_string();
            let title = caps
                .get(3)
                .map(|m| m.as_str().trim())
                .unwrap_or("")
                .to_string();
            let citation = self.cite(start, end);
            match caps.get(2) {
                Some(e) => self.epics.push(Epic {
                    id: format!("{feature}-{}", e.as_str()),
                    feature,
                    title,
                    citation,
                }),
                None => self.features.push(Feature {
                    id: feature,
                    title,
                    epics: Vec::new(),
                    citation,
                }),
            }
        }
    }

    /// Heading-delimited sections, covering the document (text before the first heading is
    /// a section of its own when it holds anything).
    pub(super) fn sections(&mut self, blocks: &[Block]) -> Vec<Section> {
        let mut out = Vec::new();
        self.headings.clear();
        let heads: Vec<(u8, &str, usize)> = blocks
            .iter()
            .filter_map(|b| match &b.kind {
                BlockKind::Heading { level, text } => Some((*level, &**text, b.start)),
                _ => None,
            })
            .collect();
        let body_start = front_matter(self.text).1;
        let first = heads.first().map(|h| h.2).unwrap_or(self.text.len());
        if self.text[body_start..first].trim().is_empty() {
            // nothing before the first heading
        } else {
            out.push(Section {
                title: String::new(),
                level: 0,
                citation: self.cite(body_start, first),
                start: body_start,
                end: first,
            });
        }
        for (i, (level, title, start)) in heads.iter().enumerate() {
            while self.headings.last().is_some_and(|h| h.level >= *level) {
                self.headings.pop();
            }
            self.headings.push(Heading {
                level: *level,
                text: title.to_string(),
            });
            let end = heads.get(i + 1).map(|h| h.2).unwrap_or(self.text.len());
            out.push(Section {
                title: title.to_string(),
                level: *level,
                citation: self.cite(*start, end),
                start: *start,
                end,
            });
        }
        out
    }
}

/// A heading that opens a gate's checklist: `Gate evidence`, `Launch readiness gate checklist
/// (sprint 3)` (the word gate, not gateway, with evidence or checklist).
fn is_gate_heading(heading: &str) -> bool {
    if text::find_ascii_ci(heading, "gate").is_none() {
        return false;
    }
    let words = lowercase_words(heading);
    let has = |w: &str| words.iter().any(|x| x == w);
    has("gate") && (has("evidence") || has("checklist"))
}

/// A heading's words, lowercased, punctuation dropped.
fn lowercase_words(heading: &str) -> Vec<String> {
    heading
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The part of a plan a heading names in a file outside the numbered folders.
fn area_of(heading: &str) -> Option<DocKind> {
    let words = lowercase_words(heading);
    let has = |w: &str| words.iter().any(|x| x == w);
    if has("roadmap") || has("timeline") || words == ["sprints"] {
        Some(DocKind::Sprints)
    } else if has("backlog") || words == ["stories"] || words == ["user", "stories"] {
        Some(DocKind::Backlog)
    } else if has("features") || has("epics") {
        Some(DocKind::Features)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_headings_and_areas() {
        assert!(is_gate_heading("Gate evidence"));
        assert!(is_gate_heading(
            "Launch readiness gate checklist (sprint 3)"
        ));
        assert!(!is_gate_heading("AI tool gateway checklist"));
        assert!(!is_gate_heading("Review at the gate"));
        assert_eq!(area_of("Roadmap"), Some(DocKind::Sprints));
        assert_eq!(area_of("Backlog"), Some(DocKind::Backlog));
        assert_eq!(area_of("Features and epics"), Some(DocKind::Features));
        assert_eq!(area_of("Notes"), None);
    }
}
