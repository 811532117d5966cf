//! `storypack.toml`: the plan's optional overrides. Reading it never fails; problems become
//! diagnostics and the defaults stay in force.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use regex::Regex;

use crate::model::{Diagnostic, Severity};

pub(crate) const CONFIG_FILE: &str = "storypack.toml";
/// docs/plan-format.md, section 6: `SRE-04-01` and `DEV-123` are story ids, `F1-E1` is not.
const DEFAULT_STORY_ID: &str = r"[A-Z][A-Z0-9]*(-[A-Z0-9]+)*-[0-9]+";
const DEFAULT_SPRINT_DAYS: u32 = 14;

#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Anchored story id pattern.
    pub story_id: Regex,
    /// Extra files (relative to the plan root) whose tables are read as roadmaps.
    pub roadmap: Vec<String>,
    /// Role label (as the roadmap writes it) -> role slug.
    pub roles: BTreeMap<String, String>,
    pub first_sprint_start: Option<NaiveDate>,
    pub sprint_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            story_id: anchored(DEFAULT_STORY_ID).unwrap_or_else(|_| never()),
            roadmap: Vec::new(),
            roles: BTreeMap::new(),
            first_sprint_start: None,
            sprint_days: DEFAULT_SPRINT_DAYS,
        }
    }
}

fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

/// A pattern that matches nothing; only reachable if the default pattern stopped compiling.
#[allow(clippy::expect_used)]
fn never() -> Regex {
    Regex::new(r"[^\s\S]").expect("empty-class regex compiles")
}

impl Config {
    /// Reads `storypack.toml` text; `None` means there is no such file.
    pub(crate) fn parse(text: Option<&str>, diags: &mut Vec<Diagnostic>) -> Config {
        let mut config = Config::default();
        let Some(text) = text else { return config };
        let diag = |diags: &mut Vec<Diagnostic>, severity, line: u32, message: String| {
            diags.push(Diagnostic {
                severity,
                code: "config".into(),
                path: CONFIG_FILE.into(),
                line,
                message,
            })
        };
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                let line = e
                    .span()
                    .map(|s| text[..s.start.min(text.len())].matches('\n').count() as u32 + 1)
                    .unwrap_or(1);
                diag(
                    diags,
                    Severity::Error,
                    line,
                    format!("not valid TOML, defaults used: {}", e.message()),
                );
                return config;
            }
        };
        let line_of_key = |key: &str| -> u32 {
            text.lines()
                .position(|l| l.trim_start().starts_with(key))
                .map(|i| i as u32 + 1)
                .unwrap_or(1)
        };
        for (key, value) in &table {
            match (key.as_str(), value) {
                ("story_id", toml::Value::String(p)) => match anchored(p) {
                    Ok(re) => config.story_id = re,
                    Err(e) => diag(
                        diags,
                        Severity::Error,
                        line_of_key("story_id"),
                        format!("story_id is not a valid regex, default used: {e}"),
                    ),
                },
                ("roadmap", toml::Value::Array(items)) => {
                    for item in items {
                        match item.as_str() {
                            Some(s) => config.roadmap.push(s.trim_start_matches("./").to_string()),
                            None => diag(
                                diags,
                                Severity::Warning,
                                line_of_key("roadmap"),
                                "roadmap entries must be strings (paths)".into(),
                            ),
                        }
                    }
                }
                ("roadmap", toml::Value::String(s)) => {
                    config.roadmap.push(s.trim_start_matches("./").to_string())
                }
                ("roles", toml::Value::Table(roles)) => {
                    for (label, slug) in roles {
                        match slug.as_str() {
                            Some(s) => {
                                config.roles.insert(label.clone(), s.to_string());
                            }
                            None => diag(
                                diags,
                                Severity::Warning,
                                line_of_key(label),
                                format!("[roles] {label:?} must map to a role slug string"),
                            ),
                        }
                    }
                }
                ("calendar", toml::Value::Table(cal)) => {
                    for (k, v) in cal {
                        match (k.as_str(), v) {
                            ("first_sprint_start", toml::Value::Datetime(d)) => {
                                config.first_sprint_start = d.date.and_then(|d| {
                                    NaiveDate::from_ymd_opt(
                                        i32::from(d.year),
                                        u32::from(d.month),
                                        u32::from(d.day),
                                    )
                                });
                            }
                            ("first_sprint_start", toml::Value::String(s)) => {
                                match super::text::parse_date(s) {
                                    Some(d) => config.first_sprint_start = Some(d),
                                    None => diag(
                                        diags,
                                        Severity::Error,
                                        line_of_key("first_sprint_start"),
                                        format!(
                                            "first_sprint_start {s:?} is not a date (write {})",
                                            super::date::ACCEPTED
                                        ),
                                    ),
                                }
                            }
                            ("sprint_days", toml::Value::Integer(n)) if (1..=365).contains(n) => {
                                config.sprint_days = *n as u32;
                            }
                            _ => diag(
                                diags,
                                Severity::Warning,
                                line_of_key(k),
                                format!(
                                    "[calendar] {k} is not understood (expected first_sprint_start = YYYY-MM-DD, sprint_days = 1..365)"
                                ),
                            ),
                        }
                    }
                }
                _ => diag(
                    diags,
                    Severity::Warning,
                    line_of_key(key),
                    format!(
                        "unknown setting `{key}` (known: story_id, roadmap, [roles], [calendar])"
                    ),
                ),
            }
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_setting() {
        let mut d = Vec::new();
        let c = Config::parse(
            Some(
                "story_id = \"T[0-9]+\"\nroadmap = [\"plan/roadmap.md\"]\n[roles]\n\"DevOps/SRE\" = \"sre\"\n[calendar]\nfirst_sprint_start = 2026-01-05\nsprint_days = 10\n",
            ),
            &mut d,
        );
        assert!(d.is_empty(), "{d:?}");
        assert!(c.story_id.is_match("T12") && !c.story_id.is_match("SRE-01-01"));
        assert_eq!(c.roadmap, ["plan/roadmap.md"]);
        assert_eq!(c.roles["DevOps/SRE"], "sre");
        assert_eq!(c.first_sprint_start, NaiveDate::from_ymd_opt(2026, 1, 5));
        assert_eq!(c.sprint_days, 10);
    }

    #[test]
    fn bad_settings_become_diagnostics_and_defaults_stay() {
        let mut d = Vec::new();
        let c = Config::parse(Some("story_id = \"([\"\ncolour = 1\n"), &mut d);
        assert!(c.story_id.is_match("SRE-04-01"));
        assert_eq!(d.len(), 2);
        let regex = d
            .iter()
            .find(|d| d.message.contains("not a valid regex"))
            .unwrap();
        assert_eq!((regex.line, regex.severity), (1, Severity::Error));
        let unknown = d.iter().find(|d| d.message.contains("colour")).unwrap();
        assert_eq!((unknown.line, unknown.severity), (2, Severity::Warning));
        let mut d = Vec::new();
        Config::parse(Some("[calendar\n"), &mut d);
        assert_eq!(d[0].severity, Severity::Error);
    }
}
