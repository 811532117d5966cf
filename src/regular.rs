//! Regular files only. Every file storypack reads because the plan names or holds it (plan
//! markdown, `storypack.toml`, recipes, prompts, evidence, JUnit reports) is opened here: a
//! FIFO, socket or device is never opened, so a FIFO named like a plan file cannot hang a
//! read. The type is checked before opening, the open itself does not block (`O_NONBLOCK`:
//! a FIFO swapped in after the check opens at once instead of waiting for a writer), and the
//! open file is checked again (`fstat`) before a byte is read.

use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::path::Path;

/// Why a file was not opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// It is a FIFO, a socket or a device ("a FIFO").
    NotRegular(&'static str),
    /// It is a folder.
    Folder,
    /// It cannot be looked at or opened.
    Io(std::io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::NotRegular(kind) => write!(f, "not a regular file: {kind}"),
            OpenError::Folder => f.write_str("is a folder"),
            OpenError::Io(e) => write!(f, "cannot be read: {e}"),
        }
    }
}

/// What a file of this type is, when it is neither a regular file, a folder nor a symlink:
/// "a FIFO", "a socket", "a character device", "a block device".
pub(crate) fn special(kind: &FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("a FIFO");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
        if kind.is_char_device() {
            return Some("a character device");
        }
        if kind.is_block_device() {
            return Some("a block device");
        }
    }
    (!kind.is_file() && !kind.is_dir() && !kind.is_symlink()).then_some("not a file")
}

/// What the file at `path` (symlinks followed) is, when it is not a regular file or folder.
/// A path that cannot be looked at is `None`: opening it will say why.
pub(crate) fn special_at(path: &Path) -> Option<&'static str> {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| special(&m.file_type()))
}

fn check(meta: &Metadata) -> Result<(), OpenError> {
    if let Some(kind) = special(&meta.file_type()) {
        return Err(OpenError::NotRegular(kind));
    }
    if meta.is_dir() {
        return Err(OpenError::Folder);
    }
    Ok(())
}

/// Opens a regular file for reading (symlinks followed), with its metadata from the open
/// file. Anything else is refused without being opened (a race is caught after the
/// non-blocking open).
pub(crate) fn open(path: &Path) -> Result<(File, Metadata), OpenError> {
    check(&std::fs::metadata(path).map_err(OpenError::Io)?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Reading a regular file ignores O_NONBLOCK; a FIFO or terminal swapped in after the
        // check must not block the open or become the controlling terminal.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(OpenError::Io)?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    check(&meta)?;
    Ok((file, meta))
}

/// Reads a whole regular file of at most `limit` bytes; a longer one is `Ok(Err(len))`.
pub(crate) fn read(path: &Path, limit: u64) -> Result<Result<Vec<u8>, u64>, OpenError> {
    let (file, meta) = open(path)?;
    if meta.len() > limit {
        return Ok(Err(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow after the stat: never read past the limit.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(OpenError::Io)?;
    if bytes.len() as u64 > limit {
        return Ok(Err(bytes.len() as u64));
    }
    Ok(Ok(bytes))
}

/// Reads a whole regular UTF-8 file of at most `limit` bytes; anything else is `None`.
pub(crate) fn read_text(path: &Path, limit: u64) -> Result<Option<String>, OpenError> {
    Ok(read(path, limit)?
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok()))
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a part:
/// a temp file in the same folder, fsynced, renamed over, then the folder fsynced.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    use std::io::Write;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
pub(crate) mod tests {
    use super::*;

    /// Makes a FIFO at `path` with the `mkfifo` binary (tests only).
    pub(crate) fn mkfifo(path: &Path) {
        let made = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(made, "mkfifo {}", path.display());
    }

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.md");
        mkfifo(&fifo);
        // Without the check this would wait for a writer for ever.
        assert!(matches!(open(&fifo), Err(OpenError::NotRegular("a FIFO"))));
        assert_eq!(
            read(&fifo, 10).unwrap_err().to_string(),
            "not a regular file: a FIFO"
        );
        assert_eq!(special_at(&fifo), Some("a FIFO"));
        let link = dir.path().join("link.md");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert!(matches!(open(&link), Err(OpenError::NotRegular("a FIFO"))));
        assert!(matches!(
            open(Path::new("/dev/null")),
            Err(OpenError::NotRegular("a character device"))
        ));
        assert!(matches!(open(dir.path()), Err(OpenError::Folder)));
        let socket = dir.path().join("s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(matches!(
            open(&socket),
            Err(OpenError::NotRegular("a socket"))
        ));

        let file = dir.path().join("a.md");
        std::fs::write(&file, "hello").unwrap();
        assert_eq!(read(&file, 5).unwrap(), Ok(b"hello".to_vec()));
        assert_eq!(read(&file, 4).unwrap(), Err(5));
        assert_eq!(read_text(&file, 5).unwrap().as_deref(), Some("hello"));
        assert_eq!(special_at(&file), None);
        assert!(matches!(
            open(&dir.path().join("gone")),
            Err(OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound
        ));
    }
}
