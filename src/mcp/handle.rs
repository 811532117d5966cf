//! The plan as a running server holds it: one immutable snapshot (the [`App`] and the prompts
//! read with it) behind a lock, replaced whole when files change, and the sessions to tell.
//!
//! A request clones the `Arc` of the current snapshot once and works on that, so it never sees
//! a half-updated plan; a refresh builds the next snapshot beside the current one and swaps it
//! in under the write lock, which is held only for the pointer swap.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::{Peer, RoleServer};
use tokio::sync::broadcast;

use super::prompts::Prompts;
use super::resources;
use crate::app::App;
use crate::error::Error;
use crate::handoff::Slot;
use crate::sync::{self, lock};

/// One consistent view: the plan and the prompt templates read with it.
pub struct Snapshot {
    pub app: Arc<App>,
    pub prompts: Arc<Prompts>,
}

/// What one refresh changed.
pub struct PlanChange {
    pub old: Arc<Snapshot>,
    pub new: Arc<Snapshot>,
    /// Plan documents (paths relative to the root) added, removed or edited.
    pub docs: BTreeSet<String>,
    pub prompts_changed: bool,
}

/// Something sessions are told about.
pub enum Event {
    /// The plan was re-read.
    Plan(Arc<PlanChange>),
    /// A handoff was recorded: these packs (of the story and of the stories depending on
    /// it) now show it.
    Recorded { packs: BTreeSet<String> },
}

impl Event {
    pub(crate) fn prompts_changed(&self) -> bool {
        matches!(self, Event::Plan(c) if c.prompts_changed)
    }

    /// Whether the resource behind `uri` reads differently now. May build packs: blocking.
    pub(crate) fn affects(&self, uri: &str) -> bool {
        match self {
            Event::Plan(c) => resources::changed(uri, &c.old.app, &c.new.app),
            Event::Recorded { packs } => packs.contains(uri),
        }
    }
}

/// A connected client session (initialize lifecycle) and the resources it subscribed to.
#[derive(Clone)]
pub(crate) struct Session {
    pub peer: Peer<RoleServer>,
    pub subscriptions: Subscriptions,
}

/// Resource URIs one session subscribed to (`resources/subscribe`).
pub(crate) type Subscriptions = Arc<Mutex<BTreeSet<String>>>;

/// Changes kept for `subscriptions/listen` streams that fall behind.
const CHANGE_BACKLOG: usize = 16;

/// The shared handle every session of one server holds.
pub struct PlanHandle {
    root: PathBuf,
    current: RwLock<Arc<Snapshot>>,
    /// Serialises refreshes so that two batches of changes cannot overwrite each other.
    refreshing: Mutex<()>,
    sessions: Mutex<Vec<Session>>,
    changes: broadcast::Sender<Arc<Event>>,
    /// A tick per change people watching the board would see: the plan, a handoff, a claim.
    board: broadcast::Sender<()>,
    /// Handoff records (story, n) sessions were told about, or that were there before:
    /// recorded through this server or found by the watcher, each is announced once.
    announced: Mutex<BTreeSet<(String, Slot)>>,
    /// The tools this server offers (`--toolsets`, `--read-only`); set once, before serving.
    tools: std::sync::OnceLock<super::tools::ToolSelection>,
}

impl PlanHandle {
    /// Parses the plan under `root` once; the server then answers from memory.
    pub fn open(root: &Path) -> Result<Arc<PlanHandle>, Error> {
        Ok(PlanHandle::new(App::open(root)?))
    }

    /// Wraps a plan opened by the caller (with or without its persisted index, say).
    pub fn from_app(app: App) -> Arc<PlanHandle> {
        PlanHandle::new(app)
    }

    /// Parses the plan under `root`, recording to `store` (a team's database).
    pub fn open_with_store(
        root: &Path,
        store: Arc<dyn crate::handoff::HandoffStore>,
    ) -> Result<Arc<PlanHandle>, Error> {
        Ok(PlanHandle::new(App::open_with_store(root, store)?))
    }

    /// Wraps an already opened plan.
    fn new(app: App) -> Arc<PlanHandle> {
        let root = app.root().to_path_buf();
        let prompts = Arc::new(Prompts::load(&root));
        let (changes, _) = broadcast::channel(CHANGE_BACKLOG);
        let (board, _) = broadcast::channel(CHANGE_BACKLOG);
        Arc::new(PlanHandle {
            root,
            current: RwLock::new(Arc::new(Snapshot {
                app: Arc::new(app),
                prompts,
            })),
            refreshing: Mutex::new(()),
            sessions: Mutex::new(Vec::new()),
            changes,
            board,
            announced: Mutex::new(BTreeSet::new()),
            tools: std::sync::OnceLock::new(),
        })
    }

    /// Limits the tools every session of this server offers. Only the first call counts.
    pub fn select_tools(&self, selection: super::tools::ToolSelection) {
        let _ = self.tools.set(selection);
    }

    /// The tools this server offers (all, unless [`PlanHandle::select_tools`] said less).
    pub(crate) fn tool_selection(&self) -> super::tools::ToolSelection {
        self.tools.get().cloned().unwrap_or_default()
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The current snapshot; hold it for the whole request.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        sync::read(&self.current).clone()
    }

    pub fn app(&self) -> Arc<App> {
        self.snapshot().app.clone()
    }

    /// Re-reads the `changed` files (absolute or relative to the root) and swaps the result
    /// in. Returns what changed, or `None` when nothing the server serves did (a file outside
    /// the plan): then the current snapshot, and its built search index, stay.
    /// Blocking: call it off the async runtime.
    pub fn refresh(&self, changed: &[PathBuf]) -> Option<Arc<PlanChange>> {
        let _one_at_a_time = lock(&self.refreshing);
        let old = self.snapshot();
        let under = |rel: &str| {
            let target = self.root.join(rel);
            changed.iter().any(|p| {
                if p.is_absolute() {
                    p.starts_with(&target)
                } else {
                    self.root.join(p).starts_with(&target)
                }
            })
        };
        let prompts_changed = under(super::prompts::PROMPTS_DIR);
        // Recipes and the config change what the plan says without changing a document.
        let settings_changed = under("packs") || under(crate::plan::config::CONFIG_FILE);
        let app = Arc::new(old.app.refresh(changed));
        let docs = changed_docs(&old.app, &app);
        if docs.is_empty() && !prompts_changed && !settings_changed {
            return None;
        }
        let prompts = if prompts_changed {
            Arc::new(Prompts::load(&self.root))
        } else {
            old.prompts.clone()
        };
        let new = Arc::new(Snapshot { app, prompts });
        *sync::write(&self.current) = new.clone();
        tracing::info!(docs = docs.len(), prompts_changed, "plan re-indexed");
        Some(Arc::new(PlanChange {
            old,
            new,
            docs,
            prompts_changed,
        }))
    }

    /// Tells every session about an event: `resources/list_changed` (and
    /// `prompts/list_changed` when prompts changed), then `resources/updated` for each
    /// subscribed resource that now reads differently.
    pub async fn publish(&self, event: Event) {
        let event = Arc::new(event);
        self.tick_board();
        // Streams opened with `subscriptions/listen` filter for themselves.
        let _ = self.changes.send(event.clone());
        let mut verdicts: HashMap<String, bool> = HashMap::new();
        for session in self.live_sessions() {
            let peer = &session.peer;
            if let Err(e) = peer.notify_resource_list_changed().await {
                tracing::debug!(error = %e, "session gone; not notified");
                continue;
            }
            if event.prompts_changed() {
                let _ = peer.notify_prompt_list_changed().await;
            }
            let subscribed: Vec<String> = lock(&session.subscriptions).iter().cloned().collect();
            for uri in subscribed {
                let affected = match verdicts.get(&uri) {
                    Some(v) => *v,
                    None => {
                        let (e, u) = (event.clone(), uri.clone());
                        let v = tokio::task::spawn_blocking(move || e.affects(&u))
                            .await
                            .unwrap_or(false);
                        verdicts.insert(uri.clone(), v);
                        v
                    }
                };
                if affected {
                    let _ = peer
                        .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                        .await;
                }
            }
        }
    }

    /// Tells the sessions about handoff records not announced yet (`(story_id, slot)`, recorded
    /// through this server or by another process): a new handoff resource, and the packs
    /// that now include them (of their stories and of the stories depending on those).
    pub(crate) async fn publish_recorded(&self, records: &[(String, Slot)]) {
        let stories: BTreeSet<&str> = {
            let mut announced = lock(&self.announced);
            records
                .iter()
                .filter(|r| announced.insert((*r).clone()))
                .map(|(story, _)| story.as_str())
                .collect()
        };
        if stories.is_empty() {
            return;
        }
        let app = self.app();
        let packs = app
            .plan()
            .stories
            .iter()
            .filter(|s| {
                stories.contains(s.id.as_str())
                    || s.depends_on.iter().any(|d| stories.contains(d.as_str()))
            })
            .map(|s| resources::pack_uri(&s.id))
            .collect();
        self.publish(Event::Recorded { packs }).await;
    }

    /// Tells the sessions a story's claims changed (another server took or released it):
    /// its pack and the packs of the stories depending on it show the new state.
    pub(crate) async fn publish_claimed(&self, story_id: &str) {
        let app = self.app();
        let packs = app
            .plan()
            .stories
            .iter()
            .filter(|s| s.id == story_id || s.depends_on.iter().any(|d| d == story_id))
            .map(|s| resources::pack_uri(&s.id))
            .collect();
        self.publish(Event::Recorded { packs }).await;
    }

    /// Records already there (when the watcher starts): not news.
    pub(crate) fn known_records(&self, records: impl IntoIterator<Item = (String, Slot)>) {
        lock(&self.announced).extend(records);
    }

    pub(crate) fn register(&self, session: Session) {
        let mut sessions = lock(&self.sessions);
        sessions.retain(|s| !s.peer.is_transport_closed());
        sessions.push(session);
    }

    fn live_sessions(&self) -> Vec<Session> {
        let mut sessions = lock(&self.sessions);
        sessions.retain(|s| !s.peer.is_transport_closed());
        sessions.clone()
    }

    /// Tells the board's open pages that what they show may have changed (a claim taken or
    /// released, which MCP sessions are not told about).
    pub(crate) fn tick_board(&self) {
        let _ = self.board.send(());
    }

    /// The board's ticks (see [`PlanHandle::tick_board`]).
    pub(crate) fn board_ticks(&self) -> broadcast::Receiver<()> {
        self.board.subscribe()
    }

    /// Events as they happen, for `subscriptions/listen` streams.
    pub(crate) fn changes(&self) -> broadcast::Receiver<Arc<Event>> {
        self.changes.subscribe()
    }
}

impl crate::board::Live for PlanHandle {
    fn app(&self) -> Arc<App> {
        PlanHandle::app(self)
    }

    fn ticks(&self) -> broadcast::Receiver<()> {
        self.board_ticks()
    }
}

/// Documents whose content differs between two plans, or that only one of them has.
fn changed_docs(old: &App, new: &App) -> BTreeSet<String> {
    let before: HashMap<&str, &str> = old
        .plan()
        .docs
        .iter()
        .map(|d| (d.path.as_str(), d.hash.as_str()))
        .collect();
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for d in &new.plan().docs {
        seen.insert(d.path.as_str());
        if before.get(d.path.as_str()) != Some(&d.hash.as_str()) {
            out.insert(d.path.clone());
        }
    }
    for path in before.keys() {
        if !seen.contains(path) {
            out.insert((*path).to_string());
        }
    }
    out
}
