//! Handoff and gate benchmark: `record_handoff` records per second with one writer and with
//! eight at once (threads sharing one store: the same create-new protocol as processes), and
//! `check_gate` time on the generated 10,000-story plan.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it is a smoke run on a
//! 500-story plan with few records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/benchplan.rs"]
mod benchplan;
#[path = "support/genplan.rs"]
mod genplan;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::{Value, json};
use storypack::app::App;
use storypack::handoff::{FileStore, HandoffStore};

fn contract(app: &App, story_id: &str) -> Value {
    let s = app.plan().story(story_id).unwrap();
    json!({
        "story_id": s.id,
        "from": {"agent": "bench", "role": s.role},
        "to": {"agent": "reviewer", "role": "reviewer"},
        "status": "ready_for_review",
        "summary": "Benchmark handoff.",
        "acceptance": s.acceptance.iter().map(|a| json!({"criterion": a, "status": "met"})).collect::<Vec<_>>(),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let stories = benchplan::stories_from_env(if bench {
        benchplan::DEFAULT_STORIES
    } else {
        500
    });
    let per_writer = if bench { 250 } else { 10 };
    let dir = benchplan::ensure(stories);
    // Records go to a scratch store, not into the generated plan.
    let scratch = tempfile::tempdir_in(benchplan::target_dir()).unwrap();
    let store: Arc<dyn HandoffStore> = Arc::new(FileStore::for_plan(scratch.path()));
    let t = Instant::now();
    let app = Arc::new(App::open_with_store(&dir, store).unwrap());
    println!(
        "open (parse) {:.0} ms; {} stories",
        ms(t.elapsed()),
        app.plan().stories.len()
    );
    let ids: Vec<String> = app
        .plan()
        .stories
        .iter()
        .take(64)
        .map(|s| s.id.clone())
        .collect();

    // One writer.
    let c = contract(&app, &ids[0]);
    let t = Instant::now();
    for _ in 0..per_writer {
        assert!(app.record_handoff(&c).unwrap().recorded);
    }
    let one = per_writer as f64 / t.elapsed().as_secs_f64();
    println!("record_handoff, 1 writer: {per_writer} records, {one:.0} records/s");

    // Eight writers at once: four on one story (contending for numbers), four on others.
    let t = Instant::now();
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let app = Arc::clone(&app);
            let story = if w < 4 {
                ids[1].clone()
            } else {
                ids[2 + w].clone()
            };
            std::thread::spawn(move || {
                let c = contract(&app, &story);
                for _ in 0..per_writer {
                    assert!(app.record_handoff(&c).unwrap().recorded);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let eight = (8 * per_writer) as f64 / t.elapsed().as_secs_f64();
    let contended = app.list_handoffs(Some(&ids[1])).unwrap();
    let ns: Vec<u64> = contended.handoffs.iter().map(|r| r.n).collect();
    let mut sorted = ns.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (1..=(4 * per_writer) as u64).collect::<Vec<_>>(),
        "dense numbers under contention"
    );
    println!(
        "record_handoff, 8 writers at once: {} records, {eight:.0} records/s",
        8 * per_writer
    );

    // check_gate on a sprint of the big plan.
    let sprint = app.plan().sprints[app.plan().sprints.len() / 2].id.clone();
    let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r = app.check_gate(&sprint, today).unwrap();
        times.push(ms(t.elapsed()));
        assert!(!r.items.is_empty());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "check_gate sprint {sprint}: min {:.1} / median {:.1} / max {:.1} ms",
        times[0], times[2], times[4]
    );
    println!("\n| metric | value |\n|---|---|");
    println!("| record_handoff, 1 writer | {one:.0} records/s |");
    println!("| record_handoff, 8 writers at once | {eight:.0} records/s |");
    println!(
        "| check_gate (sprint {sprint}, {} stories in plan) | median {:.1} ms |",
        app.plan().stories.len(),
        times[2]
    );
}
