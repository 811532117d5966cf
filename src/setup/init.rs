//! `storypack init`: a new plan in the documented layout (docs/plan-format.md), small enough to
//! read in a minute and complete enough that `lint` is clean and `next`, `pack` and `gate`
//! answer at once: a roadmap row with theme, epics, gate, dates and role columns; a feature
//! with an epic; a backlog of two stories, the second depending on the first; a gate
//! checklist; a role plan; `storypack.toml`. Existing files are never overwritten.

use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::{FileChange, SetupError};

/// What `init` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub root: String,
    pub files: Vec<FileChange>,
}

/// The skeleton's files, relative to the plan root, for a first sprint starting `today`.
pub fn skeleton(today: NaiveDate) -> Vec<(&'static str, String)> {
    let start = today;
    let end = today.checked_add_days(Days::new(13)).unwrap_or(today);
    vec![
        ("storypack.toml", STORYPACK_TOML.to_string()),
        (
            "docs/04-sprints/sprint-roadmap.md",
            ROADMAP
                .replace("{start}", &start.to_string())
                .replace("{end}", &end.to_string()),
        ),
        ("docs/02-features/f1-first-feature.md", FEATURE.to_string()),
        (
            "docs/03-backlog/sprint-01-backend-engineer.md",
            BACKLOG.to_string(),
        ),
        (
            "docs/00-governance/gates/sprint-01-first-slice-gate.md",
            GATE.to_string(),
        ),
        (
            "docs/07-role-sprint-plans/sprint-01/backend-engineer/section-contribution-plan.md",
            ROLE_PLAN.to_string(),
        ),
        ("docs/01-architecture/README.md", ARCHITECTURE.to_string()),
        (
            "docs/05-engineering-playbooks/README.md",
            PLAYBOOKS.to_string(),
        ),
        (
            "docs/06-ai-agent-execution/README.md",
            AGENT_EXECUTION.to_string(),
        ),
    ]
}

/// Writes the skeleton under `dir` (created if missing). Refuses, writing nothing, when any
/// of its files already exists.
pub fn init(dir: &Path, today: NaiveDate) -> Result<InitReport, SetupError> {
    let files = skeleton(today);
    let existing: Vec<String> = files
        .iter()
        .map(|(rel, _)| dir.join(rel))
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(SetupError::Usage(format!(
            "init: refusing to overwrite {} (nothing written); pick an empty folder",
            existing.join(", ")
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| SetupError::io("create the folder", dir, e))?;
    let mut written = Vec::new();
    for (rel, text) in files {
        let path: PathBuf = dir.join(rel);
        let change = FileChange::new(path, None, Some(text));
        change.write()?;
        written.push(change);
    }
    Ok(InitReport {
        root: dir.display().to_string(),
        files: written,
    })
}

const STORYPACK_TOML: &str = r#"# storypack settings for this plan. Every key is optional.
# Roadmap labels that name roles, mapped to the role folders under docs/07-role-sprint-plans/.
[roles]
"Backend" = "backend-engineer"

[calendar]
sprint_days = 14
"#;

const ROADMAP: &str = "# Sprint roadmap

One row per sprint: its theme, the epics it delivers, the gate that closes it, its dates, and
each role's mission focus and week priorities.

| Sprint | Theme | Primary Epics | Gate | Start | End | Backend Mission Focus | Backend Week 1 | Backend Week 2 |
|---|---|---|---|---|---|---|---|---|
| 01 | First slice | F1-E1 | First slice gate | {start} | {end} | Ship the first slice end to end. | Serve the first endpoint. | Document the API and hand off. |
";

const FEATURE: &str = "# F1 — First feature

What the feature gives its users, and why now. Replace this text with your own.

## F1-E1 — First slice

The thinnest end-to-end path: one endpoint, tested and documented.

Scope: the first endpoint, its test, its API description.

Acceptance themes: the endpoint answers; a test proves it; a reader can call it from the docs.
";

const BACKLOG: &str = "---
sprint: \"01\"
role: backend-engineer
---
# Sprint 01 — Backend backlog

One-day stories. Each names its epic, reviewer, evidence and acceptance criteria.

- [ ] **APP-01-01** Serve the first endpoint
  - Epic: F1-E1
  - Reviewer: @tech-lead
  - Evidence: docs/evidence/app-01-01.md
  - Estimate: 1d
  - Acceptance:
    - GET /health answers 200 with the build version
    - A test covers the endpoint
- [ ] **APP-01-02** Document the first endpoint
  - Epic: F1-E1
  - Reviewer: @tech-lead
  - Evidence: docs/evidence/app-01-02.md
  - Depends on: APP-01-01
  - Estimate: 0.5d
  - Acceptance:
    - The API description lists the endpoint and its answers
";

const GATE: &str = "---
gate: First slice gate
sprint: \"01\"
---
# First slice gate

What must be true, with evidence, before sprint 01 is closed.

- [ ] First endpoint served and tested (owner: @tech-lead, due: day 5) - evidence: docs/evidence/app-01-01.md
- [ ] API description published (owner: @tech-lead, due: day 9) - evidence: docs/evidence/app-01-02.md
";

const ROLE_PLAN: &str = "---
sprint: \"01\"
role: backend-engineer
---
# Sprint 01 — Backend plan

## 00-governance

- Confirm the gate evidence owners by day 3.

## 01-architecture

- Record each decision as a short ADR under docs/01-architecture/.

## 02-features

- F1-E1 first: the endpoint, then its description.

## 03-backlog

- The stories are in docs/03-backlog/sprint-01-backend-engineer.md.

## 04-sprint-execution

### Week 1

- Serve the first endpoint.

### Week 2

- Document the API and hand off.

## 05-engineering-playbooks

- Every change goes through review with a test.

## 06-ai-agent-execution

- Agents take stories with `next_story`, work from the story's context pack, and record a
  handoff with its evidence.
";

const ARCHITECTURE: &str = "# Architecture

Decisions (ADRs), interfaces and diagrams go here. Context packs cite them.
";

const PLAYBOOKS: &str = "# Engineering playbooks

How the team works: reviews, testing, releases, rollbacks. Context packs cite them.
";

const AGENT_EXECUTION: &str = "# AI agent execution

How agents work on this plan: take the next story, build its context pack, record a handoff
with evidence, check the gate.
";
