//! The persisted index: what reading each file gave ([`FileFacts`]), kept under
//! `<plan>/.storypack/index/` so that the next process takes unchanged files from it
//! instead of parsing them again.
//!
//! Never trusted blindly. An entry is used only for a file whose path, length and content
//! hash (XXH3-64 of its text, computed from the bytes just read) all match; the file as a
//! whole only when its magic, format version, parser id (a hash of the parser's own source
//! and the crate version, fixed at build time) and config hash match and its blake3
//! checksum holds. Anything else (stale, partial, corrupt, foreign, of another build) is
//! ignored and written anew. Writes go to a temp file in the same folder, fsynced, then
//! renamed over the old one: a reader sees the old file or the new one, and of two writers
//! the last wins with a whole file. A root that cannot be written is only logged.
//!
//! Entry bodies are JSON (the model's own serde, with the fields its JSON leaves out kept
//! beside it), deserialized lazily and in parallel, only for the files that match.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::FileFacts;
use super::extract::{FocusLine, RoadmapRow};
use crate::model::{
    ChecklistStep, Diagnostic, Doc, Epic, Feature, GateChecklist, RoleSection, StatusMark, Story,
};

/// Where the index lives, under the plan root.
pub(crate) const INDEX_DIR: &str = ".storypack/index";
const FACTS_FILE: &str = "facts.bin";
const MAGIC: &[u8; 8] = b"SPINDEX\0";
/// Bump when the container layout changes.
const FORMAT: u32 = 1;
/// Largest index file read (the 10,000-story benchmark plan's is far below).
const MAX_INDEX_BYTES: u64 = 1 << 30;

/// A hash of everything that decides what a file's facts are: the parser's source files and
/// the crate version. Any change to them is another parser, whose index is not reused.
pub(crate) const PARSER_ID: u64 = {
    const SOURCES: &[&[u8]] = &[
        env!("CARGO_PKG_VERSION").as_bytes(),
        include_bytes!("extract/mod.rs"),
        include_bytes!("extract/gates.rs"),
        include_bytes!("extract/headings.rs"),
        include_bytes!("extract/items.rs"),
        include_bytes!("extract/tables.rs"),
        include_bytes!("markdown.rs"),
        include_bytes!("text.rs"),
        include_bytes!("config.rs"),
        include_bytes!("load.rs"),
        include_bytes!("persist.rs"),
        include_bytes!("../model.rs"),
    ];
    let mut h = 0u64;
    let mut i = 0;
    while i < SOURCES.len() {
        h = xxhash_rust::const_xxh3::xxh3_64_with_seed(SOURCES[i], h);
        i += 1;
    }
    h
};

/// What one file's facts are stored as (owned, for reading back).
#[derive(Deserialize)]
struct Stored {
    doc: Doc,
    roadmap_rows: Vec<RoadmapRow>,
    checklist: Vec<ChecklistStep>,
    features: Vec<Feature>,
    epics: Vec<Epic>,
    stories: Vec<Story>,
    /// `Story::status_marks`, which the model's JSON leaves out, story by story.
    status_marks: Vec<Vec<StatusMark>>,
    gates: Vec<GateChecklist>,
    role_sections: Vec<RoleSection>,
    role: Option<String>,
    mentions: Vec<usize>,
    focus: Vec<FocusLine>,
    diagnostics: Vec<Diagnostic>,
}

impl Stored {
    /// The facts again, with the file's text (which the index does not hold).
    fn into_facts(self, text: String) -> FileFacts {
        let mut stories = self.stories;
        for (story, marks) in stories.iter_mut().zip(self.status_marks) {
            story.status_marks = marks;
        }
        let mut doc = self.doc;
        doc.line_starts = super::text::line_starts(&text);
        doc.text = text;
        FileFacts {
            doc: std::sync::Arc::new(doc),
            roadmap_rows: self.roadmap_rows,
            checklist: self.checklist,
            features: self.features,
            epics: self.epics,
            stories,
            gates: self.gates,
            role_sections: self.role_sections,
            role: self.role,
            mentions: self.mentions,
            focus: self.focus,
            diagnostics: self.diagnostics,
        }
    }
}

/// The same, borrowed from facts in memory (for writing).
#[derive(Serialize)]
struct StoredRef<'a> {
    doc: &'a Doc,
    roadmap_rows: &'a [RoadmapRow],
    checklist: &'a [ChecklistStep],
    features: &'a [Feature],
    epics: &'a [Epic],
    stories: &'a [Story],
    status_marks: Vec<&'a [StatusMark]>,
    gates: &'a [GateChecklist],
    role_sections: &'a [RoleSection],
    role: &'a Option<String>,
    mentions: &'a [usize],
    focus: &'a [FocusLine],
    diagnostics: &'a [Diagnostic],
}

/// How a load used the index: files taken from it, files parsed.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    pub reused: AtomicUsize,
    pub parsed: AtomicUsize,
}

impl Usage {
    pub(crate) fn reused(&self) -> usize {
        self.reused.load(Ordering::Relaxed)
    }

    pub(crate) fn parsed(&self) -> usize {
        self.parsed.load(Ordering::Relaxed)
    }
}

/// An index file read back and checked: entry bodies by path, not yet deserialized.
#[derive(Debug, Default)]
pub(crate) struct FactsIndex {
    bytes: Vec<u8>,
    /// path -> (length of the text, content hash, body range in `bytes`).
    entries: HashMap<String, (u64, u64, std::ops::Range<usize>)>,
    pub usage: Usage,
}

/// Why an index file was not used (logged; it is rebuilt).
fn unusable(path: &Path, why: &str) {
    tracing::debug!(index = %path.display(), why, "persisted index not used; rebuilding it");
}

/// A little-endian reader over an index file's bytes; `None` past the end.
pub(crate) struct Cursor<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A `u32` length.
    pub(crate) fn len(&mut self) -> Option<usize> {
        Some(self.u32()? as usize)
    }

    /// A UTF-8 string after its `u32` length.
    pub(crate) fn string(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    /// `u32`s after their `u32` count.
    pub(crate) fn u32s(&mut self) -> Option<Vec<u32>> {
        let n = self.len()?;
        let raw = self.take(n.checked_mul(4)?)?;
        Some(
            raw.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
}

impl FactsIndex {
    /// The index of the plan at `root` for this parser and config, or an empty one (with
    /// the reason logged) when there is none or it cannot be trusted.
    pub(crate) fn read(root: &Path, config_hash: u64) -> FactsIndex {
        let path = root.join(INDEX_DIR).join(FACTS_FILE);
        let bytes = match crate::regular::read(&path, MAX_INDEX_BYTES) {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                unusable(&path, "over the size limit");
                return FactsIndex::default();
            }
            Err(crate::regular::OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return FactsIndex::default();
            }
            Err(e) => {
                unusable(&path, &e.to_string());
                return FactsIndex::default();
            }
        };
        match Self::parse(bytes, config_hash) {
            Ok(index) => index,
            Err(why) => {
                unusable(&path, why);
                FactsIndex::default()
            }
        }
    }

    /// Checks and frames an index file's bytes.
    fn parse(bytes: Vec<u8>, config_hash: u64) -> Result<FactsIndex, &'static str> {
        let body = unseal(&bytes, MAGIC)?;
        let mut c = Cursor { bytes: body, at: 8 };
        if c.u32() != Some(FORMAT) {
            return Err("another format version");
        }
        if c.u64() != Some(PARSER_ID) {
            return Err("written by another build of storypack");
        }
        if c.u64() != Some(config_hash) {
            return Err("storypack.toml changed since");
        }
        let count = c.u32().ok_or("truncated")? as usize;
        let mut entries = HashMap::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            let path_len = c.u32().ok_or("truncated")? as usize;
            let path = std::str::from_utf8(c.take(path_len).ok_or("truncated")?)
                .map_err(|_| "a path is not UTF-8")?
                .to_string();
            let len = c.u64().ok_or("truncated")?;
            let hash = c.u64().ok_or("truncated")?;
            let body_len = c.u32().ok_or("truncated")? as usize;
            let start = c.at;
            c.take(body_len).ok_or("truncated")?;
            entries.insert(path, (len, hash, start..start + body_len));
        }
        if c.at != body.len() {
            return Err("trailing bytes");
        }
        Ok(FactsIndex {
            bytes,
            entries,
            usage: Usage::default(),
        })
    }

    /// The facts of `path` whose text (BOM removed) is `text`, when the index holds that
    /// very text's (taking the text into them); `Err(text)` otherwise (the caller parses it).
    pub(crate) fn facts(&self, path: &str, text: String, hash: &str) -> Result<FileFacts, String> {
        match self.stored(path, &text, hash) {
            Some(stored) => Ok(stored.into_facts(text)),
            None => Err(text),
        }
    }

    fn stored(&self, path: &str, text: &str, hash: &str) -> Option<Stored> {
        let (len, stored_hash, range) = self.entries.get(path)?;
        if *len != text.len() as u64 || format!("{stored_hash:016x}") != hash {
            return None;
        }
        let stored: Stored = match serde_json::from_slice(&self.bytes[range.clone()]) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(path, error = %e, "index entry unreadable; parsing the file");
                return None;
            }
        };
        let consistent = stored.doc.path == path
            && stored.doc.hash == hash
            && stored.status_marks.len() == stored.stories.len();
        consistent.then_some(stored)
    }

    /// Whether the index holds exactly these files' facts (then there is nothing to write).
    pub(crate) fn covers<'a>(
        &self,
        files: impl ExactSizeIterator<Item = (&'a str, &'a Doc)>,
    ) -> bool {
        files.len() == self.entries.len()
            && files.into_iter().all(|(path, doc)| {
                self.entries.get(path).is_some_and(|(len, hash, _)| {
                    *len == doc.text.len() as u64 && format!("{hash:016x}") == doc.hash
                })
            })
    }
}

/// Writes the index of `files` for the plan at `root` (atomically; see the module docs).
/// Errors are returned for the caller to log: an index is never needed.
pub(crate) fn write(
    root: &Path,
    config_hash: u64,
    files: &[(&str, &FileFacts)],
) -> std::io::Result<PathBuf> {
    let mut body: Vec<u8> = Vec::with_capacity(1 << 20);
    body.extend_from_slice(MAGIC);
    body.extend_from_slice(&FORMAT.to_le_bytes());
    body.extend_from_slice(&PARSER_ID.to_le_bytes());
    body.extend_from_slice(&config_hash.to_le_bytes());
    body.extend_from_slice(&(files.len() as u32).to_le_bytes());
    for (path, f) in files {
        let Ok(hash) = u64::from_str_radix(&f.doc.hash, 16) else {
            continue;
        };
        let stored = StoredRef {
            doc: &f.doc,
            roadmap_rows: &f.roadmap_rows,
            checklist: &f.checklist,
            features: &f.features,
            epics: &f.epics,
            stories: &f.stories,
            status_marks: f
                .stories
                .iter()
                .map(|s| s.status_marks.as_slice())
                .collect(),
            gates: &f.gates,
            role_sections: &f.role_sections,
            role: &f.role,
            mentions: &f.mentions,
            focus: &f.focus,
            diagnostics: &f.diagnostics,
        };
        let json = serde_json::to_vec(&stored).map_err(std::io::Error::other)?;
        body.extend_from_slice(&(path.len() as u32).to_le_bytes());
        body.extend_from_slice(path.as_bytes());
        body.extend_from_slice(&(f.doc.text.len() as u64).to_le_bytes());
        body.extend_from_slice(&hash.to_le_bytes());
        body.extend_from_slice(&(json.len() as u32).to_le_bytes());
        body.extend_from_slice(&json);
    }
    let target = root.join(INDEX_DIR).join(FACTS_FILE);
    write_file(&target, &seal(body))?;
    Ok(target)
}

/// `body` (which starts with its file's magic) followed by its blake3 checksum: how every
/// file of the index folder is laid out.
pub(crate) fn seal(mut body: Vec<u8>) -> Vec<u8> {
    let sum = *blake3::hash(&body).as_bytes();
    body.extend_from_slice(&sum);
    body
}

/// The body of a [`seal`]ed file, when it starts with `magic` and its checksum holds.
pub(crate) fn unseal<'a>(bytes: &'a [u8], magic: &[u8; 8]) -> Result<&'a [u8], &'static str> {
    let body_len = bytes
        .len()
        .checked_sub(32)
        .ok_or("not an index file (or truncated)")?;
    let (body, sum) = bytes.split_at(body_len);
    if body.get(..8) != Some(magic.as_slice()) {
        return Err("not an index file (or truncated)");
    }
    if blake3::hash(body).as_bytes() != sum {
        return Err("checksum mismatch (truncated or corrupt)");
    }
    Ok(body)
}

/// Writes one file of the index folder whole or not at all: a fsynced temp file in the
/// folder, renamed over the old one, the folder fsynced. Creates the folder (with a
/// `.gitignore` of `*`: the index is rebuilt whenever needed, never worth committing).
pub(crate) fn write_file(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| std::io::Error::other("an index file needs a folder"))?;
    std::fs::create_dir_all(dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        let _ = std::fs::write(
            &ignore,
            "# storypack's persisted index: rebuilt when needed\n*\n",
        );
    }
    crate::regular::write_atomic(target, bytes)
}

/// The hash of `storypack.toml`'s text (none: 0), part of the index's identity.
pub(crate) fn config_hash(config_text: Option<&str>) -> u64 {
    config_text.map_or(0, |t| xxhash_rust::xxh3::xxh3_64(t.as_bytes()) | 1)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::plan::Index;

    /// Everything a parse gives, status marks and texts included.
    fn snapshot(index: &Index) -> String {
        format!("{:?}", index.parsed())
    }

    fn plan() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let backlog = root.path().join("docs/03-backlog");
        let sprints = root.path().join("docs/04-sprints");
        fs::create_dir_all(&backlog).unwrap();
        fs::create_dir_all(&sprints).unwrap();
        let roadmap = "| Sprint | Theme | Start |\n|---|---|---|\n| 01 | a | 2026-01-05 |\n";
        fs::write(sprints.join("r.md"), roadmap).unwrap();
        let a = "# Backlog\n\n- [ ] A-1 first\n  - Sprint: 01\n  - Acceptance: a\n";
        fs::write(backlog.join("a.md"), a).unwrap();
        // A ragged row: a block the reader skips, with a diagnostic that must survive.
        let b = "\u{feff}| ID | Title | Status | Depends on |\n|---|---|---|---|\n| B-1 | second | todo | A-1, Z-9 |\n| B-2 | third | todo |\n";
        fs::write(backlog.join("b.md"), b).unwrap();
        root
    }

    fn facts_file(root: &Path) -> PathBuf {
        root.join(INDEX_DIR).join(FACTS_FILE)
    }

    /// Loads with the index and writes it, as a command that went through does.
    fn load_and_persist(root: &Path) -> Index {
        let index = Index::load_with(root, true);
        index.persist();
        index
    }

    #[test]
    fn a_second_load_takes_every_file_from_the_index_and_gives_the_same_plan() {
        let root = plan();
        let plain = Index::load(root.path());
        let first = Index::load_with(root.path(), true);
        assert_eq!(first.usage, (0, 3));
        assert!(!facts_file(root.path()).exists(), "written only when asked");
        first.persist();
        assert!(facts_file(root.path()).is_file());
        let second = Index::load_with(root.path(), true);
        assert_eq!(second.usage, (3, 0));
        assert_eq!(snapshot(&second), snapshot(&plain));
        assert_eq!(snapshot(&first), snapshot(&plain));
        // The skipped block's diagnostic comes back from the index too.
        let codes: Vec<String> = second
            .parsed()
            .diagnostics
            .into_iter()
            .filter(|d| d.path == "docs/03-backlog/b.md")
            .map(|d| d.code)
            .collect();
        assert!(codes.iter().any(|c| c.contains("ragged")), "{codes:?}");
        // Status marks (left out of the model's JSON) came back too.
        let stories = second.parsed().plan.stories;
        assert!(
            stories.iter().all(|s| !s.status_marks.is_empty()),
            "{stories:?}"
        );
        // Nothing changed: nothing rewritten.
        let before = fs::metadata(facts_file(root.path()))
            .unwrap()
            .modified()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let _ = load_and_persist(root.path());
        let after = fs::metadata(facts_file(root.path()))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn an_edited_file_alone_is_parsed_again() {
        let root = plan();
        let _ = load_and_persist(root.path());
        // Same length, other content: the hash tells them apart.
        let a = root.path().join("docs/03-backlog/a.md");
        let text = fs::read_to_string(&a).unwrap().replace("first", "FIRST");
        fs::write(&a, text).unwrap();
        let next = load_and_persist(root.path());
        assert_eq!(next.usage, (2, 1));
        assert_eq!(snapshot(&next), snapshot(&Index::load(root.path())));
        assert_eq!(next.parsed().plan.stories[0].title, "FIRST");
        // The index was brought up to date.
        assert_eq!(Index::load_with(root.path(), true).usage, (3, 0));
    }

    #[test]
    fn a_corrupt_truncated_foreign_or_stale_index_is_rebuilt_never_trusted() {
        let root = plan();
        let expected = snapshot(&Index::load(root.path()));
        let _ = load_and_persist(root.path());
        let path = facts_file(root.path());
        let good = fs::read(&path).unwrap();
        let body_len = good.len() - 32;
        let resealed = seal;
        // A flipped byte inside an entry's JSON, with the checksum recomputed so only the
        // entry itself can tell: the story title now differs from the file.
        let mut lying = good[..body_len].to_vec();
        let at = lying
            .windows(5)
            .position(|w| w == b"first")
            .expect("the title is in the index");
        lying[at] = b'F';
        let mut format = good[..body_len].to_vec();
        format[8] = 99;
        let mut parser = good[..body_len].to_vec();
        parser[12] ^= 1;
        let mut flipped = good.clone();
        flipped[body_len / 2] ^= 0x40;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("corrupt", flipped),
            ("truncated", good[..good.len() / 2].to_vec()),
            ("empty", Vec::new()),
            ("wrong format version", resealed(format)),
            ("another build", resealed(parser)),
        ];
        for (name, bytes) in cases {
            fs::write(&path, &bytes).unwrap();
            let index = load_and_persist(root.path());
            assert_eq!(index.usage, (0, 3), "{name}");
            assert_eq!(snapshot(&index), expected, "{name}");
            assert_eq!(fs::read(&path).unwrap(), good, "{name}: rewritten whole");
        }
        // An entry that lies about its file is only as good as its hash: the index keys
        // entries by the file's content, so a lying entry for unchanged content would be
        // used. That is why the checksum covers every byte: the lying file above, without
        // a valid checksum, is refused.
        let mut unsealed = lying.clone();
        unsealed.extend_from_slice(&[0u8; 32]);
        fs::write(&path, &unsealed).unwrap();
        assert_eq!(Index::load_with(root.path(), true).usage, (0, 3));
        // A changed storypack.toml is another plan reading: nothing reused.
        fs::write(root.path().join("storypack.toml"), "[plan]\n").unwrap();
        let index = Index::load_with(root.path(), true);
        assert_eq!(index.usage.0, 0);
        assert_eq!(snapshot(&index), snapshot(&Index::load(root.path())));
    }

    #[test]
    fn an_index_that_cannot_be_written_changes_nothing_but_speed() {
        let root = plan();
        // `.storypack/index` taken by a file: no index can be written there (as on a
        // read-only root; tests run as root, which file modes do not stop).
        fs::create_dir_all(root.path().join(".storypack")).unwrap();
        fs::write(root.path().join(INDEX_DIR), "not a folder").unwrap();
        let index = load_and_persist(root.path());
        assert_eq!(index.usage, (0, 3));
        assert_eq!(snapshot(&index), snapshot(&Index::load(root.path())));
        assert_eq!(
            fs::read_to_string(root.path().join(INDEX_DIR)).unwrap(),
            "not a folder"
        );
    }

    #[test]
    fn without_the_index_nothing_is_read_or_written() {
        let root = plan();
        let index = Index::load(root.path());
        assert_eq!(index.usage, (0, 0));
        assert!(!root.path().join(".storypack").exists());
    }
}
