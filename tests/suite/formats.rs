//! The plan conventions of docs/plan-format.md, one test per convention, with concrete values.

use chrono::NaiveDate;
use storypack::model::{DocKind, StoryStatus};

use super::util::{parse_files, problems, with_code};

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

// ---- 1. Layout -------------------------------------------------------------------------

#[test]
fn top_level_folders_are_recognised_by_numeric_prefix_and_name() {
    let table = "| Sprint | Theme |\n|---|---|\n| 1 | A |\n";
    for folder in ["04-sprints", "04_sprints", "04 Sprints"] {
        let path = format!("docs/{folder}/roadmap.md");
        let parsed = parse_files(&[(path.as_str(), table)], None);
        assert_eq!(parsed.plan.docs[0].kind, DocKind::Sprints, "{folder}");
        assert_eq!(parsed.plan.sprints.len(), 1, "{folder}");
    }
    // Not a numbered folder: the table is not a roadmap.
    let parsed = parse_files(&[("docs/sprints/roadmap.md", table)], None);
    assert!(parsed.plan.sprints.is_empty());
}

#[test]
fn crlf_bom_trailing_spaces_and_mixed_heading_levels_are_tolerated() {
    let text = "\u{feff}# Roadmap   \r\n\r\n#### Table   \r\n\r\n| Sprint | Theme   |\r\n|---|---|\r\n| 02 | Auth   |\r\n";
    let parsed = parse_files(&[("docs/04-sprints/r.md", text)], None);
    let s = &parsed.plan.sprints[0];
    assert_eq!(s.id, "02");
    assert_eq!(s.theme.as_deref(), Some("Auth"));
    assert_eq!(s.citation.line_start, 7);
    assert_eq!(s.citation.heading, "Roadmap > Table");
    assert!(problems(&parsed).iter().all(|p| !p.contains("error")));
}

#[test]
fn front_matter_is_read_as_attributes() {
    let text = "---\ntitle: Custom title\nowner: \"@ops\"\n---\n# Heading\n";
    let parsed = parse_files(&[("docs/05-engineering-playbooks/p.md", text)], None);
    let doc = &parsed.plan.docs[0];
    assert_eq!(doc.title.as_deref(), Some("Custom title"));
    assert_eq!(doc.front_matter["owner"], "@ops");
    assert_eq!(doc.sections[0].citation.line_start, 5);
}

// ---- 2. Roadmap ------------------------------------------------------------------------

#[test]
fn sprint_ids_and_sprint_header_variants_normalise() {
    for header in [
        "Sprint",
        "Sprint #",
        "Sprint No.",
        "Sprint Number",
        "**Sprint**",
    ] {
        let text = format!(
            "| {header} | Theme |\n|---|---|\n| 00 | a |\n| 3 | b |\n| Sprint 04 | c |\n| S05 | d |\n"
        );
        let parsed = parse_files(&[("docs/04-sprints/r.md", &text)], None);
        let ids: Vec<&str> = parsed.plan.sprints.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["00", "03", "04", "05"], "header {header}");
    }
}

#[test]
fn columns_match_by_name_case_insensitively_after_stripping_markdown() {
    let text = "\
| `SPRINT` | **Sprint Theme** | [Primary Epics](epics.md) | Quality GATE | Start date | End | Owner |
|---|---|---|---|---|---|---|
| 07 | Retrieval *quality* | `F5-E2`; F5-E3 + F4-E3 / F6-E1 F7-E1 | **AI quality gate** | 2026-04-06 | 2026-04-17 | @lead |
";
    let parsed = parse_files(&[("docs/04-sprints/r.md", text)], None);
    let s = &parsed.plan.sprints[0];
    assert_eq!(s.id, "07");
    assert_eq!(s.theme.as_deref(), Some("Retrieval quality"));
    assert_eq!(s.epics, ["F5-E2", "F5-E3", "F4-E3", "F6-E1", "F7-E1"]);
    assert_eq!(s.gate.as_deref(), Some("AI quality gate"));
    assert_eq!(s.start, date("2026-04-06"));
    assert_eq!(s.end, date("2026-04-17"));
    assert_eq!(s.extra["Owner"], "@lead");
}

#[test]
fn escaped_pipes_stay_in_cells() {
    let text = "| Sprint | Theme |\n|---|---|\n| 01 | Build \\| ship |\n";
    let parsed = parse_files(&[("docs/04-sprints/r.md", text)], None);
    assert_eq!(
        parsed.plan.sprints[0].theme.as_deref(),
        Some("Build | ship")
    );
    assert!(with_code(&parsed, "ragged-table").is_empty());
}

#[test]
fn mission_focus_and_weeks_belong_to_the_labelled_role_or_the_files_role() {
    let labelled = "| Sprint | DevOps/SRE Mission Focus | Week 1 Priority | Week 2 Priority |\n|---|---|---|---|\n| 01 | Rails | CI jobs | Preview deploys |\n";
    let unlabelled = "---\nrole: backend-engineer\n---\n| Sprint | Mission Focus | Backend Week 1 | Week 2 |\n|---|---|---|---|\n| 01 | APIs | Schemas | Handlers |\n";
    let parsed = parse_files(
        &[
            ("docs/04-sprints/sre.md", labelled),
            ("docs/04-sprints/be.md", unlabelled),
            (
                "docs/07-role-sprint-plans/sprint-01/devops-sre-engineer/plan.md",
                "# Plan\n",
            ),
        ],
        None,
    );
    let s = &parsed.plan.sprints[0];
    let sre = &s.roles["devops-sre-engineer"];
    assert_eq!(sre.label, "DevOps/SRE");
    assert_eq!(sre.mission_focus.as_deref(), Some("Rails"));
    assert_eq!(sre.week1.as_deref(), Some("CI jobs"));
    assert_eq!(sre.week2.as_deref(), Some("Preview deploys"));
    // Unlabelled columns go to the file's role; "Backend Week 1" names the Backend label,
    // which links to the same slug by prefix.
    let be = &s.roles["backend-engineer"];
    assert_eq!(be.mission_focus.as_deref(), Some("APIs"));
    assert_eq!(be.week1.as_deref(), Some("Schemas"));
    assert_eq!(be.week2.as_deref(), Some("Handlers"));
    assert_eq!(s.roles.len(), 2);
}

#[test]
fn unlabelled_role_columns_without_a_role_are_reported() {
    let text = "| Sprint | Mission Focus |\n|---|---|\n| 01 | Rails |\n";
    let parsed = parse_files(&[("docs/04-sprints/r.md", text)], None);
    assert!(parsed.plan.sprints[0].roles.is_empty());
    let d = with_code(&parsed, "roadmap-role");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].line, 3);
}

#[test]
fn several_tables_merge_by_sprint_id_and_conflicts_are_reported() {
    let general = "| Sprint | Theme | Epics | Gate | Start |\n|---|---|---|---|---|\n| 01 | Foundation | F1-E1 | CI/CD gate | 2026-01-05 |\n| 02 | Auth | F2-E1 | Auth gate | 2026-01-19 |\n";
    let role = "| Sprint # | Theme | Epics | SRE Mission Focus |\n|---|---|---|---|\n| S01 | Foundation | F1-E2 | Rails |\n| S02 | Identity | F2-E1 | Alerts |\n";
    let parsed = parse_files(
        &[
            ("docs/04-sprints/a-general.md", general),
            ("docs/04-sprints/b-sre.md", role),
        ],
        None,
    );
    let plan = &parsed.plan;
    assert_eq!(plan.sprints.len(), 2);
    let s1 = plan.sprint("01").unwrap();
    assert_eq!(s1.epics, ["F1-E1", "F1-E2"]);
    assert_eq!(s1.gate.as_deref(), Some("CI/CD gate"));
    assert_eq!(s1.roles["sre"].mission_focus.as_deref(), Some("Rails"));
    assert_eq!(s1.citation.path, "docs/04-sprints/a-general.md");
    // 14-day default cadence gives the end date.
    assert_eq!(s1.end, date("2026-01-18"));
    let conflicts = with_code(&parsed, "roadmap-conflict");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].path, "docs/04-sprints/b-sre.md");
    assert_eq!(conflicts[0].line, 4);
    assert!(
        conflicts[0]
            .message
            .contains("`Identity` differs from `Auth` at docs/04-sprints/a-general.md:4")
    );
    assert_eq!(plan.sprint("02").unwrap().theme.as_deref(), Some("Auth"));
}

#[test]
fn role_labels_link_to_slugs_by_prefix_or_config() {
    let text = "| Sprint | DevOps/SRE Mission Focus | QA Mission Focus | Data Mission Focus |\n|---|---|---|---|\n| 01 | a | b | c |\n";
    let files = [
        ("docs/04-sprints/r.md", text),
        (
            "docs/07-role-sprint-plans/sprint-01/devops-sre-engineer/p.md",
            "# p\n",
        ),
        (
            "docs/07-role-sprint-plans/sprint-01/quality-engineer/p.md",
            "# p\n",
        ),
    ];
    let parsed = parse_files(&files, Some("[roles]\n\"QA\" = \"quality-engineer\"\n"));
    let roles = &parsed.plan.sprints[0].roles;
    let slugs: Vec<&str> = roles.keys().map(String::as_str).collect();
    assert_eq!(slugs, ["data", "devops-sre-engineer", "quality-engineer"]);
    assert_eq!(roles["quality-engineer"].label, "QA");
    let labels: Vec<(&str, &str)> = parsed
        .plan
        .roles
        .iter()
        .map(|r| (r.slug.as_str(), r.label.as_str()))
        .collect();
    assert!(labels.contains(&("devops-sre-engineer", "DevOps/SRE")));
}

#[test]
fn sprint_dates_come_from_the_configured_calendar() {
    let text = "| Sprint | Theme |\n|---|---|\n| 00 | a |\n| 01 | b |\n| 03 | d |\n";
    let parsed = parse_files(
        &[("docs/04-sprints/r.md", text)],
        Some("[calendar]\nfirst_sprint_start = 2026-01-05\nsprint_days = 14\n"),
    );
    let p = &parsed.plan;
    assert_eq!(p.sprint("00").unwrap().start, date("2026-01-05"));
    assert_eq!(p.sprint("00").unwrap().end, date("2026-01-18"));
    assert_eq!(p.sprint("01").unwrap().start, date("2026-01-19"));
    assert_eq!(p.sprint("03").unwrap().start, date("2026-02-16"));
}

#[test]
fn roadmap_files_named_by_config_are_read() {
    let text = "| Sprint | Theme |\n|---|---|\n| 01 | a |\n";
    let parsed = parse_files(
        &[("docs/planning/roadmap.md", text)],
        Some("roadmap = [\"docs/planning/roadmap.md\"]\n"),
    );
    assert_eq!(parsed.plan.sprints.len(), 1);
}

#[test]
fn the_constant_checklist_is_read_from_the_roadmap() {
    let text = "## Checklist\n\n1. `00-governance`: confirm gate evidence by day 3.\n2. 03-backlog: break into one-day tasks.\n";
    let parsed = parse_files(&[("docs/04-sprints/r.md", text)], None);
    let c = &parsed.plan.checklist;
    assert_eq!(c.len(), 2);
    assert_eq!(c[1].section, "03-backlog");
    assert_eq!(c[1].text, "break into one-day tasks.");
    assert_eq!(c[1].citation.line_start, 4);
}

// ---- 3. Role sprint plans --------------------------------------------------------------

#[test]
fn role_plan_sections_and_weeks() {
    let text = "---\nsprint: \"04\"\n---\n# Sprint 04 plan\n## 00-governance\n- confirm\n### 01 Architecture\nlock\n## 04. Sprint execution\n### Week 1\n- provision\n### Week 2\n- tune\n## 05 engineering playbooks\n- Week 1: review PR gates\n";
    let parsed = parse_files(
        &[(
            "docs/07-role-sprint-plans/sprint-04/devops-sre-engineer/section-contribution-plan.md",
            text,
        )],
        None,
    );
    let got: Vec<(String, Option<u8>, u32, u32)> = parsed
        .plan
        .role_sections
        .iter()
        .map(|s| {
            (
                s.section.clone(),
                s.week,
                s.citation.line_start,
                s.citation.line_end,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("00-governance".to_string(), None, 5, 8),
            ("01-architecture".to_string(), None, 7, 8),
            ("04-sprint-execution".to_string(), None, 9, 13),
            ("04-sprint-execution".to_string(), Some(1), 10, 11),
            ("04-sprint-execution".to_string(), Some(2), 12, 13),
            ("05-engineering-playbooks".to_string(), None, 14, 15),
            ("05-engineering-playbooks".to_string(), Some(1), 15, 15),
        ]
    );
    let s = &parsed.plan.role_sections[3];
    assert_eq!(
        (s.sprint.as_str(), s.role.as_str()),
        ("04", "devops-sre-engineer")
    );
    assert_eq!(
        s.citation.heading,
        "Sprint 04 plan > 04. Sprint execution > Week 1"
    );
}

// ---- 4. Stories ------------------------------------------------------------------------

const LIST_STORIES: &str = "\
---
sprint: \"04\"
role: devops-sre-engineer
---
# Sprint 04 backlog

- [ ] **SRE-04-01** Provision worker runtime settings
  - Epic: F3-E1
  - Reviewer: @platform-lead
  - Evidence: infra/workers.tf, docs/evidence/sre-04-01.md
  - Depends on: SRE-04-00
  - Estimate: 1d
  - Acceptance:
    - Worker pool size is configurable per environment
    - Autoscaling limits are documented
- [x] `SRE-04-00` Baseline capacity
  - Acceptance: capacity measured; limits written
- SRE-04-02: Tune rate limits
  - Status: done
  - Sprint: 05
  - Role: Backend Engineer
  - Team: platform
  - Acceptance: limits tuned
- Not a story, just a note about SRE-04-03
";

#[test]
fn list_form_stories_with_every_field() {
    let parsed = parse_files(&[("docs/03-backlog/sprint-04.md", LIST_STORIES)], None);
    let p = &parsed.plan;
    assert_eq!(p.stories.len(), 3);
    let s = p.story("SRE-04-01").unwrap();
    assert_eq!(s.title, "Provision worker runtime settings");
    assert_eq!(s.sprint.as_deref(), Some("04"));
    assert_eq!(s.role.as_deref(), Some("devops-sre-engineer"));
    assert_eq!(s.epic.as_deref(), Some("F3-E1"));
    assert_eq!(s.status, StoryStatus::Todo);
    assert_eq!(s.reviewer.as_deref(), Some("@platform-lead"));
    assert_eq!(
        s.evidence,
        ["infra/workers.tf", "docs/evidence/sre-04-01.md"]
    );
    assert_eq!(s.depends_on, ["SRE-04-00"]);
    assert_eq!(s.estimate.as_deref(), Some("1d"));
    assert_eq!(
        s.acceptance,
        [
            "Worker pool size is configurable per environment",
            "Autoscaling limits are documented"
        ]
    );
    assert_eq!((s.citation.line_start, s.citation.line_end), (7, 15));
    assert_eq!(s.citation.heading, "Sprint 04 backlog");

    let s0 = p.story("SRE-04-00").unwrap();
    assert_eq!(s0.status, StoryStatus::Done, "a checked box marks it done");
    assert_eq!(s0.title, "Baseline capacity");
    assert_eq!(s0.acceptance, ["capacity measured", "limits written"]);

    let s2 = p.story("SRE-04-02").unwrap();
    assert_eq!(s2.status, StoryStatus::Done, "Status: done marks it done");
    assert_eq!(s2.title, "Tune rate limits");
    // The story's place (front matter here) wins over its fields; the disagreement is shown.
    assert_eq!(s2.sprint.as_deref(), Some("04"));
    assert_eq!(s2.role.as_deref(), Some("devops-sre-engineer"));
    let conflicts = with_code(&parsed, "field-conflict");
    assert_eq!(conflicts.len(), 2);
    assert!(conflicts.iter().all(|d| d.line == 18));
    assert!(
        conflicts
            .iter()
            .any(|d| d.message.contains("Sprint field says 05"))
    );
    assert!(
        conflicts
            .iter()
            .any(|d| d.message.contains("Role field says backend-engineer"))
    );
    assert_eq!(s2.extra["team"], "platform");
    assert!(p.story("SRE-04-03").is_none());
}

#[test]
fn table_form_stories_with_column_aliases() {
    let text = "\
# Sprint 05

| Story ID | Task | Epic | Reviewer | Evidence | Depends on | Estimate | Status | Acceptance |
|---|---|---|---|---|---|---|---|---|
| **SRE-05-01** | Set queue retry controls | F5-E1 | @data-lead | docs/a.md, docs/b.md | - | 1d | todo | Retries bounded; DLQ alarms |
| SRE-05-02 | Dead-letter replay | F5-E1 | @data-lead | | SRE-05-01 | 0.5d | done | Replay documented |
| F5-E1 | not a story | | | | | | | |
";
    let parsed = parse_files(
        &[("docs/03-backlog/sprint-05-devops-sre-engineer.md", text)],
        None,
    );
    let p = &parsed.plan;
    assert_eq!(p.stories.len(), 2);
    let s = p.story("SRE-05-01").unwrap();
    assert_eq!(s.title, "Set queue retry controls");
    assert_eq!(s.sprint.as_deref(), Some("05"));
    assert_eq!(s.evidence, ["docs/a.md", "docs/b.md"]);
    assert!(s.depends_on.is_empty());
    assert_eq!(s.acceptance, ["Retries bounded", "DLQ alarms"]);
    assert_eq!(s.citation.line_start, 5);
    let s2 = p.story("SRE-05-02").unwrap();
    assert_eq!(s2.status, StoryStatus::Done);
    assert_eq!(s2.estimate.as_deref(), Some("0.5d"));
    assert_eq!(s2.depends_on, ["SRE-05-01"]);
    let bad = with_code(&parsed, "bad-story-id");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].line, 7);
}

#[test]
fn story_ids_follow_the_default_pattern_or_the_configured_one() {
    let text = "- DEV-123 Default pattern\n  - Acceptance: a\n- F1-E1 Epic ids are not stories\n- T-9x Not an id\n- TASK42 Custom\n  - Acceptance: b\n";
    let parsed = parse_files(&[("docs/03-backlog/s.md", text)], None);
    let ids: Vec<&str> = parsed.plan.stories.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["DEV-123"]);
    let parsed = parse_files(
        &[("docs/03-backlog/s.md", text)],
        Some("story_id = \"TASK[0-9]+\"\n"),
    );
    let ids: Vec<&str> = parsed.plan.stories.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["TASK42"]);
}

#[test]
fn stories_are_declared_only_in_backlog_context() {
    let role_plan = "\
# Sprint 03
## 02-features
- BE-03-09 mentioned in a feature section is not declared
## 03-backlog
- [ ] BE-03-01 Tenant context middleware
  - Acceptance: every request carries a tenant
";
    let parsed = parse_files(
        &[
            (
                "docs/07-role-sprint-plans/sprint-03/backend-engineer/plan.md",
                role_plan,
            ),
            (
                "docs/05-engineering-playbooks/p.md",
                "- DEV-1 a playbook list item\n",
            ),
        ],
        None,
    );
    let p = &parsed.plan;
    assert_eq!(p.stories.len(), 1);
    let s = &p.stories[0];
    assert_eq!(s.id, "BE-03-01");
    assert_eq!(s.sprint.as_deref(), Some("03"));
    assert_eq!(s.role.as_deref(), Some("backend-engineer"));
}

#[test]
fn sprint_and_role_come_from_path_heading_or_fields() {
    let text = "# Backlog\n## Sprint 07\n- X-1 a\n  - Acceptance: a\n## Sprint 08\n- X-2 b\n  - Acceptance: b\n";
    let parsed = parse_files(
        &[
            ("docs/03-backlog/all.md", text),
            (
                "docs/03-backlog/sprint-09/qa-engineer.md",
                "- Y-1 c\n  - Acceptance: c\n",
            ),
            (
                "docs/07-role-sprint-plans/sprint-09/qa-engineer/p.md",
                "# p\n",
            ),
            (
                "docs/07-role-sprint-plans/sprint-09/devops-sre-engineer/p.md",
                "# p\n",
            ),
            (
                "docs/03-backlog/unplaced.md",
                "- Z-1 fields only\n  - Sprint: 06\n  - Role: DevOps/SRE\n  - Acceptance: z\n- Z-2 label\n  - Sprint: -\n  - Role: QA\n  - Acceptance: z\n",
            ),
        ],
        Some("[roles]\n\"QA\" = \"qa-engineer\"\n"),
    );
    let z = p_story(&parsed, "Z-1");
    assert_eq!(
        z.sprint.as_deref(),
        Some("06"),
        "no place: the field is used"
    );
    assert_eq!(
        z.role.as_deref(),
        Some("devops-sre-engineer"),
        "label linked by prefix"
    );
    let z2 = p_story(&parsed, "Z-2");
    assert_eq!(z2.sprint, None);
    assert_eq!(
        z2.role.as_deref(),
        Some("qa-engineer"),
        "label linked by [roles]"
    );
    assert!(with_code(&parsed, "bad-field").is_empty());
    let p = &parsed.plan;
    assert_eq!(p.story("X-1").unwrap().sprint.as_deref(), Some("07"));
    assert_eq!(p.story("X-2").unwrap().sprint.as_deref(), Some("08"));
    let y = p.story("Y-1").unwrap();
    assert_eq!(y.sprint.as_deref(), Some("09"));
    assert_eq!(y.role.as_deref(), Some("qa-engineer"));
}

fn p_story<'a>(parsed: &'a storypack::plan::Parsed, id: &str) -> &'a storypack::model::Story {
    parsed.plan.story(id).unwrap()
}

#[test]
fn features_and_epics() {
    let text = "# F3 — Core domain workflows\nGoal.\n## F3-E1 — Domain write path\nWrites.\n## F3-E2: Read models\nReads.\n- F3-E3 Search indexing\n";
    let parsed = parse_files(&[("docs/02-features/f3.md", text)], None);
    let p = &parsed.plan;
    assert_eq!(p.features.len(), 1);
    assert_eq!(p.features[0].id, "F3");
    assert_eq!(p.features[0].title, "Core domain workflows");
    assert_eq!(p.features[0].epics, ["F3-E1", "F3-E2", "F3-E3"]);
    let e1 = p.epic("F3-E1").unwrap();
    assert_eq!(e1.title, "Domain write path");
    assert_eq!((e1.citation.line_start, e1.citation.line_end), (3, 4));
    assert_eq!(p.epic("F3-E2").unwrap().title, "Read models");
    assert_eq!(p.epic("F3-E3").unwrap().title, "Search indexing");
}

// ---- 5. Gates --------------------------------------------------------------------------

const ROADMAP: &str =
    "| Sprint | Gate |\n|---|---|\n| 01 | CI/CD gate |\n| 02 | Auth shell gate |\n";

#[test]
fn gate_checklists_from_governance_files() {
    let by_h1 = "# CI/CD gate evidence\n\n- [x] CI jobs required on main - evidence: .ci/run, docs/evidence/ci-green.png\n- [ ] Rollback playbook rehearsed (owner: @sre, due: day 3) - evidence: docs/evidence/rollback.md\n- [ ] Status page linked — evidence: https://status.example.com\n- a plain bullet is not an item\n";
    let by_front = "---\ngate: Auth shell gate\nsprint: \"2\"\n---\n# Whatever title\n- [x] Login alerts\n  - Evidence: docs/evidence/alerts.md\n  - Owner: @sec\n";
    let parsed = parse_files(
        &[
            ("docs/04-sprints/r.md", ROADMAP),
            ("docs/00-governance/gates/ci.md", by_h1),
            ("docs/00-governance/gates/auth.md", by_front),
        ],
        None,
    );
    let p = &parsed.plan;
    let s1 = p.sprint("01").unwrap();
    let ci = p.gate_checklists(s1);
    assert_eq!(ci.len(), 1);
    assert_eq!(ci[0].gate, "CI/CD gate evidence");
    let items = &ci[0].items;
    assert_eq!(items.len(), 3);
    assert!(items[0].checked);
    assert_eq!(items[0].text, "CI jobs required on main");
    assert_eq!(items[0].evidence, [".ci/run", "docs/evidence/ci-green.png"]);
    assert!(!items[1].checked);
    assert_eq!(items[1].text, "Rollback playbook rehearsed");
    assert_eq!(items[1].owner.as_deref(), Some("@sre"));
    assert_eq!(items[1].due.as_deref(), Some("day 3"));
    assert_eq!(items[1].citation.line_start, 4);
    assert_eq!(items[2].evidence, ["https://status.example.com"]);

    let auth = p.gate_checklists(p.sprint("02").unwrap());
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0].gate, "Auth shell gate");
    assert_eq!(auth[0].sprint.as_deref(), Some("02"));
    assert_eq!(auth[0].items[0].evidence, ["docs/evidence/alerts.md"]);
    assert_eq!(auth[0].items[0].owner.as_deref(), Some("@sec"));
    assert!(with_code(&parsed, "gate-without-checklist").is_empty());
}

#[test]
fn gate_evidence_headings_in_role_plans() {
    let plan = "# Sprint 01\n## 00-governance\n### CI/CD gate evidence\n- [x] Branch protection on - evidence: docs/bp.md\n- [ ] Preview deploys\n### Risks\n- [ ] not a gate item\n";
    let parsed = parse_files(
        &[
            ("docs/04-sprints/r.md", ROADMAP),
            (
                "docs/07-role-sprint-plans/sprint-01/devops-sre-engineer/p.md",
                plan,
            ),
        ],
        None,
    );
    let p = &parsed.plan;
    let gates = p.gate_checklists(p.sprint("01").unwrap());
    assert_eq!(gates.len(), 1);
    assert_eq!(gates[0].items.len(), 2);
    assert_eq!(gates[0].items[0].evidence, ["docs/bp.md"]);
    assert_eq!(gates[0].citation.line_start, 3);
    // Sprint 02 has none: reported at its roadmap row.
    let missing = with_code(&parsed, "gate-without-checklist");
    assert_eq!(missing.len(), 1);
    assert_eq!(
        (missing[0].path.as_str(), missing[0].line),
        ("docs/04-sprints/r.md", 4)
    );
}
