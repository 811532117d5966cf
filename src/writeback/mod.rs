//! Write-back (`storypack sync`): the plan edits that record what the handoff record already
//! says. A story whose latest valid handoff is `done` while the plan still reads todo gets
//! its task box ticked (`- [ ] ID` -> `- [x] ID`) and its `Status:` field or cell set to
//! done. Nothing else changes: each edit replaces a few bytes inside one line, so line
//! endings, a missing final newline and every other byte stay as they are.
//!
//! - [`plan_edits`]: pure, plan + done stories -> the edits per file (and the stories whose
//!   status the plan writes nowhere storypack can edit).
//! - [`FileEdit`]: one file's edits, its new text and its unified diff.
//! - [`write`](mod@write): applying one file's edits on disk, refusing a file that changed since read.

mod diff;
pub(crate) mod write;

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{Citation, Doc, Plan, StatusMarkKind, StoryStatus};
use crate::plan::text;

pub use write::WriteOutcome;

/// A story the handoff record says is done: its id and the handoff that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoneStory {
    pub story_id: String,
    /// The record id, `SRE-04-01#2`.
    pub handoff: String,
}

/// One replacement inside one line: `start..end` of the document's text becomes `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub story_id: String,
    pub handoff: String,
    pub kind: StatusMarkKind,
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The edits of one plan file, against its text as storypack read it.
#[derive(Debug, Clone)]
pub struct FileEdit {
    /// Relative to the plan root, with `/`.
    pub path: String,
    /// The document as read: its text is what the file must still hold when it is written.
    pub read: Arc<Doc>,
    /// In file order, never overlapping, each within one line.
    pub replacements: Vec<Replacement>,
}

/// What [`plan_edits`] found: the files to edit (in path order) and the stories it cannot
/// record.
#[derive(Debug, Clone, Default)]
pub struct Edits {
    pub files: Vec<FileEdit>,
    pub unrecordable: Vec<Unrecordable>,
}

/// A story the record says is done whose status the plan writes nowhere storypack can edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Unrecordable {
    pub story_id: String,
    pub handoff: String,
    pub reason: String,
    pub citation: Citation,
}

/// The plan edits that record `done` stories the plan does not yet say are done. Stories the
/// plan already marks done, and ids the plan does not have, give nothing.
pub fn plan_edits(plan: &Plan, done: &[DoneStory]) -> Edits {
    let mut by_file: Vec<FileEdit> = Vec::new();
    let mut unrecordable = Vec::new();
    for d in done {
        let Some(story) = plan.story(&d.story_id) else {
            continue;
        };
        if story.status == StoryStatus::Done {
            continue;
        }
        let Some(doc) = plan
            .doc_index(&story.citation.path)
            .and_then(|i| plan.docs.get(i))
        else {
            continue;
        };
        if story.status_marks.is_empty() {
            unrecordable.push(Unrecordable {
                story_id: story.id.clone(),
                handoff: d.handoff.clone(),
                reason: "no task box, Status field or Status column to edit; add one (`- [ ]`, `Status: todo`) and sync again".into(),
                citation: story.citation.clone(),
            });
            continue;
        }
        let file = match by_file.iter_mut().position(|f| f.path == doc.path) {
            Some(i) => &mut by_file[i],
            None => {
                by_file.push(FileEdit {
                    path: doc.path.clone(),
                    read: Arc::clone(doc),
                    replacements: Vec::new(),
                });
                let last = by_file.len() - 1;
                &mut by_file[last]
            }
        };
        for mark in &story.status_marks {
            let Some(old) = doc.text.get(mark.start..mark.end) else {
                continue;
            };
            let (end, text) = replacement_text(&doc.text, mark, old);
            file.replacements.push(Replacement {
                story_id: story.id.clone(),
                handoff: d.handoff.clone(),
                kind: mark.kind,
                start: mark.start,
                end,
                text,
            });
        }
    }
    for f in &mut by_file {
        f.replacements.sort_by_key(|r| (r.start, r.end));
        // A place given twice (never by the reader; by a caller's duplicate ids) is edited once.
        let mut last_end = 0;
        f.replacements.retain(|r| {
            let keep = r.start >= last_end;
            last_end = last_end.max(r.end);
            keep
        });
    }
    by_file.retain(|f| !f.replacements.is_empty());
    by_file.sort_by(|a, b| a.path.cmp(&b.path));
    Edits {
        files: by_file,
        unrecordable,
    }
}

/// What a status mark becomes, and where the replaced range ends (a table cell may take some
/// of its trailing spaces, or get padding, to keep its pipes where they were).
fn replacement_text(text: &str, mark: &crate::model::StatusMark, old: &str) -> (usize, String) {
    match mark.kind {
        StatusMarkKind::Checkbox => (mark.end, "x".to_string()),
        StatusMarkKind::Field => {
            let word = done_word(old);
            // `Status:` with nothing after it: keep a space after the colon.
            let spaced = old.is_empty() && text[..mark.start].ends_with(':');
            (mark.end, if spaced { format!(" {word}") } else { word })
        }
        StatusMarkKind::Cell => {
            let word = done_word(old);
            let (old_w, new_w) = (old.chars().count(), word.chars().count());
            if new_w <= old_w {
                return (mark.end, format!("{word}{}", " ".repeat(old_w - new_w)));
            }
            // Longer: take trailing spaces of the cell, keeping one before the pipe.
            let room = text.get(mark.end..mark.room_end).unwrap_or("");
            let spaces = room.len() - room.trim_start_matches(' ').len();
            let take = if room.trim_start_matches(' ').is_empty() {
                (new_w - old_w).min(spaces.saturating_sub(1))
            } else {
                0
            };
            (mark.end + take, word)
        }
    }
}

/// `done`, in the case the old value was written in: `Done` for `In review`, `DONE` for
/// `TODO`; `[x]` for a `[ ]` value.
fn done_word(old: &str) -> String {
    if old.trim() == "[ ]" {
        return "[x]".into();
    }
    let letters: Vec<char> = old.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() > 1 && letters.iter().all(|c| c.is_uppercase()) {
        "DONE".into()
    } else if letters.first().is_some_and(|c| c.is_uppercase()) {
        "Done".into()
    } else {
        "done".into()
    }
}

impl FileEdit {
    /// The file's text after the edits (BOM not included, like the text read).
    pub fn apply(&self) -> String {
        let text = &self.read.text;
        let mut out = String::with_capacity(text.len() + 16 * self.replacements.len());
        let mut at = 0;
        for r in &self.replacements {
            out.push_str(&text[at..r.start]);
            out.push_str(&r.text);
            at = r.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// The changed lines, 1-based, in order, without duplicates.
    pub fn lines(&self) -> Vec<u32> {
        let mut lines: Vec<u32> = self
            .replacements
            .iter()
            .map(|r| text::line_of(&self.read.line_starts, r.start))
            .collect();
        lines.dedup();
        lines
    }

    /// The edits as a unified diff (`--- a/PATH`, `+++ b/PATH`, hunks with three lines of
    /// context), lines written with their own endings: `git apply` takes it.
    pub fn diff(&self) -> String {
        diff::unified(&self.path, &self.read.text, &self.apply(), &self.lines())
    }
}

/// A changed line as the JSON shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LineChange {
    pub line: u32,
    /// The stories whose status the line holds.
    pub stories: Vec<String>,
    /// The line before and after, without its line ending.
    pub before: String,
    pub after: String,
}

/// One file's part of a sync: its changed lines and its unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileChange {
    pub path: String,
    pub changes: Vec<LineChange>,
    pub diff: String,
}

/// One story to record as done, with where and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoryEdit {
    pub story_id: String,
    /// The handoff that says it is done (`SRE-04-01#2`).
    pub handoff: String,
    pub path: String,
    /// The lines edited for it.
    pub lines: Vec<u32>,
    /// What is edited: `checkbox`, `status_field`, `status_cell` (one or more).
    pub edits: Vec<String>,
}

/// A file `sync --write` left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Refused {
    pub path: String,
    pub reason: String,
}

/// What `storypack sync` reports (`--json`): the stories to record, the files and their
/// diffs, the stories it cannot record, and with `--write` what was written or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncReport {
    /// Whether the edits were applied (`--write`).
    pub write: bool,
    pub stories: Vec<StoryEdit>,
    pub files: Vec<FileChange>,
    pub unrecordable: Vec<Unrecordable>,
    /// With `--write`: the files replaced, by path.
    pub written: Vec<String>,
    /// With `--write`: the files left alone because they changed since they were read.
    pub refused: Vec<Refused>,
}

impl SyncReport {
    /// The report of `edits`; `outcomes` (one per file, in order) when they were written.
    pub fn new(edits: &Edits, outcomes: Option<&[WriteOutcome]>) -> SyncReport {
        let mut stories: Vec<StoryEdit> = Vec::new();
        let mut files = Vec::new();
        for f in &edits.files {
            let new = f.apply();
            let new_starts = text::line_starts(&new);
            let mut changes: Vec<LineChange> = Vec::new();
            for r in &f.replacements {
                let line = text::line_of(&f.read.line_starts, r.start);
                let kind = match r.kind {
                    StatusMarkKind::Checkbox => "checkbox",
                    StatusMarkKind::Field => "status_field",
                    StatusMarkKind::Cell => "status_cell",
                };
                match stories
                    .iter_mut()
                    .find(|s| s.story_id == r.story_id && s.path == f.path)
                {
                    Some(s) => {
                        if !s.lines.contains(&line) {
                            s.lines.push(line);
                        }
                        if !s.edits.iter().any(|e| e == kind) {
                            s.edits.push(kind.to_string());
                        }
                    }
                    None => stories.push(StoryEdit {
                        story_id: r.story_id.clone(),
                        handoff: r.handoff.clone(),
                        path: f.path.clone(),
                        lines: vec![line],
                        edits: vec![kind.to_string()],
                    }),
                }
                match changes.iter_mut().find(|c| c.line == line) {
                    Some(c) => {
                        if !c.stories.contains(&r.story_id) {
                            c.stories.push(r.story_id.clone());
                        }
                    }
                    None => changes.push(LineChange {
                        line,
                        stories: vec![r.story_id.clone()],
                        before: line_text(&f.read.text, &f.read.line_starts, line).to_string(),
                        after: line_text(&new, &new_starts, line).to_string(),
                    }),
                }
            }
            files.push(FileChange {
                path: f.path.clone(),
                changes,
                diff: f.diff(),
            });
        }
        let mut written = Vec::new();
        let mut refused = Vec::new();
        for (f, outcome) in edits.files.iter().zip(outcomes.unwrap_or_default()) {
            match outcome {
                WriteOutcome::Written => written.push(f.path.clone()),
                WriteOutcome::Refused(reason) => refused.push(Refused {
                    path: f.path.clone(),
                    reason: reason.clone(),
                }),
            }
        }
        SyncReport {
            write: outcomes.is_some(),
            stories,
            files,
            unrecordable: edits.unrecordable.clone(),
            written,
            refused,
        }
    }

    /// Whether the plan already records everything the handoff record says is done.
    pub fn in_step(&self) -> bool {
        self.stories.is_empty() && self.unrecordable.is_empty()
    }
}

/// Line `n` (1-based) of a text, without its line ending.
fn line_text<'t>(text: &'t str, starts: &[usize], n: u32) -> &'t str {
    let i = n as usize - 1;
    let a = starts.get(i).copied().unwrap_or(text.len());
    let b = starts.get(i + 1).copied().unwrap_or(text.len());
    text[a..b].trim_end_matches('\n').trim_end_matches('\r')
}

#[cfg(test)]
mod tests;
