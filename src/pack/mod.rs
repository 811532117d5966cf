//! Context packs: for one story, the best excerpts of the plan that fit a token budget, each
//! cited, ranked by relevance, with what was left out and why. Deterministic: the same plan,
//! story, recipe, encoding and budget give byte-identical output.
//!
//! Steps: candidates (per recipe part, from the model and the search index: `candidates.rs`,
//! the ranked parts in `ranking.rs`) -> fitting (mandatory first, then by score; part caps;
//! cut at paragraph or sentence boundaries; excerpts of one file that touch merged into one:
//! `merge.rs`; each section's tokens counted exactly when it is chosen: `fitting.rs`,
//! `frame.rs`) -> the whole count (header + sections + footer, which
//! add up: see [`crate::tokens::joins_cleanly`]), lowest excerpts dropped while it is over
//! the budget. What is left out is counted and listed in `omitted.rs`.

mod candidates;
pub(crate) mod files;
mod fitting;
mod frame;
mod merge;
mod omitted;
mod ranking;
mod recipe;
pub mod render;

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{Citation, Claim, Plan, Story, StoryState, StoryStatus};
use crate::search::SearchIndex;
use crate::tokens::{self, Encoding, TokenCounter};
pub(crate) use frame::warm_counts;
pub use recipe::{Part, Recipe, Recipes};

use omitted::{Left, PreOmitted};

pub const DEFAULT_BUDGET: usize = 8_000;
const MAX_BUDGET: usize = 200_000;
/// Omitted excerpts listed in a pack (the rest are counted in `omitted_more`).
const OMITTED_LIST_LIMIT: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pack {
    pub story_id: String,
    pub title: String,
    pub sprint: Option<String>,
    pub role: Option<String>,
    /// The story's live state when the pack was built (in the header; not part of the
    /// pack's hash, so a claim does not make a cited pack hash stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StoryState>,
    /// The live claim on the story then, if any (JSON only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    pub encoding: Encoding,
    pub budget_tokens: usize,
    /// Tokens of the whole rendered Markdown pack, counted with `encoding`.
    pub total_tokens: usize,
    pub recipe: String,
    /// Content hash of the pack (sections, sources, settings); changes when any of it does.
    pub hash: String,
    pub sections: Vec<PackSection>,
    pub omitted: Vec<Omitted>,
    /// Omitted excerpts beyond those listed.
    pub omitted_more: usize,
    /// How many excerpts were left out for each reason (listed or not).
    pub omitted_by_reason: OmittedCounts,
    pub sources: Vec<SourceRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PackSection {
    pub title: String,
    pub part: Part,
    pub citation: Citation,
    /// Tokens of this section as rendered in the pack (its heading and short citation included).
    pub tokens: usize,
    pub score: f64,
    /// True when the excerpt was cut to fit; the citation then covers what is kept.
    pub cut: bool,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OmitReason {
    /// It did not fit in what was left of the budget.
    OverBudget,
    /// Its relevance was below the recipe's `min_score`.
    BelowThreshold,
    /// Its part had used up the recipe's `max_tokens` (reported when the part's cap, not
    /// the budget, was the tighter limit).
    CapReached,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OmittedCounts {
    pub over_budget: usize,
    pub below_threshold: usize,
    pub cap_reached: usize,
}

impl OmittedCounts {
    /// Counts one more excerpt left out for `reason`.
    fn add(&mut self, reason: OmitReason) {
        match reason {
            OmitReason::OverBudget => self.over_budget += 1,
            OmitReason::BelowThreshold => self.below_threshold += 1,
            OmitReason::CapReached => self.cap_reached += 1,
        }
    }

    /// Adds another tally's counts to these.
    fn add_all(&mut self, other: OmittedCounts) {
        self.over_budget += other.over_budget;
        self.below_threshold += other.below_threshold;
        self.cap_reached += other.cap_reached;
    }

    /// Excerpts left out for any reason.
    fn total(&self) -> usize {
        self.over_budget + self.below_threshold + self.cap_reached
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Omitted {
    pub title: String,
    pub part: Part,
    pub citation: Citation,
    pub score: f64,
    pub reason: OmitReason,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct SourceRef {
    pub path: String,
    pub hash: String,
}

/// What the caller asks for.
#[derive(Debug, Clone, Default)]
pub struct PackRequest {
    pub story_id: String,
    pub budget_tokens: Option<usize>,
    pub encoding: Option<Encoding>,
    pub recipe: Option<String>,
}

/// An earlier handoff to show in a pack (supplied by the handoff store once it exists).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HandoffExcerpt {
    pub story_id: String,
    pub received_at: String,
    pub title: String,
    pub text: String,
    pub citation: Citation,
}

/// Everything a pack build needs from the plan.
pub(crate) struct PackInput<'a> {
    pub plan: &'a Plan,
    pub index: &'a SearchIndex,
    pub recipes: &'a Recipes,
    pub handoffs: &'a [HandoffExcerpt],
    /// The story's live state, printed in the header (None: no state line, for tests).
    pub state: Option<StoryState>,
}

pub(crate) fn check_budget(budget: usize) -> Result<usize, Error> {
    if budget == 0 || budget > MAX_BUDGET {
        return Err(Error::invalid(
            "budget_tokens",
            format!("{budget} is out of range (1..={MAX_BUDGET})"),
        ));
    }
    Ok(budget)
}

/// Builds the pack for one story.
pub(crate) fn build(
    input: &PackInput<'_>,
    req: &PackRequest,
    counter: &dyn TokenCounter,
) -> Result<Pack, Error> {
    let plan = input.plan;
    let story = find_story(plan, &req.story_id)?;
    let budget = check_budget(req.budget_tokens.unwrap_or(DEFAULT_BUDGET))?;
    let encoding = req.encoding.unwrap_or_default();
    if counter.encoding() != encoding {
        return Err(Error::invalid(
            "encoding",
            format!(
                "counter is {} but {encoding} was asked for",
                counter.encoding()
            ),
        ));
    }
    let recipe = match &req.recipe {
        Some(name) => input.recipes.get(name)?,
        None => input.recipes.for_role(story.role.as_deref())?,
    };
    let (candidates, pre) = candidates::candidates(input, story, recipe, true);
    let target = fitting::Target {
        plan,
        story,
        recipe,
        encoding,
        budget,
        state: input.state,
    };
    fitting::fit(&target, candidates, &pre, counter)
}

/// Every term a pack of this story looks up: its query and the ids it links by. An index of
/// just these ([`SearchIndex::for_terms`]) ranks the pack exactly as the whole index does.
pub(crate) fn index_terms(plan: &Plan, story: &Story) -> Vec<String> {
    let mut terms = vec![candidates::story_query(plan, story), story.id.clone()];
    terms.extend(story.epic.iter().cloned());
    terms.extend(story.depends_on.iter().cloned());
    terms
}

/// A story id argument: bounded, and an existing story.
pub(crate) fn find_story<'p>(plan: &'p Plan, raw: &str) -> Result<&'p Story, Error> {
    let id = raw.trim();
    if id.is_empty() || id.len() > 128 || id.contains(['/', '\\', '\0']) || id.contains("..") {
        return Err(Error::invalid(
            "story_id",
            format!(
                "`{}` is not a story id (letters, digits and - only, at most 128 characters)",
                id.chars().take(64).collect::<String>()
            ),
        ));
    }
    plan.story(id)
        .or_else(|| plan.stories.iter().find(|s| s.id.eq_ignore_ascii_case(id)))
        .ok_or_else(|| Error::not_found("story_id", format!("no story `{id}` in the plan")))
}

/// The story as an agent reads it: fields and acceptance criteria, from the model. The pack's
/// own story leaves out sprint and role (the pack header states them).
pub(crate) fn story_block(story: &Story, with_place: bool) -> String {
    let mut out = String::new();
    let mut field = |k: &str, v: &str| {
        if !v.is_empty() {
            out.push_str(&format!("- {k}: {v}\n"));
        }
    };
    field(
        "Status",
        if story.status == StoryStatus::Done {
            "done"
        } else {
            "todo"
        },
    );
    if with_place {
        field("Sprint", story.sprint.as_deref().unwrap_or(""));
        field("Role", story.role.as_deref().unwrap_or(""));
    }
    field("Epic", story.epic.as_deref().unwrap_or(""));
    field("Reviewer", story.reviewer.as_deref().unwrap_or(""));
    field("Estimate", story.estimate.as_deref().unwrap_or(""));
    field("Depends on", &story.depends_on.join(", "));
    field("Evidence", &story.evidence.join(", "));
    for (k, v) in &story.extra {
        field(k, v);
    }
    if !story.acceptance.is_empty() {
        out.push_str("- Acceptance:\n");
        for a in &story.acceptance {
            out.push_str(&format!("  - {a}\n"));
        }
    }
    out
}

/// Fills sources, omitted, hash and total for the sections chosen (each section's count is
/// settled when it is chosen).
fn finish(
    plan: &Plan,
    pack: &mut Pack,
    omitted: &[Left<'_>],
    pre: &PreOmitted<'_>,
    counter: &dyn TokenCounter,
) {
    let mut sources: BTreeSet<SourceRef> = BTreeSet::new();
    for s in &pack.sections {
        if let Some(d) = plan.doc(&s.citation.path) {
            sources.insert(SourceRef {
                path: d.path.clone(),
                hash: d.hash.clone(),
            });
        }
    }
    pack.sources = sources.into_iter().collect();
    // Sections were counted as source 1 (see `render::COUNTED_SOURCE`): count again the few
    // past the pack's 999th source, with their own number.
    let numbers: Vec<usize> = {
        let cited = render::Sources::of(pack.sections.iter().map(|s| &s.citation));
        pack.sections
            .iter()
            .map(|s| cited.number(&s.citation.path))
            .collect()
    };
    for (s, n) in pack.sections.iter_mut().zip(numbers) {
        if n >= render::ONE_TOKEN_SOURCES {
            s.tokens = frame::settle_numbered(counter, &s.title, n, &s.citation, s.cut, &s.text);
        }
    }
    let listing = omitted::listing(omitted, pre);
    pack.omitted_by_reason = listing.counts;
    pack.omitted_more = listing.more;
    pack.omitted = listing.listed;
    pack.hash = content_hash(pack);
    // The rendering is header, sections, footer, each ending in a line break and the next
    // starting with `#` or `-`: its count is the sum of theirs. total_tokens is printed in
    // the header: settle it (more digits never mean fewer tokens, so it only grows).
    // The header is counted between its ` · ` marks, so each round counts anew only the
    // part with the total.
    let rest = pack.sections.iter().map(|s| s.tokens).sum::<usize>()
        + counter.count(&render::footer(pack));
    pack.total_tokens = 0;
    for _ in 0..8 {
        let total = tokens::count_pieces(counter, &render::header(pack), "·".as_bytes()) + rest;
        if total == pack.total_tokens {
            break;
        }
        pack.total_tokens = total;
    }
    debug_assert_eq!(
        counter.count(&render::markdown(pack)),
        pack.total_tokens,
        "a pack's pieces must add up to its whole count"
    );
}

/// Hash over what the pack says (not over its own counts), hex.
fn content_hash(pack: &Pack) -> String {
    let mut h = blake3::Hasher::new();
    for part in [
        pack.story_id.as_str(),
        pack.encoding.as_str(),
        pack.recipe.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    h.update(&(pack.budget_tokens as u64).to_le_bytes());
    for s in &pack.sections {
        h.update(s.title.as_bytes());
        h.update(&[0]);
        h.update(s.citation.to_string().as_bytes());
        h.update(&[0]);
        h.update(s.text.as_bytes());
        h.update(&[u8::from(s.cut)]);
    }
    for src in &pack.sources {
        h.update(src.path.as_bytes());
        h.update(src.hash.as_bytes());
    }
    h.finalize().to_hex()[..16].to_string()
}
