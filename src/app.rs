//! The one facade the adapters (CLI, MCP server) call. It owns the loaded plan; every
//! result it returns is a plain serializable value, the same for every adapter.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{Diagnostic, Plan, Severity, Sprint, Story};
use crate::pack::{self, Pack, PackInput, PackRequest, Recipes, files};
use crate::plan::{self, Parsed};
use crate::priorities::{self, Priorities, PriorityQuery, StoryFilter};
use crate::search::{Hit, SearchIndex};
use crate::tokens::Tiktoken;

/// Longest search query accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 1_000;
/// Most search results returned at once.
pub const MAX_SEARCH_LIMIT: usize = 100;

/// One consistent view of the plan. Immutable: a changed file gives a new `App` (see
/// [`App::refresh`]) that adapters swap in whole, so no request sees a half-updated plan.
pub struct App {
    root: PathBuf,
    index: plan::Index,
    parsed: Parsed,
    recipes: Recipes,
    /// Built on first use: a CLI run that never ranks never pays for it.
    search: OnceLock<SearchIndex>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchResult {
    pub query: String,
    pub count: usize,
    pub hits: Vec<Hit>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SprintList {
    pub sprints: Vec<Sprint>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StoryList {
    pub count: usize,
    pub stories: Vec<Story>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
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
        Ok(App::from_index(plan::Index::load(root)))
    }

    fn from_index(index: plan::Index) -> App {
        let root = index.root().to_path_buf();
        let mut parsed = index.parsed();
        let recipes = Recipes::load(&read_recipes(&root), &mut parsed.diagnostics);
        parsed.diagnostics.sort_by(Diagnostic::report_order);
        App {
            root,
            index,
            parsed,
            recipes,
            search: OnceLock::new(),
        }
    }

    /// The plan after `changed` files (absolute or relative to the root) changed: only those
    /// files are re-read; everything else is reused.
    pub fn refresh(&self, changed: &[PathBuf]) -> App {
        App::from_index(self.index.refresh(changed))
    }

    pub fn recipes(&self) -> &Recipes {
        &self.recipes
    }

    pub fn index(&self) -> &SearchIndex {
        self.search
            .get_or_init(|| SearchIndex::build(&self.parsed.plan))
    }

    /// Builds the context pack of one story (nothing is written).
    pub fn pack(&self, req: &PackRequest) -> Result<Pack, Error> {
        // Check the cheap arguments before building the index.
        pack::find_story(self.plan(), &req.story_id)?;
        pack::check_budget(req.budget_tokens.unwrap_or(pack::DEFAULT_BUDGET))?;
        if let Some(r) = &req.recipe {
            self.recipes.get(r)?;
        }
        let input = PackInput {
            plan: self.plan(),
            index: self.index(),
            recipes: &self.recipes,
            handoffs: &[],
        };
        let counter = Tiktoken::get(req.encoding.unwrap_or_default());
        pack::build(&input, req, counter)
    }

    /// Writes a pack under `out` (default `<plan>/.storypack/packs`); returns the paths.
    pub fn write_pack(&self, pack: &Pack, out: Option<&Path>) -> Result<(PathBuf, PathBuf), Error> {
        files::write(pack, &files::packs_dir(&self.root, out))
    }

    /// Which written packs are stale (a source they cite changed).
    pub fn check_packs(&self, out: Option<&Path>) -> Result<files::PackCheck, Error> {
        files::check(self.plan(), &files::packs_dir(&self.root, out))
    }

    /// Plan sections ranked by relevance to `query`.
    pub fn search(&self, query: &str, limit: Option<usize>) -> Result<SearchResult, Error> {
        let q = query.trim();
        if q.is_empty() || q.len() > MAX_QUERY_LEN || q.contains('\0') {
            return Err(Error::invalid(
                "query",
                format!("must be 1 to {MAX_QUERY_LEN} bytes of text"),
            ));
        }
        let limit = limit.unwrap_or(10);
        if limit == 0 || limit > MAX_SEARCH_LIMIT {
            return Err(Error::invalid(
                "limit",
                format!("{limit} is out of range (1..={MAX_SEARCH_LIMIT})"),
            ));
        }
        // Ids named in the query link straight to where they are declared.
        let plan = self.plan();
        let mut anchors = Vec::new();
        for word in q.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
            let word = word.trim_matches(|c: char| !c.is_alphanumeric());
            if let Some(s) = plan
                .stories
                .iter()
                .find(|s| s.id.eq_ignore_ascii_case(word))
            {
                anchors.push(s.citation.clone());
            } else if let Some(e) = plan.epics.iter().find(|e| e.id.eq_ignore_ascii_case(word)) {
                anchors.push(e.citation.clone());
            }
        }
        let hits = self.index().search(plan, q, limit, &anchors);
        Ok(SearchResult {
            query: q.to_string(),
            count: hits.len(),
            hits,
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

/// The plan's own recipes, `<root>/packs/*.toml`, as (relative path, text).
fn read_recipes(root: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(root.join("packs")) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).ok()?;
            Some((format!("packs/{name}"), text))
        })
        .collect();
    out.sort();
    out
}

/// Today's date on this machine's clock (local time).
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}
