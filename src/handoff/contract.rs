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

impl HandoffStatus {
    /// The name the JSON spells (serde's snake_case).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HandoffStatus::InProgress => "in_progress",
            HandoffStatus::ReadyForReview => "ready_for_review",
            HandoffStatus::Done => "done",
            HandoffStatus::Blocked => "blocked",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CriterionStatus {
    Met,
    Unmet,
    NotApplicable,
}

impl CriterionStatus {
    /// The name the JSON spells (serde's snake_case).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CriterionStatus::Met => "met",
            CriterionStatus::Unmet => "unmet",
            CriterionStatus::NotApplicable => "not_applicable",
        }
    }
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

impl EvidenceKind {
    /// The name the JSON spells (serde's snake_case).
    #[cfg(test)]
    fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::File => "file",
            EvidenceKind::Commit => "commit",
            EvidenceKind::Url => "url",
            EvidenceKind::Test => "test",
            EvidenceKind::Log => "log",
        }
    }
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

impl RiskSeverity {
    /// The name the JSON spells (serde's snake_case).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RiskSeverity::Low => "low",
            RiskSeverity::Medium => "medium",
            RiskSeverity::High => "high",
        }
    }
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

    pub(crate) fn raw(&self) -> &RawContract {
        &self.0
    }

    pub fn story_id(&self) -> &str {
        &self.0.story_id
    }
}

/// The contract's JSON Schema (draft 2020-12), as served and printed.
pub fn contract_schema() -> serde_json::Value {
    schemars::schema_for!(RawContract).to_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_name<T: Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    #[test]
    fn as_str_is_the_json_name() {
        use HandoffStatus as S;
        for v in [S::InProgress, S::ReadyForReview, S::Done, S::Blocked] {
            assert_eq!(v.as_str(), serde_name(v));
        }
        use CriterionStatus as C;
        for v in [C::Met, C::Unmet, C::NotApplicable] {
            assert_eq!(v.as_str(), serde_name(v));
        }
        use EvidenceKind as K;
        for v in [K::File, K::Commit, K::Url, K::Test, K::Log] {
            assert_eq!(v.as_str(), serde_name(v));
        }
        use RiskSeverity as R;
        for v in [R::Low, R::Medium, R::High] {
            assert_eq!(v.as_str(), serde_name(v));
        }
    }

    #[test]
    fn the_schema_is_an_object_with_the_contract_fields() {
        let schema = contract_schema();
        let props = &schema["properties"];
        for field in ["story_id", "status", "acceptance", "evidence", "risks"] {
            assert!(props.get(field).is_some(), "{field} missing from {schema}");
        }
    }
}
