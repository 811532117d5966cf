//! The one facade the adapters (CLI, MCP server) call. It owns the loaded plan; every
//! result it returns is a plain serializable value, the same for every adapter.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{Diagnostic, Plan, Severity, Sprint, Story};
use crate::plan::{self, Parsed};
use crate::priorities::{self, Priorities, PriorityQuery, StoryFilter};

pub struct App {
    root: PathBuf,
    parsed: Parsed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SprintList {
    pub sprints: Vec<Sprint>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoryList {
    pub count: usize,
    pub stories: Vec<Story>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LintReport {
    pub files: usize,
    pub sprints: usize,
    pub stories: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub diagnostics: Vec<Diagnostic>,
}

impl App {
    /// Reads and parses the plan under `root`. Fails only when `root` is not a folder;
    /// everything wrong inside the plan is a diagnostic.
    pub fn open(root: &Path) -> Result<App, Error> {
        if !root.is_dir() {
            return Err(Error::Plan(format!(
                "{} is not a folder (pass the plan root with --plan DIR)",
                root.display()
            )));
        }
        Ok(App {
            root: root.to_path_buf(),
            parsed: plan::parse_dir(root),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn plan(&self) -> &Plan {
        &self.parsed.plan
    }

    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.parsed.diagnostics
    }

    pub fn sprints(&self) -> SprintList {
        SprintList {
            sprints: self.plan().sprints.clone(),
        }
    }

    pub fn priorities(&self, q: &PriorityQuery, today: NaiveDate) -> Result<Priorities, Error> {
        priorities::priorities(self.plan(), q, today)
    }

    pub fn stories(&self, filter: &StoryFilter) -> Result<StoryList, Error> {
        let stories: Vec<Story> = priorities::list_stories(self.plan(), filter)?
            .into_iter()
            .cloned()
            .collect();
        Ok(StoryList {
            count: stories.len(),
            stories,
        })
    }

    pub fn lint(&self) -> LintReport {
        let count = |s| self.parsed.count(s);
        LintReport {
            files: self.plan().docs.len(),
            sprints: self.plan().sprints.len(),
            stories: self.plan().stories.len(),
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            diagnostics: self.parsed.diagnostics.clone(),
        }
    }
}

/// Today's date on this machine's clock (local time).
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}
