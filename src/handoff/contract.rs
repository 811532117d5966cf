//! The handoff contract: what one agent (or person) hands to the next for one story.
//! Two types, ripgrep-style: [`RawContract`] is what a client sends (its JSON Schema is the
//! published one, unknown fields rejected); [`Contract`] is what validation produced and the
//! store keeps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Who hands over or receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The agent or person, e.g. "claude-code" or "@alice".
    pub agent: String,
    /// Their role, e.g. "devops-sre-engineer" or "reviewer".
    pub role: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandoffStatus {
    InProgress,
    ReadyForReview,
    Done,
    Blocked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CriterionStatus {
    Met,
    Unmet,
    NotApplicable,
}

/// One acceptance criterion of the story and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceCheck {
    /// The criterion, as the story lists it.
    pub criterion: String,
    pub status: CriterionStatus,
    /// References backing it: paths under the plan root, URLs, commit ids, test names.
    #[serde(default)]
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    File,
    Commit,
    Url,
    Test,
    Log,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// A path under the plan root (kind file), a commit id, a URL, a test name, a log path.
    #[serde(rename = "ref")]
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskSeverity {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    pub text: String,
    pub severity: RiskSeverity,
}

/// The context pack the work used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackRef {
    pub story_id: String,
    /// The pack's `hash`.
    pub hash: String,
}

/// A handoff contract as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "storypack handoff contract")]
pub struct RawContract {
    /// The story handed off; must exist in the plan.
    pub story_id: String,
    /// Who hands over.
    pub from: Party,
    /// Who receives.
    pub to: Party,
    pub status: HandoffStatus,
    /// What was done, in a few sentences.
    pub summary: String,
    /// Every acceptance criterion of the story, each met, unmet or not applicable.
    pub acceptance: Vec<AcceptanceCheck>,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// What is left to do.
    #[serde(default)]
    pub remaining: Vec<String>,
    /// Decisions taken on the way.
    #[serde(default)]
    pub decisions: Vec<String>,
    /// Required when status is `blocked`.
    #[serde(default)]
    pub risks: Vec<Risk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<PackRef>,
}

/// A contract that passed validation: the only kind the store accepts. Strings are trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Contract(RawContract);

impl Contract {
    /// Only validation builds one.
    pub(super) fn new(mut raw: RawContract) -> Contract {
        fn t(s: &mut String) {
            let trimmed = s.trim();
            if trimmed.len() != s.len() {
                *s = trimmed.to_string();
            }
        }
        t(&mut raw.story_id);
        t(&mut raw.summary);
        for p in [&mut raw.from, &mut raw.to] {
            t(&mut p.agent);
            t(&mut p.role);
        }
        for a in &mut raw.acceptance {
            t(&mut a.criterion);
            a.evidence.iter_mut().for_each(t);
        }
        for e in &mut raw.evidence {
            t(&mut e.reference);
        }
        raw.remaining.iter_mut().for_each(t);
        raw.decisions.iter_mut().for_each(t);
        Contract(raw)
    }

    pub fn raw(&self) -> &RawContract {
        &self.0
    }

    pub fn story_id(&self) -> &str {
        &self.0.story_id
    }

    pub fn status(&self) -> HandoffStatus {
        self.0.status
    }
}

/// The contract's JSON Schema (draft 2020-12), as served and printed.
pub fn contract_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawContract)).unwrap_or_default()
}
