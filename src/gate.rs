//! Gate evidence checks (docs/gates.md): per checklist item, checked or not and where
//! each evidence reference points (JUnit reports and commits verified); the sprint's stories
//! (done, pack, handoff); timing from the sprint calendar ("confirm gate evidence by day 3");
//! a verdict with reasons naming file:line.

use std::collections::HashMap;
use std::path::Path;

use chrono::{Days, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::evidence::{self, EvidenceState};
use crate::handoff::verify::{self, Outcome, Verifier};
use crate::model::{Citation, Claim, GateItem, Plan, Sprint, States, StoryState, state_of};

/// The checklist day by which gate evidence is due when an item names none.
const DEFAULT_DUE_DAY: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    AtRisk,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PackState {
    /// Written and every cited source unchanged.
    Fresh,
    /// Written, but a source it cites changed since.
    Stale,
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandoffState {
    /// The latest recorded handoff still validates against the plan.
    Valid,
    /// The latest recorded handoff no longer validates (the plan changed under it).
    Invalid,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EvidenceCheck {
    #[serde(rename = "ref")]
    pub reference: String,
    /// The link text, when the reference was written as a Markdown link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub state: EvidenceState,
    /// For a checked JUnit report or commit (`verified`, `failed`, `unchecked`): what the
    /// check found, e.g. "junit report `reports/unit.xml`: 2 of 40 tests failed"; for a
    /// FIFO, socket or device (`failed`, never opened): "`x.xml` is not a regular file: a FIFO".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ItemReport {
    pub text: String,
    pub checked: bool,
    pub evidence: Vec<EvidenceCheck>,
    pub owner: Option<String>,
    /// As written ("day 3"), or the default day when the item names none.
    pub due: String,
    /// The due day on the calendar, when the sprint's start is known.
    pub due_date: Option<NaiveDate>,
    pub overdue: bool,
    pub citation: Citation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoryReport {
    pub id: String,
    pub title: String,
    /// Done in the plan or by its latest valid handoff.
    pub done: bool,
    pub state: StoryState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    pub pack: PackState,
    pub handoff: HandoffState,
    /// The latest handoff's id, when there is one.
    pub handoff_id: Option<String>,
    pub citation: Citation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GateReport {
    pub sprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    pub verdict: Verdict,
    pub today: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
    /// Day of the sprint today (1 = its first day), when its start is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<i64>,
    pub checklists: Vec<Citation>,
    pub items: Vec<ItemReport>,
    pub stories: Vec<StoryReport>,
    /// Why the verdict is not `pass`, each naming file:line.
    pub reasons: Vec<String>,
}

/// What the gate check needs besides the plan: evidence is looked up under `root`; packs
/// and handoffs are looked up by story id (absent means missing / none).
pub(crate) struct GateInput<'a> {
    pub plan: &'a Plan,
    pub root: &'a Path,
    /// Checks JUnit reports and commits cited as evidence.
    pub verify: &'a Verifier<'a>,
    pub today: NaiveDate,
    pub packs: &'a HashMap<String, PackState>,
    pub handoffs: &'a HashMap<String, (HandoffState, String)>,
    /// Live story states (a story done by its latest valid handoff counts as done).
    pub states: &'a States,
}

/// "day 3" -> start + 2 days; "2026-11-04" -> that date.
fn due_date(due: &str, start: Option<NaiveDate>) -> Option<NaiveDate> {
    let d = due.trim().to_lowercase();
    if let Some(n) = d
        .strip_prefix("day")
        .map(str::trim)
        .and_then(|n| n.parse::<u64>().ok())
    {
        return start?.checked_add_days(Days::new(n.saturating_sub(1)));
    }
    crate::plan::text::parse_date(&d)
}

/// Where one reference points and, when it can be checked, what the check found: a commit
/// (`commit:<id>`, or a bare 7-64 hex-digit id that is not a path under the root) must be in
/// the plan repository's history; an `.xml` file with a JUnit root must show tests run and
/// none failed.
fn evidence_check(reference: &str, input: &GateInput<'_>) -> EvidenceCheck {
    let evidence::Lookup { state, detail } = evidence::lookup(input.root, reference);
    let checked = |outcome: Outcome| {
        let (state, detail) = match outcome {
            Outcome::Passed(d) => (EvidenceState::Verified, d),
            Outcome::Failed(d) => (EvidenceState::Failed, d),
            Outcome::Unchecked(d) => (EvidenceState::Unchecked, d),
        };
        EvidenceCheck {
            reference: reference.to_string(),
            label: None,
            state,
            detail: Some(detail),
        }
    };
    let prefixed = verify::commit_reference(reference, false).is_some();
    if prefixed
        || (state == EvidenceState::Missing && verify::commit_reference(reference, true).is_some())
    {
        return checked(input.verify.commit(reference));
    }
    if state == EvidenceState::Exists
        && verify::is_xml(reference)
        && let Some(outcome) = input.verify.junit(reference, false)
    {
        return checked(outcome);
    }
    // A FIFO, socket or device is `failed`, with what it is as the detail.
    EvidenceCheck {
        reference: reference.to_string(),
        label: None,
        state,
        detail,
    }
}

fn item_report(item: &GateItem, input: &GateInput<'_>, start: Option<NaiveDate>) -> ItemReport {
    let due = item
        .due
        .clone()
        .unwrap_or_else(|| format!("day {DEFAULT_DUE_DAY}"));
    let due_date = due_date(&due, start);
    ItemReport {
        text: item.text.clone(),
        checked: item.checked,
        evidence: item
            .evidence
            .iter()
            .map(|r| EvidenceCheck {
                label: item.labels.get(r).cloned(),
                ..evidence_check(r, input)
            })
            .collect(),
        owner: item.owner.clone(),
        overdue: !item.checked && due_date.is_some_and(|d| input.today > d),
        due,
        due_date,
        citation: item.citation.clone(),
    }
}

fn at(c: &Citation) -> String {
    format!("{}:{}", c.path, c.line_start)
}

pub(crate) fn check(sprint: &Sprint, input: &GateInput<'_>) -> GateReport {
    let plan = input.plan;
    let checklists = plan.gate_checklists(sprint);
    let items: Vec<ItemReport> = checklists
        .iter()
        .flat_map(|c| c.items.iter())
        .map(|i| item_report(i, input, sprint.start))
        .collect();
    let ended = sprint.end.is_some_and(|e| input.today > e);
    let stories: Vec<StoryReport> = plan
        .stories
        .iter()
        .filter(|s| s.sprint.as_deref() == Some(sprint.id.as_str()))
        .map(|s| {
            let (handoff, handoff_id) = match input.handoffs.get(&s.id) {
                Some((state, id)) => (*state, Some(id.clone())),
                None => (HandoffState::None, None),
            };
            let state = state_of(input.states, s);
            StoryReport {
                id: s.id.clone(),
                title: s.title.clone(),
                done: state == StoryState::Done,
                state,
                claim: input.states.get(&s.id).and_then(|l| l.claim.clone()),
                pack: input
                    .packs
                    .get(&s.id)
                    .copied()
                    .unwrap_or(PackState::Missing),
                handoff,
                handoff_id,
                citation: s.citation.clone(),
            }
        })
        .collect();

    let mut fail: Vec<String> = Vec::new();
    let mut risk: Vec<String> = Vec::new();
    if sprint.gate.is_none() {
        risk.push(format!(
            "{}: sprint {} names no gate in the roadmap",
            at(&sprint.citation),
            sprint.id
        ));
    }
    if checklists.is_empty() {
        fail.push(format!(
            "{}: {} has no evidence checklist",
            at(&sprint.citation),
            sprint.gate.as_deref().unwrap_or("the sprint's gate")
        ));
    } else if items.is_empty() {
        fail.push(format!(
            "{}: the gate checklist has no items",
            at(&checklists[0].citation)
        ));
    }
    for item in &items {
        let where_ = at(&item.citation);
        if item.checked {
            for e in &item.evidence {
                match e.state {
                    EvidenceState::Missing => fail.push(format!(
                        "{where_}: \"{}\" is checked but its evidence {} does not exist",
                        item.text, e.reference
                    )),
                    EvidenceState::OutsideRoot => fail.push(format!(
                        "{where_}: \"{}\" cites {} outside the plan root",
                        item.text, e.reference
                    )),
                    EvidenceState::Failed => fail.push(format!(
                        "{where_}: \"{}\" is checked but its evidence fails: {}",
                        item.text,
                        e.detail.as_deref().unwrap_or(&e.reference)
                    )),
                    EvidenceState::Exists
                    | EvidenceState::External
                    | EvidenceState::Verified
                    | EvidenceState::Unchecked => {}
                }
            }
            if item.evidence.is_empty() {
                risk.push(format!(
                    "{where_}: \"{}\" is checked without evidence",
                    item.text
                ));
            }
        } else if item.overdue {
            fail.push(format!(
                "{where_}: \"{}\" is unchecked past its due {} ({})",
                item.text,
                item.due,
                item.due_date.map(|d| d.to_string()).unwrap_or_default()
            ));
        } else {
            let when = match item.due_date {
                Some(d) => format!("due {} ({d})", item.due),
                None => format!("due {}", item.due),
            };
            risk.push(format!("{where_}: \"{}\" is open, {when}", item.text));
        }
    }
    for s in &stories {
        let where_ = at(&s.citation);
        let list = if ended { &mut fail } else { &mut risk };
        if !s.done {
            match s.state {
                StoryState::Todo => list.push(format!("{where_}: {} is not done", s.id)),
                other => list.push(format!(
                    "{where_}: {} is not done ({})",
                    s.id,
                    other.as_str().replace('_', " ")
                )),
            }
        }
        match s.handoff {
            HandoffState::Valid => {}
            HandoffState::Invalid => list.push(format!(
                "{where_}: {}'s latest handoff ({}) no longer validates against the plan",
                s.id,
                s.handoff_id.as_deref().unwrap_or("?")
            )),
            HandoffState::None => list.push(format!("{where_}: {} has no handoff recorded", s.id)),
        }
    }
    let verdict = if !fail.is_empty() {
        Verdict::Fail
    } else if !risk.is_empty() {
        Verdict::AtRisk
    } else {
        Verdict::Pass
    };
    let mut reasons = fail;
    reasons.extend(risk);
    GateReport {
        sprint: sprint.id.clone(),
        gate: sprint.gate.clone(),
        verdict,
        today: input.today,
        start: sprint.start,
        end: sprint.end,
        day: sprint.start.map(|s| (input.today - s).num_days() + 1),
        checklists: checklists.iter().map(|c| c.citation.clone()).collect(),
        items,
        stories,
        reasons,
    }
}
