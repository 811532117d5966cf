//! Handoff contracts: validated against the plan, recorded append-only.
//!
//! - [`contract`]: the raw (client) and validated (stored) contract types, the JSON Schema.
//! - [`validate`]: every problem at once, with JSON pointers.
//! - [`store`]: the store trait and the embedded file store (records and claim events).
//! - [`claim`]: the stored claim event.
//! - [`verify`]: checkable evidence (JUnit reports, commits), for validation and gates.

pub(crate) mod claim;
pub(crate) mod contract;
mod excerpt;
pub(crate) mod store;
pub(crate) mod validate;
pub(crate) mod verify;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use claim::{ClaimAction, ClaimEvent};
pub use contract::{Contract, RawContract, contract_schema};
pub use store::{EntryKind, FileStore, HandoffStore, Put, RawEntry, Slot, StoreChange, StoreError};
pub use validate::{Problem, ProblemSeverity, Validation};

use crate::error::Error;

/// A recorded handoff. Immutable once stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HandoffRecord {
    /// `<story_id>#<n>-<writer>`, e.g. "SRE-04-01#2-k2x7m4pq" (`<story_id>#<n>` for a
    /// record stored in PostgreSQL or by a version before writer tags).
    pub id: String,
    /// 1, 2, … per story, without gaps (records of one number can come from two branches).
    pub n: u64,
    /// The tag of the clone or worktree whose file store wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    pub story_id: String,
    /// When storypack stored it (RFC 3339, UTC).
    pub received_at: String,
    /// blake3 of the stored contract's canonical JSON (hex, 32 chars).
    pub hash: String,
    pub contract: Contract,
}

impl HandoffRecord {
    /// Whether the stored hash still matches the stored contract.
    pub fn intact(&self) -> bool {
        contract_hash(&self.contract) == self.hash
    }

    /// Its place in the story's log.
    pub fn slot(&self) -> Slot {
        Slot::new(self.n, self.writer.as_deref())
    }

    /// The record filed under `writer`: the tag set and the id made from it.
    pub fn with_writer(mut self, writer: Option<&str>) -> HandoffRecord {
        self.writer = writer.map(str::to_string);
        self.id = format!("{}#{}", self.story_id, self.slot());
        self
    }
}

/// What `record_handoff` returns: the record, or the problems (nothing recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordOutcome {
    pub recorded: bool,
    /// The record, when one was stored (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<HandoffRecord>,
    pub validation: Validation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HandoffList {
    pub count: usize,
    /// Oldest first, newest last.
    pub handoffs: Vec<HandoffRecord>,
}

pub(crate) fn contract_hash(contract: &Contract) -> String {
    #[allow(
        clippy::expect_used,
        reason = "a contract is strings and enums: it always serializes"
    )]
    let bytes = serde_json::to_vec(contract).expect("a contract serializes");
    blake3::hash(&bytes).to_hex()[..32].to_string()
}

/// `SRE-04-01#2-k2x7m4pq` -> ("SRE-04-01", 2-k2x7m4pq); `SRE-04-01#2` -> ("SRE-04-01", 2).
pub(crate) fn parse_id(id: &str) -> Result<(&str, Slot), Error> {
    let bad = || {
        Error::invalid(
            "id",
            format!(
                "`{}` is not a handoff id (<story_id>#<n>-<writer>, e.g. \
                 SRE-04-01#2-k2x7m4pq, or <story_id>#<n>)",
                crate::model::escape_controls(&id.chars().take(64).collect::<String>())
            ),
        )
    };
    let (story, slot) = id.trim().rsplit_once('#').ok_or_else(bad)?;
    let slot = Slot::parse(slot).ok_or_else(bad)?;
    store::check_story_id(story).map_err(|_| bad())?;
    Ok((story, slot))
}
