//! Where recorded handoffs live. The embedded default is [`FileStore`]: one immutable JSON
//! file per record under `<plan>/.storypack/handoffs/<story_id>/<n>.json`, git-friendly.
//!
//! Never lost, never overwritten: a record is written whole to a temp file in the story's
//! folder, fsynced, then linked into place with create-new semantics (`persist_noclobber`),
//! and the folder is fsynced. Two writers that pick the same `n` cannot both win the link;
//! the loser takes the next `n`. A crash leaves either the whole record or only a temp file,
//! which readers ignore and later writers clean up.
//!
//! Claim events live beside them, `<plan>/.storypack/claims/<story_id>/<n>.json`, written
//! the same way; but a claim event is only written at the number its writer expects
//! ([`HandoffStore::append_claim`]), so of two writers that read the same history only the
//! first wins, and the other reads again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{ClaimEvent, HandoffRecord};
use crate::pack::files::sync_dir;

pub(crate) const HANDOFFS_DIR: &str = ".storypack/handoffs";
pub(crate) const CLAIMS_DIR: &str = ".storypack/claims";
const TEMP_PREFIX: &str = ".tmp-";
/// Temp files older than this are debris of a crashed writer.
const STALE_TEMP: Duration = Duration::from_secs(600);
/// Largest record or claim event file read (a contract is a few KiB; the limit on what a
/// client may send is 1 MiB).
const MAX_RECORD_BYTES: u64 = 4 * 1024 * 1024;
/// Attempts at taking the next free `n` before giving up (only contention makes it retry).
const MAX_ATTEMPTS: usize = 10_000;

pub use crate::error::StoreError;

/// An append-only record of handoffs.
pub trait HandoffStore: Send + Sync {
    /// Stores a new record for `story_id`, numbering it; `make` builds the record for the
    /// number given (it may be called again with another number under contention).
    fn append(
        &self,
        story_id: &str,
        make: &dyn Fn(u64) -> HandoffRecord,
    ) -> Result<HandoffRecord, StoreError>;

    /// Records of one story (or of all), oldest first.
    fn list(&self, story_id: Option<&str>) -> Result<Vec<HandoffRecord>, StoreError>;

    /// One record by story id and number.
    fn get(&self, story_id: &str, n: u64) -> Result<Option<HandoffRecord>, StoreError>;

    /// Stores `event` at its number `event.n`, only if no event of that story has it yet:
    /// `Ok(false)` when another writer took the number first (read again and decide again).
    fn append_claim(&self, event: &ClaimEvent) -> Result<bool, StoreError>;

    /// Claim events of one story (or of all), by story then number.
    fn claim_events(&self, story_id: Option<&str>) -> Result<Vec<ClaimEvent>, StoreError>;

    /// Every stored entry (records, then claim events) as its stored bytes, for copying a
    /// whole store byte for byte (`storypack store copy`).
    fn raw_entries(&self) -> Result<Vec<RawEntry>, StoreError>;

    /// Stores `entry` as is, unless an entry of its kind, story and number is there:
    /// [`Put::Same`] when that one holds the same bytes, [`Put::Differs`] (nothing written)
    /// when not.
    fn put_raw(&self, entry: &RawEntry) -> Result<Put, StoreError>;

    /// Calls `on_change` for what other writers (other servers) store from now on, when the
    /// store can tell (PostgreSQL's LISTEN/NOTIFY); `false` when it cannot (the file store,
    /// which a server watches with `notify` instead).
    fn subscribe(&self, on_change: Box<dyn Fn(StoreChange) + Send + Sync>) -> bool {
        let _ = on_change;
        false
    }

    /// Where the record lives, for messages: a folder, or a database URL without its
    /// password.
    fn describe(&self) -> String;
}

/// Which of a store's two append-only logs an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    Record,
    Claim,
}

/// One stored record or claim event, as the bytes stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub kind: EntryKind,
    pub story_id: String,
    pub n: u64,
    pub bytes: Vec<u8>,
}

/// What [`HandoffStore::put_raw`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Written,
    Same,
    Differs,
}

/// Something another writer stored, as a store that can tell announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    Record {
        story_id: String,
        n: u64,
    },
    Claim {
        story_id: String,
        n: u64,
    },
    /// The announcements may have missed entries (a reconnect): read the store again.
    Resync,
}

pub struct FileStore {
    dir: PathBuf,
    claims: PathBuf,
}

/// Story ids name folders: letters, digits, `-`, `_`, `.`; not `.`-led; at most 128.
pub(crate) fn check_story_id(story_id: &str) -> Result<(), StoreError> {
    let ok = !story_id.is_empty()
        && story_id.len() <= 128
        && !story_id.starts_with('.')
        && story_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadStoryId(story_id.chars().take(64).collect()))
    }
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// `n` of a record's file name `<n>.json`; temp files and strays have none.
pub(crate) fn record_number(file_name: &str) -> Option<u64> {
    file_name.strip_suffix(".json")?.parse().ok()
}

impl FileStore {
    /// The store of a plan: `<root>/.storypack/handoffs`.
    pub fn for_plan(root: &Path) -> FileStore {
        FileStore {
            dir: root.join(HANDOFFS_DIR),
            claims: root.join(CLAIMS_DIR),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Record numbers present for a story, ascending (temp files and strays ignored).
    fn numbers(dir: &Path) -> Result<Vec<u64>, StoreError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(dir, e)),
        };
        let mut ns: Vec<u64> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| record_number(&e.file_name().to_string_lossy()))
            .collect();
        ns.sort_unstable();
        Ok(ns)
    }

    /// The records present, of one story or of all, as (story id, n) without reading them:
    /// by story, then number.
    pub(crate) fn record_ids(
        &self,
        story_id: Option<&str>,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        Self::ids_under(&self.dir, story_id)
    }

    /// The (story id, n) of the files under `base` (records or claim events).
    fn ids_under(base: &Path, story_id: Option<&str>) -> Result<Vec<(String, u64)>, StoreError> {
        let stories: Vec<String> = match story_id {
            Some(s) => {
                check_story_id(s)?;
                vec![s.to_string()]
            }
            None => match std::fs::read_dir(base) {
                Ok(entries) => {
                    let mut names: Vec<String> = entries
                        .filter_map(|e| e.ok())
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| check_story_id(n).is_ok())
                        .collect();
                    names.sort();
                    names
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(io(base, e)),
            },
        };
        let mut out = Vec::new();
        for s in stories {
            for n in Self::numbers(&base.join(&s))? {
                out.push((s.clone(), n));
            }
        }
        Ok(out)
    }

    fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, StoreError> {
        // Only a regular file of sane size is a record: a FIFO dropped into the store
        // must not hang every reader.
        let bytes = read_bytes(path)?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Removes temp files a crashed writer left (old enough that no live writer owns them).
    fn clean_temps(dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(|e| e.ok()) {
            if !e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > STALE_TEMP);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Writes `bytes` to `target` whole or not at all: a fsynced temp file in the same folder,
/// linked with create-new semantics, then the folder fsynced. `Ok(false)`: `target` exists.
fn write_new(dir: &Path, target: &Path, bytes: &[u8]) -> Result<bool, StoreError> {
    use std::io::Write;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| io(tmp.path(), e))?;
    tmp.as_file().sync_all().map_err(|e| io(tmp.path(), e))?;
    match tmp.persist_noclobber(target) {
        Ok(_) => {
            sync_dir(dir).map_err(|e| io(dir, e))?;
            Ok(true)
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io(target, e.error)),
    }
}

/// The stored form of a record or claim event: pretty JSON and a newline, in both stores.
pub(crate) fn to_json<T: serde::Serialize>(value: &T, dir: &Path) -> Result<Vec<u8>, StoreError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Corrupt {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

impl HandoffStore for FileStore {
    fn append(
        &self,
        story_id: &str,
        make: &dyn Fn(u64) -> HandoffRecord,
    ) -> Result<HandoffRecord, StoreError> {
        check_story_id(story_id)?;
        let dir = self.dir.join(story_id);
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        Self::clean_temps(&dir);
        let mut n = Self::numbers(&dir)?.last().copied().unwrap_or(0) + 1;
        for _ in 0..MAX_ATTEMPTS {
            let record = make(n);
            let bytes = to_json(&record, &dir)?;
            let target = dir.join(format!("{n}.json"));
            if write_new(&dir, &target, &bytes)? {
                return Ok(record);
            }
            // Another writer took n: take the next free one.
            n = Self::numbers(&dir)?.last().copied().unwrap_or(n).max(n) + 1;
        }
        Err(StoreError::Contention {
            story_id: story_id.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }

    fn list(&self, story_id: Option<&str>) -> Result<Vec<HandoffRecord>, StoreError> {
        let mut out = Vec::new();
        for (s, n) in self.record_ids(story_id)? {
            out.push(Self::read::<HandoffRecord>(
                &self.dir.join(&s).join(format!("{n}.json")),
            )?);
        }
        // Newest last: by time received, then id order.
        out.sort_by(|a, b| {
            a.received_at
                .cmp(&b.received_at)
                .then(a.story_id.cmp(&b.story_id))
                .then(a.n.cmp(&b.n))
        });
        Ok(out)
    }

    fn get(&self, story_id: &str, n: u64) -> Result<Option<HandoffRecord>, StoreError> {
        check_story_id(story_id)?;
        let path = self.dir.join(story_id).join(format!("{n}.json"));
        if !path.exists() {
            return Ok(None);
        }
        Self::read(&path).map(Some)
    }

    fn append_claim(&self, event: &ClaimEvent) -> Result<bool, StoreError> {
        check_story_id(&event.story_id)?;
        let dir = self.claims.join(&event.story_id);
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        Self::clean_temps(&dir);
        let bytes = to_json(event, &dir)?;
        write_new(&dir, &dir.join(format!("{}.json", event.n)), &bytes)
    }

    fn claim_events(&self, story_id: Option<&str>) -> Result<Vec<ClaimEvent>, StoreError> {
        Self::ids_under(&self.claims, story_id)?
            .into_iter()
            .map(|(s, n)| Self::read(&self.claims.join(&s).join(format!("{n}.json"))))
            .collect()
    }

    fn raw_entries(&self) -> Result<Vec<RawEntry>, StoreError> {
        let mut out = Vec::new();
        for (kind, base) in [
            (EntryKind::Record, &self.dir),
            (EntryKind::Claim, &self.claims),
        ] {
            for (story_id, n) in Self::ids_under(base, None)? {
                let bytes = read_bytes(&base.join(&story_id).join(format!("{n}.json")))?;
                out.push(RawEntry {
                    kind,
                    story_id,
                    n,
                    bytes,
                });
            }
        }
        Ok(out)
    }

    fn put_raw(&self, entry: &RawEntry) -> Result<Put, StoreError> {
        check_story_id(&entry.story_id)?;
        let base = match entry.kind {
            EntryKind::Record => &self.dir,
            EntryKind::Claim => &self.claims,
        };
        let dir = base.join(&entry.story_id);
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let target = dir.join(format!("{}.json", entry.n));
        if write_new(&dir, &target, &entry.bytes)? {
            return Ok(Put::Written);
        }
        Ok(if read_bytes(&target)? == entry.bytes {
            Put::Same
        } else {
            Put::Differs
        })
    }

    fn describe(&self) -> String {
        self.dir.parent().unwrap_or(&self.dir).display().to_string()
    }
}

/// A stored file's bytes: a regular file of sane size only.
fn read_bytes(path: &Path) -> Result<Vec<u8>, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        path: path.display().to_string(),
        message,
    };
    match crate::regular::read(path, MAX_RECORD_BYTES) {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(len)) => Err(corrupt(format!("{len} bytes: not a record"))),
        Err(crate::regular::OpenError::Io(e)) => Err(io(path, e)),
        Err(other) => Err(corrupt(other.to_string())),
    }
}
