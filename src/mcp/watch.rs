//! The live plan: watch the plan root (notify, debounced), re-read only the files that
//! changed, swap the new snapshot in, and tell the sessions (`resources/list_changed`,
//! `resources/updated` for affected subscriptions).
//!
//! Watched: the root itself (not recursively: `storypack.toml`, new top-level folders) and,
//! recursively, `docs/`, `prompts/` and `packs/` (the whole root when there is no `docs/`).
//! Hidden paths (`.git/`, `.storypack/`, editor swap files) are not plan files; but the
//! handoff store (`.storypack/handoffs/`) is watched too, so that a handoff recorded by
//! another process (`storypack handoff record`, another server) is announced like one
//! recorded here: a new handoff resource, and `resources/updated` for the packs showing it.
//! Claim events (`.storypack/claims/`) are watched for the board only (a tick, no MCP
//! notification).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::task::JoinHandle;

use super::errors::ServerError;
use super::handle::{Event, PlanHandle};
use crate::handoff::store::{FileStore, Slot};

/// How long the plan must be quiet before a batch of changes is applied.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Folders under the root watched recursively.
const WATCHED_DIRS: &[&str] = &["docs", "prompts", "packs"];
/// How long after the last plan change the persisted index is written (a burst of edits,
/// a checkout, writes it once).
const PERSIST_AFTER: Duration = Duration::from_secs(2);

/// Watches while it lives; dropping it stops watching.
pub struct PlanWatcher {
    task: JoinHandle<()>,
}

impl Drop for PlanWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A path worth re-reading: under the root, no hidden component, not an editor backup.
fn relevant(root: &Path, path: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(root).ok()?;
    let hidden = rel
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
    let backup = rel.to_string_lossy().ends_with('~');
    (!hidden && !backup && !rel.as_os_str().is_empty()).then(|| rel.to_path_buf())
}

/// FIFOs, sockets and devices seen in the plan: each is logged once, re-read once (the read
/// skips it with a `not-regular` diagnostic, never opening it), then ignored until it is
/// something else.
#[derive(Default)]
struct Specials {
    seen: BTreeSet<PathBuf>,
}

impl Specials {
    /// Whether an event at `rel` is worth a refresh: not for a special file already seen.
    fn first_sight(&mut self, root: &Path, rel: &Path) -> bool {
        match crate::regular::special_at(&root.join(rel)) {
            None => {
                self.seen.remove(rel);
                true
            }
            Some(_) if self.seen.contains(rel) => false,
            Some(kind) => {
                tracing::warn!(path = ?rel, kind, "not a regular file; ignored");
                self.seen.insert(rel.to_path_buf());
                true
            }
        }
    }
}

/// The handoff records (story, slot) an event at `path` may be about: a record file
/// (`<story>/<slot>.json` in the store), or those in a folder of the store that appeared (a
/// story's, or the store itself). Other files (a writer's temporary file) are none.
fn handoff_records(store: &FileStore, path: &Path) -> Vec<(String, Slot)> {
    let Ok(rel) = path.strip_prefix(store.dir()) else {
        return Vec::new();
    };
    let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
    match parts.as_slice() {
        [] => store.record_ids(None).unwrap_or_default(),
        [story] => store.record_ids(Some(story)).unwrap_or_default(),
        [story, file] => Slot::of_file(file)
            .map(|slot| vec![(story.to_string(), slot)])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The watch of the handoff store: the store once it exists, its parent until then (so the
/// store is seen appearing; the root's watch sees the parent appear).
struct StoreWatch {
    store: PathBuf,
    parent: PathBuf,
    /// The store is watched (by its own watch, or by the root's recursive one).
    on_store: bool,
    on_parent: bool,
}

impl StoreWatch {
    /// Watches whichever of the store and its parent now can and should be. Whether the
    /// store's own watch began now (records written before it were not seen).
    fn advance(
        &mut self,
        debouncer: &mut Debouncer<RecommendedWatcher, RecommendedCache>,
    ) -> notify_debouncer_full::notify::Result<bool> {
        if self.on_store {
            return Ok(false);
        }
        if self.store.is_dir() {
            debouncer.watch(&self.store, RecursiveMode::Recursive)?;
            self.on_store = true;
            return Ok(true);
        }
        if !self.on_parent && self.parent.is_dir() {
            debouncer.watch(&self.parent, RecursiveMode::NonRecursive)?;
            self.on_parent = true;
        }
        Ok(false)
    }
}

/// The watch of the claim events (`.storypack/claims/`), for the board: the folder once it
/// exists, its parent until then. Claims are no MCP resource; a change only ticks the board.
struct ClaimsWatch {
    dir: PathBuf,
    parent: PathBuf,
    on_dir: bool,
    on_parent: bool,
}

impl ClaimsWatch {
    /// Watches what can be watched now; whether the folder's own watch began now (events
    /// before it were not seen).
    fn advance(&mut self, debouncer: &mut Debouncer<RecommendedWatcher, RecommendedCache>) -> bool {
        if self.on_dir {
            return false;
        }
        if self.dir.is_dir() {
            self.on_dir = debouncer.watch(&self.dir, RecursiveMode::Recursive).is_ok();
            return self.on_dir;
        }
        if !self.on_parent && self.parent.is_dir() {
            self.on_parent = debouncer
                .watch(&self.parent, RecursiveMode::NonRecursive)
                .is_ok();
        }
        false
    }
}

/// Starts watching the plan of `handle`; must be called inside a tokio runtime.
pub fn watch(handle: Arc<PlanHandle>, debounce: Duration) -> Result<PlanWatcher, ServerError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
        let _ = tx.send(result);
    })?;
    let root = handle.root().to_path_buf();
    let has_docs = root.join("docs").is_dir();
    let mut watching: BTreeSet<&'static str> = BTreeSet::new();
    if has_docs {
        debouncer.watch(&root, RecursiveMode::NonRecursive)?;
        for dir in WATCHED_DIRS {
            if root.join(dir).is_dir() {
                debouncer.watch(root.join(dir), RecursiveMode::Recursive)?;
                watching.insert(dir);
            }
        }
    } else {
        debouncer.watch(&root, RecursiveMode::Recursive)?;
    }
    // The handoff store (without `docs/`, the root's recursive watch covers it). Records
    // there now are old.
    let handoffs = FileStore::for_plan(&root);
    let store = handoffs.dir().to_path_buf();
    let mut store_watch = StoreWatch {
        parent: store
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or(root.clone()),
        store,
        on_store: !has_docs,
        on_parent: !has_docs,
    };
    handle.known_records(handoffs.record_ids(None).unwrap_or_default());
    store_watch.advance(&mut debouncer)?;
    let claims_dir = root.join(crate::handoff::store::CLAIMS_DIR);
    let mut claims_watch = ClaimsWatch {
        parent: claims_dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or(root.clone()),
        dir: claims_dir.clone(),
        on_dir: !has_docs,
        on_parent: !has_docs,
    };
    claims_watch.advance(&mut debouncer);
    tracing::debug!(root = %root.display(), "watching the plan");
    let mut specials = Specials::default();
    let refreshes = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(async move {
        // The debouncer lives as long as this task.
        let mut debouncer = debouncer;
        while let Some(result) = rx.recv().await {
            let events = match result {
                Ok(events) => events,
                Err(errors) => {
                    for e in errors {
                        tracing::warn!(error = %e, "watch error");
                    }
                    continue;
                }
            };
            let mut changed: BTreeSet<PathBuf> = BTreeSet::new();
            let mut records: Vec<(String, Slot)> = Vec::new();
            let mut claims_changed = false;
            for event in events {
                if matches!(event.kind, EventKind::Access(_)) {
                    continue;
                }
                changed.extend(
                    event
                        .paths
                        .iter()
                        .filter_map(|p| relevant(&root, p))
                        .filter(|rel| specials.first_sight(&root, rel)),
                );
                for p in &event.paths {
                    records.extend(handoff_records(&handoffs, p));
                    claims_changed |= p.starts_with(&claims_dir);
                }
            }
            match store_watch.advance(&mut debouncer) {
                // What was written before the watch began.
                Ok(true) => match handoffs.record_ids(None) {
                    Ok(ids) => records.extend(ids),
                    Err(e) => tracing::warn!(
                        error = %crate::error::chain(&e),
                        "handoffs recorded before the watch began are not announced"
                    ),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot watch the handoff store"),
            }
            if !records.is_empty() {
                handle.publish_recorded(&records).await;
            }
            if claims_watch.advance(&mut debouncer) || claims_changed {
                handle.tick_board();
            }
            if has_docs {
                for dir in WATCHED_DIRS {
                    let abs = root.join(dir);
                    if !watching.contains(dir) && abs.is_dir() {
                        match debouncer.watch(&abs, RecursiveMode::Recursive) {
                            Ok(()) => {
                                watching.insert(dir);
                            }
                            Err(e) => tracing::warn!(error = %e, dir, "cannot watch"),
                        }
                    }
                }
            }
            if changed.is_empty() {
                continue;
            }
            let paths: Vec<PathBuf> = changed.into_iter().collect();
            tracing::debug!(files = paths.len(), "plan files changed");
            let refreshing = handle.clone();
            match tokio::task::spawn_blocking(move || refreshing.refresh(&paths)).await {
                Ok(Some(change)) => {
                    // Build the new plan's search index now, not on the next request (the
                    // unchanged excerpts' counts are still in the cache). Then, once no
                    // further change came for a while, write the persisted index.
                    let warm = change.new.app.clone();
                    let generation = refreshes.fetch_add(1, Ordering::SeqCst) + 1;
                    let latest = Arc::clone(&refreshes);
                    drop(tokio::task::spawn_blocking(move || {
                        super::warm_up(&warm);
                        std::thread::sleep(PERSIST_AFTER);
                        if latest.load(Ordering::SeqCst) == generation {
                            warm.persist_index();
                            crate::tokens::persist_counts();
                        }
                    }));
                    handle.publish(Event::Plan(change)).await;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "re-index failed"),
            }
        }
    });
    Ok(PlanWatcher { task })
}
