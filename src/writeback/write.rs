//! Applying one file's edits on disk: the file is replaced whole and atomically (a temp file
//! in its folder, fsynced, permissions copied, renamed over it, the folder fsynced), and only
//! if it still holds the bytes the plan was read from: checked before the temp file is
//! written and again right before the rename. A leading BOM on disk is kept.

use std::io::Write;
use std::path::Path;

use super::FileEdit;
use crate::error::Error;
use crate::regular::sync_dir;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// Left as it is, and why (it changed since it was read, or is gone).
    Refused(String),
}

/// Writes `edit` to its file under `root` (a canonical plan root).
pub(crate) fn write_file(root: &Path, edit: &FileEdit) -> Result<WriteOutcome, Error> {
    write_checked(root, edit, || {})
}

/// [`write_file`], calling `before_replace` after the temp file is written and synced and
/// before the last check (tests change the file there).
pub(crate) fn write_checked(
    root: &Path,
    edit: &FileEdit,
    before_replace: impl FnOnce(),
) -> Result<WriteOutcome, Error> {
    let path = root.join(&edit.path);
    // A symlink (inside the root: the reader follows no other) is written through, not
    // replaced by a file.
    let target = match path.canonicalize() {
        Ok(t) if t.starts_with(root) => t,
        Ok(t) => {
            return Ok(WriteOutcome::Refused(format!(
                "it now resolves to {}, outside the plan root",
                t.display()
            )));
        }
        Err(e) => return Ok(WriteOutcome::Refused(format!("it cannot be opened: {e}"))),
    };
    let expected = edit.read.text.as_bytes();
    let bom = match unchanged(&target, expected)? {
        Ok(bom) => bom,
        Err(reason) => return Ok(WriteOutcome::Refused(reason)),
    };
    let mut bytes = Vec::with_capacity(expected.len() + 64);
    if bom {
        bytes.extend_from_slice(BOM);
    }
    bytes.extend_from_slice(edit.apply().as_bytes());

    let dir = target.parent().unwrap_or(root);
    let permissions = std::fs::metadata(&target)
        .map_err(|e| Error::io("read the permissions of", &target, e))?
        .permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".storypack-sync-")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a temp file in", dir, e))?;
    tmp.write_all(&bytes)
        .map_err(|e| Error::io("write", tmp.path(), e))?;
    std::fs::set_permissions(tmp.path(), permissions)
        .map_err(|e| Error::io("set the permissions of", tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io("sync", tmp.path(), e))?;
    before_replace();
    // The temp file is removed when dropped: a refusal here leaves nothing behind.
    if let Err(reason) = unchanged(&target, expected)? {
        return Ok(WriteOutcome::Refused(reason));
    }
    tmp.persist(&target)
        .map_err(|e| Error::io("replace", &target, e.error))?;
    sync_dir(dir).map_err(|e| Error::io("sync", dir, e))?;
    tracing::info!(path = %edit.path, "plan file written");
    Ok(WriteOutcome::Written)
}

/// Whether the file still holds `expected` (after a BOM, which the reader drops): `Ok(bom)`,
/// or the reason it does not.
fn unchanged(path: &Path, expected: &[u8]) -> Result<Result<bool, String>, Error> {
    let disk = match crate::regular::read(path, u64::MAX) {
        Ok(Ok(d)) => d,
        Ok(Err(_)) => return Ok(Err("it grew past what can be read".into())),
        Err(crate::regular::OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Err("it was removed since storypack read it".into()));
        }
        Err(crate::regular::OpenError::Io(e)) => return Err(Error::io("read", path, e)),
        Err(other) => return Ok(Err(format!("it is {other} now"))),
    };
    let (bom, body) = match disk.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, &disk[..]),
    };
    if body == expected {
        return Ok(Ok(bom));
    }
    let line = body
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(body.len().min(expected.len()));
    let line = body[..line].iter().filter(|b| **b == b'\n').count() + 1;
    Ok(Err(format!(
        "it changed since storypack read it (first difference on line {line}; {} bytes read, {} now); nothing written to it, run storypack sync again",
        expected.len(),
        body.len()
    )))
}
