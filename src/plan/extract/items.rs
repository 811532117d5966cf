//! List items: stories and their fields, gate items, per-sprint checklist steps, role-plan
//! weeks and epics; grouping items are looked into.

use std::collections::BTreeMap;

use super::Walker;
use crate::model::{
    ChecklistStep, Citation, DocKind, Epic, RoleSection, Severity, Story, StoryStatus,
};
use crate::plan::markdown::{BlockKind, Item};
use crate::plan::text::{self, FEATURE_HEAD};

impl Walker<'_> {
    pub(super) fn list(&mut self, items: &[Item]) {
        for item in items {
            let first = || item.text.lines().next().unwrap_or("");
            if self.in_backlog()
                && let Some(story) = self.story_from_item(item)
            {
                self.stories.push(story);
                continue;
            }
            if let Some(g) = self.gate_target()
                && let Some(checked) = item.checked
            {
                let gi = self.gate_item(item, checked);
                self.gates[g].items.push(gi);
                continue;
            }
            if self.is_roadmap_file
                && self.ctx.checklist.is_some()
                && let Some((section, rule)) = text::leading_section_key(first())
            {
                let citation = self.cite(item.start, item.end);
                self.checklist.push(ChecklistStep {
                    n: self.checklist.len() as u32 + 1,
                    section: section.to_string(),
                    text: rule,
                    citation,
                });
                continue;
            }
            if let (Some(sprint), Some(role), Some((key, _))) =
                (&self.plan_sprint, &self.role, self.ctx.section)
                && let Some(week) = text::week_of(first())
            {
                let section = RoleSection {
                    sprint: sprint.clone(),
                    role: role.clone(),
                    section: key.to_string(),
                    week: Some(week),
                    citation: self.cite(item.start, item.end),
                };
                self.role_sections.push(section);
            }
            if self.kind == DocKind::Features
                && let Some(caps) = FEATURE_HEAD.captures(first())
                && let Some(e) = caps.get(2)
            {
                let feature = caps
                    .get(1)
                    .map(|m| m.as_str())
                    .unwrap_or_default()
                    .to_string();
                self.epics.push(Epic {
                    id: format!("{feature}-{}", e.as_str()),
                    feature,
                    title: caps
                        .get(3)
                        .map(|m| m.as_str().trim())
                        .unwrap_or("")
                        .to_string(),
                    citation: self.cite(item.start, item.end),
                });
                continue;
            }
            // Grouping items ("Week 1", "Platform") may hold stories or gate items below.
            for child in &item.children {
                if let BlockKind::List { items, .. } = &child.kind {
                    self.list(items);
                }
            }
        }
    }

    /// The sprint a story gets when it names none itself.
    fn context_sprint(&self) -> Option<String> {
        self.ctx
            .sprint
            .as_ref()
            .map(|s| s.0.clone())
            .or_else(|| self.front.get("sprint").and_then(|s| text::sprint_id(s)))
            .or_else(|| self.plan_sprint.clone())
            .or_else(|| text::sprint_in_text(self.path))
    }

    fn story_from_item(&mut self, item: &Item) -> Option<Story> {
        let first = item.text.lines().next().unwrap_or("");
        let (token, rest) = first.split_once(char::is_whitespace).unwrap_or((first, ""));
        let id = token.trim_end_matches([':', ',', '.', ';']);
        if !self.config.story_id.is_match(id) {
            return None;
        }
        let title = rest
            .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '-' | '—' | '–'))
            .trim()
            .to_string();
        let mut story = new_story(id, title, self.cite(item.start, item.end));
        if item.checked == Some(true) {
            story.status = StoryStatus::Done;
        }
        for child in &item.children {
            let BlockKind::List { items, .. } = &child.kind else {
                continue;
            };
            for field_item in items {
                let line = field_item.text.lines().next().unwrap_or("");
                let Some((key, value)) = text::field(line) else {
                    continue;
                };
                let nested: Vec<String> = field_item
                    .children
                    .iter()
                    .filter_map(|b| match &b.kind {
                        BlockKind::List { items, .. } => Some(items),
                        _ => None,
                    })
                    .flatten()
                    .map(|i| i.text.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|t| !t.is_empty())
                    .collect();
                self.apply_field(&mut story, &key, &value, nested, field_item.start);
            }
        }
        self.finish_story(&mut story, item.start);
        Some(story)
    }

    /// Sprint and role come from the story's place (a `Sprint NN` heading, front matter, the
    /// path, a role plan), else from its own `Sprint:` / `Role:` fields (FORMATS.md 4). A
    /// field that disagrees with the place is reported.
    pub(super) fn finish_story(&mut self, story: &mut Story, at: usize) {
        if let Some(place) = self.context_sprint() {
            if let Some(field) = story.sprint.as_deref()
                && field != place
            {
                let msg = format!(
                    "{}: Sprint field says {field} but the story sits in sprint {place}'s place; {place} used",
                    story.id
                );
                self.diag(Severity::Warning, "field-conflict", at, msg);
            }
            story.sprint = Some(place);
        }
        if let Some(place) = self.role.clone() {
            if let Some(field) = story.role.as_deref()
                && field != place
                && !place.starts_with(&format!("{field}-"))
            {
                let msg = format!(
                    "{}: Role field says {field} but the story sits in {place}'s place; {place} used",
                    story.id
                );
                self.diag(Severity::Warning, "field-conflict", at, msg);
            }
            story.role = Some(place);
        }
    }

    pub(super) fn apply_field(
        &mut self,
        story: &mut Story,
        key: &str,
        value: &str,
        nested: Vec<String>,
        at: usize,
    ) {
        let value = value.trim();
        let list = |v: &str| -> Vec<String> {
            let mut out = text::split_list(v);
            out.extend(nested.iter().cloned());
            out
        };
        let opt = |v: &str| (!text::is_empty_marker(v)).then(|| v.to_string());
        match key {
            "epic" => story.epic = opt(value),
            "reviewer" | "reviewers" => story.reviewer = opt(value),
            "evidence" => story.evidence = list(value),
            "depends on" | "depends" | "dependencies" | "depends_on" | "deps" | "blocked by"
            | "after" => {
                let mut ids = Vec::new();
                for raw in list(value).iter().flat_map(|v| text::split_ids(v)) {
                    if text::is_empty_marker(&raw) {
                        continue;
                    }
                    if self.config.story_id.is_match(&raw) {
                        ids.push(raw);
                    } else {
                        self.diag(
                            Severity::Warning,
                            "bad-dependency",
                            at,
                            format!(
                                "{}: `{raw}` in Depends on is not a story id; ignored",
                                story.id
                            ),
                        );
                    }
                }
                story.depends_on = ids;
            }
            "estimate" | "effort" | "size" | "points" => story.estimate = opt(value),
            "status" | "state" => {
                if let Some(s) = self.status(&story.id, value, at) {
                    // A checked box already says done; a status field can only confirm it.
                    if s == StoryStatus::Done || story.status == StoryStatus::Todo {
                        story.status = s;
                    }
                }
            }
            "acceptance" | "acceptance criteria" | "ac" | "criteria" => {
                let mut out: Vec<String> = value
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                out.extend(nested);
                story.acceptance = out;
            }
            "sprint" if text::is_empty_marker(value) => {}
            "sprint" => match text::sprint_id(value) {
                Some(s) => story.sprint = Some(s),
                None => self.diag(
                    Severity::Warning,
                    "bad-field",
                    at,
                    format!("{}: Sprint `{value}` is not a sprint id", story.id),
                ),
            },
            "role" => story.role = opt(value).map(|r| text::slugify(&r)),
            "title" => {
                if story.title.is_empty() {
                    story.title = value.to_string();
                }
            }
            _ => {
                story.extra.insert(key.to_string(), value.to_string());
            }
        }
    }

    fn status(&mut self, id: &str, value: &str, at: usize) -> Option<StoryStatus> {
        let v = value.trim().to_lowercase();
        let v = v.trim_matches(|c: char| c == '`' || c == '*');
        match v {
            "done" | "complete" | "completed" | "closed" | "finished" | "[x]" | "x" | "✅"
            | "yes" => Some(StoryStatus::Done),
            "todo" | "to do" | "open" | "in progress" | "in-progress" | "doing" | "blocked"
            | "review" | "in review" | "ready" | "[ ]" | "no" | "" | "-" => Some(StoryStatus::Todo),
            _ => {
                self.diag(
                    Severity::Warning,
                    "bad-field",
                    at,
                    format!("{id}: status `{value}` is neither done nor todo; read as todo"),
                );
                Some(StoryStatus::Todo)
            }
        }
    }
}

/// A story with only what its declaration line gives; fields fill in the rest.
pub(super) fn new_story(id: &str, title: String, citation: Citation) -> Story {
    Story {
        id: id.to_string(),
        title,
        sprint: None,
        role: None,
        epic: None,
        status: StoryStatus::Todo,
        reviewer: None,
        evidence: Vec::new(),
        depends_on: Vec::new(),
        estimate: None,
        acceptance: Vec::new(),
        extra: BTreeMap::new(),
        citation,
    }
}
