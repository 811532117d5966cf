//! Store benchmark: the file store against PostgreSQL, in one run. `record_handoff` records
//! per second and `claim` latency (take, then release, each one claim event), with one
//! writer and with eight at once (threads sharing one `App`, as a server's requests do),
//! on the example plan, so the store's cost dominates.
//!
//! PostgreSQL: `STORYPACK_TEST_PG` (a URL of a role that may create databases, as
//! `scripts/postgres.sh` sets it); each run creates a fresh database. Without it only the
//! file store is measured. Without `--bench` (as `cargo test --all-targets` runs it) it is a
//! smoke run with a few records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use storypack::app::App;
use storypack::handoff::HandoffStore;

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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Figures {
    records_1: f64,
    records_8: f64,
    claim_1: (f64, f64),
    claim_8: (f64, f64),
}

/// Runs `writers` threads, each calling `work(writer)`; returns the seconds it took.
fn at_once(writers: usize, work: impl Fn(usize) + Sync) -> f64 {
    let t = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let work = &work;
            s.spawn(move || work(w));
        }
    });
    t.elapsed().as_secs_f64()
}

fn measure(plan: &Path, store: Arc<dyn HandoffStore>, per_writer: usize) -> Figures {
    let app = App::open_with_store(plan, store).unwrap();
    // Open stories: a done one cannot be claimed.
    let stories: Vec<String> = app
        .plan()
        .stories
        .iter()
        .filter(|s| s.status == storypack::model::StoryStatus::Todo)
        .map(|s| s.id.clone())
        .collect();
    assert!(stories.len() >= 30, "the example plan has open stories");
    let records = |writers: usize| {
        let secs = at_once(writers, |w| {
            // Half the writers share one story (contending for numbers).
            let story = &stories[if w % 2 == 0 { 0 } else { 1 + w }];
            let c = contract(&app, story);
            for _ in 0..per_writer {
                assert!(app.record_handoff(&c).unwrap().recorded);
            }
        });
        (writers * per_writer) as f64 / secs
    };
    let claims = |writers: usize, round: usize| {
        let times = std::sync::Mutex::new(Vec::new());
        at_once(writers, |w| {
            let story = &stories[10 + w];
            let agent = format!("bench-{round}-{w}");
            for _ in 0..per_writer {
                let t = Instant::now();
                let taken = app.claim(story, &agent, Some("1h")).unwrap();
                let took = t.elapsed().as_secs_f64() * 1e3;
                assert!(taken.ok, "{story}: {}", taken.message);
                let released = app.release_claim(story, &agent).unwrap();
                assert!(released.ok, "{story}: {}", released.message);
                times.lock().unwrap().push(took);
            }
        });
        let mut times = times.into_inner().unwrap();
        times.sort_by(f64::total_cmp);
        (percentile(&times, 0.5), percentile(&times, 0.95))
    };
    Figures {
        records_1: records(1),
        records_8: records(8),
        claim_1: claims(1, 1),
        claim_8: claims(8, 8),
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let per_writer = if bench { 100 } else { 3 };
    let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plan");
    let scratch = tempfile::tempdir().unwrap();
    let mut rows = vec![(
        "file store",
        measure(
            &plan,
            storypack::store::open(Some(scratch.path().to_str().unwrap()), &plan).unwrap(),
            per_writer,
        ),
    )];
    match std::env::var("STORYPACK_TEST_PG") {
        Ok(admin) => {
            let name = format!("bench_{}", std::process::id());
            let out = std::process::Command::new("psql")
                .args([&admin, "-q", "-c", &format!("CREATE DATABASE {name}")])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
            let store = storypack::store::open(Some(&url), &plan).unwrap();
            rows.push(("PostgreSQL", measure(&plan, store, per_writer)));
        }
        Err(_) => println!("no STORYPACK_TEST_PG: PostgreSQL not measured"),
    }
    println!(
        "\n| store | records/s, 1 writer | records/s, 8 writers | claim p50/p95, 1 writer | claim p50/p95, 8 writers |"
    );
    println!("|---|---|---|---|---|");
    for (name, f) in &rows {
        println!(
            "| {name} | {:.0} | {:.0} | {:.1} / {:.1} ms | {:.1} / {:.1} ms |",
            f.records_1, f.records_8, f.claim_1.0, f.claim_1.1, f.claim_8.0, f.claim_8.1
        );
    }
}
