//! Choosing the handoff store: the plan's own file store by default, another plan folder's,
//! or a PostgreSQL database shared by a team's servers (`--store`, `STORYPACK_STORE`); and
//! copying a whole record between two stores ([`copy`]).
//!
//! - [`postgres`]: [`PostgresStore`], the only code that speaks to PostgreSQL.
//! - [`copy`]: `storypack store copy`, idempotent and verified by hashes.

pub mod copy;
mod migrations;
pub mod postgres;

use std::path::Path;
use std::sync::Arc;

use crate::error::Error;
use crate::handoff::{FileStore, HandoffStore};

pub use postgres::PostgresStore;

/// The environment variable naming the store when `--store` is not given.
pub const STORE_ENV: &str = "STORYPACK_STORE";

/// Whether `spec` names a database rather than a folder.
pub fn is_url(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// Opens the store `spec` names: a `postgres://` URL, or a plan folder whose `.storypack/`
/// holds the records. `None`: the file store of the plan at `root`.
pub fn open(spec: Option<&str>, root: &Path) -> Result<Arc<dyn HandoffStore>, Error> {
    match spec.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Arc::new(FileStore::for_plan(root))),
        Some(url) if is_url(url) => Ok(Arc::new(PostgresStore::connect(url)?)),
        Some(dir) => {
            let path = Path::new(dir);
            if !path.is_dir() {
                return Err(Error::invalid(
                    "store",
                    format!(
                        "`{}` is neither a postgres:// URL nor a folder",
                        crate::model::escape_controls(&dir.chars().take(200).collect::<String>())
                    ),
                ));
            }
            Ok(Arc::new(FileStore::for_plan(path)))
        }
    }
}

/// `--store` if given, else `STORYPACK_STORE` if set and not empty.
pub fn spec_from_env(flag: Option<String>) -> Option<String> {
    flag.or_else(|| std::env::var(STORE_ENV).ok())
        .filter(|s| !s.trim().is_empty())
}
