//! The generated plan every benchmark measures: `<target>/storypack-bench/plan-<size>/`,
//! generated once per `GEN_VERSION` and reused (a marker file beside it names the version).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::genplan;

/// Bump when genplan's output changes: stale plans are then regenerated.
pub const GEN_VERSION: u32 = 3;
pub const DEFAULT_STORIES: usize = 10_000;

pub fn target_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => manifest.join(dir),
        None => manifest.join("target"),
    }
}

/// `STORYPACK_BENCH_STORIES`, else `default`.
pub fn stories_from_env(default: usize) -> usize {
    std::env::var("STORYPACK_BENCH_STORIES")
        .ok()
        .map(|s| {
            s.trim()
                .parse::<usize>()
                .expect("STORYPACK_BENCH_STORIES must be a number")
        })
        .unwrap_or(default)
}

/// The plan folder for `stories`, generated if missing or stale.
pub fn ensure(stories: usize) -> PathBuf {
    let label = if stories >= 1000 && stories.is_multiple_of(1000) {
        format!("{}k", stories / 1000)
    } else {
        stories.to_string()
    };
    let base = target_dir().join("storypack-bench");
    let dir = base.join(format!("plan-{label}"));
    let marker = base.join(format!("plan-{label}.generated"));
    let stamp = format!("genplan v{GEN_VERSION} stories={stories}");
    let current = std::fs::read_to_string(&marker)
        .ok()
        .is_some_and(|m| m.lines().next() == Some(stamp.as_str()));
    if current && dir.is_dir() {
        println!("plan: reusing {} ({stamp})", dir.display());
        return dir;
    }
    let _ = std::fs::remove_file(&marker);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove stale plan");
    }
    let t = Instant::now();
    let st = genplan::generate(&dir, stories).expect("generate plan");
    let took = t.elapsed();
    println!(
        "plan: generated {} stories, {} files, {:.1} MB in {:.2} s -> {}",
        st.stories,
        st.files,
        st.bytes as f64 / 1e6,
        took.as_secs_f64(),
        dir.display()
    );
    std::fs::write(
        &marker,
        format!(
            "{stamp}\nfiles={} bytes={} seconds={:.2}\n",
            st.files,
            st.bytes,
            took.as_secs_f64()
        ),
    )
    .expect("write marker");
    dir
}

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// (files, markdown files, bytes) under `dir`.
pub fn plan_size(dir: &Path) -> (usize, usize, u64) {
    let mut stack = vec![dir.to_path_buf()];
    let (mut files, mut md, mut bytes) = (0, 0, 0);
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read plan dir") {
            let entry = entry.expect("dir entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files += 1;
                bytes += meta.len();
                if entry.path().extension().is_some_and(|e| e == "md") {
                    md += 1;
                }
            }
        }
    }
    (files, md, bytes)
}

/// A `/proc/self/status` figure in bytes ("VmHWM", "VmRSS"); 0 where unavailable.
pub fn proc_status_bytes(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

/// The value after `flag` in the bench's arguments (cargo passes `--bench` and maybe filters:
/// anything unknown is ignored).
pub fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}
