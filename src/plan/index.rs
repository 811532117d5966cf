//! The plan as per-file facts, kept so that a changed file can be re-read alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::config::{self, Config};
use super::load::{self, ReadPlan};
use super::{FileFacts, Loaded, Parsed, assemble, read_source};
use crate::model::Diagnostic;

/// The plan as per-file facts: what [`assemble`] joins. Re-reading one changed file and
/// re-assembling gives the same result as parsing the whole plan again.
#[derive(Debug, Clone, Default)]
pub struct Index {
    root: PathBuf,
    config: Config,
    config_diags: Vec<Diagnostic>,
    /// Problems found while listing the plan (not tied to one readable file).
    walk_diags: Vec<Diagnostic>,
    files: BTreeMap<String, Arc<FileFacts>>,
    /// Files that could not be read or decoded, by path.
    failed: BTreeMap<String, Diagnostic>,
}

impl Index {
    /// Reads the plan under `root`.
    pub fn load(root: &Path) -> Index {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let read = load::read_plan(&root);
        Index::from_read(root, read)
    }

    /// The index of sources already read (no IO).
    pub fn from_loaded(root: PathBuf, loaded: Loaded) -> Index {
        let mut config_diags = Vec::new();
        let config = Config::parse(loaded.config.as_deref(), &mut config_diags);
        let files = loaded
            .sources
            .into_par_iter()
            .map(|s| (s.path.clone(), read_source(s, &config)))
            .collect();
        let read = ReadPlan {
            config,
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
            if d.code == "unreadable" && !d.path.is_empty() && d.path != config::CONFIG_FILE {
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
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Joins the files into the plan.
    pub fn parsed(&self) -> Parsed {
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
    pub fn refresh(&self, changed: &[PathBuf]) -> Index {
        let mut next = self.clone();
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
                return Index::load(&self.root);
            }
            if abs.is_dir() || self.files.keys().any(|k| k.starts_with(&format!("{rel}/"))) {
                return Index::load(&self.root);
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
            match load::read_listed(&self.root, &abs, &self.config) {
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
