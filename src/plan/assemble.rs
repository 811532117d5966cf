//! Per-file facts -> one plan: roadmap rows merged by sprint, role labels linked to slugs,
//! the calendar filled in, everything else gathered in path order, then checked.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::Days;

use super::checks::{check_gates, check_layout, check_stories};
use super::extract::{RoadmapRow, RowRole};
use super::{Config, FileFacts, Parsed, at_citation, text};
use crate::model::{
    ChecklistStep, Citation, Diagnostic, Plan, Role, Severity, Sprint, SprintRole, Story,
};

/// Joins per-file facts into one plan and checks what only the whole plan can tell.
pub(crate) fn assemble(config: &Config, facts: &[Arc<FileFacts>]) -> Parsed {
    let mut facts: Vec<&FileFacts> = facts.iter().map(|f| f.as_ref()).collect();
    facts.sort_by(|a, b| a.doc.path.cmp(&b.doc.path));
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut plan = Plan::default();

    let mut roles = Roles::new(config, &facts);
    let mut sprints = merge_sprints(&facts, &mut roles, &mut diags);
    merge_focus(&mut sprints, &facts, &mut diags);
    plan.roles = roles.finish();
    schedule(&mut sprints, config, &mut diags);
    plan.sprints = in_number_order(sprints);
    let story_at = gather(&mut plan, &facts, &roles, &mut diags);
    link_epics(&mut plan);

    plan.reindex();
    check_stories(&plan, &story_at, &mut diags);
    check_gates(&plan, &mut diags);
    check_layout(&plan, &mut diags);
    diags.sort_by(Diagnostic::report_order);
    Parsed {
        plan,
        diagnostics: diags,
    }
}

/// The plan's roles: slugs from role-plan paths, front matter and config; labels from the
/// roadmap.
struct Roles<'a> {
    config: &'a Config,
    /// Slugs known so far (the roadmap's own join them once it is merged).
    known: BTreeSet<String>,
    /// The first label given to each slug.
    labels: BTreeMap<String, String>,
}

impl<'a> Roles<'a> {
    fn new(config: &'a Config, facts: &[&FileFacts]) -> Roles<'a> {
        let mut known: BTreeSet<String> = facts.iter().filter_map(|f| f.role.clone()).collect();
        known.extend(config.roles.values().cloned());
        Roles {
            config,
            known,
            labels: BTreeMap::new(),
        }
    }

    /// The slug a label stands for: the config's, the label's own slug when it is known,
    /// else a known slug it begins.
    fn resolve(&self, label: &str) -> String {
        if let Some(slug) = self.config.roles.get(label) {
            return slug.clone();
        }
        let s = text::slugify(label);
        if self.known.contains(&s) {
            return s;
        }
        self.known
            .iter()
            .find(|k| k.starts_with(&format!("{s}-")))
            .cloned()
            .unwrap_or(s)
    }

    /// A roadmap label's slug; the label is remembered when it is the slug's first.
    fn roadmap_label(&mut self, label: &str) -> String {
        let slug = self.resolve(label);
        self.labels
            .entry(slug.clone())
            .or_insert_with(|| label.to_string());
        slug
    }

    /// After the roadmap: its slugs become known. The plan's roles, labelled by the
    /// roadmap, else the config, else their slug.
    fn finish(&mut self) -> Vec<Role> {
        self.known.extend(self.labels.keys().cloned());
        for (label, slug) in &self.config.roles {
            self.labels
                .entry(slug.clone())
                .or_insert_with(|| label.clone());
        }
        self.known
            .iter()
            .map(|slug| Role {
                slug: slug.clone(),
                label: self
                    .labels
                    .get(slug)
                    .cloned()
                    .unwrap_or_else(|| text::label_from_slug(slug)),
            })
            .collect()
    }

    /// A story's role: the one its `Role:` field names (a label or a slug prefix, linked
    /// like the roadmap's), else the one its path names.
    fn of_story(&self, named: Option<String>, path: &str) -> Option<String> {
        match named {
            None => slug_in_path(path, &self.known),
            Some(r) if self.known.contains(&r) => Some(r),
            Some(r) => Some(
                self.config
                    .roles
                    .iter()
                    .find(|(label, _)| text::slugify(label) == r)
                    .map(|(_, slug)| slug.clone())
                    .unwrap_or_else(|| self.resolve(&r)),
            ),
        }
    }
}

/// Sprints: roadmap rows merged by id, first row wins, conflicts reported.
fn merge_sprints(
    facts: &[&FileFacts],
    roles: &mut Roles,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Sprint> {
    let mut sprints: BTreeMap<String, Sprint> = BTreeMap::new();
    for row in facts.iter().flat_map(|f| &f.roadmap_rows) {
        let sprint = sprints.entry(row.sprint.clone()).or_insert_with(|| Sprint {
            id: row.sprint.clone(),
            theme: None,
            epics: Vec::new(),
            gate: None,
            start: None,
            end: None,
            roles: BTreeMap::new(),
            extra: BTreeMap::new(),
            citation: row.citation.clone(),
        });
        merge_row(sprint, row, roles, diags);
    }
    sprints
}

/// Role plans' `Mission focus:` lines: the role's focus for that sprint where the roadmap
/// gives none (the roadmap's own wins; a different one is reported).
fn merge_focus(
    sprints: &mut BTreeMap<String, Sprint>,
    facts: &[&FileFacts],
    diags: &mut Vec<Diagnostic>,
) {
    for line in facts.iter().flat_map(|f| &f.focus) {
        let Some(sprint) = sprints.get_mut(&line.sprint) else {
            diags.push(at_citation(
                &line.citation,
                Severity::Warning,
                "unknown-sprint",
                format!(
                    "mission focus for sprint {}, which the roadmap does not list; ignored",
                    line.sprint
                ),
            ));
            continue;
        };
        let entry = sprint
            .roles
            .entry(line.role.clone())
            .or_insert_with(|| SprintRole {
                label: line.role.clone(),
                citation: Some(line.citation.clone()),
                ..SprintRole::default()
            });
        let first = entry
            .citation
            .clone()
            .unwrap_or_else(|| line.citation.clone());
        merge_field(
            &mut entry.mission_focus,
            &Some(line.text.clone()),
            "mission focus",
            &line.sprint,
            &first,
            &line.citation,
            diags,
        );
    }
}

/// One more roadmap row for `sprint`.
fn merge_row(
    sprint: &mut Sprint,
    row: &RoadmapRow,
    roles: &mut Roles,
    diags: &mut Vec<Diagnostic>,
) {
    let at = &row.citation;
    let (id, first) = (&sprint.id, &sprint.citation);
    merge_field(&mut sprint.theme, &row.theme, "theme", id, first, at, diags);
    merge_field(&mut sprint.gate, &row.gate, "gate", id, first, at, diags);
    merge_field(&mut sprint.start, &row.start, "start", id, first, at, diags);
    merge_field(&mut sprint.end, &row.end, "end", id, first, at, diags);
    for e in &row.epics {
        if !sprint.epics.contains(e) {
            sprint.epics.push(e.clone());
        }
    }
    for (k, v) in &row.extra {
        sprint.extra.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for r in &row.roles {
        let slug = roles.roadmap_label(&r.label);
        let entry = sprint.roles.entry(slug).or_insert_with(|| SprintRole {
            label: r.label.clone(),
            citation: Some(row.citation.clone()),
            ..SprintRole::default()
        });
        merge_role(entry, r, &sprint.id, row, diags);
    }
}

/// What one roadmap row says about one of the sprint's roles.
fn merge_role(
    entry: &mut SprintRole,
    r: &RowRole,
    sprint: &str,
    row: &RoadmapRow,
    diags: &mut Vec<Diagnostic>,
) {
    let at = &row.citation;
    let first = entry
        .citation
        .clone()
        .unwrap_or_else(|| row.citation.clone());
    let focus = &r.mission_focus;
    merge_field(
        &mut entry.mission_focus,
        focus,
        "mission focus",
        sprint,
        &first,
        at,
        diags,
    );
    merge_field(
        &mut entry.week1,
        &r.week1,
        "week 1 priority",
        sprint,
        &first,
        at,
        diags,
    );
    merge_field(
        &mut entry.week2,
        &r.week2,
        "week 2 priority",
        sprint,
        &first,
        at,
        diags,
    );
}

/// Sets `slot` from the first row that has a value; a later different value is reported.
fn merge_field<T: Clone + PartialEq + std::fmt::Display>(
    slot: &mut Option<T>,
    value: &Option<T>,
    what: &str,
    sprint: &str,
    first: &Citation,
    at: &Citation,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(v) = value else { return };
    match slot {
        None => *slot = Some(v.clone()),
        Some(old) if old != v => diags.push(at_citation(
            at,
            Severity::Warning,
            "roadmap-conflict",
            format!(
                "sprint {sprint} {what} `{v}` differs from `{old}` at {}:{}; the first is used",
                first.path, first.line_start
            ),
        )),
        Some(_) => {}
    }
}

/// Calendar: explicit dates win; else the configured cadence.
fn schedule(sprints: &mut BTreeMap<String, Sprint>, config: &Config, diags: &mut Vec<Diagnostic>) {
    let first_number = sprints
        .keys()
        .filter_map(|k| k.parse::<u64>().ok())
        .min()
        .unwrap_or(0);
    let days = u64::from(config.sprint_days);
    for sprint in sprints.values_mut() {
        let n = sprint
            .id
            .parse::<u64>()
            .unwrap_or(0)
            .saturating_sub(first_number);
        if sprint.start.is_none()
            && let Some(first) = config.first_sprint_start
        {
            sprint.start = first.checked_add_days(Days::new(n * days));
        }
        if sprint.end.is_none()
            && let Some(start) = sprint.start
        {
            sprint.end = start.checked_add_days(Days::new(days.saturating_sub(1)));
        }
        if let (Some(s), Some(e)) = (sprint.start, sprint.end)
            && e < s
        {
            diags.push(at_citation(
                &sprint.citation,
                Severity::Warning,
                "bad-date",
                format!("sprint {} ends ({e}) before it starts ({s})", sprint.id),
            ));
        }
    }
}

/// Sprints by number (ids that are not numbers last, by id).
fn in_number_order(sprints: BTreeMap<String, Sprint>) -> Vec<Sprint> {
    let mut sprints: Vec<Sprint> = sprints.into_values().collect();
    sprints.sort_by_key(|s| (s.id.parse::<u64>().unwrap_or(u64::MAX), s.id.clone()));
    sprints
}

/// Everything else, file by file in path order: the files' own diagnostics, the checklist,
/// features, epics, stories, gates, role sections and documents. Returns each story's
/// place in `plan.stories`.
fn gather(
    plan: &mut Plan,
    facts: &[&FileFacts],
    roles: &Roles,
    diags: &mut Vec<Diagnostic>,
) -> HashMap<String, usize> {
    let mut story_at: HashMap<String, usize> = HashMap::new();
    // Ids declared with more than a mention somewhere: their mentions are references.
    let declared: HashSet<&str> = facts
        .iter()
        .flat_map(|f| {
            f.stories
                .iter()
                .enumerate()
                .filter(|(i, _)| !f.mentions.contains(i))
                .map(|(_, s)| s.id.as_str())
        })
        .collect();
    for f in facts {
        diags.extend(f.diagnostics.iter().cloned());
        merge_checklist(&mut plan.checklist, &f.checklist, diags);
        for feature in &f.features {
            push_unique(
                &mut plan.features,
                feature,
                |x| &x.id,
                |x| &x.citation,
                "feature",
                diags,
            );
        }
        for epic in &f.epics {
            push_unique(
                &mut plan.epics,
                epic,
                |x| &x.id,
                |x| &x.citation,
                "epic",
                diags,
            );
        }
        for (i, story) in f.stories.iter().enumerate() {
            if f.mentions.contains(&i)
                && (declared.contains(story.id.as_str()) || story_at.contains_key(&story.id))
            {
                continue;
            }
            let mut story = story.clone();
            story.role = roles.of_story(story.role.take(), &story.citation.path);
            add_story(plan, &mut story_at, story, diags);
        }
        plan.gates.extend(f.gates.iter().cloned());
        plan.role_sections.extend(f.role_sections.iter().cloned());
        plan.docs.push(Arc::clone(&f.doc));
    }
    story_at
}

/// The first per-sprint checklist is the plan's; a different one is reported.
fn merge_checklist(
    checklist: &mut Vec<ChecklistStep>,
    other: &[ChecklistStep],
    diags: &mut Vec<Diagnostic>,
) {
    if checklist.is_empty() {
        *checklist = other.to_vec();
    } else if !other.is_empty() && !same_steps(checklist, other) {
        let first = &checklist[0].citation;
        diags.push(at_citation(
            &other[0].citation,
            Severity::Warning,
            "duplicate-checklist",
            format!(
                "a different per-sprint checklist is already defined at {}:{}; this one is ignored",
                first.path, first.line_start
            ),
        ));
    }
}

fn same_steps(a: &[ChecklistStep], b: &[ChecklistStep]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.section == y.section && x.text == y.text)
}

/// Adds the story unless its id is taken (an error naming the first declaration).
fn add_story(
    plan: &mut Plan,
    story_at: &mut HashMap<String, usize>,
    story: Story,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(&i) = story_at.get(&story.id) {
        let prev = &plan.stories[i].citation;
        diags.push(at_citation(
            &story.citation,
            Severity::Error,
            "duplicate-story",
            format!(
                "story {} is declared twice: here and at {}:{}; this one is ignored",
                story.id, prev.path, prev.line_start
            ),
        ));
        return;
    }
    story_at.insert(story.id.clone(), plan.stories.len());
    plan.stories.push(story);
}

/// Each feature lists its epics, in plan order.
fn link_epics(plan: &mut Plan) {
    for feature in &mut plan.features {
        feature.epics = plan
            .epics
            .iter()
            .filter(|e| e.feature == feature.id)
            .map(|e| e.id.clone())
            .collect();
    }
}

/// Adds `item` unless one with its id is there already (a warning naming the first place).
fn push_unique<T: Clone>(
    list: &mut Vec<T>,
    item: &T,
    id: impl Fn(&T) -> &String,
    citation: impl Fn(&T) -> &Citation,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(prev) = list.iter().find(|x| id(x) == id(item)) {
        let first = citation(prev);
        diags.push(at_citation(
            citation(item),
            Severity::Warning,
            &format!("duplicate-{what}"),
            format!(
                "{what} {} is already declared at {}:{}",
                id(item),
                first.path,
                first.line_start
            ),
        ));
        return;
    }
    list.push(item.clone());
}

/// The longest known role slug named by a path segment or a file stem.
fn slug_in_path(path: &str, known: &BTreeSet<String>) -> Option<String> {
    let lower = path.to_lowercase();
    known
        .iter()
        .filter(|slug| {
            lower.split(['/', '.']).any(|seg| {
                seg == slug.as_str()
                    || seg.ends_with(&format!("-{slug}"))
                    || seg.starts_with(&format!("{slug}-"))
            })
        })
        .max_by_key(|s| s.len())
        .cloned()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::plan::extract::extract;

    /// Each file read alone, as the index keeps them.
    fn facts(files: &[(&str, &str)], config: &Config) -> Vec<Arc<FileFacts>> {
        files
            .iter()
            .map(|(path, text)| Arc::new(extract(path, text, config)))
            .collect()
    }

    fn codes(parsed: &Parsed, severity: Severity) -> Vec<(&str, &str, u32)> {
        parsed
            .diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .map(|d| (d.code.as_str(), d.path.as_str(), d.line))
            .collect()
    }

    const ROADMAP: &str = "\
| Sprint | Theme | Gate | Backend Mission Focus |
|---|---|---|---|
| 01 | Rails | G1 | api |
| 02 | Search | | index |
";
    /// A later roadmap that disagrees on sprint 01's theme and adds an epic.
    const MORE: &str = "\
| Sprint | Theme | Epics |
|---|---|---|
| 01 | Other | F1-E1 |
";
    const BACKLOG: &str = "\
# Sprint 01
- BE-01-01 Build the API
  - Acceptance: it answers
- BE-01-02 Store what it is sent
  - Depends on: BE-01-01
  - Acceptance: stored
# Sprint 02
- BE-02-01 Index it
  - Acceptance: found
";

    #[test]
    fn a_tiny_plan_joins_into_sprints_and_stories() {
        let mut d = Vec::new();
        let config = Config::parse(
            Some("[calendar]\nfirst_sprint_start = 2026-01-05\nsprint_days = 14\n"),
            &mut d,
        );
        assert!(d.is_empty(), "{d:?}");
        // Given out of path order: assemble reads them in path order.
        let files = [
            ("docs/04-sprints/zz-more.md", MORE),
            ("docs/03-backlog/backend.md", BACKLOG),
            ("docs/04-sprints/roadmap.md", ROADMAP),
        ];
        let parsed = assemble(&config, &facts(&files, &config));
        let plan = &parsed.plan;

        let sprints: Vec<(&str, Option<&str>, Option<&str>)> = plan
            .sprints
            .iter()
            .map(|s| (s.id.as_str(), s.theme.as_deref(), s.gate.as_deref()))
            .collect();
        assert_eq!(
            sprints,
            [
                ("01", Some("Rails"), Some("G1")),
                ("02", Some("Search"), None)
            ]
        );
        let (one, two) = (&plan.sprints[0], &plan.sprints[1]);
        assert_eq!(one.epics, ["F1-E1"]);
        assert_eq!(one.citation.path, "docs/04-sprints/roadmap.md");
        assert_eq!(one.roles["backend"].mission_focus.as_deref(), Some("api"));
        assert_eq!(two.roles["backend"].mission_focus.as_deref(), Some("index"));
        let date = |m, d| NaiveDate::from_ymd_opt(2026, m, d);
        assert_eq!((one.start, one.end), (date(1, 5), date(1, 18)));
        assert_eq!((two.start, two.end), (date(1, 19), date(2, 1)));
        let roles: Vec<(&str, &str)> = plan
            .roles
            .iter()
            .map(|r| (r.slug.as_str(), r.label.as_str()))
            .collect();
        assert_eq!(roles, [("backend", "Backend")]);

        let stories: Vec<(&str, &str, Option<&str>, Option<&str>)> = plan
            .stories
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.title.as_str(),
                    s.sprint.as_deref(),
                    s.role.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            stories,
            [
                ("BE-01-01", "Build the API", Some("01"), Some("backend")),
                (
                    "BE-01-02",
                    "Store what it is sent",
                    Some("01"),
                    Some("backend")
                ),
                ("BE-02-01", "Index it", Some("02"), Some("backend")),
            ]
        );
        assert_eq!(plan.stories[1].depends_on, ["BE-01-01"]);
        let docs: Vec<&str> = plan.docs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            docs,
            [
                "docs/03-backlog/backend.md",
                "docs/04-sprints/roadmap.md",
                "docs/04-sprints/zz-more.md"
            ]
        );

        // The later row's theme loses, and says so where it is written.
        assert_eq!(
            codes(&parsed, Severity::Warning),
            [
                ("gate-without-checklist", "docs/04-sprints/roadmap.md", 3),
                ("roadmap-conflict", "docs/04-sprints/zz-more.md", 3),
            ]
        );
        assert!(codes(&parsed, Severity::Error).is_empty());
        let conflict = parsed
            .diagnostics
            .iter()
            .find(|d| d.code == "roadmap-conflict")
            .expect("a conflict");
        assert_eq!(
            conflict.message,
            "sprint 01 theme `Other` differs from `Rails` at docs/04-sprints/roadmap.md:3; the first is used"
        );
    }

    #[test]
    fn story_roles_link_labels_and_slug_prefixes() {
        let config = Config::default();
        let backlog = "\
- BE-01-01 Named by label
  - Role: Backend
  - Acceptance: a
- BE-01-02 Named by its slug
  - Role: backend-engineer
  - Acceptance: b
- BE-01-03 Named by nobody
  - Acceptance: c
";
        let plans = "docs/07-role-sprint-plans/sprint-01/backend-engineer/plan.md";
        let files = [("docs/03-backlog/notes.md", backlog), (plans, "# Plan\n")];
        let parsed = assemble(&config, &facts(&files, &config));
        let roles: Vec<Option<&str>> = parsed
            .plan
            .stories
            .iter()
            .map(|s| s.role.as_deref())
            .collect();
        assert_eq!(
            roles,
            [Some("backend-engineer"), Some("backend-engineer"), None]
        );
        let slugs: Vec<&str> = parsed.plan.roles.iter().map(|r| r.slug.as_str()).collect();
        assert_eq!(slugs, ["backend-engineer"]);
    }
}
