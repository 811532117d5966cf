//! Where recorded handoffs live. The embedded default is [`FileStore`]: one immutable JSON
//! file per record under `<plan>/.storypack/handoffs/<story_id>/<n>-<writer>.json`,
//! git-friendly.
//!
//! Branch-safe: `<writer>` is the tag of the clone or worktree that wrote the file (random,
//! made on its first write, kept in `.storypack/local/writer`, which git ignores), so two
//! worktrees recording for one story write different files and their branches merge
//! without a conflict; ids carry the tag too (`SRE-04-01#3-k2x7m4pq`), so every id stays
//! unique and unchanged across the merge. Files an earlier version wrote, `<n>.json`, stay
//! readable under their old ids (`SRE-04-01#3`); numbering goes on after the highest `n`
//! of either kind.
//!
//! Never lost, never overwritten: a record is written whole to a temp file in the story's
//! folder, fsynced, then linked into place with create-new semantics (`persist_noclobber`),
//! and the folder is fsynced. Two writers that pick the same `n` cannot both win the link;
//! the loser takes the next `n`. A crash leaves either the whole record or only a temp file,
//! which readers ignore and later writers clean up.
//!
//! Claim events live beside them, `<plan>/.storypack/claims/<story_id>/<n>-<writer>.json`,
//! written the same way; but a claim event is only written at the number its writer expects
//! ([`HandoffStore::append_claim`]), so of two writers of one clone that read the same
//! history only the first wins, and the other reads again. (Writers in different worktrees
//! do not see each other until their branches merge; then the events of one number are
//! replayed in time order and a take while another agent held the story counts for
//! nothing.)

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{ClaimEvent, HandoffRecord};
use crate::regular::sync_dir;

pub(crate) const HANDOFFS_DIR: &str = ".storypack/handoffs";
pub(crate) const CLAIMS_DIR: &str = ".storypack/claims";
/// This clone's own, never committed: the writer tag.
pub(crate) const LOCAL_DIR: &str = ".storypack/local";
/// Length of a writer tag: lowercase letters and digits.
const WRITER_LEN: usize = 8;
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

    /// One record by story id and slot.
    fn get(&self, story_id: &str, slot: &Slot) -> Result<Option<HandoffRecord>, StoreError>;

    /// Stores `event` at its slot (`event.n`, `event.writer`), only if no event of that
    /// story has it yet: `Ok(false)` when another writer took it first (read again and
    /// decide again). Build the event with [`HandoffStore::writer`]'s tag.
    fn append_claim(&self, event: &ClaimEvent) -> Result<bool, StoreError>;

    /// The writer tag this store files new entries under: the clone's, for the file store
    /// (made on first use); none for a store every writer shares (PostgreSQL).
    fn writer(&self) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

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
    pub slot: Slot,
    pub bytes: Vec<u8>,
}

/// An entry's place in its story's log: its number and, for entries a file store wrote,
/// the tag of the clone that wrote it. Shown as `3` or `3-k2x7m4pq`: the part of an id
/// after `#` (or `@`), and the file name without `.json`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub n: u64,
    pub writer: Option<String>,
}

impl Slot {
    pub fn new(n: u64, writer: Option<&str>) -> Slot {
        Slot {
            n,
            writer: writer.map(str::to_string),
        }
    }

    /// `3` or `3-k2x7m4pq`; `None` for anything else (n = 0, a bad tag, a temp file).
    pub fn parse(s: &str) -> Option<Slot> {
        let (n, writer) = match s.split_once('-') {
            Some((n, w)) if is_writer_tag(w) => (n, Some(w.to_string())),
            Some(_) => return None,
            None => (s, None),
        };
        // Digits without a leading zero: `03.json` is no slot (it would alias `3.json`).
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.starts_with('0') {
            return None;
        }
        let n: u64 = n.parse().ok().filter(|&n| n > 0)?;
        Some(Slot { n, writer })
    }

    /// The slot of a stored file name `<slot>.json`.
    pub(crate) fn of_file(file_name: &str) -> Option<Slot> {
        Slot::parse(file_name.strip_suffix(".json")?)
    }

    fn file_name(&self) -> String {
        format!("{self}.json")
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.writer {
            Some(w) => write!(f, "{}-{w}", self.n),
            None => write!(f, "{}", self.n),
        }
    }
}

/// A writer tag: [`WRITER_LEN`] lowercase ASCII letters and digits.
pub(crate) fn is_writer_tag(s: &str) -> bool {
    s.len() == WRITER_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
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
    local: PathBuf,
    /// The writer tag, once read or made.
    writer: std::sync::OnceLock<String>,
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

impl FileStore {
    /// The store of a plan: `<root>/.storypack/handoffs`.
    pub fn for_plan(root: &Path) -> FileStore {
        FileStore {
            dir: root.join(HANDOFFS_DIR),
            claims: root.join(CLAIMS_DIR),
            local: root.join(LOCAL_DIR),
            writer: std::sync::OnceLock::new(),
        }
    }

    /// This clone's writer tag: read from `.storypack/local/writer`, or made (random) and
    /// written there with create-new semantics, so concurrent first writers agree on one.
    /// The folder gets a `.gitignore` of `*`: the tag is never committed, so each clone
    /// and worktree has its own.
    fn clone_writer(&self) -> Result<String, StoreError> {
        if let Some(w) = self.writer.get() {
            return Ok(w.clone());
        }
        let path = self.local.join("writer");
        let read = |path: &Path| -> Result<Option<String>, StoreError> {
            match read_bytes(path) {
                Ok(bytes) => {
                    let tag = String::from_utf8_lossy(&bytes).trim().to_string();
                    if is_writer_tag(&tag) {
                        Ok(Some(tag))
                    } else {
                        Err(StoreError::Corrupt {
                            path: path.display().to_string(),
                            message: format!(
                                "not a writer tag ({WRITER_LEN} lowercase letters and \
                                 digits); delete the file and a new one is made"
                            ),
                        })
                    }
                }
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        };
        let tag = match read(&path)? {
            Some(tag) => tag,
            None => {
                std::fs::create_dir_all(&self.local).map_err(|e| io(&self.local, e))?;
                let ignore = self.local.join(".gitignore");
                if !ignore.exists() {
                    write_new(
                        &self.local,
                        &ignore,
                        b"# storypack: this clone's own, never committed\n*\n",
                    )?;
                }
                let mine = new_writer_tag(&self.local);
                write_new(&self.local, &path, format!("{mine}\n").as_bytes())?;
                // Ours, or the one a concurrent first writer linked first.
                read(&path)?.ok_or_else(|| StoreError::Corrupt {
                    path: path.display().to_string(),
                    message: "the writer tag vanished".into(),
                })?
            }
        };
        Ok(self.writer.get_or_init(|| tag).clone())
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Slots present for a story, ascending (temp files and strays ignored).
    fn slots(dir: &Path) -> Result<Vec<Slot>, StoreError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(dir, e)),
        };
        let mut slots: Vec<Slot> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| Slot::of_file(&e.file_name().to_string_lossy()))
            .collect();
        slots.sort_unstable();
        Ok(slots)
    }

    /// The highest number present in a story's folder (0 when none).
    fn last_n(dir: &Path) -> Result<u64, StoreError> {
        Ok(Self::slots(dir)?.last().map_or(0, |s| s.n))
    }

    /// The records present, of one story or of all, as (story id, slot) without reading
    /// them: by story, then slot.
    pub(crate) fn record_ids(
        &self,
        story_id: Option<&str>,
    ) -> Result<Vec<(String, Slot)>, StoreError> {
        Self::ids_under(&self.dir, story_id)
    }

    /// The (story id, slot) of the files under `base` (records or claim events).
    fn ids_under(base: &Path, story_id: Option<&str>) -> Result<Vec<(String, Slot)>, StoreError> {
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
            for slot in Self::slots(&base.join(&s))? {
                out.push((s.clone(), slot));
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

/// A fresh random writer tag: lowercase base-32 of a hash of fresh randomness (a temp
/// file's random name), the clock and the process.
fn new_writer_tag(dir: &Path) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut h = blake3::Hasher::new();
    if let Ok(t) = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
    {
        h.update(t.path().as_os_str().as_encoded_bytes());
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(dir.as_os_str().as_encoded_bytes());
    h.finalize().as_bytes()[..WRITER_LEN]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect()
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
        let writer = self.clone_writer()?;
        let dir = self.dir.join(story_id);
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        Self::clean_temps(&dir);
        let mut n = Self::last_n(&dir)? + 1;
        for _ in 0..MAX_ATTEMPTS {
            let record = make(n).with_writer(Some(&writer));
            let bytes = to_json(&record, &dir)?;
            let target = dir.join(record.slot().file_name());
            if write_new(&dir, &target, &bytes)? {
                return Ok(record);
            }
            // Another writer took n: take the next free one.
            n = Self::last_n(&dir)?.max(n) + 1;
        }
        Err(StoreError::Contention {
            story_id: story_id.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }

    fn list(&self, story_id: Option<&str>) -> Result<Vec<HandoffRecord>, StoreError> {
        let mut out = Vec::new();
        for (s, slot) in self.record_ids(story_id)? {
            out.push(Self::read::<HandoffRecord>(
                &self.dir.join(&s).join(slot.file_name()),
            )?);
        }
        sort_records(&mut out);
        Ok(out)
    }

    fn get(&self, story_id: &str, slot: &Slot) -> Result<Option<HandoffRecord>, StoreError> {
        check_story_id(story_id)?;
        let path = self.dir.join(story_id).join(slot.file_name());
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
        write_new(&dir, &dir.join(event.slot().file_name()), &bytes)
    }

    fn writer(&self) -> Result<Option<String>, StoreError> {
        self.clone_writer().map(Some)
    }

    fn claim_events(&self, story_id: Option<&str>) -> Result<Vec<ClaimEvent>, StoreError> {
        Self::ids_under(&self.claims, story_id)?
            .into_iter()
            .map(|(s, slot)| Self::read(&self.claims.join(&s).join(slot.file_name())))
            .collect()
    }

    fn raw_entries(&self) -> Result<Vec<RawEntry>, StoreError> {
        let mut out = Vec::new();
        for (kind, base) in [
            (EntryKind::Record, &self.dir),
            (EntryKind::Claim, &self.claims),
        ] {
            for (story_id, slot) in Self::ids_under(base, None)? {
                let bytes = read_bytes(&base.join(&story_id).join(slot.file_name()))?;
                out.push(RawEntry {
                    kind,
                    story_id,
                    slot,
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
        let target = dir.join(entry.slot.file_name());
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

/// Newest last: by time received, then story, then slot (records of one number from two
/// merged branches stand in the order they were received).
pub(crate) fn sort_records(records: &mut [HandoffRecord]) {
    records.sort_by(|a, b| {
        a.received_at
            .cmp(&b.received_at)
            .then(a.story_id.cmp(&b.story_id))
            .then_with(|| a.slot().cmp(&b.slot()))
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_read_the_old_and_the_tagged_names_and_nothing_else() {
        assert_eq!(Slot::parse("3"), Some(Slot::new(3, None)));
        assert_eq!(
            Slot::parse("12-k2x7m4pq"),
            Some(Slot::new(12, Some("k2x7m4pq")))
        );
        for bad in [
            "",
            "0",
            "03",
            "3-",
            "-k2x7m4pq",
            "3-K2X7M4PQ",
            "3-k2x7",
            "3-k2x7m4pq9",
            "3-k2x7m4p.",
            "x",
            "3-k2x7m4pq-1",
        ] {
            assert_eq!(Slot::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Slot::of_file(".tmp-abc.part"), None);
        assert_eq!(Slot::of_file("7.json"), Some(Slot::new(7, None)));
        let s = Slot::new(7, Some("abcdefgh"));
        assert_eq!(Slot::parse(&s.to_string()), Some(s.clone()));
        assert_eq!(s.file_name(), "7-abcdefgh.json");
        // Old entries sort before tagged ones of their number, numbers first.
        assert!(Slot::new(2, None) < Slot::new(2, Some("aaaaaaaa")));
        assert!(Slot::new(2, Some("zzzzzzzz")) < Slot::new(3, None));
    }

    #[test]
    fn concurrent_first_writers_of_a_clone_agree_on_one_tag_which_git_ignores() {
        let dir = tempfile::tempdir().unwrap();
        let tags: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| FileStore::for_plan(dir.path()).clone_writer().unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(is_writer_tag(&tags[0]), "{}", tags[0]);
        assert!(tags.iter().all(|t| *t == tags[0]), "{tags:?}");
        let ignore = std::fs::read_to_string(dir.path().join(LOCAL_DIR).join(".gitignore"));
        assert!(ignore.unwrap().lines().any(|l| l == "*"));
        // Another clone (another folder) gets another tag.
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            FileStore::for_plan(other.path()).clone_writer().unwrap(),
            tags[0]
        );
        // A damaged tag file is an error that says what to do, not a silent new tag.
        std::fs::write(dir.path().join(LOCAL_DIR).join("writer"), "nope\n").unwrap();
        let err = FileStore::for_plan(dir.path()).clone_writer().unwrap_err();
        assert!(err.to_string().contains("delete the file"), "{err}");
    }
}
