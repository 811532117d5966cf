//! Parse benchmark: generates a 10,000-story plan (~105 MB, ~10,000 files) once, then times
//! `storypack::plan::parse_dir` on it and reports throughput and peak memory.
//!
//! The measuring runs in a child process (this executable again, `--measure <dir>`) so that
//! its peak RSS is the parser's alone, not the generator's.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it: debug build, no arguments) it is a
//! smoke test instead: a 500-story plan, parsed once.
//!
//! `STORYPACK_BENCH_STORIES=N` changes the plan size (each size gets its own folder under
//! `<target>/storypack-bench/`). Generation is skipped when the folder's marker names the
//! current `GEN_VERSION` (in `benches/support/benchplan.rs`); bump it whenever the generator's
//! output changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/benchplan.rs"]
mod benchplan;
#[path = "support/genplan.rs"]
mod genplan;

use benchplan::{mb, ms, plan_size, proc_status_bytes, verdict};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use storypack::model::Severity;

const SMOKE_STORIES: usize = 500;
const RUNS: usize = 5;
const TARGET_PARSE_MS: f64 = 1500.0;
const TARGET_PEAK_MULTIPLE: f64 = 3.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| benchplan::flag_value(&args, flag);
    match value("--measure") {
        Some(dir) => {
            let expected = value("--stories").and_then(|s| s.parse().ok());
            let runs = value("--runs").and_then(|s| s.parse().ok()).unwrap_or(RUNS);
            if measure(Path::new(&dir), expected, runs.max(1)) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        None => orchestrate(args.iter().any(|a| a == "--bench")),
    }
}

fn orchestrate(bench: bool) -> ExitCode {
    let (default_stories, runs) = if bench {
        (benchplan::DEFAULT_STORIES, RUNS)
    } else {
        println!("no --bench argument: smoke run ({SMOKE_STORIES} stories, 1 parse)");
        (SMOKE_STORIES, 1)
    };
    let stories = benchplan::stories_from_env(default_stories);
    let dir = benchplan::ensure(stories);

    let exe = std::env::current_exe().expect("current_exe");
    let status = Command::new(exe)
        .arg("--measure")
        .arg(&dir)
        .arg("--stories")
        .arg(stories.to_string())
        .arg("--runs")
        .arg(runs.to_string())
        .status()
        .expect("run measuring child");
    if status.success() {
        ExitCode::SUCCESS
    } else {
        eprintln!("measuring child failed: {status}");
        ExitCode::FAILURE
    }
}

struct Cold {
    took: Duration,
    stories: usize,
    docs: usize,
    sprints: usize,
    epics: usize,
    gates: usize,
    role_sections: usize,
    by_severity: BTreeMap<Severity, usize>,
    /// (severity, code) -> (count, first example)
    by_code: BTreeMap<(Severity, String), (usize, String)>,
}

fn cold_parse(dir: &Path) -> Cold {
    let t = Instant::now();
    let parsed = storypack::plan::parse_dir(dir);
    let took = t.elapsed();
    let mut by_severity = BTreeMap::new();
    let mut by_code: BTreeMap<(Severity, String), (usize, String)> = BTreeMap::new();
    for d in &parsed.diagnostics {
        *by_severity.entry(d.severity).or_insert(0) += 1;
        by_code
            .entry((d.severity, d.code.clone()))
            .or_insert_with(|| (0, d.to_string()))
            .0 += 1;
    }
    let plan = &parsed.plan;
    Cold {
        took,
        stories: plan.stories.len(),
        docs: plan.docs.len(),
        sprints: plan.sprints.len(),
        epics: plan.epics.len(),
        gates: plan.gates.len(),
        role_sections: plan.role_sections.len(),
        by_severity,
        by_code,
    }
}

/// Times the parser on `dir`; false when the plan was not read as generated (story count or
/// errors), so a parser regression fails the run. Missed performance targets only print.
fn measure(dir: &Path, expected: Option<usize>, runs: usize) -> bool {
    let (files, md_files, bytes) = plan_size(dir);
    let plan_mb = mb(bytes);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let base_rss = proc_status_bytes("VmRSS");
    println!(
        "plan: {} ({plan_mb:.1} MB, {files} files, {md_files} markdown)",
        dir.display()
    );
    println!("threads available: {threads}");

    let cold = cold_parse(dir);
    println!(
        "cold parse: {:.0} ms; stories {} (generated {}), docs {}, sprints {}, epics {}, gate checklists {}, role sections {}",
        ms(cold.took),
        cold.stories,
        expected.map_or_else(|| "?".to_string(), |n| n.to_string()),
        cold.docs,
        cold.sprints,
        cold.epics,
        cold.gates,
        cold.role_sections
    );
    let sev = |s: Severity| cold.by_severity.get(&s).copied().unwrap_or(0);
    let (errors, warnings, infos) = (
        sev(Severity::Error),
        sev(Severity::Warning),
        sev(Severity::Info),
    );
    println!("diagnostics: {errors} errors, {warnings} warnings, {infos} info");
    for ((severity, code), (count, example)) in &cold.by_code {
        println!("  {severity} {code}: {count}, e.g. {example}");
    }

    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let t = Instant::now();
        let parsed = storypack::plan::parse_dir(dir);
        let took = t.elapsed();
        std::hint::black_box(&parsed);
        drop(parsed);
        println!("run {}: {:.0} ms", i + 1, ms(took));
        times.push(took);
    }
    times.sort();
    let (min, median, max) = (ms(times[0]), ms(times[runs / 2]), ms(times[runs - 1]));
    let throughput = plan_mb / (median / 1e3);
    let peak = proc_status_bytes("VmHWM");
    let peak_mb = mb(peak);
    let multiple = peak_mb / plan_mb;
    let parse_ok = median < TARGET_PARSE_MS;
    let peak_ok = multiple < TARGET_PEAK_MULTIPLE;
    let stories_ok = expected.is_none_or(|n| n == cold.stories);

    println!();
    println!(
        "parse x{runs}: min {min:.0} / median {median:.0} / max {max:.0} ms (target < {TARGET_PARSE_MS:.0} ms: {})",
        verdict(parse_ok)
    );
    println!("throughput: {throughput:.0} MB/s (median)");
    println!(
        "peak RSS (VmHWM): {peak_mb:.0} MB = {multiple:.2}x plan size (target < {TARGET_PEAK_MULTIPLE:.0}x: {}); {:.0} MB before parsing",
        verdict(peak_ok),
        mb(base_rss)
    );

    println!();
    println!("### storypack parse benchmark");
    println!();
    println!("| metric | value | target |");
    println!("|---|---|---|");
    println!("| plan | {plan_mb:.1} MB, {files} files ({md_files} markdown) | |");
    println!(
        "| stories parsed | {} of {} | all: {} |",
        cold.stories,
        expected.map_or_else(|| "?".to_string(), |n| n.to_string()),
        verdict(stories_ok)
    );
    println!(
        "| diagnostics | {errors} errors, {warnings} warnings, {infos} info | 0 errors: {} |",
        verdict(errors == 0)
    );
    println!("| cold parse | {:.0} ms | |", ms(cold.took));
    println!(
        "| parse, {runs} runs | min {min:.0} / median {median:.0} / max {max:.0} ms | < {TARGET_PARSE_MS:.0} ms: {} |",
        verdict(parse_ok)
    );
    println!("| throughput | {throughput:.0} MB/s | |");
    println!(
        "| peak RSS | {peak_mb:.0} MB ({multiple:.2}x plan) | < {TARGET_PEAK_MULTIPLE:.0}x: {} |",
        verdict(peak_ok)
    );
    println!("| machine | {threads} threads | |");
    stories_ok && errors == 0
}
