//! The gate evidence package (`storypack report gate SPRINT`): a sprint's gate report with
//! what a review needs around it (each story's handoff timeline, the overdue items, when it
//! was generated and from which plan), and its two renderings, [`html`] (self-contained,
//! opens offline; the board shows the same section) and [`md`].
//!
//! Building the package reads the plan and the record through [`App`]; rendering is a pure
//! function of the package.

pub mod html;
pub mod md;

use chrono::NaiveDate;
use serde::Serialize;

use crate::app::App;
use crate::error::Error;
use crate::gate::{GateReport, ItemReport};
use crate::handoff::HandoffRecord;

/// One handoff as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// The record id (`<story>#<n>-<writer>`, or `<story>#<n>`).
    pub id: String,
    pub received_at: String,
    pub status: String,
    pub from: String,
    pub to: String,
    pub summary: String,
}

impl TimelineEntry {
    pub(crate) fn of(record: &HandoffRecord) -> TimelineEntry {
        let c = record.contract.raw();
        TimelineEntry {
            id: record.id.clone(),
            received_at: record.received_at.clone(),
            status: c.status.as_str().to_string(),
            from: format!("{} ({})", c.from.agent, c.from.role),
            to: format!("{} ({})", c.to.agent, c.to.role),
            summary: c.summary.clone(),
        }
    }
}

/// Everything a gate review is handed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatePackage {
    /// When the package was made (RFC 3339, UTC; `STORYPACK_NOW` when set).
    pub generated_at: String,
    /// blake3 over every plan document's path and content hash: which plan this describes.
    pub plan_hash: String,
    pub report: GateReport,
    /// Each story of the sprint with its handoffs, oldest first, in plan order.
    pub timelines: Vec<StoryTimeline>,
}

/// One story's handoffs, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoryTimeline {
    pub story_id: String,
    pub handoffs: Vec<TimelineEntry>,
}

impl GatePackage {
    /// The checklist items past their due day and still open.
    pub fn overdue(&self) -> impl Iterator<Item = &ItemReport> {
        self.report.items.iter().filter(|i| i.overdue)
    }

    pub(crate) fn timeline(&self, story: &str) -> &[TimelineEntry] {
        self.timelines
            .iter()
            .find(|t| t.story_id == story)
            .map_or(&[], |t| t.handoffs.as_slice())
    }
}

/// The plan's identity: blake3 over each document's path and content hash, in path order.
pub fn plan_hash(app: &App) -> String {
    let mut docs: Vec<(&str, &str)> = app
        .plan()
        .docs
        .iter()
        .map(|d| (d.path.as_str(), d.hash.as_str()))
        .collect();
    docs.sort_unstable();
    let mut h = blake3::Hasher::new();
    for (path, hash) in docs {
        h.update(path.as_bytes());
        h.update(b"\0");
        h.update(hash.as_bytes());
        h.update(b"\n");
    }
    h.finalize().to_hex()[..32].to_string()
}

/// The clock's date (`STORYPACK_NOW` when set), the default "today" of a report.
pub fn today() -> NaiveDate {
    crate::app::now().date_naive()
}

/// Builds the package of `sprint` as of `today`.
pub fn gate_package(app: &App, sprint: &str, today: NaiveDate) -> Result<GatePackage, Error> {
    let report = app.check_gate(sprint, today)?;
    let mut timelines = Vec::with_capacity(report.stories.len());
    for s in &report.stories {
        let list = app.list_handoffs(Some(&s.id))?;
        timelines.push(StoryTimeline {
            story_id: s.id.clone(),
            handoffs: list.handoffs.iter().map(TimelineEntry::of).collect(),
        });
    }
    Ok(GatePackage {
        generated_at: crate::app::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        plan_hash: plan_hash(app),
        report,
        timelines,
    })
}

/// A verdict as people read it.
pub fn verdict_label(v: crate::gate::Verdict) -> &'static str {
    match v {
        crate::gate::Verdict::Pass => "PASS",
        crate::gate::Verdict::AtRisk => "AT RISK",
        crate::gate::Verdict::Fail => "FAIL",
    }
}

pub(crate) fn verdict_class(v: crate::gate::Verdict) -> &'static str {
    match v {
        crate::gate::Verdict::Pass => "pass",
        crate::gate::Verdict::AtRisk => "at_risk",
        crate::gate::Verdict::Fail => "fail",
    }
}

pub(crate) fn pack_label(p: crate::gate::PackState) -> &'static str {
    match p {
        crate::gate::PackState::Fresh => "fresh",
        crate::gate::PackState::Stale => "stale",
        crate::gate::PackState::Missing => "missing",
    }
}

pub(crate) fn handoff_label(h: crate::gate::HandoffState) -> &'static str {
    match h {
        crate::gate::HandoffState::Valid => "valid",
        crate::gate::HandoffState::Invalid => "invalid",
        crate::gate::HandoffState::None => "none",
    }
}
