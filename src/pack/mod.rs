//! Context packs: for one story, the best excerpts of the plan that fit a token budget, each
//! cited, ranked by relevance, with what was left out and why. Deterministic: the same plan,
//! story, recipe, encoding and budget give byte-identical output.
//!
//! Steps: candidates (per recipe part, from the model and the search index) -> scores ->
//! fitting (mandatory first, then by score; part caps; cut at paragraph or sentence
//! boundaries; each section's tokens counted exactly when it is chosen) -> the whole count
//! (header + sections + footer, which add up: see [`crate::tokens::joins_cleanly`]), lowest
//! excerpts dropped while it is over the budget.

pub mod files;
pub mod recipe;
pub mod render;

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use rustc_hash::FxHashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{Citation, DocKind, Epic, GateChecklist, Plan, Story, StoryStatus};
use crate::search::{self, SearchIndex, Unit};
use crate::tokens::{self, Encoding, TokenCounter};
pub use recipe::{Part, Recipe, Recipes};

pub const DEFAULT_BUDGET: usize = 8_000;
pub const MAX_BUDGET: usize = 200_000;
/// Omitted excerpts listed in a pack (the rest are counted in `omitted_more`).
pub const OMITTED_LIST_LIMIT: usize = 50;
/// Ranked excerpts (architecture, playbooks, ...) considered per part; a part's cap holds far
/// fewer.
const RANKED_PER_PART: usize = 48;
/// An excerpt is cut to fit only if at least this many tokens of it would remain.
const MIN_CUT_TOKENS: usize = 40;
/// Section token counts whose frame text [`warm_counts`] counts ahead: every count a section
/// of a pack within the MCP server's largest budget (12,000) can print.
const SECTION_COUNTS_WARMED: usize = 12_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pack {
    pub story_id: String,
    pub title: String,
    pub sprint: Option<String>,
    pub role: Option<String>,
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
    /// Tokens of this section as rendered in the pack (heading and source line included).
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
pub struct HandoffExcerpt {
    pub story_id: String,
    pub received_at: String,
    pub title: String,
    pub text: String,
    pub citation: Citation,
}

/// A candidate's text: made up for it, or its citation's lines (cut from the plan only when
/// fitting gets to it: most ranked candidates never fit).
#[derive(Debug, Clone)]
enum CandidateText {
    Ready(String),
    Excerpt,
}

/// A candidate excerpt before fitting.
#[derive(Debug, Clone)]
struct Candidate {
    part: Part,
    title: String,
    citation: Citation,
    text: CandidateText,
    score: f64,
    mandatory: bool,
    /// Relevance before weighting (ranked parts only): compared with `min_score`.
    relevance: Option<f64>,
}

/// Everything a pack build needs from the plan.
pub struct PackInput<'a> {
    pub plan: &'a Plan,
    pub index: &'a SearchIndex,
    pub recipes: &'a Recipes,
    pub handoffs: &'a [HandoffExcerpt],
}

pub fn check_budget(budget: usize) -> Result<usize, Error> {
    if budget == 0 || budget > MAX_BUDGET {
        return Err(Error::invalid(
            "budget_tokens",
            format!("{budget} is out of range (1..={MAX_BUDGET})"),
        ));
    }
    Ok(budget)
}

/// Builds the pack for one story.
pub fn build(
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
    let (candidates, pre) = candidates(input, story, recipe, true);
    let target = Target {
        plan,
        story,
        recipe,
        encoding,
        budget,
    };
    fit(&target, candidates, &pre, counter)
}

/// Counts once every excerpt a pack can draw from the plan (the search index's sections,
/// epics, gate checklists) as packs render it, the part of each section's frame that names
/// it ([`render::frame_head`], also under the titles role plans, epics and gates take as
/// mandatory parts), every story's block, the token counts frames print and every document
/// as a footer's source, so later packs find those counts in the counter's cache and count
/// only what is their own (a frame's score, header, footer, cuts). Long-lived processes
/// (the server) call it in the background after indexing. Returns the excerpts counted.
pub fn warm_counts(plan: &Plan, index: &SearchIndex, counter: &dyn TokenCounter) -> usize {
    let body = |c: &Citation| {
        counter.count(&render::section_body(
            &excerpt_without_heading(plan, c),
            false,
        ));
    };
    // The fixed part of a section's frame (see `settle_section`).
    let head = |title: &str, c: &Citation| {
        counter.count(&render::frame_head(title, c));
    };
    // Units carry their emptiness from indexing; epics and gate checklists are read.
    let mut counted = 0;
    for (u, unit) in index.units.iter().enumerate() {
        if !index.bodiless(u) {
            body(&unit.citation);
            head(&unit.title, &unit.citation);
            counted += 1;
        }
    }
    // The frames of the mandatory parts drawn from them: role plans, epics, gates.
    let role_docs: BTreeSet<&str> = plan
        .role_sections
        .iter()
        .map(|r| r.citation.path.as_str())
        .collect();
    for u in units_with_body(plan, index, &role_docs) {
        let unit = &index.units[u];
        head(&role_plan_title(unit), &unit.citation);
    }
    let others = (plan.epics.iter().map(|e| (epic_title(e), &e.citation)))
        .chain(plan.gates.iter().map(|g| (gate_title(g), &g.citation)))
        .filter(|(_, c)| !plan.excerpt_is_bodiless(c));
    for (title, c) in others {
        body(c);
        head(&title, c);
        counted += 1;
    }
    // The counts sections print in their frames (see `settle_section`).
    for t in 0..=SECTION_COUNTS_WARMED {
        counter.count(&render::frame_tail_count(t));
    }
    // Every story as a pack's own story and as a dependency.
    for story in &plan.stories {
        for (title, with_place) in [(story_title(story), false), (dependency_title(story), true)] {
            counter.count(&render::section_body(
                &story_block(story, with_place),
                false,
            ));
            head(&title, &story.citation);
        }
    }
    // Every document as a source in a footer, between others or last (see `finish`).
    for doc in &plan.docs {
        let source = render::source_ref(&doc.path, &doc.hash);
        counter.count(&format!(" {source},"));
        counter.count(&format!(" {source}\n"));
    }
    counted
}

/// The units of these documents whose excerpts have a body, in order.
fn units_with_body<'i>(
    plan: &Plan,
    index: &'i SearchIndex,
    paths: &BTreeSet<&str>,
) -> impl Iterator<Item = usize> + 'i {
    let docs: Vec<usize> = paths.iter().filter_map(|p| plan.doc_index(p)).collect();
    docs.into_iter()
        .flat_map(|d| index.units_of_doc(d))
        .filter(|&u| !index.bodiless(u))
}

/// The titles of the mandatory parts' sections.
fn story_title(story: &Story) -> String {
    format!("Story {}: {}", story.id, story.title)
}

fn dependency_title(dep: &Story) -> String {
    format!("Depends on {}: {}", dep.id, dep.title)
}

fn epic_title(e: &Epic) -> String {
    format!("Epic {}: {}", e.id, e.title)
}

fn gate_title(g: &GateChecklist) -> String {
    format!("Gate evidence: {}", g.gate)
}

fn role_plan_title(unit: &Unit) -> String {
    format!("Role plan: {}", unit.title)
}

/// What a story is about, for text relevance: its title, acceptance criteria and epic.
fn story_query(plan: &Plan, story: &Story) -> String {
    let mut query = format!("{} {}", story.title, story.acceptance.join(" "));
    if let Some(e) = story.epic.as_deref().and_then(|e| plan.epic(e)) {
        query.push(' ');
        query.push_str(&e.title);
        query.push(' ');
        query.push_str(&excerpt_without_heading(plan, &e.citation));
    }
    query
}

/// Every term a pack of this story looks up: its query and the ids it links by. An index of
/// just these ([`SearchIndex::for_terms`]) ranks the pack exactly as the whole index does.
pub fn index_terms(plan: &Plan, story: &Story) -> Vec<String> {
    let mut terms = vec![story_query(plan, story), story.id.clone()];
    terms.extend(story.epic.iter().cloned());
    terms.extend(story.depends_on.iter().cloned());
    terms
}

/// A story id argument: bounded, and an existing story.
pub fn find_story<'p>(plan: &'p Plan, raw: &str) -> Result<&'p Story, Error> {
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
pub fn story_block(story: &Story, with_place: bool) -> String {
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

/// Lines of a citation without its own heading line (the pack gives each excerpt a
/// heading); headings inside are demoted two levels so they nest under the pack's `##`.
fn excerpt_without_heading(plan: &Plan, c: &Citation) -> String {
    let (text, lines) = plan.excerpt_after_heading(c);
    let mut out = String::with_capacity(text.len());
    let mut fenced = false;
    for line in lines {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
        }
        let hashes = t.bytes().take_while(|b| *b == b'#').count();
        if !fenced && (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            out.push_str(&"#".repeat((hashes + 2).min(6)));
            out.push_str(&t[hashes..]);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out.trim().to_string()
}

/// An excerpt left out while fitting: a candidate (copied into the pack only if listed), or
/// a section dropped after it was chosen.
enum Left<'c> {
    Candidate(&'c Candidate, OmitReason),
    Section(Omitted),
}

impl Left<'_> {
    fn reason(&self) -> OmitReason {
        match self {
            Left::Candidate(_, r) => *r,
            Left::Section(o) => o.reason,
        }
    }

    fn score(&self) -> f64 {
        match self {
            Left::Candidate(c, _) => search::round(c.score),
            Left::Section(o) => o.score,
        }
    }

    fn citation(&self) -> &Citation {
        match self {
            Left::Candidate(c, _) => &c.citation,
            Left::Section(o) => &o.citation,
        }
    }

    fn to_omitted(&self) -> Omitted {
        match self {
            Left::Candidate(c, reason) => Omitted {
                title: c.title.clone(),
                part: c.part,
                citation: c.citation.clone(),
                score: search::round(c.score),
                reason: *reason,
            },
            Left::Section(o) => o.clone(),
        }
    }
}

/// Omitted excerpts decided before fitting (ranked ones that cannot make it): counted, and
/// the best few itemised, so a large plan does not cost a copy of every excerpt.
#[derive(Debug, Default)]
struct PreOmitted {
    counts: OmittedCounts,
    best: Vec<Omitted>,
}

/// A unit left out of a ranked part (itemised once it is known to be among the best).
#[derive(Debug, Clone, Copy)]
struct LeftUnit {
    /// Weighted score, rounded as packs show it.
    score: f64,
    unit: u32,
    reason: OmitReason,
    part: Part,
}

/// Collects the ranked units left out before fitting: every one counted, the best
/// [`OMITTED_LIST_LIMIT`] by score, then citation, kept whatever order they come in.
struct LeftOut<'i> {
    index: &'i SearchIndex,
    counts: OmittedCounts,
    best: Vec<LeftUnit>,
}

impl<'i> LeftOut<'i> {
    fn new(index: &'i SearchIndex) -> Self {
        LeftOut {
            index,
            counts: OmittedCounts::default(),
            best: Vec::with_capacity(OMITTED_LIST_LIMIT + 1),
        }
    }

    fn count(&mut self, reason: OmitReason) {
        match reason {
            OmitReason::OverBudget => self.counts.over_budget += 1,
            OmitReason::BelowThreshold => self.counts.below_threshold += 1,
            OmitReason::CapReached => self.counts.cap_reached += 1,
        }
    }

    /// The score below which an addition cannot be itemised (once the list is full).
    fn floor(&self) -> Option<f64> {
        if self.best.len() >= OMITTED_LIST_LIMIT {
            self.best.last().map(|last| last.score - 1e-4)
        } else {
            None
        }
    }

    fn add(&mut self, score: f64, reason: OmitReason, unit: u32, part: Part) {
        self.count(reason);
        // Most fall well below the last kept: rejected before rounding.
        if self.floor().is_some_and(|floor| score < floor) {
            return;
        }
        let score = search::round(score);
        let citation = |u: u32| &self.index.units[u as usize].citation;
        let full = self.best.len() >= OMITTED_LIST_LIMIT;
        if full
            && self.best.last().is_some_and(|last| {
                last.score > score || (last.score == score && citation(last.unit) <= citation(unit))
            })
        {
            return;
        }
        let at = self.best.partition_point(|o| {
            o.score > score || (o.score == score && citation(o.unit) <= citation(unit))
        });
        self.best.insert(
            at,
            LeftUnit {
                score,
                unit,
                reason,
                part,
            },
        );
        self.best.truncate(OMITTED_LIST_LIMIT);
    }

    fn finish(self) -> PreOmitted {
        let index = self.index;
        PreOmitted {
            counts: self.counts,
            best: self
                .best
                .into_iter()
                .map(|l| {
                    let unit = &index.units[l.unit as usize];
                    Omitted {
                        title: unit.title.clone(),
                        part: l.part,
                        citation: unit.citation.clone(),
                        score: l.score,
                        reason: l.reason,
                    }
                })
                .collect(),
        }
    }
}

/// The candidates of a story's pack, and what was left out before fitting. `quick`: units
/// that can make no difference are only counted (see [`Ranking`]); without it every unit is
/// placed one by one (tests compare the two).
fn candidates(
    input: &PackInput<'_>,
    story: &Story,
    recipe: &Recipe,
    quick: bool,
) -> (Vec<Candidate>, PreOmitted) {
    let plan = input.plan;
    let index = input.index;
    let mut out: Vec<Candidate> = Vec::new();
    let epic = story.epic.as_deref().and_then(|e| plan.epic(e));
    let feature = epic.and_then(|e| plan.features.iter().find(|f| f.id == e.feature));
    let sprint = story.sprint.as_deref().and_then(|s| plan.sprint(s));

    let bm25 = index.bm25(&story_query(plan, story));
    let max_bm25 = bm25.max().max(1e-9);
    let relevance = |unit: u32| bm25.get(unit) / max_bm25;

    // Explicit links: units naming the story (strongest), its epic, its dependencies.
    let mut links: FxHashMap<u32, f64> = FxHashMap::default();
    let mut link = |term: &str, weight: f64| {
        for &u in index.postings(term) {
            let l = links.entry(u).or_default();
            *l = l.max(weight);
        }
    };
    link(&story.id, 1.0);
    if let Some(e) = &story.epic {
        link(e, 0.6);
    }
    for d in &story.depends_on {
        link(d, 0.4);
    }
    let mut link_list: Vec<(u32, f64)> = links.iter().map(|(&u, &w)| (u, w)).collect();
    link_list.sort_unstable_by_key(|l| l.0);

    // Ranked parts draw on the units of one kind each. Only the best few of a part can fit
    // its cap: the rest are counted as over the cap, and only the best of those are
    // itemised (without cutting their text).
    let mut slot_of_kind = [None::<usize>; 16];
    for (i, p) in recipe.parts.iter().enumerate() {
        if let Some(k) = ranked_kind(p.part) {
            slot_of_kind[k as usize] = Some(i);
        }
    }
    // The gate checklists' units: drawn on by the gate part, not ranked as governance.
    let mut gate_units: Vec<std::ops::Range<usize>> = plan
        .gates
        .iter()
        .filter_map(|g| plan.doc_index(&g.citation.path))
        .map(|d| index.units_of_doc(d))
        .collect();
    gate_units.sort_unstable_by_key(|r| r.start);
    let mut ranking = Ranking {
        index,
        recipe,
        scores: &bm25,
        max: max_bm25,
        slot_of_kind,
        gate_units: &gate_units,
        ranked: vec![BinaryHeap::new(); recipe.parts.len()],
        left: LeftOut::new(index),
        quick,
    };
    if slot_of_kind.iter().any(Option::is_some) {
        ranking.run(&link_list);
    }
    let Ranking {
        mut ranked, left, ..
    } = ranking;
    let pre = left.finish();

    for (slot, spec) in recipe.parts.iter().enumerate() {
        let w = spec.weight;
        // Pushes a candidate known to have text.
        let add = |out: &mut Vec<Candidate>,
                   title: String,
                   citation: Citation,
                   text: CandidateText,
                   factor: f64,
                   rel: Option<f64>| {
            out.push(Candidate {
                part: spec.part,
                title,
                citation,
                text,
                score: w * factor,
                mandatory: spec.mandatory,
                relevance: rel,
            });
        };
        // Pushes a candidate unless its text is empty.
        let push = |out: &mut Vec<Candidate>,
                    title: String,
                    citation: Citation,
                    text: CandidateText,
                    factor: f64,
                    rel: Option<f64>| {
            let empty = match &text {
                CandidateText::Ready(t) => t.trim().is_empty(),
                CandidateText::Excerpt => plan.excerpt_is_bodiless(&citation),
            };
            if !empty {
                add(out, title, citation, text, factor, rel);
            }
        };
        match spec.part {
            Part::Story => push(
                &mut out,
                story_title(story),
                story.citation.clone(),
                CandidateText::Ready(story_block(story, false)),
                1.0,
                None,
            ),
            Part::Dependencies => {
                for (i, d) in story.depends_on.iter().enumerate() {
                    if let Some(dep) = plan.story(d) {
                        push(
                            &mut out,
                            dependency_title(dep),
                            dep.citation.clone(),
                            CandidateText::Ready(story_block(dep, true)),
                            1.0 - 0.01 * i as f64,
                            None,
                        );
                    }
                }
            }
            Part::Epic => {
                if let Some(e) = epic {
                    push(
                        &mut out,
                        epic_title(e),
                        e.citation.clone(),
                        CandidateText::Excerpt,
                        1.0,
                        None,
                    );
                }
            }
            Part::Feature => {
                if let Some(f) = feature
                    && let Some(doc) = plan.doc(&f.citation.path)
                    && let Some(section) = doc
                        .sections
                        .iter()
                        .find(|s| s.citation.line_start == f.citation.line_start)
                {
                    push(
                        &mut out,
                        format!("Feature {}: {}", f.id, f.title),
                        section.citation.clone(),
                        CandidateText::Excerpt,
                        1.0,
                        None,
                    );
                }
            }
            Part::Sprint => {
                if let Some(s) = sprint {
                    let mut text = String::new();
                    if let Some(t) = &s.theme {
                        text.push_str(&format!("- Theme: {t}\n"));
                    }
                    if let Some(g) = &s.gate {
                        text.push_str(&format!("- Gate: {g}\n"));
                    }
                    if !s.epics.is_empty() {
                        text.push_str(&format!("- Epics: {}\n", s.epics.join(", ")));
                    }
                    if let (Some(a), Some(b)) = (s.start, s.end) {
                        text.push_str(&format!("- Dates: {a} to {b}\n"));
                    }
                    let roles = s.roles.iter().filter(|(slug, _)| {
                        story.role.as_deref().is_none_or(|r| r == slug.as_str())
                    });
                    for (_, r) in roles {
                        if let Some(m) = &r.mission_focus {
                            text.push_str(&format!("- {} mission focus: {m}\n", r.label));
                        }
                        if let Some(w) = &r.week1 {
                            text.push_str(&format!("- {} week 1: {w}\n", r.label));
                        }
                        if let Some(w) = &r.week2 {
                            text.push_str(&format!("- {} week 2: {w}\n", r.label));
                        }
                    }
                    push(
                        &mut out,
                        format!("Sprint {}", s.id),
                        s.citation.clone(),
                        CandidateText::Ready(text),
                        1.0,
                        None,
                    );
                }
            }
            Part::Checklist => {
                if let (Some(first), Some(last)) = (plan.checklist.first(), plan.checklist.last()) {
                    let text: String = plan
                        .checklist
                        .iter()
                        .map(|c| format!("{}. {}: {}\n", c.n, c.section, c.text))
                        .collect();
                    let citation = Citation {
                        line_end: last.citation.line_end,
                        ..first.citation.clone()
                    };
                    push(
                        &mut out,
                        "Per-sprint checklist".into(),
                        citation,
                        CandidateText::Ready(text),
                        1.0,
                        None,
                    );
                }
            }
            Part::Gate => {
                if let Some(s) = sprint {
                    for g in plan.gate_checklists(s) {
                        push(
                            &mut out,
                            gate_title(g),
                            g.citation.clone(),
                            CandidateText::Excerpt,
                            1.0,
                            None,
                        );
                    }
                }
            }
            Part::RolePlan => {
                let (Some(s), Some(role)) = (sprint, story.role.as_deref()) else {
                    continue;
                };
                let paths: BTreeSet<&str> = plan
                    .role_sections_of(&s.id)
                    .into_iter()
                    .filter(|r| r.role == role)
                    .map(|r| r.citation.path.as_str())
                    .collect();
                for u in units_with_body(plan, index, &paths) {
                    let unit = &index.units[u];
                    let rel = relevance(u as u32);
                    let key = unit.citation.heading.to_lowercase();
                    let boost = if key.contains("backlog")
                        || key.contains("ai-agent")
                        || key.contains("ai agent")
                    {
                        0.15
                    } else {
                        0.0
                    };
                    let factor = 0.5
                        + 0.35 * rel
                        + boost
                        + 0.3 * links.get(&(u as u32)).copied().unwrap_or(0.0);
                    add(
                        &mut out,
                        role_plan_title(unit),
                        unit.citation.clone(),
                        CandidateText::Excerpt,
                        factor,
                        None,
                    );
                }
            }
            Part::Architecture | Part::Playbooks | Part::Governance | Part::AgentExecution => {
                let above = std::mem::take(&mut ranked[slot]).into_sorted_vec();
                for Ranked(rel, u) in above {
                    if index.bodiless(u as usize) {
                        continue;
                    }
                    let unit = &index.units[u as usize];
                    add(
                        &mut out,
                        unit.title.clone(),
                        unit.citation.clone(),
                        CandidateText::Excerpt,
                        rel,
                        Some(rel),
                    );
                }
            }
            Part::Handoffs => {
                let related: BTreeSet<&str> = std::iter::once(story.id.as_str())
                    .chain(story.depends_on.iter().map(String::as_str))
                    .collect();
                let n = input.handoffs.len();
                for (i, h) in input.handoffs.iter().enumerate() {
                    if !related.contains(h.story_id.as_str()) {
                        continue;
                    }
                    // Newer handoffs first; the story's own above its dependencies'.
                    let own = if h.story_id == story.id { 1.0 } else { 0.8 };
                    let recency = 0.1 * (i + 1) as f64 / n as f64;
                    push(
                        &mut out,
                        h.title.clone(),
                        h.citation.clone(),
                        CandidateText::Ready(h.text.clone()),
                        own + recency,
                        None,
                    );
                }
            }
        }
    }
    (out, pre)
}

/// A ranked unit: relevance and unit. Ordered best first (higher relevance, then earlier in
/// the plan), so a max-heap of them keeps the worst on top.
#[derive(Debug, Clone, Copy)]
struct Ranked(f64, u32);

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ranked {}

/// One pass over the units with a score or a link, in plan order: each unit of a ranked
/// part's kind goes to the part's best [`RANKED_PER_PART`] or is left out (below the
/// recipe's threshold, or over the part's cap).
///
/// Most units can neither enter a part's best nor the itemised omitted list: once both are
/// full, a raw score under a per-kind cut says so, and such a unit is only counted. Units at
/// or above the cut, and linked units, are placed exactly as one by one.
struct Ranking<'a, 'i> {
    index: &'i SearchIndex,
    recipe: &'a Recipe,
    scores: &'a search::Scores,
    /// The score relevance is relative to (the best, or a floor above zero).
    max: f64,
    /// Per kind of document (by its enum index), the recipe part ranking it.
    slot_of_kind: [Option<usize>; 16],
    gate_units: &'a [std::ops::Range<usize>],
    ranked: Vec<BinaryHeap<Ranked>>,
    left: LeftOut<'i>,
    /// Whether units under the cuts are only counted (else all are placed).
    quick: bool,
}

/// Units counted per step of the quick loop of [`Ranking::scan`].
const CHUNK: usize = 64;

/// Units of ranked kinds only counted by [`Ranking::run`].
#[derive(Debug, Default)]
struct Tally {
    below_threshold: usize,
    cap_reached: usize,
}

impl Ranking<'_, '_> {
    fn run(&mut self, links: &[(u32, f64)]) {
        let scores = self.scores;
        let dense = scores.dense();
        let below = below_cut(self.max, self.recipe.min_score);
        // Where the pass stops its quick loop: at each linked unit (placed with its link),
        // and over the governance units of gate checklists (not ranked at all).
        let mut stops: Vec<(usize, usize, f64)> = links
            .iter()
            .map(|&(u, w)| (u as usize, u as usize + 1, w))
            .collect();
        if self.slot_of_kind[DocKind::Governance as usize].is_some() {
            let kinds = self.index.kinds();
            stops.extend(
                self.gate_units
                    .iter()
                    .filter(|r| kinds.get(r.start) == Some(&DocKind::Governance))
                    .map(|r| (r.start, r.end, f64::NAN)),
            );
        }
        stops.sort_unstable_by_key(|s| s.0);
        let mut cuts = self.cuts();
        let mut tally = Tally::default();
        let mut runs = self.index.kind_runs().peekable();
        let mut from = 0;
        let mut stops = stops.into_iter();
        loop {
            let stop = stops.next();
            let to = stop.map_or(dense.len(), |s| s.0).max(from);
            // The units up to the stop, run by run of one kind. Units of kinds no part ranks
            // are neither counted nor placed.
            let mut at = from;
            while at < to {
                while runs.next_if(|(r, _)| r.end <= at).is_some() {}
                let Some((run, kind)) = runs.peek() else {
                    break;
                };
                let end = run.end.min(to);
                if self.slot_of_kind[*kind as usize].is_some() {
                    self.scan(at..end, *kind as usize, below, &mut cuts, &mut tally);
                }
                at = end;
            }
            let Some((start, end, link)) = stop else {
                break;
            };
            if start >= from && !link.is_nan() && self.place(start as u32, link) {
                cuts = self.cuts();
            }
            from = from.max(end);
        }
        debug_assert!(
            dense
                .iter()
                .all(|&s| (s < below) == (f64::from(s) / self.max < self.recipe.min_score))
        );
        self.left.counts.below_threshold += tally.below_threshold;
        self.left.counts.cap_reached += tally.cap_reached;
    }

    /// Counts or places the units `range`, all of kind `kind` (which a part ranks): those
    /// under the kind's cut are counted, in chunks without branches (which way a score goes
    /// is a coin toss here) and, the kind being fixed, without a lookup per unit; a chunk
    /// holding a unit at or above the cut is gone through one by one.
    fn scan(
        &mut self,
        range: std::ops::Range<usize>,
        kind: usize,
        below: f32,
        cuts: &mut [f32; 16],
        tally: &mut Tally,
    ) {
        let dense = self.scores.dense();
        for chunk in range.clone().step_by(CHUNK) {
            let scores = &dense[chunk..(chunk + CHUNK).min(range.end)];
            let cut = cuts[kind];
            let (mut low_n, mut high_n, mut place) = (0u32, 0u32, 0u32);
            for &s in scores {
                let scored = u32::from(s > 0.0);
                place |= scored & u32::from(s >= cut);
                let low = u32::from(s < below);
                low_n += scored & low;
                high_n += scored & (1 - low);
            }
            if place == 0 {
                tally.below_threshold += low_n as usize;
                tally.cap_reached += high_n as usize;
                continue;
            }
            for (u, &s) in (chunk..).zip(scores) {
                if s > 0.0 && s >= cuts[kind] {
                    if self.place(u as u32, 0.0) {
                        *cuts = self.cuts();
                    }
                    continue;
                }
                let scored = usize::from(s > 0.0);
                let low = usize::from(s < below);
                tally.below_threshold += scored & low;
                tally.cap_reached += scored & (1 - low);
            }
        }
    }

    fn is_gate(&self, unit: usize) -> bool {
        let at = self.gate_units.partition_point(|r| r.end <= unit);
        self.gate_units.get(at).is_some_and(|r| r.contains(&unit))
    }

    /// Places one unit: into its part's best, or left out. Whether it was of a ranked kind.
    fn place(&mut self, u: u32, link: f64) -> bool {
        let kind = self.index.kind(u);
        let Some(slot) = self.slot_of_kind[kind as usize] else {
            return false;
        };
        if kind == DocKind::Governance && self.is_gate(u as usize) {
            return false;
        }
        let rel = link + self.scores.get(u) / self.max;
        let spec = &self.recipe.parts[slot];
        let (left_out, reason) = if rel < self.recipe.min_score {
            (Ranked(rel, u), OmitReason::BelowThreshold)
        } else {
            let top = &mut self.ranked[slot];
            let new = Ranked(rel, u);
            if top.len() < RANKED_PER_PART {
                top.push(new);
                return true;
            }
            match top.peek_mut() {
                // Better than the worst kept: it takes its place.
                Some(mut worst) if new < *worst => {
                    (std::mem::replace(&mut *worst, new), OmitReason::CapReached)
                }
                _ => (new, OmitReason::CapReached),
            }
        };
        self.left
            .add(spec.weight * left_out.0, reason, left_out.1, spec.part);
        true
    }

    /// Per kind of document, the raw score under which a unit (with no link) can enter
    /// neither its part's best nor the itemised omitted list. Conservative: a score just
    /// under it is still well under in relevance, whatever the rounding.
    /// Kinds no part ranks get an infinite cut: their units are all only counted (and
    /// dropped).
    fn cuts(&self) -> [f32; 16] {
        let mut cuts = self
            .slot_of_kind
            .map(|s| if s.is_some() { 0.0 } else { f32::INFINITY });
        let Some(floor) = self.left.floor().filter(|_| self.quick) else {
            return cuts;
        };
        for (kind, slot) in self.slot_of_kind.iter().enumerate() {
            let Some(slot) = *slot else { continue };
            let top = &self.ranked[slot];
            let enters = match top.peek() {
                Some(worst) if top.len() >= RANKED_PER_PART => worst.0,
                _ => self.recipe.min_score,
            };
            let itemised = floor / self.recipe.parts[slot].weight;
            let cut = enters.min(itemised) * self.max * (1.0 - 1e-6);
            if cut > 0.0 {
                cuts[kind] = cut as f32;
            }
        }
        cuts
    }
}

/// The least raw score whose relevance (`score / max`) reaches `min_score`: exactly, so
/// `s < cut` is the same test as `f64::from(s) / max < min_score` for every score.
fn below_cut(max: f64, min_score: f64) -> f32 {
    let below = |s: f32| f64::from(s) / max < min_score;
    let guess = (min_score * max) as f32;
    let mut cut = if guess.is_nan() || guess < 0.0 {
        0.0
    } else {
        guess
    };
    while cut < f32::INFINITY && below(cut) {
        cut = cut.next_up();
    }
    while cut > 0.0 && !below(cut.next_down()) {
        cut = cut.next_down();
    }
    cut
}

/// The kind of document a ranked part draws on.
fn ranked_kind(part: Part) -> Option<DocKind> {
    match part {
        Part::Architecture => Some(DocKind::Architecture),
        Part::Playbooks => Some(DocKind::Playbooks),
        Part::Governance => Some(DocKind::Governance),
        Part::AgentExecution => Some(DocKind::AgentExecution),
        _ => None,
    }
}

impl Candidate {
    fn text(&self, plan: &Plan) -> std::borrow::Cow<'_, str> {
        match &self.text {
            CandidateText::Ready(t) => std::borrow::Cow::Borrowed(t),
            CandidateText::Excerpt => {
                std::borrow::Cow::Owned(excerpt_without_heading(plan, &self.citation))
            }
        }
    }
}

/// Orders candidates: mandatory first, then by score, ties by source position and title.
fn order(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    b.mandatory
        .cmp(&a.mandatory)
        .then(b.score.total_cmp(&a.score))
        .then_with(|| a.citation.cmp(&b.citation))
        .then_with(|| a.title.cmp(&b.title))
}

/// What a pack is being fitted for.
struct Target<'a> {
    plan: &'a Plan,
    story: &'a Story,
    recipe: &'a Recipe,
    encoding: Encoding,
    budget: usize,
}

fn fit(
    target: &Target<'_>,
    mut cands: Vec<Candidate>,
    pre: &PreOmitted,
    counter: &dyn TokenCounter,
) -> Result<Pack, Error> {
    let Target {
        plan,
        story,
        recipe,
        encoding,
        budget,
    } = *target;
    cands.sort_by(order);
    // The same excerpt can come from two parts (an ADR section that is also linked): keep
    // the best-scored one.
    let mut seen: BTreeSet<(String, u32, u32)> = BTreeSet::new();
    cands.retain(|c| {
        seen.insert((
            c.citation.path.clone(),
            c.citation.line_start,
            c.citation.line_end,
        ))
    });

    let mut pack = Pack {
        story_id: story.id.clone(),
        title: story.title.clone(),
        sprint: story.sprint.clone(),
        role: story.role.clone(),
        encoding,
        budget_tokens: budget,
        total_tokens: 0,
        recipe: recipe.name.clone(),
        hash: String::new(),
        sections: Vec::new(),
        omitted: Vec::new(),
        omitted_more: 0,
        omitted_by_reason: OmittedCounts::default(),
        sources: Vec::new(),
    };
    let mut omitted: Vec<Left<'_>> = Vec::new();
    let (mandatory, optional): (Vec<Candidate>, Vec<Candidate>) =
        cands.into_iter().partition(|c| c.mandatory);
    let mut per_part: BTreeMap<Part, usize> = BTreeMap::new();
    for c in &mandatory {
        let s = section_from(
            c,
            c.text(plan).into_owned(),
            c.citation.clone(),
            false,
            counter,
        );
        *per_part.entry(c.part).or_default() += s.tokens;
        pack.sections.push(s);
    }
    // The smallest pack: the mandatory parts with every optional excerpt left out (the
    // footer counts them, so they weigh on the minimum).
    let below = |c: &Candidate| c.relevance.is_some_and(|r| r < recipe.min_score);
    let all_left_out: Vec<Left<'_>> = optional
        .iter()
        .map(|c| {
            let reason = if below(c) {
                OmitReason::BelowThreshold
            } else {
                OmitReason::OverBudget
            };
            Left::Candidate(c, reason)
        })
        .collect();
    finish(plan, &mut pack, &all_left_out, pre, counter);
    if pack.total_tokens > budget {
        // The budget and the total are printed in the pack, so the least budget that holds
        // its own pack is found by trying: from the size at the asked budget, up until it
        // fits, then down while one less still fits.
        let mut total_at = |b: usize| {
            pack.budget_tokens = b;
            finish(plan, &mut pack, &all_left_out, pre, counter);
            pack.total_tokens
        };
        let mut need = total_at(budget);
        for _ in 0..32 {
            if total_at(need) <= need {
                break;
            }
            need += 1;
        }
        for _ in 0..32 {
            if need > 1 && total_at(need - 1) < need {
                need -= 1;
            } else {
                break;
            }
        }
        return Err(Error::invalid(
            "budget_tokens",
            format!(
                "{budget} is below the {need} tokens this story's mandatory parts need (recipe `{}`); ask for at least {need}",
                recipe.name
            ),
        ));
    }
    let mandatory_count = pack.sections.len();
    // Greedy by score, with each section's exact count. Each new excerpt also grows the
    // footer (its source, the left-out count), so keep a margin for that; the exact pass
    // below settles the rest.
    let mut used = pack.total_tokens + 12;
    let mut sources: BTreeSet<String> = pack
        .sections
        .iter()
        .map(|s| s.citation.path.clone())
        .collect();
    for c in &optional {
        if let Some(rel) = c.relevance
            && rel < recipe.min_score
        {
            omitted.push(Left::Candidate(c, OmitReason::BelowThreshold));
            continue;
        }
        let cap = recipe
            .part(c.part)
            .and_then(|p| p.max_tokens)
            .unwrap_or(usize::MAX);
        let part_used = per_part.get(&c.part).copied().unwrap_or(0);
        let source_cost = if sources.contains(&c.citation.path) {
            0
        } else {
            12 + c.citation.path.len() / 3
        };
        let budget_room = budget.saturating_sub(used);
        let cap_room = cap.saturating_sub(part_used);
        let room = budget_room.min(cap_room);
        // Cheap tests first (lower bounds: the frame alone, then with the excerpt; the
        // excerpt is cut from the plan only past the first), then the exact count.
        // The frame's words first: cheap, and it stops candidates before their text is cut
        // from the plan (or tried cut to fit).
        if frame_floor(c) + source_cost > room
            || min_tokens(&render::section_frame(
                &c.title,
                &c.citation,
                0,
                search::round(c.score),
                false,
            )) + source_cost
                > room
        {
            omitted.push(Left::Candidate(c, tighter(cap_room, budget_room)));
            continue;
        }
        let text = c.text(plan);
        let lower = min_tokens(&text) + source_cost;
        if lower <= room {
            let s = section_from(c, text.to_string(), c.citation.clone(), false, counter);
            if s.tokens + source_cost <= room {
                used += s.tokens + source_cost;
                *per_part.entry(c.part).or_default() += s.tokens + source_cost;
                sources.insert(c.citation.path.clone());
                pack.sections.push(s);
                continue;
            }
        }
        if room >= MIN_CUT_TOKENS + source_cost
            && let Some((text, citation)) = cut_to_fit(plan, c, &text, room - source_cost, counter)
        {
            let s = section_from(c, text, citation, true, counter);
            used += s.tokens + source_cost;
            *per_part.entry(c.part).or_default() += s.tokens + source_cost;
            sources.insert(c.citation.path.clone());
            pack.sections.push(s);
            continue;
        }
        let reason = tighter(cap_room, budget_room);
        omitted.push(Left::Candidate(c, reason));
    }
    // Exact pass: count the whole pack; while it is over, drop the last (lowest-scored)
    // optional excerpt.
    loop {
        finish(plan, &mut pack, &omitted, pre, counter);
        if pack.total_tokens <= budget || pack.sections.len() <= mandatory_count {
            break;
        }
        if let Some(s) = pack.sections.pop() {
            omitted.push(Left::Section(Omitted {
                title: s.title,
                part: s.part,
                citation: s.citation,
                score: s.score,
                reason: OmitReason::OverBudget,
            }));
        }
    }
    if pack.total_tokens > budget {
        return Err(Error::invalid(
            "budget_tokens",
            format!(
                "{budget} is below the {} tokens this story's mandatory parts need; ask for at least {}",
                pack.total_tokens, pack.total_tokens
            ),
        ));
    }
    Ok(pack)
}

/// Why an excerpt that does not fit is left out: whichever limit is the tighter, its part's
/// cap or the budget.
fn tighter(cap_room: usize, budget_room: usize) -> OmitReason {
    if cap_room < budget_room {
        OmitReason::CapReached
    } else {
        OmitReason::OverBudget
    }
}

/// A lower bound on the tokens of any text holding `text`: its whitespace-separated words
/// with a letter or digit. No o200k_base or cl100k_base piece holds letters or digits from
/// two such words (only runs of whitespace, line breaks and `/` join across whitespace), and
/// every piece is at least one token.
fn min_tokens(text: &str) -> usize {
    let mut words = 0;
    let mut counted = false;
    for b in text.bytes() {
        if b.is_ascii_whitespace() {
            counted = false;
        } else if !counted && b.is_ascii_alphanumeric() {
            counted = true;
            words += 1;
        }
    }
    words
}

/// At most [`min_tokens`] of a candidate's frame ([`render::section_frame`]), without
/// rendering it: the words of its title, path and heading, and five of the source line
/// ("source:", the token count, "tokens", "score", the score). The citation's line numbers
/// join the path's last word; the rest are separated by spaces.
fn frame_floor(c: &Candidate) -> usize {
    min_tokens(&c.title) + min_tokens(&c.citation.path) + min_tokens(&c.citation.heading) + 5
}

/// A chosen excerpt as a pack section, its token count settled.
fn section_from(
    c: &Candidate,
    text: String,
    citation: Citation,
    cut: bool,
    counter: &dyn TokenCounter,
) -> PackSection {
    let score = search::round(c.score);
    let tokens = settle_section(counter, &c.title, &citation, score, cut, &text);
    PackSection {
        title: c.title.clone(),
        part: c.part,
        citation,
        tokens,
        score,
        cut,
        text,
    }
}

/// Tokens of a section as rendered, with its own count printed in it: counted until the
/// count printed is the count of the text. Only the frame (heading, source line) changes
/// between rounds; the excerpt's count comes from the cache (see [`tokens::joins_cleanly`]).
fn settle_section(
    counter: &dyn TokenCounter,
    title: &str,
    citation: &Citation,
    score: f64,
    cut: bool,
    text: &str,
) -> usize {
    let body = render::section_body(text, cut);
    let head = render::frame_head(title, citation);
    // The head and the excerpt are the same in every pack citing them, so their counts are
    // remembered. So is the tail's: it is the section's count (` · 120`, the same in every
    // section of that many tokens; the warm-up counts them up to [`SECTION_COUNTS_WARMED`])
    // then the rest (` tokens · score 0.87`, the cut mark, a blank line: the same in every
    // section of that score and cut). Every count starts with a space and ends with a digit,
    // and the rest starts with a space and ends with a blank line, so one count tells how
    // all of them join.
    let rest = render::frame_tail_rest(score, cut);
    let first = render::frame_tail_count(0);
    let apart = tokens::joins_cleanly(&head, &first)
        && tokens::joins_cleanly(&first, &rest)
        && tokens::joins_cleanly(&rest, &body);
    let fixed = apart
        .then(|| counter.count(&head) + counter.count(&rest) + count_body(counter, &body, cut));
    let count = |t: usize| {
        let tail = render::frame_tail_count(t);
        match fixed {
            Some(f) => f + counter.count(&tail),
            None => tokens::count_concat(counter, &[&head, &tail, &rest, &body]),
        }
    };
    // More digits never mean fewer tokens, so from 0 the count only grows to its fixed point.
    let mut t = 0;
    for _ in 0..8 {
        let n = count(t);
        if n == t {
            break;
        }
        t = n;
    }
    t
}

/// Tokens of a section's excerpt as rendered ([`render::section_body`]). A cut excerpt is
/// counted sentence by sentence ([`tokens::count_pieces`]), so the prefixes
/// [`cut_to_fit`] tries, and other packs' cuts of the same excerpt, share the counts of
/// their sentences.
fn count_body(counter: &dyn TokenCounter, body: &str, cut: bool) -> usize {
    if cut {
        tokens::count_pieces(counter, body, b".!?")
    } else {
        counter.count(body)
    }
}

/// Cuts an excerpt at paragraph, then sentence, boundaries until its rendering fits `room`.
/// The citation is narrowed to the lines kept.
fn cut_to_fit(
    plan: &Plan,
    c: &Candidate,
    text: &str,
    room: usize,
    counter: &dyn TokenCounter,
) -> Option<(String, Citation)> {
    let score = search::round(c.score);
    let fits = |text: &str| {
        min_tokens(text) <= room
            && settle_section(counter, &c.title, &c.citation, score, true, text) <= room
    };
    let paragraphs: Vec<&str> = text.split("\n\n").collect();
    let mut keep = String::new();
    for p in &paragraphs {
        let next = if keep.is_empty() {
            p.to_string()
        } else {
            format!("{keep}\n\n{p}")
        };
        if fits(&next) {
            keep = next;
        } else {
            // Try the paragraph's leading sentences.
            let mut sentences = String::new();
            for s in split_sentences(p) {
                let candidate = format!("{sentences}{s}");
                let next = if keep.is_empty() {
                    candidate.clone()
                } else {
                    format!("{keep}\n\n{candidate}")
                };
                if fits(&next) {
                    sentences = candidate;
                } else {
                    break;
                }
            }
            if !sentences.trim().is_empty() {
                keep = if keep.is_empty() {
                    sentences
                } else {
                    format!("{keep}\n\n{sentences}")
                };
            }
            break;
        }
    }
    let keep = keep.trim_end().to_string();
    if keep.is_empty() {
        return None;
    }
    let citation = narrow(plan, &c.citation, &keep);
    Some((keep, citation))
}

/// Sentence pieces (each keeps its end punctuation and following space).
fn split_sentences(p: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = p.as_bytes();
    for i in 0..bytes.len() {
        let end_mark = matches!(bytes[i], b'.' | b'!' | b'?' | b'\n');
        let next_space = bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace());
        if end_mark && next_space {
            let end = (i + 2).min(bytes.len());
            if p.is_char_boundary(end) {
                out.push(&p[start..end]);
                start = end;
            }
        }
    }
    if start < p.len() {
        out.push(&p[start..]);
    }
    out
}

/// The citation of the first lines of an excerpt that hold `kept`.
fn narrow(plan: &Plan, c: &Citation, kept: &str) -> Citation {
    let full = plan.excerpt(c).unwrap_or("");
    let kept_lines = kept.lines().count() as u32;
    // The excerpt lost its heading line (if any) and leading blank lines.
    let skipped = full
        .lines()
        .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        .count() as u32;
    let end = (c.line_start + skipped + kept_lines)
        .saturating_sub(1)
        .clamp(c.line_start, c.line_end);
    Citation {
        line_end: end,
        ..c.clone()
    }
}

/// Fills sources, omitted, hash and total for the sections chosen (each section's count is
/// settled when it is chosen).
fn finish(
    plan: &Plan,
    pack: &mut Pack,
    omitted: &[Left<'_>],
    pre: &PreOmitted,
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
    let count = |r: OmitReason| omitted.iter().filter(|o| o.reason() == r).count();
    pack.omitted_by_reason = OmittedCounts {
        over_budget: count(OmitReason::OverBudget) + pre.counts.over_budget,
        below_threshold: count(OmitReason::BelowThreshold) + pre.counts.below_threshold,
        cap_reached: count(OmitReason::CapReached) + pre.counts.cap_reached,
    };
    let total = omitted.len()
        + pre.counts.over_budget
        + pre.counts.below_threshold
        + pre.counts.cap_reached;
    // Best first, then by citation; only those listed are copied.
    let mut listed: Vec<(f64, &Citation, Option<&Left<'_>>, Option<&Omitted>)> = omitted
        .iter()
        .map(|o| (o.score(), o.citation(), Some(o), None))
        .chain(
            pre.best
                .iter()
                .map(|o| (o.score, &o.citation, None, Some(o))),
        )
        .collect();
    listed.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    listed.truncate(OMITTED_LIST_LIMIT);
    pack.omitted_more = total - listed.len();
    pack.omitted = listed
        .into_iter()
        .filter_map(|(_, _, left, pre)| left.map(Left::to_omitted).or_else(|| pre.cloned()))
        .collect();
    pack.hash = content_hash(pack);
    // The rendering is header, sections, footer, each ending in a line break and the next
    // starting with `#` or `-`: its count is the sum of theirs. total_tokens is printed in
    // the header: settle it (more digits never mean fewer tokens, so it only grows).
    // The footer's sources are counted one by one: packs share them (the warm-up counts
    // them all). The header is counted between its ` · ` marks, so each round counts anew
    // only the part with the total.
    let rest = pack.sections.iter().map(|s| s.tokens).sum::<usize>()
        + tokens::count_pieces(counter, &render::footer(pack), b",");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Tiktoken;

    fn candidate(title: &str, path: &str, heading: &str) -> Candidate {
        Candidate {
            part: Part::Architecture,
            title: title.into(),
            citation: Citation {
                path: path.into(),
                line_start: 3,
                line_end: 40,
                heading: heading.into(),
            },
            text: CandidateText::Excerpt,
            score: 0.5,
            mandatory: false,
            relevance: None,
        }
    }

    #[test]
    fn a_frames_floor_is_below_its_words_and_its_tokens() {
        let titles = [
            "ADR-003: Index layout",
            "x",
            "",
            "  spaced   out  ",
            "ünïcödé — dash",
            "### ## #",
        ];
        let paths = ["docs/01-architecture/adr-003.md", "a b/c d.md", "-/--", ""];
        let headings = ["", "Decision", "Decision > Consequences", "· ·"];
        let counters = [
            Tiktoken::get(Encoding::O200kBase),
            Tiktoken::get(Encoding::Cl100kBase),
        ];
        for title in titles {
            for path in paths {
                for heading in headings {
                    let c = candidate(title, path, heading);
                    for (tokens, score, cut) in
                        [(0, 0.0, false), (12345, 0.1234, true), (7, 1.0, false)]
                    {
                        let frame = render::section_frame(title, &c.citation, tokens, score, cut);
                        let words = min_tokens(&frame);
                        assert!(
                            frame_floor(&c) <= words,
                            "{frame:?}: floor {} > {words}",
                            frame_floor(&c)
                        );
                        for counter in counters {
                            assert!(words <= counter.count(&frame), "{frame:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_quick_ranking_pass_places_and_counts_as_one_by_one() {
        let app = crate::app::App::open(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plan"),
        )
        .expect("example plan");
        let input = PackInput {
            plan: app.plan(),
            index: app.index(),
            recipes: app.recipes(),
            handoffs: &[],
        };
        let mut left_out = 0;
        for story in &app.plan().stories {
            for name in app.recipes().names() {
                let recipe = app.recipes().get(name).expect("listed recipe");
                // A low threshold ranks more units, a high one leaves more out.
                for min_score in [0.0, recipe.min_score, 0.6] {
                    let recipe = Recipe {
                        min_score,
                        ..recipe.clone()
                    };
                    let (quick, quick_pre) = candidates(&input, story, &recipe, true);
                    let (each, each_pre) = candidates(&input, story, &recipe, false);
                    assert_eq!(format!("{quick:?}"), format!("{each:?}"), "{}", story.id);
                    assert_eq!(quick_pre.counts, each_pre.counts, "{}", story.id);
                    assert_eq!(quick_pre.best, each_pre.best, "{}", story.id);
                    left_out += quick_pre.counts.below_threshold + quick_pre.counts.cap_reached;
                }
            }
        }
        assert!(
            left_out > 10_000,
            "the plan leaves {left_out} units out: too few to test"
        );
    }

    #[test]
    fn the_below_cut_is_the_division_test() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2_000 {
            let max = f64::from((next() % 1_000_000) as u32) / 1000.0 + 1e-9;
            let min_score = f64::from((next() % 2_000) as u32) / 1000.0 - 0.2;
            let cut = below_cut(max, min_score);
            let near = (min_score * max) as f32;
            let mut s = if near > 0.0 { near } else { 0.0 };
            for _ in 0..8 {
                s = s.next_down().max(0.0);
            }
            for _ in 0..16 {
                assert_eq!(
                    s < cut,
                    f64::from(s) / max < min_score,
                    "max {max}, min_score {min_score}, score {s}, cut {cut}"
                );
                s = s.next_up();
            }
        }
    }
}
