//! Plans written the way real teams write them: each family of spellings is read, with
//! concrete values, and `storypack explain` shows what was read from a file of each style.

use chrono::NaiveDate;
use storypack::app::App;
use storypack::evidence::EvidenceState;
use storypack::gate::Verdict;
use storypack::model::StoryStatus;
use storypack::priorities::{PriorityQuery, StoryFilter};

use super::util::{fixture, parse_files, problems, stderr, stdout, storypack, with_code};

const ROADMAP: &str = "# Roadmap\n\n| Sprint | Sprint Goal | Epics | Gate | Start | End |\n\
|---|---|---|---|---|---|\n\
| 1 | Ledger foundations | F4-E1 | Risk gate | Nov 16, 2026 | Nov 27, 2026 |\n\
| 2 | Payments dashboard | F4-E1 | - | 30 Nov 2026 | December 11, 2026 |\n";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn acceptance_criteria_under_a_label_line_a_subheading_or_any_field_name() {
    let backlog = "# Backlog\n\n## Sprint 1\n\n\
- [ ] PAY-1 Transfer table\n  **Acceptance criteria**\n  - rows balance\n  - history kept\n\
- [ ] PAY-2 Fees\n  - Definition of done: fee shown; fee charged\n\
- [ ] PAY-3 Limits\n  - AC:\n    - daily limit\n\n\
### PAY-4: Receipts\n\n**Epic:** F4-E1\n\n#### Acceptance Criteria\n\n- receipt mailed\n- receipt in app\n- receipt as PDF\n";
    let parsed = parse_files(
        &[
            ("docs/04-sprints/roadmap.md", ROADMAP),
            ("docs/03-backlog/backlog.md", backlog),
        ],
        None,
    );
    let ac = |id: &str| parsed.plan.story(id).unwrap().acceptance.clone();
    assert_eq!(ac("PAY-1"), ["rows balance", "history kept"]);
    assert_eq!(ac("PAY-2"), ["fee shown", "fee charged"]);
    assert_eq!(ac("PAY-3"), ["daily limit"]);
    assert_eq!(
        ac("PAY-4"),
        ["receipt mailed", "receipt in app", "receipt as PDF"]
    );
    assert!(
        with_code(&parsed, "no-acceptance").is_empty(),
        "{:?}",
        problems(&parsed)
    );
}

#[test]
fn a_goal_column_is_the_theme_and_a_table_without_one_is_named() {
    let parsed = parse_files(&[("docs/04-sprints/roadmap.md", ROADMAP)], None);
    let themes: Vec<Option<&str>> = parsed
        .plan
        .sprints
        .iter()
        .map(|s| s.theme.as_deref())
        .collect();
    assert_eq!(
        themes,
        [Some("Ledger foundations"), Some("Payments dashboard")]
    );

    let no_theme = "| Sprint | Headline | Start |\n|---|---|---|\n| 1 | Ledger | 2026-11-16 |\n";
    let parsed = parse_files(&[("docs/04-sprints/roadmap.md", no_theme)], None);
    let d = with_code(&parsed, "roadmap-theme");
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].message,
        "roadmap table has no theme column (saw: Sprint, Headline, Start; kept as extras: \
         Headline); name the theme column Theme, Goal, Sprint Goal, Focus or Objective"
    );
}

#[test]
fn one_role_plan_file_per_role_with_sprint_headings_and_mission_focus() {
    let role_plan = "# Backend engineer\n\n## Sprint 1\n\nMission focus: Money moves exactly once.\n\n\
### 04-sprint-execution\n\n#### Week 1\n- Ledger schema\n- Idempotency keys\n\n#### Week 2\n- Transfer API\n\n\
## Sprint 2\n\nMission focus: Show people where money went.\n";
    let parsed = parse_files(
        &[
            ("docs/04-sprints/roadmap.md", ROADMAP),
            ("docs/07-role-sprint-plans/backend-engineer.md", role_plan),
        ],
        None,
    );
    let s1 = &parsed.plan.sprints[0];
    assert_eq!(
        s1.roles["backend-engineer"].mission_focus.as_deref(),
        Some("Money moves exactly once.")
    );
    assert_eq!(
        parsed.plan.sprints[1].roles["backend-engineer"]
            .mission_focus
            .as_deref(),
        Some("Show people where money went.")
    );
    let weeks: Vec<(Option<u8>, u32)> = parsed
        .plan
        .role_sections
        .iter()
        .filter(|r| r.sprint == "01")
        .map(|r| (r.week, r.citation.line_start))
        .collect();
    assert_eq!(weeks, [(None, 7), (Some(1), 9), (Some(2), 13)]);
    // Nothing about the role plan: only the plan's missing folders and its gate checklist.
    assert!(
        parsed
            .diagnostics
            .iter()
            .all(|d| matches!(d.code.as_str(), "missing-folder" | "gate-without-checklist")),
        "{:?}",
        problems(&parsed)
    );

    // A role plan that names no sprint at all is reported.
    let parsed = parse_files(
        &[("docs/07-role-sprint-plans/qa.md", "# QA\n\n- test things\n")],
        None,
    );
    assert_eq!(with_code(&parsed, "role-plan-unplaced").len(), 1);
}

#[test]
fn gate_evidence_links_and_due_dates_with_commas() {
    let plan = tempfile::tempdir().unwrap();
    let root = plan.path();
    std::fs::create_dir_all(root.join("docs/04-sprints")).unwrap();
    std::fs::create_dir_all(root.join("docs/00-governance/gates")).unwrap();
    std::fs::create_dir_all(root.join("docs/evidence")).unwrap();
    std::fs::write(root.join("docs/04-sprints/roadmap.md"), ROADMAP).unwrap();
    std::fs::write(root.join("docs/evidence/runbook.md"), "# Runbook\n").unwrap();
    std::fs::write(
        root.join("docs/00-governance/gates/sprint-1-risk.md"),
        "# Risk gate\n\n\
- [x] Risk signed off - evidence: [risk sign-off](https://example.com/signoff)\n\
- [x] Runbook written - evidence: [runbook](docs/evidence/runbook.md)\n\
- [ ] Pen test booked (owner: @sec, due: Nov 18, 2026)\n",
    )
    .unwrap();
    let app = App::open(root).unwrap();
    let report = app.check_gate("1", date(2026, 11, 20)).unwrap();
    type Item<'a> = (
        &'a str,
        Vec<(&'a str, EvidenceState)>,
        Option<NaiveDate>,
        bool,
    );
    let items: Vec<Item> = report
        .items
        .iter()
        .map(|i| {
            (
                i.text.as_str(),
                i.evidence
                    .iter()
                    .map(|e| (e.reference.as_str(), e.state))
                    .collect(),
                i.due_date,
                i.overdue,
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            (
                "Risk signed off",
                vec![("https://example.com/signoff", EvidenceState::External)],
                Some(date(2026, 11, 18)),
                false
            ),
            (
                "Runbook written",
                vec![("docs/evidence/runbook.md", EvidenceState::Exists)],
                Some(date(2026, 11, 18)),
                false
            ),
            ("Pen test booked", vec![], Some(date(2026, 11, 18)), true),
        ]
    );
    assert_eq!(report.items[2].due, "Nov 18, 2026");
    assert_eq!(report.verdict, Verdict::Fail);
}

#[test]
fn stories_declared_as_headings_with_bold_fields() {
    let backlog = "# Backlog\n\n## Sprint 2\n\n### PAY-30: Payments dashboard\n\n\
**Epic:** F4-E1\n**Depends on:** PAY-12 (needs the transfer table)\n**Status:** Done\n\n\
**Acceptance criteria**\n\n- totals per month\n- filters by account\n\n\
### PAY-12 — Transfer table\n\n- Epic: F4-E1\n- Acceptance: rows balance\n";
    let parsed = parse_files(
        &[
            ("docs/04-sprints/roadmap.md", ROADMAP),
            ("docs/03-backlog/backlog.md", backlog),
        ],
        None,
    );
    let s = parsed.plan.story("PAY-30").unwrap();
    assert_eq!(
        (
            s.title.as_str(),
            s.sprint.as_deref(),
            s.epic.as_deref(),
            s.status,
            s.depends_on.clone(),
            s.acceptance.len(),
            s.citation.line_start,
            s.citation.line_end
        ),
        (
            "Payments dashboard",
            Some("02"),
            Some("F4-E1"),
            StoryStatus::Done,
            vec!["PAY-12".to_string()],
            2,
            5,
            14
        )
    );
    let p = parsed.plan.story("PAY-12").unwrap();
    assert_eq!(
        (p.title.as_str(), p.acceptance.len()),
        ("Transfer table", 1)
    );
    // Comments in Depends on are comments: no bad-dependency warnings.
    assert!(with_code(&parsed, "bad-dependency").is_empty());
}

#[test]
fn written_dates_in_the_roadmap_and_in_today() {
    let parsed = parse_files(&[("docs/04-sprints/roadmap.md", ROADMAP)], None);
    let dates: Vec<_> = parsed
        .plan
        .sprints
        .iter()
        .map(|s| (s.start, s.end))
        .collect();
    assert_eq!(
        dates,
        [
            (Some(date(2026, 11, 16)), Some(date(2026, 11, 27))),
            (Some(date(2026, 11, 30)), Some(date(2026, 12, 11)))
        ]
    );
    let plan = fixture("plans/mixed-labels");
    let plan = plan.to_str().unwrap();
    let out = storypack(&["gate", "3", "--plan", plan, "--today", "Dec 15, 2026"]);
    assert!(
        stdout(&out).contains("Today 2026-12-15"),
        "{}",
        stdout(&out)
    );
    let out = storypack(&["gate", "3", "--plan", plan, "--today", "15/12/2026"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("`15/12/2026` is not a date (write YYYY-MM-DD (2026-11-16), `Nov 16, 2026`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn epic_headings_led_by_the_word_epic() {
    let features = "# F3 — Notifications\n\n### Epic F3-E1 — Push notifications\n\n### Epic F3-E2: Quiet hours\n";
    let parsed = parse_files(&[("docs/02-features/f3.md", features)], None);
    let epics: Vec<(&str, &str)> = parsed
        .plan
        .epics
        .iter()
        .map(|e| (e.id.as_str(), e.title.as_str()))
        .collect();
    assert_eq!(
        epics,
        [("F3-E1", "Push notifications"), ("F3-E2", "Quiet hours")]
    );
}

#[test]
fn a_bullet_that_only_mentions_a_story_is_a_reference() {
    let backlog =
        "# Backlog\n\n## Sprint 2\n\n- [ ] MOB-7 Pickup screen\n  - Acceptance: code shown\n";
    let role_plan =
        "# Mobile\n\n## Sprint 2\n\n### 03-backlog\n\n- MOB-7 and MOB-8 (see backlog.md)\n";
    let parsed = parse_files(
        &[
            ("docs/04-sprints/roadmap.md", ROADMAP),
            ("docs/03-backlog/backlog.md", backlog),
            ("docs/07-role-sprint-plans/mobile-engineer.md", role_plan),
        ],
        None,
    );
    assert!(
        with_code(&parsed, "duplicate-story").is_empty(),
        "{:?}",
        problems(&parsed)
    );
    assert_eq!(parsed.plan.stories.len(), 1);
    assert_eq!(parsed.plan.stories[0].title, "Pickup screen");
    assert_eq!(
        parsed.plan.stories[0].citation.path,
        "docs/03-backlog/backlog.md"
    );
}

#[test]
fn every_checklist_of_a_sprints_gate_is_merged() {
    let app = App::open(&fixture("plans/per-role")).unwrap();
    let report = app.check_gate("2", date(2026, 10, 23)).unwrap();
    let mut paths: Vec<&str> = report
        .items
        .iter()
        .map(|i| i.citation.path.as_str())
        .collect();
    paths.dedup();
    assert_eq!(
        paths,
        [
            "00-governance/gates/sprint-2-pilot-readiness.md",
            "07-role-sprint-plans/backend-engineer.md",
            "07-role-sprint-plans/mobile-engineer.md"
        ]
    );
    assert_eq!(report.items.len(), 7);
}

#[test]
fn priorities_of_a_sprint_not_running_today_show_both_weeks() {
    let app = App::open(&fixture("plans/per-role")).unwrap();
    let q = PriorityQuery {
        sprint: Some("01".into()),
        role: Some("mobile-engineer".into()),
        week: None,
    };
    let p = app.priorities(&q, date(2026, 1, 1)).unwrap();
    assert_eq!(p.weeks, [1, 2]);
    // Each item under `#### Week N` is one priority, cited at its own line.
    let weeks: Vec<(u8, u32)> = p
        .week_priorities
        .iter()
        .map(|w| (w.week, w.citation.line_start))
        .collect();
    assert_eq!(weeks, [(1, 17), (1, 18), (2, 21), (2, 22), (2, 23)]);
    let running = app.priorities(&q, date(2026, 10, 13)).unwrap();
    assert_eq!((running.week, running.weeks.clone()), (2, vec![2]));
}

#[test]
fn an_unknown_epic_is_an_error_naming_the_known_ones() {
    let app = App::open(&fixture("plans/heading-stories")).unwrap();
    let err = app
        .stories(&StoryFilter {
            epic: Some("F9-E9".into()),
            ..StoryFilter::default()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "epic: no epic `F9-E9` in the plan (known: F3-E1, F3-E2, F4-E1, F4-E2)"
    );
    let plan = fixture("plans/heading-stories");
    let out = storypack(&[
        "stories",
        "--epic",
        "F9-E9",
        "--plan",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_shows_what_was_read_from_a_file_of_each_style() {
    for (plan, file) in [
        ("single-file", "plan.md"),
        ("per-role", "07-role-sprint-plans/backend-engineer.md"),
        ("tables", "docs/03-backlog/backlog.md"),
        ("heading-stories", "docs/03-backlog/backlog.md"),
        ("mixed-labels", "docs/00-governance/gates/deliverability.md"),
    ] {
        let root = fixture(&format!("plans/{plan}"));
        let out = storypack(&["explain", file, "--plan", root.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        insta::assert_snapshot!(format!("explain-{plan}"), stdout(&out));
    }
    let root = fixture("plans/tables");
    let out = storypack(&["explain", "nope.md", "--plan", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`nope.md` is not a markdown file of the plan"));
}

/// Plan-like text storypack does not read is named, with where and how to write it: story
/// declarations and backlog or roadmap tables outside their places, a backlog table without
/// the columns it needs, a misspelt field. A risk register (ids, `Status`, `Owner`) is not.
#[test]
fn unread_plan_like_content_is_named_in_a_diagnostic() {
    let app = App::open(&fixture("plans/unread")).unwrap();
    let report = app.lint();
    let unread: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.code != "no-acceptance" && d.code != "missing-folder")
        .map(|d| format!("{}:{} {}", d.path, d.line, d.code))
        .collect();
    assert_eq!(
        unread,
        [
            "docs/03-backlog/backlog.md:6 unknown-field",
            "docs/03-backlog/backlog.md:14 story-table-columns",
            "docs/notes.md:5 story-outside-backlog",
            "docs/notes.md:9 story-outside-backlog",
            "docs/notes.md:13 story-table-elsewhere",
            "docs/notes.md:17 roadmap-table-elsewhere",
        ]
    );
    let message = |code: &str| {
        report
            .diagnostics
            .iter()
            .find(|d| d.code == code)
            .map(|d| d.message.clone())
            .unwrap()
    };
    assert!(message("unknown-field").contains("write `Depends on:`"));
    assert!(message("story-table-columns").contains("no Title column (saw: Story, Epic, Sprint)"));
    assert!(message("roadmap-table-elsewhere").contains("columns: Sprint, Goal, Start, End"));
    // `Depends-on` is `Depends on`; the misspelt field is kept as an extra.
    let pay1 = app.plan().story("PAY-1").unwrap();
    assert_eq!(pay1.depends_on, ["PAY-2"]);
    assert_eq!(pay1.extra["dependancies"], "PAY-2");
    // Nothing from notes.md became a story or a sprint.
    let ids: Vec<&str> = app.plan().stories.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["PAY-1", "PAY-2"]);
    assert_eq!(app.sprints().sprints.len(), 2);
}
