//! Evidence references: a path under the plan root, or something outside storypack's reach
//! (a URL). Shared by handoff validation and gate checks, which also verify what can be
//! verified (JUnit reports, commits: `handoff::verify`).

use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceState {
    /// A file or folder under the plan root.
    Exists,
    /// A path under the plan root that is not there.
    Missing,
    /// A URL: not verified.
    External,
    /// A path that leaves the plan root (absolute, `..`, or a symlink out).
    OutsideRoot,
    /// Checkable evidence that was checked and holds: a JUnit report with tests run and none
    /// failed, a commit in the plan repository's history.
    Verified,
    /// Checkable evidence that was checked and does not hold.
    Failed,
    /// Checkable evidence that cannot be checked here (a commit, and the plan root is not in
    /// a git repository or git is missing).
    Unchecked,
}

impl EvidenceState {
    /// The name the JSON spells (serde's snake_case).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EvidenceState::Exists => "exists",
            EvidenceState::Missing => "missing",
            EvidenceState::External => "external",
            EvidenceState::OutsideRoot => "outside_root",
            EvidenceState::Verified => "verified",
            EvidenceState::Failed => "failed",
            EvidenceState::Unchecked => "unchecked",
        }
    }
}

/// Whether a reference is a web link or a mail address: `http://host…` or `https://host…`
/// (a host of URL characters right after `//`) or `mailto:name@host`. Nothing else is: text
/// merely containing `://` (`../../etc/passwd#://`) is a path and checked as one.
fn is_url(reference: &str) -> bool {
    let r = reference.trim();
    if r.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let scheme_rest = |scheme: &str| {
        r.get(..scheme.len())
            .filter(|s| s.eq_ignore_ascii_case(scheme))
            .map(|_| &r[scheme.len()..])
    };
    if let Some(address) = scheme_rest("mailto:") {
        return !address.contains('/')
            && address
                .split_once('@')
                .is_some_and(|(name, host)| !name.is_empty() && !host.is_empty());
    }
    let Some(rest) = scheme_rest("https://").or_else(|| scheme_rest("http://")) else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    host.chars().any(|c| c.is_ascii_alphanumeric())
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~%!$&'()*+,;=:@[]".contains(c))
}

/// Whether a reference reads as a file path (rather than a commit id, a test name or prose).
pub(crate) fn looks_like_path(reference: &str) -> bool {
    let r = reference.trim();
    if r.is_empty() || is_url(r) || r.contains(char::is_whitespace) {
        return false;
    }
    if r.contains('/') || r.contains('\\') {
        return true;
    }
    r.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=5).contains(&ext.len())
            && ext.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// Where a reference points, and why it does not hold when that needs saying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lookup {
    pub state: EvidenceState,
    /// Set with [`EvidenceState::Failed`] for a FIFO, socket or device under the root: it
    /// exists, but it is not evidence and is never opened ("`r.xml` is not a regular file:
    /// a FIFO").
    pub detail: Option<String>,
}

/// Where a reference points, checked against the plan root (`root` should be canonical).
#[cfg(test)]
pub(crate) fn state(root: &Path, reference: &str) -> EvidenceState {
    lookup(root, reference).state
}

/// Where a reference points, checked against the plan root (`root` should be canonical); a
/// FIFO, socket or device under the root is [`EvidenceState::Failed`] with a detail saying
/// what it is.
pub(crate) fn lookup(root: &Path, reference: &str) -> Lookup {
    let state = path_state(root, reference);
    let path = reference.trim().split('#').next().unwrap_or("");
    let special = (state == EvidenceState::Exists)
        .then(|| crate::regular::special_at(&root.join(path)))
        .flatten();
    match special {
        Some(kind) => Lookup {
            state: EvidenceState::Failed,
            detail: Some(format!("`{path}` is not a regular file: {kind}")),
        },
        None => Lookup {
            state,
            detail: None,
        },
    }
}

fn path_state(root: &Path, reference: &str) -> EvidenceState {
    let r = reference.trim();
    if is_url(r) {
        return EvidenceState::External;
    }
    // "docs/x.md#section" names the file.
    let r = r.split('#').next().unwrap_or(r);
    let path = Path::new(r);
    if path.is_absolute() || r.starts_with('\\') || r.contains('\0') {
        return EvidenceState::OutsideRoot;
    }
    let mut lexical = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => lexical.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !lexical.pop() {
                    return EvidenceState::OutsideRoot;
                }
            }
            Component::RootDir | Component::Prefix(_) => return EvidenceState::OutsideRoot,
        }
    }
    let full = root.join(&lexical);
    match full.canonicalize() {
        Ok(real) => {
            let canon_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
            if real.starts_with(&canon_root) {
                EvidenceState::Exists
            } else {
                EvidenceState::OutsideRoot
            }
        }
        Err(_) => EvidenceState::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_never_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        crate::regular::tests::mkfifo(&root.join("report.xml"));
        assert_eq!(
            lookup(&root, "report.xml#L1"),
            Lookup {
                state: EvidenceState::Failed,
                detail: Some("`report.xml` is not a regular file: a FIFO".into())
            }
        );
    }

    #[test]
    fn as_str_is_the_json_name() {
        use EvidenceState as E;
        for v in [
            E::Exists,
            E::Missing,
            E::External,
            E::OutsideRoot,
            E::Verified,
            E::Failed,
            E::Unchecked,
        ] {
            assert_eq!(
                serde_json::to_value(v).unwrap(),
                serde_json::json!(v.as_str())
            );
        }
    }

    #[test]
    fn references_are_classified() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("docs")).unwrap();
        std::fs::write(dir.path().join("docs/a.md"), "x").unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert_eq!(state(&root, "docs/a.md"), EvidenceState::Exists);
        assert_eq!(
            state(&root, "./docs/../docs/a.md#top"),
            EvidenceState::Exists
        );
        assert_eq!(state(&root, "docs/b.md"), EvidenceState::Missing);
        assert_eq!(
            state(&root, "https://ci.example.com/run/1"),
            EvidenceState::External
        );
        assert_eq!(state(&root, "../secret.md"), EvidenceState::OutsideRoot);
        assert_eq!(state(&root, "/etc/passwd"), EvidenceState::OutsideRoot);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", root.join("etc-link")).unwrap();
            assert_eq!(
                state(&root, "etc-link/hostname"),
                EvidenceState::OutsideRoot
            );
        }
        assert!(looks_like_path("infra/workers.tf") && looks_like_path("ci.yml"));
        // `://` alone does not make a URL: the reference is a path, and checked.
        for hostile in [
            "../../../../etc/passwd#://",
            "../secret.md?x=://y",
            "https://../../secret.md",
            "ftp://../../secret.md",
        ] {
            assert!(!is_url(hostile), "{hostile}");
            assert!(looks_like_path(hostile), "{hostile}");
            assert_eq!(
                state(&root, hostile),
                EvidenceState::OutsideRoot,
                "{hostile}"
            );
        }
        assert_eq!(state(&root, "docs/a.md#://"), EvidenceState::Exists);
        assert_eq!(state(&root, "notes://x"), EvidenceState::Missing);
        for url in [
            "https://ci.example.com/run/1",
            "HTTP://localhost:8080",
            "https://[::1]/x?y=1#z",
            "mailto:sre@example.com",
        ] {
            assert!(is_url(url), "{url}");
            assert_eq!(state(&root, url), EvidenceState::External, "{url}");
        }
        for not_url in ["https://", "http:///etc", "mailto:../x", "https://a b"] {
            assert!(!is_url(not_url), "{not_url}");
        }
        assert!(!looks_like_path("a1b2c3d") && !looks_like_path("cargo test passes"));
    }
}
