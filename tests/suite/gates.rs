//! Gate checks on the example plan: a passing sprint, an at-risk one and a failing one, with
//! their reasons; the CLI's exit codes.

use chrono::NaiveDate;
use storypack::app::App;
use storypack::evidence::EvidenceState;
use storypack::gate::{HandoffState, PackState, Verdict};

use super::handoffs::valid_contract;
use super::packs::copy_plan;
use super::util::{example_plan, stdout, storypack};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn a_sprint_with_checked_evidence_and_every_story_handed_off_passes() {
    let plan = copy_plan();
    let app = App::open(plan.path()).unwrap();
    // Before any handoff, sprint 01 (long over) fails on that alone.
    let before = app.check_gate("01", day("2026-11-24")).unwrap();
    assert_eq!(before.verdict, Verdict::Fail);
    assert_eq!(before.reasons.len(), 9, "{:#?}", before.reasons);
    assert!(
        before
            .reasons
            .iter()
            .all(|r| r.ends_with("has no handoff recorded"))
    );
    assert_eq!(
        before.reasons[0],
        "docs/03-backlog/sprint-01-backend-engineer.md:10: BE-01-01 has no handoff recorded"
    );

    let ids: Vec<String> = before.stories.iter().map(|s| s.id.clone()).collect();
    for id in &ids {
        assert!(
            app.record_handoff(&valid_contract(&app, id))
                .unwrap()
                .recorded
        );
    }
    app.write_pack(
        &app.pack(&storypack::pack::PackRequest {
            story_id: ids[0].clone(),
            ..Default::default()
        })
        .unwrap(),
        None,
    )
    .unwrap();
    let report = app.check_gate("01", day("2026-11-24")).unwrap();
    assert_eq!(report.verdict, Verdict::Pass, "{:#?}", report.reasons);
    assert!(report.reasons.is_empty());
    assert_eq!(report.gate.as_deref(), Some("CI/CD gate"));
    assert_eq!(report.items.len(), 6);
    assert!(report.items.iter().all(|i| i.checked && !i.overdue));
    let states: Vec<EvidenceState> = report
        .items
        .iter()
        .flat_map(|i| i.evidence.iter().map(|e| e.state))
        .collect();
    assert!(states.contains(&EvidenceState::External));
    assert!(
        states
            .iter()
            .all(|s| matches!(s, EvidenceState::Exists | EvidenceState::External))
    );
    assert!(
        report
            .stories
            .iter()
            .all(|s| s.done && s.handoff == HandoffState::Valid)
    );
    assert_eq!(report.stories[0].pack, PackState::Fresh);
    assert_eq!(report.stories[1].pack, PackState::Missing);
    assert_eq!(
        report.stories[0].handoff_id,
        Some(super::util::record_id(plan.path(), "BE-01-01", 1))
    );

    let out = storypack(&[
        "gate",
        "01",
        "--plan",
        plan.path().to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("Sprint 01 CI/CD gate: PASS\n"));
}

#[test]
fn open_items_before_day_3_make_a_sprint_at_risk() {
    let app = App::open(&example_plan()).unwrap();
    // Sprint 05 started 2026-11-16; on 2026-11-17 (day 2) nothing is overdue yet.
    let r = app.check_gate("5", day("2026-11-17")).unwrap();
    assert_eq!(r.verdict, Verdict::AtRisk);
    assert_eq!(r.day, Some(2));
    assert_eq!(r.items.len(), 5);
    assert!(r.items.iter().all(|i| !i.checked && !i.overdue));
    assert_eq!(r.items[0].due_date, Some(day("2026-11-18")));
    assert_eq!(
        r.reasons[0],
        "docs/00-governance/gates/sprint-05-discoverability-gate.md:13: \"Ingestion queue retry and dead-letter policy live\" is open, due day 3 (2026-11-18)"
    );
    assert!(
        r.reasons
            .iter()
            .any(|x| x.ends_with("SRE-05-01 is not done"))
    );
    assert!(
        r.reasons
            .iter()
            .any(|x| x.ends_with("SRE-05-01 has no handoff recorded"))
    );
    let states: Vec<EvidenceState> = r.items[0].evidence.iter().map(|e| e.state).collect();
    assert_eq!(states, [EvidenceState::Exists, EvidenceState::Missing]);
    let out = storypack(&[
        "gate",
        "05",
        "--plan",
        example_plan().to_str().unwrap(),
        "--today",
        "2026-11-17",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "at_risk");
    for key in ["sprint", "gate", "verdict", "items", "stories", "reasons"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert_eq!(v["items"][0]["evidence"][1]["state"], "missing");
    assert!(v["items"][0]["evidence"][1]["ref"].is_string());
}

#[test]
fn overdue_items_and_missing_evidence_fail_a_sprint() {
    let app = App::open(&example_plan()).unwrap();
    // Sprint 04 ran 2026-11-02..15: one item still unchecked, one checked without its file.
    let r = app.check_gate("04", day("2026-11-24")).unwrap();
    assert_eq!(r.verdict, Verdict::Fail);
    let overdue: Vec<&str> = r
        .items
        .iter()
        .filter(|i| i.overdue)
        .map(|i| i.text.as_str())
        .collect();
    assert_eq!(
        overdue,
        ["Case schema migration rollback rehearsed on staging"]
    );
    let g = "docs/00-governance/gates/sprint-04-core-workflow-gate.md";
    assert!(r.reasons.contains(&format!(
        "{g}:17: \"Core workflow SLO targets signed off by product\" is checked but its evidence docs/evidence/sprint-04/slo-signoff.md does not exist"
    )), "{:#?}", r.reasons);
    assert!(r.reasons.contains(&format!(
        "{g}:18: \"Case schema migration rollback rehearsed on staging\" is unchecked past its due day 3 (2026-11-04)"
    )), "{:#?}", r.reasons);
    assert!(
        r.reasons
            .iter()
            .any(|x| x.ends_with("SRE-04-04 is not done"))
    );
    // Failing reasons come before at-risk ones; every reason names file:line.
    for reason in &r.reasons {
        let (place, _) = reason.split_once(": ").unwrap();
        let (path, line) = place.rsplit_once(':').unwrap();
        assert!(example_plan().join(path).exists(), "{reason}");
        assert!(line.parse::<u32>().unwrap() >= 1);
    }
    let out = storypack(&[
        "gate",
        "04",
        "--plan",
        example_plan().to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("Sprint 04 Core workflow gate: FAIL\n"));
}

#[test]
fn gate_input_errors_name_the_field() {
    let app = App::open(&example_plan()).unwrap();
    assert_eq!(
        app.check_gate("42", day("2026-11-24")).unwrap_err().field(),
        Some("sprint")
    );
    let out = storypack(&["gate", "../x", "--plan", example_plan().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}
