//! A recorded handoff as a pack excerpt: what it says, in Markdown, citing its record file.

use std::fmt::Write;

use super::HandoffRecord;
use super::store::HANDOFFS_DIR;
use crate::model::Citation;
use crate::pack::HandoffExcerpt;

impl HandoffRecord {
    /// The record as a pack shows it: who handed what to whom, the criteria and their status,
    /// what remains, decisions and risks; the citation spans the whole record file.
    pub(crate) fn excerpt(&self) -> HandoffExcerpt {
        let c = self.contract.raw();
        let mut text = String::new();
        let _ = writeln!(
            text,
            "- From {} ({}) to {} ({}), {}: {}\n- Summary: {}",
            c.from.agent,
            c.from.role,
            c.to.agent,
            c.to.role,
            self.received_at,
            c.status.as_str(),
            c.summary
        );
        for a in &c.acceptance {
            let _ = writeln!(text, "- [{}] {}", a.status.as_str(), a.criterion);
        }
        for x in &c.remaining {
            let _ = writeln!(text, "- Remaining: {x}");
        }
        for d in &c.decisions {
            let _ = writeln!(text, "- Decision: {d}");
        }
        for risk in &c.risks {
            let _ = writeln!(text, "- Risk ({}): {}", risk.severity.as_str(), risk.text);
        }
        #[allow(
            clippy::expect_used,
            reason = "a record is strings, numbers and enums: serializing it cannot fail"
        )]
        let stored = serde_json::to_string_pretty(self).expect("a record serializes");
        HandoffExcerpt {
            story_id: self.story_id.clone(),
            received_at: self.received_at.clone(),
            title: format!("Handoff {}", self.id),
            text,
            citation: Citation {
                path: format!("{HANDOFFS_DIR}/{}/{}.json", self.story_id, self.slot()),
                line_start: 1,
                line_end: stored.lines().count() as u32,
                heading: String::new(),
            },
        }
    }
}
