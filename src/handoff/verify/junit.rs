//! JUnit XML reports: how many tests ran, failed, errored and were skipped.
//!
//! A streaming read with quick-xml (no tree, no entity expansion beyond the five predefined
//! ones), bounded in size and depth, that never panics. The root is `<testsuites>` (with
//! `<testsuite>` children, possibly nested) or a single `<testsuite>`. Counts come from two
//! places, and the worse of the two wins for each: the attributes (`tests`, `failures`,
//! `errors`, `skipped` or `disabled`) of the root, or of its suites when the root has none;
//! and the `<testcase>` elements, each counted once as failed (a `<failure>` child), errored
//! (an `<error>` child), skipped (a `<skipped>` child) or passed.

use std::io::Read;
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// Largest report read, in bytes: a hostile or runaway file is refused, not loaded.
pub(crate) const MAX_REPORT_BYTES: u64 = 16 * 1024 * 1024;
/// Deepest element nesting accepted.
const MAX_DEPTH: usize = 64;
/// Longest test name quoted in a message.
const MAX_NAME: usize = 120;

/// What a report says, after reconciling its attributes with its test cases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    /// `classname::name` of the first failed or errored test case, when one is listed.
    pub first_failure: Option<String>,
}

impl Summary {
    /// `Ok` with what passed ("40 tests passed, 2 skipped") when tests ran and none failed
    /// or errored; otherwise `Err` with why ("2 of 40 tests failed (first: `a::b`)").
    pub(crate) fn verdict(&self) -> Result<String, String> {
        let bad = self.failures + self.errors;
        if bad > 0 {
            let what = match (self.failures, self.errors) {
                (_, 0) => "failed".to_string(),
                (0, _) => "errored".to_string(),
                (f, e) => format!("failed ({f} failed, {e} errored)"),
            };
            let first = self
                .first_failure
                .as_deref()
                .map(|n| format!(" (first: `{n}`)"))
                .unwrap_or_default();
            let tests = self.tests.max(bad);
            let noun = if tests == 1 { "test" } else { "tests" };
            return Err(format!("{bad} of {tests} {noun} {what}{first}"));
        }
        let ran = self.tests.saturating_sub(self.skipped);
        if ran == 0 {
            return Err(match self.skipped {
                0 => "ran 0 tests".to_string(),
                s => format!("ran 0 tests ({s} skipped)"),
            });
        }
        let noun = if ran == 1 { "test" } else { "tests" };
        Ok(match self.skipped {
            0 => format!("{ran} {noun} passed"),
            s => format!("{ran} {noun} passed, {s} skipped"),
        })
    }
}

/// Why a file gives no summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JunitError {
    /// Not a JUnit report at all: unreadable, too big, not UTF-8, not XML, or another root.
    NotJunit(String),
    /// A JUnit root, but the document is broken after it (truncated, ill-formed, bad counts).
    Malformed(String),
}

impl JunitError {
    pub(crate) fn message(&self) -> &str {
        match self {
            JunitError::NotJunit(m) | JunitError::Malformed(m) => m,
        }
    }
}

/// Reads and parses the report at `path` (at most [`MAX_REPORT_BYTES`]).
pub(crate) fn read(path: &Path) -> Result<Summary, JunitError> {
    let not = |m: String| JunitError::NotJunit(m);
    // Regular files only: a FIFO is never opened (it would block the read for ever).
    let (file, _) = crate::regular::open(path).map_err(|e| not(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| not(format!("cannot be read: {e}")))?;
    if bytes.len() as u64 > MAX_REPORT_BYTES {
        // Too big to count, but a report padded past the limit must not pass as a plain
        // file: its head says whether it is one.
        let m = format!("is over {} MiB", MAX_REPORT_BYTES / (1024 * 1024));
        return Err(if junit_root(bytes.get(..HEAD_BYTES).unwrap_or(&bytes)) {
            JunitError::Malformed(format!("{m}, too big to read"))
        } else {
            JunitError::NotJunit(m)
        });
    }
    parse_bytes(&bytes)
}

/// How much of an oversized file is read to find its root element.
const HEAD_BYTES: usize = 64 * 1024;

/// Whether the first element of `head` (a file's first bytes) is a JUnit root.
fn junit_root(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // Cut inside a character: what comes before it.
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return matches!(e.local_name().as_ref(), "testsuites" | "testsuite");
            }
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// Parses a report from its bytes (UTF-8, an optional BOM).
pub(crate) fn parse_bytes(bytes: &[u8]) -> Result<Summary, JunitError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| JunitError::NotJunit(format!("is not UTF-8 text ({e})")))?;
    parse(text)
}

/// Counts as the attributes give them; `None` where an attribute is absent.
#[derive(Debug, Clone, Copy, Default)]
struct Declared {
    tests: Option<u64>,
    failures: Option<u64>,
    errors: Option<u64>,
    skipped: Option<u64>,
}

impl Declared {
    fn any(&self) -> bool {
        self.tests.is_some()
            || self.failures.is_some()
            || self.errors.is_some()
            || self.skipped.is_some()
    }

    fn add(&mut self, other: &Declared) {
        fn sum(a: &mut Option<u64>, b: Option<u64>) {
            if let Some(b) = b {
                *a = Some(a.unwrap_or(0).saturating_add(b));
            }
        }
        sum(&mut self.tests, other.tests);
        sum(&mut self.failures, other.failures);
        sum(&mut self.errors, other.errors);
        sum(&mut self.skipped, other.skipped);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Suites,
    Suite,
    Case,
    Other,
}

/// One open `<testcase>`.
#[derive(Default)]
struct Case {
    name: String,
    failed: bool,
    errored: bool,
    skipped: bool,
}

#[derive(Default)]
struct Tally {
    tests: u64,
    failures: u64,
    errors: u64,
    skipped: u64,
    first_failure: Option<String>,
}

impl Tally {
    fn close(&mut self, case: Case) {
        self.tests += 1;
        if case.failed || case.errored {
            if case.failed {
                self.failures += 1;
            } else {
                self.errors += 1;
            }
            if self.first_failure.is_none() {
                self.first_failure = Some(case.name);
            }
        } else if case.skipped {
            self.skipped += 1;
        }
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| format!("has a bad attribute: {err}"))?;
        if a.key.local_name().as_ref() == name {
            let v = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| format!("has a bad attribute value: {err}"))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn count(e: &BytesStart<'_>, name: &str) -> Result<Option<u64>, String> {
    let Some(v) = attr(e, name)? else {
        return Ok(None);
    };
    v.trim().parse::<u64>().map(Some).map_err(|_| {
        format!(
            "has {name}=\"{}\" on <{}>, which is not a count",
            shorten(&v),
            e.local_name().as_ref()
        )
    })
}

fn declared(e: &BytesStart<'_>) -> Result<Declared, String> {
    Ok(Declared {
        tests: count(e, "tests")?,
        failures: count(e, "failures")?,
        errors: count(e, "errors")?,
        skipped: match count(e, "skipped")? {
            Some(n) => Some(n),
            None => count(e, "disabled")?,
        },
    })
}

fn case_name(e: &BytesStart<'_>) -> Result<String, String> {
    let name = attr(e, "name")?.unwrap_or_default();
    let name = match attr(e, "classname")? {
        Some(class) if !class.trim().is_empty() => format!("{}::{}", class.trim(), name.trim()),
        _ => name.trim().to_string(),
    };
    Ok(shorten(&name))
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_NAME {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX_NAME).collect::<String>())
    }
}

/// Parses a report. Never panics, whatever the text.
pub(crate) fn parse(text: &str) -> Result<Summary, JunitError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Elem> = Vec::new();
    let mut root: Option<(Elem, Declared)> = None;
    // Sum of the attributes of the root `<testsuites>`' own suites.
    let mut children = Declared::default();
    let mut case: Option<Case> = None;
    let mut tally = Tally::default();
    loop {
        let at = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(err) => {
                let m = format!("is not well-formed XML at byte {at}: {err}");
                return Err(if root.is_some() {
                    JunitError::Malformed(m)
                } else {
                    JunitError::NotJunit(m)
                });
            }
        };
        let malformed = JunitError::Malformed;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = e.local_name();
                let name = local.as_ref();
                let elem = match (root.is_some(), name) {
                    (false, "testsuites") => Elem::Suites,
                    (false, "testsuite") => Elem::Suite,
                    (false, other) => {
                        return Err(JunitError::NotJunit(format!(
                            "has the root element <{}>, not <testsuites> or <testsuite>",
                            shorten(other)
                        )));
                    }
                    (true, "testsuite") => Elem::Suite,
                    (true, "testcase") if stack.last() != Some(&Elem::Case) => Elem::Case,
                    _ => Elem::Other,
                };
                match elem {
                    Elem::Suites | Elem::Suite => {
                        let d = declared(e).map_err(malformed)?;
                        if root.is_none() {
                            root = Some((elem, d));
                        } else if stack.len() == 1 && stack.first() == Some(&Elem::Suites) {
                            children.add(&d);
                        }
                    }
                    Elem::Case => {
                        let c = Case {
                            name: case_name(e).map_err(malformed)?,
                            ..Case::default()
                        };
                        if empty {
                            tally.close(c);
                        } else {
                            case = Some(c);
                        }
                    }
                    Elem::Other => {
                        if stack.last() == Some(&Elem::Case)
                            && let Some(c) = case.as_mut()
                        {
                            match name {
                                "failure" => c.failed = true,
                                "error" => c.errored = true,
                                "skipped" => c.skipped = true,
                                _ => {}
                            }
                        }
                    }
                }
                if !empty {
                    if stack.len() >= MAX_DEPTH {
                        return Err(JunitError::Malformed(format!(
                            "nests elements deeper than {MAX_DEPTH} levels"
                        )));
                    }
                    stack.push(elem);
                }
            }
            Event::End(_) => {
                if stack.pop() == Some(Elem::Case)
                    && let Some(c) = case.take()
                {
                    tally.close(c);
                }
                if stack.is_empty() {
                    break;
                }
            }
            Event::Eof => {
                return Err(match &root {
                    None => JunitError::NotJunit("has no root element".into()),
                    Some((Elem::Suites, _)) => {
                        JunitError::Malformed("ends before </testsuites> closes".into())
                    }
                    Some(_) => JunitError::Malformed("ends before </testsuite> closes".into()),
                });
            }
            Event::Text(_)
            | Event::CData(_)
            | Event::Comment(_)
            | Event::Decl(_)
            | Event::PI(_)
            | Event::DocType(_)
            | Event::GeneralRef(_) => {}
        }
        if root.is_some() && stack.is_empty() {
            // An empty root element (`<testsuite/>`).
            break;
        }
    }
    let Some((kind, mut declared)) = root else {
        return Err(JunitError::NotJunit("has no root element".into()));
    };
    if kind == Elem::Suites && !declared.any() {
        declared = children;
    }
    let worse = |d: Option<u64>, counted: u64| d.unwrap_or(0).max(counted);
    Ok(Summary {
        tests: worse(declared.tests, tally.tests),
        failures: worse(declared.failures, tally.failures),
        errors: worse(declared.errors, tally.errors),
        skipped: worse(declared.skipped, tally.skipped),
        first_failure: tally.first_failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(xml: &str) -> Summary {
        parse(xml).unwrap_or_else(|e| panic!("{e:?} for {xml}"))
    }

    #[test]
    fn a_passing_suite_counts_its_cases() {
        let s = ok(r#"<?xml version="1.0" encoding="UTF-8"?>
            <testsuite name="unit" tests="3" failures="0" errors="0" skipped="1">
              <testcase classname="app::a" name="one" time="0.1"/>
              <testcase classname="app::a" name="two"><system-out>hi</system-out></testcase>
              <testcase classname="app::b" name="three"><skipped/></testcase>
            </testsuite>"#);
        assert_eq!((s.tests, s.failures, s.errors, s.skipped), (3, 0, 0, 1));
        assert_eq!(s.verdict(), Ok("2 tests passed, 1 skipped".into()));
    }

    #[test]
    fn testsuites_wrapping_sums_its_suites_when_it_has_no_counts_of_its_own() {
        let s = ok(r#"<testsuites>
              <testsuite name="a" tests="2" failures="1"><testcase name="x"/><testcase name="y"><failure message="boom"/></testcase></testsuite>
              <testsuite name="b" tests="3"><testcase name="p"/><testcase name="q"/><testcase name="r"/></testsuite>
            </testsuites>"#);
        assert_eq!((s.tests, s.failures), (5, 1));
        assert_eq!(s.first_failure.as_deref(), Some("y"));
        assert_eq!(s.verdict(), Err("1 of 5 tests failed (first: `y`)".into()));
    }

    #[test]
    fn the_worse_of_attributes_and_cases_wins() {
        // Attributes say all passed, a case failed.
        let s = ok(r#"<testsuites tests="2" failures="0">
              <testsuite name="a"><testcase classname="m" name="ok"/>
              <testcase classname="m" name="bad"><error type="panic">x</error></testcase></testsuite>
            </testsuites>"#);
        assert_eq!((s.tests, s.failures, s.errors), (2, 0, 1));
        assert_eq!(
            s.verdict(),
            Err("1 of 2 tests errored (first: `m::bad`)".into())
        );
        // Cases are missing, the attributes count failures.
        let s = ok(r#"<testsuite tests="40" failures="2" errors="1"/>"#);
        assert_eq!(
            s.verdict(),
            Err("3 of 40 tests failed (2 failed, 1 errored)".into())
        );
        // Attributes absent: the cases alone.
        let s = ok(r#"<testsuite><testcase name="a"/><testcase name="b"/></testsuite>"#);
        assert_eq!(s.verdict(), Ok("2 tests passed".into()));
    }

    #[test]
    fn zero_tests_or_only_skipped_ones_is_not_a_pass() {
        assert_eq!(
            ok(r#"<testsuites tests="0"/>"#).verdict(),
            Err("ran 0 tests".into())
        );
        assert_eq!(
            ok("<testsuite></testsuite>").verdict(),
            Err("ran 0 tests".into())
        );
        assert_eq!(
            ok(r#"<testsuite tests="2" skipped="2"><testcase name="a"><skipped/></testcase><testcase name="b"><skipped/></testcase></testsuite>"#).verdict(),
            Err("ran 0 tests (2 skipped)".into())
        );
    }

    #[test]
    fn nested_suites_are_counted_once() {
        let s = ok(r#"<testsuites>
              <testsuite name="outer" tests="2">
                <testsuite name="inner" tests="2"><testcase name="a"/><testcase name="b"/></testsuite>
              </testsuite>
            </testsuites>"#);
        assert_eq!(s.tests, 2);
        assert_eq!(s.verdict(), Ok("2 tests passed".into()));
    }

    #[test]
    fn other_roots_and_broken_documents_are_named() {
        assert_eq!(
            parse("<project><x/></project>"),
            Err(JunitError::NotJunit(
                "has the root element <project>, not <testsuites> or <testsuite>".into()
            ))
        );
        assert_eq!(
            parse(""),
            Err(JunitError::NotJunit("has no root element".into()))
        );
        assert!(matches!(
            parse("not xml at all <"),
            Err(JunitError::NotJunit(_))
        ));
        assert_eq!(
            parse(r#"<testsuite tests="1"><testcase name="a">"#),
            Err(JunitError::Malformed(
                "ends before </testsuite> closes".into()
            ))
        );
        assert!(matches!(
            parse(r#"<testsuite><testcase name="a"></testsuite>"#),
            Err(JunitError::Malformed(m)) if m.starts_with("is not well-formed XML at byte")
        ));
        assert_eq!(
            parse(r#"<testsuite tests="lots"/>"#),
            Err(JunitError::Malformed(
                "has tests=\"lots\" on <testsuite>, which is not a count".into()
            ))
        );
        let deep = format!("<testsuite>{}", "<a>".repeat(100));
        assert_eq!(
            parse(&deep),
            Err(JunitError::Malformed(
                "nests elements deeper than 64 levels".into()
            ))
        );
        assert!(matches!(
            parse_bytes(b"<testsuite>\xff</testsuite>"),
            Err(JunitError::NotJunit(m)) if m.starts_with("is not UTF-8")
        ));
    }

    #[test]
    fn files_over_the_limit_and_folders_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.xml");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_REPORT_BYTES + 1).unwrap();
        assert_eq!(
            read(&big),
            Err(JunitError::NotJunit("is over 16 MiB".into()))
        );
        // A report padded past the limit is still known for one.
        let mut padded =
            b"<?xml version=\"1.0\"?>\n<testsuite tests=\"1\" failures=\"1\">".to_vec();
        padded.resize(MAX_REPORT_BYTES as usize + 10, b' ');
        std::fs::write(&big, padded).unwrap();
        assert_eq!(
            read(&big),
            Err(JunitError::Malformed(
                "is over 16 MiB, too big to read".into()
            ))
        );
        assert_eq!(
            read(dir.path()),
            Err(JunitError::NotJunit("is a folder".into()))
        );
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo.xml");
            crate::regular::tests::mkfifo(&fifo);
            assert_eq!(
                read(&fifo),
                Err(JunitError::NotJunit("not a regular file: a FIFO".into()))
            );
        }
        let good = dir.path().join("ok.xml");
        std::fs::write(
            &good,
            "\u{feff}<testsuite><testcase name=\"a\"/></testsuite>",
        )
        .unwrap();
        assert_eq!(read(&good).unwrap().tests, 1);
    }

    #[test]
    fn arbitrary_text_never_panics() {
        use proptest::prelude::*;
        proptest!(ProptestConfig::with_cases(256), |(s in "[<>/a-z =\"'!?&;0-9-]{0,200}")| {
            let _ = parse(&s);
            let _ = parse(&format!("<testsuite tests=\"1\">{s}"));
        });
    }
}
