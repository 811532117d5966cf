//! Context-pack benchmark on the generated 10,000-story plan (the same folder and generator as
//! `benches/parse.rs`):
//!
//! 1. cold `storypack pack STORY --budget 8000`: the release binary as a fresh process, five
//!    stories, wall time (parse included) and peak RSS (`/usr/bin/time -f %M`);
//! 2. warm, in one process (this executable again, `--measure <dir>`, so the generator's
//!    memory does not count): `App::open`, the search index, packs of 500 stories at budget
//!    8000 with nothing counted yet, then `App::warm_counts` (what the server does in the
//!    background after start), then packs of 500 other stories at budgets 8000 and 2000:
//!    p50/p99/max per pass, and peak RSS (VmHWM);
//! 3. token counting throughput over the whole plan's text, single-threaded: uncached
//!    (o200k_base, cl100k_base) and the cached path on a second pass.
//!
//! The CLI is the `storypack` binary cargo builds for the benchmark (`CARGO_BIN_EXE_storypack`,
//! the `bench` profile, which inherits `release`). While packs are far slower than their
//! targets, time caps (`COLD_CAP`, `WARM_PASS_CAP`) stop the runs early so the whole bench
//! stays within about three minutes; the report then says how many runs were made.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it: debug build, no arguments) it is a
//! smoke test instead: a 500-story plan, one CLI run, three packs per budget.
//!
//! `STORYPACK_BENCH_STORIES=N` changes the plan size (each size gets its own folder under
//! `<target>/storypack-bench/`). Generation is skipped when the folder's marker names the
//! current `GEN_VERSION` (in `benches/support/benchplan.rs`, shared by every bench).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/benchplan.rs"]
mod benchplan;
#[path = "support/genplan.rs"]
mod genplan;

use benchplan::{mb, ms, plan_size, proc_status_bytes, verdict};

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use storypack::app::App;
use storypack::model::Severity;

/// The allocator the `storypack` binary uses (`src/main.rs`), so warm packs here cost what
/// they cost in the server.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use storypack::pack::{self, Pack, PackRequest};
use storypack::tokens::{Encoding, Tiktoken, TokenCounter};

/// Bump when genplan's output changes: stale plans are then regenerated. Same as parse.rs.
const SMOKE_STORIES: usize = 500;
/// Cold CLI runs (each on a different story); the smoke run does one.
const COLD_RUNS: usize = 5;
/// No further cold run starts past this (keeps the bench within a few minutes while packs
/// are far slower than their target); the report says how many ran.
const COLD_CAP: Duration = Duration::from_secs(45);
/// Stories packed in the warm process: once before the count warm-up (its first pack, with
/// the token cache still empty, is also reported on its own), then other stories as many at
/// each budget after it.
const WARM_STORIES: usize = 500;
const SMOKE_WARM_STORIES: usize = 3;
/// No further pack of a warm pass starts past this (as `COLD_CAP`).
const WARM_PASS_CAP: Duration = Duration::from_secs(15);
const BUDGETS: [usize; 2] = [8_000, 2_000];
/// Packs of the first warm pass rendered and written to disk (render + write timing).
const WRITE_SAMPLE: usize = 20;
const TARGET_COLD_MS: f64 = 2_000.0;
const TARGET_WARM_P50_MS: f64 = 5.0;
const TARGET_WARM_P99_MS: f64 = 25.0;
const TARGET_TOKENS_MBS: f64 = 25.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| benchplan::flag_value(&args, flag);
    match value("--measure") {
        Some(dir) => {
            let warm = value("--warm")
                .and_then(|s| s.parse().ok())
                .unwrap_or(WARM_STORIES);
            let out = value("--out").map(PathBuf::from);
            if measure(Path::new(&dir), warm.max(1), out.as_deref()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        None => orchestrate(args.iter().any(|a| a == "--bench")),
    }
}

fn orchestrate(bench: bool) -> ExitCode {
    let (default_stories, warm, cold_runs) = if bench {
        (benchplan::DEFAULT_STORIES, WARM_STORIES, COLD_RUNS)
    } else {
        println!(
            "no --bench argument: smoke run ({SMOKE_STORIES} stories, 1 CLI run, {SMOKE_WARM_STORIES} packs per budget)"
        );
        (SMOKE_STORIES, SMOKE_WARM_STORIES, 1)
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("load average: {}", load.join(" "));
    let stories = benchplan::stories_from_env(default_stories);
    let base = benchplan::target_dir().join("storypack-bench");
    let dir = benchplan::ensure(stories);
    let out = base.join("packs-out");

    let cold = cold_cli(&dir, &out.join("cli"), cold_runs);

    let exe = std::env::current_exe().expect("current_exe");
    let status = Command::new(exe)
        .arg("--measure")
        .arg(&dir)
        .arg("--warm")
        .arg(warm.to_string())
        .arg("--out")
        .arg(out.join("warm"))
        .status()
        .expect("run measuring child");
    if !status.success() {
        eprintln!("measuring child failed: {status}");
    }
    if let Some(c) = &cold {
        println!();
        println!("### storypack pack benchmark (cold CLI)");
        println!();
        println!("| metric | value | target |");
        println!("|---|---|---|");
        println!(
            "| cold `storypack pack --budget 8000`, {} of {} runs | min {:.0} / median {:.0} / max {:.0} ms | < {TARGET_COLD_MS:.0} ms: {} |",
            c.runs,
            c.asked,
            c.min,
            c.median,
            c.max,
            verdict(c.median < TARGET_COLD_MS)
        );
        println!(
            "| cold pack peak RSS | {} | |",
            c.peak_mb.map_or_else(
                || "n/a (no /usr/bin/time)".to_string(),
                |p| format!("{p:.0} MB")
            )
        );
    }
    if status.success() && cold.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `n` stories spread evenly over the plan (plan order), starting at offset `skew`.
fn spread(ids: &[String], n: usize, skew: usize) -> Vec<String> {
    let n = n.min(ids.len());
    (0..n)
        .map(|i| ids[(i * ids.len() / n + skew) % ids.len()].clone())
        .collect()
}

/// What the cold CLI runs measured.
struct ColdSummary {
    runs: usize,
    asked: usize,
    min: f64,
    median: f64,
    max: f64,
    /// Largest peak RSS of the runs, when `/usr/bin/time` is there.
    peak_mb: Option<f64>,
}

/// Cold `storypack pack` runs: a fresh process each, a different story each. None when a
/// run fails.
fn cold_cli(dir: &Path, out: &Path, runs: usize) -> Option<ColdSummary> {
    // cargo builds the package's binaries for a benchmark, with the benchmark's profile
    // (`bench` inherits `release`), from the same sources, and names the executable here.
    let bin = Path::new(env!("CARGO_BIN_EXE_storypack"));
    println!("cli: {}", bin.display());
    // Story ids in plan order (parsed here, in the orchestrator; nothing is measured here).
    let ids: Vec<String> = storypack::plan::parse_dir(dir)
        .plan
        .stories
        .iter()
        .map(|s| s.id.clone())
        .collect();
    if ids.is_empty() {
        eprintln!("cli: the plan has no stories");
        return None;
    }
    let time_bin = Path::new("/usr/bin/time");
    let has_time = time_bin.is_file();
    if !has_time {
        println!("cli: /usr/bin/time not found (Debian package `time`): peak RSS n/a");
    }
    std::fs::create_dir_all(out).expect("create pack output folder");
    let rss_file = out.join("maxrss.txt");
    println!("cold `storypack pack STORY --budget 8000` (fresh process; OS file cache warm):");
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    let started = Instant::now();
    let stories = spread(&ids, runs, ids.len() / (2 * runs));
    for (i, story) in stories.iter().enumerate() {
        if i > 0 && started.elapsed() > COLD_CAP {
            println!(
                "  stopped after {i} of {runs} runs: past the {} s time cap",
                COLD_CAP.as_secs()
            );
            break;
        }
        let mut cmd = if has_time {
            let mut c = Command::new(time_bin);
            c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        // Without the persisted index: this measures reading the whole plan (benches/index.rs
        // measures the same runs with it).
        cmd.args(["pack", story, "--budget", "8000", "--no-index", "--plan"])
            .arg(dir)
            .arg("--out")
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let t = Instant::now();
        let output = cmd.output().expect("run storypack");
        let took = t.elapsed();
        if !output.status.success() {
            eprintln!(
                "cli run {} ({story}) failed: {}\n{}",
                i + 1,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            return None;
        }
        let peak = has_time
            .then(|| std::fs::read_to_string(&rss_file).ok())
            .flatten()
            .and_then(|s| s.lines().last()?.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024);
        println!(
            "  run {} {story}: {:.0} ms, peak RSS {}",
            i + 1,
            ms(took),
            peak.map_or_else(|| "n/a".to_string(), |b| format!("{:.0} MB", mb(b)))
        );
        times.push(took);
        peaks.extend(peak);
    }
    times.sort();
    let n = times.len();
    let (min, median, max) = (ms(times[0]), ms(times[n / 2]), ms(times[n - 1]));
    let peak = peaks.iter().max().map(|&b| mb(b));
    println!(
        "cold pack x{n} of {runs}: min {min:.0} / median {median:.0} / max {max:.0} ms (target < {TARGET_COLD_MS:.0} ms: {}); peak RSS {}",
        verdict(median < TARGET_COLD_MS),
        peak.map_or_else(|| "n/a".to_string(), |p| format!("max {p:.0} MB"))
    );
    println!();
    Some(ColdSummary {
        runs: n,
        asked: runs,
        min,
        median,
        max,
        peak_mb: peak,
    })
}

/// Nearest-rank percentile of sorted durations, in ms.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    ms(sorted[rank - 1])
}

/// One warm pass: packs for `stories` round-robin at `budget`.
struct Pass {
    budget: usize,
    times: Vec<Duration>,
    /// Stories refused because the budget is below their mandatory parts.
    refused: usize,
    /// Errors other than that, and packs over their budget.
    failed: usize,
    sections: usize,
    tokens: usize,
    capped: bool,
    /// The pass's first build.
    first: Duration,
    /// The first `WRITE_SAMPLE` packs built.
    sample: Vec<Pack>,
}

fn warm_pass(app: &App, stories: &[String], budget: usize) -> Pass {
    let mut pass = Pass {
        budget,
        times: Vec::with_capacity(stories.len()),
        refused: 0,
        failed: 0,
        sections: 0,
        tokens: 0,
        capped: false,
        first: Duration::ZERO,
        sample: Vec::new(),
    };
    let started = Instant::now();
    for story in stories {
        if !pass.times.is_empty() && started.elapsed() > WARM_PASS_CAP {
            pass.capped = true;
            break;
        }
        let req = PackRequest {
            story_id: story.clone(),
            budget_tokens: Some(budget),
            encoding: None,
            recipe: None,
        };
        let t = Instant::now();
        let result = app.pack(&req);
        pass.times.push(t.elapsed());
        match result {
            Ok(p) if p.total_tokens <= budget => {
                pass.sections += p.sections.len();
                pass.tokens += p.total_tokens;
                if pass.sample.len() < WRITE_SAMPLE {
                    pass.sample.push(p);
                }
            }
            Ok(p) => {
                eprintln!(
                    "pack {story} at {budget}: {} tokens, over budget",
                    p.total_tokens
                );
                pass.failed += 1;
            }
            Err(e) if e.field() == Some("budget_tokens") => pass.refused += 1,
            Err(e) => {
                eprintln!("pack {story} at {budget}: {e}");
                pass.failed += 1;
            }
        }
    }
    pass.first = pass.times.first().copied().unwrap_or_default();
    pass.times.sort();
    pass
}

/// CPU time of the calling thread (`/proc/thread-self/schedstat`), when available.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Tokens of every document's text, one thread: (tokens, wall seconds, CPU seconds).
fn count_all(texts: &[&str], count: impl Fn(&str) -> usize) -> (usize, f64, Option<f64>) {
    let (t, cpu) = (Instant::now(), thread_cpu());
    let tokens = texts.iter().map(|s| count(s)).sum();
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu.zip(thread_cpu()).map(|(a, b)| (b - a).as_secs_f64());
    (tokens, wall, cpu)
}

/// "12.3 MB/s (per CPU second: 13.0)": the CPU figure discounts other load on the machine.
fn rate(mb: f64, wall: f64, cpu: Option<f64>) -> String {
    match cpu {
        Some(c) if c > 0.0 => format!("{:.1} MB/s (per CPU second: {:.1})", mb / wall, mb / c),
        _ => format!("{:.1} MB/s", mb / wall),
    }
}

/// The warm measurements (run in a child process); false when packs were wrong.
fn measure(dir: &Path, warm: usize, out: Option<&Path>) -> bool {
    let (files, md_files, bytes) = plan_size(dir);
    let plan_mb = mb(bytes);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let base_rss = proc_status_bytes("VmRSS");
    println!(
        "warm process: {} ({plan_mb:.1} MB, {files} files, {md_files} markdown); {threads} threads",
        dir.display()
    );

    let t = Instant::now();
    let app = App::open(dir).expect("open plan");
    let open = t.elapsed();
    let rss_open = proc_status_bytes("VmRSS");
    let errors = app
        .diagnostics()
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    println!(
        "App::open (parse): {:.0} ms; {} stories, {} docs, {errors} errors; RSS {:.0} MB",
        ms(open),
        app.plan().stories.len(),
        app.plan().docs.len(),
        mb(rss_open)
    );

    let t = Instant::now();
    let units = app.index().units.len();
    let index = t.elapsed();
    let rss_index = proc_status_bytes("VmRSS");
    println!(
        "search index: {:.0} ms; {units} units; RSS {:.0} MB",
        ms(index),
        mb(rss_index)
    );

    let t = Instant::now();
    let o200k = Tiktoken::get(Encoding::O200kBase);
    o200k.count_uncached("warm up");
    let tok_init = t.elapsed();
    println!("o200k_base encoder init: {:.0} ms", ms(tok_init));

    let ids: Vec<String> = app.plan().stories.iter().map(|s| s.id.clone()).collect();
    let stories = spread(&ids, warm, 0);
    // The passes after the warm-up pack other stories (half a step further on).
    let others = spread(&ids, warm, ids.len() / (2 * warm.max(1)));

    let mut ok = true;
    let report = |label: &str, pass: &Pass| {
        let n = pass.times.len();
        let built = n - pass.refused - pass.failed;
        println!(
            "{label}, budget {}: {n} of {} stories{}; p50 {:.1} / p99 {:.1} / max {:.1} ms; mean {:.1} sections, {:.0} tokens; {} refused (budget below the mandatory parts), {} failed",
            pass.budget,
            stories.len(),
            if pass.capped {
                " (stopped at the time cap)"
            } else {
                ""
            },
            pct(&pass.times, 0.50),
            pct(&pass.times, 0.99),
            pct(&pass.times, 1.0),
            pass.sections as f64 / built.max(1) as f64,
            pass.tokens as f64 / built.max(1) as f64,
            pass.refused,
            pass.failed
        );
    };
    // Packs before the warm-up: each counts the excerpts it meets for the first time (as
    // in a process that has only built the index).
    let unwarmed = warm_pass(&app, &stories, BUDGETS[0]);
    report("packs before counts are warm", &unwarmed);
    ok &= unwarmed.failed == 0;
    // The first pack of the process (the token cache empty) is that pass's first.
    let first_ms = ms(unwarmed.first);
    match unwarmed.sample.first() {
        Some(p) if p.story_id == stories[0] => println!(
            "first pack of the process ({}, budget {}): {first_ms:.0} ms; {} sections, {} tokens; left out: {} over budget, {} below threshold, {} over a part cap",
            p.story_id,
            BUDGETS[0],
            p.sections.len(),
            p.total_tokens,
            p.omitted_by_reason.over_budget,
            p.omitted_by_reason.below_threshold,
            p.omitted_by_reason.cap_reached
        ),
        _ => println!("first pack of the process: {first_ms:.0} ms"),
    }

    // The server's warm-up: every excerpt counted once (one thread).
    let t = Instant::now();
    let excerpts = app.warm_counts(Encoding::default());
    let warm_up = t.elapsed();
    println!(
        "count warm-up (App::warm_counts, as the server runs in the background): {excerpts} excerpts in {:.0} ms",
        ms(warm_up)
    );

    let mut passes = Vec::new();
    for budget in BUDGETS {
        let pass = warm_pass(&app, &others, budget);
        report("warm packs", &pass);
        ok &= pass.failed == 0;
        passes.push(pass);
    }
    let warm_peak = proc_status_bytes("VmHWM");

    // Render and write a sample of the packs (what the CLI adds after the build).
    let mut render_write = Vec::new();
    if let Some(out) = out {
        for p in &passes[0].sample {
            let t = Instant::now();
            let md = pack::render::markdown(p);
            app.write_pack(p, Some(out)).expect("write pack");
            render_write.push(t.elapsed());
            std::hint::black_box(md);
        }
        render_write.sort();
        if !render_write.is_empty() {
            println!(
                "render + write ({} packs): p50 {:.2} / max {:.2} ms",
                render_write.len(),
                pct(&render_write, 0.5),
                pct(&render_write, 1.0)
            );
        }
    }

    // Token counting over the whole plan, one thread.
    let texts: Vec<&str> = app.plan().docs.iter().map(|d| d.text.as_str()).collect();
    let text_mb = mb(texts.iter().map(|s| s.len() as u64).sum());
    let mut uncached = Vec::new();
    for enc in Encoding::ALL {
        let counter = Tiktoken::get(enc);
        // tiktoken-rs alone (`encode_ordinary` per document), after a warm-up over every
        // 10th document (its regex builds lazy DFA states as it meets new text).
        let sample: Vec<&str> = texts.iter().step_by(10).copied().collect();
        count_all(&sample, |s| counter.count_reference(s));
        let (ref_tokens, ref_wall, ref_cpu) = count_all(&texts, |s| counter.count_reference(s));
        println!(
            "tokens {enc} tiktoken-rs encode_ordinary: {ref_tokens} tokens of {text_mb:.1} MB in {ref_wall:.2} s = {}",
            rate(text_mb, ref_wall, ref_cpu)
        );
        // storypack's counter with nothing remembered (as in a new process): the split and
        // the per-piece memory fill as it goes.
        counter.forget();
        let (tokens, wall, cpu) = count_all(&texts, |s| counter.count_uncached(s));
        let mbs = text_mb / wall;
        println!(
            "tokens {enc} storypack, nothing cached: {tokens} tokens of {text_mb:.1} MB in {wall:.2} s = {} (target >= {TARGET_TOKENS_MBS:.0} MB/s: {}); equal to tiktoken-rs: {}",
            rate(text_mb, wall, cpu),
            verdict(mbs >= TARGET_TOKENS_MBS),
            tokens == ref_tokens
        );
        if tokens != ref_tokens {
            eprintln!("{enc}: storypack counted {tokens}, tiktoken-rs {ref_tokens}");
            ok = false;
        }
        uncached.push((enc, tokens, mbs, cpu.map(|c| text_mb / c), ref_wall));
    }
    o200k.forget();
    let (fill_tokens, fill_wall, fill_cpu) = count_all(&texts, |s| o200k.count(s));
    let (hit_tokens, hit_wall, hit_cpu) = count_all(&texts, |s| o200k.count(s));
    let counts_agree = fill_tokens == uncached[0].1 && hit_tokens == fill_tokens;
    if !counts_agree {
        eprintln!(
            "cached counts differ: uncached {}, first pass {fill_tokens}, second {hit_tokens}",
            uncached[0].1
        );
    }
    ok &= counts_agree;
    println!(
        "tokens o200k_base cached: first pass (fills the cache) {}; second pass (hits) {}",
        rate(text_mb, fill_wall, fill_cpu),
        rate(text_mb, hit_wall, hit_cpu)
    );
    let peak = proc_status_bytes("VmHWM");
    println!(
        "peak RSS (VmHWM): {:.0} MB after the packs = {:.2}x plan size, {:.0} MB at the end; {:.0} MB before opening",
        mb(warm_peak),
        mb(warm_peak) / plan_mb,
        mb(peak),
        mb(base_rss)
    );

    println!();
    println!("### storypack pack benchmark (warm process)");
    println!();
    println!("| metric | value | target |");
    println!("|---|---|---|");
    println!(
        "| plan | {plan_mb:.1} MB, {files} files, {} stories | |",
        ids.len()
    );
    println!("| App::open (parse) | {:.0} ms | |", ms(open));
    println!("| search index | {:.0} ms, {units} units | |", ms(index));
    println!("| first pack | {first_ms:.0} ms | |");
    println!(
        "| packs before counts are warm, budget {}, {} stories | p50 {:.1} / p99 {:.1} / max {:.1} ms | |",
        unwarmed.budget,
        unwarmed.times.len(),
        pct(&unwarmed.times, 0.50),
        pct(&unwarmed.times, 0.99),
        pct(&unwarmed.times, 1.0),
    );
    println!(
        "| count warm-up (one thread) | {:.0} ms, {excerpts} excerpts | |",
        ms(warm_up)
    );
    for p in &passes {
        let p50 = pct(&p.times, 0.50);
        let p99 = pct(&p.times, 0.99);
        println!(
            "| warm pack, budget {}, {} stories{} | p50 {p50:.1} / p99 {p99:.1} / max {:.1} ms | {TARGET_WARM_P50_MS:.0} / {TARGET_WARM_P99_MS:.0} ms: {} |",
            p.budget,
            p.times.len(),
            if p.capped { " (time cap)" } else { "" },
            pct(&p.times, 1.0),
            verdict(p50 < TARGET_WARM_P50_MS && p99 < TARGET_WARM_P99_MS)
        );
    }
    for (enc, _, mbs, cpu, ref_wall) in &uncached {
        println!(
            "| tokens {enc}, tiktoken-rs `encode_ordinary`, 1 thread | {:.1} MB/s | |",
            text_mb / ref_wall
        );
        println!(
            "| tokens {enc}, storypack, nothing cached, 1 thread | {mbs:.1} MB/s{}, same counts | >= {TARGET_TOKENS_MBS:.0} MB/s: {} |",
            cpu.map_or_else(String::new, |c| format!(" ({c:.1} per CPU s)")),
            verdict(*mbs >= TARGET_TOKENS_MBS)
        );
    }
    println!(
        "| tokens o200k_base, cached (hits) | {:.0} MB/s | |",
        text_mb / hit_wall
    );
    println!(
        "| peak RSS (VmHWM) | {:.0} MB ({:.2}x plan) | |",
        mb(warm_peak),
        mb(warm_peak) / plan_mb
    );
    ok
}
