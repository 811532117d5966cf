//! The live plan: watch the plan root (notify, debounced), re-read only the files that
//! changed, swap the new snapshot in, and tell the sessions (`resources/list_changed`,
//! `resources/updated` for affected subscriptions).
//!
//! Watched: the root itself (not recursively: `storypack.toml`, new top-level folders) and,
//! recursively, `docs/`, `prompts/` and `packs/` (the whole root when there is no `docs/`).
//! Hidden paths (`.git/`, `.storypack/`, editor swap files) are ignored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::task::JoinHandle;

use super::errors::ServerError;
use super::handle::{Event, PlanHandle};

/// How long the plan must be quiet before a batch of changes is applied.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Folders under the root watched recursively.
const WATCHED_DIRS: &[&str] = &["docs", "prompts", "packs"];

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
    tracing::debug!(root = %root.display(), "watching the plan");
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
            for event in events {
                if matches!(event.kind, EventKind::Access(_)) {
                    continue;
                }
                changed.extend(event.paths.iter().filter_map(|p| relevant(&root, p)));
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
                    // unchanged excerpts' counts are still in the cache).
                    let warm = change.new.app.clone();
                    drop(tokio::task::spawn_blocking(move || {
                        super::warm_up(&warm);
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
