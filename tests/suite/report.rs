//! `storypack report gate`: the gate evidence package, HTML and Markdown, snapshotted for the
//! example plan's sprint 04 (over, with an open item and missing evidence: it fails).

use std::process::Command;

use chrono::NaiveDate;
use storypack::app::App;
use storypack::gate::Verdict;

use super::util::{example_plan, stderr};

/// The clock every report here is made at: sprint 04 (2026-11-02..15) is over.
const NOW: &str = "2026-11-20T09:30:00Z";

fn report(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args(args)
        .env("STORYPACK_NOW", NOW)
        .env_remove("STORYPACK_LOG")
        .output()
        .expect("run storypack")
}

/// What maud does to text: `&`, `<`, `>`, `"` escaped.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[test]
fn the_gate_package_of_sprint_04_shows_its_fail_reasons_in_html_and_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let (html_path, md_path) = (dir.path().join("gate.html"), dir.path().join("gate.md"));
    // A copy: packs a user wrote into examples/plan (the README's first command) must not
    // change the snapshot.
    let copy = super::packs::copy_plan();
    let plan = copy.path().to_path_buf();
    let out = report(&[
        "report",
        "gate",
        "04",
        "--plan",
        plan.to_str().unwrap(),
        "--html",
        html_path.to_str().unwrap(),
        "--md",
        md_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = std::fs::read_to_string(&html_path).unwrap();
    let md = std::fs::read_to_string(&md_path).unwrap();

    let expected = App::open(&plan)
        .unwrap()
        .check_gate("04", NaiveDate::from_ymd_opt(2026, 11, 20).unwrap())
        .unwrap();
    assert_eq!(expected.verdict, Verdict::Fail);
    assert!(!expected.reasons.is_empty());
    assert!(html.contains(r#"data-verdict="fail""#));
    assert!(md.contains("**Verdict: FAIL**"));
    for reason in &expected.reasons {
        assert!(html.contains(&html_text(reason)), "HTML lacks: {reason}");
        // Markdown escapes its punctuation; the file:line it starts with stays readable.
        let place = reason.split(' ').next().unwrap();
        assert!(
            md.contains(&place.replace('_', "\\_")),
            "Markdown lacks: {place}"
        );
    }
    assert!(
        html.contains("2026-11-20T09:30:00Z") && md.contains("Generated: 2026-11-20T09:30:00Z")
    );
    // Self-contained: no script, no external asset.
    for absent in ["<script", "<link", "src=\"http", "href=\"http"] {
        assert!(!html.contains(absent), "{absent}");
    }
    insta::assert_snapshot!("gate_04_html", html);
    insta::assert_snapshot!("gate_04_md", md);
}

#[test]
fn a_report_needs_a_format_and_a_known_sprint() {
    let plan = example_plan();
    let out = report(&["report", "gate", "04", "--plan", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--html"), "{}", stderr(&out));
    let out = report(&[
        "report",
        "gate",
        "99",
        "--plan",
        plan.to_str().unwrap(),
        "--md",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("sprint"), "{}", stderr(&out));
}

#[test]
fn the_markdown_goes_to_stdout_with_a_dash() {
    let plan = example_plan();
    let out = report(&[
        "report",
        "gate",
        "5",
        "--plan",
        plan.to_str().unwrap(),
        "--md",
        "-",
        "--today",
        "2026-11-17",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("# Gate evidence: sprint 05 "), "{md}");
    assert!(md.contains("**Verdict: AT RISK**"));
    assert!(md.contains("- Today: 2026-11-17 (day 2 of the sprint)"));
}

#[test]
fn the_package_carries_each_storys_handoff_timeline() {
    let plan = super::packs::copy_plan();
    let app = App::open(plan.path()).unwrap();
    let contract = super::handoffs::valid_contract(&app, "SRE-04-04");
    let outcome = app.record_handoff(&contract).unwrap();
    assert!(outcome.recorded, "{outcome:?}");
    let out = report(&[
        "report",
        "gate",
        "04",
        "--plan",
        plan.path().to_str().unwrap(),
        "--md",
        "-",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    // The Markdown, then the package as JSON.
    let (md, json) = text.split_at(text.find("\n{").unwrap() + 1);
    assert!(
        md.contains(&format!(
            "## Handoffs\n\n### SRE-04-04\n\n1. `{}` done, ",
            super::util::record_id(plan.path(), "SRE-04-04", 1)
        )),
        "{md}"
    );
    assert!(md.contains("| SRE-04-04 Tune worker autoscaling and per-tenant rate limits | done |"));
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let timeline = v["timelines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["story_id"] == "SRE-04-04")
        .unwrap();
    assert_eq!(
        timeline["handoffs"][0]["id"],
        super::util::record_id(plan.path(), "SRE-04-04", 1)
    );
    assert_eq!(timeline["handoffs"][0]["status"], "done");
    assert_eq!(v["generated_at"], NOW);
    assert_eq!(v["report"]["verdict"], "fail");
}
