//! Handoff validation: every problem at once, each with a JSON pointer and a plain sentence.
//! First the shape (fields, types, enums, sizes) from the raw JSON, so that one bad field
//! does not hide the others; then the rules that need the plan (docs/handoff-contract.md).

use std::collections::BTreeSet;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::contract::{Contract, CriterionStatus, EvidenceKind, HandoffStatus, RawContract};
use super::verify::{self, Outcome, Verifier};
use crate::evidence::{self, EvidenceState};
use crate::model::Plan;

/// Most bytes of a whole contract (as JSON).
const MAX_CONTRACT_BYTES: usize = 64 * 1024;
const MAX_SUMMARY: usize = 4_000;
const MAX_TEXT: usize = 1_000;
const MAX_NAME: usize = 128;
const MAX_ITEMS: usize = 100;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProblemSeverity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    /// JSON pointer to the value at fault ("" for the whole contract).
    pub pointer: String,
    pub severity: ProblemSeverity,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Validation {
    /// True when there is no error (warnings allowed).
    pub valid: bool,
    pub problems: Vec<Problem>,
}

/// What validation needs besides the contract.
pub(crate) struct Context<'a> {
    pub plan: &'a Plan,
    /// Canonical plan root: file evidence is looked up under it.
    pub root: &'a Path,
    /// Given (story id, pack hash): a warning when that hash is not the story's current
    /// pack, else None.
    pub pack_check: &'a dyn Fn(&str, &str) -> Option<String>,
    /// Checks JUnit reports and commits (one per request: it remembers its answers).
    pub verify: &'a Verifier<'a>,
}

struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn error(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            pointer: pointer.into(),
            severity: ProblemSeverity::Error,
            message: message.into(),
        });
    }

    fn warning(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            pointer: pointer.into(),
            severity: ProblemSeverity::Warning,
            message: message.into(),
        });
    }

    /// Checks an object's fields: unknown ones are errors, missing required ones too.
    /// Returns the object when it is one.
    fn object<'v>(
        &mut self,
        value: &'v Value,
        at: &str,
        what: &str,
        required: &[&str],
        optional: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = value.as_object() else {
            self.error(at, format!("{what} must be an object, not {}", kind(value)));
            return None;
        };
        for key in map.keys() {
            if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
                let mut known: Vec<&str> = required.iter().chain(optional).copied().collect();
                known.sort_unstable();
                self.error(
                    format!("{at}/{}", escape(key)),
                    format!(
                        "unknown field `{}` in {what} (known: {})",
                        shorten(key),
                        known.join(", ")
                    ),
                );
            }
        }
        for key in required {
            if !map.contains_key(*key) {
                self.error(
                    format!("{at}/{key}"),
                    format!("{what} is missing the required field `{key}`"),
                );
            }
        }
        Some(map)
    }

    fn string(&mut self, map: &Map<String, Value>, at: &str, key: &str, max: usize) {
        let Some(v) = map.get(key) else { return };
        let pointer = format!("{at}/{key}");
        match v.as_str() {
            None => self.error(
                pointer,
                format!("`{key}` must be a string, not {}", kind(v)),
            ),
            Some(s) if s.trim().is_empty() => self.error(pointer, format!("`{key}` is empty")),
            Some(s) if s.chars().count() > max => self.error(
                pointer,
                format!(
                    "`{key}` is {} characters; the limit is {max}",
                    s.chars().count()
                ),
            ),
            Some(s) if s.contains('\0') => {
                self.error(pointer, format!("`{key}` contains a NUL character"))
            }
            Some(_) => {}
        }
    }

    fn one_of(&mut self, map: &Map<String, Value>, at: &str, key: &str, allowed: &[&str]) {
        let Some(v) = map.get(key) else { return };
        let pointer = format!("{at}/{key}");
        match v.as_str() {
            Some(s) if allowed.contains(&s) => {}
            Some(s) => self.error(
                pointer,
                format!(
                    "`{key}` is `{}`; it must be one of {}",
                    shorten(s),
                    allowed.join(", ")
                ),
            ),
            None => self.error(
                pointer,
                format!(
                    "`{key}` must be one of {}, not {}",
                    allowed.join(", "),
                    kind(v)
                ),
            ),
        }
    }

    fn array<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        at: &str,
        key: &str,
        max: usize,
    ) -> &'v [Value] {
        let Some(v) = map.get(key) else { return &[] };
        let pointer = format!("{at}/{key}");
        match v.as_array() {
            None => {
                self.error(pointer, format!("`{key}` must be a list, not {}", kind(v)));
                &[]
            }
            Some(items) if items.len() > max => {
                self.error(
                    pointer,
                    format!("`{key}` has {} items; the limit is {max}", items.len()),
                );
                &[]
            }
            Some(items) => items,
        }
    }

    fn strings(&mut self, map: &Map<String, Value>, at: &str, key: &str) {
        for (i, item) in self.array(map, at, key, MAX_ITEMS).iter().enumerate() {
            let pointer = format!("{at}/{key}/{i}");
            match item.as_str() {
                Some(s)
                    if !s.trim().is_empty()
                        && s.chars().count() <= MAX_TEXT
                        && !s.contains('\0') => {}
                Some(_) => self.error(
                    pointer,
                    format!("must be non-empty text of at most {MAX_TEXT} characters"),
                ),
                None => self.error(pointer, format!("must be a string, not {}", kind(item))),
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// JSON pointer escaping (RFC 6901).
fn escape(key: &str) -> String {
    shorten(key).replace('~', "~0").replace('/', "~1")
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(64).collect::<String>())
    }
}

/// Criteria compare without case, spacing or final punctuation.
fn normalize_criterion(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(['.', ';', ','])
        .to_lowercase()
}

const STATUSES: &[&str] = &["in_progress", "ready_for_review", "done", "blocked"];
const CRITERION: &[&str] = &["met", "unmet", "not_applicable"];
const KINDS: &[&str] = &["file", "commit", "url", "test", "log"];
const SEVERITIES: &[&str] = &["low", "medium", "high"];

fn shape(value: &Value, c: &mut Checker) {
    let Some(top) = c.object(
        value,
        "",
        "the contract",
        &["story_id", "from", "to", "status", "summary", "acceptance"],
        &["evidence", "remaining", "decisions", "risks", "pack"],
    ) else {
        return;
    };
    c.string(top, "", "story_id", MAX_NAME);
    c.string(top, "", "summary", MAX_SUMMARY);
    c.one_of(top, "", "status", STATUSES);
    for party in ["from", "to"] {
        if let Some(v) = top.get(party)
            && let Some(p) = c.object(
                v,
                &format!("/{party}"),
                &format!("`{party}`"),
                &["agent", "role"],
                &[],
            )
        {
            c.string(p, &format!("/{party}"), "agent", MAX_NAME);
            c.string(p, &format!("/{party}"), "role", MAX_NAME);
        }
    }
    for (i, item) in c.array(top, "", "acceptance", MAX_ITEMS).iter().enumerate() {
        let at = format!("/acceptance/{i}");
        if let Some(a) = c.object(
            item,
            &at,
            "an acceptance entry",
            &["criterion", "status"],
            &["evidence"],
        ) {
            c.string(a, &at, "criterion", MAX_TEXT);
            c.one_of(a, &at, "status", CRITERION);
            c.strings(a, &at, "evidence");
        }
    }
    for (i, item) in c.array(top, "", "evidence", MAX_ITEMS).iter().enumerate() {
        let at = format!("/evidence/{i}");
        if let Some(e) = c.object(item, &at, "an evidence entry", &["kind", "ref"], &["note"]) {
            c.one_of(e, &at, "kind", KINDS);
            c.string(e, &at, "ref", MAX_TEXT);
            c.string(e, &at, "note", MAX_TEXT);
        }
    }
    c.strings(top, "", "remaining");
    c.strings(top, "", "decisions");
    for (i, item) in c.array(top, "", "risks", MAX_ITEMS).iter().enumerate() {
        let at = format!("/risks/{i}");
        if let Some(r) = c.object(item, &at, "a risk", &["text", "severity"], &[]) {
            c.string(r, &at, "text", MAX_TEXT);
            c.one_of(r, &at, "severity", SEVERITIES);
        }
    }
    if let Some(v) = top.get("pack")
        && let Some(p) = c.object(v, "/pack", "`pack`", &["story_id", "hash"], &[])
    {
        c.string(p, "/pack", "story_id", MAX_NAME);
        c.string(p, "/pack", "hash", MAX_NAME);
    }
}

/// What the plan rules read of a contract, taken leniently from the raw JSON: a field of the
/// wrong type or with an unknown value is `None` (the shape check already reported it), so
/// one bad field does not hide the rules that other fields break.
struct View<'v> {
    story_id: Option<&'v str>,
    status: Option<HandoffStatus>,
    acceptance: Vec<Criterion<'v>>,
    /// (index, kind, reference) of each evidence entry.
    evidence: Vec<(usize, Option<EvidenceKind>, Option<&'v str>)>,
    risks: usize,
    /// (story_id, hash) when `pack` is an object.
    pack: Option<(Option<&'v str>, Option<&'v str>)>,
}

struct Criterion<'v> {
    index: usize,
    criterion: Option<&'v str>,
    status: Option<CriterionStatus>,
    evidence: Vec<(usize, &'v str)>,
}

impl<'v> View<'v> {
    fn read(value: &'v Value) -> View<'v> {
        fn text(v: Option<&Value>) -> Option<&str> {
            v.and_then(Value::as_str)
        }
        fn choice<T: serde::de::DeserializeOwned>(v: Option<&Value>) -> Option<T> {
            v.filter(|v| v.is_string())
                .and_then(|v| serde_json::from_value(v.clone()).ok())
        }
        fn items(v: Option<&Value>) -> &[Value] {
            v.and_then(Value::as_array)
                .filter(|a| a.len() <= MAX_ITEMS)
                .map_or(&[], Vec::as_slice)
        }
        let field = |key: &str| value.get(key);
        View {
            story_id: text(field("story_id")),
            status: choice(field("status")),
            acceptance: items(field("acceptance"))
                .iter()
                .enumerate()
                .map(|(index, a)| Criterion {
                    index,
                    criterion: text(a.get("criterion")),
                    status: choice(a.get("status")),
                    evidence: items(a.get("evidence"))
                        .iter()
                        .enumerate()
                        .filter_map(|(j, r)| r.as_str().map(|r| (j, r)))
                        .collect(),
                })
                .collect(),
            evidence: items(field("evidence"))
                .iter()
                .enumerate()
                .map(|(i, e)| (i, choice(e.get("kind")), text(e.get("ref"))))
                .collect(),
            risks: items(field("risks")).len(),
            pack: field("pack")
                .filter(|p| p.is_object())
                .map(|p| (text(p.get("story_id")), text(p.get("hash")))),
        }
    }
}

/// The rules that need the plan. Those about the story (its criteria, its pack) need a known
/// story; the others (done with an unmet criterion, evidence files, blocked without a risk)
/// hold whatever the story id says.
fn rules(view: &View<'_>, ctx: &Context<'_>, c: &mut Checker) {
    let id = view.story_id.map(str::trim).filter(|id| !id.is_empty());
    let story = id.and_then(|id| ctx.plan.story(id));
    if let (Some(id), None) = (id, story) {
        c.error(
            "/story_id",
            format!("no story `{}` in the plan", shorten(id)),
        );
    }
    // Coverage: every criterion the story lists, and nothing it does not.
    let listed: Vec<String> = story
        .map(|s| {
            s.acceptance
                .iter()
                .map(|a| normalize_criterion(a))
                .collect()
        })
        .unwrap_or_default();
    let given: Vec<Option<String>> = view
        .acceptance
        .iter()
        .map(|a| a.criterion.map(normalize_criterion))
        .collect();
    if let Some(story) = story {
        for (criterion, norm) in story.acceptance.iter().zip(&listed) {
            if !given.iter().flatten().any(|g| g == norm) {
                c.error(
                    "/acceptance",
                    format!("missing the story's criterion \"{criterion}\""),
                );
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (a, norm) in view.acceptance.iter().zip(&given) {
        let i = a.index;
        if let (Some(criterion), Some(norm)) = (a.criterion, norm) {
            if let Some(story) = story
                && !listed.contains(norm)
            {
                c.warning(
                    format!("/acceptance/{i}/criterion"),
                    format!(
                        "\"{}\" is not a criterion of {}",
                        shorten(criterion),
                        story.id
                    ),
                );
            }
            if !seen.insert(norm.clone()) {
                c.warning(
                    format!("/acceptance/{i}/criterion"),
                    "this criterion is listed twice",
                );
            }
        }
        if view.status == Some(HandoffStatus::Done) && a.status == Some(CriterionStatus::Unmet) {
            c.error(
                format!("/acceptance/{i}/status"),
                format!(
                    "status is done but \"{}\" is unmet",
                    shorten(a.criterion.unwrap_or("this criterion"))
                ),
            );
        }
        for &(j, r) in &a.evidence {
            let pointer = format!("/acceptance/{i}/evidence/{j}");
            if verify::commit_reference(r, false).is_some() {
                report(c, view.status, &pointer, ctx.verify.commit(r));
            } else if evidence::looks_like_path(r) {
                check_file(ctx, c, view.status, &pointer, r, false);
            }
        }
    }
    for &(i, kind, reference) in &view.evidence {
        let Some(reference) = reference.filter(|r| !r.trim().is_empty()) else {
            continue;
        };
        let pointer = format!("/evidence/{i}/ref");
        match kind {
            Some(EvidenceKind::File) => {
                check_file(ctx, c, view.status, &pointer, reference, false);
            }
            Some(EvidenceKind::Test)
                if evidence::looks_like_path(reference) && verify::is_xml(reference) =>
            {
                check_file(ctx, c, view.status, &pointer, reference, true);
            }
            Some(EvidenceKind::Commit) => {
                report(c, view.status, &pointer, ctx.verify.commit(reference));
            }
            _ => {}
        }
    }
    if view.status == Some(HandoffStatus::Blocked) && view.risks == 0 {
        c.error(
            "/risks",
            "status is blocked: name at least one risk saying what blocks it",
        );
    }
    if let (Some(story), Some((Some(pack_story), hash))) = (story, view.pack) {
        if pack_story.trim() != story.id {
            c.error(
                "/pack/story_id",
                format!(
                    "the pack is for {}, not {}",
                    shorten(pack_story.trim()),
                    story.id
                ),
            );
        } else if let Some(hash) = hash
            && let Some(warning) = (ctx.pack_check)(&story.id, hash.trim())
        {
            c.warning("/pack/hash", warning);
        }
    }
}

/// A path reference (`file` evidence, an acceptance ref that reads as a path, or, with
/// `junit`, the report of a `test` evidence, which must then be a JUnit report): it must stay
/// under the plan root and exist, and an `.xml` file with a JUnit root must pass (see
/// [`report`] for the severities).
fn check_file(
    ctx: &Context<'_>,
    c: &mut Checker,
    status: Option<HandoffStatus>,
    pointer: &str,
    reference: &str,
    junit: bool,
) {
    let what = if junit {
        "junit report"
    } else {
        "file evidence"
    };
    let found = evidence::lookup(ctx.root, reference);
    match found.state {
        // A FIFO, socket or device: there, but not evidence (and never opened).
        EvidenceState::Failed if found.detail.is_some() => c.error(
            pointer,
            format!(
                "{what} {}",
                found.detail.as_deref().unwrap_or("is not a regular file")
            ),
        ),
        EvidenceState::Exists => {
            if verify::is_xml(reference)
                && let Some(outcome) = ctx.verify.junit(reference, junit)
            {
                report(c, status, pointer, outcome);
            }
        }
        EvidenceState::Missing if junit => report(
            c,
            status,
            pointer,
            Outcome::Failed(format!(
                "junit report `{}` does not exist under the plan root",
                shorten(reference)
            )),
        ),
        EvidenceState::Missing => c.error(
            pointer,
            format!(
                "file evidence `{}` does not exist under the plan root",
                shorten(reference)
            ),
        ),
        EvidenceState::OutsideRoot => c.error(
            pointer,
            format!("{what} `{}` is outside the plan root", shorten(reference)),
        ),
        EvidenceState::External
        | EvidenceState::Verified
        | EvidenceState::Failed
        | EvidenceState::Unchecked => {}
    }
}

/// A checked piece of evidence: one that fails is an error in a `done` handoff and a
/// warning otherwise; one that cannot be checked here is a warning.
fn report(c: &mut Checker, status: Option<HandoffStatus>, pointer: &str, outcome: Outcome) {
    match outcome {
        Outcome::Passed(_) => {}
        Outcome::Failed(m) if status == Some(HandoffStatus::Done) => c.error(pointer, m),
        Outcome::Failed(m) => c.warning(pointer, format!("{m} (an error once status is done)")),
        Outcome::Unchecked(m) => c.warning(pointer, m),
    }
}

/// Validates a contract as sent. Returns the report and, when valid, the contract to store.
pub(crate) fn validate(value: &Value, ctx: &Context<'_>) -> (Validation, Option<Contract>) {
    let mut c = Checker {
        problems: Vec::new(),
    };
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_CONTRACT_BYTES {
        c.error(
            "",
            format!("the contract is {size} bytes; the limit is {MAX_CONTRACT_BYTES}"),
        );
    } else {
        shape(value, &mut c);
    }
    let mut contract = None;
    if size <= MAX_CONTRACT_BYTES {
        // The plan rules run whatever the shape check found, so one round shows every problem.
        rules(&View::read(value), ctx, &mut c);
        if c.problems
            .iter()
            .all(|p| p.severity != ProblemSeverity::Error)
        {
            match serde_json::from_value::<RawContract>(value.clone()) {
                Ok(raw) => contract = Some(Contract::new(raw)),
                Err(e) => c.error("", format!("not a handoff contract: {e}")),
            }
        }
    }
    let valid = !c
        .problems
        .iter()
        .any(|p| p.severity == ProblemSeverity::Error);
    (
        Validation {
            valid,
            problems: c.problems,
        },
        if valid { contract } else { None },
    )
}
