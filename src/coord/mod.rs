//! Agents coordinating on one plan: each story's live state, claims (leases won atomically
//! in the handoff store), and the next ready story for an agent.
//!
//! - [`state`]: a story's state from the plan, its latest valid handoff and its live claim.
//! - [`claims`]: the lease a story's claim events add up to; taking and releasing one.
//! - [`next`]: the best ready story for a role and sprint, and why.
//!
//! Pure over its inputs: the clock (`now`) and the latest valid handoffs are given by the
//! caller (`App`), so tests set them.

pub mod claims;
pub mod next;
pub mod state;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::handoff::contract::HandoffStatus;

/// Default lease: two hours.
pub const DEFAULT_TTL: std::time::Duration = std::time::Duration::from_secs(2 * 3600);
/// Longest lease accepted: a week.
pub const MAX_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
/// Shortest lease accepted.
pub const MIN_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// What state derivation needs of a story's latest valid handoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub id: String,
    pub status: HandoffStatus,
    /// The handing-over agent (`from.agent`).
    pub agent: String,
    pub received_at: DateTime<Utc>,
}

/// A time as the store writes it: RFC 3339, UTC, milliseconds.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A stored time back; None when it is not RFC 3339.
pub fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
