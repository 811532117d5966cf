//! Claims benchmark: `next_story` with `claim` (what `storypack next --claim` and the MCP
//! tool run) on the generated 10,000-story plan: latency per claim and claims per second
//! with one claimer and with eight at once (threads sharing one store: the same create-new
//! protocol as processes), checking no story is handed out twice; then a few whole
//! `storypack next --claim` processes (a cold start each, which is mostly reading the plan).
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it is a smoke run on a
//! 500-story plan with a few claims.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/benchplan.rs"]
mod benchplan;
#[path = "support/genplan.rs"]
mod genplan;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use benchplan::ms;
use storypack::app::{App, NextRequest};
use storypack::handoff::{FileStore, HandoffStore};

fn claim(app: &App, agent: &str) -> (String, f64) {
    let t = Instant::now();
    let next = app
        .next_story(
            &NextRequest {
                agent: Some(agent.to_string()),
                claim: true,
                ..NextRequest::default()
            },
            storypack::app::today(),
        )
        .unwrap();
    let took = ms(t.elapsed());
    let story = next.story.expect("a ready story to claim").id;
    assert_eq!(next.claim.unwrap().agent, agent);
    (story, took)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let stories = benchplan::stories_from_env(if bench {
        benchplan::DEFAULT_STORIES
    } else {
        500
    });
    let per_claimer = if bench { 40 } else { 3 };
    let dir = benchplan::ensure(stories);
    // Claims go to a scratch store, not into the generated plan.
    let scratch = tempfile::tempdir_in(benchplan::target_dir()).unwrap();
    let store: Arc<dyn HandoffStore> = Arc::new(FileStore::for_plan(scratch.path()));
    let app = Arc::new(App::open_with_store(&dir, store).unwrap());
    println!("{} stories", app.plan().stories.len());

    // One claimer: each call claims the next ready story.
    let mut times = Vec::new();
    let mut won = Vec::new();
    let t = Instant::now();
    for i in 0..per_claimer * 2 {
        let (story, took) = claim(&app, &format!("solo-{i}"));
        won.push(story);
        times.push(took);
    }
    let one = won.len() as f64 / t.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(&times, 0.5), percentile(&times, 0.95));
    println!(
        "next --claim, 1 claimer: {} claims, {one:.0} claims/s, p50 {p50:.1} ms, p95 {p95:.1} ms",
        won.len()
    );

    // Eight claimers at once.
    let t = Instant::now();
    let handles: Vec<_> = (0..8)
        .map(|c| {
            let app = Arc::clone(&app);
            std::thread::spawn(move || {
                (0..per_claimer)
                    .map(|i| claim(&app, &format!("agent-{c}-{i}")))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut eight_times = Vec::new();
    for h in handles {
        for (story, took) in h.join().unwrap() {
            won.push(story);
            eight_times.push(took);
        }
    }
    let eight = (8 * per_claimer) as f64 / t.elapsed().as_secs_f64();
    let distinct: BTreeSet<&String> = won.iter().collect();
    assert_eq!(distinct.len(), won.len(), "a story was handed out twice");
    eight_times.sort_by(f64::total_cmp);
    let (e50, e95) = (
        percentile(&eight_times, 0.5),
        percentile(&eight_times, 0.95),
    );
    println!(
        "next --claim, 8 claimers at once: {} claims, {eight:.0} claims/s, p50 {e50:.1} ms, p95 {e95:.1} ms; none handed out twice",
        8 * per_claimer
    );

    // Whole processes: what a script or a git hook pays (plan read included).
    let runs = if bench { 5 } else { 1 };
    let mut cold = Vec::new();
    for i in 0..runs {
        let t = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_storypack"))
            .args(["next", "--claim", "--agent", &format!("cli-{i}"), "--json"])
            .arg("--plan")
            .arg(&dir)
            .output()
            .unwrap();
        cold.push(ms(t.elapsed()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The CLI claims went into the generated plan's own store: clear them for the next run.
    let _ = std::fs::remove_dir_all(dir.join(".storypack/claims"));
    cold.sort_by(f64::total_cmp);
    println!(
        "storypack next --claim (a process each): min {:.0} / median {:.0} ms",
        cold[0],
        cold[cold.len() / 2]
    );

    println!("\n| metric | value |\n|---|---|");
    println!("| next --claim, 1 claimer | {one:.0} claims/s; p50 {p50:.1} ms, p95 {p95:.1} ms |");
    println!(
        "| next --claim, 8 claimers at once | {eight:.0} claims/s; p50 {e50:.1} ms, p95 {e95:.1} ms |"
    );
    println!(
        "| `storypack next --claim`, whole process | median {:.0} ms |",
        cold[cold.len() / 2]
    );
}
