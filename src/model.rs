//! Plain data: what a plan says, after parsing. No behaviour beyond small lookups.
//!
//! Every item carries a [`Citation`] so that anything storypack shows can be traced back to
//! file:line in the plan. JSON field names are part of the product contract
//! (docs/results.md): rename nothing, add freely.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where something came from: a path relative to the plan root, a 1-based inclusive line
/// range and the path of headings above it, joined with " > ".
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct Citation {
    pub path: String,
    pub line_start: u32,
    pub line_end: u32,
    pub heading: String,
}

/// `path:line` (or `path:start-end`), the path's control characters escaped
/// ([`escape_controls`]).
impl std::fmt::Display for Citation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = escape_controls(&self.path);
        if self.line_start == self.line_end {
            write!(f, "{path}:{}", self.line_start)
        } else {
            write!(f, "{path}:{}-{}", self.line_start, self.line_end)
        }
    }
}

/// Whether text output shows `c` escaped: control characters (C0, DEL, C1) and the Unicode
/// bidirectional controls, which reorder what a terminal shows.
fn escaped(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` as text output prints it: control characters escaped the way Rust writes them
/// (`\n`, `\t`, `\r`, `\u{1b}`), so a file name cannot forge output lines or send the
/// terminal escape sequences. Everything else, backslashes and quotes included, is kept.
/// JSON output carries the exact text instead.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(escaped) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if escaped(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The whole plan as one value. Collections are sorted (sprints by id, stories in plan
/// order: by path, then line) so that everything derived from a plan is deterministic.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub sprints: Vec<Sprint>,
    /// The per-sprint checklist every role follows ("Constant Section Execution Checklist").
    pub checklist: Vec<ChecklistStep>,
    pub roles: Vec<Role>,
    pub features: Vec<Feature>,
    pub epics: Vec<Epic>,
    pub stories: Vec<Story>,
    pub gates: Vec<GateChecklist>,
    pub role_sections: Vec<RoleSection>,
    /// Every markdown document read, with its heading-delimited sections. Shared: a plan
    /// rebuilt after one file changed keeps the other documents as they are.
    pub docs: Vec<Arc<Doc>>,
    /// Lookups by id and path, built by [`Plan::reindex`].
    #[serde(skip)]
    #[schemars(skip)]
    pub lookup: Lookup,
}

/// Positions of stories, epics, sprints and docs by id or path.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    stories: FxHashMap<String, usize>,
    epics: FxHashMap<String, usize>,
    sprints: FxHashMap<String, usize>,
    docs: FxHashMap<String, usize>,
    /// Per sprint id, the positions of its role plan sections (of `indexed_role_sections`).
    role_sections: FxHashMap<String, Vec<usize>>,
    indexed_role_sections: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Sprint {
    /// Two digits at least: "05".
    pub id: String,
    pub theme: Option<String>,
    pub epics: Vec<String>,
    pub gate: Option<String>,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    /// Per role slug: what the roadmap says this role does in this sprint.
    pub roles: BTreeMap<String, SprintRole>,
    /// Roadmap columns storypack has no field for, by their header text.
    pub extra: BTreeMap<String, String>,
    /// The first roadmap row that named this sprint.
    pub citation: Citation,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SprintRole {
    pub label: String,
    pub mission_focus: Option<String>,
    pub week1: Option<String>,
    pub week2: Option<String>,
    pub citation: Option<Citation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChecklistStep {
    pub n: u32,
    /// Section key, e.g. "00-governance".
    pub section: String,
    pub text: String,
    pub citation: Citation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Role {
    /// "devops-sre-engineer"
    pub slug: String,
    /// "DevOps/SRE" when the roadmap names it, else derived from the slug.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Feature {
    /// "F3"
    pub id: String,
    pub title: String,
    pub epics: Vec<String>,
    pub citation: Citation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Epic {
    /// "F3-E1"
    pub id: String,
    /// "F3"
    pub feature: String,
    pub title: String,
    pub citation: Citation,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StoryStatus {
    Todo,
    Done,
}

/// Where a story stands now, from the plan's status, its latest valid handoff and any live
/// claim (see `docs/plan-format.md`, "Story state").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoryState {
    #[default]
    Todo,
    Claimed,
    InProgress,
    ReadyForReview,
    Done,
    Blocked,
}

impl StoryState {
    /// The name the JSON spells (serde's snake_case).
    pub fn as_str(self) -> &'static str {
        match self {
            StoryState::Todo => "todo",
            StoryState::Claimed => "claimed",
            StoryState::InProgress => "in_progress",
            StoryState::ReadyForReview => "ready_for_review",
            StoryState::Done => "done",
            StoryState::Blocked => "blocked",
        }
    }

    pub const ALL: [StoryState; 6] = [
        StoryState::Todo,
        StoryState::Claimed,
        StoryState::InProgress,
        StoryState::ReadyForReview,
        StoryState::Done,
        StoryState::Blocked,
    ];

    /// `in_progress`, `in-progress` or `in progress` (any case) -> the state.
    pub fn parse(s: &str) -> Option<StoryState> {
        let key = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        StoryState::ALL.into_iter().find(|st| st.as_str() == key)
    }
}

/// A live lease on a story: the agent working it, since when, until when (RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Claim {
    pub agent: String,
    pub since: String,
    pub until: String,
}

/// A story's state now and what it comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LiveState {
    pub state: StoryState,
    /// The live claim, when one holds the story.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    /// The latest valid handoff's id, when one says where the story stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<String>,
}

/// Live states by story id. A story missing from it is as the plan says (`todo` or `done`).
pub type States = std::collections::HashMap<String, LiveState>;

/// Whether the story `id` names is done (in the plan or by its latest valid handoff): what
/// satisfies a dependency on it. An id no story has is not done.
pub fn is_done(plan: &Plan, states: &States, id: &str) -> bool {
    plan.story(id)
        .is_some_and(|s| state_of(states, s) == StoryState::Done)
}

/// A story's live state, or the plan's own status when `states` has none for it.
pub fn state_of(states: &States, story: &Story) -> StoryState {
    match states.get(&story.id) {
        Some(l) => l.state,
        None if story.status == StoryStatus::Done => StoryState::Done,
        None => StoryState::Todo,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Story {
    pub id: String,
    pub title: String,
    pub sprint: Option<String>,
    pub role: Option<String>,
    pub epic: Option<String>,
    pub status: StoryStatus,
    pub reviewer: Option<String>,
    pub evidence: Vec<String>,
    pub depends_on: Vec<String>,
    pub estimate: Option<String>,
    pub acceptance: Vec<String>,
    /// Fields storypack has no slot for, by their key as written.
    pub extra: BTreeMap<String, String>,
    pub citation: Citation,
    /// Where the status is written (an open task box, a todo `Status:` value or cell), for
    /// `storypack sync` to mark the story done. Not part of the JSON.
    #[serde(skip)]
    #[schemars(skip)]
    pub status_marks: Vec<StatusMark>,
}

/// One place in a story's file that says its status, as byte offsets into the document's
/// text (the BOM removed, like [`Doc::text`]). `start..end` is what to replace: the space of
/// a `[ ]` task box, or the value of a `Status:` field or cell as written, markup around it
/// left out (an empty range where the value is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusMark {
    pub kind: StatusMarkKind,
    pub start: usize,
    pub end: usize,
    /// For a table cell: where the cell's trailing spaces end (at its closing pipe), so a
    /// new value can keep the pipes aligned. Equals `end` otherwise.
    pub room_end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusMarkKind {
    /// The task box of a list story: `- [ ] ID`.
    Checkbox,
    /// A `Status:` (or `State:`) field line.
    Field,
    /// A table row's Status (or State) cell.
    Cell,
}

/// A gate's evidence checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GateChecklist {
    /// The gate's name as the checklist gives it ("CI/CD gate").
    pub gate: String,
    /// The sprint it belongs to, when known (front matter, a role plan's path, or the roadmap).
    pub sprint: Option<String>,
    pub items: Vec<GateItem>,
    pub citation: Citation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GateItem {
    pub text: String,
    pub checked: bool,
    pub evidence: Vec<String>,
    /// The text of each reference written as a Markdown link, by its target.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub owner: Option<String>,
    /// As written: "day 3" or an ISO date.
    pub due: Option<String>,
    pub citation: Citation,
}

/// Part of a role's sprint plan: (sprint, role, section key), optionally a week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoleSection {
    pub sprint: String,
    pub role: String,
    /// "00-governance" .. "06-ai-agent-execution"
    pub section: String,
    pub week: Option<u8>,
    pub citation: Citation,
}

/// Which top-level folder of `docs/` a document lives in. `Other` stays last: arrays with a
/// slot per kind are [`DocKind::COUNT`] long.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Governance,
    Architecture,
    Features,
    Backlog,
    Sprints,
    Playbooks,
    AgentExecution,
    RolePlans,
    Other,
}

/// `COUNT` is one past the last kind's slot, so it counts every kind.
const _: () = assert!(DocKind::Other.index() + 1 == DocKind::COUNT);

impl DocKind {
    /// How many kinds there are: the length of an array with a slot per kind.
    pub(crate) const COUNT: usize = 9;

    /// This kind's slot in an array of [`DocKind::COUNT`].
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// The section key the folder corresponds to, as plans write it.
    pub(crate) fn from_number(n: u32) -> DocKind {
        match n {
            0 => DocKind::Governance,
            1 => DocKind::Architecture,
            2 => DocKind::Features,
            3 => DocKind::Backlog,
            4 => DocKind::Sprints,
            5 => DocKind::Playbooks,
            6 => DocKind::AgentExecution,
            7 => DocKind::RolePlans,
            _ => DocKind::Other,
        }
    }
}

/// One markdown document, kept whole so excerpts can be cut from it by line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Doc {
    pub path: String,
    pub kind: DocKind,
    pub title: Option<String>,
    pub front_matter: BTreeMap<String, String>,
    /// XXH3-64 of the file's bytes, hex: changes whenever the file does.
    pub hash: String,
    pub sections: Vec<Section>,
    /// The text (BOM removed, CRLF kept as read: line numbers stay true).
    #[serde(skip)]
    pub text: String,
    /// Byte offset of each line start in `text`.
    #[serde(skip)]
    pub line_starts: Vec<usize>,
}

/// A heading-delimited part of a document (the text before the first heading is a section
/// with an empty heading path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Section {
    pub title: String,
    pub level: u8,
    pub citation: Citation,
    /// Byte range of the section in the document's text, heading line included.
    pub start: usize,
    pub end: usize,
}

impl Doc {
    /// The section's text.
    pub(crate) fn section_text(&self, section: &Section) -> &str {
        self.text.get(section.start..section.end).unwrap_or("")
    }

    /// Lines `line_start..=line_end` (1-based) of the document, as written.
    fn lines(&self, line_start: u32, line_end: u32) -> &str {
        let n = self.line_starts.len();
        let a = (line_start.max(1) as usize - 1).min(n);
        let b = (line_end as usize).min(n);
        if a >= b {
            return "";
        }
        let start = self.line_starts[a];
        let end = self.line_starts.get(b).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("")
    }
}

impl Plan {
    /// Rebuilds the lookups; call after changing the collections.
    pub(crate) fn reindex(&mut self) {
        fn positions<T>(items: &[T], key: impl Fn(&T) -> &str) -> FxHashMap<String, usize> {
            let mut map = FxHashMap::default();
            map.reserve(items.len());
            for (i, item) in items.iter().enumerate() {
                map.entry(key(item).to_string()).or_insert(i);
            }
            map
        }
        self.lookup = Lookup {
            stories: positions(&self.stories, |s| &s.id),
            epics: positions(&self.epics, |e| &e.id),
            sprints: positions(&self.sprints, |s| &s.id),
            docs: positions(&self.docs, |d| &d.path),
            role_sections: FxHashMap::default(),
            indexed_role_sections: self.role_sections.len(),
        };
        for (i, r) in self.role_sections.iter().enumerate() {
            self.lookup
                .role_sections
                .entry(r.sprint.clone())
                .or_default()
                .push(i);
        }
    }

    /// The role plan sections of one sprint, in plan order.
    pub(crate) fn role_sections_of<'a>(&'a self, sprint: &str) -> Vec<&'a RoleSection> {
        if self.lookup.indexed_role_sections == self.role_sections.len() {
            return self
                .lookup
                .role_sections
                .get(sprint)
                .map(|at| {
                    at.iter()
                        .filter_map(|&i| self.role_sections.get(i))
                        .collect()
                })
                .unwrap_or_default();
        }
        self.role_sections
            .iter()
            .filter(|r| r.sprint == sprint)
            .collect()
    }

    fn find<'a, T>(
        items: &'a [T],
        map: &FxHashMap<String, usize>,
        key: &str,
        get: impl Fn(&T) -> &str,
    ) -> Option<&'a T> {
        if map.len() == items.len() && !items.is_empty() {
            return map.get(key).and_then(|&i| items.get(i));
        }
        items.iter().find(|x| get(x) == key)
    }

    pub fn sprint(&self, id: &str) -> Option<&Sprint> {
        Self::find(&self.sprints, &self.lookup.sprints, id, |s| &s.id)
    }

    pub fn story(&self, id: &str) -> Option<&Story> {
        Self::find(&self.stories, &self.lookup.stories, id, |s| &s.id)
    }

    pub fn epic(&self, id: &str) -> Option<&Epic> {
        Self::find(&self.epics, &self.lookup.epics, id, |e| &e.id)
    }

    /// Position of a document in `docs`.
    pub(crate) fn doc_index(&self, path: &str) -> Option<usize> {
        if self.lookup.docs.len() == self.docs.len() && !self.docs.is_empty() {
            return self.lookup.docs.get(path).copied();
        }
        self.docs.iter().position(|d| d.path == path)
    }

    pub fn doc(&self, path: &str) -> Option<&Doc> {
        Self::find(&self.docs, &self.lookup.docs, path, |d| &d.path).map(|d| d.as_ref())
    }

    /// The text a citation points at, if its document is part of the plan.
    pub fn excerpt(&self, citation: &Citation) -> Option<&str> {
        self.doc(&citation.path)
            .map(|d| d.lines(citation.line_start, citation.line_end))
    }

    /// A citation's text, and its lines after its own heading line (if it starts with one).
    pub(crate) fn excerpt_after_heading(&self, c: &Citation) -> (&str, std::str::Lines<'_>) {
        let text = self.excerpt(c).unwrap_or("");
        let mut lines = text.lines();
        let mut rest = lines.clone();
        if lines
            .next()
            .is_some_and(|l| l.trim_start().starts_with('#'))
        {
            rest = lines;
        }
        (text, rest)
    }

    /// Whether a citation holds nothing but its heading (and blank lines).
    pub(crate) fn excerpt_is_bodiless(&self, c: &Citation) -> bool {
        self.excerpt_after_heading(c).1.all(|l| l.trim().is_empty())
    }

    /// The gate checklist of a sprint: one naming the sprint, else one whose gate name
    /// matches the sprint's gate.
    /// Every checklist of the sprint's gate, in plan order: those that name the sprint (a
    /// `Gate evidence` heading in its role plan, a gate file's `sprint:` or file name) and
    /// those that name no sprint but the sprint's gate. All of them are merged, each item
    /// keeping its own citation.
    pub fn gate_checklists(&self, sprint: &Sprint) -> Vec<&GateChecklist> {
        let key = sprint.gate.as_deref().map(gate_key);
        self.gates
            .iter()
            .filter(|g| match g.sprint.as_deref() {
                Some(s) => s == sprint.id,
                None => key.as_ref().is_some_and(|k| gate_key(&g.gate) == *k),
            })
            .collect()
    }
}

/// A gate name reduced to what identifies it: "CI/CD Gate evidence" and "ci/cd gate" are
/// the same gate.
pub(crate) fn gate_key(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .filter(|w| !matches!(w.as_str(), "gate" | "evidence" | "checklist" | "sprint"))
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// A problem found while reading the plan. Parsing never fails; it reports these.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable kebab-case name of the rule ("duplicate-story").
    pub code: String,
    /// Relative to the plan root; empty for plan-wide problems.
    pub path: String,
    pub line: u32,
    pub message: String,
}

impl Diagnostic {
    /// Report order: errors first, then by file and line.
    pub(crate) fn report_order(&self, other: &Diagnostic) -> std::cmp::Ordering {
        (
            self.severity,
            &self.path,
            self.line,
            &self.code,
            &self.message,
        )
            .cmp(&(
                other.severity,
                &other.path,
                other.line,
                &other.code,
                &other.message,
            ))
    }
}

/// One line: `path:line: severity [code]: message`, control characters in the path and the
/// message escaped ([`escape_controls`]).
impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = escape_controls(&self.message);
        if self.path.is_empty() {
            write!(f, "{} [{}]: {message}", self.severity, self.code)
        } else {
            write!(
                f,
                "{}:{}: {} [{}]: {message}",
                escape_controls(&self.path),
                self.line,
                self.severity,
                self.code
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_output_escapes_control_characters_in_paths_and_messages() {
        assert_eq!(escape_controls("docs/a b.md"), "docs/a b.md");
        assert_eq!(
            escape_controls("a\nb\t\r\u{1b}[31m\u{7f}\u{9b}\u{202e}é\\'\""),
            "a\\nb\\t\\r\\u{1b}[31m\\u{7f}\\u{9b}\\u{202e}é\\'\""
        );
        let forged = Diagnostic {
            severity: Severity::Warning,
            code: "not-utf8".into(),
            path: "docs/x.md\ndocs/y.md:1: error [fake]: forged".into(),
            line: 3,
            message: "bad\u{1b}[2J".into(),
        };
        let shown = forged.to_string();
        assert_eq!(
            shown,
            "docs/x.md\\ndocs/y.md:1: error [fake]: forged:3: warning [not-utf8]: bad\\u{1b}[2J"
        );
        assert_eq!(shown.lines().count(), 1);
        let citation = Citation {
            path: "a\nb.md".into(),
            line_start: 1,
            line_end: 2,
            heading: String::new(),
        };
        assert_eq!(citation.to_string(), "a\\nb.md:1-2");
    }
}
