//! Calendar dates as plans and people write them: ISO `2026-11-16` and the common written
//! forms (`Nov 16, 2026`, `November 16, 2026`, `16 Nov 2026`, `Mon, Nov 16th 2026`, ...).
//! Purely numeric forms other than ISO (`11/16/2026`, `16.11.2026`) are refused: whether the
//! day or the month comes first cannot be known, and a wrong guess is a silent misreading.

use chrono::NaiveDate;

/// The forms accepted, for messages: every date error names them.
pub const ACCEPTED: &str =
    "YYYY-MM-DD (2026-11-16), `Nov 16, 2026`, `November 16, 2026` or `16 Nov 2026`";

/// chrono formats tried in order on the normalized text (month names in any case; `%B` is
/// the full name, `%b` the abbreviation).
const FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%b %d, %Y",
    "%b %d %Y",
    "%B %d, %Y",
    "%B %d %Y",
    "%d %b %Y",
    "%d %B %Y",
    "%d %b, %Y",
    "%d %B, %Y",
    "%d-%b-%Y",
];

/// The date `s` names, or `None`.
pub fn parse(s: &str) -> Option<NaiveDate> {
    let text = normalize(s)?;
    FORMATS
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(&text, f).ok())
}

/// The date `s` names, or an error naming the accepted forms (for `--today` and fields).
pub fn parse_or_explain(s: &str) -> Result<NaiveDate, String> {
    parse(s).ok_or_else(|| {
        let shown: String = s.trim().chars().take(64).collect();
        format!("`{shown}` is not a date (write {ACCEPTED})")
    })
}

/// Collapses whitespace, drops a leading weekday, ordinal suffixes (`16th`), the period of an
/// abbreviation (`Nov.`) and `Sept` -> `Sep`, so the formats above see one spelling.
fn normalize(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('.');
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let mut words: Vec<String> = s
        .split_whitespace()
        .map(|w| {
            let (core, comma) = match w.strip_suffix(',') {
                Some(c) => (c, ","),
                None => (w, ""),
            };
            let core = core.strip_suffix('.').unwrap_or(core);
            let core = strip_ordinal(core);
            let core = if core.eq_ignore_ascii_case("sept") {
                "Sep"
            } else {
                core
            };
            format!("{core}{comma}")
        })
        .collect();
    if words.len() >= 3 && is_weekday(words[0].trim_end_matches(',')) {
        words.remove(0);
    }
    Some(words.join(" "))
}

/// `16th` -> `16`, `1st` -> `1`; other words as they are.
fn strip_ordinal(w: &str) -> &str {
    let lower = w.to_ascii_lowercase();
    for suffix in ["st", "nd", "rd", "th"] {
        if lower.ends_with(suffix) {
            let digits = &w[..w.len() - 2];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return digits;
            }
        }
    }
    w
}

fn is_weekday(w: &str) -> bool {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let w = w.trim_end_matches('.').to_ascii_lowercase();
    w.len() >= 3 && DAYS.iter().any(|d| d.starts_with(&w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn iso_and_the_written_forms_are_read() {
        for s in [
            "2026-11-16",
            "2026/11/16",
            " Nov 16, 2026 ",
            "Nov 16 2026",
            "nov 16, 2026",
            "Nov. 16, 2026",
            "November 16, 2026",
            "NOVEMBER 16, 2026",
            "16 Nov 2026",
            "16 November 2026",
            "16 Nov, 2026",
            "16-Nov-2026",
            "Nov 16th, 2026",
            "16th November 2026",
            "Mon, Nov 16, 2026",
            "Monday 16 November 2026",
        ] {
            assert_eq!(parse(s), d(2026, 11, 16), "{s}");
        }
        assert_eq!(parse("Sept 1, 2026"), d(2026, 9, 1));
        assert_eq!(parse("Dec 4, 2026"), d(2026, 12, 4));
        assert_eq!(parse("1st Mar 2027"), d(2027, 3, 1));
    }

    #[test]
    fn ambiguous_impossible_and_partial_dates_are_refused() {
        for s in [
            "",
            "11/16/2026",
            "16/11/2026",
            "16.11.2026",
            "Nov 16",
            "Nov 31, 2026",
            "2026-02-30",
            "Q4 2026",
            "tbd",
            "day 3",
            "Nov 16, 2026 and more",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }

    #[test]
    fn the_error_names_the_accepted_forms() {
        let e = parse_or_explain("16/11/2026").unwrap_err();
        assert!(e.contains("`16/11/2026` is not a date"), "{e}");
        assert!(
            e.contains("Nov 16, 2026") && e.contains("YYYY-MM-DD"),
            "{e}"
        );
    }
}
