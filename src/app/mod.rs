//! The one facade the adapters (CLI, MCP server) call. It owns the loaded plan; every
//! result it returns is a plain serializable value, the same for every adapter.
//!
//! `live.rs` adds what depends on the record as well as the plan: story states, claims,
//! the next story, `sync`.

mod live;
mod persisted;

pub(crate) use live::now;
pub use live::{ClaimList, ClaimOutcome, NextRequest, StoryClaim};

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::gate::{self, GateReport, HandoffState, PackState};
use crate::handoff::verify::Verifier;
use crate::handoff::{
    self, FileStore, HandoffList, HandoffRecord, HandoffStore, RecordOutcome, Validation,
};
use crate::model::{Claim, Diagnostic, Plan, Severity, Sprint, Story, StoryState, state_of};
use crate::pack::{self, HandoffExcerpt, Pack, PackInput, PackRequest, Recipes, files};
use crate::plan::{self, Parsed};
use crate::priorities::{self, Priorities, PriorityQuery, StoryFilter};
use crate::search::{self, Hit, SearchIndex};
use crate::sync::lock;
use crate::tokens::{Encoding, Tiktoken};
use crate::writeback::{self, WriteOutcome};

/// Longest search query accepted, in bytes.
pub(crate) const MAX_QUERY_LEN: usize = 1_000;
/// Most search results returned at once.
const MAX_SEARCH_LIMIT: usize = 100;
/// Packs one snapshot keeps for repeats (see [`App::pack`]): a few MB at most.
const PACK_MEMO: usize = 32;

/// One consistent view of the plan. Immutable: a changed file gives a new `App` (see
/// [`App::refresh`]) that adapters swap in whole, so no request sees a half-updated plan.
pub struct App {
    root: PathBuf,
    index: plan::Index,
    parsed: Parsed,
    recipes: Recipes,
    /// Built on first use: a CLI run that never ranks never pays for it.
    search: OnceLock<SearchIndex>,
    /// Whether `search` was built here (not read from the persisted index): then
    /// [`App::persist_index`] writes it.
    search_built: std::sync::atomic::AtomicBool,
    /// Shared by every view of the plan (a refreshed `App` keeps it).
    handoffs: Arc<dyn HandoffStore>,
    /// Packs built from this snapshot, most recently used first (at most [`PACK_MEMO`]).
    packs: Mutex<Vec<Memo>>,
}

/// A pack and everything it was built from besides the snapshot: a pack is a function of
/// the plan, its recipes, the request and the handoffs it shows, so the same request with
/// the same handoffs is the same pack.
struct Memo {
    story_id: String,
    state: StoryState,
    budget: usize,
    encoding: Encoding,
    recipe: Option<String>,
    handoffs: Vec<HandoffExcerpt>,
    pack: Arc<Pack>,
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
    pub stories: Vec<StoryEntry>,
}

/// A story with its live state (see `docs/plan-format.md`, "Story state").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoryEntry {
    #[serde(flatten)]
    pub story: Story,
    pub state: StoryState,
    /// The live claim, when one holds the story.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
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
        App::open_with(root, false)
    }

    /// [`App::open`]; with `persisted_index`, files unchanged since the last run come from
    /// the plan's persisted index (`.storypack/index/`), which is kept up to date.
    pub fn open_with(root: &Path, persisted_index: bool) -> Result<App, Error> {
        if !root.is_dir() {
            return Err(Error::Plan(format!(
                "{} is not a folder (pass the plan root with --plan DIR)",
                root.display()
            )));
        }
        let t = std::time::Instant::now();
        let index = plan::Index::load_with(root, persisted_index);
        if persisted_index {
            crate::tokens::keep_counts_in(&index.root().join(plan::persist::INDEX_DIR));
        }
        tracing::debug!(
            ms = t.elapsed().as_millis() as u64,
            reused = index.usage.0,
            parsed = index.usage.1,
            "plan read and parsed"
        );
        let store: Arc<dyn HandoffStore> = Arc::new(FileStore::for_plan(index.root()));
        Ok(App::from_index(index, store))
    }

    /// Opens the plan with another handoff store (a team server's database, a test double).
    pub fn open_with_store(root: &Path, store: Arc<dyn HandoffStore>) -> Result<App, Error> {
        let app = App::open(root)?;
        Ok(App::from_index(app.index, store))
    }

    /// The same snapshot recording to another store.
    pub fn with_store(self, store: Arc<dyn HandoffStore>) -> App {
        App::from_index(self.index, store)
    }

    /// The handoff store this plan records to (shared by its snapshots).
    pub fn store(&self) -> &Arc<dyn HandoffStore> {
        &self.handoffs
    }

    fn from_index(index: plan::Index, handoffs: Arc<dyn HandoffStore>) -> App {
        let root = index.root().to_path_buf();
        let mut parsed = index.parsed();
        let recipes = Recipes::load_dir(&root, &mut parsed.diagnostics);
        parsed.diagnostics.sort_by(Diagnostic::report_order);
        App {
            root,
            index,
            parsed,
            recipes,
            search: OnceLock::new(),
            search_built: std::sync::atomic::AtomicBool::new(false),
            handoffs,
            packs: Mutex::new(Vec::new()),
        }
    }

    /// The plan after `changed` files (absolute or relative to the root) changed: only those
    /// files are re-read; everything else is reused.
    pub fn refresh(&self, changed: &[PathBuf]) -> App {
        App::from_index(self.index.refresh(changed), Arc::clone(&self.handoffs))
    }

    #[cfg(test)]
    pub(crate) fn recipes(&self) -> &Recipes {
        &self.recipes
    }

    /// The whole search index, built on first call and kept (long-lived processes call this
    /// once up front; one-shot commands never do, see [`App::pack`]).
    pub fn index(&self) -> &SearchIndex {
        self.search.get_or_init(|| {
            let t = std::time::Instant::now();
            if let Some(dir) = self.index.persisted_dir() {
                let key = search::persist::key(self.plan(), self.index.config_hash());
                if let Some(index) = search::persist::read(&dir, self.plan(), key) {
                    tracing::debug!(
                        ms = t.elapsed().as_millis() as u64,
                        units = index.units.len(),
                        "search index read from the persisted index"
                    );
                    return index;
                }
            }
            let index = SearchIndex::build(&self.parsed.plan);
            self.search_built
                .store(true, std::sync::atomic::Ordering::SeqCst);
            tracing::debug!(
                ms = t.elapsed().as_millis() as u64,
                units = index.units.len(),
                "search index built"
            );
            index
        })
    }

    /// Whether the whole search index is built (a pack then needs no indexing step).
    pub(crate) fn index_ready(&self) -> bool {
        self.search.get().is_some()
    }

    /// Counts every excerpt a pack can cite once, in `encoding`, so packs afterwards count
    /// only their own headings (see [`pack::warm_counts`]). Builds the index if needed.
    pub fn warm_counts(&self, encoding: Encoding) -> usize {
        pack::warm_counts(self.plan(), self.index(), Tiktoken::get(encoding))
    }

    /// Builds the context pack of one story (nothing is written).
    ///
    /// A repeat (the same story, budget, encoding and recipe, with the same handoffs on
    /// record) is a copy of the pack built before from this snapshot: a client reading a
    /// pack after `resources/updated`, several agents on one story. The handoffs are read
    /// every time, so one recorded since is in the pack.
    pub fn pack(&self, req: &PackRequest) -> Result<Pack, Error> {
        let live = self.live_state(&req.story_id)?;
        let mut pack = self.pack_in_state(req, live.state)?;
        pack.claim = live.claim;
        Ok(pack)
    }

    /// The pack as it reads with the story in `state` (the memo keeps it; the claim is
    /// added by [`App::pack`]).
    fn pack_in_state(&self, req: &PackRequest, state: StoryState) -> Result<Pack, Error> {
        // Check the cheap arguments before building the index.
        let story = pack::find_story(self.plan(), &req.story_id)?;
        let budget = pack::check_budget(req.budget_tokens.unwrap_or(pack::DEFAULT_BUDGET))?;
        if let Some(r) = &req.recipe {
            self.recipes.get(r)?;
        }
        let encoding = req.encoding.unwrap_or_default();
        let handoffs = self.handoff_excerpts(&story.id)?;
        let same = |m: &Memo| {
            m.story_id == story.id
                && m.state == state
                && m.budget == budget
                && m.encoding == encoding
                && m.recipe == req.recipe
                && m.handoffs == handoffs
        };
        if let Some(pack) = self.memo(same) {
            return Ok(pack.as_ref().clone());
        }
        // A process that keeps the whole index (the server) uses it; a one-shot pack indexes
        // just the terms it looks up, which ranks the same.
        let index = self.ranking_index(&pack::index_terms(self.plan(), story));
        let input = PackInput {
            plan: self.plan(),
            index: index.as_ref(),
            recipes: &self.recipes,
            handoffs: &handoffs,
            state: Some(state),
        };
        let built = pack::build(&input, req, Tiktoken::get(encoding))?;
        let mut packs = lock(&self.packs);
        packs.retain(|m| !same(m));
        packs.truncate(PACK_MEMO - 1);
        packs.insert(
            0,
            Memo {
                story_id: story.id.clone(),
                state,
                budget,
                encoding,
                recipe: req.recipe.clone(),
                handoffs,
                pack: Arc::new(built.clone()),
            },
        );
        drop(packs);
        Ok(built)
    }

    /// The remembered pack `same` picks, moved to the front.
    fn memo(&self, same: impl Fn(&Memo) -> bool) -> Option<Arc<Pack>> {
        let mut packs = lock(&self.packs);
        let at = packs.iter().position(same)?;
        let hit = packs.remove(at);
        let pack = Arc::clone(&hit.pack);
        packs.insert(0, hit);
        Some(pack)
    }

    /// Earlier handoffs of a story and of the stories it depends on, oldest first, as pack
    /// excerpts citing their record files.
    fn handoff_excerpts(&self, story_id: &str) -> Result<Vec<HandoffExcerpt>, Error> {
        let story = pack::find_story(self.plan(), story_id)?;
        let mut out = Vec::new();
        for id in std::iter::once(&story.id).chain(&story.depends_on) {
            if handoff::store::check_story_id(id).is_err() {
                continue;
            }
            for r in self.handoffs.list(Some(id))? {
                out.push(HandoffRecord::excerpt(&r));
            }
        }
        out.sort_by(|a, b| {
            a.received_at
                .cmp(&b.received_at)
                .then_with(|| a.title.cmp(&b.title))
        });
        Ok(out)
    }

    /// Validates a contract against the plan; nothing is recorded.
    pub fn validate_handoff(&self, contract: &serde_json::Value) -> Validation {
        self.validate_contract(contract).0
    }

    fn validate_contract(
        &self,
        contract: &serde_json::Value,
    ) -> (Validation, Option<handoff::Contract>) {
        let root = self.canonical_root();
        self.validate_with(contract, &Verifier::new(&root), true)
    }

    /// Validation with a verifier that may serve several contracts (a gate's stories).
    /// `check_pack`: compare a cited pack hash with the story's current pack (a warning
    /// only, and the costly part: state derivation, which needs validity only, skips it).
    fn validate_with(
        &self,
        contract: &serde_json::Value,
        verify: &Verifier<'_>,
        check_pack: bool,
    ) -> (Validation, Option<handoff::Contract>) {
        let root = self.canonical_root();
        let pack_check = |story: &str, hash: &str| {
            if check_pack {
                self.pack_hash_warning(story, hash)
            } else {
                None
            }
        };
        let ctx = handoff::validate::Context {
            plan: self.plan(),
            root: &root,
            pack_check: &pack_check,
            verify,
        };
        handoff::validate::validate(contract, &ctx)
    }

    /// The plan root with symlinks resolved: evidence is looked up under it.
    fn canonical_root(&self) -> PathBuf {
        self.root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone())
    }

    /// A warning when `hash` is not the story's current pack: the written pack with that
    /// hash must still be fresh, or the pack built now (default settings) must have it.
    fn pack_hash_warning(&self, story: &str, hash: &str) -> Option<String> {
        let written = files::packs_dir(&self.root, None).join(format!("{story}.json"));
        if let Some(p) = crate::regular::read(&written, 64 * 1024 * 1024)
            .ok()
            .and_then(Result::ok)
            .and_then(|b| serde_json::from_slice::<Pack>(&b).ok())
            .filter(|p| p.hash == hash)
        {
            let changed: Vec<&str> = p
                .sources
                .iter()
                .filter(|s| self.plan().doc(&s.path).is_none_or(|d| d.hash != s.hash))
                .map(|s| s.path.as_str())
                .collect();
            return (!changed.is_empty()).then(|| {
                format!(
                    "the plan changed since pack {hash} was built: {}",
                    changed.join(", ")
                )
            });
        }
        let current = self.pack(&PackRequest {
            story_id: story.to_string(),
            ..PackRequest::default()
        });
        match current {
            Ok(p) if p.hash == hash => None,
            Ok(p) => Some(format!(
                "pack {hash} is not the story's current pack ({}); the plan may have changed under the agent",
                p.hash
            )),
            Err(e) => Some(format!(
                "the story's current pack cannot be built to compare: {e}"
            )),
        }
    }

    /// Validates and, when valid, records a contract (append-only). Invalid: nothing stored.
    pub fn record_handoff(&self, contract: &serde_json::Value) -> Result<RecordOutcome, Error> {
        let (validation, contract) = self.validate_contract(contract);
        let Some(contract) = contract else {
            return Ok(RecordOutcome {
                recorded: false,
                record: None,
                validation,
            });
        };
        let story_id = contract.story_id().to_string();
        let hash = handoff::contract_hash(&contract);
        let received_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // The store files it under its writer tag, if it has one (`with_writer`).
        let make = |n: u64| HandoffRecord {
            id: format!("{story_id}#{n}"),
            n,
            writer: None,
            story_id: story_id.clone(),
            received_at: received_at.clone(),
            hash: hash.clone(),
            contract: contract.clone(),
        };
        let record = self.handoffs.append(&story_id, &make)?;
        tracing::info!(id = %record.id, "handoff recorded");
        Ok(RecordOutcome {
            recorded: true,
            record: Some(record),
            validation,
        })
    }

    /// Recorded handoffs, of one story or all, newest last.
    pub fn list_handoffs(&self, story_id: Option<&str>) -> Result<HandoffList, Error> {
        if let Some(id) = story_id {
            pack::find_story(self.plan(), id)?;
        }
        let handoffs = self.handoffs.list(story_id.map(str::trim))?;
        Ok(HandoffList {
            count: handoffs.len(),
            handoffs,
        })
    }

    /// One recorded handoff by id (`SRE-04-01#2-k2x7m4pq`, or `SRE-04-01#2` as earlier
    /// versions and PostgreSQL number them). `SRE-04-01#2` also finds the one record
    /// numbered 2 whatever its writer, and names them all when merged branches left several.
    pub fn handoff(&self, id: &str) -> Result<HandoffRecord, Error> {
        let (story, slot) = handoff::parse_id(id)?;
        if let Some(record) = self.handoffs.get(story, &slot)? {
            return Ok(record);
        }
        let not_found = || Error::not_found("id", format!("no handoff {story}#{slot} recorded"));
        if slot.writer.is_some() {
            return Err(not_found());
        }
        let mut numbered: Vec<HandoffRecord> = self
            .handoffs
            .list(Some(story))?
            .into_iter()
            .filter(|r| r.n == slot.n)
            .collect();
        match numbered.len() {
            0 => Err(not_found()),
            1 => Ok(numbered.remove(0)),
            _ => Err(Error::invalid(
                "id",
                format!(
                    "{story}#{slot} names {} records (from merged branches): {}",
                    numbered.len(),
                    numbered
                        .iter()
                        .map(|r| r.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// `storypack sync --write`: writes each file's edits (atomically, one file at a time),
    /// leaving alone a file that changed since this snapshot read it. One outcome per file.
    pub fn write_back(&self, edits: &writeback::Edits) -> Result<Vec<WriteOutcome>, Error> {
        edits
            .files
            .iter()
            .map(|f| writeback::write::write_file(&self.root, f))
            .collect()
    }

    /// Checks a sprint's gate evidence, stories, packs and handoffs as of `today`.
    pub fn check_gate(&self, sprint: &str, today: NaiveDate) -> Result<GateReport, Error> {
        let sprint = priorities::resolve_sprint(self.plan(), sprint)?;
        let root = self.canonical_root();
        // One verifier for the checklist and every handoff: each commit is asked once.
        let verify = Verifier::new(&root);
        let written = self.check_packs(None)?;
        let mut packs: HashMap<String, PackState> = HashMap::new();
        for p in written.packs {
            packs.insert(
                p.story_id,
                if p.fresh {
                    PackState::Fresh
                } else {
                    PackState::Stale
                },
            );
        }
        let mut handoffs: HashMap<String, (HandoffState, String)> = HashMap::new();
        for story in self
            .plan()
            .stories
            .iter()
            .filter(|s| s.sprint.as_deref() == Some(sprint.id.as_str()))
        {
            if let Ok(records) = self.handoffs.list(Some(&story.id))
                && let Some(latest) = records.last()
            {
                #[allow(
                    clippy::expect_used,
                    reason = "a contract is strings and enums: it always serializes"
                )]
                let value = serde_json::to_value(&latest.contract).expect("a contract serializes");
                let state = if self.validate_with(&value, &verify, true).0.valid {
                    HandoffState::Valid
                } else {
                    HandoffState::Invalid
                };
                handoffs.insert(story.id.clone(), (state, latest.id.clone()));
            }
        }
        let states = self.states()?;
        let input = gate::GateInput {
            plan: self.plan(),
            root: &root,
            verify: &verify,
            today,
            packs: &packs,
            handoffs: &handoffs,
            states: &states,
        };
        Ok(gate::check(sprint, &input))
    }

    /// Writes a pack under `out` (default `<plan>/.storypack/packs`); returns the paths.
    pub fn write_pack(&self, pack: &Pack, out: Option<&Path>) -> Result<(PathBuf, PathBuf), Error> {
        files::write(pack, &files::packs_dir(&self.root, out))
    }

    /// Which written packs are stale (a source they cite changed).
    pub fn check_packs(&self, out: Option<&Path>) -> Result<files::PackCheck, Error> {
        files::check(self.plan(), &files::packs_dir(&self.root, out))
    }

    /// The index to rank with: the whole one when this process keeps it (the server), else
    /// one of just `terms`, which ranks the same for them (a one-shot command).
    fn ranking_index(&self, terms: &[String]) -> Cow<'_, SearchIndex> {
        if let Some(full) = self.search.get() {
            return Cow::Borrowed(full);
        }
        // A plan that keeps a persisted index reads the whole search index from it (or
        // builds it, which costs about what indexing one request's terms does, and keeps it
        // for the next process).
        if self.index.persisted_dir().is_some() {
            return Cow::Borrowed(self.index());
        }
        let t = std::time::Instant::now();
        let own = SearchIndex::for_terms(self.plan(), terms);
        tracing::debug!(
            ms = t.elapsed().as_millis() as u64,
            units = own.units.len(),
            "terms indexed for one request"
        );
        Cow::Owned(own)
    }

    /// Plan sections ranked by relevance to `query`.
    pub fn search(&self, query: &str, limit: Option<usize>) -> Result<SearchResult, Error> {
        let q = query.trim();
        if q.contains('\0') {
            return Err(Error::invalid("query", "must not contain NUL".into()));
        }
        if q.is_empty() || q.len() > MAX_QUERY_LEN {
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
        let index = self.ranking_index(&[q.to_string()]);
        let hits = index.search(plan, q, limit, &anchors);
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
        let states = self.states()?;
        priorities::priorities(self.plan(), q, today, &states)
    }

    /// Stories matching every filter, in plan order, with their live state.
    pub fn stories(&self, filter: &StoryFilter) -> Result<StoryList, Error> {
        let want = match filter.state.as_deref() {
            None => None,
            Some(raw) => Some(StoryState::parse(raw).ok_or_else(|| {
                Error::invalid(
                    "state",
                    format!(
                        "`{}` is not a state (todo, claimed, in_progress, ready_for_review, done, blocked)",
                        raw.chars().take(40).collect::<String>()
                    ),
                )
            })?),
        };
        let matching = priorities::list_stories(self.plan(), filter)?;
        let states = self.states()?;
        let stories: Vec<StoryEntry> = matching
            .into_iter()
            .map(|s| {
                let live = states.get(&s.id);
                StoryEntry {
                    story: s.clone(),
                    state: state_of(&states, s),
                    claim: live.and_then(|l| l.claim.clone()),
                }
            })
            .filter(|e| want.is_none_or(|w| e.state == w))
            .collect();
        Ok(StoryList {
            count: stories.len(),
            stories,
        })
    }

    /// What storypack read from one markdown file of the plan (`file`: relative to the plan
    /// root, or a path to the file) and which lists and tables it skipped, with why.
    pub fn explain(&self, file: &str) -> Result<plan::explain::Explanation, Error> {
        let rel = self.relative(file);
        let Some(facts) = self.index.facts(&rel) else {
            let count = self.index.paths().count();
            return Err(Error::not_found(
                "file",
                format!(
                    "`{}` is not a markdown file of the plan at {} ({count} files read; give a                      path relative to the plan root, e.g. {})",
                    file.chars().take(200).collect::<String>(),
                    self.root.display(),
                    self.index
                        .paths()
                        .next()
                        .unwrap_or("docs/03-backlog/backlog.md")
                ),
            ));
        };
        Ok(plan::explain::explain(facts, &self.parsed.diagnostics))
    }

    /// `file` relative to the plan root: as given when it names a file there, else through
    /// the file system (a path from the current folder).
    fn relative(&self, file: &str) -> String {
        let plain = file.trim_start_matches("./").replace('\\', "/");
        if self.index.facts(&plain).is_some() {
            return plain;
        }
        let root = self
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone());
        std::path::Path::new(file)
            .canonicalize()
            .ok()
            .and_then(|p| {
                p.strip_prefix(&root).ok().map(|r| {
                    r.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/")
                })
            })
            .unwrap_or(plain)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pack_memo_keeps_the_most_recently_used_packs_only() {
        let app = App::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plan")).unwrap();
        let story = app.plan().stories[0].id.clone();
        let req = |budget: usize| PackRequest {
            story_id: story.clone(),
            budget_tokens: Some(budget),
            ..PackRequest::default()
        };
        let budgets: Vec<usize> = (0..PACK_MEMO + 4).map(|i| 4_000 + 10 * i).collect();
        for &b in &budgets {
            app.pack(&req(b)).unwrap();
        }
        // Used again: the oldest kept moves to the front and outlives the next one.
        let again = budgets[4];
        app.pack(&req(again)).unwrap();
        app.pack(&req(9_999)).unwrap();
        let kept: Vec<usize> = app.packs.lock().unwrap().iter().map(|m| m.budget).collect();
        assert_eq!(kept.len(), PACK_MEMO);
        assert_eq!(kept[..2], [9_999, again]);
        assert!(!kept.contains(&budgets[5]), "the least recently used went");
        assert!(budgets[..4].iter().all(|b| !kept.contains(b)));
        assert_eq!(
            &kept[2..],
            &budgets[6..].iter().rev().copied().collect::<Vec<_>>()[..]
        );
    }
}
