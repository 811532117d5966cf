//! What other servers store, announced here: a store that can tell (PostgreSQL's
//! LISTEN/NOTIFY, [`HandoffStore::subscribe`](crate::handoff::HandoffStore::subscribe))
//! reports each record and claim event another writer commits, and the sessions hear of it
//! as they do of one written through this server (`resources/list_changed`,
//! `resources/updated` for the packs showing it). The file store has none; the watcher
//! ([`super::watch`](mod@super::watch)) sees other processes' files instead.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::handle::PlanHandle;
use crate::handoff::{Slot, StoreChange};

/// Announces while it lives.
pub(crate) struct Announcer {
    task: JoinHandle<()>,
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The (story, slot) of every record in the store, or none when it cannot be read (logged).
async fn record_ids(handle: &Arc<PlanHandle>) -> Vec<(String, Slot)> {
    let app = handle.app();
    match tokio::task::spawn_blocking(move || app.store().list(None)).await {
        Ok(Ok(records)) => records
            .into_iter()
            .map(|r| {
                let slot = r.slot();
                (r.story_id, slot)
            })
            .collect(),
        Ok(Err(e)) => {
            tracing::warn!(error = %crate::error::chain(&e), "cannot read the handoff store");
            Vec::new()
        }
        Err(_) => Vec::new(),
    }
}

/// Subscribes to the plan's store, if it can tell; `None` when it cannot.
pub(crate) async fn announce(handle: Arc<PlanHandle>) -> Option<Announcer> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let store = handle.app().store().clone();
    // What is there now is not news.
    handle.known_records(record_ids(&handle).await);
    if !store.subscribe(Box::new(move |change| {
        let _ = tx.send(change);
    })) {
        return None;
    }
    let task = tokio::spawn(async move {
        let mut claims: BTreeSet<(String, u64)> = BTreeSet::new();
        while let Some(change) = rx.recv().await {
            tracing::debug!(?change, "another writer stored");
            match change {
                StoreChange::Record { story_id, n } => {
                    // The database's own records carry no writer tag.
                    handle
                        .publish_recorded(&[(story_id, Slot::new(n, None))])
                        .await;
                }
                StoreChange::Claim { story_id, n } => {
                    if claims.insert((story_id.clone(), n)) {
                        handle.publish_claimed(&story_id).await;
                    }
                }
                StoreChange::Resync => {
                    let ids = record_ids(&handle).await;
                    handle.publish_recorded(&ids).await;
                }
            }
        }
    });
    Some(Announcer { task })
}
