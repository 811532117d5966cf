//! The persisted index (`.storypack/index/`) on the generated 10,000-story plan, in one run,
//! runs of each kind interleaved so that the machine's drift hits them alike:
//!
//! 1. cold `storypack pack STORY --budget 8000` with `--no-index`, with a fresh index, and
//!    right after one plan file changed (the run that re-reads it and rewrites the index);
//!    wall time and peak RSS (`/usr/bin/time -f %M`);
//! 2. `storypack serve` (stdio) from start to its `plan ready` line, without and with the
//!    index (the second start finds the counts the first one kept);
//! 3. `yek` dumping the same tree (no budget), when a `yek` binary is on the PATH or in
//!    `STORYPACK_BENCH_YEK` (`cargo install yek`), as a peer's cost of reading the plan.
//!
//! Ratios are what to read: "with / without" for both the pack and the server.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it is a smoke test: a 500-story
//! plan, one run of each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/benchplan.rs"]
mod benchplan;
#[path = "support/genplan.rs"]
mod genplan;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use benchplan::{mb, ms, verdict};

const RUNS: usize = 5;
const SMOKE_STORIES: usize = 500;

fn main() -> ExitCode {
    let bench = std::env::args().any(|a| a == "--bench");
    let (stories, runs) = if bench {
        (
            benchplan::stories_from_env(benchplan::DEFAULT_STORIES),
            RUNS,
        )
    } else {
        println!("no --bench argument: smoke run ({SMOKE_STORIES} stories, one run of each)");
        (SMOKE_STORIES, 1)
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let dir = benchplan::ensure(stories);
    let out = benchplan::target_dir().join("storypack-bench/index-out");
    std::fs::create_dir_all(&out).unwrap();
    let ids: Vec<String> = storypack::plan::parse_dir(&dir)
        .plan
        .stories
        .iter()
        .map(|s| s.id.clone())
        .collect();
    let index = dir.join(".storypack/index");
    let _ = std::fs::remove_dir_all(&index);
    let bin = Path::new(env!("CARGO_BIN_EXE_storypack"));

    // The first indexed run writes the index (not measured as "with").
    let first = pack(bin, &dir, &out, &ids[0], false);
    println!(
        "first run with the index (it writes it): {:.0} ms, peak RSS {}",
        ms(first.0),
        rss(first.1)
    );
    let backlog = first_backlog_file(&dir);
    let original = std::fs::read_to_string(&backlog).unwrap();
    let (mut without, mut with, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rss_without, mut rss_with, mut rss_changed) = (0u64, 0u64, 0u64);
    for i in 0..runs {
        let story = &ids[(i * 997 + 13) % ids.len()];
        let (t, r) = pack(bin, &dir, &out, story, true);
        without.push(t);
        rss_without = rss_without.max(r.unwrap_or(0));
        let (t, r) = pack(bin, &dir, &out, story, false);
        with.push(t);
        rss_with = rss_with.max(r.unwrap_or(0));
        // One file changed: a line appended (then taken back, which the next run re-reads).
        let edit = if i % 2 == 0 {
            format!("{original}\nA note added for run {i}.\n")
        } else {
            original.clone()
        };
        std::fs::write(&backlog, edit).unwrap();
        let (t, r) = pack(bin, &dir, &out, story, false);
        changed.push(t);
        rss_changed = rss_changed.max(r.unwrap_or(0));
    }
    std::fs::write(&backlog, &original).unwrap();
    let _ = pack(bin, &dir, &out, &ids[0], false);

    let med = |v: &mut Vec<Duration>| {
        v.sort();
        ms(v[v.len() / 2])
    };
    let (w, i, c) = (med(&mut without), med(&mut with), med(&mut changed));
    println!();
    println!(
        "### persisted index ({} stories, {runs} runs each, interleaved)",
        ids.len()
    );
    println!();
    println!("| what | median | peak RSS | ratio to without |");
    println!("|---|---|---|---|");
    println!(
        "| cold pack, `--no-index` | {w:.0} ms | {:.0} MB | 1 |",
        mb(rss_without)
    );
    println!(
        "| cold pack, fresh index | {i:.0} ms | {:.0} MB | {:.2} (goal <= 0.33: {}) |",
        mb(rss_with),
        i / w,
        verdict(i / w <= 0.34)
    );
    println!(
        "| cold pack, one file changed | {c:.0} ms | {:.0} MB | {:.2} |",
        mb(rss_changed),
        c / w
    );

    // The server: start to `plan ready`, without then with (interleaved). The first start
    // with the index counts every excerpt and keeps the counts: reported on its own.
    let counts = index.join("counts-o200k_base.bin");
    let _ = std::fs::remove_file(&counts);
    let first = serve_ready(bin, &dir, false, Some(&counts));
    println!(
        "| `serve` to `plan ready`, first start with the index (it keeps the counts) | {:.0} ms | | |",
        ms(first)
    );
    let (mut s_without, mut s_with) = (Vec::new(), Vec::new());
    for _ in 0..runs.min(3) {
        s_without.push(serve_ready(bin, &dir, true, None));
        s_with.push(serve_ready(bin, &dir, false, None));
    }
    let (sw, si) = (med(&mut s_without), med(&mut s_with));
    println!("| `serve` to `plan ready`, `--no-index` | {sw:.0} ms | | 1 |");
    println!(
        "| `serve` to `plan ready`, with the index | {si:.0} ms | | {:.2} (goal < 0.10: {}) |",
        si / sw,
        verdict(si / sw < 0.10)
    );

    match yek() {
        Some(yek) => {
            let mut times = Vec::new();
            let mut peak = 0;
            for _ in 0..runs {
                // No budget: a limit above the whole plan (yek cuts at 10 MB by default).
                let (t, r) = timed(
                    Command::new(&yek)
                        .args(["--max-size", "1000MB"])
                        .arg(&dir)
                        .current_dir(&out),
                    &out,
                );
                times.push(t);
                peak = peak.max(r.unwrap_or(0));
            }
            let y = med(&mut times);
            println!(
                "| `yek` dumping the same tree (no budget) | {y:.0} ms | {:.0} MB | {:.2} (pack with the index / yek: {:.2}, goal < 1: {}) |",
                mb(peak),
                y / w,
                i / y,
                verdict(i < y)
            );
        }
        None => {
            println!("| `yek` | not found (cargo install yek, or STORYPACK_BENCH_YEK=PATH) | | |")
        }
    }
    println!();
    let goal_rss = mb(rss_with) <= 300.0;
    println!(
        "peak RSS of a cold pack with the index: {:.0} MB (goal <= 300 MB: {})",
        mb(rss_with),
        verdict(goal_rss)
    );
    ExitCode::SUCCESS
}

/// A backlog file of the plan, for the one-file-changed runs.
fn first_backlog_file(dir: &Path) -> PathBuf {
    let backlog = dir.join("docs/03-backlog");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&backlog)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files.remove(0)
}

/// Runs `cmd` under `/usr/bin/time` when it is there: wall time and peak RSS in bytes.
fn timed(cmd: &mut Command, out: &Path) -> (Duration, Option<u64>) {
    let time_bin = Path::new("/usr/bin/time");
    let rss_file = out.join("maxrss.txt");
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut run = if time_bin.is_file() {
        let mut c = Command::new(time_bin);
        c.args(["-f", "%M", "-o"])
            .arg(&rss_file)
            .arg(program)
            .args(args);
        c
    } else {
        Command::new(program)
    };
    if let Some(d) = cmd.get_current_dir() {
        run.current_dir(d);
    }
    run.stdout(Stdio::null()).stderr(Stdio::piped());
    let t = Instant::now();
    let output = run.output().expect("run");
    let took = t.elapsed();
    assert!(
        output.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&output.stderr)
    );
    let peak = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.lines().last()?.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024);
    (took, peak)
}

fn pack(
    bin: &Path,
    dir: &Path,
    out: &Path,
    story: &str,
    no_index: bool,
) -> (Duration, Option<u64>) {
    let mut cmd = Command::new(bin);
    cmd.args(["pack", story, "--budget", "8000", "--plan"])
        .arg(dir)
        .arg("--out")
        .arg(out);
    if no_index {
        cmd.arg("--no-index");
    }
    timed(&mut cmd, out)
}

fn rss(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "n/a".into(), |b| format!("{:.0} MB", mb(b)))
}

/// `storypack serve` from spawn to its `plan ready` line on stderr; then, before stopping
/// it, waits (up to 30 s) for `wait_for` to be written.
fn serve_ready(bin: &Path, dir: &Path, no_index: bool, wait_for: Option<&Path>) -> Duration {
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--no-watch", "--plan"]).arg(dir);
    if no_index {
        cmd.arg("--no-index");
    }
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let ready = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("plan ready"));
    let took = t.elapsed();
    assert!(ready, "serve never said `plan ready`");
    // Let it write what it keeps after warming up, then stop it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while wait_for.is_some_and(|f| !f.is_file()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    drop(child.stdin.take());
    let _ = child.wait();
    took
}

fn yek() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STORYPACK_BENCH_YEK") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("yek"))
        .find(|p| p.is_file())
}
