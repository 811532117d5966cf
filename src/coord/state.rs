//! A story's live state: `done` when the plan says so or its latest valid handoff is `done`;
//! else the latest valid handoff's status (`in_progress`, `ready_for_review`, `blocked`),
//! unless a claim taken after it holds the story again (`claimed`); else `claimed` while a
//! live claim holds it; else `todo`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::Latest;
use super::claims::live_claim;
use crate::handoff::ClaimEvent;
use crate::handoff::contract::HandoffStatus;
use crate::model::{LiveState, Plan, States, StoryState, StoryStatus};

/// Live states of every story of the plan.
///
/// `latest`: each story's latest valid handoff; `events`: claim events of every story (any
/// order within a story is fine: they are sorted by number).
pub fn derive(
    plan: &Plan,
    latest: &HashMap<String, Latest>,
    events: &[ClaimEvent],
    now: DateTime<Utc>,
) -> States {
    let mut by_story: HashMap<&str, Vec<&ClaimEvent>> = HashMap::new();
    for e in events {
        by_story.entry(e.story_id.as_str()).or_default().push(e);
    }
    let mut out = States::with_capacity(plan.stories.len());
    for story in &plan.stories {
        let handoff = latest.get(&story.id);
        let claim = by_story
            .get_mut(story.id.as_str())
            .and_then(|evs| live_claim(evs, handoff, now));
        out.insert(story.id.clone(), one(story.status, handoff, claim));
    }
    out
}

/// The state of one story from its plan status, latest valid handoff and live claim.
pub(crate) fn one(
    status: StoryStatus,
    handoff: Option<&Latest>,
    claim: Option<crate::model::Claim>,
) -> LiveState {
    let handoff_id = handoff.map(|h| h.id.clone());
    let claimed_after = |h: &Latest| {
        claim
            .as_ref()
            .and_then(|c| super::parse_stamp(&c.since))
            .is_some_and(|since| since > h.received_at)
    };
    let state = if status == StoryStatus::Done {
        StoryState::Done
    } else {
        match handoff {
            Some(h) if h.status == HandoffStatus::Done => StoryState::Done,
            Some(h) if claimed_after(h) => StoryState::Claimed,
            Some(h) => match h.status {
                HandoffStatus::InProgress => StoryState::InProgress,
                HandoffStatus::ReadyForReview => StoryState::ReadyForReview,
                HandoffStatus::Blocked => StoryState::Blocked,
                HandoffStatus::Done => StoryState::Done,
            },
            None if claim.is_some() => StoryState::Claimed,
            None => StoryState::Todo,
        }
    };
    LiveState {
        claim: if state == StoryState::Done {
            None
        } else {
            claim
        },
        state,
        handoff: handoff_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Claim;

    fn latest(status: HandoffStatus, at: &str) -> Latest {
        Latest {
            id: "S-1#1".into(),
            status,
            agent: "a".into(),
            received_at: super::super::parse_stamp(at).unwrap(),
        }
    }

    fn claim(since: &str) -> Claim {
        Claim {
            agent: "b".into(),
            since: since.into(),
            until: "2026-12-09T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn states_follow_the_plan_then_the_handoff_then_the_claim() {
        let t = "2026-12-01T10:00:00.000Z";
        let later = "2026-12-01T11:00:00.000Z";
        let earlier = "2026-12-01T09:00:00.000Z";
        assert_eq!(one(StoryStatus::Todo, None, None).state, StoryState::Todo);
        assert_eq!(
            one(StoryStatus::Done, None, Some(claim(t))).state,
            StoryState::Done
        );
        assert_eq!(one(StoryStatus::Done, None, Some(claim(t))).claim, None);
        assert_eq!(
            one(StoryStatus::Todo, None, Some(claim(t))).state,
            StoryState::Claimed
        );
        for (status, state) in [
            (HandoffStatus::InProgress, StoryState::InProgress),
            (HandoffStatus::ReadyForReview, StoryState::ReadyForReview),
            (HandoffStatus::Blocked, StoryState::Blocked),
            (HandoffStatus::Done, StoryState::Done),
        ] {
            let h = latest(status, t);
            assert_eq!(one(StoryStatus::Todo, Some(&h), None).state, state);
            assert_eq!(
                one(StoryStatus::Todo, Some(&h), Some(claim(earlier))).state,
                state,
                "a claim older than the handoff does not change {status:?}"
            );
        }
        // Taken up again after a blocked handoff: claimed.
        let blocked = latest(HandoffStatus::Blocked, t);
        assert_eq!(
            one(StoryStatus::Todo, Some(&blocked), Some(claim(later))).state,
            StoryState::Claimed
        );
        // Done stays done.
        let done = latest(HandoffStatus::Done, t);
        assert_eq!(
            one(StoryStatus::Todo, Some(&done), Some(claim(later))).state,
            StoryState::Done
        );
    }
}
