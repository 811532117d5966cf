//! Claims are leases. A story's claim events, in the order they were won, add up to at most
//! one live claim: a `take` by the holder (or when nobody holds the story) starts or renews
//! it; a `take` by anyone else while it is held lost the race and counts for nothing; the
//! holder's `release`, a handoff from the holder saying `ready_for_review`, `done` or
//! `blocked`, or the lease running out ends it.
//!
//! Taking is compare-and-set on the store: read the events, decide, write the event at the
//! next number with create-new semantics; a writer that finds the number taken reads again.
//! Two agents asking at once cannot both win.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Latest, parse_stamp, stamp};
use crate::handoff::contract::HandoffStatus;
use crate::handoff::{ClaimAction, ClaimEvent, HandoffStore, StoreError};
use crate::model::Claim;

/// Reads and retries of one take or release before giving up (only contention retries).
const MAX_TRIES: usize = 1_000;

struct Held<'a> {
    agent: &'a str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// Whether `handoff` (from the holder, closing the work, at or after the claim began and
/// at or before `at`) ended the claim.
fn ended_by(h: &Held<'_>, handoff: Option<&Latest>, at: DateTime<Utc>) -> bool {
    handoff.is_some_and(|l| {
        l.agent == h.agent
            && l.status != HandoffStatus::InProgress
            && l.received_at >= h.since
            && l.received_at <= at
    })
}

/// The live claim `events` add up to at `now` (`events` are sorted by number here, events
/// of one number, from merged branches, by time then writer; events whose hash does not
/// match are passed over).
pub fn live_claim(
    events: &mut [&ClaimEvent],
    handoff: Option<&Latest>,
    now: DateTime<Utc>,
) -> Option<Claim> {
    events.sort_by(|a, b| {
        a.n.cmp(&b.n)
            .then_with(|| a.at.cmp(&b.at))
            .then_with(|| a.writer.cmp(&b.writer))
    });
    let mut held: Option<Held<'_>> = None;
    for e in events.iter() {
        if !e.intact() {
            tracing::warn!(id = %e.id, "claim event does not match its hash: passed over");
            continue;
        }
        let Some(at) = parse_stamp(&e.at) else {
            continue;
        };
        if held
            .as_ref()
            .is_some_and(|h| h.until <= at || ended_by(h, handoff, at))
        {
            held = None;
        }
        match e.action {
            ClaimAction::Take => {
                let Some(until) = e.until.as_deref().and_then(parse_stamp) else {
                    continue;
                };
                match &mut held {
                    None => {
                        held = Some(Held {
                            agent: &e.agent,
                            since: at,
                            until,
                        })
                    }
                    Some(h) if h.agent == e.agent => h.until = until,
                    // Someone else's take while held: it lost the race.
                    Some(_) => {}
                }
            }
            ClaimAction::Release => {
                if held.as_ref().is_some_and(|h| h.agent == e.agent) {
                    held = None;
                }
            }
        }
    }
    let h = held?;
    if h.until <= now || ended_by(&h, handoff, now) {
        return None;
    }
    Some(Claim {
        agent: h.agent.to_string(),
        since: stamp(h.since),
        until: stamp(h.until),
    })
}

/// What a take came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// The agent holds the story now (a new lease, or its own renewed).
    Won { claim: Claim, renewed: bool },
    /// Another agent holds it.
    Held(Claim),
}

/// What a release came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    Released(Claim),
    /// The agent does not hold the story (someone else may: that claim).
    NotHeld(Option<Claim>),
}

/// Reads a story's events and its live claim at `now`; the next free number.
fn current(
    store: &dyn HandoffStore,
    story_id: &str,
    handoff: Option<&Latest>,
    now: DateTime<Utc>,
) -> Result<(Option<Claim>, u64), StoreError> {
    let events = store.claim_events(Some(story_id))?;
    let next = events.iter().map(|e| e.n).max().unwrap_or(0) + 1;
    let mut refs: Vec<&ClaimEvent> = events.iter().collect();
    Ok((live_claim(&mut refs, handoff, now), next))
}

/// Takes (or renews) a lease of `ttl` on `story_id` for `agent`; first writer wins.
pub fn take(
    store: &dyn HandoffStore,
    story_id: &str,
    agent: &str,
    ttl: Duration,
    handoff: Option<&Latest>,
    clock: &dyn Fn() -> DateTime<Utc>,
) -> Result<Take, StoreError> {
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(2));
    for _ in 0..MAX_TRIES {
        let now = clock();
        let (live, n) = current(store, story_id, handoff, now)?;
        if let Some(c) = &live
            && c.agent != agent
        {
            return Ok(Take::Held(c.clone()));
        }
        let until = now + ttl;
        let event = ClaimEvent::new(
            story_id,
            n,
            ClaimAction::Take,
            agent,
            stamp(now),
            Some(stamp(until)),
        )
        .with_writer(store.writer()?.as_deref());
        if store.append_claim(&event)? {
            let renewed = live.is_some();
            return Ok(Take::Won {
                claim: Claim {
                    agent: agent.to_string(),
                    since: live.map_or_else(|| stamp(now), |c| c.since),
                    until: stamp(until),
                },
                renewed,
            });
        }
    }
    Err(StoreError::Contention {
        story_id: story_id.to_string(),
        attempts: MAX_TRIES,
    })
}

/// Ends `agent`'s lease on `story_id`.
pub fn release(
    store: &dyn HandoffStore,
    story_id: &str,
    agent: &str,
    handoff: Option<&Latest>,
    clock: &dyn Fn() -> DateTime<Utc>,
) -> Result<Release, StoreError> {
    for _ in 0..MAX_TRIES {
        let now = clock();
        let (live, n) = current(store, story_id, handoff, now)?;
        let held = match live {
            Some(c) if c.agent == agent => c,
            other => return Ok(Release::NotHeld(other)),
        };
        let event = ClaimEvent::new(story_id, n, ClaimAction::Release, agent, stamp(now), None)
            .with_writer(store.writer()?.as_deref());
        if store.append_claim(&event)? {
            return Ok(Release::Released(held));
        }
    }
    Err(StoreError::Contention {
        story_id: story_id.to_string(),
        attempts: MAX_TRIES,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::FileStore;

    fn t(s: &str) -> DateTime<Utc> {
        parse_stamp(&format!("2026-12-01T{s}:00.000Z")).unwrap()
    }

    #[test]
    fn a_lease_is_won_once_renewed_by_its_agent_and_expires_at_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::for_plan(dir.path());
        let hour = Duration::from_secs(3600);
        let at10 = || t("10:00");
        let Take::Won { claim, renewed } = take(&store, "S-1", "a", hour, None, &at10).unwrap()
        else {
            panic!("the first take wins")
        };
        assert!(!renewed);
        assert_eq!(claim.until, "2026-12-01T11:00:00.000Z");
        // Someone else: held by a.
        let at1030 = || t("10:30");
        assert!(matches!(
            take(&store, "S-1", "b", hour, None, &at1030).unwrap(),
            Take::Held(c) if c.agent == "a"
        ));
        // a renews: same since, later until.
        let Take::Won { claim, renewed } = take(&store, "S-1", "a", hour, None, &at1030).unwrap()
        else {
            panic!("the holder renews")
        };
        assert!(renewed);
        assert_eq!(claim.since, "2026-12-01T10:00:00.000Z");
        assert_eq!(claim.until, "2026-12-01T11:30:00.000Z");
        // One millisecond before the end it holds; at the end it is gone.
        let events = store.claim_events(Some("S-1")).unwrap();
        let mut refs: Vec<&ClaimEvent> = events.iter().collect();
        let before = parse_stamp("2026-12-01T11:29:59.999Z").unwrap();
        assert!(live_claim(&mut refs, None, before).is_some());
        assert!(live_claim(&mut refs, None, t("11:30")).is_none());
        // Then b can take it.
        let at1130 = || t("11:30");
        assert!(matches!(
            take(&store, "S-1", "b", hour, None, &at1130).unwrap(),
            Take::Won { .. }
        ));
        // Numbers are dense; the losing take was never written.
        let ns: Vec<u64> = store
            .claim_events(Some("S-1"))
            .unwrap()
            .iter()
            .map(|e| e.n)
            .collect();
        assert_eq!(ns, [1, 2, 3]);
    }

    #[test]
    fn a_release_or_a_closing_handoff_ends_the_lease() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::for_plan(dir.path());
        let hour = Duration::from_secs(3600);
        let at10 = || t("10:00");
        take(&store, "S-1", "a", hour, None, &at10).unwrap();
        assert!(matches!(
            release(&store, "S-1", "b", None, &at10).unwrap(),
            Release::NotHeld(Some(_))
        ));
        assert!(matches!(
            release(&store, "S-1", "a", None, &at10).unwrap(),
            Release::Released(_)
        ));
        assert!(matches!(
            release(&store, "S-1", "a", None, &at10).unwrap(),
            Release::NotHeld(None)
        ));
        // A handoff from the holder after the take ends it; one in progress does not.
        let at11 = || t("11:00");
        take(&store, "S-2", "a", hour, None, &at10).unwrap();
        let handoff = |status| Latest {
            id: "S-2#1".into(),
            status,
            agent: "a".into(),
            received_at: t("10:20"),
        };
        let events = store.claim_events(Some("S-2")).unwrap();
        let mut refs: Vec<&ClaimEvent> = events.iter().collect();
        let working = handoff(HandoffStatus::InProgress);
        assert!(live_claim(&mut refs, Some(&working), t("10:30")).is_some());
        let review = handoff(HandoffStatus::ReadyForReview);
        assert!(live_claim(&mut refs, Some(&review), t("10:30")).is_none());
        // ...and another agent may take it at once.
        assert!(matches!(
            take(&store, "S-2", "b", hour, Some(&review), &at11).unwrap(),
            Take::Won { .. }
        ));
    }
}
