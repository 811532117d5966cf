//! Plan markdown -> [`Plan`] plus diagnostics. Parsing never fails.
//!
//! Three steps: [`load`] finds and reads the files (the only IO), [`extract::extract`] reads
//! each file alone (in parallel), [`assemble`] joins what the files say (merges roadmap rows
//! by sprint, links role labels to slugs, checks ids and dependencies across files).

pub mod config;
pub mod extract;
pub mod markdown;
pub mod text;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::Days;
use rayon::prelude::*;

pub use config::Config;
pub use extract::FileFacts;

use crate::model::{Diagnostic, DocKind, Plan, Role, Severity, Sprint, SprintRole, gate_key};

/// Files larger than this are reported and skipped.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The parse result: the model and everything worth telling about how it was read.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub plan: Plan,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

/// One file as read from disk: its path relative to the plan root (with `/`) and bytes.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// What [`load`] found: markdown sources, the config text, and problems met on the way.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: Vec<Source>,
    pub config: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads and parses the plan under `root`.
pub fn parse_dir(root: &Path) -> Parsed {
    Index::load(root).parsed()
}

/// Parses sources already read (pure: no IO).
pub fn parse(loaded: Loaded) -> Parsed {
    Index::from_loaded(PathBuf::new(), loaded).parsed()
}

/// One listed file read and parsed: (relative path, facts or why it has none), or why it
/// could not be read.
type ReadResult = Result<(String, Result<FileFacts, Diagnostic>), Diagnostic>;

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
    pub fn load(root: &Path) -> Index {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let mut listed = Loaded::default();
        let Some((canon_root, walk_root)) = open_root(&root, &mut listed) else {
            return Index::from_loaded(root, listed);
        };
        let mut config_diags = Vec::new();
        let config = Config::parse(listed.config.as_deref(), &mut config_diags);
        // Each file is read and parsed in one go (its bytes still in cache, no file waiting
        // in memory for the others to be read), as soon as the walk lists it: the walk runs
        // alongside the parsing instead of before it.
        let escaped = Escaped::default();
        let mut listing = walker(&canon_root, &walk_root, &escaped).filter_map(listed_file);
        let batches = std::iter::from_fn(|| {
            let batch: Vec<Result<PathBuf, Diagnostic>> = listing.by_ref().take(BATCH).collect();
            (!batch.is_empty()).then_some(batch)
        });
        let walked: Vec<Result<(PathBuf, ReadResult), Diagnostic>> = batches
            .par_bridge()
            .flat_map_iter(|batch| {
                let mut problems = Vec::new();
                let mut paths = Vec::with_capacity(batch.len());
                for listed in batch {
                    match listed {
                        Ok(p) => paths.push(p),
                        Err(d) => problems.push(Err(d)),
                    }
                }
                let read = read_batch(&canon_root, paths, &config);
                problems.into_iter().chain(read.into_iter().map(Ok))
            })
            .collect();
        let mut paths = Vec::with_capacity(walked.len());
        let mut done = Vec::with_capacity(walked.len());
        for w in walked {
            match w {
                Ok((p, r)) => {
                    paths.push(p.clone());
                    done.push((p, r));
                }
                Err(d) => listed.diagnostics.push(d),
            }
        }
        let walked_files = paths.len();
        finish_listing(&canon_root, &escaped, &mut listed, &mut paths);
        let extra: Vec<PathBuf> = paths.split_off(walked_files);
        let extra: Vec<Vec<(PathBuf, ReadResult)>> = extra
            .par_chunks(BATCH)
            .map(|batch| read_batch(&canon_root, batch.to_vec(), &config))
            .collect();
        done.extend(extra.into_iter().flatten());
        // Same order as `load` then `from_loaded`: parsed files by path (the walk's order
        // among equal relative paths), then read failures.
        let mut results = Vec::with_capacity(done.len());
        let mut diagnostics = listed.diagnostics;
        for (p, r) in done {
            match r {
                Ok(parsed) => results.push((p, parsed)),
                Err(d) => diagnostics.push(d),
            }
        }
        results.sort_by(|(pa, (a, _)), (pb, (b, _))| a.cmp(b).then_with(|| pa.cmp(pb)));
        let results = results.into_iter().map(|(_, parsed)| parsed).collect();
        Index::from_parts(root, config, config_diags, results, diagnostics)
    }

    pub fn from_loaded(root: PathBuf, loaded: Loaded) -> Index {
        let mut config_diags = Vec::new();
        let config = Config::parse(loaded.config.as_deref(), &mut config_diags);
        let results: Vec<(String, Result<FileFacts, Diagnostic>)> = loaded
            .sources
            .into_par_iter()
            .map(|s| (s.path.clone(), read_source(s, &config)))
            .collect();
        Index::from_parts(root, config, config_diags, results, loaded.diagnostics)
    }

    /// Files parsed (in path order) and problems met while reading -> the index.
    fn from_parts(
        root: PathBuf,
        config: Config,
        config_diags: Vec<Diagnostic>,
        results: Vec<(String, Result<FileFacts, Diagnostic>)>,
        diagnostics: Vec<Diagnostic>,
    ) -> Index {
        let mut files = BTreeMap::new();
        let mut failed = BTreeMap::new();
        for (path, r) in results {
            match r {
                Ok(f) => {
                    files.insert(path, Arc::new(f));
                }
                Err(d) => {
                    failed.insert(path, d);
                }
            }
        }
        // Unreadable files are reported by `load` with their path; keep them per file too.
        let mut walk_diags = Vec::new();
        for d in diagnostics {
            if d.code == "unreadable" && !d.path.is_empty() && d.path != config::CONFIG_FILE {
                failed.insert(d.path.clone(), d);
            } else {
                walk_diags.push(d);
            }
        }
        Index {
            root,
            config,
            config_diags,
            walk_diags,
            files,
            failed,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> &Config {
        &self.config
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

    /// A new index with the given paths (absolute, or relative to the root) re-read; files
    /// that are gone are dropped. A change to `storypack.toml`, to a folder, or to anything
    /// this index cannot place re-reads the whole plan.
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
            let rel = rel(Path::new(""), rel_path);
            if rel == config::CONFIG_FILE || self.config.roadmap.contains(&rel) {
                return Index::load(&self.root);
            }
            if abs.is_dir() || self.files.keys().any(|k| k.starts_with(&format!("{rel}/"))) {
                return Index::load(&self.root);
            }
            if !rel.starts_with(walk_rel)
                || !is_markdown(&abs)
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
            let source = std::fs::metadata(&abs)
                .map_err(|e| io_diag(rel.clone(), format!("cannot be read: {e}")))
                .and_then(|m| {
                    if m.len() > MAX_FILE_BYTES {
                        Err(io_diag(
                            rel.clone(),
                            format!(
                                "{} bytes is over the {} MiB limit for one plan file; skipped",
                                m.len(),
                                MAX_FILE_BYTES / 1024 / 1024
                            ),
                        ))
                    } else {
                        std::fs::read(&abs)
                            .map_err(|e| io_diag(rel.clone(), format!("cannot be read: {e}")))
                    }
                })
                .map(|bytes| Source {
                    path: rel.clone(),
                    bytes,
                });
            match source.and_then(|s| read_source(s, &self.config)) {
                Ok(f) => {
                    next.files.insert(rel, Arc::new(f));
                }
                Err(d) => {
                    next.failed.insert(rel, d);
                }
            }
        }
        next
    }
}

/// Decodes one source and extracts its facts; a file that is not UTF-8 is a diagnostic.
pub fn read_source(source: Source, config: &Config) -> Result<FileFacts, Diagnostic> {
    let path = source.path.clone();
    decode(source).map(|text| extract::extract_owned(&path, text, config))
}

/// Files read together: their hashes are computed side by side.
const BATCH: usize = 8;

/// Reads, decodes and extracts a few listed files.
fn read_batch(
    canon_root: &Path,
    paths: Vec<PathBuf>,
    config: &Config,
) -> Vec<(PathBuf, ReadResult)> {
    // (listed path, (relative path, text or why it is not UTF-8) or why it cannot be read)
    let decoded: Vec<_> = paths
        .into_iter()
        .map(|p| {
            let read = read_file(canon_root, &p).map(|s| {
                let path = s.path.clone();
                let text = decode(s).map(|mut t| {
                    extract::strip_bom(&mut t);
                    t
                });
                (path, text)
            });
            (p, read)
        })
        .collect();
    let texts: Vec<&[u8]> = decoded
        .iter()
        .filter_map(|(_, read)| match read {
            Ok((_, Ok(text))) => Some(text.as_bytes()),
            _ => None,
        })
        .collect();
    let mut hashes = text::fnv64_many(&texts).into_iter();
    decoded
        .into_iter()
        .map(|(p, read)| {
            let read = read.map(|(path, text)| {
                let facts = text.map(|t| {
                    let hash = hashes.next().unwrap_or_default();
                    extract::extract_hashed(&path, t, hash, config)
                });
                (path, facts)
            });
            (p, read)
        })
        .collect()
}

/// The source's text; a file that is not UTF-8 is a diagnostic.
fn decode(source: Source) -> Result<String, Diagnostic> {
    match String::from_utf8(source.bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let line = bytes[..valid].iter().filter(|b| **b == b'\n').count() as u32 + 1;
            Err(Diagnostic {
                severity: Severity::Error,
                code: "not-utf8".into(),
                path: source.path,
                line,
                message: format!(
                    "not UTF-8 (invalid byte at offset {valid}); file skipped. Save it as UTF-8."
                ),
            })
        }
    }
}

fn is_markdown(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"))
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn io_diag(path: String, message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code: "unreadable".into(),
        path,
        line: 1,
        message,
    }
}

/// Finds the plan's markdown under `root/docs` (or `root` when there is no `docs/`),
/// honouring `.gitignore`, skipping hidden files and never following a symlink out of the
/// root. Also reads `storypack.toml` and the roadmap files it names.
pub fn load(root: &Path) -> Loaded {
    let mut out = Loaded::default();
    let Some((canon_root, paths)) = list(root, &mut out) else {
        return out;
    };
    let read: Vec<Result<Source, Diagnostic>> = paths
        .par_iter()
        .map(|p| read_file(&canon_root, p))
        .collect();
    for r in read {
        match r {
            Ok(s) => out.sources.push(s),
            Err(d) => out.diagnostics.push(d),
        }
    }
    out.sources.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The listing half of [`load`]: reads the config into `out`, reports what it meets there,
/// and returns the canonical root with the absolute paths of the markdown files to read
/// (`None` when the root itself cannot be read).
fn list(root: &Path, out: &mut Loaded) -> Option<(PathBuf, Vec<PathBuf>)> {
    let (canon_root, walk_root) = open_root(root, out)?;
    let escaped = Escaped::default();
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in walker(&canon_root, &walk_root, &escaped) {
        match listed_file(entry) {
            Some(Ok(path)) => paths.push(path),
            Some(Err(d)) => out.diagnostics.push(d),
            None => {}
        }
    }
    finish_listing(&canon_root, &escaped, out, &mut paths);
    Some((canon_root, paths))
}

/// Symlinks the walk did not follow out of the root: (relative path, broken).
type Escaped = Arc<Mutex<Vec<(String, bool)>>>;

/// Canonicalises the root and reads the config into `out`; returns the canonical root and
/// the folder to walk (`None` when the root itself cannot be read).
fn open_root(root: &Path, out: &mut Loaded) -> Option<(PathBuf, PathBuf)> {
    let canon_root = match root.canonicalize() {
        Ok(r) => r,
        Err(e) => {
            out.diagnostics.push(io_diag(
                String::new(),
                format!("plan root {} cannot be read: {e}", root.display()),
            ));
            return None;
        }
    };
    match std::fs::read(canon_root.join(config::CONFIG_FILE)) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => out.config = Some(t),
            Err(_) => out.diagnostics.push(io_diag(
                config::CONFIG_FILE.into(),
                "not UTF-8; defaults used".into(),
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => out.diagnostics.push(io_diag(
            config::CONFIG_FILE.into(),
            format!("cannot be read: {e}"),
        )),
    }
    let docs = canon_root.join("docs");
    let walk_root = if docs.is_dir() {
        docs
    } else {
        canon_root.clone()
    };
    Some((canon_root, walk_root))
}

/// The walk over `walk_root` (in path order); symlinks leading out of the root are
/// recorded in `escaped` and not followed.
fn walker(canon_root: &Path, walk_root: &Path, escaped: &Escaped) -> ignore::Walk {
    let escaped = Arc::clone(escaped);
    let root_for_filter = canon_root.to_path_buf();
    ignore::WalkBuilder::new(walk_root)
        .hidden(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .parents(true)
        .follow_links(true)
        .sort_by_file_path(|a, b| a.cmp(b))
        .filter_entry(move |entry| {
            if !entry.path_is_symlink() {
                return true;
            }
            let inside = entry
                .path()
                .canonicalize()
                .is_ok_and(|p| p.starts_with(&root_for_filter));
            if !inside && let Ok(mut e) = escaped.lock() {
                let broken = std::fs::metadata(entry.path()).is_err();
                e.push((rel(&root_for_filter, entry.path()), broken));
            }
            inside
        })
        .build()
}

/// A markdown file the walk found, a problem it met, or `None` for anything else.
fn listed_file(
    entry: Result<ignore::DirEntry, ignore::Error>,
) -> Option<Result<PathBuf, Diagnostic>> {
    match entry {
        Ok(e) => (e.file_type().is_some_and(|t| t.is_file()) && is_markdown(e.path()))
            .then(|| Ok(e.into_path())),
        Err(err) => Some(Err(io_diag(
            String::new(),
            format!("while listing the plan: {err}"),
        ))),
    }
}

/// After the walk: reports the symlinks it did not follow and adds the config's roadmap
/// files that the walk did not list to `paths`.
fn finish_listing(
    canon_root: &Path,
    escaped: &Escaped,
    out: &mut Loaded,
    paths: &mut Vec<PathBuf>,
) {
    if let Ok(escaped) = escaped.lock() {
        for (path, broken) in escaped.iter() {
            out.diagnostics.push(Diagnostic {
                severity: Severity::Warning,
                code: if *broken {
                    "broken-symlink"
                } else {
                    "symlink-outside-root"
                }
                .into(),
                path: path.clone(),
                line: 1,
                message: if *broken {
                    "symlink points to nothing; skipped".into()
                } else {
                    "symlink leads outside the plan root; not followed".into()
                },
            });
        }
    }
    let cfg_roadmaps: Vec<String> = {
        let mut d = Vec::new();
        Config::parse(out.config.as_deref(), &mut d).roadmap
    };
    for extra in cfg_roadmaps {
        let p = canon_root.join(&extra);
        match p.canonicalize() {
            Ok(c) if c.starts_with(canon_root) => {
                if !paths.contains(&c) {
                    paths.push(c);
                }
            }
            Ok(_) => out.diagnostics.push(Diagnostic {
                severity: Severity::Error,
                code: "config".into(),
                path: config::CONFIG_FILE.into(),
                line: 1,
                message: format!("roadmap file {extra} is outside the plan root; ignored"),
            }),
            Err(e) => out.diagnostics.push(Diagnostic {
                severity: Severity::Error,
                code: "config".into(),
                path: config::CONFIG_FILE.into(),
                line: 1,
                message: format!("roadmap file {extra} cannot be read: {e}"),
            }),
        }
    }
}

/// Reads one listed file (one open: its size comes from the open file).
fn read_file(canon_root: &Path, p: &Path) -> Result<Source, Diagnostic> {
    use std::io::Read;
    let path = rel(canon_root, p);
    let cannot = |e: std::io::Error| io_diag(path.clone(), format!("cannot be read: {e}"));
    let too_big = |len: u64| {
        io_diag(
            path.clone(),
            format!(
                "{len} bytes is over the {} MiB limit for one plan file; skipped",
                MAX_FILE_BYTES / 1024 / 1024
            ),
        )
    };
    let mut file = match std::fs::File::open(p) {
        Ok(f) => f,
        Err(open) => {
            // Tell it as a stat-then-read would: a missing file, then size, then the open.
            let meta = std::fs::metadata(p).map_err(cannot)?;
            if meta.len() > MAX_FILE_BYTES {
                return Err(too_big(meta.len()));
            }
            return Err(cannot(open));
        }
    };
    let len = file.metadata().map_err(cannot)?.len();
    if len > MAX_FILE_BYTES {
        return Err(too_big(len));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(cannot)?;
    Ok(Source { path, bytes })
}

/// Joins per-file facts into one plan and checks what only the whole plan can tell.
pub fn assemble(config: &Config, facts: &[Arc<FileFacts>]) -> Parsed {
    let mut facts: Vec<&FileFacts> = facts.iter().map(|f| f.as_ref()).collect();
    facts.sort_by(|a, b| a.doc.path.cmp(&b.doc.path));
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut plan = Plan::default();

    // Roles: slugs from role-plan paths, front matter and config; labels from the roadmap.
    let mut known_slugs: BTreeSet<String> = facts.iter().filter_map(|f| f.role.clone()).collect();
    known_slugs.extend(config.roles.values().cloned());
    let mut role_labels: BTreeMap<String, String> = BTreeMap::new();
    let resolve = |label: &str, known: &BTreeSet<String>| -> String {
        if let Some(slug) = config.roles.get(label) {
            return slug.clone();
        }
        let s = extract_slug(label);
        if known.contains(&s) {
            return s;
        }
        known
            .iter()
            .find(|k| k.starts_with(&format!("{s}-")))
            .cloned()
            .unwrap_or(s)
    };

    // Sprints: roadmap rows merged by id, first row wins, conflicts reported.
    let mut sprints: BTreeMap<String, Sprint> = BTreeMap::new();
    for f in &facts {
        for row in &f.roadmap_rows {
            let sprint = sprints.entry(row.sprint.clone()).or_insert_with(|| Sprint {
                id: row.sprint.clone(),
                theme: None,
                epics: Vec::new(),
                gate: None,
                start: None,
                end: None,
                roles: BTreeMap::new(),
                extra: BTreeMap::new(),
                citation: row.citation.clone(),
            });
            let at = &row.citation;
            merge_field(
                &mut sprint.theme,
                &row.theme,
                "theme",
                &sprint.id,
                &sprint.citation,
                at,
                &mut diags,
            );
            merge_field(
                &mut sprint.gate,
                &row.gate,
                "gate",
                &sprint.id,
                &sprint.citation,
                at,
                &mut diags,
            );
            merge_field(
                &mut sprint.start,
                &row.start,
                "start",
                &sprint.id,
                &sprint.citation,
                at,
                &mut diags,
            );
            merge_field(
                &mut sprint.end,
                &row.end,
                "end",
                &sprint.id,
                &sprint.citation,
                at,
                &mut diags,
            );
            for e in &row.epics {
                if !sprint.epics.contains(e) {
                    sprint.epics.push(e.clone());
                }
            }
            for (k, v) in &row.extra {
                sprint.extra.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for r in &row.roles {
                let slug = resolve(&r.label, &known_slugs);
                role_labels
                    .entry(slug.clone())
                    .or_insert_with(|| r.label.clone());
                let entry = sprint.roles.entry(slug).or_insert_with(|| SprintRole {
                    label: r.label.clone(),
                    citation: Some(row.citation.clone()),
                    ..SprintRole::default()
                });
                let id = sprint.id.clone();
                let first = entry
                    .citation
                    .clone()
                    .unwrap_or_else(|| row.citation.clone());
                merge_field(
                    &mut entry.mission_focus,
                    &r.mission_focus,
                    "mission focus",
                    &id,
                    &first,
                    at,
                    &mut diags,
                );
                merge_field(
                    &mut entry.week1,
                    &r.week1,
                    "week 1 priority",
                    &id,
                    &first,
                    at,
                    &mut diags,
                );
                merge_field(
                    &mut entry.week2,
                    &r.week2,
                    "week 2 priority",
                    &id,
                    &first,
                    at,
                    &mut diags,
                );
            }
        }
    }
    known_slugs.extend(role_labels.keys().cloned());
    for (label, slug) in &config.roles {
        role_labels
            .entry(slug.clone())
            .or_insert_with(|| label.clone());
    }
    plan.roles = known_slugs
        .iter()
        .map(|slug| Role {
            slug: slug.clone(),
            label: role_labels
                .get(slug)
                .cloned()
                .unwrap_or_else(|| text::label_from_slug(slug)),
        })
        .collect();

    // Calendar: explicit dates win; else the configured cadence.
    let first_number = sprints
        .keys()
        .filter_map(|k| k.parse::<u64>().ok())
        .min()
        .unwrap_or(0);
    let days = u64::from(config.sprint_days);
    for sprint in sprints.values_mut() {
        let n = sprint
            .id
            .parse::<u64>()
            .unwrap_or(0)
            .saturating_sub(first_number);
        if sprint.start.is_none()
            && let Some(first) = config.first_sprint_start
        {
            sprint.start = first.checked_add_days(Days::new(n * days));
        }
        if sprint.end.is_none()
            && let Some(start) = sprint.start
        {
            sprint.end = start.checked_add_days(Days::new(days.saturating_sub(1)));
        }
        if let (Some(s), Some(e)) = (sprint.start, sprint.end)
            && e < s
        {
            diags.push(at_citation(
                &sprint.citation,
                Severity::Warning,
                "bad-date",
                format!("sprint {} ends ({e}) before it starts ({s})", sprint.id),
            ));
        }
    }
    plan.sprints = sprints.into_values().collect();
    plan.sprints
        .sort_by_key(|s| (s.id.parse::<u64>().unwrap_or(u64::MAX), s.id.clone()));

    // Everything else, in path order.
    let mut story_at: HashMap<String, usize> = HashMap::new();
    for f in facts {
        diags.extend(f.diagnostics.iter().cloned());
        if plan.checklist.is_empty() {
            plan.checklist = f.checklist.clone();
        } else if !f.checklist.is_empty() && !same_steps(&plan.checklist, &f.checklist) {
            let first = &plan.checklist[0].citation;
            diags.push(at_citation(
                &f.checklist[0].citation,
                Severity::Warning,
                "duplicate-checklist",
                format!("a different per-sprint checklist is already defined at {}:{}; this one is ignored", first.path, first.line_start),
            ));
        }
        for feature in &f.features {
            push_unique(
                &mut plan.features,
                feature,
                |x| &x.id,
                |x| &x.citation,
                "feature",
                &mut diags,
            );
        }
        for epic in &f.epics {
            push_unique(
                &mut plan.epics,
                epic,
                |x| &x.id,
                |x| &x.citation,
                "epic",
                &mut diags,
            );
        }
        for mut story in f.stories.iter().cloned() {
            story.role = match story.role.take() {
                None => slug_in_path(&story.citation.path, &known_slugs),
                // A `Role:` field may name a label or a slug prefix: link it like the roadmap's.
                Some(r) if known_slugs.contains(&r) => Some(r),
                Some(r) => Some(
                    config
                        .roles
                        .iter()
                        .find(|(label, _)| text::slugify(label) == r)
                        .map(|(_, slug)| slug.clone())
                        .unwrap_or_else(|| resolve(&r, &known_slugs)),
                ),
            };
            if let Some(&i) = story_at.get(&story.id) {
                let prev = &plan.stories[i].citation;
                diags.push(at_citation(
                    &story.citation,
                    Severity::Error,
                    "duplicate-story",
                    format!(
                        "story {} is declared twice: here and at {}:{}; this one is ignored",
                        story.id, prev.path, prev.line_start
                    ),
                ));
                continue;
            }
            story_at.insert(story.id.clone(), plan.stories.len());
            plan.stories.push(story);
        }
        plan.gates.extend(f.gates.iter().cloned());
        plan.role_sections.extend(f.role_sections.iter().cloned());
        plan.docs.push(Arc::clone(&f.doc));
    }
    for feature in &mut plan.features {
        feature.epics = plan
            .epics
            .iter()
            .filter(|e| e.feature == feature.id)
            .map(|e| e.id.clone())
            .collect();
    }

    plan.reindex();
    check_stories(&plan, &story_at, &mut diags);
    check_gates(&plan, &mut diags);
    check_layout(&plan, &mut diags);
    diags.sort_by(Diagnostic::report_order);
    Parsed {
        plan,
        diagnostics: diags,
    }
}

/// Adds `item` unless one with its id is there already (a warning naming the first place).
fn push_unique<T: Clone>(
    list: &mut Vec<T>,
    item: &T,
    id: impl Fn(&T) -> &String,
    citation: impl Fn(&T) -> &crate::model::Citation,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(prev) = list.iter().find(|x| id(x) == id(item)) {
        let first = citation(prev);
        diags.push(at_citation(
            citation(item),
            Severity::Warning,
            &format!("duplicate-{what}"),
            format!(
                "{what} {} is already declared at {}:{}",
                id(item),
                first.path,
                first.line_start
            ),
        ));
        return;
    }
    list.push(item.clone());
}

fn extract_slug(label: &str) -> String {
    text::slugify(label)
}

fn same_steps(a: &[crate::model::ChecklistStep], b: &[crate::model::ChecklistStep]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.section == y.section && x.text == y.text)
}

/// The longest known role slug named by a path segment or a file stem.
fn slug_in_path(path: &str, known: &BTreeSet<String>) -> Option<String> {
    let lower = path.to_lowercase();
    known
        .iter()
        .filter(|slug| {
            lower.split(['/', '.']).any(|seg| {
                seg == slug.as_str()
                    || seg.ends_with(&format!("-{slug}"))
                    || seg.starts_with(&format!("{slug}-"))
            })
        })
        .max_by_key(|s| s.len())
        .cloned()
}

fn at_citation(
    c: &crate::model::Citation,
    severity: Severity,
    code: &str,
    message: String,
) -> Diagnostic {
    Diagnostic {
        severity,
        code: code.into(),
        path: c.path.clone(),
        line: c.line_start,
        message,
    }
}

fn merge_field<T: Clone + PartialEq + std::fmt::Display>(
    slot: &mut Option<T>,
    value: &Option<T>,
    what: &str,
    sprint: &str,
    first: &crate::model::Citation,
    at: &crate::model::Citation,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(v) = value else { return };
    match slot {
        None => *slot = Some(v.clone()),
        Some(old) if old != v => diags.push(at_citation(
            at,
            Severity::Warning,
            "roadmap-conflict",
            format!(
                "sprint {sprint} {what} `{v}` differs from `{old}` at {}:{}; the first is used",
                first.path, first.line_start
            ),
        )),
        Some(_) => {}
    }
}

fn check_stories(plan: &Plan, index: &HashMap<String, usize>, diags: &mut Vec<Diagnostic>) {
    let sprint_ids: BTreeSet<&str> = plan.sprints.iter().map(|s| s.id.as_str()).collect();
    let epic_ids: BTreeSet<&str> = plan.epics.iter().map(|e| e.id.as_str()).collect();
    for story in &plan.stories {
        let c = &story.citation;
        if story.acceptance.is_empty() {
            diags.push(at_citation(
                c,
                Severity::Warning,
                "no-acceptance",
                format!("story {} has no acceptance criteria", story.id),
            ));
        }
        for dep in &story.depends_on {
            if dep == &story.id {
                diags.push(at_citation(
                    c,
                    Severity::Error,
                    "dependency-cycle",
                    format!("story {} depends on itself", story.id),
                ));
            } else if !index.contains_key(dep) {
                diags.push(at_citation(
                    c,
                    Severity::Error,
                    "unknown-dependency",
                    format!(
                        "story {} depends on {dep}, which no story declares",
                        story.id
                    ),
                ));
            }
        }
        match &story.sprint {
            None => diags.push(at_citation(c, Severity::Warning, "no-sprint", format!("story {} belongs to no sprint (put it under sprint-NN/, a `Sprint NN` heading, `sprint:` front matter or a Sprint field)", story.id))),
            Some(s) if !sprint_ids.is_empty() && !sprint_ids.contains(s.as_str()) => diags.push(at_citation(c, Severity::Warning, "unknown-sprint", format!("story {} is in sprint {s}, which the roadmap does not list", story.id))),
            Some(_) => {}
        }
        if let Some(epic) = &story.epic
            && !epic_ids.is_empty()
            && !epic_ids.contains(epic.as_str())
        {
            diags.push(at_citation(
                c,
                Severity::Warning,
                "unknown-epic",
                format!(
                    "story {} names epic {epic}, which no feature doc declares",
                    story.id
                ),
            ));
        }
    }
    for cycle in dependency_cycles(plan, index) {
        let first = &plan.stories[cycle[0]];
        let ids: Vec<&str> = cycle.iter().map(|&i| plan.stories[i].id.as_str()).collect();
        let shown = if ids.len() > 12 {
            format!(
                "{} -> ... -> {} -> {} ({} stories)",
                ids[..10].join(" -> "),
                ids[ids.len() - 1],
                ids[0],
                ids.len()
            )
        } else {
            format!("{} -> {}", ids.join(" -> "), ids[0])
        };
        diags.push(at_citation(
            &first.citation,
            Severity::Error,
            "dependency-cycle",
            format!("dependency cycle: {shown}"),
        ));
    }
}

/// One cycle per strongly connected component of two or more stories: the shortest path
/// from the component's first story (in plan order) back to itself. Iterative throughout,
/// so long chains cannot overflow the stack.
pub fn dependency_cycles(plan: &Plan, index: &HashMap<String, usize>) -> Vec<Vec<usize>> {
    let n = plan.stories.len();
    let edges: Vec<Vec<usize>> = plan
        .stories
        .iter()
        .map(|s| {
            s.depends_on
                .iter()
                .filter_map(|d| index.get(d).copied())
                .filter(|&j| plan.stories[j].id != s.id)
                .collect()
        })
        .collect();
    // Tarjan's algorithm with an explicit stack.
    let mut idx = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut counter = 0usize;
    let mut out = Vec::new();
    for start in 0..n {
        if idx[start] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(start, 0)];
        idx[start] = counter;
        low[start] = counter;
        counter += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut ei)) = call.last_mut() {
            if *ei < edges[v].len() {
                let w = edges[v][*ei];
                *ei += 1;
                if idx[w] == usize::MAX {
                    idx[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(idx[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == idx[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if comp.len() > 1 {
                        out.push(shortest_cycle(&edges, &comp));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// Breadth-first from the component's first story back to it, within the component.
fn shortest_cycle(edges: &[Vec<usize>], comp: &[usize]) -> Vec<usize> {
    let members: std::collections::HashSet<usize> = comp.iter().copied().collect();
    let Some(&start) = comp.iter().min() else {
        return Vec::new();
    };
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &edges[v] {
            if !members.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut cur = v;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}

fn check_gates(plan: &Plan, diags: &mut Vec<Diagnostic>) {
    for sprint in &plan.sprints {
        if sprint.gate.is_some() && plan.gate_checklists(sprint).is_empty() {
            diags.push(at_citation(
                &sprint.citation,
                Severity::Warning,
                "gate-without-checklist",
                format!(
                    "sprint {}'s {} has no evidence checklist (docs/00-governance/gates/*.md or a `gate evidence` heading in the sprint's role plans)",
                    sprint.id,
                    sprint.gate.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    let sprint_ids: BTreeSet<&str> = plan.sprints.iter().map(|s| s.id.as_str()).collect();
    let gate_keys: BTreeSet<String> = plan
        .sprints
        .iter()
        .filter_map(|s| s.gate.as_deref())
        .map(gate_key)
        .collect();
    for gate in &plan.gates {
        if gate.items.is_empty() {
            diags.push(at_citation(
                &gate.citation,
                Severity::Warning,
                "empty-gate-checklist",
                format!(
                    "gate checklist `{}` has no task-list items (`- [ ] item - evidence: path`)",
                    gate.gate
                ),
            ));
        }
        match &gate.sprint {
            Some(s) if !sprint_ids.is_empty() && !sprint_ids.contains(s.as_str()) => diags.push(at_citation(&gate.citation, Severity::Warning, "unknown-sprint", format!("gate checklist `{}` is for sprint {s}, which the roadmap does not list", gate.gate))),
            None if !gate_keys.is_empty() && !gate_keys.contains(&gate_key(&gate.gate)) => diags.push(at_citation(&gate.citation, Severity::Warning, "unknown-gate", format!("gate checklist `{}` matches no gate of the roadmap; add `sprint: NN` front matter", gate.gate))),
            _ => {}
        }
    }
}

fn check_layout(plan: &Plan, diags: &mut Vec<Diagnostic>) {
    let present: BTreeSet<DocKind> = plan.docs.iter().map(|d| d.kind).collect();
    for (kind, folder, what) in [
        (
            DocKind::Governance,
            "docs/00-governance",
            "risks and gate checklists",
        ),
        (
            DocKind::Architecture,
            "docs/01-architecture",
            "ADRs and interfaces",
        ),
        (DocKind::Features, "docs/02-features", "features and epics"),
        (DocKind::Backlog, "docs/03-backlog", "stories"),
        (DocKind::Sprints, "docs/04-sprints", "the sprint roadmap"),
        (
            DocKind::Playbooks,
            "docs/05-engineering-playbooks",
            "playbooks",
        ),
        (
            DocKind::AgentExecution,
            "docs/06-ai-agent-execution",
            "context-pack and handoff policy",
        ),
        (
            DocKind::RolePlans,
            "docs/07-role-sprint-plans",
            "role sprint plans",
        ),
    ] {
        if !present.contains(&kind) {
            diags.push(Diagnostic {
                severity: Severity::Info,
                code: "missing-folder".into(),
                path: String::new(),
                line: 0,
                message: format!("no {folder}/ markdown: packs will have no {what}"),
            });
        }
    }
    if plan.sprints.is_empty() {
        diags.push(Diagnostic {
            severity: Severity::Warning,
            code: "no-roadmap".into(),
            path: String::new(),
            line: 0,
            message:
                "no roadmap table found (a table with a `Sprint` column under docs/04-sprints/)"
                    .into(),
        });
    }
}
