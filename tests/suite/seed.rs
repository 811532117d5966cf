//! The seed (a real planning document, the conventions' reference) parses as-is.

use storypack::plan::parse_dir;

use super::util::{fixture, problems};

#[test]
fn seed_roadmap_has_twelve_sprints_with_every_column() {
    let parsed = parse_dir(&fixture("seed"));
    let plan = &parsed.plan;
    let ids: Vec<&str> = plan.sprints.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"
        ]
    );

    let s05 = plan.sprint("05").unwrap();
    assert_eq!(s05.theme.as_deref(), Some("Search and ingestion v1"));
    assert_eq!(s05.gate.as_deref(), Some("Discoverability gate"));
    assert_eq!(s05.epics, ["F3-E3", "F5-E1"]);
    let sre = &s05.roles["devops-sre"];
    assert_eq!(sre.label, "DevOps/SRE");
    assert_eq!(
        sre.mission_focus.as_deref(),
        Some("Keep ingestion and search operations recoverable and observable.")
    );
    assert_eq!(
        sre.week1.as_deref(),
        Some("Set queue, retry, and dead-letter controls for ingestion pipeline.")
    );
    assert_eq!(
        sre.week2.as_deref(),
        Some("Tune query and pipeline reliability alerts and produce recovery runbook evidence.")
    );
    assert_eq!(
        s05.citation.path,
        "docs/04-sprints/devops-sre-implementation-map.md"
    );
    assert_eq!((s05.citation.line_start, s05.citation.line_end), (16, 16));
    assert_eq!(
        s05.citation.heading,
        "DevOps/SRE Sprint Implementation Map (00-11) > Sprint-by-Sprint Focus"
    );

    // Three epics, split on commas; sprint 00's prose "epics" are kept, not invented.
    assert_eq!(
        plan.sprint("07").unwrap().epics,
        ["F5-E2", "F5-E3", "F4-E3"]
    );
    let s00 = plan.sprint("00").unwrap();
    assert!(s00.epics.is_empty());
    assert_eq!(s00.extra["Primary Epics"], "Planning + ADR + risk baseline");
    assert_eq!(
        plan.sprint("11").unwrap().gate.as_deref(),
        Some("GA launch gate")
    );
    let epics: usize = plan.sprints.iter().map(|s| s.epics.len()).sum();
    assert_eq!(epics, 24, "the seed names 24 epics F1-E1..F8-E3");
}

#[test]
fn seed_constant_checklist_has_seven_steps() {
    let plan = parse_dir(&fixture("seed")).plan;
    let steps: Vec<(&str, &str)> = plan
        .checklist
        .iter()
        .map(|s| (s.section.as_str(), s.text.as_str()))
        .collect();
    assert_eq!(steps.len(), 7);
    assert_eq!(
        steps[0],
        (
            "00-governance",
            "confirm gate evidence by day 3 and log risks/dependencies."
        )
    );
    assert_eq!(steps[4].0, "04-sprint-execution");
    assert_eq!(
        steps[6],
        (
            "06-ai-agent-execution",
            "publish context pack and handoff contract per story."
        )
    );
    assert_eq!(plan.checklist[6].n, 7);
    assert_eq!(plan.checklist[6].citation.line_start, 32);
}

#[test]
fn seed_alone_reports_only_missing_gate_checklists() {
    let parsed = parse_dir(&fixture("seed"));
    let problems = problems(&parsed);
    assert_eq!(problems.len(), 12, "{problems:#?}");
    assert!(
        problems
            .iter()
            .all(|p| p.contains("[gate-without-checklist]")),
        "{problems:#?}"
    );
    assert_eq!(parsed.errors(), 0);
}
