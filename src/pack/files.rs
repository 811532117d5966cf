//! Built packs on disk: `<plan>/.storypack/packs/<story_id>.md` and `.json` (or another
//! folder), written atomically; and the staleness check over what was written.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Pack, render};
use crate::error::Error;
use crate::model::Plan;
use crate::regular::write_atomic;

/// Largest written pack JSON read back (a 200,000-token pack is about 2 MB).
const MAX_PACK_FILE: u64 = 64 * 1024 * 1024;

const PACKS_DIR: &str = ".storypack/packs";

/// A story id as a file name: only letters, digits, `-`, `_` and `.` (never leading).
fn file_stem(story_id: &str) -> Result<&str, Error> {
    let ok = !story_id.is_empty()
        && !story_id.starts_with('.')
        && story_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(story_id)
    } else {
        Err(Error::invalid(
            "story_id",
            format!("`{story_id}` cannot name a pack file (letters, digits, - _ . only)"),
        ))
    }
}

/// Where packs go: `--out DIR`, else `<plan>/.storypack/packs`.
pub(crate) fn packs_dir(root: &Path, out: Option<&Path>) -> PathBuf {
    out.map(Path::to_path_buf)
        .unwrap_or_else(|| root.join(PACKS_DIR))
}

/// Writes the pack's Markdown and JSON; returns both paths.
pub(crate) fn write(pack: &Pack, dir: &Path) -> Result<(PathBuf, PathBuf), Error> {
    let stem = file_stem(&pack.story_id)?;
    let md = dir.join(format!("{stem}.md"));
    let json = dir.join(format!("{stem}.json"));
    write_atomic(&md, render::markdown(pack).as_bytes()).map_err(|e| Error::io("write", &md, e))?;
    write_atomic(&json, render::json(pack).as_bytes()).map_err(|e| Error::io("write", &json, e))?;
    Ok((md, json))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PackStatus {
    pub story_id: String,
    pub path: String,
    pub hash: String,
    pub fresh: bool,
    /// Sources whose content changed or that are gone, as `path` (changed) or `path (gone)`.
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PackCheck {
    pub dir: String,
    pub packs: Vec<PackStatus>,
    pub stale: usize,
    /// Files in the folder that are not readable packs.
    pub unreadable: Vec<String>,
}

/// Compares every written pack's source hashes with the plan as it is now.
pub(crate) fn check(plan: &Plan, dir: &Path) -> Result<PackCheck, Error> {
    let mut out = PackCheck {
        dir: dir.display().to_string(),
        packs: Vec::new(),
        stale: 0,
        unreadable: Vec::new(),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("read", dir, e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let shown = path.display().to_string();
        // A FIFO or a huge file in the packs folder is unreadable, not waited on.
        let pack: Pack = match crate::regular::read(&path, MAX_PACK_FILE)
            .ok()
            .and_then(Result::ok)
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            Some(p) => p,
            None => {
                out.unreadable.push(shown);
                continue;
            }
        };
        let changed: Vec<String> = pack
            .sources
            .iter()
            .filter_map(|s| match plan.doc(&s.path) {
                Some(d) if d.hash == s.hash => None,
                Some(_) => Some(s.path.clone()),
                None => Some(format!("{} (gone)", s.path)),
            })
            .collect();
        let fresh = changed.is_empty() && plan.story(&pack.story_id).is_some();
        if !fresh {
            out.stale += 1;
        }
        out.packs.push(PackStatus {
            story_id: pack.story_id,
            path: shown,
            hash: pack.hash,
            fresh,
            changed,
        });
    }
    Ok(out)
}
