//! Done means verified: JUnit reports and commits cited as evidence are checked, in handoff
//! validation (the CLI, the MCP server over stdio) and in gates. Reports come from
//! `tests/fixtures/junit/`; commits from a real repository made with the `git` binary.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use storypack::app::App;

use super::handoffs::valid_contract;
use super::packs::copy_dir;
use super::util::{example_plan, fixture, stderr, stdout};

const STORY: &str = "SRE-04-01";
/// Not a commit of any repository these tests make.
const ABSENT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A folder holding a copy of the example plan at `plan/`, with the JUnit fixtures under
/// `plan/reports/`. The folder itself is the git repository when a test makes one, so the
/// plan root is a subfolder of it.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan");
        copy_dir(&example_plan(), &plan);
        fs::create_dir_all(plan.join("reports")).unwrap();
        for name in ["passing", "failing", "zero", "malformed"] {
            fs::copy(
                fixture(&format!("junit/{name}.xml")),
                plan.join(format!("reports/{name}.xml")),
            )
            .unwrap();
        }
        fs::write(plan.join("reports/pom.xml"), "<project><x/></project>\n").unwrap();
        Workspace { dir }
    }

    fn plan(&self) -> PathBuf {
        self.dir.path().join("plan")
    }

    /// Makes the workspace a git repository with everything committed; returns HEAD.
    fn commit_all(&self) -> String {
        git(self.dir.path(), &["init", "-q"]);
        git(self.dir.path(), &["add", "-A"]);
        git(self.dir.path(), &["commit", "-q", "-m", "plan"]);
        git(self.dir.path(), &["rev-parse", "HEAD"])
    }

    /// Runs the binary on the plan. Git never looks above the workspace, so "not a
    /// repository" holds wherever the temp folder is.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_storypack"));
        cmd.args(args)
            .arg("--plan")
            .arg(self.plan())
            .env_remove("STORYPACK_LOG")
            .env("GIT_CEILING_DIRECTORIES", self.dir.path().parent().unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// `storypack handoff validate|record FILE --json`: (exit code, JSON).
    fn handoff(&self, action: &str, contract: &Value, env: &[(&str, &str)]) -> (i32, Value) {
        let file = self.dir.path().join("contract.json");
        fs::write(&file, contract.to_string()).unwrap();
        let out = self.run(&["handoff", action, file.to_str().unwrap(), "--json"], env);
        let json = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("{e}: {} / {}", stdout(&out), stderr(&out)));
        (out.status.code().unwrap(), json)
    }

    fn recorded(&self) -> usize {
        fs::read_dir(self.plan().join(".storypack/handoffs").join(STORY))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "storypack tests")
        .env("GIT_AUTHOR_EMAIL", "tests@example.com")
        .env("GIT_COMMITTER_NAME", "storypack tests")
        .env("GIT_COMMITTER_EMAIL", "tests@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A done contract for [`STORY`] that passes every rule, plus `extra` evidence entries. The
/// extra entries are at `/evidence/{first}...`, where `first` is returned.
fn contract_with(plan: &Path, extra: &[Value]) -> (Value, usize) {
    let app = App::open(plan).unwrap();
    let mut c = valid_contract(&app, STORY);
    let evidence = c["evidence"].as_array_mut().unwrap();
    let first = evidence.len();
    evidence.extend(extra.iter().cloned());
    (c, first)
}

/// (pointer, severity, message) of every problem.
fn problems(v: &Value) -> Vec<(String, String, String)> {
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["pointer"].as_str().unwrap().to_string(),
                p["severity"].as_str().unwrap().to_string(),
                p["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn at(v: &Value, pointer: &str) -> Vec<(String, String)> {
    problems(v)
        .into_iter()
        .filter(|p| p.0 == pointer)
        .map(|p| (p.1, p.2))
        .collect()
}

fn error(message: &str) -> Vec<(String, String)> {
    vec![("error".to_string(), message.to_string())]
}

fn warning(message: &str) -> Vec<(String, String)> {
    vec![("warning".to_string(), message.to_string())]
}

#[test]
fn a_done_handoff_needs_passing_junit_reports_and_says_why_each_fails_in_one_round() {
    let ws = Workspace::new();
    let test = |r: &str| json!({"kind": "test", "ref": r});
    let (mut c, n) = contract_with(
        &ws.plan(),
        &[
            test("reports/passing.xml"),
            test("reports/failing.xml"),
            test("reports/zero.xml"),
            test("reports/malformed.xml"),
            test("reports/pom.xml"),
            test("reports/nowhere.xml"),
            test("../outside.xml"),
            // A test name, not a report: nothing to check.
            test("workers::pool::size_is_read_per_environment"),
            // A file that turns out to be a JUnit report is checked as one.
            json!({"kind": "file", "ref": "reports/failing.xml"}),
            // Any other XML file is just a file.
            json!({"kind": "file", "ref": "reports/pom.xml"}),
        ],
    );
    c["acceptance"][0]["evidence"] = json!(["reports/zero.xml"]);
    let (code, v) = ws.handoff("validate", &c, &[]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["valid"], false);
    let p = |i: usize| format!("/evidence/{}/ref", n + i);
    let failing = "junit report `reports/failing.xml`: 2 of 40 tests failed (first: \
                   `storage::writes_are_atomic`)";
    assert!(at(&v, &p(0)).is_empty(), "{v:#}");
    assert_eq!(at(&v, &p(1)), error(failing));
    assert_eq!(
        at(&v, &p(2)),
        error("junit report `reports/zero.xml`: ran 0 tests")
    );
    assert_eq!(
        at(&v, &p(3)),
        error("junit report `reports/malformed.xml` ends before </testsuite> closes")
    );
    assert_eq!(
        at(&v, &p(4)),
        error(
            "`reports/pom.xml` is not a JUnit XML report: it has the root element <project>, \
             not <testsuites> or <testsuite>"
        )
    );
    assert_eq!(
        at(&v, &p(5)),
        error("junit report `reports/nowhere.xml` does not exist under the plan root")
    );
    assert_eq!(
        at(&v, &p(6)),
        error("junit report `../outside.xml` is outside the plan root")
    );
    assert!(at(&v, &p(7)).is_empty());
    assert_eq!(at(&v, &p(8)), error(failing));
    assert!(at(&v, &p(9)).is_empty());
    assert_eq!(
        at(&v, "/acceptance/0/evidence/0"),
        error("junit report `reports/zero.xml`: ran 0 tests")
    );
    // Every problem in that one round, and no other.
    assert_eq!(problems(&v).len(), 8, "{v:#}");

    // Recording it is refused, and nothing is written.
    let (code, r) = ws.handoff("record", &c, &[]);
    assert_eq!((code, &r["recorded"]), (1, &json!(false)), "{r:#}");
    assert_eq!(ws.recorded(), 0);

    // Before done, a failing report is a warning and the handoff is recorded; a report
    // outside the root stays an error whatever the status.
    c["status"] = json!("ready_for_review");
    let (code, v) = ws.handoff("validate", &c, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        at(&v, &p(1)),
        warning(&format!("{failing} (an error once status is done)"))
    );
    assert_eq!(
        problems(&v)
            .iter()
            .filter(|p| p.1 == "error")
            .map(|p| p.0.as_str())
            .collect::<Vec<_>>(),
        [p(6)]
    );
    c["evidence"].as_array_mut().unwrap().remove(n + 6);
    let (code, r) = ws.handoff("record", &c, &[]);
    assert_eq!((code, &r["recorded"]), (0, &json!(true)), "{r:#}");
    assert_eq!(ws.recorded(), 1);

    // Done with the passing report alone: valid, no problem.
    let (c, _) = contract_with(&ws.plan(), &[test("reports/passing.xml")]);
    let (code, v) = ws.handoff("record", &c, &[]);
    assert_eq!((code, &v["recorded"]), (0, &json!(true)), "{v:#}");
    assert!(problems(&v["validation"]).is_empty(), "{v:#}");
}

#[test]
fn a_commit_must_be_in_the_plan_repositorys_history_when_there_is_one() {
    let ws = Workspace::new();
    let commit = |r: &str| json!({"kind": "commit", "ref": r});
    let hostile = "--output=../pwned";
    let (c, n) = contract_with(&ws.plan(), &[commit("4f2a9c1")]);
    let p = format!("/evidence/{n}/ref");

    // Not a repository: cannot be checked, which is a warning and not a failure.
    let (code, v) = ws.handoff("validate", &c, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(
        at(&v, &p),
        warning("commit `4f2a9c1` not checked: the plan root is not in a git repository")
    );

    // No git at all: the same, saying so.
    let empty = tempfile::tempdir().unwrap();
    let (code, v) = ws.handoff("validate", &c, &[("PATH", empty.path().to_str().unwrap())]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(
        at(&v, &p),
        warning("commit `4f2a9c1` not checked: git is not installed (no `git` on PATH)")
    );

    // In a repository (the plan root is a subfolder of it).
    let head = ws.commit_all();
    let short = &head[..10];
    let (mut c, n) = contract_with(
        &ws.plan(),
        &[
            commit(short),
            commit(ABSENT),
            commit(hostile),
            commit("main"),
        ],
    );
    c["acceptance"][1]["evidence"] = json!([format!("commit:{ABSENT}")]);
    let (code, v) = ws.handoff("validate", &c, &[]);
    assert_eq!(code, 1, "{v:#}");
    let p = |i: usize| format!("/evidence/{}/ref", n + i);
    assert!(at(&v, &p(0)).is_empty(), "{v:#}");
    let absent = format!("commit `{ABSENT}` is not in the plan repository's history");
    assert_eq!(at(&v, &p(1)), error(&absent));
    assert_eq!(
        at(&v, &p(2)),
        error("commit `--output=../pwned` is not a commit id (7 to 64 hex digits)")
    );
    assert_eq!(
        at(&v, &p(3)),
        error("commit `main` is not a commit id (7 to 64 hex digits)")
    );
    assert_eq!(at(&v, "/acceptance/1/evidence/0"), error(&absent));
    assert_eq!(problems(&v).len(), 4, "{v:#}");
    assert!(!ws.dir.path().join("pwned").exists());

    // Recording refused; the existing commit alone records.
    let (code, _) = ws.handoff("record", &c, &[]);
    assert_eq!((code, ws.recorded()), (1, 0));
    let (c, _) = contract_with(&ws.plan(), &[commit(&head)]);
    let (code, r) = ws.handoff("record", &c, &[]);
    assert_eq!((code, &r["recorded"]), (0, &json!(true)), "{r:#}");
    assert!(problems(&r["validation"]).is_empty(), "{r:#}");

    // Blocked: a missing commit is a warning.
    let (mut c, n) = contract_with(&ws.plan(), &[commit(ABSENT)]);
    c["status"] = json!("blocked");
    c["risks"] = json!([{"text": "waiting on review", "severity": "low"}]);
    let (code, v) = ws.handoff("validate", &c, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(
        at(&v, &format!("/evidence/{n}/ref")),
        warning(&format!("{absent} (an error once status is done)"))
    );
}

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// The real binary serving the plan over stdio, and an rmcp client on it.
async fn serve(plan: &Path) -> Client {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_storypack"));
    cmd.args(["serve", "--no-watch", "--plan"])
        .arg(plan)
        .env_remove("STORYPACK_LOG");
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    ().serve(transport).await.unwrap()
}

async fn call(client: &Client, tool: &'static str, args: Value) -> CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn the_mcp_server_checks_reports_and_commits_when_validating_and_recording() {
    let ws = Workspace::new();
    let head = ws.commit_all();
    let client = serve(&ws.plan()).await;

    let (bad, n) = contract_with(
        &ws.plan(),
        &[
            json!({"kind": "test", "ref": "reports/failing.xml"}),
            json!({"kind": "commit", "ref": ABSENT}),
        ],
    );
    let r = call(
        &client,
        "record_handoff",
        json!({"contract": bad, "dry_run": true}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "a report, not a failure");
    let v = r.structured_content.unwrap()["validation"].clone();
    assert_eq!(v["valid"], false);
    assert_eq!(
        at(&v, &format!("/evidence/{n}/ref")),
        error(
            "junit report `reports/failing.xml`: 2 of 40 tests failed (first: \
             `storage::writes_are_atomic`)"
        )
    );
    assert_eq!(
        at(&v, &format!("/evidence/{}/ref", n + 1)),
        error(&format!(
            "commit `{ABSENT}` is not in the plan repository's history"
        ))
    );
    let r = call(&client, "record_handoff", json!({"contract": bad})).await;
    assert_eq!(r.is_error, Some(true), "not recorded");
    assert_eq!(r.structured_content.unwrap()["recorded"], false);
    assert_eq!(ws.recorded(), 0);

    let (good, _) = contract_with(
        &ws.plan(),
        &[
            json!({"kind": "test", "ref": "reports/passing.xml"}),
            json!({"kind": "commit", "ref": head}),
        ],
    );
    let r = call(&client, "record_handoff", json!({"contract": good})).await;
    let v = r.structured_content.unwrap();
    assert_eq!(v["recorded"], true, "{v:#}");
    assert_eq!(v["validation"]["problems"], json!([]));
    assert_eq!(ws.recorded(), 1);
    client.cancel().await.unwrap();
}

/// Adds a checked item citing `evidence` to sprint 01's gate checklist.
fn add_gate_item(plan: &Path, evidence: &str) {
    let path = plan.join("docs/00-governance/gates/sprint-01-ci-cd-gate.md");
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "- [x] Unit tests green on main - evidence: {evidence}\n"
    ));
    fs::write(&path, text).unwrap();
}

/// Records a valid handoff for each of sprint 01's stories (the gate needs them to pass).
fn hand_off_sprint_01(plan: &Path) {
    let app = App::open(plan).unwrap();
    let ids: Vec<String> = app
        .plan()
        .stories
        .iter()
        .filter(|s| s.sprint.as_deref() == Some("01"))
        .map(|s| s.id.clone())
        .collect();
    for id in ids {
        assert!(
            app.record_handoff(&valid_contract(&app, &id))
                .unwrap()
                .recorded
        );
    }
}

fn gate(ws: &Workspace) -> (i32, Value) {
    let out = ws.run(&["gate", "01", "--today", "2026-11-24", "--json"], &[]);
    (
        out.status.code().unwrap(),
        serde_json::from_str(&stdout(&out)).unwrap(),
    )
}

/// The evidence of the last checklist item: (ref, state, detail).
fn last_item(report: &Value) -> Vec<(String, String, Option<String>)> {
    let items = report["items"].as_array().unwrap();
    items.last().unwrap()["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["ref"].as_str().unwrap().to_string(),
                e["state"].as_str().unwrap().to_string(),
                e["detail"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_fails_on_a_failing_report_or_a_missing_commit_and_passes_on_verified_ones() {
    let ws = Workspace::new();
    hand_off_sprint_01(&ws.plan());
    let checklist = ws
        .plan()
        .join("docs/00-governance/gates/sprint-01-ci-cd-gate.md");
    let original = fs::read_to_string(&checklist).unwrap();

    // Not a repository: a commit cannot be checked; that alone does not change the verdict.
    add_gate_item(&ws.plan(), "reports/passing.xml, commit:4f2a9c1");
    let (code, r) = gate(&ws);
    assert_eq!((code, &r["verdict"]), (0, &json!("pass")), "{r:#}");
    assert_eq!(
        last_item(&r),
        [
            (
                "reports/passing.xml".into(),
                "verified".into(),
                Some("junit report `reports/passing.xml`: 5 tests passed, 1 skipped".into())
            ),
            (
                "commit:4f2a9c1".into(),
                "unchecked".into(),
                Some(
                    "commit `4f2a9c1` not checked: the plan root is not in a git repository".into()
                )
            )
        ]
    );

    // In a repository: HEAD (bare or with the prefix) is verified.
    let head = ws.commit_all();
    fs::write(&checklist, &original).unwrap();
    add_gate_item(
        &ws.plan(),
        &format!("reports/passing.xml, {}, commit:{head}", &head[..8]),
    );
    let (code, r) = gate(&ws);
    assert_eq!((code, &r["verdict"]), (0, &json!("pass")), "{r:#}");
    let states: Vec<String> = last_item(&r).into_iter().map(|e| e.1).collect();
    assert_eq!(states, ["verified", "verified", "verified"]);
    let text = ws.run(&["gate", "01", "--today", "2026-11-24"], &[]);
    assert!(
        stdout(&text).contains(&format!(
            "verified     commit:{head}: commit `{head}` is in the history"
        )),
        "{}",
        stdout(&text)
    );

    // A failing report, an empty one and a missing commit each fail the gate, by name.
    fs::write(&checklist, &original).unwrap();
    add_gate_item(
        &ws.plan(),
        &format!(
            "reports/failing.xml, reports/zero.xml, reports/malformed.xml, {ABSENT}, \
             docs/evidence/none.md"
        ),
    );
    let (code, r) = gate(&ws);
    assert_eq!((code, &r["verdict"]), (1, &json!("fail")), "{r:#}");
    let line = original.lines().count() + 1;
    let at = format!("docs/00-governance/gates/sprint-01-ci-cd-gate.md:{line}");
    assert_eq!(
        r["reasons"],
        json!([
            format!(
                "{at}: \"Unit tests green on main\" is checked but its evidence fails: junit \
                 report `reports/failing.xml`: 2 of 40 tests failed (first: \
                 `storage::writes_are_atomic`)"
            ),
            format!(
                "{at}: \"Unit tests green on main\" is checked but its evidence fails: junit \
                 report `reports/zero.xml`: ran 0 tests"
            ),
            format!(
                "{at}: \"Unit tests green on main\" is checked but its evidence fails: junit \
                 report `reports/malformed.xml` ends before </testsuite> closes"
            ),
            format!(
                "{at}: \"Unit tests green on main\" is checked but its evidence fails: commit \
                 `{ABSENT}` is not in the plan repository's history"
            ),
            format!(
                "{at}: \"Unit tests green on main\" is checked but its evidence \
                 docs/evidence/none.md does not exist"
            ),
        ])
    );
    let states: Vec<String> = last_item(&r).into_iter().map(|e| e.1).collect();
    assert_eq!(states, ["failed", "failed", "failed", "failed", "missing"]);
    let text = stdout(&ws.run(&["gate", "01", "--today", "2026-11-24"], &[]));
    assert!(
        text.contains(
            "failed       reports/zero.xml: junit report `reports/zero.xml`: ran 0 tests"
        ),
        "{text}"
    );

    // The MCP tool gives the same items (and, by the server's date, well after the
    // sprint's end, the same verdict).
    let client = serve(&ws.plan()).await;
    let m = call(&client, "check_gate", json!({"sprint": "01"}))
        .await
        .structured_content
        .unwrap();
    assert_eq!(m["verdict"], "fail");
    assert_eq!(m["items"], r["items"]);
    assert_eq!(m["reasons"], r["reasons"]);
    client.cancel().await.unwrap();
}
