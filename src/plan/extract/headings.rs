//! Headings: the context they open (role-plan sections, weeks, sprints, gate evidence,
//! checklists), features and epics they declare, and the sections they delimit.

use super::{Heading, Walker, front_matter};
use crate::model::{DocKind, Epic, Feature, GateChecklist, RoleSection, Section};
use crate::plan::markdown::{Block, BlockKind};
use crate::plan::text::{self, FEATURE_HEAD};

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
        self.headings.push(Heading {
            level,
            text: heading.to_string(),
        });

        if let (Some(sprint), Some(role)) = (self.plan_sprint.clone(), self.role.clone()) {
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
            if text::lowercase_contains(heading, "gate evidence") {
                let citation = self.cite(start, end);
                self.gates.push(GateChecklist {
                    gate: heading.to_string(),
                    sprint: self.plan_sprint.clone(),
                    items: Vec::new(),
                    citation,
                });
                self.ctx.gate = Some((self.gates.len() - 1, level));
            }
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
        if self.kind == DocKind::Features
            && let Some(caps) = FEATURE_HEAD.captures(heading)
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
