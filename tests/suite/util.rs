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
