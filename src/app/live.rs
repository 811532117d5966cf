//! What depends on the handoff record as well as the plan: each story's live state, claims,
//! the next story for an agent, and `sync`. The clock is `STORYPACK_NOW` when set (an RFC
//! 3339 time: tests and demos), else the system's.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::App;
use crate::coord::claims::{self, Release, Take};
use crate::coord::next::{self, NextStory};
use crate::coord::{self, Latest};
use crate::error::Error;
use crate::handoff::contract::HandoffStatus;
use crate::handoff::verify::Verifier;
use crate::handoff::{self, HandoffRecord};
use crate::model::{Claim, LiveState, States, StoryState, StoryStatus};
use crate::priorities;
use crate::writeback;

/// The environment variable that sets the clock (RFC 3339), for tests and demos.
pub(crate) const NOW_ENV: &str = "STORYPACK_NOW";
/// Longest agent name accepted.
const MAX_AGENT_LEN: usize = 128;

/// What `next_story` is asked.
#[derive(Debug, Clone, Default)]
pub struct NextRequest {
    pub role: Option<String>,
    pub sprint: Option<String>,
    pub agent: Option<String>,
    /// Claim the story for `agent` (required then).
    pub claim: bool,
    /// The lease, as `90m`, `2h`, `1h 30m` (default 2h).
    pub ttl: Option<String>,
}

/// What taking or releasing a claim came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClaimOutcome {
    pub story_id: String,
    /// True when the agent holds the story now (`take`) or gave it up (`release`).
    pub ok: bool,
    /// The agent's lease (after a take), or the one released.
    pub claim: Option<Claim>,
    /// Another agent's live claim that stood in the way.
    pub held_by: Option<Claim>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoryClaim {
    pub story_id: String,
    pub title: String,
    #[serde(flatten)]
    pub claim: Claim,
}

/// Live claims, in plan order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClaimList {
    pub count: usize,
    pub claims: Vec<StoryClaim>,
}

/// The clock: `STORYPACK_NOW` when set and valid, else the system's.
pub(crate) fn now() -> DateTime<Utc> {
    match std::env::var(NOW_ENV) {
        Ok(v) => coord::parse_stamp(v.trim()).unwrap_or_else(|| {
            tracing::warn!(value = %v, "{NOW_ENV} is not an RFC 3339 time: using the clock");
            Utc::now()
        }),
        Err(_) => Utc::now(),
    }
}

fn check_agent(agent: &str) -> Result<&str, Error> {
    let a = agent.trim();
    if a.is_empty() || a.chars().count() > MAX_AGENT_LEN || a.chars().any(char::is_control) {
        return Err(Error::invalid(
            "agent",
            format!("must be 1 to {MAX_AGENT_LEN} characters without control characters"),
        ));
    }
    Ok(a)
}

/// `90m`, `2h`, `1h 30m`, `45s` -> the lease, within bounds.
pub(crate) fn parse_ttl(raw: Option<&str>) -> Result<Duration, Error> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(coord::DEFAULT_TTL);
    };
    let ttl = humantime::parse_duration(raw).map_err(|e| {
        Error::invalid(
            "ttl",
            format!(
                "`{}` is not a duration like 90m, 2h or 1h 30m ({e})",
                raw.chars().take(40).collect::<String>()
            ),
        )
    })?;
    if !(coord::MIN_TTL..=coord::MAX_TTL).contains(&ttl) {
        return Err(Error::invalid(
            "ttl",
            format!("{raw} is out of range (1s to 7 days)"),
        ));
    }
    Ok(ttl)
}

fn latest_of(r: &HandoffRecord) -> Option<Latest> {
    let raw = r.contract.raw();
    Some(Latest {
        id: r.id.clone(),
        status: raw.status,
        agent: raw.from.agent.clone(),
        received_at: coord::parse_stamp(&r.received_at)?,
    })
}

impl App {
    /// Each story's newest record that is intact (its hash matches) and validates against
    /// the plan as it is now (records that do not are passed over), of one story or all.
    pub(crate) fn latest_valid(
        &self,
        story_id: Option<&str>,
    ) -> Result<HashMap<String, HandoffRecord>, Error> {
        let mut by_story: HashMap<String, Vec<HandoffRecord>> = HashMap::new();
        let records = match (self.handoffs.list(story_id), story_id) {
            (Ok(records), _) => records,
            (Err(e), Some(_)) => return Err(e.into()),
            // One unreadable record must not hide every story's state: read story by
            // story and pass over the stories whose records cannot be read.
            (Err(e), None) => {
                tracing::warn!(error = %e, "the handoff record has an unreadable file");
                let mut all = Vec::new();
                for story in &self.plan().stories {
                    if handoff::store::check_story_id(&story.id).is_err() {
                        continue;
                    }
                    match self.handoffs.list(Some(&story.id)) {
                        Ok(records) => all.extend(records),
                        Err(e) => tracing::warn!(
                            story = %story.id,
                            error = %e,
                            "handoffs passed over for the story's state"
                        ),
                    }
                }
                all
            }
        };
        for r in records {
            by_story.entry(r.story_id.clone()).or_default().push(r);
        }
        let root = self.canonical_root();
        let verify = Verifier::new(&root);
        let mut out = HashMap::new();
        for (story, records) in by_story {
            let valid = records.into_iter().rev().find(|r| {
                r.intact()
                    && serde_json::to_value(&r.contract)
                        .is_ok_and(|v| self.validate_with(&v, &verify, false).0.valid)
            });
            if let Some(r) = valid {
                out.insert(story, r);
            }
        }
        Ok(out)
    }

    /// A story's newest intact record that validates against the plan as it is now.
    pub fn latest_valid_handoff(&self, story_id: &str) -> Result<Option<HandoffRecord>, Error> {
        Ok(self.latest_valid(Some(story_id))?.remove(story_id))
    }

    /// Every story's live state (see [`coord::state`]).
    pub fn states(&self) -> Result<States, Error> {
        Ok(self.live()?.1)
    }

    /// Every story's latest valid handoff (as state derivation needs it) and live state.
    fn live(&self) -> Result<(HashMap<String, Latest>, States), Error> {
        let latest: HashMap<String, Latest> = self
            .latest_valid(None)?
            .into_iter()
            .filter_map(|(id, r)| Some((id, latest_of(&r)?)))
            .collect();
        let events = self.handoffs.claim_events(None)?;
        let states = coord::state::derive(self.plan(), &latest, &events, now());
        Ok((latest, states))
    }

    /// One story's live state (reads only that story's record).
    pub fn live_state(&self, story_id: &str) -> Result<LiveState, Error> {
        let story = crate::pack::find_story(self.plan(), story_id)?;
        if handoff::store::check_story_id(&story.id).is_err() {
            return Ok(coord::state::one(story.status, None, None));
        }
        let latest = self.latest_of_story(&story.id)?;
        let events = self.handoffs.claim_events(Some(&story.id))?;
        let mut refs: Vec<_> = events.iter().collect();
        let claim = claims::live_claim(&mut refs, latest.as_ref(), now());
        Ok(coord::state::one(story.status, latest.as_ref(), claim))
    }

    fn latest_of_story(&self, story_id: &str) -> Result<Option<Latest>, Error> {
        Ok(self
            .latest_valid_handoff(story_id)?
            .as_ref()
            .and_then(latest_of))
    }

    /// The best ready story for a role and sprint, and why; with `claim`, leased to the
    /// agent atomically (a story another agent won meanwhile is passed for the next).
    pub fn next_story(&self, req: &NextRequest, today: NaiveDate) -> Result<NextStory, Error> {
        let plan = self.plan();
        let role = req
            .role
            .as_deref()
            .map(|r| priorities::resolve_role(plan, r))
            .transpose()?;
        let sprint = req
            .sprint
            .as_deref()
            .map(|s| priorities::resolve_sprint(plan, s).map(|s| s.id.clone()))
            .transpose()?;
        let agent = req.agent.as_deref().map(check_agent).transpose()?;
        let ttl = parse_ttl(req.ttl.as_deref())?;
        if req.claim && agent.is_none() {
            return Err(Error::invalid(
                "agent",
                "is required to claim (who takes the story)".into(),
            ));
        }
        let t = std::time::Instant::now();
        let (latest, mut states) = self.live()?;
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "story states derived");
        let current = priorities::current_sprint(plan, today).map(|(s, _)| s.id.clone());
        let q = next::Query {
            role: role.as_deref(),
            sprint: sprint.as_deref(),
            agent,
            current: current.as_deref(),
        };
        let t = std::time::Instant::now();
        let ranking = next::rank(plan, &states, &q);
        tracing::debug!(
            ms = t.elapsed().as_millis() as u64,
            ready = ranking.ready.len(),
            "ready stories ranked"
        );
        let Some(agent) = agent.filter(|_| req.claim) else {
            let pick = (!ranking.ready.is_empty()).then_some(0);
            return Ok(ranking.answer(&states, &q, pick, None));
        };
        for (i, r) in ranking.ready.iter().enumerate() {
            let id = &r.story.id;
            if handoff::store::check_story_id(id).is_err() {
                continue;
            }
            let latest = latest.get(id);
            match claims::take(&*self.handoffs, id, agent, ttl, latest, &now)? {
                Take::Won { claim, renewed } => {
                    tracing::info!(story = %id, agent, renewed, "claimed");
                    states.insert(
                        id.clone(),
                        coord::state::one(r.story.status, latest, Some(claim.clone())),
                    );
                    return Ok(ranking.answer(&states, &q, Some(i), Some(claim)));
                }
                Take::Held(_) => continue,
            }
        }
        Ok(ranking.answer(&states, &q, None, None))
    }

    /// Takes (or renews) `agent`'s lease on a story; first writer wins.
    pub fn claim(
        &self,
        story_id: &str,
        agent: &str,
        ttl: Option<&str>,
    ) -> Result<ClaimOutcome, Error> {
        let agent = check_agent(agent)?;
        let ttl = parse_ttl(ttl)?;
        let story = crate::pack::find_story(self.plan(), story_id)?;
        let id = story.id.clone();
        let latest = if handoff::store::check_story_id(&id).is_ok() {
            self.latest_of_story(&id)?
        } else {
            None
        };
        // Done (in the plan or by its latest valid handoff) whatever any claim says.
        if coord::state::one(story.status, latest.as_ref(), None).state == StoryState::Done {
            return Ok(ClaimOutcome {
                story_id: id.clone(),
                ok: false,
                claim: None,
                held_by: None,
                message: format!("{id} is done: nothing to claim"),
            });
        }
        handoff::store::check_story_id(&id)?;
        Ok(
            match claims::take(&*self.handoffs, &id, agent, ttl, latest.as_ref(), &now)? {
                Take::Won { claim, renewed } => ClaimOutcome {
                    message: format!(
                        "{id} {} by {agent} until {}",
                        if renewed { "renewed" } else { "claimed" },
                        claim.until
                    ),
                    story_id: id,
                    ok: true,
                    claim: Some(claim),
                    held_by: None,
                },
                Take::Held(other) => ClaimOutcome {
                    message: format!("{id} is claimed by {} until {}", other.agent, other.until),
                    story_id: id,
                    ok: false,
                    claim: None,
                    held_by: Some(other),
                },
            },
        )
    }

    /// Ends `agent`'s lease on a story.
    pub fn release_claim(&self, story_id: &str, agent: &str) -> Result<ClaimOutcome, Error> {
        let agent = check_agent(agent)?;
        let story = crate::pack::find_story(self.plan(), story_id)?;
        let id = story.id.clone();
        handoff::store::check_story_id(&id)?;
        let latest = self.latest_of_story(&id)?;
        Ok(
            match claims::release(&*self.handoffs, &id, agent, latest.as_ref(), &now)? {
                Release::Released(c) => ClaimOutcome {
                    message: format!("{id} released by {agent}"),
                    story_id: id,
                    ok: true,
                    claim: Some(c),
                    held_by: None,
                },
                Release::NotHeld(other) => ClaimOutcome {
                    message: match &other {
                        Some(o) => format!(
                            "{agent} holds no claim on {id} ({} does, until {})",
                            o.agent, o.until
                        ),
                        None => format!("{agent} holds no claim on {id}"),
                    },
                    story_id: id,
                    ok: false,
                    claim: None,
                    held_by: other,
                },
            },
        )
    }

    /// Live claims, in plan order.
    pub fn claims(&self) -> Result<ClaimList, Error> {
        let states = self.states()?;
        let claims: Vec<StoryClaim> = self
            .plan()
            .stories
            .iter()
            .filter_map(|s| {
                let c = states.get(&s.id)?.claim.clone()?;
                Some(StoryClaim {
                    story_id: s.id.clone(),
                    title: s.title.clone(),
                    claim: c,
                })
            })
            .collect();
        Ok(ClaimList {
            count: claims.len(),
            claims,
        })
    }

    /// `storypack sync`: the plan edits that record, for each story the plan does not say
    /// is done, a latest valid handoff that is `done` ([`writeback::plan_edits`]).
    pub fn sync(&self) -> Result<writeback::Edits, Error> {
        let latest = self.latest_valid(None)?;
        let mut done = Vec::new();
        for story in &self.plan().stories {
            if story.status == StoryStatus::Done {
                continue;
            }
            if let Some(record) = latest.get(&story.id)
                && record.contract.raw().status == HandoffStatus::Done
            {
                done.push(writeback::DoneStory {
                    story_id: story.id.clone(),
                    handoff: record.id.clone(),
                });
            }
        }
        Ok(writeback::plan_edits(self.plan(), &done))
    }
}
