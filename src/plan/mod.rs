//! Plan markdown -> [`Plan`] plus diagnostics. Parsing never fails.
//!
//! One pipeline, whoever starts it: [`load`] lists the plan's files and reads each one (the
//! only IO), [`read_source`] decodes a file and [`extract`] reads it alone (files are read in
//! parallel), [`Index`] keeps the per-file facts (and re-reads changed files through the
//! same path), and [`assemble`](mod@assemble) joins what the files say (merges roadmap rows by sprint,
//! links role labels to slugs) before [`checks`] checks ids, dependencies, gates and the
//! folder layout across files.

mod assemble;
mod checks;
pub(crate) mod config;
pub mod date;
pub mod explain;
mod extract;
mod index;
mod load;
mod markdown;
pub(crate) mod persist;
pub(crate) mod text;

use std::path::{Path, PathBuf};

pub(crate) use assemble::assemble;
pub(crate) use config::Config;
pub(crate) use extract::FileFacts;
pub(crate) use index::Index;
pub(crate) use load::read_source;

use crate::model::{Citation, Diagnostic, Plan, Severity};

/// Files larger than this are reported and skipped.
const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The parse result: the model and everything worth telling about how it was read.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub plan: Plan,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub(crate) fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

/// One file as read from disk: its path relative to the plan root (with `/`) and bytes.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Sources already read, for [`parse`]: markdown sources, the config text, and problems
/// met while reading them.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: Vec<Source>,
    pub config: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads and parses the plan under `root`.
pub fn parse_dir(root: &Path) -> Parsed {
    Index::load(root).parsed()
}

/// Parses sources already read (pure: no IO).
pub fn parse(loaded: Loaded) -> Parsed {
    Index::from_loaded(PathBuf::new(), loaded).parsed()
}

/// A diagnostic at the first line of a citation.
fn at_citation(c: &Citation, severity: Severity, code: &str, message: String) -> Diagnostic {
    Diagnostic {
        severity,
        code: code.into(),
        path: c.path.clone(),
        line: c.line_start,
        message,
    }
}
