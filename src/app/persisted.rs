//! The plan's persisted index as the facade uses it (see `plan::persist` and
//! `search::persist`): how opening used it, and writing it back.

use super::App;
use crate::search;

impl App {
    /// How opening used the persisted index: (files taken from it, files parsed); (0, 0)
    /// without one.
    pub fn index_usage(&self) -> (usize, usize) {
        self.index.usage
    }

    /// Writes the persisted index of this snapshot, when the plan keeps one (the server
    /// does after changes, debounced). Failures are only logged.
    pub fn persist_index(&self) {
        self.index.persist();
        let Some(dir) = self.index.persisted_dir() else {
            return;
        };
        if let Some(search) = self.search.get()
            && self
                .search_built
                .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            let key = search::persist::key(self.plan(), self.index.config_hash());
            let t = std::time::Instant::now();
            match search::persist::write(&dir, search, key) {
                Ok(()) => tracing::debug!(ms = t.elapsed().as_millis() as u64, "search index kept"),
                Err(e) => tracing::debug!(error = %e, "search index not kept"),
            }
        }
    }
}
