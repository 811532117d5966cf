//! Claim events: the append-only history of who leased a story, kept beside the handoff
//! records by the same store. What a claim means (who holds a story now) is derived from
//! them by `coord`; this is only the stored shape.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimAction {
    /// Takes the story (or renews the lease the agent holds) until `until`.
    Take,
    /// Gives the story up.
    Release,
}

/// One stored claim event. Immutable once stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClaimEvent {
    /// `<story_id>@<n>-<writer>`, e.g. "SRE-04-01@3-k2x7m4pq" (`<story_id>@<n>` in
    /// PostgreSQL and from versions before writer tags).
    pub id: String,
    /// 1, 2, … per story, without gaps: the order events were won in.
    pub n: u64,
    /// The tag of the clone or worktree whose file store wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    pub story_id: String,
    pub action: ClaimAction,
    pub agent: String,
    /// When storypack stored it (RFC 3339, UTC).
    pub at: String,
    /// A take's lease end (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// blake3 of the event's JSON with an empty `hash` (hex, 32 chars).
    pub hash: String,
}

impl ClaimEvent {
    /// A new event, its id and hash filled in.
    pub fn new(
        story_id: &str,
        n: u64,
        action: ClaimAction,
        agent: &str,
        at: String,
        until: Option<String>,
    ) -> ClaimEvent {
        let mut e = ClaimEvent {
            id: format!("{story_id}@{n}"),
            n,
            writer: None,
            story_id: story_id.to_string(),
            action,
            agent: agent.to_string(),
            at,
            until,
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    /// The event filed under `writer`: the tag set, the id made from it, the hash anew.
    pub fn with_writer(mut self, writer: Option<&str>) -> ClaimEvent {
        self.writer = writer.map(str::to_string);
        self.id = format!("{}@{}", self.story_id, self.slot());
        self.hash = self.compute_hash();
        self
    }

    /// Its place in the story's log.
    pub fn slot(&self) -> crate::handoff::Slot {
        crate::handoff::Slot::new(self.n, self.writer.as_deref())
    }

    fn compute_hash(&self) -> String {
        let mut plain = self.clone();
        plain.hash = String::new();
        #[allow(
            clippy::expect_used,
            reason = "an event is strings and numbers: it always serializes"
        )]
        let bytes = serde_json::to_vec(&plain).expect("a claim event serializes");
        blake3::hash(&bytes).to_hex()[..32].to_string()
    }

    /// Whether the stored hash still matches the event (and its id its story and number).
    pub fn intact(&self) -> bool {
        self.id == format!("{}@{}", self.story_id, self.slot()) && self.compute_hash() == self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_event_is_not_intact() {
        let e = ClaimEvent::new(
            "S-1",
            1,
            ClaimAction::Take,
            "a",
            "2026-12-01T10:00:00.000Z".into(),
            Some("2026-12-01T12:00:00.000Z".into()),
        );
        assert!(e.intact());
        let mut forged = e.clone();
        forged.agent = "b".into();
        assert!(!forged.intact());
        let mut moved = e;
        moved.n = 2;
        assert!(!moved.intact());
    }
}
