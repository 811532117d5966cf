//! What matters now: a sprint's focus, week priorities, gate and its stories in dependency
//! order with blocked flags. Also the story filter behind `list_stories`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{
    Citation, Claim, Plan, Sprint, States, Story, StoryState, StoryStatus, is_done, state_of,
};
use crate::plan::text;

/// Longest id or name argument (sprint, role, epic, story, recipe) accepted from a client.
pub(crate) const MAX_ARG_LEN: usize = 128;
/// Weeks in a sprint (role plans give week 1 and week 2 priorities).
pub(crate) const WEEKS: u8 = 2;

#[derive(Debug, Clone, Default)]
pub struct PriorityQuery {
    pub sprint: Option<String>,
    pub role: Option<String>,
    pub week: Option<u8>,
}

/// How the sprint or week was chosen when the caller did not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    Requested,
    Calendar,
    FirstOpen,
    First,
    Default,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Priorities {
    pub sprint: String,
    pub sprint_selected_by: Selection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    pub epics: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The first week shown (see `weeks`).
    pub week: u8,
    /// The weeks whose priorities are shown: the one asked for or running by the calendar,
    /// else both (`week_selected_by` is then `default`).
    pub weeks: Vec<u8>,
    pub week_selected_by: Selection,
    pub focus: Vec<Focus>,
    pub week_priorities: Vec<WeekPriority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateSummary>,
    /// The per-sprint checklist every role follows.
    pub checklist: Vec<crate::model::ChecklistStep>,
    pub stories: Vec<StoryView>,
    pub counts: Counts,
    pub citation: Citation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Focus {
    pub role: String,
    pub label: String,
    pub mission_focus: Option<String>,
    pub citation: Option<Citation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WeekPriority {
    pub role: String,
    pub week: u8,
    pub text: String,
    pub citation: Citation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GateSummary {
    pub name: String,
    pub items: usize,
    pub checked: usize,
    pub checklists: Vec<Citation>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    pub stories: usize,
    pub done: usize,
    pub blocked: usize,
}

/// A story with what priorities add: whether it can start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoryView {
    #[serde(flatten)]
    pub story: Story,
    pub done: bool,
    pub blocked: bool,
    /// Dependencies not done yet (or not declared anywhere).
    pub blocked_by: Vec<String>,
    /// Live state: the plan, the latest valid handoff and any claim.
    pub state: StoryState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

#[derive(Debug, Clone, Default)]
pub struct StoryFilter {
    pub sprint: Option<String>,
    pub role: Option<String>,
    pub epic: Option<String>,
    pub status: Option<String>,
    /// A live state (`todo`, `claimed`, `in_progress`, `ready_for_review`, `done`,
    /// `blocked`); applied by the caller, which knows the states.
    pub state: Option<String>,
}

fn check_len(field: &'static str, value: &str) -> Result<(), Error> {
    if value.contains('\0') {
        return Err(Error::invalid(field, "must not contain NUL".into()));
    }
    if value.len() > MAX_ARG_LEN {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_ARG_LEN} characters of text"),
        ));
    }
    Ok(())
}

/// A sprint argument ("5", "05", "Sprint 05", "S05") -> the plan's sprint.
pub(crate) fn resolve_sprint<'p>(plan: &'p Plan, raw: &str) -> Result<&'p Sprint, Error> {
    check_len("sprint", raw)?;
    let known = || {
        plan.sprints
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let id = text::sprint_id(raw).ok_or_else(|| {
        Error::invalid(
            "sprint",
            format!("`{raw}` is not a sprint id (known: {})", known()),
        )
    })?;
    plan.sprint(&id).ok_or_else(|| {
        Error::not_found(
            "sprint",
            format!("no sprint {id} in the roadmap (known: {})", known()),
        )
    })
}

/// A role argument, by slug or label ("devops-sre-engineer", "DevOps/SRE", "devops").
pub(crate) fn resolve_role(plan: &Plan, raw: &str) -> Result<String, Error> {
    check_len("role", raw)?;
    let slug = text::slugify(raw);
    if let Some(r) = plan
        .roles
        .iter()
        .find(|r| r.slug == slug || text::slugify(&r.label) == slug)
    {
        return Ok(r.slug.clone());
    }
    let prefixed: Vec<_> = plan
        .roles
        .iter()
        .filter(|r| r.slug.starts_with(&slug))
        .collect();
    if prefixed.len() == 1 && !slug.is_empty() {
        return Ok(prefixed[0].slug.clone());
    }
    let known = plan
        .roles
        .iter()
        .map(|r| r.slug.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Err(Error::not_found(
        "role",
        format!("no role `{raw}` in the plan (known: {known})"),
    ))
}

/// Checks that an epic id names an epic of the plan (a features file, a sprint's epics, or a
/// story's `Epic:`), so a typo is an error rather than an empty list.
pub fn resolve_epic(plan: &Plan, raw: &str) -> Result<(), Error> {
    check_len("epic", raw)?;
    let want = raw.trim();
    let mut known: Vec<&str> = plan
        .epics
        .iter()
        .map(|e| e.id.as_str())
        .chain(
            plan.sprints
                .iter()
                .flat_map(|s| s.epics.iter().map(String::as_str)),
        )
        .chain(plan.stories.iter().filter_map(|s| s.epic.as_deref()))
        .collect();
    if known.iter().any(|k| k.eq_ignore_ascii_case(want)) {
        return Ok(());
    }
    known.sort_unstable();
    known.dedup();
    const SHOWN: usize = 20;
    let mut list = known
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if known.len() > SHOWN {
        list.push_str(", …");
    }
    if known.is_empty() {
        list = "none".into();
    }
    Err(Error::not_found(
        "epic",
        format!(
            "no epic `{}` in the plan (known: {list})",
            want.chars().take(64).collect::<String>()
        ),
    ))
}

/// Stories matching every given filter, in plan order.
pub(crate) fn list_stories<'p>(plan: &'p Plan, f: &StoryFilter) -> Result<Vec<&'p Story>, Error> {
    let sprint = f
        .sprint
        .as_deref()
        .map(|s| resolve_sprint(plan, s).map(|s| s.id.clone()))
        .transpose()?;
    let role = f
        .role
        .as_deref()
        .map(|r| resolve_role(plan, r))
        .transpose()?;
    if let Some(e) = &f.epic {
        resolve_epic(plan, e)?;
    }
    let status = match f.status.as_deref().map(|s| s.trim().to_lowercase()) {
        None => None,
        Some(s) if s == "todo" => Some(StoryStatus::Todo),
        Some(s) if s == "done" => Some(StoryStatus::Done),
        Some(s) => {
            return Err(Error::invalid(
                "status",
                format!("`{s}` is not a status (todo, done)"),
            ));
        }
    };
    let epic = f.epic.as_deref().map(str::trim);
    Ok(plan
        .stories
        .iter()
        .filter(|s| {
            sprint
                .as_deref()
                .is_none_or(|id| s.sprint.as_deref() == Some(id))
        })
        .filter(|s| role.as_deref().is_none_or(|r| s.role.as_deref() == Some(r)))
        .filter(|s| {
            epic.is_none_or(|e| {
                s.epic
                    .as_deref()
                    .is_some_and(|se| se.eq_ignore_ascii_case(e))
            })
        })
        .filter(|s| status.is_none_or(|st| s.status == st))
        .collect())
}

/// The sprint running on `today` by the calendar, else the first with open stories, else the
/// first sprint.
pub(crate) fn current_sprint(plan: &Plan, today: NaiveDate) -> Option<(&Sprint, Selection)> {
    if let Some(s) = plan
        .sprints
        .iter()
        .find(|s| matches!((s.start, s.end), (Some(a), Some(b)) if a <= today && today <= b))
    {
        return Some((s, Selection::Calendar));
    }
    let open: BTreeSet<&str> = plan
        .stories
        .iter()
        .filter(|s| s.status == StoryStatus::Todo)
        .filter_map(|s| s.sprint.as_deref())
        .collect();
    if let Some(s) = plan.sprints.iter().find(|s| open.contains(s.id.as_str())) {
        return Some((s, Selection::FirstOpen));
    }
    plan.sprints.first().map(|s| (s, Selection::First))
}

pub(crate) fn priorities(
    plan: &Plan,
    q: &PriorityQuery,
    today: NaiveDate,
    states: &States,
) -> Result<Priorities, Error> {
    let (sprint, sprint_selected_by) = match &q.sprint {
        Some(raw) => (resolve_sprint(plan, raw)?, Selection::Requested),
        None => current_sprint(plan, today)
            .ok_or_else(|| Error::not_found("sprint", "the plan has no roadmap sprints".into()))?,
    };
    let role = q
        .role
        .as_deref()
        .map(|r| resolve_role(plan, r))
        .transpose()?;
    let (week, week_selected_by) = match q.week {
        Some(w) if (1..=WEEKS).contains(&w) => (w, Selection::Requested),
        Some(w) => {
            return Err(Error::invalid(
                "week",
                format!("{w} is not a week of a sprint (1 or 2)"),
            ));
        }
        None => match sprint.start {
            Some(start) if today >= start && sprint.end.is_none_or(|e| today <= e) => {
                let day = (today - start).num_days();
                (if day < 7 { 1 } else { 2 }, Selection::Calendar)
            }
            _ => (0, Selection::Default),
        },
    };
    // No week asked and no calendar to choose one: both weeks.
    let weeks: Vec<u8> = if week == 0 {
        (1..=WEEKS).collect()
    } else {
        vec![week]
    };
    let week = weeks[0];
    let wants = |r: &str| role.as_deref().is_none_or(|want| want == r);

    let focus = sprint
        .roles
        .iter()
        .filter(|(slug, _)| wants(slug))
        .map(|(slug, r)| Focus {
            role: slug.clone(),
            label: r.label.clone(),
            mission_focus: r.mission_focus.clone(),
            citation: r.citation.clone(),
        })
        .collect();

    let mut week_priorities = Vec::new();
    for &week in &weeks {
        week_priorities.extend(week_of(plan, sprint, week, &wants));
    }

    let checklists = plan.gate_checklists(sprint);
    let gate = sprint.gate.clone().map(|name| GateSummary {
        name,
        items: checklists.iter().map(|c| c.items.len()).sum(),
        checked: checklists
            .iter()
            .map(|c| c.items.iter().filter(|i| i.checked).count())
            .sum(),
        checklists: checklists.iter().map(|c| c.citation.clone()).collect(),
    });

    let members: Vec<&Story> = plan
        .stories
        .iter()
        .filter(|s| s.sprint.as_deref() == Some(sprint.id.as_str()))
        .filter(|s| role.as_deref().is_none_or(|r| s.role.as_deref() == Some(r)))
        .collect();
    let stories = dependency_order(plan, &members, states);
    let counts = Counts {
        stories: stories.len(),
        done: stories.iter().filter(|s| s.done).count(),
        blocked: stories.iter().filter(|s| s.blocked).count(),
    };
    Ok(Priorities {
        sprint: sprint.id.clone(),
        sprint_selected_by,
        theme: sprint.theme.clone(),
        epics: sprint.epics.clone(),
        start: sprint.start,
        end: sprint.end,
        role,
        week,
        weeks,
        week_selected_by,
        focus,
        week_priorities,
        gate,
        checklist: plan.checklist.clone(),
        stories,
        counts,
        citation: sprint.citation.clone(),
    })
}

/// One week's priorities of a sprint: the roadmap's week cells, then the role plans' week
/// sections, for the roles `wants`.
fn week_of(
    plan: &Plan,
    sprint: &Sprint,
    week: u8,
    wants: &dyn Fn(&str) -> bool,
) -> Vec<WeekPriority> {
    let mut out = Vec::new();
    for (slug, r) in sprint.roles.iter().filter(|(slug, _)| wants(slug)) {
        let text = if week == 1 { &r.week1 } else { &r.week2 };
        if let (Some(text), Some(citation)) = (text, &r.citation) {
            out.push(WeekPriority {
                role: slug.clone(),
                week,
                text: text.clone(),
                citation: citation.clone(),
            });
        }
    }
    for section in plan
        .role_sections_of(&sprint.id)
        .into_iter()
        .filter(|s| s.week == Some(week) && wants(&s.role))
    {
        let body = plan.excerpt(&section.citation).unwrap_or("");
        for (offset, lines, text) in week_items(body) {
            let line_start = section.citation.line_start + offset;
            out.push(WeekPriority {
                role: section.role.clone(),
                week,
                text,
                citation: Citation {
                    line_start,
                    line_end: line_start + lines - 1,
                    ..section.citation.clone()
                },
            });
        }
    }
    out
}

/// The priorities of a week section's body: each top-level list item (with what is nested
/// or continued under it) is one, and so is each paragraph; heading lines are dropped.
/// Each comes as (its first line's offset in `body`, how many lines it spans, its text
/// without the item's marker).
fn week_items(body: &str) -> Vec<(u32, u32, String)> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let marker_len = |l: &str| {
        let t = l.trim_start();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let after = if t.starts_with(['-', '*', '+']) {
            1
        } else if digits > 0 && t[digits..].starts_with(['.', ')']) {
            digits + 1
        } else {
            return None;
        };
        (t.len() == after || t[after..].starts_with([' ', '\t'])).then_some(after)
    };
    let top = body
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && marker_len(l).is_some())
        .map(indent)
        .min()
        .unwrap_or(0);
    // (offset, lines, text lines)
    let mut items: Vec<(u32, u32, Vec<String>)> = Vec::new();
    let mut after_blank = true;
    for (i, line) in body.lines().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            after_blank = true;
            continue;
        }
        let starts_item = marker_len(line).is_some() && indent(line) <= top;
        let continues = !starts_item && (indent(line) > top || !after_blank);
        match items.last_mut() {
            Some((first, lines, text)) if continues => {
                *lines = i - *first + 1;
                text.push(t.to_string());
            }
            _ => {
                let first_text = match marker_len(line).filter(|_| starts_item) {
                    Some(m) => line.trim_start()[m..].trim().to_string(),
                    None => t.to_string(),
                };
                items.push((i, 1, vec![first_text]));
            }
        }
        after_blank = false;
    }
    items
        .into_iter()
        .map(|(offset, lines, text)| (offset, lines, text.join("\n")))
        .filter(|(_, _, text)| !text.is_empty())
        .collect()
}

/// Topological order (a story after what it depends on), ties in plan order; stories in a
/// cycle come last, in plan order. A story is blocked while any dependency is not done (in
/// the plan or by its latest valid handoff), or while its own latest handoff says blocked.
fn dependency_order(plan: &Plan, members: &[&Story], states: &States) -> Vec<StoryView> {
    let done = |id: &str| is_done(plan, states, id);
    let pos: HashMap<&str, usize> = members
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut indegree = vec![0usize; members.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); members.len()];
    for (i, s) in members.iter().enumerate() {
        for d in &s.depends_on {
            if let Some(&j) = pos.get(d.as_str())
                && j != i
            {
                indegree[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut ready: BTreeMap<usize, ()> = indegree
        .iter()
        .enumerate()
        .filter(|(_, d)| **d == 0)
        .map(|(i, _)| (i, ()))
        .collect();
    let mut order = Vec::with_capacity(members.len());
    let mut placed = vec![false; members.len()];
    while let Some((i, ())) = ready.pop_first() {
        order.push(i);
        placed[i] = true;
        for &k in &dependents[i] {
            indegree[k] -= 1;
            if indegree[k] == 0 {
                ready.insert(k, ());
            }
        }
    }
    order.extend((0..members.len()).filter(|i| !placed[*i]));
    order
        .into_iter()
        .map(|i| {
            let s = members[i];
            let blocked_by: Vec<String> =
                s.depends_on.iter().filter(|d| !done(d)).cloned().collect();
            let state = state_of(states, s);
            StoryView {
                story: s.clone(),
                done: state == StoryState::Done,
                blocked: state == StoryState::Blocked
                    || (state != StoryState::Done && !blocked_by.is_empty()),
                blocked_by,
                state,
                claim: states.get(&s.id).and_then(|l| l.claim.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{MAX_ARG_LEN, check_len, week_items};

    #[test]
    fn a_nul_is_named_as_such_not_as_too_long() {
        let nul = check_len("sprint", "0\u{0}5").unwrap_err().to_string();
        assert_eq!(nul, "sprint: must not contain NUL");
        let long = check_len("role", &"r".repeat(MAX_ARG_LEN + 1))
            .unwrap_err()
            .to_string();
        assert!(long.contains("at most"), "{long}");
    }

    #[test]
    fn week_items_are_top_level_items_and_paragraphs() {
        let body = "#### Week 1\n- first\n  - nested under first\n- second\n  continued\n\n1. third\n\nA paragraph\non two lines.\n";
        assert_eq!(
            week_items(body),
            vec![
                (1, 2, "first\n- nested under first".to_string()),
                (3, 2, "second\ncontinued".to_string()),
                (6, 1, "third".to_string()),
                (8, 2, "A paragraph\non two lines.".to_string()),
            ]
        );
        assert_eq!(week_items("### Week 2\n\n"), vec![]);
        // Indented lists: the least indented items are the top level.
        assert_eq!(
            week_items("  * a\n    * b\n  * c"),
            vec![(0, 2, "a\n* b".to_string()), (2, 1, "c".to_string())]
        );
    }
}
