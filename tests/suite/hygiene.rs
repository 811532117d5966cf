//! Hostile file systems and hostile references: FIFOs named like plan files (never opened,
//! never waited on), evidence that only looks like a URL, file names with control
//! characters (escaped in text, exact in JSON, percent-encoded in resource URIs) and logs
//! without colour codes when no terminal reads them.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rmcp::model::{ReadResourceRequestParams, ResourceContents, SubscribeRequestParams};
use rmcp::service::{NotificationContext, RoleClient};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use storypack::app::App;
use storypack::mcp::{self, PlanHandle};

use super::handoffs::valid_contract;
use super::packs::copy_plan;
use super::util::example_plan;

/// Generous: a command that finishes at all finishes well within this. A hang fails the
/// test instead of stalling the suite.
const WAIT: Duration = Duration::from_secs(60);

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// What one run of the binary printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` (and `env`), output to files, killing it if it is still
/// running after [`WAIT`]: a run that hangs fails here, naming the command.
fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let (o, e) = (out.path().join("out"), out.path().join("err"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_storypack"));
    cmd.args(args)
        .env_remove("STORYPACK_LOG")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&o).unwrap())
        .stderr(fs::File::create(&e).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let until = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("storypack {args:?} did not finish (waiting on a FIFO?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&fs::read(&o).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&fs::read(&e).unwrap()).into_owned(),
    }
}

/// The diagnostics of `lint --json` as (code, path, message).
fn lint_json(root: &Path) -> Vec<(String, String, String)> {
    let r = run(&["lint", "--json", "--plan", root.to_str().unwrap()], &[]);
    assert!(matches!(r.code, Some(0 | 1)), "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap().to_string();
            (s("code"), s("path"), s("message"))
        })
        .collect()
}

fn not_regular(path: &str, then: &str) -> (String, String, String) {
    (
        "not-regular".into(),
        path.into(),
        format!("not a regular file: a FIFO; {then}"),
    )
}

#[test]
fn fifos_named_like_plan_files_are_skipped_with_a_diagnostic_not_waited_on() {
    let plan = copy_plan();
    let root = plan.path();
    fs::remove_file(root.join("storypack.toml")).unwrap();
    mkfifo(&root.join("storypack.toml"));
    mkfifo(&root.join("docs/03-backlog/pipe.md"));
    fs::create_dir_all(root.join("packs")).unwrap();
    mkfifo(&root.join("packs/pipe.toml"));

    let diags = lint_json(root);
    for want in [
        not_regular("storypack.toml", "defaults used"),
        not_regular("docs/03-backlog/pipe.md", "skipped"),
        not_regular("packs/pipe.toml", "skipped"),
    ] {
        assert!(diags.contains(&want), "{want:?} not in {diags:#?}");
    }
    // The rest of the plan is read as before.
    let r = run(
        &["pack", "SRE-04-01", "--plan", root.to_str().unwrap()],
        &[],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("# Context pack: SRE-04-01"));

    // A roadmap file the config names, a FIFO: the same.
    fs::remove_file(root.join("storypack.toml")).unwrap();
    fs::write(
        root.join("storypack.toml"),
        "roadmap = [\"extra/roadmap.md\"]\n",
    )
    .unwrap();
    fs::create_dir_all(root.join("extra")).unwrap();
    mkfifo(&root.join("extra/roadmap.md"));
    let diags = lint_json(root);
    assert!(
        diags.contains(&not_regular("extra/roadmap.md", "skipped")),
        "{diags:#?}"
    );
}

#[tokio::test]
async fn serve_starts_on_a_plan_whose_config_is_a_fifo() {
    let plan = copy_plan();
    fs::remove_file(plan.path().join("storypack.toml")).unwrap();
    mkfifo(&plan.path().join("storypack.toml"));
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_storypack"));
    cmd.args(["serve", "--no-watch", "--plan"])
        .arg(plan.path())
        .env_remove("STORYPACK_LOG")
        .kill_on_drop(true);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let resources = tokio::time::timeout(WAIT, async {
        let client = ().serve(transport).await.unwrap();
        let resources = client.list_all_resources().await.unwrap();
        client.cancel().await.unwrap();
        resources
    })
    .await
    .expect("the server answers (it did not wait on the FIFO)");
    assert!(
        resources
            .iter()
            .any(|r| r.name.ends_with("sprint-04-devops-sre-engineer.md"))
    );
}

/// A client that reports the resources it hears are updated.
#[derive(Clone)]
struct Updates(mpsc::UnboundedSender<String>);

impl ClientHandler for Updates {
    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params.uri);
    }
}

#[tokio::test]
#[allow(deprecated)] // resources/subscribe: the session lifecycle every client uses today
async fn a_fifo_appearing_under_a_live_server_is_logged_once_and_reload_goes_on() {
    let plan = copy_plan();
    let root = plan.path();
    let logs = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_storypack"));
    cmd.args(["serve", "--plan"])
        .arg(root)
        .env("STORYPACK_LOG", "warn")
        .kill_on_drop(true);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::from(logs.reopen().unwrap()))
        .spawn()
        .unwrap();
    let (tx, mut updates) = mpsc::unbounded_channel();
    let client = tokio::time::timeout(WAIT, Updates(tx).serve(transport))
        .await
        .unwrap()
        .unwrap();
    let backlog = "docs/03-backlog/sprint-04-devops-sre-engineer.md";
    let uri = format!("storypack://plan/{backlog}");
    client
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();

    let fifo = root.join("docs/03-backlog/pipe.md");
    mkfifo(&fifo);
    // More events on the FIFO, in later batches than its creation.
    for mode in [0o600, 0o644] {
        tokio::time::sleep(Duration::from_millis(500)).await;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&fifo, fs::Permissions::from_mode(mode)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let path = root.join(backlog);
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replace("worker runtime", "worker engine")).unwrap();
    let heard = tokio::time::timeout(WAIT, async {
        loop {
            let u = updates.recv().await.unwrap();
            if u == uri {
                return u;
            }
        }
    })
    .await
    .expect("the edit after the FIFO is still reloaded and announced");
    assert_eq!(heard, uri);
    let read = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    assert!(
        serde_json::to_string(&read)
            .unwrap()
            .contains("worker engine")
    );
    client.cancel().await.unwrap();

    let logs = fs::read_to_string(logs.path()).unwrap();
    let warned: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("not a regular file"))
        .collect();
    assert_eq!(warned.len(), 1, "{logs}");
    assert!(
        warned[0].contains("pipe.md") && warned[0].contains("a FIFO"),
        "{logs}"
    );
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in a log file: {logs:?}"
    );
}

#[test]
fn evidence_that_merely_contains_a_scheme_separator_is_a_path_and_checked() {
    let plan = copy_plan();
    let root = plan.path();
    let arg = root.to_str().unwrap();
    let app = App::open(root).unwrap();
    let store = root.join(".storypack/handoffs");
    let write = |name: &str, contract: &Value| {
        let p = root.join(name);
        fs::write(&p, serde_json::to_vec(contract).unwrap()).unwrap();
        p.to_string_lossy().into_owned()
    };

    let hostile = "../../../../etc/passwd#://";
    let mut contract = valid_contract(&app, "SRE-04-01");
    contract["evidence"] = json!([{"kind": "file", "ref": hostile}]);
    contract["acceptance"][0]["evidence"] = json!([hostile]);
    let file = write("hostile.json", &contract);
    let r = run(&["handoff", "record", &file, "--plan", arg, "--json"], &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["recorded"], false);
    let problems = v["validation"]["problems"].as_array().unwrap();
    for pointer in ["/evidence/0/ref", "/acceptance/0/evidence/0"] {
        let p = problems
            .iter()
            .find(|p| p["pointer"] == pointer)
            .unwrap_or_else(|| panic!("no problem at {pointer}: {problems:#?}"));
        assert_eq!(p["severity"], "error");
        assert!(
            p["message"]
                .as_str()
                .unwrap()
                .contains("outside the plan root"),
            "{p}"
        );
    }
    assert!(!store.exists(), "nothing recorded");

    // A FIFO cited as a test report: refused, not waited on.
    mkfifo(&root.join("report.xml"));
    let mut contract = valid_contract(&app, "SRE-04-01");
    contract["evidence"] = json!([{"kind": "test", "ref": "report.xml"}]);
    let file = write("fifo.json", &contract);
    let r = run(&["handoff", "validate", &file, "--plan", arg], &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stdout.contains(
            "error at /evidence/0/ref: junit report `report.xml` is not a regular file: a FIFO"
        ),
        "{}",
        r.stdout
    );

    // A real link is still external: recorded, even as done.
    let mut contract = valid_contract(&app, "SRE-04-01");
    contract["evidence"] = json!([
        {"kind": "file", "ref": "https://ci.example.com/atlas/runs/4211"},
        {"kind": "url", "ref": "https://ci.example.com/atlas/runs/4212"}
    ]);
    let file = write("link.json", &contract);
    let r = run(&["handoff", "record", &file, "--plan", arg, "--json"], &[]);
    assert_eq!(r.code, Some(0), "{}", r.stdout);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["recorded"], true);
    assert_eq!(
        v["record"]["id"],
        super::util::record_id(root, "SRE-04-01", 1)
    );
}

#[test]
fn gate_evidence_is_a_path_unless_it_is_a_link_and_a_fifo_fails_unopened() {
    let plan = copy_plan();
    let root = plan.path();
    let gate = root.join("docs/00-governance/gates/sprint-00-architecture-gate.md");
    let text = fs::read_to_string(&gate).unwrap();
    let cited = "evidence: docs/evidence/sprint-00/sre-00-04.md";
    assert!(text.contains(cited));
    mkfifo(&root.join("docs/evidence/fifo.xml"));
    let hostile =
        "evidence: ../../../../etc/passwd#://, https://ci.example.com/r/1, docs/evidence/fifo.xml";
    fs::write(&gate, text.replace(cited, hostile)).unwrap();
    // The binary, so that a read waiting on the FIFO fails the test instead of hanging it.
    let r = run(
        &[
            "gate",
            "00",
            "--today",
            "2026-11-24",
            "--json",
            "--plan",
            root.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let item = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["text"]
                .as_str()
                .unwrap()
                .starts_with("Incident escalation baseline")
        })
        .unwrap();
    let states: Vec<(&str, Value, Option<&str>)> = item["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["ref"].as_str().unwrap(),
                e["state"].clone(),
                e["detail"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("../../../../etc/passwd#://", json!("outside_root"), None),
            ("https://ci.example.com/r/1", json!("external"), None),
            (
                "docs/evidence/fifo.xml",
                json!("failed"),
                Some("`docs/evidence/fifo.xml` is not a regular file: a FIFO")
            ),
        ]
    );
    let reasons = report["reasons"].to_string();
    assert!(
        reasons.contains("cites ../../../../etc/passwd#:// outside the plan root"),
        "{reasons}"
    );
}

#[test]
fn control_characters_in_file_names_are_escaped_in_text_and_exact_in_json() {
    let plan = copy_plan();
    let root = plan.path();
    let forged = "bad\nerror [forged]: \u{1b}[2Jgotcha.md";
    fs::write(root.join("docs/03-backlog").join(forged), b"# T\ncaf\xe9\n").unwrap();
    let arg = root.to_str().unwrap();

    let r = run(&["lint", "--plan", arg], &[]);
    let want =
        "docs/03-backlog/bad\\nerror [forged]: \\u{1b}[2Jgotcha.md:2: error [not-utf8]: not UTF-8";
    assert!(r.stdout.contains(want), "{}", r.stdout);
    assert!(!r.stdout.contains('\u{1b}'), "{:?}", r.stdout);
    assert!(
        !r.stdout.lines().any(|l| l.starts_with("error [forged]")),
        "a forged line: {}",
        r.stdout
    );

    let diags = lint_json(root);
    let exact = format!("docs/03-backlog/{forged}");
    assert!(
        diags
            .iter()
            .any(|(code, path, _)| code == "not-utf8" && *path == exact),
        "{diags:#?}"
    );
}

#[tokio::test]
async fn resource_uris_are_percent_encoded_and_read_back() {
    let plan = copy_plan();
    let root = plan.path();
    let name = "docs/03-backlog/odd\nname é%#?.md";
    fs::write(root.join(name), "# Odd\n\nA note with an odd file name.\n").unwrap();
    let handle = PlanHandle::open(root).unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let running = mcp::serve(handle, server_io).await.unwrap();
        let _ = running.waiting().await;
    });
    let client = ().serve(client_io).await.unwrap();
    let resources = client.list_all_resources().await.unwrap();
    let odd = resources
        .iter()
        .find(|r| r.name == name)
        .expect("the odd document is listed by its exact path");
    assert_eq!(
        odd.uri,
        "storypack://plan/docs/03-backlog/odd%0Aname%20%C3%A9%25%23%3F.md"
    );
    // Every listed URI is plain ASCII without spaces or controls, and reads back.
    for r in &resources {
        assert!(r.uri.bytes().all(|b| b.is_ascii_graphic()), "{:?}", r.uri);
    }
    let read = client
        .read_resource(ReadResourceRequestParams::new(odd.uri.clone()))
        .await
        .unwrap();
    match &read.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => {
            assert_eq!(text, "# Odd\n\nA note with an odd file name.\n")
        }
        other => panic!("text expected, got {other:?}"),
    }
    // Traversal is still refused, encoded or not.
    for bad in [
        "storypack://plan/docs/03-backlog/%0A/../../x.md",
        "storypack://plan/%2e%2e/etc/passwd",
        "storypack://plan/docs/%00x.md",
    ] {
        assert!(
            client
                .read_resource(ReadResourceRequestParams::new(bad))
                .await
                .is_err(),
            "{bad}"
        );
    }
    client.cancel().await.unwrap();
}

#[test]
fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let plan = example_plan();
    let r = run(
        &["lint", "--plan", plan.to_str().unwrap()],
        &[("STORYPACK_LOG", "debug")],
    );
    assert!(r.stderr.contains("plan read and parsed"), "{}", r.stderr);
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
}

#[test]
fn fifos_in_storypacks_own_folders_are_refused_not_waited_on() {
    let plan = super::packs::copy_plan();
    let p = plan.path();
    let root = p.to_str().unwrap();
    // A written pack that is a FIFO: unreadable, listed as such.
    fs::create_dir_all(p.join(".storypack/packs")).unwrap();
    mkfifo(&p.join(".storypack/packs/SRE-04-01.json"));
    let r = run(&["pack", "--check", "--json", "--plan", root], &[]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        v["unreadable"][0]
            .as_str()
            .is_some_and(|u| u.ends_with("SRE-04-01.json")),
        "{v}"
    );
    // A handoff record that is a FIFO: an error naming it, at once.
    fs::create_dir_all(p.join(".storypack/handoffs/SRE-04-01")).unwrap();
    mkfifo(&p.join(".storypack/handoffs/SRE-04-01/1.json"));
    let r = run(&["handoff", "list", "--plan", root], &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("not a regular file: a FIFO"),
        "{}",
        r.stderr
    );
    // The other stories' states still read; the bad record is named in the log.
    let r = run(
        &["stories", "--sprint", "04", "--json", "--plan", root],
        &[("STORYPACK_LOG", "warn")],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("\"state\""), "{}", r.stdout);
    assert!(r.stderr.contains("SRE-04-01"), "{}", r.stderr);
}
