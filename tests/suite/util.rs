//! Shared helpers: build a plan from inline files, find fixtures, run the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use storypack::model::{Diagnostic, Severity};
use storypack::plan::{self, Loaded, Parsed, Source};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn example_plan() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plan")
}

/// Parses inline files (path, text) with an optional storypack.toml.
pub fn parse_files(files: &[(&str, &str)], config: Option<&str>) -> Parsed {
    plan::parse(Loaded {
        sources: files
            .iter()
            .map(|(p, t)| Source {
                path: p.to_string(),
                bytes: t.as_bytes().to_vec(),
            })
            .collect(),
        config: config.map(str::to_string),
        diagnostics: Vec::new(),
    })
}

/// Diagnostics with a given code.
pub fn with_code<'a>(parsed: &'a Parsed, code: &str) -> Vec<&'a Diagnostic> {
    parsed
        .diagnostics
        .iter()
        .filter(|d| d.code == code)
        .collect()
}

/// Diagnostics that are errors or warnings (notes about missing folders left out).
pub fn problems(parsed: &Parsed) -> Vec<String> {
    parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Info)
        .map(|d| d.to_string())
        .collect()
}

pub fn storypack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args(args)
        .env_remove("STORYPACK_LOG")
        .output()
        .expect("run storypack")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The writer tag a plan's file store files its entries under (`.storypack/local/writer`,
/// made on its first write).
pub fn writer_tag(plan: &Path) -> String {
    let tag = std::fs::read_to_string(plan.join(".storypack/local/writer")).unwrap();
    let tag = tag.trim().to_string();
    assert!(
        tag.len() == 8
            && tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{tag:?}"
    );
    tag
}

/// The id the plan's file store gives record `n` of `story`: `<story>#<n>-<writer>`.
pub fn record_id(plan: &Path, story: &str, n: u64) -> String {
    format!("{story}#{n}-{}", writer_tag(plan))
}

/// `text` with every writer tag in a handoff id (`#3-k2x7m4pq`) shown as `#3-WRITER`: tags
/// are random per clone, snapshots are not.
pub fn mask_writer_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let tag = rest.get(digits + 1..digits + 9);
        if digits > 0
            && rest.as_bytes().get(digits) == Some(&b'-')
            && tag.is_some_and(|t| {
                t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
        {
            out.push_str(&rest[..=digits]);
            out.push_str("WRITER");
            rest = &rest[digits + 9..];
        }
    }
    out.push_str(rest);
    out
}
