//! Readable text for people and agents, from the same values the JSON output carries.

use std::fmt::Write;

use crate::app::{ClaimList, LintReport, SearchResult, SprintList, StoryList};
use crate::coord::next::NextStory;
use crate::gate::{GateReport, HandoffState, PackState, Verdict};
use crate::handoff::{HandoffList, RecordOutcome, Validation};
use crate::model::{Claim, Story, StoryState, escape_controls as esc};
use crate::pack::files::PackCheck;
use crate::priorities::{Priorities, Selection};
use crate::writeback::SyncReport;

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

pub fn sprints(list: &SprintList) -> String {
    let mut out = String::new();
    if list.sprints.is_empty() {
        out.push_str("No sprints: the plan has no roadmap table (a table with a Sprint column under docs/04-sprints/).\n");
        return out;
    }
    for s in &list.sprints {
        let dates = match (s.start, s.end) {
            (Some(a), Some(b)) => format!("{a} .. {b}"),
            (Some(a), None) => format!("from {a}"),
            _ => "no dates".to_string(),
        };
        let _ = writeln!(out, "Sprint {}  {}", s.id, opt(&s.theme));
        let _ = writeln!(
            out,
            "  gate: {}   epics: {}   {}",
            opt(&s.gate),
            if s.epics.is_empty() {
                "-".to_string()
            } else {
                s.epics.join(", ")
            },
            dates
        );
        if !s.roles.is_empty() {
            let roles: Vec<&str> = s.roles.keys().map(String::as_str).collect();
            let _ = writeln!(out, "  roles: {}", roles.join(", "));
        }
        let _ = writeln!(out, "  source: {}", s.citation);
    }
    let _ = writeln!(out, "{} sprints", list.sprints.len());
    out
}

/// `sprint 04, devops-sre-engineer, F3-E1`: where a story belongs, as a story line shows it.
fn story_tags(sprint: Option<&str>, role: Option<&str>, epic: Option<&str>) -> String {
    let mut tags = sprint
        .map(|x| format!("sprint {x}"))
        .unwrap_or_else(|| "no sprint".into());
    for t in [role, epic].into_iter().flatten() {
        tags.push_str(", ");
        tags.push_str(t);
    }
    tags
}

fn story_line(out: &mut String, s: &Story, marks: &str) {
    let tags = story_tags(s.sprint.as_deref(), s.role.as_deref(), s.epic.as_deref());
    let _ = writeln!(out, "{marks} {}  {}  [{tags}]", s.id, s.title);
}

/// `      state: claimed by A until T` for a state the box does not show (not todo or done).
fn state_line(out: &mut String, state: StoryState, claim: Option<&Claim>) {
    if matches!(state, StoryState::Todo | StoryState::Done) {
        return;
    }
    let _ = write!(out, "      state: {}", state.as_str());
    if let Some(c) = claim {
        let _ = write!(out, " (claimed by {} until {})", c.agent, c.until);
    }
    out.push('\n');
}

pub fn stories(list: &StoryList) -> String {
    let mut out = String::new();
    for entry in &list.stories {
        let s = &entry.story;
        let mark = if entry.state == StoryState::Done {
            "[x]"
        } else {
            "[ ]"
        };
        story_line(&mut out, s, mark);
        state_line(&mut out, entry.state, entry.claim.as_ref());
        if !s.depends_on.is_empty() {
            let _ = writeln!(out, "      depends on: {}", s.depends_on.join(", "));
        }
        let _ = writeln!(out, "      {}", s.citation);
    }
    let _ = writeln!(out, "{} stories", list.count);
    out
}

pub fn next_story(n: &NextStory) -> String {
    let mut out = String::new();
    match &n.story {
        Some(s) => {
            let tags = story_tags(s.sprint.as_deref(), s.role.as_deref(), None);
            let _ = writeln!(out, "Next: {}  {}  [{tags}]", s.id, s.title);
            let _ = writeln!(out, "  {}", s.citation);
            if let Some(c) = &n.claim {
                let _ = writeln!(out, "  claimed by {} until {}", c.agent, c.until);
            }
        }
        None => out.push_str("Nothing is ready.\n"),
    }
    for w in &n.why {
        let _ = writeln!(out, "  - {w}");
    }
    if !n.waiting.is_empty() {
        let _ = writeln!(out, "Waiting:");
        for w in &n.waiting {
            if w.waits_on.is_empty() {
                let _ = writeln!(out, "  {} ({})", w.id, w.state.as_str());
            } else {
                let _ = writeln!(out, "  {} waits on {}", w.id, w.waits_on.join(", "));
            }
        }
        if n.waiting_more > 0 {
            let _ = writeln!(out, "  … and {} more", n.waiting_more);
        }
    }
    out
}

pub fn claims(list: &ClaimList) -> String {
    let mut out = String::new();
    for c in &list.claims {
        let _ = writeln!(
            out,
            "{}  {}  {} since {} until {}",
            c.story_id, c.title, c.claim.agent, c.claim.since, c.claim.until
        );
    }
    let _ = writeln!(out, "{} live claims", list.count);
    out
}

pub fn priorities(p: &Priorities) -> String {
    let mut out = String::new();
    let how = match p.sprint_selected_by {
        Selection::Calendar => " (current by the calendar)",
        Selection::FirstOpen => " (first sprint with open stories)",
        Selection::First => " (first sprint)",
        Selection::Requested | Selection::Default => "",
    };
    let _ = writeln!(out, "Sprint {}{how}: {}", p.sprint, opt(&p.theme));
    if let (Some(a), Some(b)) = (p.start, p.end) {
        let _ = writeln!(out, "Dates: {a} .. {b}");
    }
    if !p.epics.is_empty() {
        let _ = writeln!(out, "Epics: {}", p.epics.join(", "));
    }
    if let Some(g) = &p.gate {
        let _ = writeln!(
            out,
            "Gate: {} ({}/{} evidence items checked)",
            g.name, g.checked, g.items
        );
    }
    let _ = writeln!(out);
    for f in &p.focus {
        let _ = writeln!(out, "Focus ({}): {}", f.label, opt(&f.mission_focus));
    }
    let both = p.weeks.len() > 1;
    if both {
        let _ = writeln!(
            out,
            "\nWeek 1 and week 2 priorities (no week asked, the calendar picks none):"
        );
    } else {
        let _ = writeln!(out, "\nWeek {} priorities:", p.week);
    }
    if p.week_priorities.is_empty() {
        let _ = writeln!(out, "  (none written)");
    }
    for w in &p.week_priorities {
        if both {
            let _ = writeln!(out, "  [{}, week {}] {}", w.role, w.week, w.citation);
        } else {
            let _ = writeln!(out, "  [{}] {}", w.role, w.citation);
        }
        for line in w.text.lines() {
            let _ = writeln!(out, "    {}", line.trim());
        }
    }
    let _ = writeln!(
        out,
        "\nStories in dependency order ({} total, {} done, {} blocked):",
        p.counts.stories, p.counts.done, p.counts.blocked
    );
    for s in &p.stories {
        let mark = if s.done {
            "[x]"
        } else if s.blocked {
            "[!]"
        } else {
            "[ ]"
        };
        story_line(&mut out, &s.story, mark);
        state_line(&mut out, s.state, s.claim.as_ref());
        if s.blocked && !s.blocked_by.is_empty() {
            let _ = writeln!(out, "      blocked by: {}", s.blocked_by.join(", "));
        }
    }
    out
}

pub fn lint(r: &LintReport) -> String {
    let mut out = String::new();
    for d in &r.diagnostics {
        let _ = writeln!(out, "{d}");
    }
    let _ = writeln!(
        out,
        "{} files, {} sprints, {} stories: {} errors, {} warnings, {} notes",
        r.files, r.sprints, r.stories, r.errors, r.warnings, r.infos
    );
    out
}

pub fn search(r: &SearchResult) -> String {
    let mut out = String::new();
    if r.hits.is_empty() {
        let _ = writeln!(out, "No plan section matches `{}`.", r.query);
        return out;
    }
    for (i, h) in r.hits.iter().enumerate() {
        let _ = writeln!(out, "{}. {}  (score {})", i + 1, h.title, h.score);
        let _ = writeln!(out, "   {} · {}", h.citation, h.citation.heading);
        if !h.snippet.is_empty() {
            let _ = writeln!(out, "   {}", h.snippet);
        }
    }
    out
}

pub fn pack_check(r: &PackCheck) -> String {
    let mut out = String::new();
    if r.packs.is_empty() {
        let _ = writeln!(out, "No packs written under {}.", esc(&r.dir));
    }
    for p in &r.packs {
        if p.fresh {
            let _ = writeln!(out, "fresh  {}  {}", p.story_id, p.hash);
        } else {
            let why = if p.changed.is_empty() {
                "the story is gone".to_string()
            } else {
                format!("changed: {}", p.changed.join(", "))
            };
            let _ = writeln!(out, "STALE  {}  {}  {why}", p.story_id, p.hash);
        }
    }
    for u in &r.unreadable {
        let _ = writeln!(out, "unreadable  {}", esc(u));
    }
    let _ = writeln!(out, "{} packs, {} stale", r.packs.len(), r.stale);
    out
}

pub fn validation(v: &Validation) -> String {
    let mut out = String::new();
    for p in &v.problems {
        let at = if p.pointer.is_empty() {
            "(contract)"
        } else {
            p.pointer.as_str()
        };
        let sev = match p.severity {
            crate::handoff::ProblemSeverity::Error => "error",
            crate::handoff::ProblemSeverity::Warning => "warning",
        };
        let _ = writeln!(out, "{sev} at {}: {}", esc(at), esc(&p.message));
    }
    let errors = v
        .problems
        .iter()
        .filter(|p| p.severity == crate::handoff::ProblemSeverity::Error)
        .count();
    let _ = writeln!(
        out,
        "{}: {errors} errors, {} warnings",
        if v.valid { "valid" } else { "invalid" },
        v.problems.len() - errors
    );
    out
}

pub fn record_outcome(o: &RecordOutcome) -> String {
    match &o.record {
        Some(r) => {
            let mut out = format!("recorded {} at {} (hash {})\n", r.id, r.received_at, r.hash);
            for p in &o.validation.problems {
                let _ = writeln!(out, "warning at {}: {}", esc(&p.pointer), esc(&p.message));
            }
            out
        }
        None => format!("not recorded\n{}", validation(&o.validation)),
    }
}

pub fn handoff_list(l: &HandoffList) -> String {
    let mut out = String::new();
    for r in &l.handoffs {
        let c = r.contract.raw();
        let status = c.status.as_str();
        let _ = writeln!(
            out,
            "{}  {}  {} -> {}  {status}  {}",
            r.id,
            r.received_at,
            c.from.agent,
            c.to.agent,
            c.summary.lines().next().unwrap_or("")
        );
    }
    let _ = writeln!(out, "{} handoffs", l.count);
    out
}

pub fn gate(r: &GateReport) -> String {
    let mut out = String::new();
    let verdict = match r.verdict {
        Verdict::Pass => "PASS",
        Verdict::AtRisk => "AT RISK",
        Verdict::Fail => "FAIL",
    };
    let _ = writeln!(
        out,
        "Sprint {} {}: {verdict}",
        r.sprint,
        r.gate.as_deref().unwrap_or("(no gate)")
    );
    match (r.start, r.day) {
        (Some(start), Some(day)) => {
            let _ = writeln!(
                out,
                "Today {} is day {day} of the sprint (started {start}).",
                r.today
            );
        }
        _ => {
            let _ = writeln!(out, "Today {}; the sprint has no start date.", r.today);
        }
    }
    let _ = writeln!(out, "\nEvidence checklist:");
    for i in &r.items {
        let mark = if i.checked {
            "[x]"
        } else if i.overdue {
            "[!]"
        } else {
            "[ ]"
        };
        let _ = writeln!(out, "  {mark} {}  ({}, due {})", i.text, i.citation, i.due);
        for e in &i.evidence {
            let state = e.state.as_str();
            let label = e
                .label
                .as_ref()
                .map(|l| format!("  ({})", esc(l)))
                .unwrap_or_default();
            match &e.detail {
                Some(d) => {
                    let _ = writeln!(
                        out,
                        "        {state:<12} {}{label}: {}",
                        esc(&e.reference),
                        esc(d)
                    );
                }
                None => {
                    let _ = writeln!(out, "        {state:<12} {}{label}", esc(&e.reference));
                }
            }
        }
    }
    let _ = writeln!(out, "\nStories:");
    for s in &r.stories {
        let pack = match s.pack {
            PackState::Fresh => "pack fresh",
            PackState::Stale => "pack STALE",
            PackState::Missing => "no pack",
        };
        let handoff = match s.handoff {
            HandoffState::Valid => format!("handoff {}", s.handoff_id.as_deref().unwrap_or("")),
            HandoffState::Invalid => {
                format!("handoff {} INVALID", s.handoff_id.as_deref().unwrap_or(""))
            }
            HandoffState::None => "no handoff".to_string(),
        };
        let _ = writeln!(
            out,
            "  {} {}  {pack}, {handoff}",
            if s.done { "[x]" } else { "[ ]" },
            s.id
        );
    }
    if !r.reasons.is_empty() {
        let _ = writeln!(out, "\nReasons:");
        for reason in &r.reasons {
            let _ = writeln!(out, "  - {}", esc(reason));
        }
    }
    out
}

pub fn explain(e: &crate::plan::explain::Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({:?})", esc(&e.path), e.kind);
    let lines = |r: &crate::plan::explain::Reading| {
        if r.line_start == r.line_end {
            format!("{}", r.line_start)
        } else {
            format!("{}-{}", r.line_start, r.line_end)
        }
    };
    let _ = writeln!(out, "\nRead ({}):", e.read.len());
    if e.read.is_empty() {
        let _ = writeln!(out, "  nothing");
    }
    for r in &e.read {
        let _ = writeln!(out, "  {:>7}  {:<17} {}", lines(r), r.what, r.detail);
    }
    let _ = writeln!(out, "\nSkipped ({}):", e.skipped.len());
    if e.skipped.is_empty() {
        let _ = writeln!(out, "  nothing");
    }
    for r in &e.skipped {
        let _ = writeln!(out, "  {:>7}  {:<17} {}", lines(r), r.what, r.detail);
    }
    if !e.diagnostics.is_empty() {
        let _ = writeln!(out, "\nDiagnostics ({}):", e.diagnostics.len());
        for d in &e.diagnostics {
            let _ = writeln!(out, "  {d}");
        }
    }
    out
}

/// `storypack sync`: the stories to record, what cannot be recorded, then the diff (or, with
/// `--write`, what was written and refused). The summary comes before the diff, so the whole
/// output still goes to `git apply`.
pub fn sync(r: &SyncReport) -> String {
    let mut out = String::new();
    if r.in_step() {
        out.push_str(
            "Nothing to sync: the plan already says done for every story whose latest valid handoff is done.\n",
        );
        return out;
    }
    if !r.stories.is_empty() {
        let _ = writeln!(
            out,
            "{} to record as done (latest valid handoff: done):",
            plural(r.stories.len(), "story", "stories")
        );
        for s in &r.stories {
            let lines: Vec<String> = s.lines.iter().map(u32::to_string).collect();
            let _ = writeln!(
                out,
                "  {}  {}:{}  {}  ({})",
                s.story_id,
                esc(&s.path),
                lines.join(","),
                s.edits.join(" + "),
                s.handoff
            );
        }
    }
    if !r.unrecordable.is_empty() {
        let _ = writeln!(
            out,
            "{} cannot be recorded:",
            plural(r.unrecordable.len(), "story", "stories")
        );
        for u in &r.unrecordable {
            let _ = writeln!(
                out,
                "  {}  {}  {} ({})",
                u.story_id, u.citation, u.reason, u.handoff
            );
        }
    }
    if r.write {
        for path in &r.written {
            let _ = writeln!(out, "wrote {}", esc(path));
        }
        for f in &r.refused {
            let _ = writeln!(out, "refused {}: {}", esc(&f.path), esc(&f.reason));
        }
        return out;
    }
    if !r.files.is_empty() {
        let _ = writeln!(
            out,
            "`storypack sync --write` applies this diff ({}):\n",
            plural(r.files.len(), "file", "files")
        );
        for f in &r.files {
            out.push_str(&f.diff);
        }
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
