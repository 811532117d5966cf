//! List items: stories and their fields, gate items, per-sprint checklist steps, role-plan
//! weeks and epics; grouping items are looked into.

use std::collections::BTreeMap;

use super::Walker;
use crate::model::{
    ChecklistStep, Citation, DocKind, Epic, RoleSection, Severity, StatusMark, StatusMarkKind,
    Story, StoryStatus,
};
use crate::plan::markdown::{BlockKind, Item};
use crate::plan::text;

impl Walker<'_> {
    pub(super) fn list(&mut self, items: &[Item]) {
        for item in items {
            let first = || item.text.lines().next().unwrap_or("");
            if self.mission_focus(&item.text, item.start, item.end) {
                continue;
            }
            if self.in_backlog()
                && let Some(story) = self.story_from_item(item)
            {
                // An id and no fields (`- MOB-7 and MOB-8 (see backlog.md)`): a mention.
                let fieldless = story.acceptance.is_empty()
                    && story.epic.is_none()
                    && story.extra.is_empty()
                    && !item
                        .children
                        .iter()
                        .any(|c| matches!(c.kind, BlockKind::List { .. }));
                if fieldless {
                    self.mentions.push(self.stories.len());
                }
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
            if self.in_roadmap()
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
            if let (Some(role), Some((key, _))) = (&self.role, self.ctx.section)
                && let Some(week) = text::week_of(first())
                && let Some(sprint) = self.role_plan_sprint()
            {
                let section = RoleSection {
                    sprint,
                    role: role.clone(),
                    section: key.to_string(),
                    week: Some(week),
                    citation: self.cite(item.start, item.end),
                };
                self.role_sections.push(section);
            }
            if self.kind_here() == DocKind::Features
                && let Some(caps) = text::feature_caps(first())
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
            self.story_outside_backlog(item);
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

    /// An item outside a backlog that reads like a story declaration: a story id, then
    /// fields (`- PAY-9 Refunds` with `Epic: F2-E1` below). Not read, so say so.
    fn story_outside_backlog(&mut self, item: &Item) {
        if self.in_backlog() {
            return;
        }
        // Fields first: rare outside a backlog, and cheaper to rule out than the id.
        let own_fields = item.text.lines().skip(1).any(|l| self.is_field_line(l));
        let field_items = item
            .children
            .iter()
            .filter_map(|c| match &c.kind {
                BlockKind::List { items, .. } => Some(items),
                _ => None,
            })
            .flatten()
            .any(|i| self.is_field_line(i.text.lines().next().unwrap_or("")));
        if (own_fields || field_items)
            && let Some((id, _)) = self.story_head(item.text.lines().next().unwrap_or(""))
        {
            let id = id.to_string();
            self.unread_story(&id, item.start, "list item");
        }
    }

    /// A line such as `Epic: F1-E2` or `**Depends on:** PAY-3`: a field only a story has
    /// (not `Status:` or `Owner:`, which risk and dependency lists have too).
    pub(super) fn is_field_line(&self, line: &str) -> bool {
        let plain = text::without_emphasis(line);
        text::is_acceptance_label(&plain)
            || text::field(plain.trim()).is_some_and(|(k, _)| text::is_story_only_field(&k))
    }

    /// Says that a story declaration outside a backlog was not read.
    pub(super) fn unread_story(&mut self, id: &str, at: usize, what: &str) {
        self.diag(
            Severity::Warning,
            "story-outside-backlog",
            at,
            format!(
                "{what} `{id}` has story fields but this is not a backlog, so it is not read as a story; declare stories under a `03-…` folder, a `Backlog` heading or a role plan's `03-backlog` section"
            ),
        );
    }

    /// A story's declaration line, `PAY-12: Title` or `PAY-12 — Title`: its id and title,
    /// when it starts with a story id.
    fn story_head<'t>(&self, line: &'t str) -> Option<(&'t str, String)> {
        let line = line.trim();
        let (token, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let id = token.trim_end_matches([':', ',', '.', ';']);
        if !self.config.story_id.is_match(id) {
            return None;
        }
        let title = rest
            .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '-' | '—' | '–'))
            .trim()
            .to_string();
        Some((id, title))
    }

    fn story_from_item(&mut self, item: &Item) -> Option<Story> {
        let (id, title) = self.story_head(item.text.lines().next().unwrap_or(""))?;
        // Lines of the item after the first, read from the source (the item's text joins
        // soft-broken lines with a space): field lines (`**Epic:** F1-E2`) or a label line
        // (`**Acceptance criteria**`) for the list below. Their text is not the title's.
        let own_end = item
            .children
            .iter()
            .filter(|c| matches!(c.kind, BlockKind::List { .. }))
            .map(|c| c.start)
            .next()
            .unwrap_or(item.end);
        let own = self.text.get(item.start..own_end).unwrap_or("");
        // Each line with its offset in the file (for the status's place).
        let more: Vec<(usize, String)> = lines_at(own, item.start)
            .skip(1)
            .map(|(at, l)| (at, text::without_emphasis(l).trim().to_string()))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        let joined = more
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let title = match title.strip_suffix(joined.as_str()) {
            Some(t) if !joined.is_empty() => t.trim_end().to_string(),
            _ => title,
        };
        let mut story = new_story(id, title, self.cite(item.start, item.end));
        if item.checked == Some(true) {
            story.status = StoryStatus::Done;
        }
        if item.checked == Some(false)
            && let Some((a, b)) = item.marker
            && self.text.get(a..b) == Some("[ ]")
        {
            story.status_marks.push(StatusMark {
                kind: StatusMarkKind::Checkbox,
                start: a + 1,
                end: b - 1,
                room_end: b - 1,
            });
        }
        // Lines of the item after the first: `**Epic:** F1-E2` fields, or a label line
        // (`**Acceptance criteria**`) for the list below.
        let mut criteria_below = false;
        for (at, line) in &more {
            criteria_below |= self.story_line(&mut story, line, item.start, *at);
        }
        for child in &item.children {
            let BlockKind::List { items, .. } = &child.kind else {
                continue;
            };
            if criteria_below {
                criteria_below = false;
                story.acceptance.extend(items.iter().map(flat_text));
                continue;
            }
            self.apply_field_items(&mut story, items);
        }
        self.finish_story(&mut story, item.start);
        Some(story)
    }

    /// A heading that opens a story in a backlog: `### PAY-30: Payments dashboard`.
    pub(super) fn open_heading_story(
        &mut self,
        heading: &str,
        start: usize,
        end: usize,
        level: u8,
    ) {
        self.unplaced_story = None;
        let Some((id, title)) = self.story_head(heading) else {
            return;
        };
        if !self.in_backlog() {
            // Said once its fields show it is a story (see `heading_story_paragraph`). A
            // level-1 heading titles its document (`# ADR-0001: Branching model`).
            if level > 1 {
                self.unplaced_story = Some((id.to_string(), start));
            }
            return;
        }
        self.close_heading_story();
        let story = new_story(id, title, self.cite(start, end));
        self.open_story = Some(super::OpenStory {
            story,
            level,
            at: start,
            criteria_below: false,
            place: self.ctx.clone(),
        });
    }

    /// A heading below an open heading story: an `Acceptance criteria` subheading announces
    /// the list below; a heading at the story's level or above ends it.
    pub(super) fn story_heading_below(&mut self, level: u8, heading: &str) {
        match &mut self.open_story {
            Some(open) if level > open.level => {
                open.criteria_below = text::is_acceptance_label(heading);
            }
            Some(_) => self.close_heading_story(),
            None => {}
        }
    }

    /// A paragraph under an open heading story: its `**Field:** value` and label lines.
    pub(super) fn heading_story_paragraph(&mut self, block: &crate::plan::markdown::Block) {
        let source = self.text.get(block.start..block.end).unwrap_or("");
        self.unplaced_story_fields(source.lines());
        // Most paragraphs are prose outside any story or role plan: nothing to read.
        if self.open_story.is_none() && self.role.is_none() {
            return;
        }
        let plain = text::without_emphasis(source);
        if self.mission_focus(plain.trim(), block.start, block.end) {
            return;
        }
        let Some(mut open) = self.open_story.take() else {
            return;
        };
        for (at, line) in lines_at(source, block.start) {
            let line = text::without_emphasis(line);
            let line = line.trim_end_matches('\\').trim();
            if self.story_line(&mut open.story, line, block.start, at) {
                open.criteria_below = true;
            }
        }
        self.open_story = Some(open);
    }

    /// Lines under a story-id heading outside a backlog: once one is a story field, the
    /// heading is reported as a story that is not read.
    fn unplaced_story_fields<'l>(&mut self, mut lines: impl Iterator<Item = &'l str>) {
        if self.unplaced_story.is_some()
            && lines.any(|l| self.is_field_line(l))
            && let Some((id, at)) = self.unplaced_story.take()
        {
            self.unread_story(&id, at, "heading");
        }
    }

    /// A list under an open heading story: its criteria after a label, else its fields when
    /// every item is one. Returns false when the list is not the story's.
    pub(super) fn heading_story_list(&mut self, items: &[crate::plan::markdown::Item]) -> bool {
        self.unplaced_story_fields(items.iter().filter_map(|i| i.text.lines().next()));
        let Some(mut open) = self.open_story.take() else {
            return false;
        };
        let mut taken = true;
        if open.criteria_below {
            open.criteria_below = false;
            open.story.acceptance.extend(items.iter().map(flat_text));
        } else if !items.is_empty()
            && items
                .iter()
                .all(|i| text::field(i.text.lines().next().unwrap_or("")).is_some())
        {
            self.apply_field_items(&mut open.story, items);
        } else {
            taken = false;
        }
        self.open_story = Some(open);
        taken
    }

    /// `Field: value` items under a story (each with its nested values); other items are
    /// not the story's fields and are passed over.
    fn apply_field_items(&mut self, story: &mut Story, items: &[Item]) {
        for field_item in items {
            let line = field_item.text.lines().next().unwrap_or("");
            if let Some((key, value)) = text::field(line) {
                let nested = nested_texts(field_item);
                let at = field_item.start;
                self.apply_field(story, &key, &value, nested, at, Some(at));
            }
        }
    }

    /// Ends the open heading story, if any: its place gives sprint and role.
    pub(super) fn close_heading_story(&mut self) {
        if let Some(mut open) = self.open_story.take() {
            let now = std::mem::replace(&mut self.ctx, open.place);
            self.finish_story(&mut open.story, open.at);
            self.ctx = now;
            self.stories.push(open.story);
        }
    }

    /// A role plan's `Mission focus: ...` line under a sprint: that role's focus for the
    /// sprint. Returns whether the text was one.
    pub(super) fn mission_focus(&mut self, text: &str, start: usize, end: usize) -> bool {
        // Most items of a role plan are not a focus line: look at the key alone first.
        let first = &text[..memchr::memchr(b'\n', text.as_bytes()).unwrap_or(text.len())];
        // The key is short: look for its colon in the line's first bytes only.
        let head = &first.as_bytes()[..first.len().min(61)];
        let key_has_focus = memchr::memchr(b':', head)
            .is_some_and(|colon| text::find_ascii_ci(&first[..colon], "focus").is_some());
        if self.role.is_none() || !key_has_focus {
            return false;
        }
        let Some((key, value)) = text::field(first) else {
            return false;
        };
        if !matches!(key.as_str(), "mission focus" | "focus") || value.is_empty() {
            return false;
        }
        let (Some(sprint), Some(role)) = (self.role_plan_sprint(), self.role.clone()) else {
            return false;
        };
        let citation = self.cite(start, end);
        self.focus.push(super::FocusLine {
            sprint,
            role,
            text: value,
            citation,
        });
        true
    }

    /// One line under a story's declaration: a field, or a label line saying that the list
    /// below holds the acceptance criteria (returns true then). `at` is where problems are
    /// reported; `line_at` is where the line itself starts.
    pub(super) fn story_line(
        &mut self,
        story: &mut Story,
        line: &str,
        at: usize,
        line_at: usize,
    ) -> bool {
        if text::is_acceptance_label(line) {
            return true;
        }
        if let Some((key, value)) = text::field(line) {
            self.apply_field(story, &key, &value, Vec::new(), at, Some(line_at));
        }
        false
    }

    /// Sprint and role come from the story's place (a `Sprint NN` heading, front matter, the
    /// path, a role plan), else from its own `Sprint:` / `Role:` fields (docs/plan-format.md,
    /// "Sprint of a story"). A
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
        line_at: Option<usize>,
    ) {
        let value = value.trim();
        let list = |v: &str| -> Vec<String> {
            let mut out = text::split_list(v);
            out.extend(nested.iter().cloned());
            out
        };
        let opt = |v: &str| (!text::is_empty_marker(v)).then(|| v.to_string());
        // `Depends-on`, `acceptance_criteria`: `-` and `_` read as spaces in a known key.
        let spaced;
        let key = if key.contains(['-', '_']) && !text::is_story_field(key) {
            spaced = key.replace(['-', '_'], " ");
            if text::is_story_field(&spaced) {
                spaced.as_str()
            } else {
                key
            }
        } else {
            key
        };
        match key {
            "epic" => story.epic = opt(value),
            "reviewer" | "reviewers" => story.reviewer = opt(value),
            "evidence" => story.evidence = list(value),
            "depends on" | "depends" | "dependencies" | "depends_on" | "deps" | "blocked by"
            | "after" => {
                let mut ids = Vec::new();
                // `PAY-12 (needs the transfer table)`: what is in parentheses is a comment.
                for raw in list(&text::without_comments(value))
                    .iter()
                    .flat_map(|v| text::split_ids(&text::without_comments(v)))
                {
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
                if let Some(mark) = line_at.and_then(|l| field_mark(self.text, self.line_starts, l))
                {
                    story.status_marks.push(mark);
                }
                if let Some(s) = self.status(&story.id, value, at) {
                    // A checked box already says done; a status field can only confirm it.
                    if s == StoryStatus::Done || story.status == StoryStatus::Todo {
                        story.status = s;
                    }
                }
            }
            k if text::ACCEPTANCE_LABELS.contains(&k) => {
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
                if let Some(meant) = text::near_story_field(key) {
                    self.diag(
                        Severity::Warning,
                        "unknown-field",
                        at,
                        format!(
                            "{}: field `{key}` is not one storypack reads, kept as an extra; write `{meant}:` if that is what it means",
                            story.id
                        ),
                    );
                }
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

/// The texts of the items listed under an item (a field's values, one per line).
fn nested_texts(item: &crate::plan::markdown::Item) -> Vec<String> {
    item.children
        .iter()
        .filter_map(|b| match &b.kind {
            BlockKind::List { items, .. } => Some(items),
            _ => None,
        })
        .flatten()
        .map(flat_text)
        .filter(|t| !t.is_empty())
        .collect()
}

/// An item's text on one line, whitespace collapsed.
pub(super) fn flat_text(item: &crate::plan::markdown::Item) -> String {
    item.text.split_whitespace().collect::<Vec<_>>().join(" ")
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
        status_marks: Vec::new(),
    }
}

/// The lines of `source` (which starts at byte `base` of the file), each with its offset in
/// the file, line endings (`\n`, `\r\n`) removed: `str::lines` with offsets.
fn lines_at(source: &str, base: usize) -> impl Iterator<Item = (usize, &str)> {
    let mut at = base;
    source.split_inclusive('\n').map(move |piece| {
        let start = at;
        at += piece.len();
        let line = piece.strip_suffix('\n').unwrap_or(piece);
        (start, line.strip_suffix('\r').unwrap_or(line))
    })
}

/// Markup that may wrap a field's key or value: `**Status:** *done*`, `` `todo` ``.
const MARKUP: [char; 5] = [' ', '\t', '*', '_', '`'];

/// Where the value of the `Status:` / `State:` field on the line holding byte `at` is
/// written: the text after the key's colon, markup and spaces around it left out. None when
/// the line does not read as that field (then `sync` reports the story as not recordable).
fn field_mark(text: &str, line_starts: &[usize], at: usize) -> Option<StatusMark> {
    let n = text::line_of(line_starts, at) as usize;
    let start = *line_starts.get(n - 1)?;
    let end = line_starts.get(n).copied().unwrap_or(text.len());
    let line = text.get(start..end)?.trim_end_matches(['\n', '\r']);
    let colon = line.find(':')?;
    let key = line[..colon].trim_end_matches(MARKUP).to_ascii_lowercase();
    if !(key.ends_with("status") || key.ends_with("state")) {
        return None;
    }
    let after = colon + 1;
    let value = line[after..].trim_end_matches(|c| MARKUP.contains(&c) || c == '\\');
    let value_end = after + value.len();
    let value_start = value_end - value.trim_start_matches(MARKUP).len();
    Some(StatusMark {
        kind: StatusMarkKind::Field,
        start: start + value_start,
        end: start + value_end,
        room_end: start + value_end,
    })
}
