//! Onboarding: connecting MCP clients to storypack, telling their agents how to work with it,
//! starting a plan, and checking a setup.
//!
//! - [`clients`]: each supported client's documented config file (project and user scope),
//!   and the storypack entry it gets.
//! - `config_edit`: merging that entry into a JSON, JSONC, TOML or YAML file while keeping
//!   every other byte the format lets us keep (comments, other servers, key order); a file
//!   that does not parse is refused, never rewritten.
//! - [`agents`]: the managed block in the plan's `AGENTS.md` / `CLAUDE.md`.
//! - [`init`]: a new plan skeleton that lints clean.
//! - [`doctor`]: what a user checks when something does not work.
//!
//! Nothing here speaks MCP or reads flags: the CLI translates, this module decides and writes.
//! Home and config folders come from [`Dirs`], read from the environment (`HOME`,
//! `XDG_CONFIG_HOME`, `CODEX_HOME`, ...), so tests point them at temporary folders.

pub mod agents;
pub mod clients;
mod config_edit;
pub mod doctor;
pub mod init;
pub mod render;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use clients::{Client, Scope};

/// What cannot be set up, naming the file or the argument at fault. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "{path}: cannot be read as {format}: {reason}. The file was left untouched; fix it (or move it aside) and run the command again"
    )]
    Unparsable {
        path: String,
        format: &'static str,
        reason: String,
    },
    #[error("{0}")]
    Usage(String),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl SetupError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> SetupError {
        SetupError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

/// Where user-scope configs live. Read from the environment the way each client reads it.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// `HOME` (`USERPROFILE` on Windows).
    pub home: PathBuf,
    /// `XDG_CONFIG_HOME`, else `~/.config` (Linux and macOS: Goose; Linux: VS Code).
    pub xdg_config: PathBuf,
    /// The OS's application-data folder: `%APPDATA%` on Windows, `~/Library/Application
    /// Support` on macOS, the XDG config folder elsewhere (VS Code's user folder).
    pub app_data: PathBuf,
    /// `CODEX_HOME`, else `~/.codex`.
    pub codex_home: PathBuf,
    /// `CLAUDE_CONFIG_DIR`, else the home folder (where `.claude.json` lives).
    pub claude_dir: PathBuf,
}

impl Dirs {
    /// From the environment; an error when no home folder can be found.
    pub fn from_env() -> Result<Dirs, SetupError> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let home = var("HOME")
            .or_else(|| var("USERPROFILE"))
            .or_else(std::env::home_dir)
            .ok_or_else(|| SetupError::Usage("no home folder: set HOME".into()))?;
        let xdg_config = var("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
        let app_data = if cfg!(windows) {
            var("APPDATA").unwrap_or_else(|| home.join("AppData").join("Roaming"))
        } else if cfg!(target_os = "macos") {
            home.join("Library").join("Application Support")
        } else {
            xdg_config.clone()
        };
        Ok(Dirs {
            codex_home: var("CODEX_HOME").unwrap_or_else(|| home.join(".codex")),
            claude_dir: var("CLAUDE_CONFIG_DIR").unwrap_or_else(|| home.clone()),
            home,
            xdg_config,
            app_data,
        })
    }
}

/// What happened (or, with `--print`, would happen) to one file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
}

/// One file `setup` or `init` writes.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: String,
    pub action: Action,
    /// The file's whole new text (only with `--print`, and only when it changes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The bytes to write; `None` when unchanged.
    #[serde(skip)]
    new_text: Option<String>,
    /// The bytes read (`None`: no file), checked again right before the write.
    #[serde(skip)]
    old_text: Option<String>,
    #[serde(skip)]
    target: PathBuf,
    /// A new file readable by its owner only (user configs); else by everyone (plan files).
    #[serde(skip)]
    private: bool,
}

impl FileChange {
    pub(crate) fn new(target: PathBuf, old: Option<String>, new: Option<String>) -> FileChange {
        let action = match (&old, &new) {
            (_, None) => Action::Unchanged,
            (None, Some(_)) => Action::Created,
            (Some(_), Some(_)) => Action::Updated,
        };
        FileChange {
            path: target.display().to_string(),
            action,
            content: None,
            new_text: new,
            old_text: old,
            target,
            private: false,
        }
    }

    /// Writes the new text atomically (temp file in the same folder, fsynced, renamed over
    /// the target, folder fsynced). A file that changed since it was read is refused.
    pub(crate) fn write(&self) -> Result<(), SetupError> {
        let Some(new) = &self.new_text else {
            return Ok(());
        };
        write_atomic(
            &self.target,
            self.old_text.as_deref(),
            new.as_bytes(),
            self.private,
        )
    }
}

/// Reads a text file: `None` when it does not exist. Symlinks are followed (a dotfile
/// manager's link is edited in place, not replaced).
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, SetupError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SetupError::io("read", path, e)),
        Ok(m) if !m.is_file() => {
            return Err(SetupError::Usage(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        Ok(m) if m.len() > MAX_CONFIG_BYTES => {
            return Err(SetupError::Usage(format!(
                "{}: larger than {MAX_CONFIG_BYTES} bytes; not edited",
                path.display()
            )));
        }
        Ok(_) => {}
    }
    let bytes = std::fs::read(path).map_err(|e| SetupError::io("read", path, e))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| SetupError::Unparsable {
            path: path.display().to_string(),
            format: "text",
            reason: "not UTF-8".into(),
        })
}

/// Configs and instruction files are small; anything bigger is not what we think it is.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

fn write_atomic(
    path: &Path,
    expected: Option<&str>,
    bytes: &[u8],
    private: bool,
) -> Result<(), SetupError> {
    // Write through a symlink to the file it names.
    let target = match std::fs::canonicalize(path) {
        Ok(t) => t,
        Err(_) => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| SetupError::io("create the folder", &dir, e))?;
    let permissions = std::fs::metadata(&target).ok().map(|m| m.permissions());
    let mut tmp = tempfile::Builder::new()
        .prefix(".storypack-setup-")
        .tempfile_in(&dir)
        .map_err(|e| SetupError::io("create a temp file in", &dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| SetupError::io("write", tmp.path(), e))?;
    // An edited file keeps its permissions; a new one gets the usual ones (the temp file
    // starts owner-only), except a user config, which may come to hold tokens.
    #[cfg(unix)]
    let permissions = permissions.or_else(|| {
        use std::os::unix::fs::PermissionsExt;
        (!private).then(|| std::fs::Permissions::from_mode(0o644))
    });
    #[cfg(not(unix))]
    let _ = private;
    if let Some(p) = permissions {
        std::fs::set_permissions(tmp.path(), p)
            .map_err(|e| SetupError::io("set the permissions of", tmp.path(), e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| SetupError::io("sync", tmp.path(), e))?;
    // Another program (the client itself) may have written the file since we read it.
    let changed = || {
        SetupError::Usage(format!(
            "{}: changed while storypack was editing it; nothing written, run the command again",
            path.display()
        ))
    };
    let now = read_optional(&target)?;
    if now.as_deref() != expected {
        return Err(changed());
    }
    match expected {
        // A new file: never replace one that appeared meanwhile (another writer can still
        // create it between the check above and this link).
        None => tmp.persist_noclobber(&target).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                changed()
            } else {
                SetupError::io("create", &target, e.error)
            }
        })?,
        Some(_) => tmp
            .persist(&target)
            .map_err(|e| SetupError::io("replace", &target, e.error))?,
    };
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The running binary's absolute path: what client configs launch.
pub fn current_binary() -> Result<PathBuf, SetupError> {
    let exe = std::env::current_exe()
        .map_err(|e| SetupError::io("find", Path::new("the running binary"), e))?;
    Ok(std::fs::canonicalize(&exe).unwrap_or(exe))
}

/// The plan root as an absolute, existing folder.
pub fn absolute_plan(plan: &Path) -> Result<PathBuf, SetupError> {
    let abs = std::fs::canonicalize(plan).map_err(|e| {
        SetupError::Usage(format!(
            "--plan: {} is not a folder storypack can open: {e}",
            plan.display()
        ))
    })?;
    if !abs.is_dir() {
        return Err(SetupError::Usage(format!(
            "--plan: {} is not a folder",
            plan.display()
        )));
    }
    Ok(abs)
}

/// `storypack setup`'s request.
#[derive(Debug, Clone)]
pub struct SetupRequest {
    pub client: Client,
    /// `None`: the client's default scope.
    pub scope: Option<Scope>,
    /// The plan root (absolute).
    pub plan: PathBuf,
    /// Connect over streamable HTTP at this URL instead of launching the binary.
    pub http: Option<String>,
    /// The binary the config launches (absolute).
    pub binary: PathBuf,
    /// Only show what would change.
    pub print: bool,
}

/// What `setup` did.
#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    pub client: Client,
    pub scope: Scope,
    pub print: bool,
    pub files: Vec<FileChange>,
    /// Things the user should know (an HTTP URL off loopback needs a token, ...).
    pub notes: Vec<String>,
}

/// Connects a client: merges its config and writes the agent instructions. Everything is
/// computed before anything is written, so a refusal leaves every file as it was.
pub fn setup(req: &SetupRequest, dirs: &Dirs) -> Result<SetupReport, SetupError> {
    let scope = req.scope.unwrap_or(req.client.default_scope());
    let launch = match &req.http {
        Some(url) => clients::Launch::http(url)?,
        None => clients::Launch::Stdio {
            command: req.binary.display().to_string(),
            args: vec![
                "serve".into(),
                "--plan".into(),
                req.plan.display().to_string(),
            ],
        },
    };
    let mut notes = Vec::new();
    if let clients::Launch::Http { url } = &launch
        && !clients::is_loopback_url(url)
    {
        notes.push(format!(
            "{url} is not on loopback: the server needs --token-env there, and the client a \
             bearer token header (see the manual snippets in the README)"
        ));
    }
    let has_plan = crate::app::App::open(&req.plan).is_ok_and(|app| app.lint().files > 0);
    if !has_plan {
        notes.push(format!(
            "no plan documents under {} yet: `storypack init {}` starts one",
            req.plan.display(),
            req.plan.display()
        ));
    }
    let location = req.client.location(scope, &req.plan, dirs)?;
    let mut config = config_edit::upsert(&location, &req.client.entry(&launch))?;
    config.private = scope == Scope::User;
    let mut files = vec![config];
    for name in req.client.instruction_files() {
        files.push(agents::upsert(&req.plan.join(name))?);
    }
    if req.print {
        for f in &mut files {
            f.content = f.new_text.clone();
        }
    } else {
        for f in &files {
            f.write()?;
        }
    }
    Ok(SetupReport {
        client: req.client,
        scope,
        print: req.print,
        files,
        notes,
    })
}
