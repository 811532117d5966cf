//! Readable text for `setup`, `init` and `doctor`, from the same values `--json` prints.

use std::fmt::Write;

use crate::model::escape_controls as esc;

use super::doctor::{DoctorReport, Status};
use super::init::InitReport;
use super::{Action, FileChange, SetupReport};

fn action(a: &Action, print: bool) -> &'static str {
    match (a, print) {
        (Action::Created, false) => "created",
        (Action::Updated, false) => "updated",
        (Action::Created, true) => "would create",
        (Action::Updated, true) => "would update",
        (Action::Unchanged, _) => "unchanged",
    }
}

fn file_line(out: &mut String, f: &FileChange, print: bool) {
    let _ = writeln!(out, "{}: {}", action(&f.action, print), esc(&f.path));
    if let Some(text) = &f.content {
        let _ = writeln!(out, "----- {} -----", esc(&f.path));
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
        let _ = writeln!(out, "-----");
    }
}

pub fn setup(r: &SetupReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "storypack setup {} ({} scope)", r.client, r.scope);
    for f in &r.files {
        file_line(&mut out, f, r.print);
    }
    for note in &r.notes {
        let _ = writeln!(out, "note: {}", esc(note));
    }
    if r.print {
        out.push_str("nothing written (--print)\n");
    } else if r.files.iter().any(|f| f.action != Action::Unchanged) {
        let _ = writeln!(
            out,
            "restart {} (or reload its MCP servers) to pick up the change; `storypack doctor` checks the setup",
            r.client
        );
    }
    out
}

pub fn init(r: &InitReport) -> String {
    let mut out = String::new();
    for f in &r.files {
        file_line(&mut out, f, false);
    }
    let _ = writeln!(
        out,
        "next: `storypack lint --plan {0}`, then `storypack setup CLIENT --plan {0}`",
        esc(&r.root)
    );
    out
}

pub fn doctor(r: &DoctorReport) -> String {
    let mut out = String::new();
    for c in &r.checks {
        let status = match c.status {
            Status::Ok => "ok     ",
            Status::Warning => "warning",
            Status::Problem => "problem",
        };
        let _ = writeln!(out, "{status} {:<6} {}", c.check, esc(&c.message));
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "        fix:   {}", esc(fix));
        }
    }
    let _ = writeln!(out, "{} problems, {} warnings", r.problems, r.warnings);
    out
}
