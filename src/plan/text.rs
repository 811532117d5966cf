//! Small text helpers shared by the plan readers: ids, slugs, headers, dates, lines, hashes.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

#[allow(clippy::expect_used)] // literal patterns, checked by the tests below
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid literal regex")
}

static SPRINT_ID: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^(?:sprint[\s_-]*(?:#|no\.?|number)?\s*|s)?0*(\d{1,3})$"));
static SPRINT_IN_TEXT: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\bsprint[\s_-]*(?:#\s*)?(\d{1,3})\b"));
static SECTION_KEY: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(0[0-7])(?:\s*[-_.:]\s*|\s+)([A-Za-z]).*$"));
static WEEK: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)^week\s*([12])\b"));
static EPIC_ID: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z]+\d+-[A-Za-z]+\d+$"));
pub(crate) static FEATURE_HEAD: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(F\d+)(?:-(E\d+))?(?:$|[\s:.—–-]+(.*)$)"));

/// Byte offset of an ASCII `needle` in `haystack`, ignoring ASCII case. Unlike searching a
/// lowercased copy, the offset is valid in `haystack` whatever non-ASCII text it holds.
pub(crate) fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    let (&first, _) = n.split_first()?;
    if h.len() < n.len() {
        return None;
    }
    // Only where the first byte matches (either case, found with SIMD) is the rest compared.
    let last_start = h.len() - n.len();
    memchr::memchr2_iter(
        first.to_ascii_lowercase(),
        first.to_ascii_uppercase(),
        &h[..=last_start],
    )
    .find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// `s.to_lowercase().contains(needle)` for a lowercase ASCII `needle`, without the copy
/// when `s` is ASCII (its lowercase is then its ASCII lowercase).
pub(crate) fn lowercase_contains(s: &str, needle: &str) -> bool {
    if s.is_ascii() {
        find_ascii_ci(s, needle).is_some()
    } else {
        s.to_lowercase().contains(needle)
    }
}

/// Lowercased, whitespace-collapsed header text without trailing colons.
pub(crate) fn normalize_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word.to_lowercase());
    }
    out.trim_end_matches(':').trim().to_string()
}

/// `00`, `3`, `Sprint 03`, `S03`, `Sprint #3` -> "03". None when the text is not a sprint id.
pub(crate) fn sprint_id(s: &str) -> Option<String> {
    let caps = SPRINT_ID.captures(s.trim())?;
    let n: u32 = caps.get(1)?.as_str().parse().ok()?;
    Some(format!("{n:02}"))
}

/// The first "sprint NN" / "sprint-NN" mentioned in a text or path.
pub(crate) fn sprint_in_text(s: &str) -> Option<String> {
    // Every match holds "print" in ASCII letters of either case (`(?i)` folds no other
    // character to p, r, i, n or t; a test checks it), so most texts skip the regex.
    find_ascii_ci(s, "print")?;
    let caps = SPRINT_IN_TEXT.captures(s)?;
    let n: u32 = caps.get(1)?.as_str().parse().ok()?;
    Some(format!("{n:02}"))
}

/// "DevOps/SRE" -> "devops-sre".
pub(crate) fn slugify(s: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

/// "devops-sre-engineer" -> "Devops Sre Engineer".
pub(crate) fn label_from_slug(slug: &str) -> String {
    slug.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The canonical section key for a heading that opens a role-plan section, with its
/// number: "03 Backlog", "03-backlog", "03. Backlog (one-day tasks)" -> (3, "03-backlog").
pub(crate) fn section_key(heading: &str) -> Option<(u8, &'static str)> {
    let caps = SECTION_KEY.captures(heading.trim())?;
    let n: u8 = caps.get(1)?.as_str().parse().ok()?;
    let key = match n {
        0 => "00-governance",
        1 => "01-architecture",
        2 => "02-features",
        3 => "03-backlog",
        4 => "04-sprint-execution",
        5 => "05-engineering-playbooks",
        6 => "06-ai-agent-execution",
        _ => return None,
    };
    Some((n, key))
}

/// A section key written at the start of a line: "`00-governance`: confirm ..." ->
/// ("00-governance", "confirm ...").
pub(crate) fn leading_section_key(text: &str) -> Option<(&'static str, String)> {
    let t = text.trim();
    let end = t
        .find(|c: char| c == ':' || c.is_whitespace())
        .unwrap_or(t.len());
    let (head, rest) = t.split_at(end);
    if !head.starts_with(|c: char| c.is_ascii_digit()) || !head.contains('-') {
        return None;
    }
    let (_, key) = section_key(head)?;
    let rest = rest.trim_start_matches(|c: char| c == ':' || c.is_whitespace() || c == '-');
    Some((key, rest.trim().to_string()))
}

/// "Week 1", "Week 2 priorities" -> 1 / 2.
pub(crate) fn week_of(text: &str) -> Option<u8> {
    WEEK.captures(text.trim())?.get(1)?.as_str().parse().ok()
}

pub(crate) fn is_epic_id(s: &str) -> bool {
    EPIC_ID.is_match(s)
}

/// Splits a list of ids written with `,` `;` `+` `/` or whitespace between them.
pub(crate) fn split_ids(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c == ';' || c == '+' || c == '/' || c.is_whitespace())
        .map(|t| t.trim_matches(|c: char| c == '`' || c == '*' || c == '.'))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Splits a list of references or phrases on `,` and `;`; `-`, `—`, `none` alone mean empty.
pub(crate) fn split_list(s: &str) -> Vec<String> {
    s.split([',', ';'])
        .map(|t| t.trim().trim_matches('`').trim())
        .filter(|t| !t.is_empty() && !is_empty_marker(t))
        .map(str::to_string)
        .collect()
}

/// "-", "—", "n/a", "none": a cell or field that says "nothing".
pub(crate) fn is_empty_marker(s: &str) -> bool {
    matches!(
        s.trim().to_lowercase().as_str(),
        "" | "-" | "—" | "–" | "n/a" | "na" | "none" | "tbd"
    )
}

/// A date as plans write it (see [`super::date`]).
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    super::date::parse(s)
}

/// A source line without its bold and strong-emphasis markers (`**Epic:** F1` -> `Epic: F1`).
pub(crate) fn without_emphasis(line: &str) -> std::borrow::Cow<'_, str> {
    if line.contains("**") || line.contains("__") {
        line.replace("**", "").replace("__", "").into()
    } else {
        line.into()
    }
}

/// [`FEATURE_HEAD`] on a heading or item that may open with the word `Epic` or `Feature`
/// (`Epic F3-E1 — Push notifications`, `Feature F3: Notifications`).
pub(crate) fn feature_caps(s: &str) -> Option<regex::Captures<'_>> {
    let t = s.trim_start();
    let rest = ["epic", "feature"].iter().find_map(|w| {
        let head = t.get(..w.len())?;
        let after = &t[w.len()..];
        (head.eq_ignore_ascii_case(w) && after.starts_with([' ', ':']))
            .then(|| after.trim_start_matches([' ', ':']))
    });
    FEATURE_HEAD.captures(rest.unwrap_or(t))
}

/// A line that only labels the acceptance criteria listed below it: `Acceptance criteria`,
/// `**Acceptance Criteria:**`, `AC:`, `Definition of done`, `Done when` (markup stripped).
pub(crate) fn is_acceptance_label(line: &str) -> bool {
    let t = line
        .trim()
        .trim_matches(|c: char| c == '*' || c == '_' || c == '#' || c.is_whitespace())
        .trim_end_matches(':')
        .trim();
    // Every label is short; most lines are not, and need no lowercased copy.
    t.len() <= LONGEST_ACCEPTANCE_LABEL * 2
        && ACCEPTANCE_LABELS.contains(&normalize_header(t).as_str())
}

/// Bytes of the longest of [`ACCEPTANCE_LABELS`].
const LONGEST_ACCEPTANCE_LABEL: usize = {
    let mut i = 0;
    let mut longest = 0;
    while i < ACCEPTANCE_LABELS.len() {
        if ACCEPTANCE_LABELS[i].len() > longest {
            longest = ACCEPTANCE_LABELS[i].len();
        }
        i += 1;
    }
    longest
};

/// Story field keys storypack reads (normalized), besides [`ACCEPTANCE_LABELS`], each with
/// the name a diagnostic suggests.
pub(crate) const STORY_FIELDS: &[(&str, &str)] = &[
    ("epic", "Epic"),
    ("reviewer", "Reviewer"),
    ("reviewers", "Reviewer"),
    ("evidence", "Evidence"),
    ("depends on", "Depends on"),
    ("depends", "Depends on"),
    ("dependencies", "Depends on"),
    ("depends_on", "Depends on"),
    ("deps", "Depends on"),
    ("blocked by", "Depends on"),
    ("after", "Depends on"),
    ("estimate", "Estimate"),
    ("effort", "Estimate"),
    ("size", "Estimate"),
    ("points", "Estimate"),
    ("status", "Status"),
    ("state", "Status"),
    ("sprint", "Sprint"),
    ("role", "Role"),
    ("title", "Title"),
];

/// Whether a normalized field key is one only a story would have (an epic, acceptance
/// criteria, dependencies, an estimate), unlike `Status` or `Owner`, which risk and
/// dependency registers have too.
pub(crate) fn is_story_only_field(key: &str) -> bool {
    ACCEPTANCE_LABELS.contains(&key)
        || STORY_FIELDS.iter().any(|(k, name)| {
            *k == key && matches!(*name, "Epic" | "Depends on" | "Estimate") && *k != "after"
        })
}

/// Whether a normalized field key is one a story reads.
pub(crate) fn is_story_field(key: &str) -> bool {
    STORY_FIELDS.iter().any(|(k, _)| *k == key) || ACCEPTANCE_LABELS.contains(&key)
}

/// The known story field a key was probably meant to be (`dependancies`, `acceptance-criteria`,
/// `epik`): a small edit away, or the same once `-` and `_` read as spaces.
pub(crate) fn near_story_field(key: &str) -> Option<&'static str> {
    if key.chars().count() < 4 {
        return None;
    }
    let spaced = key.replace(['-', '_'], " ");
    let candidates = STORY_FIELDS.iter().copied().chain(
        ACCEPTANCE_LABELS
            .iter()
            .map(|k| (*k, "Acceptance criteria")),
    );
    candidates
        .filter(|(k, _)| k.len() >= 4)
        .map(|(k, name)| (strsim::damerau_levenshtein(&spaced, k), name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// Field names and label lines that mean acceptance criteria.
pub(crate) const ACCEPTANCE_LABELS: &[&str] = &[
    "acceptance",
    "acceptance criteria",
    "acceptance criterion",
    "acceptance tests",
    "ac",
    "acs",
    "criteria",
    "definition of done",
    "dod",
    "done when",
];

/// The text without its parenthetical comments: `PAY-12 (needs the transfer table)` ->
/// `PAY-12 `. Unbalanced parentheses are left as they are.
pub(crate) fn without_comments(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('(') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    if depth > 0 {
        return s.into();
    }
    out.into()
}

/// Splits "Key: value" at the first colon when the key looks like a field name.
pub(crate) fn field(text: &str) -> Option<(String, String)> {
    let (key, value) = text.split_once(':')?;
    let key = key.trim();
    if key.is_empty() || key.len() > 40 || key.contains(['[', '(', '`']) {
        return None;
    }
    if !key
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '_' || c == '-' || c == '/')
    {
        return None;
    }
    Some((normalize_header(key), value.trim().to_string()))
}

/// Line starts of a text, for offset -> 1-based line lookups.
pub(crate) fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    // Counting first sizes the vector exactly: one allocation, no regrowth (large files
    // have millions of lines).
    let lines = memchr::memchr_iter(b'\n', bytes).count();
    let mut starts = Vec::with_capacity(lines + 1);
    starts.push(0);
    starts.extend(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1));
    if starts.last() == Some(&text.len()) && !text.is_empty() {
        starts.pop();
    }
    starts
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(line_starts: &[usize], offset: usize) -> u32 {
    line_starts.partition_point(|&s| s <= offset).max(1) as u32
}

/// 1-based line of the last non-blank byte of `start..end` (blocks often end after their
/// newline or a blank line).
pub(crate) fn last_line_of(text: &str, line_starts: &[usize], start: usize, end: usize) -> u32 {
    let bytes = text.as_bytes();
    let mut e = end.min(bytes.len());
    while e > start + 1 && bytes[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    line_of(line_starts, e.max(start + 1) - 1)
}

/// XXH3-64 of a document's bytes, hex. Stable across platforms and releases (XXH3 is a
/// fixed, specified function): each document's hash, which packs cite in their `sources`
/// and stored packs are checked against.
pub(crate) fn doc_hash(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprint_ids_normalise_to_two_digits() {
        for (raw, id) in [
            ("00", "00"),
            ("3", "03"),
            ("Sprint 03", "03"),
            ("S03", "03"),
            ("sprint #7", "07"),
            ("Sprint-03", "03"),
            ("12", "12"),
            ("Sprint No. 4", "04"),
        ] {
            assert_eq!(sprint_id(raw).as_deref(), Some(id), "{raw}");
        }
        assert_eq!(sprint_id("Inception"), None);
        assert_eq!(sprint_id(""), None);
    }

    #[test]
    fn epic_and_feature_words_may_lead_a_feature_head() {
        let c = feature_caps("Epic F3-E1 — Push notifications").unwrap();
        assert_eq!(
            (&c[1], &c[2], c[3].trim()),
            ("F3", "E1", "Push notifications")
        );
        let c = feature_caps("Feature F3: Notifications").unwrap();
        assert_eq!((&c[1], c.get(2)), ("F3", None));
        assert!(feature_caps("F1-E2 Tenant isolation").is_some());
        assert!(feature_caps("Epics overview").is_none());
    }

    #[test]
    fn acceptance_labels_and_comments() {
        for l in [
            "Acceptance criteria",
            "**Acceptance Criteria:**",
            "AC:",
            "Definition of Done",
            "Done when:",
        ] {
            assert!(is_acceptance_label(l), "{l}");
        }
        assert!(!is_acceptance_label("Acceptance criteria: all green"));
        assert!(!is_acceptance_label("Notes"));
        assert_eq!(
            without_comments("PAY-12 (needs the transfer table)"),
            "PAY-12 "
        );
        assert_eq!(without_comments("A-1 (x (y)), A-2"), "A-1 , A-2");
        assert_eq!(without_comments("A-1 (open"), "A-1 (open");
    }

    #[test]
    fn section_keys_accept_the_written_variations() {
        assert_eq!(section_key("00-governance"), Some((0, "00-governance")));
        assert_eq!(section_key("03 Backlog"), Some((3, "03-backlog")));
        assert_eq!(
            section_key("04. Sprint execution"),
            Some((4, "04-sprint-execution"))
        );
        assert_eq!(section_key("2026 plans"), None);
        assert_eq!(section_key("09 later"), None);
        assert_eq!(
            leading_section_key("00-governance: confirm gate evidence by day 3"),
            Some(("00-governance", "confirm gate evidence by day 3".into()))
        );
    }

    #[test]
    fn lists_and_ids_split_on_every_separator() {
        assert_eq!(split_ids("F1-E1, F1-E2"), ["F1-E1", "F1-E2"]);
        assert_eq!(
            split_ids("F3-E3 + F5-E1/F4-E3;F2-E1"),
            ["F3-E3", "F5-E1", "F4-E3", "F2-E1"]
        );
        assert_eq!(split_list("a.md, b.md; c"), ["a.md", "b.md", "c"]);
        assert!(split_list("-").is_empty());
        assert!(is_epic_id("F1-E1") && !is_epic_id("SRE-04-01") && !is_epic_id("ADR"));
    }

    #[test]
    fn lines_are_one_based() {
        let t = "a\nbb\n\nc";
        let ls = line_starts(t);
        assert_eq!(ls, [0, 2, 5, 6]);
        assert_eq!(line_of(&ls, 0), 1);
        assert_eq!(line_of(&ls, 3), 2);
        assert_eq!(line_of(&ls, 6), 4);
        assert_eq!(last_line_of(t, &ls, 2, 5), 2);
    }

    #[test]
    fn ascii_search_offsets_survive_non_ascii_text() {
        assert_eq!(find_ascii_ci("İİ check Evidence: a", "evidence:"), Some(11));
        assert_eq!(find_ascii_ci("ẞẞ Mission Focus", "mission focus"), Some(7));
        assert_eq!(find_ascii_ci("abc", "abcd"), None);
        assert_eq!(find_ascii_ci("abc", ""), None);
        assert_eq!(find_ascii_ci("xx:Sprint", "sPRINT"), Some(3));
        assert_eq!(find_ascii_ci("sprin", "print"), None);
    }

    #[test]
    fn ascii_search_agrees_with_a_plain_scan() {
        let slow = |h: &str, n: &str| -> Option<usize> {
            let (h, n) = (h.as_bytes(), n.as_bytes());
            if n.is_empty() || h.len() < n.len() {
                return None;
            }
            (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
        };
        let hays = [
            "",
            "a",
            "Focus",
            "mission FOCUS: x",
            "ffffocus",
            "focu",
            "é focus é",
            ":focus:",
        ];
        for h in hays {
            for n in ["focus", "f", "us", ":", "focus:", "é"] {
                assert_eq!(find_ascii_ci(h, n), slow(h, n), "{h:?} {n:?}");
            }
        }
    }

    #[test]
    fn sprint_prefilter_letters_fold_only_to_ascii() {
        // `sprint_in_text` skips its regex unless "print" is there in ASCII: no other
        // character may match one of those letters case-insensitively.
        for letter in ['p', 'r', 'i', 'n', 't'] {
            let one = Regex::new(&format!("(?i)^{letter}$")).unwrap();
            let matching: Vec<char> = (0..=u32::from(char::MAX))
                .filter_map(char::from_u32)
                .filter(|c| one.is_match(c.encode_utf8(&mut [0; 4])))
                .collect();
            assert_eq!(matching, [letter.to_ascii_uppercase(), letter], "{letter}");
        }
        assert_eq!(sprint_in_text("SPRINT 7 plan").as_deref(), Some("07"));
        assert_eq!(sprint_in_text("ſprint 7").as_deref(), Some("07"));
        assert_eq!(sprint_in_text("Context"), None);
    }

    #[test]
    fn lowercase_search_matches_a_lowercased_copy() {
        for (s, needle) in [
            ("Gate Evidence", "gate evidence"),
            ("CHEC\u{212a}LIST", "checklist"),
            ("İ checklist", "checklist"),
            ("Sprint plan", "checklist"),
            ("ÀB gate EVIDENCE", "gate evidence"),
        ] {
            assert_eq!(
                lowercase_contains(s, needle),
                s.to_lowercase().contains(needle),
                "{s}"
            );
        }
    }

    #[test]
    fn doc_hash_known_values() {
        // The published XXH3-64 test values (seed 0).
        assert_eq!(doc_hash(b""), "2d06800538d394c2");
    }

    #[test]
    fn slugs_and_labels() {
        assert_eq!(slugify("DevOps/SRE"), "devops-sre");
        assert_eq!(slugify("  Back end  "), "back-end");
        assert_eq!(label_from_slug("backend-engineer"), "Backend Engineer");
    }
}
