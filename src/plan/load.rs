//! Finding and reading the plan's files: the only IO of parsing.
//!
//! Every file takes one read path, [`read_listed`]: [`read_file`] (one open, the size limit)
//! then [`read_source`] (UTF-8, then the file's facts). [`read_plan`] walks the whole plan
//! through it; `Index::refresh` sends just the changed files through it; sources already in
//! memory enter at [`read_source`].

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::config::{self, Config};
use super::persist::{self, FactsIndex};
use super::{FileFacts, MAX_FILE_BYTES, Source, extract};
use crate::model::{Diagnostic, Severity};
use crate::regular::{self, OpenError};
use crate::sync::lock;

/// One file read: its path relative to the root (with `/`), and its facts or why it has
/// none (it is not UTF-8).
pub(super) type ReadFile = (String, Result<FileFacts, Diagnostic>);

/// The plan under one root, read file by file.
#[derive(Debug, Default)]
pub(super) struct ReadPlan {
    pub config: Config,
    /// The hash of `storypack.toml`'s text ([`persist::config_hash`]).
    pub config_hash: u64,
    /// Problems with `storypack.toml`'s settings.
    pub config_diags: Vec<Diagnostic>,
    /// The files read, in path order.
    pub files: Vec<ReadFile>,
    /// Problems met opening the root, listing the plan and reading files (a file that
    /// cannot be read is an `unreadable` diagnostic with its path).
    pub diagnostics: Vec<Diagnostic>,
}

/// Finds the plan's markdown under `root/docs` (or `root` when there is no `docs/`),
/// honouring `.gitignore`, skipping hidden files and never following a symlink out of the
/// root, plus the roadmap files `storypack.toml` names, and reads each one.
/// `index`: read the persisted index (see [`persist`]) and take unchanged files from it;
/// the index read is returned (with how it was used) for the caller to rewrite.
pub(super) fn read_plan(root: &Path, index: bool) -> (ReadPlan, Option<FactsIndex>) {
    let mut diagnostics = Vec::new();
    let opened = open_root(root, &mut diagnostics);
    let mut config_diags = Vec::new();
    let config_text = opened.as_ref().and_then(|o| o.config.as_deref());
    let config = Config::parse(config_text, &mut config_diags);
    let config_hash = persist::config_hash(config_text);
    let facts = match &opened {
        Some(o) if index => Some(FactsIndex::read(&o.canon_root, config_hash)),
        _ => None,
    };
    let files = match &opened {
        Some(o) => read_all(o, &config, facts.as_ref(), &mut diagnostics),
        None => Vec::new(),
    };
    let read = ReadPlan {
        config,
        config_hash,
        config_diags,
        files,
        diagnostics,
    };
    (read, facts)
}

/// Reads one listed file and parses it (or takes its facts from `index` when it holds this
/// very text's): the read path every file on disk takes.
pub(super) fn read_listed(
    canon_root: &Path,
    path: &Path,
    config: &Config,
    index: Option<&FactsIndex>,
) -> Result<ReadFile, Diagnostic> {
    let source = read_file(canon_root, path)?;
    Ok((source.path.clone(), read_source_with(source, config, index)))
}

/// Decodes one source and extracts its facts; a file that is not UTF-8 is a diagnostic.
pub(crate) fn read_source(source: Source, config: &Config) -> Result<FileFacts, Diagnostic> {
    read_source_with(source, config, None)
}

/// [`read_source`], taking the facts from `index` when it holds this text's.
fn read_source_with(
    source: Source,
    config: &Config,
    index: Option<&FactsIndex>,
) -> Result<FileFacts, Diagnostic> {
    let path = source.path.clone();
    let mut text = decode(source)?;
    if let Some(index) = index {
        // The text as the facts hold it: without a byte order mark.
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        let hash = super::text::doc_hash(text.as_bytes());
        match index.facts(&path, text, &hash) {
            Ok(facts) => {
                index.usage.reused.fetch_add(1, Ordering::Relaxed);
                return Ok(facts);
            }
            Err(back) => text = back,
        }
        index.usage.parsed.fetch_add(1, Ordering::Relaxed);
    }
    Ok(extract::extract_owned(&path, text, config))
}

/// Listed files handed to the readers together: the walk is shared by the readers and
/// locked once per batch rather than once per file.
const BATCH: usize = 8;

/// A listed file (absolute path) and what reading it gave.
type Listed = (PathBuf, Result<ReadFile, Diagnostic>);

/// Walks the opened plan and reads every markdown file it lists, then the config's roadmap
/// files the walk did not list. Each file is read and parsed in one go (its bytes still in
/// cache, no file waiting in memory for the others to be read), as soon as the walk lists
/// it: the walk runs alongside the parsing instead of before it.
fn read_all(
    opened: &Opened,
    config: &Config,
    index: Option<&FactsIndex>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<ReadFile> {
    let canon_root = opened.canon_root.as_path();
    let escaped = Escaped::default();
    let mut listing = walker(canon_root, &opened.walk_root, &escaped)
        .filter_map(|entry| listed_file(canon_root, entry));
    let batches = std::iter::from_fn(|| {
        let batch: Vec<Result<PathBuf, Diagnostic>> = listing.by_ref().take(BATCH).collect();
        (!batch.is_empty()).then_some(batch)
    });
    let walked: Vec<Result<Listed, Diagnostic>> = batches
        .par_bridge()
        .flat_map_iter(|batch| {
            batch.into_iter().map(|listed| {
                listed.map(|p| {
                    let read = read_listed(canon_root, &p, config, index);
                    (p, read)
                })
            })
        })
        .collect();
    let mut paths = Vec::with_capacity(walked.len());
    let mut done = Vec::with_capacity(walked.len());
    for w in walked {
        match w {
            Ok((p, read)) => {
                paths.push(p.clone());
                done.push((p, read));
            }
            Err(d) => diagnostics.push(d),
        }
    }
    let walked_files = paths.len();
    finish_listing(
        canon_root,
        &escaped,
        &config.roadmap,
        diagnostics,
        &mut paths,
    );
    let extra: Vec<Listed> = paths
        .split_off(walked_files)
        .into_par_iter()
        .map(|p| {
            let read = read_listed(canon_root, &p, config, index);
            (p, read)
        })
        .collect();
    done.extend(extra);
    // Files by relative path (the walk's order among equal ones); read failures after the
    // problems of the listing.
    let mut files = Vec::with_capacity(done.len());
    for (p, read) in done {
        match read {
            Ok(file) => files.push((p, file)),
            Err(d) => diagnostics.push(d),
        }
    }
    files.sort_by(|(pa, (a, _)), (pb, (b, _))| a.cmp(b).then_with(|| pa.cmp(pb)));
    files.into_iter().map(|(_, file)| file).collect()
}

/// The plan root opened: where it is, what to walk, and the config's text.
struct Opened {
    canon_root: PathBuf,
    /// `docs/` when there is one, else the root.
    walk_root: PathBuf,
    /// `storypack.toml`, when there is one and it is UTF-8.
    config: Option<String>,
}

/// Canonicalises the root and reads the config (`None` when the root itself cannot be
/// read); problems go to `diagnostics`.
fn open_root(root: &Path, diagnostics: &mut Vec<Diagnostic>) -> Option<Opened> {
    let canon_root = match root.canonicalize() {
        Ok(r) => r,
        Err(e) => {
            diagnostics.push(io_diag(
                String::new(),
                format!("plan root {} cannot be read: {e}", root.display()),
            ));
            return None;
        }
    };
    let mut config = None;
    let config_path = canon_root.join(config::CONFIG_FILE);
    match regular::read(&config_path, MAX_FILE_BYTES) {
        Ok(Ok(bytes)) => match String::from_utf8(bytes) {
            Ok(t) => config = Some(t),
            Err(_) => diagnostics.push(io_diag(
                config::CONFIG_FILE.into(),
                "not UTF-8; defaults used".into(),
            )),
        },
        Ok(Err(len)) => diagnostics.push(io_diag(
            config::CONFIG_FILE.into(),
            format!("{len} bytes is over the size limit; defaults used"),
        )),
        Err(OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(OpenError::NotRegular(kind)) => diagnostics.push(not_regular(
            config::CONFIG_FILE.into(),
            kind,
            "defaults used",
        )),
        Err(e) => diagnostics.push(io_diag(config::CONFIG_FILE.into(), format!("{e}"))),
    }
    let docs = canon_root.join("docs");
    let walk_root = if docs.is_dir() {
        docs
    } else {
        canon_root.clone()
    };
    Some(Opened {
        canon_root,
        walk_root,
        config,
    })
}

/// Symlinks the walk did not follow out of the root: (relative path, broken).
type Escaped = Arc<Mutex<Vec<(String, bool)>>>;

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
            if !inside {
                let broken = std::fs::metadata(entry.path()).is_err();
                lock(&escaped).push((rel(&root_for_filter, entry.path()), broken));
            }
            inside
        })
        .build()
}

/// A markdown file the walk found, a problem it met, or `None` for anything else. A FIFO,
/// socket or device named like a markdown file is a `not-regular` diagnostic: never opened.
fn listed_file(
    canon_root: &Path,
    entry: Result<ignore::DirEntry, ignore::Error>,
) -> Option<Result<PathBuf, Diagnostic>> {
    match entry {
        Ok(e) if !is_markdown(e.path()) => None,
        Ok(e) => match e.file_type() {
            Some(t) if t.is_file() => Some(Ok(e.into_path())),
            Some(t) => regular::special(&t)
                .map(|kind| Err(not_regular(rel(canon_root, e.path()), kind, "skipped"))),
            None => None,
        },
        Err(err) => Some(Err(io_diag(
            String::new(),
            format!("while listing the plan: {err}"),
        ))),
    }
}

/// After the walk: reports the symlinks it did not follow and adds the config's `roadmap`
/// files that the walk did not list to `paths`.
fn finish_listing(
    canon_root: &Path,
    escaped: &Escaped,
    roadmap: &[String],
    diagnostics: &mut Vec<Diagnostic>,
    paths: &mut Vec<PathBuf>,
) {
    {
        let escaped = lock(escaped);
        for (path, broken) in escaped.iter() {
            diagnostics.push(Diagnostic {
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
    for extra in roadmap {
        let p = canon_root.join(extra);
        match p.canonicalize() {
            Ok(c) if c.starts_with(canon_root) => {
                if !paths.contains(&c) {
                    paths.push(c);
                }
            }
            Ok(_) => diagnostics.push(Diagnostic {
                severity: Severity::Error,
                code: "config".into(),
                path: config::CONFIG_FILE.into(),
                line: 1,
                message: format!("roadmap file {extra} is outside the plan root; ignored"),
            }),
            Err(e) => diagnostics.push(Diagnostic {
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
    // Only a regular file is opened (a FIFO would block the read for ever).
    let (file, meta) = match regular::open(p) {
        Ok(opened) => opened,
        Err(OpenError::NotRegular(kind)) => return Err(not_regular(path, kind, "skipped")),
        Err(OpenError::Folder) => return Err(io_diag(path.clone(), "is a folder".into())),
        Err(OpenError::Io(open)) => {
            // Tell it as a stat-then-read would: a missing file, then size, then the open.
            let meta = std::fs::metadata(p).map_err(cannot)?;
            if meta.len() > MAX_FILE_BYTES {
                return Err(too_big(meta.len()));
            }
            return Err(cannot(open));
        }
    };
    let len = meta.len();
    if len > MAX_FILE_BYTES {
        return Err(too_big(len));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // A file that grows after the stat is read up to the limit only.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(Source { path, bytes })
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

pub(super) fn is_markdown(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"))
}

/// `path` relative to `root`, with `/` between its components.
pub(super) fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// A FIFO, socket or device where a plan file (or `storypack.toml`) was expected.
pub(super) const NOT_REGULAR: &str = "not-regular";

/// `path` is `kind` ("a FIFO"), not a regular file; `then` says what happens instead.
fn not_regular(path: String, kind: &str, then: &str) -> Diagnostic {
    Diagnostic {
        severity: Severity::Warning,
        code: NOT_REGULAR.into(),
        path,
        line: 1,
        message: format!("not a regular file: {kind}; {then}"),
    }
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

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::plan::text;

    fn with_code<'a>(diags: &'a [Diagnostic], code: &str) -> Vec<&'a Diagnostic> {
        diags.iter().filter(|d| d.code == code).collect()
    }

    #[test]
    fn files_that_cannot_be_read_are_diagnostics_with_their_path() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let backlog = root.path().join("docs/03-backlog");
        fs::create_dir_all(&backlog).unwrap();
        fs::write(backlog.join("ok.md"), "- A-1 fine\n  - Acceptance: a\n").unwrap();
        // Over the limit without writing 32 MiB: a sparse file.
        let big = fs::File::create(backlog.join("big.md")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        fs::write(backlog.join("latin1.md"), b"# T\n- A-2 caf\xe9\n").unwrap();
        fs::write(outside.path().join("secret.md"), "- LEAK-1 no\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.md"), backlog.join("link.md"))
            .unwrap();

        let (read, _) = read_plan(root.path(), false);
        let files: Vec<(&str, Option<&str>)> = read
            .files
            .iter()
            .map(|(path, facts)| (path.as_str(), facts.as_ref().err().map(|d| d.code.as_str())))
            .collect();
        assert_eq!(
            files,
            [
                ("docs/03-backlog/latin1.md", Some("not-utf8")),
                ("docs/03-backlog/ok.md", None)
            ]
        );
        let Some((_, Err(latin1))) = read.files.first() else {
            panic!("latin1.md is read first")
        };
        assert_eq!(
            (latin1.path.as_str(), latin1.line),
            ("docs/03-backlog/latin1.md", 2)
        );
        assert_eq!(
            latin1.message,
            "not UTF-8 (invalid byte at offset 13); file skipped. Save it as UTF-8."
        );

        let big = with_code(&read.diagnostics, "unreadable");
        assert_eq!(big.len(), 1);
        assert_eq!(big[0].path, "docs/03-backlog/big.md");
        assert_eq!(
            big[0].message,
            "33554433 bytes is over the 32 MiB limit for one plan file; skipped"
        );
        let link = with_code(&read.diagnostics, "symlink-outside-root");
        assert_eq!(link.len(), 1);
        assert_eq!(link[0].path, "docs/03-backlog/link.md");
        assert_eq!(read.diagnostics.len(), 2, "{:?}", read.diagnostics);
    }

    #[test]
    fn a_file_on_disk_reads_as_the_same_source_in_memory() {
        let root = tempfile::tempdir().unwrap();
        let text = "\u{feff}# Backlog\n- A-1 first\n  - Acceptance: a\n";
        fs::write(root.path().join("a.md"), text).unwrap();
        let config = Config::default();
        let canon = root.path().canonicalize().unwrap();
        let (path, facts) = read_listed(&canon, &canon.join("a.md"), &config, None).unwrap();
        assert_eq!(path, "a.md");
        let on_disk = facts.unwrap();
        let source = Source {
            path: "a.md".into(),
            bytes: text.as_bytes().to_vec(),
        };
        let in_memory = read_source(source, &config).unwrap();
        assert_eq!(on_disk.doc, in_memory.doc);
        assert_eq!(on_disk.stories, in_memory.stories);
        // The byte-order mark is dropped before hashing: the hash is of the text kept.
        let kept = text.trim_start_matches('\u{feff}');
        assert_eq!(on_disk.doc.text, kept);
        assert_eq!(on_disk.doc.hash, text::doc_hash(kept.as_bytes()));
    }

    #[test]
    fn a_root_that_cannot_be_opened_reads_nothing() {
        let (read, _) = read_plan(Path::new("/definitely/not/here"), false);
        assert!(read.files.is_empty());
        assert_eq!(read.diagnostics.len(), 1);
        assert_eq!(read.diagnostics[0].code, "unreadable");
        assert_eq!(read.diagnostics[0].path, "");
    }
}
