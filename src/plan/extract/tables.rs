//! Tables: roadmap tables (sprint rows, per-role columns) and backlog story tables, and
//! ragged rows in any table.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::items::new_story;
use super::{RoadmapRow, RowRole, Walker};
use crate::model::{Severity, StatusMark, StatusMarkKind};
use crate::plan::markdown::{self, Block, Row};
use crate::plan::text;

/// Most ragged-row warnings reported per table; the rest are summed up in one more.
const RAGGED_REPORT_LIMIT: usize = 5;

impl Walker<'_> {
    pub(super) fn table(&mut self, header: &[Cow<str>], rows: &[Row], block: &Block) {
        let width = header.len();
        let ragged: Vec<&Row> = rows.iter().filter(|r| r.source_cells != width).collect();
        for row in ragged.iter().take(RAGGED_REPORT_LIMIT) {
            self.diag(
                Severity::Warning,
                "ragged-table",
                row.start,
                format!(
                    "table row has {} cells but its header has {width}; {}",
                    row.source_cells,
                    if row.source_cells < width {
                        "missing cells read as empty"
                    } else {
                        "extra cells ignored"
                    }
                ),
            );
        }
        if ragged.len() > RAGGED_REPORT_LIMIT {
            self.diag(
                Severity::Warning,
                "ragged-table",
                block.start,
                format!(
                    "{} more ragged rows in this table",
                    ragged.len() - RAGGED_REPORT_LIMIT
                ),
            );
        }
        // Only roadmap files and backlogs read their tables' columns.
        if !self.in_roadmap() && !self.in_backlog() {
            return;
        }
        let cols: Vec<String> = header.iter().map(|h| text::normalize_header(h)).collect();
        if self.in_roadmap() && cols.iter().any(|c| is_sprint_header(c)) {
            self.roadmap(header, &cols, rows);
        } else if self.in_backlog() {
            self.story_table(&cols, rows);
        }
    }

    fn roadmap(&mut self, header: &[Cow<str>], cols: &[String], rows: &[Row]) {
        let kinds: Vec<RoadmapCol> = header
            .iter()
            .zip(cols)
            .map(|(raw, norm)| RoadmapCol::classify(raw, norm))
            .collect();
        // Unlabelled mission/week columns belong to the table's role: a labelled Mission
        // Focus column, else the file's `role:`.
        let table_role = kinds
            .iter()
            .find_map(|k| match k {
                RoadmapCol::Mission(Some(l)) | RoadmapCol::Week(_, Some(l)) => Some(l.clone()),
                _ => None,
            })
            .or_else(|| self.front.get("role").cloned());
        let needs_role = kinds
            .iter()
            .any(|k| matches!(k, RoadmapCol::Mission(None) | RoadmapCol::Week(_, None)));
        // A `Role` column names the role of each row's unlabelled columns.
        let role_col = kinds.iter().position(|k| *k == RoadmapCol::Role);
        if needs_role && table_role.is_none() && role_col.is_none() {
            let at = rows.first().map(|r| r.start).unwrap_or(0);
            self.diag(
                Severity::Warning,
                "roadmap-role",
                at,
                "mission focus / week columns name no role (write `<Role> Mission Focus` or add `role:` front matter); ignored".into(),
            );
        }
        // A sprint table with columns storypack keeps only as extras, and none for the theme
        // (a per-role table of mission focus and weeks needs none): the theme may be hiding
        // under a name storypack does not know.
        let extras: Vec<&str> = kinds
            .iter()
            .zip(header)
            .filter(|(k, _)| **k == RoadmapCol::Extra)
            .map(|(_, h)| &**h)
            .collect();
        let per_role = kinds
            .iter()
            .any(|k| matches!(k, RoadmapCol::Mission(_) | RoadmapCol::Week(..)));
        if !kinds.contains(&RoadmapCol::Theme) && !per_role && !extras.is_empty() {
            let at = rows.first().map(|r| r.start).unwrap_or(0);
            let seen: Vec<&str> = header.iter().map(|h| &**h).collect();
            self.diag(
                Severity::Warning,
                "roadmap-theme",
                at,
                format!(
                    "roadmap table has no theme column (saw: {}; kept as extras: {}); name the theme column Theme, Goal, Sprint Goal, Focus or Objective",
                    seen.join(", "),
                    extras.join(", ")
                ),
            );
        }
        for row in rows {
            let sprint_cell = kinds
                .iter()
                .position(|k| *k == RoadmapCol::Sprint)
                .and_then(|i| row.cells.get(i))
                .map(|c| &**c)
                .unwrap_or("");
            let Some(sprint) = text::sprint_id(sprint_cell) else {
                if !text::is_empty_marker(sprint_cell) {
                    self.diag(
                        Severity::Warning,
                        "roadmap-row",
                        row.start,
                        format!("`{sprint_cell}` is not a sprint id (e.g. 03, Sprint 03, S03); row ignored"),
                    );
                }
                continue;
            };
            let row_role = role_col
                .and_then(|i| row.cells.get(i))
                .map(|c| c.trim().to_string())
                .filter(|c| !text::is_empty_marker(c));
            let table_role = row_role.or_else(|| table_role.clone());
            let mut out = RoadmapRow {
                sprint,
                theme: None,
                epics: Vec::new(),
                gate: None,
                start: None,
                end: None,
                roles: Vec::new(),
                extra: BTreeMap::new(),
                citation: self.cite(row.start, row.end),
            };
            for (i, kind) in kinds.iter().enumerate() {
                let cell = row.cells.get(i).map(|c| c.trim()).unwrap_or("");
                if text::is_empty_marker(cell) {
                    continue;
                }
                let mut role_slot = |label: &Option<String>| -> Option<usize> {
                    let label = label.clone().or_else(|| table_role.clone())?;
                    let pos = out.roles.iter().position(|r| r.label == label);
                    Some(pos.unwrap_or_else(|| {
                        out.roles.push(RowRole {
                            label,
                            ..RowRole::default()
                        });
                        out.roles.len() - 1
                    }))
                };
                match kind {
                    RoadmapCol::Sprint | RoadmapCol::Role => {}
                    RoadmapCol::Theme => out.theme = Some(cell.to_string()),
                    RoadmapCol::Epics => {
                        let ids: Vec<String> = text::split_ids(cell)
                            .into_iter()
                            .filter(|t| text::is_epic_id(t))
                            .collect();
                        if ids.is_empty() {
                            out.extra.insert(header[i].to_string(), cell.to_string());
                        }
                        out.epics = ids;
                    }
                    RoadmapCol::Gate => out.gate = Some(cell.to_string()),
                    RoadmapCol::Start | RoadmapCol::End => match text::parse_date(cell) {
                        Some(d) if *kind == RoadmapCol::Start => out.start = Some(d),
                        Some(d) => out.end = Some(d),
                        None => self.diag(
                            Severity::Warning,
                            "bad-date",
                            row.start,
                            format!(
                                "sprint {}: `{cell}` in column `{}` is not a date (write {})",
                                out.sprint,
                                header[i],
                                crate::plan::date::ACCEPTED
                            ),
                        ),
                    },
                    RoadmapCol::Mission(label) => {
                        if let Some(r) = role_slot(label) {
                            out.roles[r].mission_focus = Some(cell.to_string());
                        }
                    }
                    RoadmapCol::Week(week, label) => {
                        if let Some(r) = role_slot(label) {
                            let slot = if *week == 1 {
                                &mut out.roles[r].week1
                            } else {
                                &mut out.roles[r].week2
                            };
                            *slot = Some(cell.to_string());
                        }
                    }
                    RoadmapCol::Extra => {
                        out.extra.insert(header[i].to_string(), cell.to_string());
                    }
                }
            }
            self.roadmap_rows.push(out);
        }
    }

    fn story_table(&mut self, cols: &[String], rows: &[Row]) {
        let find = |names: &[&str]| cols.iter().position(|c| names.contains(&c.as_str()));
        let Some(id_col) = find(&["id", "story id", "story", "story-id", "key", "ticket"]) else {
            return;
        };
        let Some(title_col) = find(&["title", "task", "summary", "name", "description"]) else {
            return;
        };
        for row in rows {
            let cell = |i: usize| row.cells.get(i).map(|c| c.trim()).unwrap_or("");
            let id = cell(id_col);
            if !self.config.story_id.is_match(id) {
                if !text::is_empty_marker(id) {
                    self.diag(
                        Severity::Warning,
                        "bad-story-id",
                        row.start,
                        format!("`{id}` in the ID column is not a story id; row ignored"),
                    );
                }
                continue;
            }
            let mut story = new_story(
                id,
                cell(title_col).to_string(),
                self.cite(row.start, row.end),
            );
            for (i, col) in cols.iter().enumerate() {
                if i == id_col || i == title_col {
                    continue;
                }
                let key = if col.contains("epic") {
                    "epic"
                } else if col.starts_with("accept") {
                    "acceptance"
                } else if col.starts_with("depend") {
                    "depends on"
                } else if col.starts_with("estimate") || col == "est" {
                    "estimate"
                } else {
                    col.as_str()
                };
                let value = cell(i);
                if value.is_empty() {
                    continue;
                }
                self.apply_field(&mut story, key, value, Vec::new(), row.start, None);
            }
            for i in (0..cols.len()).filter(|&i| matches!(cols[i].as_str(), "status" | "state")) {
                if let Some(mark) = cell_mark(self.text, row, i) {
                    story.status_marks.push(mark);
                }
            }
            self.finish_story(&mut story, row.start);
            self.stories.push(story);
        }
    }
}

/// Where cell `i` of a story row holds its value as written, for `storypack sync`: the
/// cell's text between its pipes, spaces and markup around it left out. None when the
/// source does not show the value the reader took (a link, an escaped pipe in the cell).
fn cell_mark(text: &str, row: &Row, i: usize) -> Option<StatusMark> {
    let (start, end) = *markdown::source_cell_spans(text, row.start, row.end).get(i)?;
    let inner = text.get(start..end)?;
    let markup = [' ', '\t', '*', '_', '`'];
    let value = inner.trim_matches(markup);
    let parsed = row.cells.get(i).map(|c| c.trim()).unwrap_or("");
    if value != parsed {
        return None;
    }
    let (vs, ve) = if value.is_empty() {
        // An empty cell: the value goes after its first space.
        let at = start + usize::from(inner.starts_with(' '));
        (at, at)
    } else {
        let lead = inner.len() - inner.trim_start_matches(markup).len();
        (start + lead, start + lead + value.len())
    };
    Some(StatusMark {
        kind: StatusMarkKind::Cell,
        start: vs,
        end: ve,
        room_end: end,
    })
}

/// What teams call the column saying what a sprint is about: Theme, Goal, Sprint Goal,
/// Focus, Objective, Outcome, Mission (a per-role "Mission Focus" column is not one).
pub(super) const THEME_WORDS: &[&str] = &[
    "theme",
    "themes",
    "goal",
    "goals",
    "focus",
    "objective",
    "objectives",
    "outcome",
    "outcomes",
    "mission",
];

fn is_theme_header(norm: &str) -> bool {
    norm.split(' ').any(|w| THEME_WORDS.contains(&w))
}

fn is_sprint_header(norm: &str) -> bool {
    matches!(
        norm,
        "sprint"
            | "sprint #"
            | "sprint no."
            | "sprint no"
            | "sprint number"
            | "sprint id"
            | "sprint num"
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RoadmapCol {
    Sprint,
    Role,
    Theme,
    Epics,
    Gate,
    Mission(Option<String>),
    Week(u8, Option<String>),
    Start,
    End,
    Extra,
}

impl RoadmapCol {
    fn classify(raw: &str, norm: &str) -> RoadmapCol {
        let label_before = |needle: &str| -> Option<String> {
            let pos = text::find_ascii_ci(raw, needle)?;
            let label = raw[..pos].trim().trim_end_matches([':', '-', '—']).trim();
            (!label.is_empty()).then(|| label.to_string())
        };
        if is_sprint_header(norm) {
            RoadmapCol::Sprint
        } else if matches!(norm, "role" | "team" | "owner role" | "discipline") {
            RoadmapCol::Role
        } else if norm.contains("mission focus") {
            RoadmapCol::Mission(label_before("mission focus"))
        } else if let Some(w) = ["week 1", "week1"].iter().find(|n| norm.contains(*n)) {
            RoadmapCol::Week(1, label_before(w))
        } else if let Some(w) = ["week 2", "week2"].iter().find(|n| norm.contains(*n)) {
            RoadmapCol::Week(2, label_before(w))
        } else if is_theme_header(norm) {
            RoadmapCol::Theme
        } else if norm.contains("epic") {
            RoadmapCol::Epics
        } else if norm.contains("gate") {
            RoadmapCol::Gate
        } else if norm.split(' ').any(|w| w == "start" || w == "starts") {
            RoadmapCol::Start
        } else if norm
            .split(' ')
            .any(|w| matches!(w, "end" | "ends" | "finish" | "finishes"))
        {
            RoadmapCol::End
        } else {
            RoadmapCol::Extra
        }
    }
}
