//! Commit evidence: is a commit in the history of the git repository holding the plan root?
//!
//! Asked of the `git` binary, not a git library: it adds nothing to the build or the binary,
//! reads every repository the user's own git reads (worktrees, packs, alternates, SHA-256
//! object formats, `safe.directory`), and when git is absent the answer is "cannot check",
//! never a failure. Only 7 to 64 hex digits ever reach it, as one argument after
//! `--end-of-options`; it runs with the plan root as its folder, a clean `GIT_*`
//! environment (no `GIT_DIR` from a hook pointing elsewhere), no prompts, no lazy fetches,
//! and a time limit.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest one git command may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What the environment may not carry into git: these would point it at another repository.
const CLEARED_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
];

/// `commit:4f2a9c1`, `Commit: 4f2a9c1` or `commit 4f2a9c1` -> `4f2a9c1` (not yet checked).
pub(crate) fn strip_prefix(reference: &str) -> Option<&str> {
    let r = reference.trim();
    let head = r.get(..6)?;
    if !head.eq_ignore_ascii_case("commit") {
        return None;
    }
    let rest = &r[6..];
    let rest = match rest.strip_prefix(':') {
        Some(after) => after,
        None if rest.starts_with(char::is_whitespace) => rest,
        None => return None,
    };
    Some(rest.trim())
}

/// A commit id as storypack passes it to git: 7 to 64 hex digits, nothing else.
pub(crate) fn is_commit_id(id: &str) -> bool {
    (7..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The repository around a plan root.
#[derive(Debug)]
pub(crate) struct Repo {
    dir: PathBuf,
}

/// Where a commit stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// In the history: the full id.
    Found(String),
    /// Not in the history: why, as a phrase ("is not in the plan repository's history").
    NotFound(String),
    /// git could not answer (it stopped, timed out, or failed otherwise): why.
    Unknown(String),
}

/// The repository holding `root`, or why commits cannot be checked there.
pub(crate) fn discover(root: &Path) -> Result<Repo, String> {
    let out = git(root, &["rev-parse", "--git-dir"])?;
    if out.status.success() {
        return Ok(Repo {
            dir: root.to_path_buf(),
        });
    }
    let err = first_line(&out.stderr);
    if err.contains("not a git repository") {
        Err("the plan root is not in a git repository".into())
    } else {
        Err(format!("git cannot read the plan's repository ({err})"))
    }
}

impl Repo {
    /// Whether commit `id` (already checked with [`is_commit_id`]) is in the history:
    /// the object is a commit and a branch, a tag, a remote branch or HEAD reaches it.
    pub(crate) fn lookup(&self, id: &str) -> Lookup {
        if !is_commit_id(id) {
            return Lookup::NotFound("is not a commit id".into());
        }
        let spec = format!("{id}^{{commit}}");
        let out = match git(
            &self.dir,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ],
        ) {
            Ok(out) => out,
            Err(e) => return Lookup::Unknown(e),
        };
        if !out.status.success() {
            let err = first_line(&out.stderr);
            if err.contains("ambiguous") {
                return Lookup::NotFound(
                    "is ambiguous in the plan repository: give more digits".into(),
                );
            }
            let shallow = git(&self.dir, &["rev-parse", "--is-shallow-repository"])
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "true");
            return Lookup::NotFound(if shallow {
                "is not in the plan repository's history (the clone is shallow: fetch its \
                 full history to check older commits)"
                    .into()
            } else {
                "is not in the plan repository's history".into()
            });
        }
        let full = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !is_commit_id(&full) {
            return Lookup::Unknown(format!("git answered `{}`", first_line(&out.stdout)));
        }
        let on_head = git(&self.dir, &["merge-base", "--is-ancestor", &full, "HEAD"]);
        if on_head.as_ref().is_ok_and(|o| o.status.success()) {
            return Lookup::Found(full);
        }
        let contains = format!("--contains={full}");
        match git(
            &self.dir,
            &[
                "for-each-ref",
                "--count=1",
                "--format=%(refname)",
                &contains,
            ],
        ) {
            Ok(o) if o.status.success() && !o.stdout.trim_ascii().is_empty() => Lookup::Found(full),
            Ok(o) if o.status.success() => Lookup::NotFound(
                "exists in the plan repository but no branch or tag reaches it".into(),
            ),
            Ok(o) => Lookup::Unknown(format!("git for-each-ref: {}", first_line(&o.stderr))),
            Err(e) => Lookup::Unknown(e),
        }
    }
}

fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.trim().chars().take(200).collect()
}

/// Runs git in `dir`; `Err` says why it could not run or finish.
fn git(dir: &Path, args: &[&str]) -> Result<Output, String> {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_NO_LAZY_FETCH", "1")
        .env("GIT_OPTIONAL_LOCKS", "0");
    for var in CLEARED_ENV {
        cmd.env_remove(var);
    }
    let child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "git is not installed (no `git` on PATH)".to_string(),
        _ => format!("git cannot be started: {e}"),
    })?;
    wait(child, TIMEOUT)
}

/// Waits for `child` at most `limit`, then kills it. Its answers are a line or two, well
/// under a pipe's buffer, so it never blocks writing them before it exits.
fn wait(mut child: Child, limit: Duration) -> Result<Output, String> {
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("git did not answer within {limit:?}"));
            }
            Err(e) => return Err(format!("git could not be waited for: {e}")),
        }
    };
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_end(&mut stdout);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_end(&mut stderr);
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_ids() {
        assert_eq!(strip_prefix("commit:4f2a9c1"), Some("4f2a9c1"));
        assert_eq!(strip_prefix(" Commit: 4f2a9c1 "), Some("4f2a9c1"));
        assert_eq!(strip_prefix("commit 4f2a9c1"), Some("4f2a9c1"));
        assert_eq!(strip_prefix("commits/4f2a9c1"), None);
        assert_eq!(strip_prefix("4f2a9c1"), None);
        assert_eq!(strip_prefix("comm"), None);
        assert_eq!(strip_prefix("commé"), None);
        assert!(is_commit_id("4f2a9c1") && is_commit_id(&"a".repeat(64)));
        for bad in [
            "--output=/tmp/x",
            "4f2a9c",
            "HEAD",
            "main",
            "4f2a9c1 x",
            "4f2a9c1^",
        ] {
            assert!(!is_commit_id(bad), "{bad}");
        }
        assert!(!is_commit_id(&"a".repeat(65)));
    }

    #[test]
    fn a_command_past_its_time_is_killed() {
        let child = Command::new("sleep")
            .arg("5")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        assert_eq!(
            wait(child, Duration::from_millis(50)).unwrap_err(),
            "git did not answer within 50ms"
        );
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
