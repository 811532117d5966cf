//! The next ready story: not done, nobody else's, its dependencies done; the best first by
//! the current sprint, dependency order (fewest dependencies behind it), how many open
//! stories it unblocks, then plan order. The answer says why, and what waits on what.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{Citation, Claim, Plan, States, Story, StoryState, is_done, state_of};

/// Waiting stories listed in an answer (the rest are counted).
const WAITING_SHOWN: usize = 10;

/// Who asks, for what.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<'a> {
    /// A role slug (resolved): only its stories.
    pub role: Option<&'a str>,
    /// A sprint id (resolved): only its stories. None: every sprint, the current one first.
    pub sprint: Option<&'a str>,
    /// The asking agent: its own claims count as ready.
    pub agent: Option<&'a str>,
    /// The current sprint's id.
    pub current: Option<&'a str>,
}

/// What `next_story` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NextStory {
    /// The story to take; absent when none is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<Pick>,
    /// The agent's lease on it, when this call claimed it (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    /// Why this story, or why none.
    pub why: Vec<String>,
    /// Ready stories in scope, the pick included.
    pub ready: usize,
    /// Open stories in scope that wait: on dependencies, or blocked.
    pub waiting: Vec<Waiting>,
    /// Waiting stories beyond those listed.
    pub waiting_more: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Pick {
    pub id: String,
    pub title: String,
    pub sprint: Option<String>,
    pub role: Option<String>,
    pub state: StoryState,
    pub depends_on: Vec<String>,
    /// Open stories that depend on it, directly or not.
    pub unblocks: usize,
    pub citation: Citation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Waiting {
    pub id: String,
    pub state: StoryState,
    /// Dependencies not done yet (empty for a story blocked by its own handoff).
    pub waits_on: Vec<String>,
}

/// Ready stories best first, and what the rest of the scope is doing.
pub struct Ranking<'p> {
    pub ready: Vec<Ranked<'p>>,
    waiting: Vec<Waiting>,
    done: usize,
    taken: usize,
    in_scope: usize,
}

pub struct Ranked<'p> {
    pub story: &'p Story,
    sprint_rank: u8,
    depth: usize,
    unblocks: usize,
}

/// Ranks the stories of `q`'s scope.
pub fn rank<'p>(plan: &'p Plan, states: &States, q: &Query<'_>) -> Ranking<'p> {
    let done = |id: &str| is_done(plan, states, id);
    let sprint_pos: HashMap<&str, usize> = plan
        .sprints
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let current_pos = q.current.and_then(|c| sprint_pos.get(c).copied());
    let mut depth_memo: HashMap<&str, usize> = HashMap::new();
    let dependents = dependents(plan);
    let mut out = Ranking {
        ready: Vec::new(),
        waiting: Vec::new(),
        done: 0,
        taken: 0,
        in_scope: 0,
    };
    for story in &plan.stories {
        if q.role.is_some_and(|r| story.role.as_deref() != Some(r))
            || q.sprint.is_some_and(|s| story.sprint.as_deref() != Some(s))
        {
            continue;
        }
        out.in_scope += 1;
        let live = states.get(&story.id);
        let state = state_of(states, story);
        let mine = live
            .and_then(|l| l.claim.as_ref())
            .is_some_and(|c| Some(c.agent.as_str()) == q.agent);
        let waits_on: Vec<String> = story
            .depends_on
            .iter()
            .filter(|d| !done(d))
            .cloned()
            .collect();
        match state {
            StoryState::Done => out.done += 1,
            StoryState::Blocked => out.waiting.push(Waiting {
                id: story.id.clone(),
                state,
                waits_on,
            }),
            StoryState::Claimed if !mine => out.taken += 1,
            StoryState::InProgress | StoryState::ReadyForReview => out.taken += 1,
            StoryState::Todo | StoryState::Claimed if !waits_on.is_empty() => {
                out.waiting.push(Waiting {
                    id: story.id.clone(),
                    state,
                    waits_on,
                })
            }
            StoryState::Todo | StoryState::Claimed => {
                let sprint_rank = match (story.sprint.as_deref(), current_pos) {
                    (Some(s), Some(c)) => match sprint_pos.get(s) {
                        Some(&p) if p == c => 0,
                        Some(&p) if p < c => 1,
                        Some(_) => 2,
                        None => 3,
                    },
                    (Some(_), None) => 0,
                    (None, _) => 3,
                };
                out.ready.push(Ranked {
                    story,
                    sprint_rank,
                    depth: depth(plan, &story.id, &mut depth_memo, &mut HashSet::new()),
                    unblocks: unblocks(plan, states, &dependents, &story.id),
                });
            }
        }
    }
    // Stable: ties stay in plan order.
    out.ready
        .sort_by_key(|r| (r.sprint_rank, r.depth, Reverse(r.unblocks)));
    out
}

/// Story ids depending directly on each story.
fn dependents(plan: &Plan) -> HashMap<&str, Vec<&str>> {
    let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
    for s in &plan.stories {
        for d in &s.depends_on {
            out.entry(d.as_str()).or_default().push(s.id.as_str());
        }
    }
    out
}

/// Open stories depending on `id`, directly or not.
fn unblocks(
    plan: &Plan,
    states: &States,
    dependents: &HashMap<&str, Vec<&str>>,
    id: &str,
) -> usize {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack = vec![id];
    while let Some(at) = stack.pop() {
        for &d in dependents.get(at).into_iter().flatten() {
            if d != id && seen.insert(d) {
                stack.push(d);
            }
        }
    }
    // `seen` holds ids of the plan's own stories (dependents come from them).
    seen.iter().filter(|d| !is_done(plan, states, d)).count()
}

/// Longest chain of dependencies behind `id` (a cycle counts once).
fn depth<'p>(
    plan: &'p Plan,
    id: &'p str,
    memo: &mut HashMap<&'p str, usize>,
    path: &mut HashSet<&'p str>,
) -> usize {
    if let Some(&d) = memo.get(id) {
        return d;
    }
    if !path.insert(id) {
        return 0;
    }
    let d = plan.story(id).map_or(0, |s| {
        s.depends_on
            .iter()
            .map(|dep| 1 + depth(plan, dep, memo, path))
            .max()
            .unwrap_or(0)
    });
    path.remove(id);
    memo.insert(id, d);
    d
}

impl Ranking<'_> {
    /// The answer with `pick` (an index into `ready`) chosen, or none.
    pub fn answer(
        &self,
        states: &States,
        q: &Query<'_>,
        pick: Option<usize>,
        claim: Option<Claim>,
    ) -> NextStory {
        let scope = scope(q);
        let mut why = Vec::new();
        let story = pick.and_then(|i| self.ready.get(i)).map(|r| {
            let s = r.story;
            if r.sprint_rank == 0 {
                match (q.sprint, &s.sprint) {
                    (Some(_), _) => {}
                    (None, Some(sp)) => why.push(format!("sprint {sp} is the current sprint")),
                    (None, None) => {}
                }
            } else if let Some(sp) = &s.sprint {
                why.push(format!(
                    "sprint {sp}: nothing is ready in the current sprint{scope}"
                ));
            }
            if s.depends_on.is_empty() {
                why.push("it depends on nothing".into());
            } else {
                why.push(format!(
                    "its dependencies are done: {}",
                    s.depends_on.join(", ")
                ));
            }
            if r.unblocks > 0 {
                why.push(format!("it unblocks {} open stories", r.unblocks));
            }
            why.push(format!(
                "first of {} ready stories{scope} by sprint, dependency order, stories unblocked, plan order",
                self.ready.len()
            ));
            Pick {
                id: s.id.clone(),
                title: s.title.clone(),
                sprint: s.sprint.clone(),
                role: s.role.clone(),
                state: state_of(states, s),
                depends_on: s.depends_on.clone(),
                unblocks: r.unblocks,
                citation: s.citation.clone(),
            }
        });
        if story.is_none() {
            why.push(self.nothing_ready(&scope, !self.ready.is_empty()));
        }
        NextStory {
            claim,
            story,
            why,
            ready: self.ready.len(),
            waiting: self.waiting.iter().take(WAITING_SHOWN).cloned().collect(),
            waiting_more: self.waiting.len().saturating_sub(WAITING_SHOWN),
        }
    }

    /// Why nothing is ready (`all_held`: every ready story was taken while claiming).
    fn nothing_ready(&self, scope: &str, all_held: bool) -> String {
        if self.in_scope == 0 {
            return format!("no stories{scope}");
        }
        if all_held {
            return format!(
                "all {} ready stories{scope} were claimed by other agents meanwhile",
                self.ready.len()
            );
        }
        if self.done == self.in_scope {
            return format!("all {} stories{scope} are done", self.in_scope);
        }
        let deps = self
            .waiting
            .iter()
            .filter(|w| !w.waits_on.is_empty())
            .count();
        let blocked = self.waiting.len() - deps;
        let mut parts = Vec::new();
        if deps > 0 {
            let mut behind: Vec<&str> = self
                .waiting
                .iter()
                .flat_map(|w| w.waits_on.iter().map(String::as_str))
                .collect();
            behind.sort_unstable();
            behind.dedup();
            let shown: Vec<&str> = behind.iter().take(5).copied().collect();
            parts.push(format!(
                "{deps} wait on dependencies not done ({}{})",
                shown.join(", "),
                if behind.len() > 5 { ", …" } else { "" }
            ));
        }
        if blocked > 0 {
            parts.push(format!("{blocked} are blocked"));
        }
        if self.taken > 0 {
            parts.push(format!(
                "{} are claimed, in progress or in review",
                self.taken
            ));
        }
        if self.done > 0 {
            parts.push(format!("{} are done", self.done));
        }
        format!("nothing is ready{scope}: {}", parts.join("; "))
    }
}

fn scope(q: &Query<'_>) -> String {
    let mut s = String::new();
    if let Some(r) = q.role {
        s.push_str(&format!(" for role {r}"));
    }
    if let Some(sp) = q.sprint {
        s.push_str(&format!(" in sprint {sp}"));
    }
    s
}
