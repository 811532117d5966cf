//! Evidence that can be checked is checked: a JUnit XML report must show tests run and none
//! failed or errored; a commit must be in the plan repository's git history. Used by handoff
//! validation (docs/handoff-contract.md) and gate checks (docs/gates.md).
//!
//! One [`Verifier`] serves one request: it finds the repository once and remembers each
//! answer, so a gate that re-validates every story's handoff asks git once per commit.

mod git;
mod junit;

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::Path;

/// What checking one piece of evidence gave. Each carries a phrase naming the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Checked, and it holds ("junit report `r.xml`: 40 tests passed").
    Passed(String),
    /// Checked, and it does not hold ("commit `4f2a9c1` is not in the plan repository's
    /// history").
    Failed(String),
    /// Cannot be checked here (no repository, no git): not a failure.
    Unchecked(String),
}

/// Checks evidence under one plan root; see the module docs.
pub(crate) struct Verifier<'a> {
    /// Canonical plan root.
    root: &'a Path,
    repo: OnceCell<Result<git::Repo, String>>,
    commits: RefCell<HashMap<String, Outcome>>,
    reports: RefCell<HashMap<String, Option<Outcome>>>,
}

/// Longest reference quoted in a message.
const MAX_SHOWN: usize = 64;

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_SHOWN {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX_SHOWN).collect::<String>())
    }
}

/// The path part of a reference (`reports/unit.xml#L3` -> `reports/unit.xml`).
fn path_part(reference: &str) -> &str {
    let r = reference.trim();
    r.split('#').next().unwrap_or(r)
}

/// Whether a reference names an `.xml` file (any case), the only files read as JUnit.
pub(crate) fn is_xml(reference: &str) -> bool {
    let p = path_part(reference);
    p.len() > 4
        && p.get(p.len() - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".xml"))
}

/// The commit a free-text reference names: `commit:<id>` (or `commit <id>`) always, and a
/// bare 7-64 hex-digit token when `bare` is allowed. The id is not yet checked.
pub(crate) fn commit_reference(reference: &str, bare: bool) -> Option<&str> {
    if let Some(id) = git::strip_prefix(reference) {
        return Some(id);
    }
    let r = reference.trim();
    (bare && git::is_commit_id(r)).then_some(r)
}

impl<'a> Verifier<'a> {
    pub(crate) fn new(root: &'a Path) -> Verifier<'a> {
        Verifier {
            root,
            repo: OnceCell::new(),
            commits: RefCell::new(HashMap::new()),
            reports: RefCell::new(HashMap::new()),
        }
    }

    /// A commit reference: `4f2a9c1` or `commit:4f2a9c1`. Anything but 7 to 64 hex digits is
    /// refused before git sees it.
    pub(crate) fn commit(&self, reference: &str) -> Outcome {
        let raw = git::strip_prefix(reference).unwrap_or(reference.trim());
        if !git::is_commit_id(raw) {
            return Outcome::Failed(format!(
                "commit `{}` is not a commit id (7 to 64 hex digits)",
                shorten(reference.trim())
            ));
        }
        let id = raw.to_ascii_lowercase();
        if let Some(known) = self.commits.borrow().get(&id) {
            return known.clone();
        }
        let outcome = match self.repo.get_or_init(|| git::discover(self.root)) {
            Err(why) => Outcome::Unchecked(format!("commit `{id}` not checked: {why}")),
            Ok(repo) => match repo.lookup(&id) {
                git::Lookup::Found(full) if full == id => {
                    Outcome::Passed(format!("commit `{id}` is in the history"))
                }
                git::Lookup::Found(full) => {
                    Outcome::Passed(format!("commit `{id}` is in the history ({full})"))
                }
                git::Lookup::NotFound(why) => Outcome::Failed(format!("commit `{id}` {why}")),
                git::Lookup::Unknown(why) => {
                    Outcome::Unchecked(format!("commit `{id}` not checked: {why}"))
                }
            },
        };
        self.commits.borrow_mut().insert(id, outcome.clone());
        outcome
    }

    /// A JUnit report at `reference`, a path already found under the plan root. `strict`
    /// (a handoff's `test` evidence): it must be a JUnit report. Otherwise a file that is not
    /// one (no `<testsuites>`/`<testsuite>` root) gives `None`: it is just a file.
    pub(crate) fn junit(&self, reference: &str, strict: bool) -> Option<Outcome> {
        let shown = shorten(path_part(reference));
        let key = format!("{strict}:{}", path_part(reference));
        if let Some(known) = self.reports.borrow().get(&key) {
            return known.clone();
        }
        let path = self.root.join(path_part(reference));
        let read = match path.canonicalize() {
            Ok(real) if real.starts_with(self.root) => junit::read(&real),
            Ok(_) => Err(junit::JunitError::NotJunit(
                "is outside the plan root".into(),
            )),
            Err(e) => Err(junit::JunitError::NotJunit(format!("cannot be read: {e}"))),
        };
        let outcome = match read {
            Ok(summary) => Some(match summary.verdict() {
                Ok(passed) => Outcome::Passed(format!("junit report `{shown}`: {passed}")),
                Err(failed) => Outcome::Failed(format!("junit report `{shown}`: {failed}")),
            }),
            Err(junit::JunitError::Malformed(m)) => {
                Some(Outcome::Failed(format!("junit report `{shown}` {m}")))
            }
            Err(e @ junit::JunitError::NotJunit(_)) => strict.then(|| {
                Outcome::Failed(format!(
                    "`{shown}` is not a JUnit XML report: it {}",
                    e.message()
                ))
            }),
        };
        self.reports.borrow_mut().insert(key, outcome.clone());
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn references_are_recognised() {
        assert!(is_xml("reports/unit.XML") && is_xml("reports/unit.xml#L3"));
        assert!(!is_xml(".xml") && !is_xml("reports/unit.xml.bak"));
        assert_eq!(commit_reference("commit:4f2a9c1", false), Some("4f2a9c1"));
        assert_eq!(commit_reference("4f2a9c1", true), Some("4f2a9c1"));
        assert_eq!(commit_reference("4f2a9c1", false), None);
        assert_eq!(commit_reference("docs/x.md", true), None);
        assert_eq!(commit_reference("commit: --all", false), Some("--all"));
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn commits_are_looked_up_in_the_history_and_hostile_ids_never_reach_git() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let v = Verifier::new(&root);
        assert_eq!(
            v.commit("4f2a9c1"),
            Outcome::Unchecked(
                "commit `4f2a9c1` not checked: the plan root is not in a git repository".into()
            )
        );

        git(&root, &["init", "-q"]);
        git(&root, &["commit", "-q", "--allow-empty", "-m", "one"]);
        let head = git(&root, &["rev-parse", "HEAD"]);
        // A commit no branch reaches any more.
        git(&root, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let dropped = git(&root, &["rev-parse", "HEAD"]);
        git(&root, &["reset", "-q", "--hard", "HEAD~1"]);
        let tree = git(&root, &["rev-parse", "HEAD^{tree}"]);

        let v = Verifier::new(&root);
        assert_eq!(
            v.commit(&head[..7]),
            Outcome::Passed(format!(
                "commit `{}` is in the history ({head})",
                &head[..7]
            ))
        );
        assert_eq!(
            v.commit(&format!("commit:{}", head.to_uppercase())),
            Outcome::Passed(format!("commit `{head}` is in the history"))
        );
        assert_eq!(
            v.commit(&dropped),
            Outcome::Failed(format!(
                "commit `{dropped}` exists in the plan repository but no branch or tag reaches it"
            ))
        );
        assert_eq!(
            v.commit(&tree),
            Outcome::Failed(format!(
                "commit `{tree}` is not in the plan repository's history"
            ))
        );
        for hostile in ["--output=/tmp/pwned", "HEAD", "main~1", "4f2a9c1 --all"] {
            assert_eq!(
                v.commit(hostile),
                Outcome::Failed(format!(
                    "commit `{hostile}` is not a commit id (7 to 64 hex digits)"
                ))
            );
        }
    }

    #[test]
    fn junit_reports_are_read_only_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(
            root.join("ok.xml"),
            r#"<testsuite tests="1"><testcase name="a"/></testsuite>"#,
        )
        .unwrap();
        std::fs::write(root.join("pom.xml"), "<project/>").unwrap();
        let v = Verifier::new(&root);
        assert_eq!(
            v.junit("ok.xml", true),
            Some(Outcome::Passed(
                "junit report `ok.xml`: 1 test passed".into()
            ))
        );
        assert_eq!(v.junit("pom.xml", false), None);
        assert_eq!(
            v.junit("pom.xml", true),
            Some(Outcome::Failed(
                "`pom.xml` is not a JUnit XML report: it has the root element <project>, not \
                 <testsuites> or <testsuite>"
                    .into()
            ))
        );
    }
}
