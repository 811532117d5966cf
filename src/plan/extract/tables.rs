//! Tables: roadmap tables (sprint rows, per-role columns) and backlog story tables, and
//! ragged rows in any table.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::items::new_story;
use super::{RoadmapRow, RowRole, Walker};
use crate::model::{DocKind, Epic, Feature, Severity, StatusMark, StatusMarkKind};
use crate::plan::markdown::{self, Block, Row};
use crate::plan::text;

/// Whether column `i` has a cell that is `filled`, and every such cell is `ok`.
fn column_all(
    rows: &[Row],
    i: usize,
    filled: impl Fn(&str) -> bool,
    ok: impl Fn(&str) -> bool,
) -> bool {
    let mut cells = rows
        .iter()
        .map(|r| cell(r, i))
        .filter(|c| filled(c))
        .peekable();
    cells.peek().is_some() && cells.all(ok)
}

/// A row's cell `i`, trimmed ("" when the row has none).
fn cell<'r>(row: &'r Row, i: usize) -> &'r str {
    row.cells.get(i).map(|c| c.trim()).unwrap_or("")
}

/// Headers of a features table's title column (normalized).
const TITLE_HEADERS: &[&str] = &["title", "name", "epic name", "epic title", "summary"];

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
        let cols: Vec<String> = header.iter().map(|h| text::normalize_header(h)).collect();
        if self.kind_here() == DocKind::Features {
            self.features_table(&cols, rows);
            return;
        }
        // Only roadmap files and backlogs read their tables' columns.
        if self.in_roadmap() && cols.iter().any(|c| is_sprint_header(c)) {
            self.roadmap(header, &cols, rows);
        } else if self.in_backlog() {
            self.story_table(header, &cols, rows);
        } else {
            self.unread_table(header, &cols, rows, block);
        }
    }

    /// A column whose filled cells are all story ids (at least one), if any.
    fn story_id_column(&self, rows: &[Row]) -> Option<usize> {
        let width = rows.first()?.cells.len();
        (0..width).find(|&i| {
            column_all(
                rows,
                i,
                |c| !text::is_empty_marker(c),
                |c| self.config.story_id.is_match(&text::without_emphasis(c)),
            )
        })
    }

    /// A table storypack does not read here that looks like a roadmap (a sprint column and
    /// roadmap columns) or a backlog (a column of story ids and story fields): say so.
    fn unread_table(&mut self, header: &[Cow<str>], cols: &[String], rows: &[Row], block: &Block) {
        let seen = || {
            header
                .iter()
                .map(|h| h.trim())
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Classify only tables with a sprint column: most tables have none.
        let roadmap_like = cols.iter().any(|c| is_sprint_header(c))
            && header.iter().zip(cols).any(|(raw, norm)| {
                matches!(
                    RoadmapCol::classify(raw, norm),
                    RoadmapCol::Theme
                        | RoadmapCol::Start
                        | RoadmapCol::End
                        | RoadmapCol::Mission(_)
                        | RoadmapCol::Week(..)
                )
            });
        if roadmap_like {
            self.diag(
                Severity::Warning,
                "roadmap-table-elsewhere",
                block.start,
                format!(
                    "table looks like a roadmap (columns: {}) but this is not a roadmap, so it is not read; roadmaps are read from `04-…` files or under a `Roadmap` heading",
                    seen()
                ),
            );
            return;
        }
        // A backlog names its stories (a title column) and has a field only stories have;
        // a risk or dependency register (ID | Risk | Epic | Status) has no title column.
        let titled = cols.iter().any(|c| {
            matches!(
                c.as_str(),
                "title" | "summary" | "task" | "user story" | "story"
            )
        });
        if titled
            && let Some(ids) = self.story_id_column(rows)
            && cols
                .iter()
                .enumerate()
                .any(|(i, c)| i != ids && text::is_story_only_field(c))
        {
            self.diag(
                Severity::Warning,
                "story-table-elsewhere",
                block.start,
                format!(
                    "table lists stories with story fields (columns: {}) but this is not a backlog, so they are not read; declare stories under a `03-…` folder or a `Backlog` heading",
                    seen()
                ),
            );
        }
    }

    /// A features file's table of epics (`Epic | Title | Feature`) or of features
    /// (`Feature | Title`): the column whose cells are all epic ids (`F1-E2`), else all
    /// feature ids (`F1`), declares one per row; the title is the `Title` / `Name` column's,
    /// else the first other column's. A `Feature` cell such as `F1 Fleet visibility`
    /// declares that feature too, once, at the first row naming it.
    fn features_table(&mut self, cols: &[String], rows: &[Row]) {
        let all_ids = |i: usize, epic: bool| {
            column_all(
                rows,
                i,
                |c| !c.is_empty(),
                |c| {
                    text::FEATURE_HEAD
                        .captures(c)
                        .is_some_and(|m| m.get(2).is_some() == epic && m.get(3).is_none())
                },
            )
        };
        let Some((id_col, epic)) = (0..cols.len())
            .find(|&i| all_ids(i, true))
            .map(|i| (i, true))
            .or_else(|| {
                (0..cols.len())
                    .find(|&i| all_ids(i, false))
                    .map(|i| (i, false))
            })
        else {
            return;
        };
        let title_col = cols
            .iter()
            .position(|c| TITLE_HEADERS.contains(&c.as_str()))
            .filter(|&i| i != id_col)
            .or_else(|| (0..cols.len()).find(|&i| i != id_col && !cols[i].contains("feature")));
        let feature_col = cols
            .iter()
            .position(|c| c.contains("feature"))
            .filter(|&i| epic && i != id_col);
        let mut declared: Vec<String> = Vec::new();
        for row in rows {
            let id = cell(row, id_col);
            if id.is_empty() {
                continue;
            }
            let title = title_col.map(|i| cell(row, i)).unwrap_or("").to_string();
            let citation = self.cite(row.start, row.end);
            if !epic {
                self.features.push(Feature {
                    id: id.to_string(),
                    title,
                    epics: Vec::new(),
                    citation,
                });
                continue;
            }
            let feature = id.split('-').next().unwrap_or(id).to_string();
            if let Some(caps) = feature_col.and_then(|i| text::feature_caps(cell(row, i)))
                && caps.get(2).is_none()
                && let (Some(f), Some(t)) = (caps.get(1), caps.get(3))
                && f.as_str() == feature
                && !declared.contains(&feature)
            {
                declared.push(feature.clone());
                self.features.push(Feature {
                    id: feature.clone(),
                    title: t.as_str().trim().to_string(),
                    epics: Vec::new(),
                    citation: citation.clone(),
                });
            }
            self.epics.push(Epic {
                id: id.to_string(),
                feature,
                title,
                citation,
            });
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

    fn story_table(&mut self, header: &[Cow<str>], cols: &[String], rows: &[Row]) {
        let find = |names: &[&str]| cols.iter().position(|c| names.contains(&c.as_str()));
        let id_col = find(&["id", "story id", "story", "story-id", "key", "ticket"]);
        let title_col = find(&["title", "task", "summary", "name", "description"]);
        let (Some(id_col), Some(title_col)) = (id_col, title_col) else {
            // A table of story ids whose columns are not named as storypack expects.
            if self.story_id_column(rows).is_some() {
                let seen = header
                    .iter()
                    .map(|h| h.trim())
                    .collect::<Vec<_>>()
                    .join(", ");
                let missing = if id_col.is_none() { "ID" } else { "Title" };
                let at = rows.first().map(|r| r.start).unwrap_or(0);
                self.diag(
                    Severity::Warning,
                    "story-table-columns",
                    at,
                    format!(
                        "backlog table lists story ids but has no {missing} column (saw: {seen}), so its stories are not read; name the columns ID (or Story, Key) and Title (or Summary, Name)"
                    ),
                );
            }
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

#[cfg(test)]
mod tests {
    use crate::plan::config::Config;
    use crate::plan::extract::extract;

    fn read(text: &str) -> super::super::FileFacts {
        extract("docs/02-features/epics.md", text, &Config::default())
    }

    #[test]
    fn an_epics_table_declares_epics_and_the_features_it_names() {
        let f = read(
            "# Epics\n\n| Epic | Feature | Title |\n|---|---|---|\n| F1-E1 | F1 Fleet visibility | Dock feed |\n| F1-E2 | F1 Fleet visibility | Live map |\n| F2-E1 | F2 | Work orders |\n",
        );
        let epics: Vec<(&str, &str, &str, u32)> = f
            .epics
            .iter()
            .map(|e| (&*e.id, &*e.feature, &*e.title, e.citation.line_start))
            .collect();
        assert_eq!(
            epics,
            [
                ("F1-E1", "F1", "Dock feed", 5),
                ("F1-E2", "F1", "Live map", 6),
                ("F2-E1", "F2", "Work orders", 7)
            ]
        );
        // `F1 Fleet visibility` declares F1 once; a bare `F2` declares nothing.
        let features: Vec<(&str, &str, u32)> = f
            .features
            .iter()
            .map(|x| (&*x.id, &*x.title, x.citation.line_start))
            .collect();
        assert_eq!(features, [("F1", "Fleet visibility", 5)]);
    }

    #[test]
    fn a_features_table_declares_features_and_other_tables_nothing() {
        let f = read("| ID | Name |\n|---|---|\n| F1 | Fleet |\n| F2 | Rebalancing |\n");
        let features: Vec<(&str, &str)> = f.features.iter().map(|x| (&*x.id, &*x.title)).collect();
        assert_eq!(features, [("F1", "Fleet"), ("F2", "Rebalancing")]);
        // A column that mixes ids and prose is not an id column.
        let f = read("| Epic | Title |\n|---|---|\n| F1-E1 | A |\n| later | B |\n");
        assert!(f.epics.is_empty() && f.features.is_empty());
    }
}
