//! One file -> the facts it states (roadmap rows, stories, epics, gates, role-plan sections)
//! plus its own diagnostics. Knows nothing of other files: cross-file work (merging sprints,
//! linking roles, duplicate ids, dependencies) happens in `assemble`, so a changed file can
//! be re-read alone.
//!
//! A [`Walker`] goes through the file's blocks once; what each kind of block says is read in
//! its own module: [`headings`] (context, features and epics, sections), [`items`] (stories
//! and their fields, checklist steps, role-plan weeks), [`gates`] (gate checklist items) and
//! [`tables`] (roadmap rows, story tables).

mod gates;
mod headings;
mod items;
mod tables;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::config::Config;
use super::markdown::{self, Block, BlockKind};
use super::text;
use crate::model::{
    ChecklistStep, Citation, Diagnostic, Doc, DocKind, Epic, Feature, GateChecklist, RoleSection,
    Severity, Story,
};

/// What one file says.
#[derive(Debug, Clone)]
pub(crate) struct FileFacts {
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
    /// Indexes into `stories` of items that only mention a story (an id, no fields): they
    /// declare it only if no other place does.
    pub mentions: Vec<usize>,
    /// `Mission focus:` lines of a role plan, per sprint.
    pub focus: Vec<FocusLine>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A role plan's `Mission focus: ...` line for one sprint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FocusLine {
    pub sprint: String,
    pub role: String,
    pub text: String,
    pub citation: Citation,
}

/// One row of a roadmap table, before rows are merged by sprint id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct RoadmapRow {
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
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct RowRole {
    pub label: String,
    pub mission_focus: Option<String>,
    pub week1: Option<String>,
    pub week2: Option<String>,
}

/// The top-level `docs/` folder a path lives in, by numeric prefix: `04-sprints`,
/// `04_sprints` and `04 Sprints` are all [`DocKind::Sprints`].
fn doc_kind(rel_path: &str) -> DocKind {
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
pub(crate) fn front_matter(text: &str) -> (BTreeMap<String, String>, usize) {
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
#[cfg(test)]
pub(crate) fn extract(rel_path: &str, text: &str, config: &Config) -> FileFacts {
    extract_owned(rel_path, text.to_string(), config)
}

/// `extract` for a text the caller gives away: the document keeps it as it is, without
/// a copy (a leading byte-order mark is removed in place). The document's hash is the
/// [`text::doc_hash`] of the text without its byte-order mark.
pub(crate) fn extract_owned(rel_path: &str, mut text: String, config: &Config) -> FileFacts {
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    let hash = text::doc_hash(text.as_bytes());
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
        mentions,
        focus,
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
        mentions,
        focus,
        diagnostics,
    }
}

/// An open heading above the current block (what citations' heading paths are made of).
struct Heading {
    level: u8,
    text: String,
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
    /// In a file outside the numbered folders (a single-file plan): the part of the plan a
    /// heading opened (`## Roadmap`, `## Backlog`, `## Features and epics`), with its level.
    area: Option<(DocKind, u8)>,
}

/// A heading story being read: its heading level, and whether the next list holds its
/// acceptance criteria (after an `Acceptance criteria` label line or subheading).
struct OpenStory {
    story: Story,
    level: u8,
    at: usize,
    criteria_below: bool,
    /// The context at the heading: the story's place (its sprint).
    place: Context,
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
    /// A story declared by a heading (`### PAY-30: Payments dashboard`), still taking the
    /// fields and criteria of the blocks below it.
    open_story: Option<OpenStory>,
    /// A story-id heading outside a backlog, (id, offset), until its fields show it is a
    /// story declaration storypack does not read.
    unplaced_story: Option<(String, usize)>,
    ctx: Context,
    roadmap_rows: Vec<RoadmapRow>,
    checklist: Vec<ChecklistStep>,
    features: Vec<Feature>,
    epics: Vec<Epic>,
    stories: Vec<Story>,
    gates: Vec<GateChecklist>,
    role_sections: Vec<RoleSection>,
    mentions: Vec<usize>,
    focus: Vec<FocusLine>,
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
        // One file per role (`07-role-sprint-plans/backend-engineer.md`): the role is the
        // file's name, the sprint comes from `## Sprint N` headings.
        let path_role = path_role.or_else(|| {
            (kind == DocKind::RolePlans && plan_sprint.is_none())
                .then(|| role_file_slug(path))
                .flatten()
        });
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
            open_story: None,
            ctx: Context::default(),
            roadmap_rows: Vec::new(),
            checklist: Vec::new(),
            features: Vec::new(),
            epics: Vec::new(),
            stories: Vec::new(),
            gates: Vec::new(),
            role_sections: Vec::new(),
            mentions: Vec::new(),
            unplaced_story: None,
            focus: Vec::new(),
            diagnostics: Vec::new(),
        };
        if kind == DocKind::Governance && path.split('/').any(|s| s == "gates") {
            // `sprint:` front matter, else the file name (`sprint-2-pilot-readiness.md`).
            let stem = path.rsplit('/').next().unwrap_or(path);
            let sprint = front
                .get("sprint")
                .and_then(|s| text::sprint_id(s))
                .or_else(|| text::sprint_in_text(stem));
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
                    self.story_heading_below(*level, text);
                    self.open_heading(*level, text, block.start, end);
                    self.open_heading_story(text, block.start, end, *level);
                }
                BlockKind::List { items, .. } => {
                    if !self.heading_story_list(items) {
                        self.list(items);
                    }
                }
                BlockKind::Table { header, rows } => self.table(header, rows, block),
                BlockKind::Paragraph => self.heading_story_paragraph(block),
                BlockKind::Other => {}
            }
        }
        self.close_heading_story();
        if self.kind == DocKind::RolePlans
            && self.plan_sprint.is_none()
            && self.role.is_some()
            && self.role_sections.is_empty()
            && self.focus.is_empty()
            && self.gates.is_empty()
            && self.stories.is_empty()
        {
            self.diag(
                Severity::Warning,
                "role-plan-unplaced",
                0,
                "role plan names no sprint, so nothing in it reaches priorities; write `## Sprint N` headings above its sections, or put it under `sprint-NN/<role>/`".into(),
            );
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

    /// The kind of plan text here: the file's folder, else (outside the numbered folders)
    /// the part a heading opened.
    fn kind_here(&self) -> DocKind {
        match (self.kind, self.ctx.area) {
            (DocKind::Other, Some((area, _))) => area,
            (kind, _) => kind,
        }
    }

    fn in_roadmap(&self) -> bool {
        self.is_roadmap_file || self.kind_here() == DocKind::Sprints
    }

    fn in_backlog(&self) -> bool {
        self.kind_here() == DocKind::Backlog
            || self.ctx.section.is_some_and(|s| s.0 == "03-backlog")
    }

    /// The sprint a role plan's section belongs to: its folder's, else the `Sprint N`
    /// heading above it.
    fn role_plan_sprint(&self) -> Option<String> {
        self.plan_sprint.clone().or_else(|| {
            (self.kind == DocKind::RolePlans)
                .then(|| self.ctx.sprint.as_ref().map(|s| s.0.clone()))
                .flatten()
        })
    }

    fn gate_target(&self) -> Option<usize> {
        self.ctx.gate.map(|g| g.0).or(self.file_gate)
    }
}

/// `07-role-sprint-plans/backend-engineer.md` -> `backend-engineer` (not `README`/`index`).
fn role_file_slug(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let slug = text::slugify(stem);
    (!slug.is_empty() && !matches!(slug.as_str(), "readme" | "index" | "overview")).then_some(slug)
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
    fn role_plan_paths() {
        assert_eq!(
            role_plan_path("docs/07-role-sprint-plans/sprint-04/devops-sre-engineer/plan.md"),
            (Some("04".into()), Some("devops-sre-engineer".into()))
        );
    }
}
