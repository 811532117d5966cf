//! The bundled example plan: lints clean, has what the issue promises, and answers
//! priorities the way a team would expect.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use storypack::app::App;
use storypack::model::{Severity, StoryStatus};
use storypack::plan::parse_dir;
use storypack::priorities::{PriorityQuery, Selection};

use super::util::{example_plan, stdout, storypack};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn example_plan_lints_clean() {
    let parsed = parse_dir(&example_plan());
    let problems: Vec<String> = parsed.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let out = storypack(&["lint", "--plan", example_plan().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).ends_with("0 errors, 0 warnings, 0 notes\n"));
}

#[test]
fn example_plan_has_the_expected_shape() {
    let plan = parse_dir(&example_plan()).plan;
    assert_eq!(plan.sprints.len(), 12);
    assert_eq!(plan.features.len(), 8);
    assert_eq!(plan.epics.len(), 24);
    assert_eq!(plan.checklist.len(), 7);
    assert_eq!(plan.stories.len(), 76);
    assert_eq!(plan.gates.len(), 12);

    let mut per_sprint: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &plan.stories {
        *per_sprint.entry(s.sprint.as_deref().unwrap()).or_default() += 1;
        assert!(!s.acceptance.is_empty(), "{} has no acceptance", s.id);
        assert!(s.role.is_some(), "{} has no role", s.id);
    }
    assert_eq!(per_sprint.len(), 12);
    assert!(per_sprint.values().all(|n| *n >= 4), "{per_sprint:?}");
    assert_eq!(per_sprint["04"], 9);

    // Both forms: list (sprint 04) and table (sprint 05) backlogs, and the backend's sprint 03
    // stories declared in its role plan's 03-backlog section.
    let s04 = plan.story("SRE-04-01").unwrap();
    assert_eq!(s04.status, StoryStatus::Done);
    assert_eq!(s04.epic.as_deref(), Some("F3-E2"));
    let s05 = plan.story("SRE-05-02").unwrap();
    assert_eq!(s05.depends_on, ["SRE-05-01"]);
    assert!(
        s05.citation
            .path
            .ends_with("sprint-05-devops-sre-engineer.md")
    );
    let be = plan.story("BE-03-01").unwrap();
    assert!(
        be.citation
            .path
            .starts_with("docs/07-role-sprint-plans/sprint-03/backend-engineer/")
    );
    assert_eq!(be.role.as_deref(), Some("backend-engineer"));

    // The general roadmap's dates and the seed's DevOps/SRE columns merge by sprint.
    let s = plan.sprint("05").unwrap();
    assert_eq!(s.start, Some(day("2026-11-16")));
    assert_eq!(s.end, Some(day("2026-11-29")));
    assert_eq!(s.gate.as_deref(), Some("Discoverability gate"));
    assert_eq!(s.roles["devops-sre-engineer"].label, "DevOps/SRE");
    assert!(
        plan.sprint("02")
            .unwrap()
            .roles
            .contains_key("backend-engineer")
    );

    // Role plans: devops-sre for all 12 sprints, backend for 01-04, sections 00-06.
    let mut plans: BTreeMap<&str, usize> = BTreeMap::new();
    for r in plan.role_sections.iter().filter(|r| r.week.is_none()) {
        *plans.entry(r.role.as_str()).or_default() += 1;
    }
    assert_eq!(plans["devops-sre-engineer"], 12 * 7);
    assert_eq!(plans["backend-engineer"], 4 * 7);

    // Every sprint's gate has its checklist.
    for sprint in &plan.sprints {
        assert_eq!(
            plan.gate_checklists(sprint).len(),
            1,
            "sprint {}",
            sprint.id
        );
    }
    let g04 = plan.gate_checklists(plan.sprint("04").unwrap())[0];
    assert_eq!(g04.items.iter().filter(|i| !i.checked).count(), 1);
}

#[test]
fn priorities_follow_the_calendar_and_dependency_order() {
    let app = App::open(&example_plan()).unwrap();
    assert!(
        app.diagnostics()
            .iter()
            .all(|d| d.severity != Severity::Error)
    );
    let p = app
        .priorities(&PriorityQuery::default(), day("2026-11-24"))
        .unwrap();
    assert_eq!(p.sprint, "05");
    assert_eq!(p.sprint_selected_by, Selection::Calendar);
    assert_eq!((p.week, p.week_selected_by), (2, Selection::Calendar));
    assert_eq!(p.gate.as_ref().unwrap().name, "Discoverability gate");
    assert_eq!(
        p.focus[0].mission_focus.as_deref(),
        Some("Keep ingestion and search operations recoverable and observable.")
    );
    let ids: Vec<&str> = p.stories.iter().map(|s| s.story.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "SRE-05-01",
            "SRE-05-02",
            "SRE-05-03",
            "SRE-05-04",
            "SRE-05-05"
        ]
    );
    // SRE-05-01 waits on sprint 04's unfinished SRE-04-04.
    assert!(p.stories[0].blocked);
    assert_eq!(p.stories[0].blocked_by, ["SRE-04-04"]);

    // Sprint 04, backend only, week 1: done stories are not blocked; order respects deps.
    let q = PriorityQuery {
        sprint: Some("4".into()),
        role: Some("Backend".into()),
        week: Some(1),
    };
    let p = app.priorities(&q, day("2026-11-24")).unwrap();
    assert_eq!(p.role.as_deref(), Some("backend-engineer"));
    assert_eq!(p.counts.stories, 4);
    assert_eq!(p.counts.done, 2);
    for (i, s) in p.stories.iter().enumerate() {
        for dep in &s.story.depends_on {
            if let Some(j) = p.stories.iter().position(|o| &o.story.id == dep) {
                assert!(j < i, "{} comes before its dependency {dep}", s.story.id);
            }
        }
        assert!(!(s.done && s.blocked));
    }

    // Outside every sprint: the first sprint with open stories.
    let p = app
        .priorities(&PriorityQuery::default(), day("2030-01-01"))
        .unwrap();
    assert_eq!(
        (p.sprint.as_str(), p.sprint_selected_by),
        ("04", Selection::FirstOpen)
    );
}

#[test]
fn priorities_text_snapshot() {
    let out = storypack(&[
        "priorities",
        "--plan",
        example_plan().to_str().unwrap(),
        "--sprint",
        "04",
        "--today",
        "2026-11-03",
    ]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn stories_filters_combine() {
    let plan = example_plan();
    let root = plan.to_str().unwrap();
    let out = storypack(&[
        "stories", "--json", "--plan", root, "--epic", "f5-e1", "--status", "todo",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stories = v["stories"].as_array().unwrap();
    assert_eq!(v["count"], stories.len());
    assert!(!stories.is_empty());
    for s in stories {
        assert_eq!(s["epic"], "F5-E1");
        assert_eq!(s["status"], "todo");
        for key in [
            "id",
            "title",
            "sprint",
            "role",
            "reviewer",
            "evidence",
            "depends_on",
            "estimate",
            "acceptance",
            "citation",
        ] {
            assert!(s.get(key).is_some(), "{key} missing");
        }
    }
    let out = storypack(&[
        "stories",
        "--plan",
        root,
        "--sprint",
        "S03",
        "--role",
        "devops-sre-engineer",
    ]);
    assert!(stdout(&out).ends_with("5 stories\n"), "{}", stdout(&out));
}
