//! The file store across git branches: two worktrees of one plan repository record handoffs
//! and claims for the same story, then merge. No conflict, no record lost, every id unique
//! and unchanged by the merge. And a store written before writer tags stays readable.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use storypack::app::App;
use storypack::handoff::{ClaimAction, ClaimEvent};

use super::handoffs::valid_contract;
use super::packs::copy_plan;
use super::util::{fixture, stderr, stdout, writer_tag};

fn git(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn storypack(plan: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args(args)
        .arg("--plan")
        .arg(plan)
        .env_remove("STORYPACK_LOG")
        .env_remove("STORYPACK_STORE")
        .output()
        .expect("run storypack")
}

/// Records a valid contract for `story` through the CLI (the contract file lives outside
/// the repository, so only the store changes).
fn record(plan: &Path, story: &str) -> String {
    let outside = tempfile::tempdir().unwrap();
    let file = outside.path().join("contract.json");
    let contract = valid_contract(&App::open(plan).unwrap(), story);
    std::fs::write(&file, contract.to_string()).unwrap();
    let out = storypack(
        plan,
        &["handoff", "record", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["record"]["id"].as_str().unwrap().to_string()
}

fn take(plan: &Path, story: &str, agent: &str) -> Output {
    storypack(plan, &["claim", "take", story, "--agent", agent, "--json"])
}

/// Every recorded id, from `handoff list`, checking each record reads back by its id.
fn listed_ids(plan: &Path) -> Vec<String> {
    let out = storypack(plan, &["handoff", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let app = App::open(plan).unwrap();
    v["handoffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap().to_string();
            let back = app.handoff(&id).unwrap();
            assert!(back.intact(), "{id}");
            id
        })
        .collect()
}

#[test]
fn two_worktrees_recording_for_one_story_merge_without_conflict_or_loss() {
    let repo = copy_plan();
    let main = repo.path();
    git(main, &["init", "-q", "-b", "main"]);
    git(main, &["add", "-A"]);
    git(main, &["commit", "-q", "-m", "plan"]);
    let elsewhere = tempfile::tempdir().unwrap();
    let wt = elsewhere.path().join("wt");
    git(
        main,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "feature",
            wt.to_str().unwrap(),
        ],
    );

    // Both sides record for SRE-05-02 and claim SRE-05-03, knowing nothing of each other.
    let ours = [record(main, "SRE-05-02"), record(main, "SRE-05-02")];
    assert!(take(main, "SRE-05-03", "alice").status.success());
    let theirs = [record(&wt, "SRE-05-02")];
    assert!(take(&wt, "SRE-05-03", "bob").status.success());
    let (w_main, w_wt) = (writer_tag(main), writer_tag(&wt));
    assert_ne!(w_main, w_wt, "each worktree has its own writer tag");
    assert_eq!(ours[0], format!("SRE-05-02#1-{w_main}"));
    assert_eq!(theirs[0], format!("SRE-05-02#1-{w_wt}"));

    for dir in [main, wt.as_path()] {
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "handoffs"]);
        let tracked = stdout(&git(dir, &["ls-files", ".storypack"]));
        assert!(
            tracked.contains(".storypack/handoffs/SRE-05-02/"),
            "{tracked}"
        );
        assert!(
            !tracked.contains(".storypack/local"),
            "the tag is never committed"
        );
    }

    let merged = git(main, &["merge", "--no-edit", "feature"]);
    assert!(merged.status.success());
    assert_eq!(
        stdout(&git(main, &["status", "--porcelain"])),
        "",
        "no conflict"
    );

    // Every record of both branches, each id unique and unchanged, each readable.
    let ids = listed_ids(main);
    let expected: BTreeSet<String> = ours.iter().chain(&theirs).cloned().collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), expected);
    // The short id of a number two branches used names both.
    let err = App::open(main)
        .unwrap()
        .handoff("SRE-05-02#1")
        .unwrap_err()
        .to_string();
    assert!(err.contains(&ours[0]) && err.contains(&theirs[0]), "{err}");
    // Numbering goes on after the highest number of either branch.
    assert_eq!(record(main, "SRE-05-02"), format!("SRE-05-02#3-{w_main}"));

    // Claims: both takes merged; replayed in time order, the first holds, the other lost.
    let out = take(main, "SRE-05-03", "carol");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["held_by"]["agent"], "alice", "{v}");
    let events = storypack(main, &["claim", "list", "--json"]);
    assert!(events.status.success(), "{}", stderr(&events));
}

#[test]
fn a_store_written_before_writer_tags_stays_readable_and_numbering_goes_on() {
    let plan = copy_plan();
    let root = plan.path();
    let store = root.join(".storypack");
    for part in ["handoffs", "claims"] {
        super::packs::copy_dir(&fixture("store-v1").join(part), &store.join(part));
    }
    // The old ids, as they were.
    assert_eq!(listed_ids(root), ["SRE-05-02#1", "SRE-05-02#2"]);
    let app = App::open(root).unwrap();
    let events = app.store().claim_events(Some("SRE-05-02")).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, "SRE-05-02@1");
    assert!(events[0].intact());
    // New entries go on after them, under this clone's tag.
    let id = record(root, "SRE-05-02");
    let w = writer_tag(root);
    assert_eq!(id, format!("SRE-05-02#3-{w}"));
    assert_eq!(
        listed_ids(root),
        ["SRE-05-02#1", "SRE-05-02#2", &format!("SRE-05-02#3-{w}")]
    );
    // (The story is done now, so no take: the event goes to the store as a take would.)
    let store_api = app.store();
    let next = store_api
        .claim_events(Some("SRE-05-02"))
        .unwrap()
        .iter()
        .map(|e| e.n)
        .max()
        .unwrap()
        + 1;
    let release = ClaimEvent::new(
        "SRE-05-02",
        next,
        ClaimAction::Release,
        "old-agent",
        "2026-12-06T04:00:00.000Z".into(),
        None,
    )
    .with_writer(store_api.writer().unwrap().as_deref());
    assert!(store_api.append_claim(&release).unwrap());
    assert_eq!(release.id, format!("SRE-05-02@2-{w}"));
    let events = store_api.claim_events(Some("SRE-05-02")).unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.intact()));
    assert!(store.join(format!("claims/SRE-05-02/2-{w}.json")).is_file());
    // A copy of the mixed store to another folder carries both kinds, byte for byte.
    let other = tempfile::tempdir().unwrap();
    let out = storypack(
        root,
        &[
            "store",
            "copy",
            "--from",
            root.to_str().unwrap(),
            "--to",
            other.path().to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for rel in [
        "handoffs/SRE-05-02/1.json".to_string(),
        format!("handoffs/SRE-05-02/3-{w}.json"),
        "claims/SRE-05-02/1.json".to_string(),
        format!("claims/SRE-05-02/2-{w}.json"),
    ] {
        assert_eq!(
            std::fs::read(store.join(&rel)).unwrap(),
            std::fs::read(other.path().join(".storypack").join(&rel)).unwrap(),
            "{rel}"
        );
    }
}
