//! The plan as per-file facts, kept so that a changed file can be re-read alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::config::{self, Config};
use super::load::{self, ReadPlan};
use super::{FileFacts, Loaded, Parsed, assemble, persist, read_source};
use crate::model::Diagnostic;

/// The plan as per-file facts: what [`assemble`](fn@super::assemble::assemble) joins. Re-reading one changed file and
/// re-assembling gives the same result as parsing the whole plan again.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    root: PathBuf,
    config: Config,
    config_diags: Vec<Diagnostic>,
    /// Problems found while listing the plan (not tied to one readable file).
    walk_diags: Vec<Diagnostic>,
    files: BTreeMap<String, Arc<FileFacts>>,
    /// Files that could not be read or decoded, by path.
    failed: BTreeMap<String, Diagnostic>,
    /// The hash of `storypack.toml`'s text: part of the persisted index's identity.
    config_hash: u64,
    /// Whether this plan keeps a persisted index (see [`persist`]).
    persisted: bool,
    /// How the last full read used the persisted index: files reused, files parsed.
    pub(crate) usage: (usize, usize),
    /// Whether the persisted index on disk holds exactly these files' facts.
    current: bool,
}

impl Index {
    /// Reads the plan under `root` (without a persisted index).
    pub(crate) fn load(root: &Path) -> Index {
        Index::load_with(root, false)
    }

    /// Reads the plan under `root`; with `persisted`, unchanged files come from the
    /// persisted index (see [`persist`]), which [`Index::persist`] brings up to date.
    pub(crate) fn load_with(root: &Path, persisted: bool) -> Index {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let (read, facts) = load::read_plan(&root, persisted);
        let mut index = Index::from_read(root, read);
        index.persisted = persisted;
        if let Some(facts) = facts {
            index.usage = (facts.usage.reused(), facts.usage.parsed());
            index.current = facts.covers(
                index
                    .files
                    .iter()
                    .map(|(path, f)| (path.as_str(), f.doc.as_ref())),
            );
        }
        index
    }

    /// Writes the persisted index of this snapshot, if this plan keeps one and the one on
    /// disk is not already current. A failure (a read-only root, a full disk) is logged:
    /// the index is never needed.
    pub(crate) fn persist(&self) {
        if !self.persisted || self.current {
            return;
        }
        let files: Vec<(&str, &FileFacts)> = self
            .files
            .iter()
            .map(|(path, f)| (path.as_str(), f.as_ref()))
            .collect();
        let t = std::time::Instant::now();
        match persist::write(&self.root, self.config_hash, &files) {
            Ok(path) => tracing::debug!(
                index = %path.display(),
                files = files.len(),
                ms = t.elapsed().as_millis() as u64,
                "persisted index written"
            ),
            Err(e) => tracing::debug!(error = %e, "persisted index not written"),
        }
    }

    /// The index of sources already read (no IO).
    pub(crate) fn from_loaded(root: PathBuf, loaded: Loaded) -> Index {
        let mut config_diags = Vec::new();
        let config = Config::parse(loaded.config.as_deref(), &mut config_diags);
        let files = loaded
            .sources
            .into_par_iter()
            .map(|s| (s.path.clone(), read_source(s, &config)))
            .collect();
        let read = ReadPlan {
            config,
            config_hash: persist::config_hash(loaded.config.as_deref()),
            config_diags,
            files,
            diagnostics: loaded.diagnostics,
        };
        Index::from_read(root, read)
    }

    /// Files read (in path order) and problems met while reading -> the index.
    fn from_read(root: PathBuf, read: ReadPlan) -> Index {
        let mut files = BTreeMap::new();
        let mut failed = BTreeMap::new();
        for (path, r) in read.files {
            match r {
                Ok(f) => {
                    files.insert(path, Arc::new(f));
                }
                Err(d) => {
                    failed.insert(path, d);
                }
            }
        }
        // Unreadable files are reported with their path; keep them per file too.
        let mut walk_diags = Vec::new();
        for d in read.diagnostics {
            let per_file = d.code == "unreadable" || d.code == load::NOT_REGULAR;
            if per_file && !d.path.is_empty() && d.path != config::CONFIG_FILE {
                failed.insert(d.path.clone(), d);
            } else {
                walk_diags.push(d);
            }
        }
        Index {
            root,
            config: read.config,
            config_diags: read.config_diags,
            walk_diags,
            files,
            failed,
            config_hash: read.config_hash,
            persisted: false,
            usage: (0, 0),
            current: false,
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this plan keeps a persisted index, and where.
    pub(crate) fn persisted_dir(&self) -> Option<PathBuf> {
        self.persisted.then(|| self.root.join(persist::INDEX_DIR))
    }

    /// The hash of `storypack.toml`'s text.
    pub(crate) fn config_hash(&self) -> u64 {
        self.config_hash
    }

    /// The facts read from one markdown file, by its path relative to the root.
    pub(crate) fn facts(&self, rel_path: &str) -> Option<&Arc<FileFacts>> {
        self.files.get(rel_path)
    }

    /// Paths of the markdown files read, relative to the root.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Joins the files into the plan.
    pub(crate) fn parsed(&self) -> Parsed {
        let facts: Vec<Arc<FileFacts>> = self.files.values().cloned().collect();
        let mut parsed = assemble(&self.config, &facts);
        parsed.diagnostics.extend(self.config_diags.iter().cloned());
        parsed.diagnostics.extend(self.walk_diags.iter().cloned());
        parsed.diagnostics.extend(self.failed.values().cloned());
        parsed.diagnostics.sort_by(Diagnostic::report_order);
        parsed.diagnostics.dedup();
        parsed
    }

    /// A new index with the given paths (absolute, or relative to the root) re-read through
    /// the same read path as a full load; files that are gone are dropped. A change to
    /// `storypack.toml`, to a folder, or to anything this index cannot place re-reads the
    /// whole plan.
    pub(crate) fn refresh(&self, changed: &[PathBuf]) -> Index {
        let mut next = self.clone();
        next.current = false;
        let walk_rel = if self.root.join("docs").is_dir() {
            "docs/"
        } else {
            ""
        };
        for path in changed {
            let abs = if path.is_absolute() {
                path.clone()
            } else {
                self.root.join(path)
            };
            let Ok(rel_path) = abs.strip_prefix(&self.root) else {
                continue;
            };
            let rel = load::rel(Path::new(""), rel_path);
            if rel == config::CONFIG_FILE || self.config.roadmap.contains(&rel) {
                return Index::load_with(&self.root, self.persisted);
            }
            if abs.is_dir() || self.files.keys().any(|k| k.starts_with(&format!("{rel}/"))) {
                return Index::load_with(&self.root, self.persisted);
            }
            if !rel.starts_with(walk_rel)
                || !load::is_markdown(&abs)
                || rel.split('/').any(|c| c.starts_with('.'))
            {
                continue;
            }
            next.files.remove(&rel);
            next.failed.remove(&rel);
            if !abs.exists() {
                continue;
            }
            let inside = abs.canonicalize().is_ok_and(|c| c.starts_with(&self.root));
            if !inside {
                continue;
            }
            match load::read_listed(&self.root, &abs, &self.config, None) {
                Ok((_, Ok(f))) => {
                    next.files.insert(rel, Arc::new(f));
                }
                Ok((_, Err(d))) | Err(d) => {
                    next.failed.insert(rel, d);
                }
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::plan::{MAX_FILE_BYTES, text};

    /// The same plan and the same diagnostics.
    fn assert_same(a: &Parsed, b: &Parsed) {
        assert_eq!(
            serde_json::to_string(&a.plan).unwrap(),
            serde_json::to_string(&b.plan).unwrap()
        );
        assert_eq!(a.diagnostics, b.diagnostics);
    }

    fn plan() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let backlog = root.path().join("docs/03-backlog");
        let sprints = root.path().join("docs/04-sprints");
        fs::create_dir_all(&backlog).unwrap();
        fs::create_dir_all(&sprints).unwrap();
        let roadmap = "| Sprint | Theme |\n|---|---|\n| 01 | a |\n";
        fs::write(sprints.join("r.md"), roadmap).unwrap();
        let a = "- A-1 first\n  - Sprint: 01\n  - Acceptance: a\n";
        fs::write(backlog.join("a.md"), a).unwrap();
        let b = "- B-1 second\n  - Sprint: 01\n  - Depends on: A-1\n  - Acceptance: b\n";
        fs::write(backlog.join("b.md"), b).unwrap();
        root
    }

    #[test]
    fn one_changed_file_re_read_gives_what_a_full_load_gives() {
        let root = plan();
        let index = Index::load(root.path());
        let a = root.path().join("docs/03-backlog/a.md");
        let edited = "- A-1 first, renamed\n  - Sprint: 01\n  - Depends on: B-1\n";
        fs::write(&a, edited).unwrap();

        let next = index.refresh(std::slice::from_ref(&a));
        let full = Index::load(root.path());
        assert_same(&next.parsed(), &full.parsed());
        assert_eq!(next.parsed().plan.stories[0].title, "first, renamed");
        assert_eq!(
            next.files["docs/03-backlog/a.md"].doc.hash,
            text::doc_hash(edited.as_bytes())
        );
        // Only the changed file was read again.
        for unchanged in ["docs/03-backlog/b.md", "docs/04-sprints/r.md"] {
            assert!(Arc::ptr_eq(&index.files[unchanged], &next.files[unchanged]));
        }
        assert!(!Arc::ptr_eq(
            &index.files["docs/03-backlog/a.md"],
            &next.files["docs/03-backlog/a.md"]
        ));
    }

    #[test]
    fn files_that_break_added_or_go_are_refreshed_like_a_full_load() {
        let root = plan();
        let index = Index::load(root.path());
        let backlog = root.path().join("docs/03-backlog");
        fs::write(backlog.join("a.md"), b"- A-1 caf\xe9\n").unwrap();
        fs::remove_file(backlog.join("b.md")).unwrap();
        let big = fs::File::create(backlog.join("big.md")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        fs::write(backlog.join("c.md"), "- C-1 third\n  - Acceptance: c\n").unwrap();
        // Relative paths are taken from the root.
        let changed: Vec<PathBuf> = ["a.md", "b.md", "big.md", "c.md"]
            .iter()
            .map(|f| PathBuf::from("docs/03-backlog").join(f))
            .collect();

        let next = index.refresh(&changed);
        let full = Index::load(root.path());
        assert_same(&next.parsed(), &full.parsed());
        let failed: Vec<(&str, &str)> = next
            .failed
            .iter()
            .map(|(path, d)| (path.as_str(), d.code.as_str()))
            .collect();
        assert_eq!(
            failed,
            [
                ("docs/03-backlog/a.md", "not-utf8"),
                ("docs/03-backlog/big.md", "unreadable")
            ]
        );
        assert_eq!(next.failed, full.failed);
        let files: Vec<&String> = next.files.keys().collect();
        assert_eq!(files, ["docs/03-backlog/c.md", "docs/04-sprints/r.md"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_replaced_by_a_fifo_is_refreshed_without_opening_it() {
        let root = plan();
        let index = Index::load(root.path());
        let a = root.path().join("docs/03-backlog/a.md");
        fs::remove_file(&a).unwrap();
        crate::regular::tests::mkfifo(&a);

        let next = index.refresh(std::slice::from_ref(&a));
        let full = Index::load(root.path());
        assert_same(&next.parsed(), &full.parsed());
        assert!(!next.files.contains_key("docs/03-backlog/a.md"));
        let d = &next.failed["docs/03-backlog/a.md"];
        assert_eq!(
            (d.code.as_str(), d.message.as_str()),
            ("not-regular", "not a regular file: a FIFO; skipped")
        );
    }
}
