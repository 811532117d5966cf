//! `storypack sync`: the real binary on copies of the plan-style fixtures, with handoffs
//! recorded through `storypack handoff record`. The diff, `--write` changing exactly the
//! expected bytes (CRLF included), re-runs finding nothing, and a file edited between the
//! read and the write refused.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use storypack::app::App;

use super::handoffs::valid_contract;
use super::packs::copy_dir;
use super::util::{fixture, stderr, stdout};

fn run(plan: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args(args)
        .arg("--plan")
        .arg(plan)
        .env_remove("STORYPACK_LOG")
        .env_remove("STORYPACK_TEST_SYNC_PAUSE")
        .output()
        .expect("run storypack")
}

/// A copy of `tests/fixtures/plans/<name>`.
fn copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture("plans").join(name), dir.path());
    dir
}

/// Records a valid handoff with `status` for each story, through the binary.
fn record(plan: &Path, ids: &[&str], status: &str) {
    let app = App::open(plan).unwrap();
    for id in ids {
        let mut contract = valid_contract(&app, id);
        contract["status"] = status.into();
        if contract["from"]["role"].is_null() {
            contract["from"]["role"] = "developer".into();
        }
        let file = plan.join(format!("contract-{id}.json"));
        fs::write(&file, contract.to_string()).unwrap();
        let out = run(plan, &["handoff", "record", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{id}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        fs::remove_file(file).unwrap();
    }
}

/// Every file of the plan (the handoff record left out), path -> bytes.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().is_some_and(|n| n == ".storypack") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// `text` with each `(old, new)` replaced exactly once (each `old` must occur once).
fn replaced(text: &str, pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = text.to_string();
    for (old, new) in pairs {
        assert_eq!(out.matches(old).count(), 1, "`{old}` is not unique");
        out = out.replacen(old, new, 1);
    }
    out.into_bytes()
}

/// The three fixtures, the handoffs recorded in them and the lines `--write` must change.
struct Case {
    name: &'static str,
    done: &'static [&'static str],
    file: &'static str,
    edits: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "per-role",
        done: &["API-4", "MOB-8"],
        file: "03-backlog/backlog.md",
        edits: &[
            ("- [ ] API-4 Arrival", "- [x] API-4 Arrival"),
            ("- [ ] MOB-8 Push", "- [x] MOB-8 Push"),
        ],
    },
    Case {
        name: "heading-stories",
        done: &["PAY-31"],
        file: "docs/03-backlog/backlog.md",
        edits: &[("**Status:** In review", "**Status:** Done")],
    },
    Case {
        name: "tables",
        done: &["FLT-5", "FLT-6"],
        file: "docs/03-backlog/backlog.md",
        edits: &[
            ("| In progress | Frontend |", "| Done        | Frontend |"),
            (
                "one tap | To do | Frontend |",
                "one tap | Done  | Frontend |",
            ),
        ],
    },
];

#[test]
fn sync_diffs_then_writes_exactly_the_expected_lines_in_every_story_style() {
    let mut shown = String::new();
    for case in CASES {
        let plan = copy(case.name);
        let root = plan.path();
        let before = files(root);
        assert_eq!(run(root, &["sync"]).status.code(), Some(0), "{}", case.name);
        record(root, case.done, "done");

        let out = run(root, &["sync"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        shown.push_str(&format!("==== {}\n{}", case.name, stdout(&out)));
        assert_eq!(files(root), before, "the diff mode wrote something");

        // The printed diff is a real one: git applies it to a copy.
        let applied = copy(case.name);
        fs::write(applied.path().join("sync.diff"), &out.stdout).unwrap();
        let git = Command::new("git")
            .args(["apply", "sync.diff"])
            .current_dir(applied.path())
            .output()
            .expect("git");
        assert!(git.status.success(), "{}", stderr(&git));

        let out = run(root, &["sync", "--write"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(stdout(&out).contains(&format!("wrote {}", case.file)));
        let mut expected = before.clone();
        let text = String::from_utf8(before[Path::new(case.file)].clone()).unwrap();
        expected.insert(case.file.into(), replaced(&text, case.edits));
        assert_eq!(files(root), expected, "{}", case.name);
        assert_eq!(
            fs::read(applied.path().join(case.file)).unwrap(),
            expected[Path::new(case.file)],
            "git apply and --write disagree"
        );

        let again = run(root, &["sync"]);
        assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
        assert!(stdout(&again).starts_with("Nothing to sync"));
        let stories = run(root, &["stories", "--status", "done", "--json"]);
        let done: Value = serde_json::from_slice(&stories.stdout).unwrap();
        for id in case.done {
            assert!(
                done["stories"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["id"] == *id),
                "{id} is not done after the write"
            );
        }
    }
    insta::assert_snapshot!(super::util::mask_writer_tags(&shown));
}

#[test]
fn only_a_latest_valid_done_handoff_is_written_back() {
    let plan = copy("per-role");
    let root = plan.path();
    // API-4: done, then reopened. API-5: done, then the plan changed its criteria, so the
    // record no longer validates. MOB-8: done.
    record(root, &["API-4", "API-5", "MOB-8"], "done");
    record(root, &["API-4"], "in_progress");
    let backlog = root.join("03-backlog/backlog.md");
    let text = fs::read_to_string(&backlog).unwrap();
    let text = text.replacen(
        "    - A locker silent for five minutes raises an alert\n",
        "    - A locker silent for five minutes raises an alert\n    - The alert names the building\n",
        1,
    );
    fs::write(&backlog, text).unwrap();

    let out = run(root, &["sync", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = report["stories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["story_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["MOB-8"]);
    assert_eq!(
        report["stories"][0]["handoff"],
        super::util::record_id(root, "MOB-8", 1)
    );
    assert_eq!(report["stories"][0]["edits"][0], "checkbox");
    assert_eq!(report["write"], false);
    let change = &report["files"][0]["changes"][0];
    assert_eq!(
        change["before"].as_str().unwrap(),
        "- [ ] MOB-8 Push notification on parcel arrival"
    );
    assert_eq!(
        change["after"].as_str().unwrap(),
        "- [x] MOB-8 Push notification on parcel arrival"
    );
}

#[test]
fn a_crlf_file_without_a_final_newline_stays_so_after_the_write() {
    let plan = copy("mixed-labels");
    let root = plan.path();
    let sprint2 = root.join("docs/03-backlog/sprint-2.md");
    let sprint3 = root.join("docs/03-backlog/sprint-3.md");
    let crlf = fs::read_to_string(&sprint2)
        .unwrap()
        .replace('\n', "\r\n")
        .trim_end()
        .to_string();
    fs::write(&sprint2, &crlf).unwrap();
    let lf3 = fs::read_to_string(&sprint3).unwrap();
    record(root, &["NL-5", "NL-7"], "done");
    let before = files(root);

    let out = run(root, &["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("-Status: in progress\r\n+Status: done\r\n"),
        "{}",
        stdout(&out)
    );
    let out = run(root, &["sync", "--write"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    let mut expected = before.clone();
    expected.insert(
        "docs/03-backlog/sprint-2.md".into(),
        replaced(&crlf, &[("Status: in progress\r\n", "Status: done\r\n")]),
    );
    expected.insert(
        "docs/03-backlog/sprint-3.md".into(),
        replaced(&lf3, &[("- [ ] NL-7 Send", "- [x] NL-7 Send")]),
    );
    assert_eq!(files(root), expected);
    let written = fs::read(&sprint2).unwrap();
    assert!(!written.ends_with(b"\n"));
    assert_eq!(
        written.windows(2).filter(|w| w == b"\r\n").count(),
        crlf.matches("\r\n").count()
    );
    assert_eq!(run(root, &["sync"]).status.code(), Some(0));
}

#[test]
fn a_file_edited_between_the_read_and_the_write_is_refused() {
    let plan = copy("per-role");
    let root = plan.path();
    record(root, &["API-4"], "done");
    let backlog = root.join("03-backlog/backlog.md");
    let hook = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args(["sync", "--write", "--plan"])
        .arg(root)
        .env_remove("STORYPACK_LOG")
        .env("STORYPACK_TEST_SYNC_PAUSE", hook.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while !hook.path().join("paused").exists() {
        assert!(Instant::now() < until, "sync never paused");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Someone edits the plan while sync holds its edits.
    let theirs = fs::read_to_string(&backlog).unwrap().replacen(
        "- [ ] API-5 Locker",
        "- [x] API-5 Locker",
        1,
    );
    fs::write(&backlog, &theirs).unwrap();
    fs::write(hook.path().join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();

    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("refused 03-backlog/backlog.md: it changed since storypack read it"),
        "{}",
        stdout(&out)
    );
    assert_eq!(fs::read_to_string(&backlog).unwrap(), theirs);
    let leftovers: Vec<_> = fs::read_dir(backlog.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["backlog.md"]);
    // Run again on the edited file: it is now read as it is, and written.
    let out = run(root, &["sync", "--write"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        fs::read_to_string(&backlog).unwrap(),
        theirs.replacen("- [ ] API-4 Arrival", "- [x] API-4 Arrival", 1)
    );
}

#[test]
fn a_story_the_plan_gives_no_status_markup_is_reported_not_invented() {
    let plan = copy("per-role");
    let root = plan.path();
    let backlog = root.join("03-backlog/backlog.md");
    let text =
        fs::read_to_string(&backlog)
            .unwrap()
            .replacen("- [ ] API-4 Arrival", "- API-4 Arrival", 1);
    fs::write(&backlog, &text).unwrap();
    record(root, &["API-4"], "done");
    let out = run(root, &["sync", "--write"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("API-4  03-backlog/backlog.md:35"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("no task box, Status field or Status column"));
    assert_eq!(fs::read_to_string(&backlog).unwrap(), text);
}
