//! The real binary: text and JSON output, exit codes (0 ok, 1 check failed, 2 usage/IO).

use serde_json::Value;

use super::util::{fixture, stderr, stdout, storypack};

fn plan_arg(name: &str) -> String {
    fixture(name).to_string_lossy().into_owned()
}

#[test]
fn lint_on_a_broken_plan_exits_1_and_names_file_and_line() {
    let out = storypack(&["lint", "--plan", &plan_arg("broken")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("docs/03-backlog/sprint-02.md:3: error [duplicate-story]: story DEV-1 is declared twice: here and at docs/03-backlog/sprint-01.md:3"), "{text}");
    assert!(
        text.contains("docs/03-backlog/sprint-01.md:7: error [dependency-cycle]"),
        "{text}"
    );
    assert!(
        text.contains("docs/03-backlog/latin1.md:1: error [not-utf8]"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("4 errors, 5 warnings, 4 notes"),
        "{text}"
    );
}

#[test]
fn lint_json_lists_every_diagnostic() {
    let out = storypack(&["lint", "--json", "--plan", &plan_arg("broken")]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"], 4);
    let first = &v["diagnostics"][0];
    for key in ["severity", "code", "path", "line", "message"] {
        assert!(first.get(key).is_some(), "{key} missing in {first}");
    }
}

#[test]
fn sprints_text_on_the_seed() {
    let out = storypack(&["sprints", "--plan", &plan_arg("seed")]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn sprints_json_has_the_contract_fields() {
    let out = storypack(&["--json", "sprints", "--plan", &plan_arg("seed")]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["sprints"][5];
    assert_eq!(s["id"], "05");
    assert_eq!(s["theme"], "Search and ingestion v1");
    assert_eq!(s["epics"], serde_json::json!(["F3-E3", "F5-E1"]));
    assert_eq!(s["gate"], "Discoverability gate");
    assert!(s["start"].is_null() && s["end"].is_null());
    assert_eq!(s["roles"]["devops-sre"]["label"], "DevOps/SRE");
    assert!(s["roles"]["devops-sre"]["mission_focus"].is_string());
    assert!(s["roles"]["devops-sre"]["week1"].is_string());
    assert!(s["roles"]["devops-sre"]["week2"].is_string());
    assert_eq!(s["citation"]["line_start"], 16);
    assert_eq!(
        s["citation"]["path"],
        "docs/04-sprints/devops-sre-implementation-map.md"
    );
}

#[test]
fn usage_and_io_errors_exit_2_with_a_clear_message() {
    let out = storypack(&["sprints", "--plan", "/no/such/plan"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/no/such/plan is not a folder"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());

    let out = storypack(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));

    let seed = plan_arg("seed");
    let cases: [(&[&str], &str); 5] = [
        (
            &["priorities", "--sprint", "99"],
            "sprint: no sprint 99 in the roadmap (known: 00, 01",
        ),
        (
            &["priorities", "--sprint", "next"],
            "sprint: `next` is not a sprint id",
        ),
        (
            &["priorities", "--week", "3"],
            "week: 3 is not a week of a sprint (1 or 2)",
        ),
        (
            &["priorities", "--role", "designer"],
            "role: no role `designer` in the plan (known: devops-sre)",
        ),
        (
            &["stories", "--status", "maybe"],
            "status: `maybe` is not a status (todo, done)",
        ),
    ];
    for (args, message) in cases {
        let mut full = args.to_vec();
        full.extend(["--plan", &seed]);
        let out = storypack(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    let long = "x".repeat(500);
    let out = storypack(&["stories", "--epic", &long, "--plan", &seed]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("epic: must be at most 128 characters"));
}

#[test]
fn help_and_version_exit_0() {
    let out = storypack(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    for cmd in ["sprints", "priorities", "stories", "lint"] {
        assert!(stdout(&out).contains(cmd));
    }
    assert_eq!(storypack(&["--version"]).status.code(), Some(0));
}
