//! The five plan styles of tests/fixtures/plans (one file, one file per role, tables, stories
//! as headings, mixed labels), read through the library and held to the values
//! tests/fixtures/plans/EXPECTED.md gives: sprints, features and epics, roles' focus and week
//! priorities, stories, the gate with its items, reasons and verdict, and a clean lint.
//!
//! The expected rows are written as in EXPECTED.md's tables, one `|`-separated row per line
//! (`–` is an empty cell). Each plan's test collects every mismatch before it fails, so one
//! run lists all of them (each with the line of this file that checks it), not just the first.

use std::collections::BTreeSet;
use std::fmt::{Debug, Display};
use std::panic::Location;
use std::path::PathBuf;

use chrono::NaiveDate;
use storypack::app::App;
use storypack::evidence::EvidenceState;
use storypack::gate::{GateReport, HandoffState, Verdict};
use storypack::model::{Severity, StoryStatus};
use storypack::priorities::{Priorities, PriorityQuery, StoryFilter};

use super::util::fixture;

use super::packs::copy_dir;

const PLANS: [&str; 5] = [
    "single-file",
    "per-role",
    "tables",
    "heading-stories",
    "mixed-labels",
];

// ---- Helpers ---------------------------------------------------------------------------

/// Mismatches found so far; `finish` fails with all of them.
#[derive(Default)]
struct Checks {
    failed: Vec<String>,
}

impl Checks {
    #[track_caller]
    fn eq<T: PartialEq + Debug>(&mut self, what: impl Display, actual: T, expected: T) {
        if actual != expected {
            let line = Location::caller().line();
            self.failed.push(format!(
                "[styles.rs:{line}] {what}\n    expected: {expected:?}\n    actual:   {actual:?}"
            ));
        }
    }

    #[track_caller]
    fn fail(&mut self, what: impl Display) {
        let line = Location::caller().line();
        self.failed.push(format!("[styles.rs:{line}] {what}"));
    }

    fn finish(self, plan: &str) {
        assert!(
            self.failed.is_empty(),
            "{plan}: {} check(s) failed\n\n{}\n",
            self.failed.len(),
            self.failed.join("\n\n")
        );
    }
}

fn plan_dir(name: &str) -> PathBuf {
    fixture("plans").join(name)
}

fn open(name: &str) -> App {
    App::open(&plan_dir(name)).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The cells of a `|`-separated row, trimmed.
fn cells(row: &str) -> Vec<&str> {
    row.split('|').map(str::trim).collect()
}

/// A comma-separated list cell; `–` is empty.
fn list(cell: &str) -> Vec<&str> {
    if cell == "–" {
        Vec::new()
    } else {
        cell.split(", ").collect()
    }
}

/// `path:line` -> (path, line).
fn place(cell: &str) -> (&str, u32) {
    let (path, line) = cell.rsplit_once(':').unwrap();
    (path, line.parse().unwrap())
}

fn yes(cell: &str) -> bool {
    match cell {
        "yes" | "done" => true,
        "no" | "todo" => false,
        other => panic!("not yes/no: {other}"),
    }
}

/// One line of a fixture file as written, without its list marker.
fn bullet(plan: &str, path: &str, line: u32) -> String {
    let text = std::fs::read_to_string(plan_dir(plan).join(path)).unwrap();
    let l = text.lines().nth(line as usize - 1).unwrap().trim();
    l.strip_prefix("- ").unwrap_or(l).to_string()
}

/// Rows: `id | theme | epics | start | end | gate (none) | path:line of the roadmap row`.
fn check_sprints(c: &mut Checks, app: &App, rows: &[&str]) {
    let list_ = app.sprints().sprints;
    c.eq(
        "sprint ids",
        list_.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        rows.iter().map(|r| cells(r)[0]).collect(),
    );
    for row in rows {
        let w = cells(row);
        let id = w[0];
        let Some(s) = list_.iter().find(|s| s.id == id) else {
            continue;
        };
        let gate = (w[5] != "none").then_some(w[5]);
        c.eq(format!("sprint {id} theme"), s.theme.as_deref(), Some(w[1]));
        c.eq(format!("sprint {id} epics"), strs(&s.epics), list(w[2]));
        c.eq(format!("sprint {id} start"), s.start, Some(day(w[3])));
        c.eq(format!("sprint {id} end"), s.end, Some(day(w[4])));
        c.eq(format!("sprint {id} gate"), s.gate.as_deref(), gate);
        c.eq(
            format!("sprint {id} roadmap row"),
            (s.citation.path.as_str(), s.citation.line_start),
            place(w[6]),
        );
    }
}

/// Features `id | title | epics` and epics `id | feature | title`, compared sorted by id.
fn check_features(c: &mut Checks, app: &App, features: &[&str], epics: &[&str]) {
    let plan = app.plan();
    let mut got: Vec<(&str, &str, Vec<&str>)> = plan
        .features
        .iter()
        .map(|f| (f.id.as_str(), f.title.as_str(), strs(&f.epics)))
        .collect();
    got.sort();
    let mut want: Vec<(&str, &str, Vec<&str>)> = features
        .iter()
        .map(|r| {
            let w = cells(r);
            (w[0], w[1], list(w[2]))
        })
        .collect();
    want.sort();
    c.eq("features (id, title, epics)", got, want);
    let mut got: Vec<(&str, &str, &str)> = plan
        .epics
        .iter()
        .map(|e| (e.id.as_str(), e.feature.as_str(), e.title.as_str()))
        .collect();
    got.sort();
    let mut want: Vec<(&str, &str, &str)> = epics
        .iter()
        .map(|r| {
            let w = cells(r);
            (w[0], w[1], w[2])
        })
        .collect();
    want.sort();
    c.eq("epics (id, feature, title)", got, want);
}

/// The plan's roles as (slug, label), sorted; with no labels given only slugs are compared.
fn check_roles(c: &mut Checks, app: &App, want: &[(&str, Option<&str>)]) {
    let mut got: Vec<(&str, Option<&str>)> = app
        .plan()
        .roles
        .iter()
        .map(|r| (r.slug.as_str(), Some(r.label.as_str())))
        .collect();
    got.sort();
    let mut want = want.to_vec();
    want.sort();
    if want.iter().all(|w| w.1.is_none()) {
        got.iter_mut().for_each(|g| g.1 = None);
    }
    c.eq("roles (slug, label)", got, want);
}

/// A sprint's priorities for one week, asked explicitly (so the calendar picks nothing).
fn priorities(
    c: &mut Checks,
    app: &App,
    sprint: &str,
    role: Option<&str>,
    week: u8,
    today: NaiveDate,
) -> Option<Priorities> {
    let q = PriorityQuery {
        sprint: Some(sprint.to_string()),
        role: role.map(str::to_string),
        week: Some(week),
    };
    match app.priorities(&q, today) {
        Ok(p) => {
            c.eq(
                format!("sprint {sprint} week {week}: weeks shown"),
                p.weeks.clone(),
                vec![week],
            );
            Some(p)
        }
        Err(e) => {
            c.fail(format!(
                "priorities of sprint {sprint}, role {role:?}, week {week}: {e}"
            ));
            None
        }
    }
}

/// Roles whose focus and week priorities are roadmap cells.
/// Rows: `sprint | role | mission focus | week 1 priority | week 2 priority`.
fn check_cell_roles(c: &mut Checks, app: &App, rows: &[&str], today: NaiveDate) {
    let rows: Vec<Vec<&str>> = rows.iter().map(|r| cells(r)).collect();
    let sprints: BTreeSet<&str> = rows.iter().map(|r| r[0]).collect();
    for sprint in sprints {
        let want: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == sprint).collect();
        for week in [1u8, 2] {
            let Some(p) = priorities(c, app, sprint, None, week, today) else {
                continue;
            };
            if week == 1 {
                let mut focus: Vec<(&str, Option<&str>)> = p
                    .focus
                    .iter()
                    .map(|f| (f.role.as_str(), f.mission_focus.as_deref()))
                    .collect();
                focus.sort();
                let mut expected: Vec<(&str, Option<&str>)> =
                    want.iter().map(|r| (r[1], Some(r[2]))).collect();
                expected.sort();
                c.eq(
                    format!("sprint {sprint}: (role, mission focus)"),
                    focus,
                    expected,
                );
            }
            // One cell is one priority: exactly one per role and week, the cell's text.
            let mut got: Vec<(&str, u8, &str)> = p
                .week_priorities
                .iter()
                .map(|w| (w.role.as_str(), w.week, w.text.as_str()))
                .collect();
            got.sort();
            let mut expected: Vec<(&str, u8, &str)> = want
                .iter()
                .map(|r| (r[1], week, r[2 + week as usize]))
                .collect();
            expected.sort();
            c.eq(
                format!("sprint {sprint} week {week}: (role, week, priority)"),
                got,
                expected,
            );
        }
    }
}

/// Rows: `sprint | id | title | epic | role (? = not asserted) | done/todo | deps | AC count |
/// path:line`.
fn check_stories(c: &mut Checks, app: &App, rows: &[&str]) {
    let all = app.stories(&StoryFilter::default()).unwrap();
    let all: Vec<&storypack::model::Story> = all.stories.iter().map(|e| &e.story).collect();
    c.eq("story count", all.len(), rows.len());
    c.eq(
        "story ids in plan order",
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        rows.iter().map(|r| cells(r)[1]).collect(),
    );
    for row in rows {
        let w = cells(row);
        let id = w[1];
        let Some(s) = all.iter().find(|s| s.id == id) else {
            c.fail(format!("story {id} is not read"));
            continue;
        };
        c.eq(format!("{id} sprint"), s.sprint.as_deref(), Some(w[0]));
        c.eq(format!("{id} title"), s.title.as_str(), w[2]);
        c.eq(format!("{id} epic"), s.epic.as_deref(), Some(w[3]));
        if w[4] != "?" {
            c.eq(format!("{id} role"), s.role.as_deref(), Some(w[4]));
        }
        let status = if yes(w[5]) {
            StoryStatus::Done
        } else {
            StoryStatus::Todo
        };
        c.eq(format!("{id} status"), s.status, status);
        c.eq(format!("{id} depends on"), strs(&s.depends_on), list(w[6]));
        c.eq(
            format!("{id} acceptance criteria count ({:?})", s.acceptance),
            s.acceptance.len(),
            w[7].parse::<usize>().unwrap(),
        );
        c.eq(
            format!("{id} declared at"),
            (s.citation.path.as_str(), s.citation.line_start),
            place(w[8]),
        );
    }
}

fn check_acceptance(c: &mut Checks, app: &App, id: &str, want: &[&str]) {
    match app.plan().story(id) {
        Some(s) => c.eq(
            format!("{id} acceptance criteria"),
            strs(&s.acceptance),
            want.to_vec(),
        ),
        None => c.fail(format!("story {id} is not read")),
    }
}

/// Checks the gate on a temporary copy of the plan, so nothing can be written to the fixture.
fn gate(c: &mut Checks, name: &str, sprint: &str, today: &str) -> Option<GateReport> {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&plan_dir(name), dir.path());
    let app = App::open(dir.path()).unwrap();
    match app.check_gate(sprint, day(today)) {
        Ok(r) => Some(r),
        Err(e) => {
            c.fail(format!("gate of sprint {sprint} on {today}: {e}"));
            None
        }
    }
}

fn state(name: &str) -> EvidenceState {
    match name {
        "exists" => EvidenceState::Exists,
        "missing" => EvidenceState::Missing,
        "external" => EvidenceState::External,
        "outside_root" => EvidenceState::OutsideRoot,
        other => panic!("not an evidence state: {other}"),
    }
}

/// Rows: `path:line | text | checked | evidence ref (state) | owner | due as written |
/// due date | overdue`.
fn check_items(c: &mut Checks, r: &GateReport, rows: &[&str]) {
    let rows: Vec<Vec<&str>> = rows.iter().map(|r| cells(r)).collect();
    c.eq(
        "gate items (path, line, text)",
        r.items
            .iter()
            .map(|i| {
                (
                    i.citation.path.as_str(),
                    i.citation.line_start,
                    i.text.as_str(),
                )
            })
            .collect::<Vec<_>>(),
        rows.iter()
            .map(|w| {
                let (path, line) = place(w[0]);
                (path, line, w[1])
            })
            .collect(),
    );
    for w in &rows {
        let (path, line) = place(w[0]);
        let Some(i) = r
            .items
            .iter()
            .find(|i| i.citation.path == path && i.citation.line_start == line)
        else {
            continue;
        };
        let at = format!("item {}", w[0]);
        let evidence: Vec<(&str, EvidenceState)> = list(w[3])
            .into_iter()
            .map(|e| {
                let (reference, st) = e.strip_suffix(')').unwrap().rsplit_once(" (").unwrap();
                (reference, state(st))
            })
            .collect();
        c.eq(format!("{at} text"), i.text.as_str(), w[1]);
        c.eq(format!("{at} checked"), i.checked, yes(w[2]));
        c.eq(
            format!("{at} evidence (ref, state)"),
            i.evidence
                .iter()
                .map(|e| (e.reference.as_str(), e.state))
                .collect::<Vec<_>>(),
            evidence,
        );
        c.eq(format!("{at} owner"), i.owner.as_deref(), Some(w[4]));
        c.eq(format!("{at} due as written"), i.due.as_str(), w[5]);
        c.eq(format!("{at} due date"), i.due_date, Some(day(w[6])));
        c.eq(format!("{at} overdue"), i.overdue, yes(w[7]));
    }
}

/// The gate's name and checklist files.
fn check_gate_head(c: &mut Checks, r: &GateReport, gate: &str, checklists: &[&str]) {
    c.eq("gate name", r.gate.as_deref(), Some(gate));
    c.eq(
        "gate checklists (paths)",
        r.checklists
            .iter()
            .map(|x| x.path.as_str())
            .collect::<Vec<_>>(),
        checklists.to_vec(),
    );
}

/// The gated sprint's stories as (id, done); none has a handoff.
fn check_gate_stories(c: &mut Checks, r: &GateReport, want: &[(&str, bool)]) {
    c.eq(
        "gate stories (id, done)",
        r.stories
            .iter()
            .map(|s| (s.id.as_str(), s.done))
            .collect::<Vec<_>>(),
        want.to_vec(),
    );
    for s in &r.stories {
        c.eq(
            format!("gate story {} handoff", s.id),
            (s.handoff, s.handoff_id.as_deref()),
            (HandoffState::None, None),
        );
    }
}

fn check_verdict(
    c: &mut Checks,
    r: &GateReport,
    when: &str,
    verdict: Verdict,
    day: i64,
    reasons: &[String],
) {
    c.eq(format!("{when}: verdict"), r.verdict, verdict);
    c.eq(format!("{when}: day of the sprint"), r.day, Some(day));
    c.eq(
        format!("{when}: reasons"),
        r.reasons.clone(),
        reasons.to_vec(),
    );
}

// The wording of reasons, as src/gate.rs writes them (docs/gates.md).
fn open_item(at: &str, text: &str, due: &str, date: &str) -> String {
    format!("{at}: \"{text}\" is open, due {due} ({date})")
}
fn past_due(at: &str, text: &str, due: &str, date: &str) -> String {
    format!("{at}: \"{text}\" is unchecked past its due {due} ({date})")
}
fn missing(at: &str, text: &str, reference: &str) -> String {
    format!("{at}: \"{text}\" is checked but its evidence {reference} does not exist")
}
fn not_done(at: &str, id: &str) -> String {
    format!("{at}: {id} is not done")
}
fn no_handoff(at: &str, id: &str) -> String {
    format!("{at}: {id} has no handoff recorded")
}

// ---- 1. single-file: Ledgerly ----------------------------------------------------------

#[test]
fn single_file_plan_ledgerly() {
    let name = "single-file";
    let app = open(name);
    let mut c = Checks::default();

    // Dates are written `Sep 7, 2026`; the gate cell `—` is no gate.
    check_sprints(
        &mut c,
        &app,
        &[
            "01 | Invoice drafting | F1-E1, F1-E2 | 2026-09-07 | 2026-09-18 | none | plan.md:16",
            "02 | Getting paid     | F2-E1, F2-E2 | 2026-09-21 | 2026-10-02 | none | plan.md:17",
            "03 | Launch hardening | F1-E3, F2-E3 | 2026-10-05 | 2026-10-16 | Launch readiness gate | plan.md:18",
        ],
    );

    check_features(
        &mut c,
        &app,
        &[
            "F1 | Invoicing    | F1-E1, F1-E2, F1-E3",
            "F2 | Getting paid | F2-E1, F2-E2, F2-E3",
        ],
        &[
            "F1-E1 | F1 | Invoice drafts",
            "F1-E2 | F1 | PDF rendering and email delivery",
            "F1-E3 | F1 | Invoice history and export",
            "F2-E1 | F2 | Pay links with card payments",
            "F2-E2 | F2 | Automatic payment reminders",
            "F2-E3 | F2 | Payout reconciliation",
        ],
    );

    check_roles(
        &mut c,
        &app,
        &[("backend", Some("Backend")), ("frontend", Some("Frontend"))],
    );
    check_cell_roles(
        &mut c,
        &app,
        &[
            "01 | backend  | A data model we will not regret after launch. | Invoice and client tables. | PDF rendering from a draft.",
            "01 | frontend | An editor that feels faster than a spreadsheet. | Editor layout and line items. | Tax handling and autosave.",
            "02 | backend  | Take card payments safely. | Pay link checkout. | Reminder emails.",
            "02 | frontend | Show clients and us what has been paid. | Paid badge and payment timeline. | Polish the invoice page on mobile.",
            "03 | backend  | Money in matches money out. | Payout matching. | Alerts on the pay link error budget.",
            "03 | frontend | Find any invoice in seconds. | Invoice history with filters. | CSV export and the accessibility fixes.",
        ],
        day("2026-09-07"),
    );

    // `Depends on: INV-3 (the pay link is printed on the PDF)` is just INV-3.
    check_stories(
        &mut c,
        &app,
        &[
            "01 | INV-1 | Invoice and client tables with migrations | F1-E1 | backend | done | – | 2 | plan.md:50",
            "01 | INV-2 | Invoice editor with line items and tax | F1-E1 | frontend | done | INV-1 | 3 | plan.md:56",
            "01 | INV-3 | Render the invoice PDF from a draft | F1-E2 | backend | done | INV-1 | 2 | plan.md:64",
            "02 | INV-4 | Pay link checkout with card payments | F2-E1 | backend | done | INV-3 | 2 | plan.md:74",
            "02 | INV-5 | Paid badge and payment timeline on the invoice page | F2-E1 | frontend | done | INV-2, INV-4 | 2 | plan.md:81",
            "02 | INV-6 | Reminder emails 3 and 10 days after the due date | F2-E2 | backend | todo | INV-4 | 2 | plan.md:88",
            "03 | INV-7 | Invoice history with filters and CSV export | F1-E3 | frontend | todo | INV-5 | 3 | plan.md:98",
            "03 | INV-8 | Match provider payouts to invoices | F2-E3 | backend | done | INV-4 | 2 | plan.md:106",
            "03 | INV-9 | Alerts on the pay link error budget | F2-E3 | backend | todo | INV-8 | 2 | plan.md:113",
        ],
    );

    // Gate of sprint 03 on 2026-10-09 (day 5): one checklist, the section at plan.md:121.
    if let Some(r) = gate(&mut c, name, "3", "2026-10-09") {
        check_gate_head(&mut c, &r, "Launch readiness gate", &["plan.md"]);
        c.eq(
            "gate checklist heading line",
            r.checklists
                .iter()
                .map(|x| x.line_start)
                .collect::<Vec<_>>(),
            vec![121],
        );
        check_items(
            &mut c,
            &r,
            &[
                "plan.md:126 | Payment provider webhooks verified against production | yes | https://status.example.com/ledgerly/webhooks (external) | @priya | day 3 | 2026-10-07 | no",
                "plan.md:127 | Rollback of the web app rehearsed on staging | yes | https://ci.example.com/ledgerly/runs/4411 (external) | @tom | day 2 | 2026-10-06 | no",
                "plan.md:128 | Accessibility audit of the invoice editor | no | – | @tom | day 3 | 2026-10-07 | yes",
                "plan.md:129 | Support macros for billing questions reviewed | no | – | @priya | day 8 | 2026-10-12 | no",
            ],
        );
        check_gate_stories(
            &mut c,
            &r,
            &[("INV-7", false), ("INV-8", true), ("INV-9", false)],
        );
        check_verdict(
            &mut c,
            &r,
            "2026-10-09",
            Verdict::Fail,
            5,
            &[
                past_due(
                    "plan.md:128",
                    "Accessibility audit of the invoice editor",
                    "day 3",
                    "2026-10-07",
                ),
                open_item(
                    "plan.md:129",
                    "Support macros for billing questions reviewed",
                    "day 8",
                    "2026-10-12",
                ),
                not_done("plan.md:98", "INV-7"),
                no_handoff("plan.md:98", "INV-7"),
                no_handoff("plan.md:106", "INV-8"),
                not_done("plan.md:113", "INV-9"),
                no_handoff("plan.md:113", "INV-9"),
            ],
        );
    }
    c.finish(name);
}

// ---- 2. per-role: Parcelbox ------------------------------------------------------------

#[test]
fn per_role_plan_parcelbox() {
    let name = "per-role";
    let app = open(name);
    let mut c = Checks::default();

    check_sprints(
        &mut c,
        &app,
        &[
            "01 | Locker registry and courier drop-off | F1-E1, F1-E2 | 2026-10-05 | 2026-10-16 | none | 04-sprints/roadmap.md:9",
            "02 | Resident pickup | F2-E1, F2-E2 | 2026-10-19 | 2026-10-30 | Pilot readiness gate | 04-sprints/roadmap.md:10",
            "03 | Pilot in two buildings | F1-E3, F2-E3 | 2026-11-02 | 2026-11-13 | none | 04-sprints/roadmap.md:11",
        ],
    );

    check_features(
        &mut c,
        &app,
        &[
            "F1 | Locker network      | F1-E1, F1-E2, F1-E3",
            "F2 | Resident experience | F2-E1, F2-E2, F2-E3",
        ],
        &[
            "F1-E1 | F1 | Locker registry",
            "F1-E2 | F1 | Courier drop-off",
            "F1-E3 | F1 | Locker health monitoring",
            "F2-E1 | F2 | Pickup codes",
            "F2-E2 | F2 | Arrival notifications",
            "F2-E3 | F2 | Pilot feedback loop",
        ],
    );

    // Roles come from the file names; the focus is the `Mission focus:` line of each
    // `## Sprint N`, and each top-level item under `#### Week N` is one priority.
    check_roles(
        &mut c,
        &app,
        &[("backend-engineer", None), ("mobile-engineer", None)],
    );
    // role | sprint | mission focus | its line | week 1 item lines | week 2 item lines
    let rows = [
        "backend-engineer | 01 | Make the locker registry the single source of truth for compartments. | 8 | 21, 22 | 25, 26",
        "backend-engineer | 02 | Pickup codes that are safe to show on a lock screen. | 30 | 39, 40 | 43, 44, 45",
        "backend-engineer | 03 | Know within five minutes when a pilot locker goes offline. | 54 | 63 | 66, 67",
        "mobile-engineer  | 01 | A courier can drop a parcel without calling support. | 8 | 17, 18 | 21, 22, 23",
        "mobile-engineer  | 02 | Residents pick up a parcel in under thirty seconds. | 27 | 36 | 39, 40",
        "mobile-engineer  | 03 | Hear from pilot residents the same day something goes wrong. | 49 | 58, 59 | 62",
    ];
    for row in rows {
        let w = cells(row);
        let (role, sprint, focus) = (w[0], w[1], w[2]);
        let path = format!("07-role-sprint-plans/{role}.md");
        for week in [1u8, 2] {
            let today = day("2026-10-05");
            let Some(p) = priorities(&mut c, &app, sprint, Some(role), week, today) else {
                continue;
            };
            if week == 1 {
                c.eq(
                    format!("{role} sprint {sprint}: (mission focus, path, line)"),
                    p.focus
                        .iter()
                        .map(|f| {
                            (
                                f.mission_focus.clone(),
                                f.citation.as_ref().map(|x| (x.path.clone(), x.line_start)),
                            )
                        })
                        .collect::<Vec<_>>(),
                    vec![(
                        Some(focus.to_string()),
                        Some((path.clone(), w[3].parse().unwrap())),
                    )],
                );
            }
            c.eq(
                format!("{role} sprint {sprint} week {week}: (role, week, priority, path, line)"),
                p.week_priorities
                    .iter()
                    .map(|x| {
                        (
                            x.role.clone(),
                            x.week,
                            x.text.clone(),
                            x.citation.path.clone(),
                            x.citation.line_start,
                        )
                    })
                    .collect::<Vec<_>>(),
                list(w[3 + week as usize])
                    .into_iter()
                    .map(|l| {
                        let l: u32 = l.parse().unwrap();
                        (
                            role.to_string(),
                            week,
                            bullet(name, &path, l),
                            path.clone(),
                            l,
                        )
                    })
                    .collect(),
            );
        }
    }

    let b = "03-backlog/backlog.md";
    check_stories(
        &mut c,
        &app,
        &[
            "01 | API-1 | Locker and compartment registry | F1-E1 | ? | done | – | 2 | 03-backlog/backlog.md:8",
            "01 | API-2 | Drop-off endpoint assigns a free compartment | F1-E2 | ? | done | API-1 | 2 | 03-backlog/backlog.md:13",
            "01 | MOB-6 | Courier scan-and-drop screen | F1-E2 | ? | done | API-2 | 2 | 03-backlog/backlog.md:19",
            "02 | API-3 | Pickup codes: issue, verify and expire | F2-E1 | ? | done | API-2 | 3 | 03-backlog/backlog.md:28",
            "02 | API-4 | Arrival events pushed to residents | F2-E2 | ? | todo | API-3 | 2 | 03-backlog/backlog.md:35",
            "02 | MOB-7 | Pickup screen with code and locker map | F2-E1 | ? | done | API-3 | 2 | 03-backlog/backlog.md:41",
            "02 | MOB-8 | Push notification on parcel arrival | F2-E2 | ? | todo | API-4, MOB-7 | 2 | 03-backlog/backlog.md:47",
            "03 | API-5 | Locker heartbeat and offline alerts | F1-E3 | ? | todo | API-1 | 2 | 03-backlog/backlog.md:56",
            "03 | MOB-9 | In-app pilot feedback form | F2-E3 | ? | todo | MOB-7 | 2 | 03-backlog/backlog.md:62",
        ],
    );
    // The role plans' `### 03-backlog` bullets (`- MOB-7 and MOB-8 (see backlog.md)`) and
    // week items only refer to stories.
    let from_role_plans: Vec<String> = app
        .plan()
        .stories
        .iter()
        .filter(|s| s.citation.path != b)
        .map(|s| format!("{} {} ({})", s.id, s.title, s.citation))
        .collect();
    c.eq(
        "stories declared outside the backlog",
        from_role_plans,
        Vec::new(),
    );

    // Gate of sprint 02 on 2026-10-23 (day 5): the gate file and both role plans' lists merge.
    let g = "00-governance/gates/sprint-2-pilot-readiness.md";
    let be = "07-role-sprint-plans/backend-engineer.md";
    let mo = "07-role-sprint-plans/mobile-engineer.md";
    if let Some(r) = gate(&mut c, name, "02", "2026-10-23") {
        check_gate_head(&mut c, &r, "Pilot readiness gate", &[g, be, mo]);
        c.eq(
            "role plans' `### Gate evidence` headings",
            r.checklists
                .iter()
                .filter(|x| x.path != g)
                .map(|x| (x.path.as_str(), x.line_start))
                .collect::<Vec<_>>(),
            vec![(be, 47), (mo, 42)],
        );
        check_items(
            &mut c,
            &r,
            &[
                "00-governance/gates/sprint-2-pilot-readiness.md:6 | Pilot site agreements signed for both buildings | yes | https://contracts.example.com/parcelbox/pilot-2026 (external) | @maria | day 3 | 2026-10-21 | no",
                "00-governance/gates/sprint-2-pilot-readiness.md:7 | Firmware 2.3 flashed on all pilot lockers | yes | evidence/sprint-2/firmware-rollout.md (exists) | @jonas | day 3 | 2026-10-21 | no",
                "00-governance/gates/sprint-2-pilot-readiness.md:8 | Support rota covers the pilot opening hours | no | – | @maria | day 8 | 2026-10-26 | no",
                "07-role-sprint-plans/backend-engineer.md:49 | Locker state API load-tested at 50 requests per second | yes | evidence/sprint-2/load-test.md (missing) | @jonas | day 3 | 2026-10-21 | no",
                "07-role-sprint-plans/backend-engineer.md:50 | Door-open audit log retained for 90 days | no | – | @jonas | day 9 | 2026-10-27 | no",
                "07-role-sprint-plans/mobile-engineer.md:44 | Pilot build 0.9 sent to couriers on TestFlight and the Play internal track | yes | evidence/sprint-2/testflight.md (exists) | @amara | day 3 | 2026-10-21 | no",
                "07-role-sprint-plans/mobile-engineer.md:45 | Pickup flow tested offline on the oldest supported Android phone | no | – | @amara | day 9 | 2026-10-27 | no",
            ],
        );
        check_gate_stories(
            &mut c,
            &r,
            &[
                ("API-3", true),
                ("API-4", false),
                ("MOB-7", true),
                ("MOB-8", false),
            ],
        );
        check_verdict(
            &mut c,
            &r,
            "2026-10-23",
            Verdict::Fail,
            5,
            &[
                missing(
                    &format!("{be}:49"),
                    "Locker state API load-tested at 50 requests per second",
                    "evidence/sprint-2/load-test.md",
                ),
                open_item(
                    &format!("{g}:8"),
                    "Support rota covers the pilot opening hours",
                    "day 8",
                    "2026-10-26",
                ),
                open_item(
                    &format!("{be}:50"),
                    "Door-open audit log retained for 90 days",
                    "day 9",
                    "2026-10-27",
                ),
                open_item(
                    &format!("{mo}:45"),
                    "Pickup flow tested offline on the oldest supported Android phone",
                    "day 9",
                    "2026-10-27",
                ),
                no_handoff(&format!("{b}:28"), "API-3"),
                not_done(&format!("{b}:35"), "API-4"),
                no_handoff(&format!("{b}:35"), "API-4"),
                no_handoff(&format!("{b}:41"), "MOB-7"),
                not_done(&format!("{b}:47"), "MOB-8"),
                no_handoff(&format!("{b}:47"), "MOB-8"),
            ],
        );
    }
    c.finish(name);
}

// ---- 3. tables: Spokes fleet console ---------------------------------------------------

#[test]
fn tables_plan_spokes() {
    let name = "tables";
    let app = open(name);
    let mut c = Checks::default();

    // `Sprint Goal` is the theme, not the id column; dates are written `12 Oct 2026`.
    check_sprints(
        &mut c,
        &app,
        &[
            "01 | Live map of docks and bikes | F1-E1, F1-E2 | 2026-10-12 | 2026-10-23 | none | docs/04-sprints/roadmap.md:9",
            "02 | Rebalancing work orders | F2-E1, F2-E2 | 2026-10-26 | 2026-11-06 | Field operations gate | docs/04-sprints/roadmap.md:10",
            "03 | Hardening and on-call | F1-E3, F2-E3 | 2026-11-09 | 2026-11-20 | none | docs/04-sprints/roadmap.md:11",
        ],
    );

    // The epics table: the `Feature` cell `F1 Fleet visibility` declares feature F1.
    check_features(
        &mut c,
        &app,
        &[
            "F1 | Fleet visibility | F1-E1, F1-E2, F1-E3",
            "F2 | Rebalancing      | F2-E1, F2-E2, F2-E3",
        ],
        &[
            "F1-E1 | F1 | Dock status feed",
            "F1-E2 | F1 | Live map",
            "F1-E3 | F1 | Console reliability",
            "F2-E1 | F2 | Work orders",
            "F2-E2 | F2 | Rebalancing suggestions",
            "F2-E3 | F2 | Reporting",
        ],
    );

    // One roadmap row per sprint and role, with a `Role` column.
    check_roles(
        &mut c,
        &app,
        &[("devops", Some("DevOps")), ("frontend", Some("Frontend"))],
    );
    check_cell_roles(
        &mut c,
        &app,
        &[
            "01 | frontend | Dispatchers trust the map more than the spreadsheet. | Map of docks with fill levels. | Clustering and the depot tablet layout.",
            "01 | devops   | Every change is one click from production. | Preview environments per pull request. | Staging deploys from main.",
            "02 | frontend | Assigning a van takes two taps. | Dispatcher board for work orders. | Suggested moves on the map.",
            "02 | devops   | The console survives a depot Wi-Fi outage. | Nightly backups with a tested restore. | Managed-device profile for the tablets.",
            "03 | frontend | Nothing the depot needs is hidden in a menu. | Work order history and export. | Fixes from the depot walk-through.",
            "03 | devops   | Someone is paged before the depot notices. | Alerting on feed staleness and API errors. | On-call rota and runbooks.",
        ],
        day("2026-10-12"),
    );
    // Rows of one sprint, one per role, do not conflict.
    let role_rows: Vec<String> = app
        .diagnostics()
        .iter()
        .filter(|d| d.code == "roadmap-conflict" || d.code == "roadmap-role")
        .map(|d| d.to_string())
        .collect();
    c.eq(
        "roadmap-conflict and roadmap-role diagnostics",
        role_rows,
        Vec::new(),
    );

    // Sprint from the `Sprint` column; `In progress` and `To do` are todo.
    let b = "docs/03-backlog/backlog.md";
    check_stories(
        &mut c,
        &app,
        &[
            "01 | FLT-1 | Ingest the dock status feed | F1-E1 | ? | done | – | 2 | docs/03-backlog/backlog.md:7",
            "01 | FLT-2 | Live map of docks with fill level | F1-E2 | ? | done | FLT-1 | 3 | docs/03-backlog/backlog.md:8",
            "01 | FLT-3 | Preview and staging environments | F1-E1 | ? | done | – | 2 | docs/03-backlog/backlog.md:9",
            "02 | FLT-4 | Work order model and API | F2-E1 | ? | done | FLT-1 | 2 | docs/03-backlog/backlog.md:10",
            "02 | FLT-5 | Dispatcher board for work orders | F2-E1 | ? | todo | FLT-2, FLT-4 | 3 | docs/03-backlog/backlog.md:11",
            "02 | FLT-6 | Suggested rebalancing moves | F2-E2 | ? | todo | FLT-4 | 2 | docs/03-backlog/backlog.md:12",
            "03 | FLT-7 | Alerting and on-call rota | F1-E3 | ? | todo | FLT-3 | 2 | docs/03-backlog/backlog.md:13",
            "03 | FLT-8 | Work order history and CSV export | F2-E3 | ? | todo | FLT-5 | 2 | docs/03-backlog/backlog.md:14",
        ],
    );
    // Commas inside a criterion never split it.
    check_acceptance(
        &mut c,
        &app,
        "FLT-4",
        &[
            "A work order has a van, a source dock, a target dock and a bike count",
            "Completed orders cannot be edited",
        ],
    );
    for (id, owner) in [("FLT-1", "DevOps"), ("FLT-5", "Frontend")] {
        c.eq(
            format!("{id} extra attribute owner"),
            app.plan()
                .story(id)
                .and_then(|s| s.extra.get("owner"))
                .map(String::as_str),
            Some(owner),
        );
    }

    // Gate of sprint 02 on 2026-10-28 (day 3): item :8 is due today, so not overdue.
    let g = "docs/00-governance/gates/field-operations.md";
    let backup = "Work order database backed up nightly with a tested restore";
    let tablets = "Depot tablets enrolled in the managed-device profile";
    let story_reasons = [
        no_handoff(&format!("{b}:10"), "FLT-4"),
        not_done(&format!("{b}:11"), "FLT-5"),
        no_handoff(&format!("{b}:11"), "FLT-5"),
        not_done(&format!("{b}:12"), "FLT-6"),
        no_handoff(&format!("{b}:12"), "FLT-6"),
    ];
    if let Some(r) = gate(&mut c, name, "S02", "2026-10-28") {
        check_gate_head(&mut c, &r, "Field operations gate", &[g]);
        check_items(
            &mut c,
            &r,
            &[
                "docs/00-governance/gates/field-operations.md:6 | Dispatchers trained on the work order board | yes | docs/evidence/dispatcher-training.md (exists) | @lena | day 3 | 2026-10-28 | no",
                "docs/00-governance/gates/field-operations.md:7 | Preview and staging deploys green for a week | yes | https://ci.example.com/spokes/console/pipelines (external) | @devops | day 3 | 2026-10-28 | no",
                "docs/00-governance/gates/field-operations.md:8 | Work order database backed up nightly with a tested restore | no | – | @devops | day 3 | 2026-10-28 | no",
                "docs/00-governance/gates/field-operations.md:9 | Depot tablets enrolled in the managed-device profile | no | – | @lena | day 7 | 2026-11-01 | no",
            ],
        );
        check_gate_stories(
            &mut c,
            &r,
            &[("FLT-4", true), ("FLT-5", false), ("FLT-6", false)],
        );
        let mut reasons = vec![
            open_item(&format!("{g}:8"), backup, "day 3", "2026-10-28"),
            open_item(&format!("{g}:9"), tablets, "day 7", "2026-11-01"),
        ];
        reasons.extend(story_reasons.iter().cloned());
        check_verdict(&mut c, &r, "2026-10-28", Verdict::AtRisk, 3, &reasons);
    }
    // The day after, item :8 is overdue: 1 fail reason and 6 at-risk reasons.
    if let Some(r) = gate(&mut c, name, "02", "2026-10-29") {
        let mut reasons = vec![
            past_due(&format!("{g}:8"), backup, "day 3", "2026-10-28"),
            open_item(&format!("{g}:9"), tablets, "day 7", "2026-11-01"),
        ];
        reasons.extend(story_reasons.iter().cloned());
        check_verdict(&mut c, &r, "2026-10-29", Verdict::Fail, 4, &reasons);
    }
    c.finish(name);
}

// ---- 4. heading-stories: Paylane -------------------------------------------------------

#[test]
fn heading_stories_plan_paylane() {
    let name = "heading-stories";
    let app = open(name);
    let mut c = Checks::default();

    // Theme column `Focus`; dates written `January 11, 2027`.
    check_sprints(
        &mut c,
        &app,
        &[
            "01 | Transfer history foundations | F4-E1, F3-E1 | 2027-01-11 | 2027-01-22 | none | docs/04-sprints/roadmap.md:9",
            "02 | Notifications people keep switched on | F3-E1, F3-E2 | 2027-01-25 | 2027-02-05 | none | docs/04-sprints/roadmap.md:10",
            "03 | Payments dashboard | F4-E1, F4-E2 | 2027-02-08 | 2027-02-19 | Dashboard launch gate | docs/04-sprints/roadmap.md:11",
        ],
    );

    // `### Epic F3-E1 — Push notifications`; F1 and F2 are only mentioned in prose.
    check_features(
        &mut c,
        &app,
        &[
            "F3 | Notifications | F3-E1, F3-E2",
            "F4 | Insights      | F4-E1, F4-E2",
        ],
        &[
            "F3-E1 | F3 | Push notifications",
            "F3-E2 | F3 | Notification preferences",
            "F4-E1 | F4 | Payments dashboard",
            "F4-E2 | F4 | Spending categories",
        ],
    );
    let f = "docs/02-features/features.md";
    let plan = app.plan();
    let mut lines: Vec<(&str, &str, u32)> = plan
        .features
        .iter()
        .map(|x| {
            (
                x.id.as_str(),
                x.citation.path.as_str(),
                x.citation.line_start,
            )
        })
        .chain(plan.epics.iter().map(|x| {
            (
                x.id.as_str(),
                x.citation.path.as_str(),
                x.citation.line_start,
            )
        }))
        .collect();
    lines.sort();
    c.eq(
        "features and epics declared at",
        lines,
        vec![
            ("F3", f, 5),
            ("F3-E1", f, 7),
            ("F3-E2", f, 11),
            ("F4", f, 15),
            ("F4-E1", f, 17),
            ("F4-E2", f, 21),
        ],
    );

    // Two tables, each with one labelled `… Mission Focus` column and unlabelled weeks.
    check_roles(
        &mut c,
        &app,
        &[("backend", Some("Backend")), ("mobile", Some("Mobile"))],
    );
    check_cell_roles(
        &mut c,
        &app,
        &[
            "01 | backend | One transfer history that every screen reads from. | Transfer history table and API. | Push service wiring.",
            "01 | mobile  | Get the push plumbing right on both platforms. | Device token registration. | Notification permission prompt.",
            "02 | backend | Notifications that are timely and never duplicated. | Incoming transfer pushes. | Quiet hours on the server.",
            "02 | mobile  | Let people choose what they hear about. | Notification preferences screen. | Quiet hours settings.",
            "03 | backend | Dashboard numbers that match the ledger to the cent. | Monthly totals endpoint. | Reconciliation against the ledger.",
            "03 | mobile  | A dashboard people open without being asked. | Payments dashboard screen. | Spending categories.",
        ],
        day("2027-01-11"),
    );

    // `### ID: Title` headings with bold fields; `In review` is todo; parenthetical comments
    // in `Depends on` are not dependencies.
    let b = "docs/03-backlog/backlog.md";
    check_stories(
        &mut c,
        &app,
        &[
            "01 | PAY-12 | Transfer history table and API | F4-E1 | ? | done | – | 3 | docs/03-backlog/backlog.md:8",
            "01 | PAY-14 | Push service wiring | F3-E1 | ? | done | – | 2 | docs/03-backlog/backlog.md:20",
            "02 | PAY-17 | Push on incoming transfer | F3-E1 | ? | done | PAY-14, PAY-12 | 3 | docs/03-backlog/backlog.md:30",
            "02 | PAY-21 | Notification preferences screen | F3-E2 | ? | done | PAY-17 | 2 | docs/03-backlog/backlog.md:40",
            "02 | PAY-23 | Quiet hours | F3-E2 | ? | done | PAY-21 | 2 | docs/03-backlog/backlog.md:49",
            "03 | PAY-26 | Monthly totals endpoint | F4-E1 | ? | done | PAY-12 | 2 | docs/03-backlog/backlog.md:60",
            "03 | PAY-30 | Payments dashboard | F4-E1 | ? | done | PAY-12, PAY-26 | 3 | docs/03-backlog/backlog.md:69",
            "03 | PAY-31 | Spending categories | F4-E2 | ? | todo | PAY-26 | 2 | docs/03-backlog/backlog.md:79",
        ],
    );
    // The prose paragraph under PAY-12 is a description, not a criterion.
    check_acceptance(
        &mut c,
        &app,
        "PAY-12",
        &[
            "Returns transfers in both directions, newest first, 50 per page",
            "Cursor paging stays stable while new transfers arrive",
            "Amounts are integer minor units with an ISO currency code",
        ],
    );

    // Gate of sprint 03 on 2027-02-22 (day 15): every item passes, but the sprint has ended.
    let g = "docs/00-governance/gates/dashboard-launch.md";
    let problems = [
        no_handoff(&format!("{b}:60"), "PAY-26"),
        no_handoff(&format!("{b}:69"), "PAY-30"),
        not_done(&format!("{b}:79"), "PAY-31"),
        no_handoff(&format!("{b}:79"), "PAY-31"),
    ];
    if let Some(r) = gate(&mut c, name, "03", "2027-02-22") {
        check_gate_head(&mut c, &r, "Dashboard launch gate", &[g]);
        check_items(
            &mut c,
            &r,
            &[
                "docs/00-governance/gates/dashboard-launch.md:6 | Dashboard totals reconciled against the ledger for a thousand sampled accounts | yes | docs/evidence/dashboard-reconciliation.md (exists) | @nadia | day 3 | 2027-02-10 | no",
                "docs/00-governance/gates/dashboard-launch.md:7 | Push notification copy approved by compliance | yes | https://wiki.example.com/paylane/compliance/push-copy (external) | @oskar | day 3 | 2027-02-10 | no",
                "docs/00-governance/gates/dashboard-launch.md:8 | Staged rollout plan agreed with support | yes | docs/evidence/rollout-plan.md (exists) | @nadia | day 5 | 2027-02-12 | no",
            ],
        );
        check_gate_stories(
            &mut c,
            &r,
            &[("PAY-26", true), ("PAY-30", true), ("PAY-31", false)],
        );
        check_verdict(&mut c, &r, "2027-02-22", Verdict::Fail, 15, &problems);
    }
    // On the sprint's last day (day 12) the same problems only put it at risk.
    if let Some(r) = gate(&mut c, name, "3", "2027-02-19") {
        check_verdict(&mut c, &r, "2027-02-19", Verdict::AtRisk, 12, &problems);
    }
    c.finish(name);
}

// ---- 5. mixed-labels: Brightside -------------------------------------------------------

#[test]
fn mixed_labels_plan_brightside() {
    let name = "mixed-labels";
    let app = open(name);
    let mut c = Checks::default();

    // Theme column `Goal`; four spellings of dates: `November 2, 2026`, `13 Nov 2026`,
    // `Nov 16, 2026` and ISO.
    check_sprints(
        &mut c,
        &app,
        &[
            "01 | Editor and templates | F1-E1, F1-E2 | 2026-11-02 | 2026-11-13 | none | docs/04-sprints/roadmap.md:9",
            "02 | Audience segments and imports | F2-E1, F2-E2 | 2026-11-16 | 2026-11-27 | none | docs/04-sprints/roadmap.md:10",
            "03 | Sending at scale | F3-E1, F3-E2 | 2026-11-30 | 2026-12-11 | Deliverability gate | docs/04-sprints/roadmap.md:11",
        ],
    );

    check_features(
        &mut c,
        &app,
        &[
            "F1 | Editor   | F1-E1, F1-E2",
            "F2 | Audience | F2-E1, F2-E2",
            "F3 | Sending  | F3-E1, F3-E2",
        ],
        &[
            "F1-E1 | F1 | Block editor",
            "F1-E2 | F1 | Templates",
            "F2-E1 | F2 | Segments",
            "F2-E2 | F2 | Contact imports",
            "F3-E1 | F3 | Send pipeline",
            "F3-E2 | F3 | Deliverability",
        ],
    );

    check_roles(
        &mut c,
        &app,
        &[("devops", Some("DevOps")), ("frontend", Some("Frontend"))],
    );
    check_cell_roles(
        &mut c,
        &app,
        &[
            "01 | frontend | Writing an issue feels like writing a doc. | Block editor. | Templates.",
            "01 | devops   | Every branch can be tried by the editors. | Preview environments. | Error tracking for the editor.",
            "02 | frontend | Publishers find their readers in a few clicks. | Segment builder. | Import wizard.",
            "02 | devops   | Imports never block the app. | Job queue for imports. | Import throughput tests.",
            "03 | frontend | Publishers see what happened to every send. | Send progress view. | Bounce and complaint dashboards.",
            "03 | devops   | Bulk sending that inbox providers trust. | Send pipeline throttling. | IP warm-up and deliverability monitoring.",
        ],
        day("2026-11-02"),
    );

    // The sprint comes from the file; sprint-2.md uses `## ID — Title` headings.
    let s3 = "docs/03-backlog/sprint-3.md";
    check_stories(
        &mut c,
        &app,
        &[
            "01 | NL-1 | Block editor with text, image and button blocks | F1-E1 | ? | done | – | 2 | docs/03-backlog/sprint-1.md:5",
            "01 | NL-2 | Saved templates | F1-E2 | ? | done | NL-1 | 3 | docs/03-backlog/sprint-1.md:8",
            "01 | NL-3 | Preview environment for every pull request | F1-E1 | ? | done | – | 2 | docs/03-backlog/sprint-1.md:12",
            "02 | NL-4 | Segment builder | F2-E1 | ? | done | – | 2 | docs/03-backlog/sprint-2.md:5",
            "02 | NL-5 | CSV contact import | F2-E2 | ? | todo | NL-4, NL-6 | 3 | docs/03-backlog/sprint-2.md:16",
            "02 | NL-6 | Job queue for long-running imports | F2-E2 | ? | done | – | 2 | docs/03-backlog/sprint-2.md:26",
            "03 | NL-7 | Send pipeline with per-domain throttling | F3-E1 | ? | todo | NL-6 | 3 | docs/03-backlog/sprint-3.md:3",
            "03 | NL-8 | Bounce and complaint dashboards | F3-E2 | ? | todo | NL-7 | 2 | docs/03-backlog/sprint-3.md:10",
        ],
    );
    // Every label family; the paragraph under NL-4 is a description; commas inside a
    // criterion (`10,000 rows`, `100,000 sends`) never split it.
    let criteria: [(&str, &[&str]); 8] = [
        (
            "NL-1",
            &[
                "Blocks can be reordered by drag and drop",
                "Undo covers the last 50 edits",
            ],
        ),
        (
            "NL-2",
            &[
                "A template keeps block order and styles",
                "Templates are shared within a workspace",
                "A template can be duplicated",
            ],
        ),
        (
            "NL-3",
            &[
                "Each pull request gets its own preview URL",
                "Preview data is reset nightly",
            ],
        ),
        (
            "NL-4",
            &[
                "A segment can combine up to ten conditions",
                "The subscriber count updates while conditions are edited",
            ],
        ),
        (
            "NL-5",
            &[
                "Columns are matched to fields by name, and the publisher can fix the matching",
                "Invalid addresses are listed with their row numbers and skipped",
                "Re-importing the same file does not create duplicates",
            ],
        ),
        (
            "NL-6",
            &[
                "Imports over 10,000 rows run in the background",
                "A failed job retries three times, then alerts the on-call engineer",
            ],
        ),
        (
            "NL-7",
            &[
                "100,000 sends finish within an hour on staging",
                "Per-domain limits change without a deploy",
                "A paused send resumes where it stopped",
            ],
        ),
        (
            "NL-8",
            &[
                "A hard bounce suppresses the address within a minute",
                "The complaint rate is shown per issue sent",
            ],
        ),
    ];
    for (id, want) in criteria {
        check_acceptance(&mut c, &app, id, want);
    }

    // Gate of sprint 03 on 2026-12-07 (day 8). A link's target is the reference; the due
    // `Dec 4, 2026` is one date.
    let g = "docs/00-governance/gates/deliverability.md";
    if let Some(r) = gate(&mut c, name, "3", "2026-12-07") {
        check_gate_head(&mut c, &r, "Deliverability gate", &[g]);
        check_items(
            &mut c,
            &r,
            &[
                "docs/00-governance/gates/deliverability.md:6 | Sending risk reviewed with compliance | yes | https://example.com/signoff (external) | @ines | day 3 | 2026-12-02 | no",
                "docs/00-governance/gates/deliverability.md:7 | Rollback runbook for the send pipeline published | yes | docs/runbook.md (exists) | @kai | day 3 | 2026-12-02 | no",
                "docs/00-governance/gates/deliverability.md:8 | Seed-list inbox placement above 95% | yes | docs/evidence/inbox-placement.md (missing) | @ines | day 3 | 2026-12-02 | no",
                "docs/00-governance/gates/deliverability.md:9 | New sending IPs warmed up on schedule | no | – | @kai | Dec 4, 2026 | 2026-12-04 | yes",
                "docs/00-governance/gates/deliverability.md:10 | Post-launch deliverability review booked | no | – | @ines | 2026-12-10 | 2026-12-10 | no",
            ],
        );
        // The link text is shown as a label next to the link's target.
        let text = storypack::render::gate(&r);
        c.eq(
            "rendered gate shows the link text `risk sign-off` with its target",
            text.lines()
                .filter(|l| l.contains("https://example.com/signoff"))
                .any(|l| l.contains("risk sign-off")),
            true,
        );
        check_gate_stories(&mut c, &r, &[("NL-7", false), ("NL-8", false)]);
        check_verdict(
            &mut c,
            &r,
            "2026-12-07",
            Verdict::Fail,
            8,
            &[
                missing(
                    &format!("{g}:8"),
                    "Seed-list inbox placement above 95%",
                    "docs/evidence/inbox-placement.md",
                ),
                past_due(
                    &format!("{g}:9"),
                    "New sending IPs warmed up on schedule",
                    "Dec 4, 2026",
                    "2026-12-04",
                ),
                open_item(
                    &format!("{g}:10"),
                    "Post-launch deliverability review booked",
                    "2026-12-10",
                    "2026-12-10",
                ),
                not_done(&format!("{s3}:3"), "NL-7"),
                no_handoff(&format!("{s3}:3"), "NL-7"),
                not_done(&format!("{s3}:10"), "NL-8"),
                no_handoff(&format!("{s3}:10"), "NL-8"),
            ],
        );
    }
    c.finish(name);
}

// ---- Lint ------------------------------------------------------------------------------

#[test]
fn lint_reports_no_errors_and_no_warnings_on_any_plan_style() {
    let mut c = Checks::default();
    for (name, stories) in PLANS.into_iter().zip([9, 9, 8, 8, 8]) {
        let report = open(name).lint();
        let problems: Vec<String> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity != Severity::Info)
            .map(|d| d.to_string())
            .collect();
        c.eq(
            format!("{name}: (errors, warnings)"),
            (report.errors, report.warnings),
            (0, 0),
        );
        c.eq(format!("{name}: errors and warnings"), problems, Vec::new());
        c.eq(
            format!("{name}: (sprints, stories)"),
            (report.sprints, report.stories),
            (3, stories),
        );
    }
    c.finish("lint");
}
