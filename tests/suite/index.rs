//! The persisted index (`.storypack/index/`): the same answers with it as without it, every
//! unchanged file taken from it, racing processes, and a server that keeps it current.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use storypack::app::App;
use storypack::pack::{PackRequest, render};
use storypack::priorities::PriorityQuery;

use super::packs::copy_plan;
use super::util::{stderr, stdout};

/// Every answer a user sees from a plan: each story's pack (Markdown and JSON), each
/// sprint's priorities and gate report, the lint report, each file's explanation.
fn answers(app: &App) -> Vec<String> {
    let mut out = Vec::new();
    for story in &app.plan().stories {
        for budget in [2_000, 8_000] {
            let pack = app
                .pack(&PackRequest {
                    story_id: story.id.clone(),
                    budget_tokens: Some(budget),
                    ..PackRequest::default()
                })
                .unwrap();
            out.push(render::markdown(&pack));
            out.push(render::json(&pack));
        }
    }
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    for sprint in &app.plan().sprints {
        let q = PriorityQuery {
            sprint: Some(sprint.id.clone()),
            ..PriorityQuery::default()
        };
        out.push(serde_json::to_string(&app.priorities(&q, today).unwrap()).unwrap());
        out.push(serde_json::to_string(&app.check_gate(&sprint.id, today).unwrap()).unwrap());
    }
    out.push(serde_json::to_string(&app.lint()).unwrap());
    // What `storypack explain` shows of each file: its stories, sections and the
    // diagnostics of what it skipped, from the index as from a parse.
    for doc in &app.plan().docs {
        out.push(serde_json::to_string(&app.explain(&doc.path).unwrap()).unwrap());
    }
    out
}

#[test]
fn packs_priorities_and_gates_are_byte_identical_with_and_without_the_index() {
    let plan = copy_plan();
    let files = App::open(plan.path()).unwrap().lint().files;
    let without = answers(&App::open(plan.path()).unwrap());
    // The first open writes the index, the second reads every file from it.
    let first = App::open_with(plan.path(), true).unwrap();
    assert_eq!(first.index_usage(), (0, files));
    first.persist_index();
    let warm = App::open_with(plan.path(), true).unwrap();
    assert_eq!(warm.index_usage(), (files, 0));
    // Packs built here from the whole search index (which the persisted index keeps),
    // `without` from an index of each request's terms: the same packs.
    assert_eq!(answers(&warm), without);
    // Packs built the whole search index there; kept, the next process reads it back.
    warm.persist_index();
    let search = plan.path().join(".storypack/index/search.bin");
    assert!(search.is_file());
    assert_eq!(
        answers(&App::open_with(plan.path(), true).unwrap()),
        without
    );
    // One file edited: it alone is read again, and the answers follow the edit exactly
    // as a plain parse does.
    edit_one_file(plan.path());
    let edited = App::open_with(plan.path(), true).unwrap();
    assert_eq!(edited.index_usage(), (files - 1, 1));
    edited.persist_index();
    let again = App::open_with(plan.path(), true).unwrap();
    assert_eq!(again.index_usage(), (files, 0));
    assert_eq!(answers(&edited), answers(&App::open(plan.path()).unwrap()));
}

/// Edits one backlog file of a copy of the example plan (a story's title).
fn edit_one_file(plan: &Path) {
    let backlog = plan.join("docs/03-backlog/sprint-04-devops-sre-engineer.md");
    let text = std::fs::read_to_string(&backlog).unwrap();
    std::fs::write(
        &backlog,
        text.replace("Provision worker", "Provision the worker"),
    )
    .unwrap();
}

fn storypack(plan: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_storypack"));
    c.args(args)
        .arg("--plan")
        .arg(plan)
        .env("STORYPACK_LOG", "debug")
        .env_remove("STORYPACK_STORE");
    c
}

/// `reused=N parsed=M` from a debug log.
fn usage(log: &str) -> (usize, usize) {
    let line = log
        .lines()
        .find(|l| l.contains("plan read and parsed"))
        .unwrap_or_else(|| panic!("{log}"));
    let field = |name: &str| -> usize {
        let at = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (field("reused"), field("parsed"))
}

#[test]
fn two_processes_building_the_index_at_once_both_succeed_and_leave_it_whole() {
    let plan = copy_plan();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            storypack(plan.path(), &["pack", "SRE-04-01", "--budget", "2000"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in &outs {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    }
    assert_eq!(stdout(&outs[0]), stdout(&outs[1]));
    // Whichever wrote last, the index is whole: the next run reads every file from it
    // and prints the same pack.
    let out = storypack(plan.path(), &["pack", "SRE-04-01", "--budget", "2000"])
        .output()
        .unwrap();
    let (reused, parsed) = usage(&stderr(&out));
    assert_eq!(parsed, 0, "{}", stderr(&out));
    assert!(reused > 100);
    assert_eq!(stdout(&out), stdout(&outs[0]));
    // The counts were kept too.
    assert!(
        plan.path()
            .join(".storypack/index/counts-o200k_base.bin")
            .is_file()
    );
    // --no-index: every file parsed, the same pack.
    let out = storypack(
        plan.path(),
        &["pack", "SRE-04-01", "--budget", "2000", "--no-index"],
    )
    .output()
    .unwrap();
    assert_eq!(usage(&stderr(&out)), (0, 0), "the index is not looked at");
    assert_eq!(stdout(&out), stdout(&outs[0]));
}

#[test]
fn no_index_writes_nothing_under_the_plan() {
    let plan = copy_plan();
    let out = storypack(plan.path(), &["lint", "--no-index"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!plan.path().join(".storypack").exists());
}

#[test]
fn the_server_writes_the_index_after_warm_up_and_again_after_a_change() {
    let plan = copy_plan();
    let index = plan.path().join(".storypack/index");
    let mut server = storypack(plan.path(), &["serve"])
        .env("STORYPACK_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("plan ready"));
    assert!(ready.is_some(), "the server never got ready");
    let wait_for = |what: &dyn Fn() -> bool, why: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !what() {
            assert!(Instant::now() < deadline, "{why}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let counts = index.join("counts-o200k_base.bin");
    wait_for(&|| counts.is_file(), "no counts after warm-up");
    let facts = index.join("facts.bin");
    assert!(facts.is_file());
    let before = std::fs::read(&facts).unwrap();
    // An edit: once the plan settles, the index holds the new file.
    edit_one_file(plan.path());
    wait_for(
        &|| std::fs::read(&facts).is_ok_and(|now| now != before),
        "the index was not rewritten after the edit",
    );
    drop(server.stdin.take());
    let _ = server.wait();
    // A new process now reads every file from it.
    let out = storypack(plan.path(), &["lint"]).output().unwrap();
    assert_eq!(usage(&stderr(&out)).1, 0, "{}", stderr(&out));
}
