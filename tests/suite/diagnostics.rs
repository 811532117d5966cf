//! Every diagnostic the parser promises, with the file:line it names. Parsing never fails.

use std::fs;

use storypack::model::Severity;
use storypack::plan::parse_dir;

use super::util::{fixture, parse_files, with_code};

fn broken() -> storypack::plan::Parsed {
    parse_dir(&fixture("broken"))
}

#[test]
fn duplicate_story_ids_name_both_places() {
    let parsed = broken();
    let d = with_code(&parsed, "duplicate-story");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].severity, Severity::Error);
    assert_eq!(
        (d[0].path.as_str(), d[0].line),
        ("docs/03-backlog/sprint-02.md", 3)
    );
    assert!(
        d[0].message.contains("docs/03-backlog/sprint-01.md:3"),
        "{}",
        d[0].message
    );
    // The first declaration is kept.
    assert_eq!(
        parsed.plan.story("DEV-1").unwrap().sprint.as_deref(),
        Some("01")
    );
}

#[test]
fn unknown_dependencies_and_cycles_are_errors() {
    let parsed = broken();
    let unknown = with_code(&parsed, "unknown-dependency");
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].line, 13);
    assert!(unknown[0].message.contains("DEV-4 depends on DEV-99"));
    let cycles = with_code(&parsed, "dependency-cycle");
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].severity, Severity::Error);
    assert_eq!(cycles[0].line, 7);
    assert_eq!(
        cycles[0].message,
        "dependency cycle: DEV-2 -> DEV-3 -> DEV-2"
    );
}

#[test]
fn long_cycles_and_self_dependencies_are_found() {
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!(
            "- C-{i} s\n  - Depends on: C-{}\n  - Acceptance: a\n",
            (i + 1) % 2000
        ));
    }
    text.push_str("- S-1 self\n  - Depends on: S-1\n  - Acceptance: a\n");
    let parsed = parse_files(&[("docs/03-backlog/s.md", &text)], None);
    let cycles = with_code(&parsed, "dependency-cycle");
    assert_eq!(cycles.len(), 2, "{cycles:#?}");
    assert!(
        cycles
            .iter()
            .any(|d| d.message == "story S-1 depends on itself")
    );
    assert!(cycles.iter().any(|d| d.message == "dependency cycle: C-0 -> C-1 -> C-2 -> C-3 -> C-4 -> C-5 -> C-6 -> C-7 -> C-8 -> C-9 -> ... -> C-1999 -> C-0 (2000 stories)"));
}

#[test]
fn stories_without_acceptance_and_unknown_epics_are_warnings() {
    let parsed = broken();
    let d = with_code(&parsed, "no-acceptance");
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].severity, d[0].line), (Severity::Warning, 13));
    assert!(d[0].message.contains("DEV-4"));
    let e = with_code(&parsed, "unknown-epic");
    assert_eq!(e.len(), 1);
    assert!(e[0].message.contains("F9-E9"));
}

#[test]
fn a_gate_without_a_checklist_is_reported_at_its_roadmap_row() {
    let parsed = broken();
    let d = with_code(&parsed, "gate-without-checklist");
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].path.as_str(), d[0].line),
        ("docs/04-sprints/roadmap.md", 6)
    );
    assert!(d[0].message.contains("Auth shell gate"));
}

#[test]
fn ragged_table_rows_are_reported() {
    let parsed = broken();
    let d = with_code(&parsed, "ragged-table");
    let lines: Vec<u32> = d.iter().map(|d| d.line).collect();
    assert_eq!(lines, [6, 7]);
    assert!(d[0].message.contains("has 5 cells but its header has 4"));
    assert!(d[1].message.contains("has 1 cells but its header has 4"));
    // Short rows still parse: sprint 03 exists, with nothing else known.
    assert!(broken().plan.sprint("03").unwrap().theme.is_none());
}

#[test]
fn non_utf8_files_are_reported_and_skipped() {
    let parsed = broken();
    let d = with_code(&parsed, "not-utf8");
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].path.as_str(), d[0].line),
        ("docs/03-backlog/latin1.md", 1)
    );
    assert_eq!(d[0].severity, Severity::Error);
    assert!(parsed.plan.story("DEV-7").is_none());
    assert!(parsed.plan.doc("docs/03-backlog/latin1.md").is_none());
}

#[test]
fn every_diagnostic_of_the_broken_fixture_is_accounted_for() {
    let parsed = broken();
    let mut codes: Vec<&str> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Info)
        .map(|d| d.code.as_str())
        .collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        [
            "dependency-cycle",
            "duplicate-story",
            "gate-without-checklist",
            "no-acceptance",
            "not-utf8",
            "ragged-table",
            "ragged-table",
            "unknown-dependency",
            "unknown-epic",
        ]
    );
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_root_are_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(
        outside.path().join("secret.md"),
        "- [ ] LEAK-1 outside story\n  - Acceptance: a\n",
    )
    .unwrap();
    fs::create_dir_all(outside.path().join("dir")).unwrap();
    fs::write(
        outside.path().join("dir/more.md"),
        "- [ ] LEAK-2 outside story\n  - Acceptance: a\n",
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let backlog = root.path().join("docs/03-backlog");
    fs::create_dir_all(&backlog).unwrap();
    fs::write(
        backlog.join("ok.md"),
        "- [ ] IN-1 inside\n  - Acceptance: a\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.md"), backlog.join("link.md")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("dir"), backlog.join("linked-dir")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("gone.md"), backlog.join("dangling.md"))
        .unwrap();
    // A link that stays inside the root is fine.
    std::os::unix::fs::symlink(
        backlog.join("ok.md"),
        root.path().join("docs/03-backlog/alias.md"),
    )
    .unwrap();

    let parsed = parse_dir(root.path());
    let ids: Vec<&str> = parsed.plan.stories.iter().map(|s| s.id.as_str()).collect();
    assert!(ids.contains(&"IN-1"));
    assert!(!ids.iter().any(|i| i.starts_with("LEAK")), "{ids:?}");
    let d = with_code(&parsed, "symlink-outside-root");
    let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        ["docs/03-backlog/link.md", "docs/03-backlog/linked-dir"]
    );
}

#[test]
fn gitignored_and_hidden_files_are_skipped() {
    let root = tempfile::tempdir().unwrap();
    let backlog = root.path().join("docs/03-backlog");
    fs::create_dir_all(backlog.join(".drafts")).unwrap();
    fs::write(
        root.path().join(".gitignore"),
        "docs/03-backlog/scratch.md\n",
    )
    .unwrap();
    fs::write(backlog.join("scratch.md"), "- A-1 ignored\n").unwrap();
    fs::write(backlog.join(".drafts/d.md"), "- A-2 hidden\n").unwrap();
    fs::write(backlog.join("real.md"), "- A-3 read\n  - Acceptance: a\n").unwrap();
    let parsed = parse_dir(root.path());
    let ids: Vec<&str> = parsed.plan.stories.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["A-3"]);
}

#[test]
fn a_missing_root_or_config_problems_are_diagnostics_not_failures() {
    let parsed = parse_dir(std::path::Path::new("/definitely/not/here"));
    assert_eq!(with_code(&parsed, "unreadable").len(), 1);
    let root = tempfile::tempdir().unwrap();
    fs::write(
        root.path().join("storypack.toml"),
        "story_id = \"([\"\n[calendar\n",
    )
    .unwrap();
    let parsed = parse_dir(root.path());
    let d = with_code(&parsed, "config");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "storypack.toml");
}

#[test]
fn duplicate_features_and_epics_are_reported() {
    let f = "# F1 — Foundation\n## F1-E1 — Rails\n";
    let parsed = parse_files(
        &[("docs/02-features/a.md", f), ("docs/02-features/b.md", f)],
        None,
    );
    let feature = with_code(&parsed, "duplicate-feature");
    assert_eq!(feature.len(), 1);
    assert_eq!(
        (feature[0].path.as_str(), feature[0].line),
        ("docs/02-features/b.md", 1)
    );
    assert!(feature[0].message.contains("docs/02-features/a.md:1"));
    assert_eq!(with_code(&parsed, "duplicate-epic").len(), 1);
    assert_eq!(parsed.plan.features.len(), 1);
}

#[test]
fn non_ascii_text_next_to_keywords_never_breaks_parsing() {
    let roadmap =
        "| Sprint | ẞẞ Mission Focus | İ Week 1 |\n|---|---|---|\n| 01 | focus | week |\n";
    let gate =
        "---\ngate: G\n---\n- [ ] İİ check evidence: é.md\n- [ ] İ rollback evidence: a.md\n";
    let parsed = parse_files(
        &[
            ("docs/04-sprints/r.md", roadmap),
            ("docs/00-governance/gates/g.md", gate),
        ],
        None,
    );
    let roles = &parsed.plan.sprints[0].roles;
    let by_label: Vec<(&str, Option<&str>, Option<&str>)> = roles
        .values()
        .map(|r| {
            (
                r.label.as_str(),
                r.mission_focus.as_deref(),
                r.week1.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        by_label,
        [("İ", None, Some("week")), ("ẞẞ", Some("focus"), None)]
    );
    let items = &parsed.plan.gates[0].items;
    assert_eq!(items[0].text, "İİ check");
    assert_eq!(items[0].evidence, ["é.md"]);
    assert_eq!(items[1].text, "İ rollback");
}

#[test]
fn refreshing_one_file_equals_parsing_the_plan_again() {
    let root = tempfile::tempdir().unwrap();
    let backlog = root.path().join("docs/03-backlog");
    let sprints = root.path().join("docs/04-sprints");
    fs::create_dir_all(&backlog).unwrap();
    fs::create_dir_all(&sprints).unwrap();
    fs::write(
        sprints.join("r.md"),
        "| Sprint | Theme |\n|---|---|\n| 01 | a |\n",
    )
    .unwrap();
    fs::write(
        backlog.join("a.md"),
        "- A-1 first\n  - Sprint: 01\n  - Acceptance: a\n",
    )
    .unwrap();
    fs::write(
        backlog.join("b.md"),
        "- B-1 second\n  - Sprint: 01\n  - Depends on: A-1\n  - Acceptance: b\n",
    )
    .unwrap();
    let app = storypack::app::App::open(root.path()).unwrap();
    assert_eq!(app.plan().stories.len(), 2);

    // Edit one file, add another, delete a third.
    fs::write(
        backlog.join("a.md"),
        "- A-1 first, renamed\n  - Sprint: 01\n  - Acceptance: a\n",
    )
    .unwrap();
    fs::write(
        backlog.join("c.md"),
        "- C-1 third\n  - Sprint: 01\n  - Acceptance: c\n",
    )
    .unwrap();
    fs::remove_file(backlog.join("b.md")).unwrap();
    let changed = [
        backlog.join("a.md"),
        backlog.join("b.md"),
        backlog.join("c.md"),
    ];
    let next = app.refresh(&changed);
    let fresh = parse_dir(root.path());
    assert_eq!(
        serde_json::to_string(next.plan()).unwrap(),
        serde_json::to_string(&fresh.plan).unwrap()
    );
    assert_eq!(next.diagnostics(), fresh.diagnostics.as_slice());
    assert_eq!(next.plan().story("A-1").unwrap().title, "first, renamed");
    assert!(next.plan().story("B-1").is_none());
    // The unchanged roadmap document is shared, not re-read.
    assert!(std::sync::Arc::ptr_eq(
        &app.plan()
            .docs
            .iter()
            .find(|d| d.path == "docs/04-sprints/r.md")
            .unwrap()
            .clone(),
        &next
            .plan()
            .docs
            .iter()
            .find(|d| d.path == "docs/04-sprints/r.md")
            .unwrap()
            .clone()
    ));
    // The old view is untouched.
    assert_eq!(app.plan().story("A-1").unwrap().title, "first");
}
