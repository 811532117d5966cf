//! One file -> the facts it states (roadmap rows, stories, epics, gates, role-plan sections)
//! plus its own diagnostics. Knows nothing of other files: cross-file work (merging sprints,
//! linking roles, duplicate ids, dependencies) happens in `assemble`, so a changed file can
//! be re-read alone.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::config::Config;
use super::markdown::{self, Block, BlockKind, Item, Row};
use super::text::{self, FEATURE_HEAD};
use crate::model::{
    ChecklistStep, Citation, Diagnostic, Doc, DocKind, Epic, Feature, GateChecklist, GateItem,
    RoleSection, Section, Severity, Story, StoryStatus,
};

/// Most ragged-row warnings reported per table; the rest are summed up in one more.
const RAGGED_REPORT_LIMIT: usize = 5;

/// What one file says.
#[derive(Debug, Clone)]
pub struct FileFacts {
    pub doc: Arc<Doc>,
    pub roadmap_rows: Vec<RoadmapRow>,
    pub checklist: Vec<ChecklistStep>,
    pub features: Vec<Feature>,
    pub epics: Vec<Epic>,
    pub stories: Vec<Story>,
    pub gates: Vec<GateChecklist>,
    pub role_sections: Vec<RoleSection>,
    /// Role slug the file belongs to (role-plan path or `role:` front matter).
    pub role: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// One row of a roadmap table, before rows are merged by sprint id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoadmapRow {
    pub sprint: String,
    pub theme: Option<String>,
    pub epics: Vec<String>,
    pub gate: Option<String>,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub roles: Vec<RowRole>,
    pub extra: BTreeMap<String, String>,
    pub citation: Citation,
}

/// What a roadmap row says about one role; the label is resolved to a slug later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowRole {
    pub label: String,
    pub mission_focus: Option<String>,
    pub week1: Option<String>,
    pub week2: Option<String>,
}

/// The top-level `docs/` folder a path lives in, by numeric prefix: `04-sprints`,
/// `04_sprints` and `04 Sprints` are all [`DocKind::Sprints`].
pub fn doc_kind(rel_path: &str) -> DocKind {
    let mut segments = rel_path.split('/');
    let mut first = segments.next().unwrap_or("");
    if first.eq_ignore_ascii_case("docs") {
        first = segments.next().unwrap_or("");
    }
    let digits: String = first.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = &first[digits.len()..];
    if digits.len() != 2
        || !rest.starts_with(['-', '_', ' ', '.'])
        || rest.len() < 2
        || segments.next().is_none()
    {
        return DocKind::Other;
    }
    digits
        .parse()
        .map(DocKind::from_number)
        .unwrap_or(DocKind::Other)
}

/// Reads `key: value` front matter between `---` lines at the top of a file. Returns the
/// attributes and the byte offset where the markdown body starts.
pub fn front_matter(text: &str) -> (BTreeMap<String, String>, usize) {
    let mut attrs = BTreeMap::new();
    let first_end = text.find('\n').map(|i| i + 1).unwrap_or(text.len());
    if text[..first_end].trim_end() != "---" {
        return (attrs, 0);
    }
    let mut pos = first_end;
    while pos < text.len() {
        let end = text[pos..]
            .find('\n')
            .map(|i| pos + i + 1)
            .unwrap_or(text.len());
        let line = text[pos..end].trim_end();
        if line == "---" || line == "..." {
            return (attrs, end);
        }
        if let Some((k, v)) = line.split_once(':')
            && !k.trim().is_empty()
            && !k.starts_with([' ', '\t', '-', '#'])
        {
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            attrs.insert(k.trim().to_lowercase(), v.to_string());
        }
        pos = end;
    }
    // No closing line: not front matter after all.
    (BTreeMap::new(), 0)
}

/// Reads one markdown file. `rel_path` uses `/` and is relative to the plan root.
pub fn extract(rel_path: &str, text: &str, config: &Config) -> FileFacts {
    extract_owned(rel_path, text.to_string(), config)
}

/// [`extract`] for a text the caller gives away: the document keeps it as it is, without
/// a copy (a leading byte-order mark is removed in place).
pub fn extract_owned(rel_path: &str, mut text: String, config: &Config) -> FileFacts {
    strip_bom(&mut text);
    let hash = text::fnv64(text.as_bytes());
    extract_hashed(rel_path, text, hash, config)
}

/// Removes a leading byte-order mark in place.
pub(crate) fn strip_bom(text: &mut String) {
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
}

/// [`extract_owned`] for a text without byte-order mark whose [`text::fnv64`] is known.
pub(crate) fn extract_hashed(
    rel_path: &str,
    text: String,
    hash: String,
    config: &Config,
) -> FileFacts {
    let line_starts = text::line_starts(&text);
    let (front, body_start) = front_matter(&text);
    let parsed = markdown::parse(&text[body_start..], body_start);
    let kind = doc_kind(rel_path);
    let mut w = Walker::new(rel_path, &text, &line_starts, kind, &front, config);
    if let Some(at) = parsed.too_deep_at {
        w.diag(
            Severity::Warning,
            "nesting-too-deep",
            at,
            format!(
                "lists, list items and quotes nested more than {} containers deep; the deeper content is ignored",
                markdown::MAX_DEPTH
            ),
        );
    }
    w.walk(&parsed.blocks);
    let sections = w.sections(&parsed.blocks);
    let title = front.get("title").cloned().or_else(|| {
        parsed.blocks.iter().find_map(|b| match &b.kind {
            BlockKind::Heading { text, .. } => Some(text.to_string()),
            _ => None,
        })
    });
    let Walker {
        roadmap_rows,
        checklist,
        features,
        epics,
        stories,
        gates,
        role_sections,
        role,
        diagnostics,
        ..
    } = w;
    FileFacts {
        doc: Arc::new(Doc {
            path: rel_path.to_string(),
            kind,
            title,
            front_matter: front,
            hash,
            sections,
            text,
            line_starts,
        }),
        roadmap_rows,
        checklist,
        features,
        epics,
        stories,
        gates,
        role_sections,
        role,
        diagnostics,
    }
}

struct Heading {
    level: u8,
    text: String,
    start: usize,
}

/// What the headings above the current block say.
#[derive(Default, Clone)]
struct Context {
    /// (section key, heading level) of the open role-plan section.
    section: Option<(&'static str, u8)>,
    /// (week, heading level) of the open week subsection.
    week: Option<(u8, u8)>,
    /// (sprint, heading level) named by a heading ("Sprint 04 backlog").
    sprint: Option<(String, u8)>,
    /// Index into `gates` of an open "gate evidence" heading's checklist, with its level.
    gate: Option<(usize, u8)>,
    /// Heading level of an open "checklist" heading.
    checklist: Option<u8>,
}

struct Walker<'a> {
    path: &'a str,
    text: &'a str,
    line_starts: &'a [usize],
    kind: DocKind,
    front: &'a BTreeMap<String, String>,
    config: &'a Config,
    /// Sprint and role a role-plan path names.
    plan_sprint: Option<String>,
    role: Option<String>,
    is_roadmap_file: bool,
    /// The whole file is one gate's checklist (`00-governance/gates/*.md`).
    file_gate: Option<usize>,
    headings: Vec<Heading>,
    ctx: Context,
    roadmap_rows: Vec<RoadmapRow>,
    checklist: Vec<ChecklistStep>,
    features: Vec<Feature>,
    epics: Vec<Epic>,
    stories: Vec<Story>,
    gates: Vec<GateChecklist>,
    role_sections: Vec<RoleSection>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Walker<'a> {
    fn new(
        path: &'a str,
        text: &'a str,
        line_starts: &'a [usize],
        kind: DocKind,
        front: &'a BTreeMap<String, String>,
        config: &'a Config,
    ) -> Self {
        let (plan_sprint, path_role) = if kind == DocKind::RolePlans {
            role_plan_path(path)
        } else {
            (None, None)
        };
        let role = path_role.or_else(|| front.get("role").map(|r| text::slugify(r)));
        let is_roadmap_file = kind == DocKind::Sprints || config.roadmap.iter().any(|p| p == path);
        let mut w = Walker {
            path,
            text,
            line_starts,
            kind,
            front,
            config,
            plan_sprint,
            role,
            is_roadmap_file,
            file_gate: None,
            headings: Vec::new(),
            ctx: Context::default(),
            roadmap_rows: Vec::new(),
            checklist: Vec::new(),
            features: Vec::new(),
            epics: Vec::new(),
            stories: Vec::new(),
            gates: Vec::new(),
            role_sections: Vec::new(),
            diagnostics: Vec::new(),
        };
        if kind == DocKind::Governance && path.split('/').any(|s| s == "gates") {
            let sprint = front.get("sprint").and_then(|s| text::sprint_id(s));
            w.gates.push(GateChecklist {
                gate: front.get("gate").cloned().unwrap_or_default(),
                sprint,
                items: Vec::new(),
                citation: w.cite(front_matter(text).1, text.len()),
            });
            w.file_gate = Some(0);
        }
        w
    }

    fn line(&self, offset: usize) -> u32 {
        text::line_of(self.line_starts, offset)
    }

    fn heading_path(&self) -> String {
        self.headings
            .iter()
            .map(|h| h.text.as_str())
            .collect::<Vec<_>>()
            .join(" > ")
    }

    fn cite(&self, start: usize, end: usize) -> Citation {
        Citation {
            path: self.path.to_string(),
            line_start: self.line(start),
            line_end: text::last_line_of(self.text, self.line_starts, start, end),
            heading: self.heading_path(),
        }
    }

    fn diag(&mut self, severity: Severity, code: &str, offset: usize, message: String) {
        let line = self.line(offset);
        self.diagnostics.push(Diagnostic {
            severity,
            code: code.to_string(),
            path: self.path.to_string(),
            line,
            message,
        });
    }

    /// Byte offset where the section opened by heading `idx` of `all` ends.
    fn extent_end(all: &[(u8, usize)], idx: usize, text_len: usize) -> usize {
        let level = all[idx].0;
        all[idx + 1..]
            .iter()
            .find(|(l, _)| *l <= level)
            .map(|(_, s)| *s)
            .unwrap_or(text_len)
    }

    fn walk(&mut self, blocks: &[Block]) {
        let all: Vec<(u8, usize)> = blocks
            .iter()
            .filter_map(|b| match &b.kind {
                BlockKind::Heading { level, .. } => Some((*level, b.start)),
                _ => None,
            })
            .collect();
        let mut heading_idx = 0usize;
        for block in blocks {
            match &block.kind {
                BlockKind::Heading { level, text } => {
                    let end = Self::extent_end(&all, heading_idx, self.text.len());
                    heading_idx += 1;
                    self.open_heading(*level, text, block.start, end);
                }
                BlockKind::List { items, .. } => self.list(items),
                BlockKind::Table { header, rows } => self.table(header, rows, block),
                BlockKind::Paragraph | BlockKind::Other => {}
            }
        }
        if let Some(g) = self.file_gate
            && self.gates[g].gate.is_empty()
        {
            // No `gate:` front matter and no heading: name it after the file.
            let stem = self.path.rsplit('/').next().unwrap_or(self.path);
            let stem = stem.rsplit_once('.').map(|(s, _)| s).unwrap_or(stem);
            self.gates[g].gate = stem.replace(['-', '_'], " ");
        }
    }

    fn open_heading(&mut self, level: u8, heading: &str, start: usize, end: usize) {
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
            start,
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

    fn in_backlog(&self) -> bool {
        self.kind == DocKind::Backlog || self.ctx.section.is_some_and(|s| s.0 == "03-backlog")
    }

    fn gate_target(&self) -> Option<usize> {
        self.ctx.gate.map(|g| g.0).or(self.file_gate)
    }

    fn list(&mut self, items: &[Item]) {
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
    fn finish_story(&mut self, story: &mut Story, at: usize) {
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

    fn apply_field(
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

    fn gate_item(&self, item: &Item, checked: bool) -> GateItem {
        let flat = item.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let (mut body, mut evidence) = split_evidence(&flat);
        let mut owner = None;
        let mut due = None;
        // "(owner: @sre, due: day 3)" anywhere in the text.
        if let Some(open) = body.find('(')
            && let Some(close) = body[open..].find(')').map(|c| open + c)
        {
            let inner = &body[open + 1..close];
            let mut understood = false;
            for part in inner.split([',', ';']) {
                if let Some((k, v)) = part.split_once(':') {
                    match k.trim().to_lowercase().as_str() {
                        "owner" | "owners" => {
                            owner = Some(v.trim().to_string());
                            understood = true;
                        }
                        "due" | "by" | "due by" => {
                            due = Some(v.trim().to_string());
                            understood = true;
                        }
                        _ => {}
                    }
                }
            }
            if understood {
                body = format!(
                    "{} {}",
                    body[..open].trim_end(),
                    body[close + 1..].trim_start()
                )
                .trim()
                .to_string();
            }
        }
        for child in &item.children {
            if let BlockKind::List { items, .. } = &child.kind {
                for i in items {
                    match text::field(&i.text) {
                        Some((k, v)) if k == "evidence" => evidence.extend(text::split_list(&v)),
                        Some((k, v)) if k == "owner" => owner = Some(v),
                        Some((k, v)) if k == "due" => due = Some(v),
                        _ => {}
                    }
                }
            }
        }
        GateItem {
            text: body,
            checked,
            evidence,
            owner,
            due,
            citation: self.cite(item.start, item.end),
        }
    }

    fn table(&mut self, header: &[Cow<str>], rows: &[Row], block: &Block) {
        let width = header.len();
        let ragged: Vec<&Row> = rows.iter().filter(|r| r.source_cells != width).collect();
        for row in ragged.iter().take(RAGGED_REPORT_LIMIT) {
            self.diag(
                Severity::Warning,
                "ragged-table",
                row.start,
                format!(
                    "table row has {} cells but its header has {width}; {}",
                    row.source_cells,
                    if row.source_cells < width {
                        "missing cells read as empty"
                    } else {
                        "extra cells ignored"
                    }
                ),
            );
        }
        if ragged.len() > RAGGED_REPORT_LIMIT {
            self.diag(
                Severity::Warning,
                "ragged-table",
                block.start,
                format!(
                    "{} more ragged rows in this table",
                    ragged.len() - RAGGED_REPORT_LIMIT
                ),
            );
        }
        // Only roadmap files and backlogs read their tables' columns.
        if !self.is_roadmap_file && !self.in_backlog() {
            return;
        }
        let cols: Vec<String> = header.iter().map(|h| text::normalize_header(h)).collect();
        if self.is_roadmap_file && cols.iter().any(|c| is_sprint_header(c)) {
            self.roadmap(header, &cols, rows);
        } else if self.in_backlog() {
            self.story_table(&cols, rows);
        }
    }

    fn roadmap(&mut self, header: &[Cow<str>], cols: &[String], rows: &[Row]) {
        let kinds: Vec<RoadmapCol> = header
            .iter()
            .zip(cols)
            .map(|(raw, norm)| RoadmapCol::classify(raw, norm))
            .collect();
        // Unlabelled mission/week columns belong to the table's role: a labelled Mission
        // Focus column, else the file's `role:`.
        let table_role = kinds
            .iter()
            .find_map(|k| match k {
                RoadmapCol::Mission(Some(l)) | RoadmapCol::Week(_, Some(l)) => Some(l.clone()),
                _ => None,
            })
            .or_else(|| self.front.get("role").cloned());
        let needs_role = kinds
            .iter()
            .any(|k| matches!(k, RoadmapCol::Mission(None) | RoadmapCol::Week(_, None)));
        if needs_role && table_role.is_none() {
            let at = rows.first().map(|r| r.start).unwrap_or(0);
            self.diag(
                Severity::Warning,
                "roadmap-role",
                at,
                "mission focus / week columns name no role (write `<Role> Mission Focus` or add `role:` front matter); ignored".into(),
            );
        }
        for row in rows {
            let sprint_cell = kinds
                .iter()
                .position(|k| *k == RoadmapCol::Sprint)
                .and_then(|i| row.cells.get(i))
                .map(|c| &**c)
                .unwrap_or("");
            let Some(sprint) = text::sprint_id(sprint_cell) else {
                if !text::is_empty_marker(sprint_cell) {
                    self.diag(
                        Severity::Warning,
                        "roadmap-row",
                        row.start,
                        format!("`{sprint_cell}` is not a sprint id (e.g. 03, Sprint 03, S03); row ignored"),
                    );
                }
                continue;
            };
            let mut out = RoadmapRow {
                sprint,
                theme: None,
                epics: Vec::new(),
                gate: None,
                start: None,
                end: None,
                roles: Vec::new(),
                extra: BTreeMap::new(),
                citation: self.cite(row.start, row.end),
            };
            for (i, kind) in kinds.iter().enumerate() {
                let cell = row.cells.get(i).map(|c| c.trim()).unwrap_or("");
                if text::is_empty_marker(cell) {
                    continue;
                }
                let mut role_slot = |label: &Option<String>| -> Option<usize> {
                    let label = label.clone().or_else(|| table_role.clone())?;
                    let pos = out.roles.iter().position(|r| r.label == label);
                    Some(pos.unwrap_or_else(|| {
                        out.roles.push(RowRole {
                            label,
                            ..RowRole::default()
                        });
                        out.roles.len() - 1
                    }))
                };
                match kind {
                    RoadmapCol::Sprint => {}
                    RoadmapCol::Theme => out.theme = Some(cell.to_string()),
                    RoadmapCol::Epics => {
                        let ids: Vec<String> = text::split_ids(cell)
                            .into_iter()
                            .filter(|t| text::is_epic_id(t))
                            .collect();
                        if ids.is_empty() {
                            out.extra.insert(header[i].to_string(), cell.to_string());
                        }
                        out.epics = ids;
                    }
                    RoadmapCol::Gate => out.gate = Some(cell.to_string()),
                    RoadmapCol::Start | RoadmapCol::End => match text::parse_date(cell) {
                        Some(d) if *kind == RoadmapCol::Start => out.start = Some(d),
                        Some(d) => out.end = Some(d),
                        None => self.diag(
                            Severity::Warning,
                            "bad-date",
                            row.start,
                            format!(
                                "sprint {}: `{cell}` in column `{}` is not a YYYY-MM-DD date",
                                out.sprint, header[i]
                            ),
                        ),
                    },
                    RoadmapCol::Mission(label) => {
                        if let Some(r) = role_slot(label) {
                            out.roles[r].mission_focus = Some(cell.to_string());
                        }
                    }
                    RoadmapCol::Week(week, label) => {
                        if let Some(r) = role_slot(label) {
                            let slot = if *week == 1 {
                                &mut out.roles[r].week1
                            } else {
                                &mut out.roles[r].week2
                            };
                            *slot = Some(cell.to_string());
                        }
                    }
                    RoadmapCol::Extra => {
                        out.extra.insert(header[i].to_string(), cell.to_string());
                    }
                }
            }
            self.roadmap_rows.push(out);
        }
    }

    fn story_table(&mut self, cols: &[String], rows: &[Row]) {
        let find = |names: &[&str]| cols.iter().position(|c| names.contains(&c.as_str()));
        let Some(id_col) = find(&["id", "story id", "story", "story-id", "key", "ticket"]) else {
            return;
        };
        let Some(title_col) = find(&["title", "task", "summary", "name", "description"]) else {
            return;
        };
        for row in rows {
            let cell = |i: usize| row.cells.get(i).map(|c| c.trim()).unwrap_or("");
            let id = cell(id_col);
            if !self.config.story_id.is_match(id) {
                if !text::is_empty_marker(id) {
                    self.diag(
                        Severity::Warning,
                        "bad-story-id",
                        row.start,
                        format!("`{id}` in the ID column is not a story id; row ignored"),
                    );
                }
                continue;
            }
            let mut story = new_story(
                id,
                cell(title_col).to_string(),
                self.cite(row.start, row.end),
            );
            for (i, col) in cols.iter().enumerate() {
                if i == id_col || i == title_col {
                    continue;
                }
                let key = if col.contains("epic") {
                    "epic"
                } else if col.starts_with("accept") {
                    "acceptance"
                } else if col.starts_with("depend") {
                    "depends on"
                } else if col.starts_with("estimate") || col == "est" {
                    "estimate"
                } else {
                    col.as_str()
                };
                let value = cell(i);
                if value.is_empty() {
                    continue;
                }
                self.apply_field(&mut story, key, value, Vec::new(), row.start);
            }
            self.finish_story(&mut story, row.start);
            self.stories.push(story);
        }
    }

    /// Heading-delimited sections, covering the document (text before the first heading is
    /// a section of its own when it holds anything).
    fn sections(&mut self, blocks: &[Block]) -> Vec<Section> {
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
                start: *start,
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
        let _ = self.headings.iter().map(|h| h.start);
        out
    }
}

/// A story with only what its declaration line gives; fields fill in the rest.
fn new_story(id: &str, title: String, citation: Citation) -> Story {
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

fn is_sprint_header(norm: &str) -> bool {
    matches!(
        norm,
        "sprint"
            | "sprint #"
            | "sprint no."
            | "sprint no"
            | "sprint number"
            | "sprint id"
            | "sprint num"
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RoadmapCol {
    Sprint,
    Theme,
    Epics,
    Gate,
    Mission(Option<String>),
    Week(u8, Option<String>),
    Start,
    End,
    Extra,
}

impl RoadmapCol {
    fn classify(raw: &str, norm: &str) -> RoadmapCol {
        let label_before = |needle: &str| -> Option<String> {
            let pos = text::find_ascii_ci(raw, needle)?;
            let label = raw[..pos].trim().trim_end_matches([':', '-', '—']).trim();
            (!label.is_empty()).then(|| label.to_string())
        };
        if is_sprint_header(norm) {
            RoadmapCol::Sprint
        } else if norm.contains("mission focus") {
            RoadmapCol::Mission(label_before("mission focus"))
        } else if let Some(w) = ["week 1", "week1"].iter().find(|n| norm.contains(*n)) {
            RoadmapCol::Week(1, label_before(w))
        } else if let Some(w) = ["week 2", "week2"].iter().find(|n| norm.contains(*n)) {
            RoadmapCol::Week(2, label_before(w))
        } else if norm.contains("theme") {
            RoadmapCol::Theme
        } else if norm.contains("epic") {
            RoadmapCol::Epics
        } else if norm.contains("gate") {
            RoadmapCol::Gate
        } else if norm.split(' ').any(|w| w == "start" || w == "starts") {
            RoadmapCol::Start
        } else if norm
            .split(' ')
            .any(|w| matches!(w, "end" | "ends" | "finish" | "finishes"))
        {
            RoadmapCol::End
        } else {
            RoadmapCol::Extra
        }
    }
}

/// `docs/07-role-sprint-plans/sprint-04/devops-sre-engineer/plan.md` -> ("04", role slug).
fn role_plan_path(path: &str) -> (Option<String>, Option<String>) {
    let segments: Vec<&str> = path.split('/').collect();
    let dirs = &segments[..segments.len().saturating_sub(1)];
    for (i, seg) in dirs.iter().enumerate() {
        if let Some(sprint) =
            text::sprint_in_text(seg).filter(|_| seg.to_lowercase().starts_with("sprint"))
        {
            let role = dirs.get(i + 1).map(|r| text::slugify(r));
            return (Some(sprint), role);
        }
    }
    (None, None)
}

/// "Rollback rehearsed - evidence: a.md, https://x" -> ("Rollback rehearsed", [a.md, url]).
fn split_evidence(text: &str) -> (String, Vec<String>) {
    let Some(pos) = text::find_ascii_ci(text, "evidence:") else {
        return (text.trim().to_string(), Vec::new());
    };
    let refs = text::split_list(&text[pos + "evidence:".len()..]);
    let body = text[..pos]
        .trim_end()
        .trim_end_matches(['-', '—', '–', ';', '|', ':'])
        .trim_end()
        .to_string();
    (body, refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_kinds_by_numeric_prefix() {
        assert_eq!(doc_kind("docs/04-sprints/roadmap.md"), DocKind::Sprints);
        assert_eq!(doc_kind("docs/04_sprints/roadmap.md"), DocKind::Sprints);
        assert_eq!(doc_kind("docs/04 Sprints/roadmap.md"), DocKind::Sprints);
        assert_eq!(doc_kind("03-backlog/a.md"), DocKind::Backlog);
        assert_eq!(doc_kind("docs/README.md"), DocKind::Other);
        assert_eq!(doc_kind("docs/4-sprints/a.md"), DocKind::Other);
    }

    #[test]
    fn front_matter_is_read_and_skipped() {
        let (fm, start) = front_matter("---\nsprint: \"04\"\nrole: sre\n---\n# Title\n");
        assert_eq!(fm["sprint"], "04");
        assert_eq!(fm["role"], "sre");
        assert_eq!(start, 31);
        assert_eq!(front_matter("---\nno end\n").1, 0);
        assert_eq!(front_matter("# Title\n").1, 0);
    }

    #[test]
    fn evidence_and_role_plan_paths() {
        assert_eq!(
            split_evidence("CI jobs required - evidence: .ci/run, docs/x.png"),
            (
                "CI jobs required".to_string(),
                vec![".ci/run".to_string(), "docs/x.png".to_string()]
            )
        );
        assert_eq!(
            role_plan_path("docs/07-role-sprint-plans/sprint-04/devops-sre-engineer/plan.md"),
            (Some("04".into()), Some("devops-sre-engineer".into()))
        );
    }
}
