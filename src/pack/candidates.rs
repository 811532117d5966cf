//! A story's candidate excerpts: for each part of the recipe, what the plan holds for the
//! story (the ranked parts' units from [`super::ranking`]), each with a score.

use std::borrow::Cow;
use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use super::omitted::PreOmitted;
use super::ranking::{self, Ranked};
use super::recipe::PartSpec;
use super::{HandoffExcerpt, PackInput, Part, Recipe, story_block};
use crate::model::{Citation, Epic, Feature, GateChecklist, Plan, Sprint, Story};
use crate::search::{SearchIndex, Unit};

/// A candidate's text: made up for it, or its citation's lines (cut from the plan only when
/// fitting gets to it: most ranked candidates never fit).
#[derive(Debug, Clone)]
pub(super) enum CandidateText {
    Ready(String),
    Excerpt,
}

/// A candidate excerpt before fitting.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) part: Part,
    pub(super) title: String,
    pub(super) citation: Citation,
    pub(super) text: CandidateText,
    pub(super) score: f64,
    pub(super) mandatory: bool,
    /// Relevance before weighting (ranked parts only): compared with `min_score`.
    pub(super) relevance: Option<f64>,
}

impl Candidate {
    pub(super) fn text(&self, plan: &Plan) -> Cow<'_, str> {
        match &self.text {
            CandidateText::Ready(t) => Cow::Borrowed(t),
            CandidateText::Excerpt => Cow::Owned(excerpt_without_heading(plan, &self.citation)),
        }
    }
}

/// What a story's parts draw on.
struct Draw<'a> {
    plan: &'a Plan,
    index: &'a SearchIndex,
    story: &'a Story,
    epic: Option<&'a Epic>,
    sprint: Option<&'a Sprint>,
    handoffs: &'a [HandoffExcerpt],
}

/// The candidates of one part of the recipe, as they are drawn.
struct PartCandidates<'a> {
    plan: &'a Plan,
    spec: &'a PartSpec,
    out: &'a mut Vec<Candidate>,
}

impl PartCandidates<'_> {
    /// Adds a candidate known to have text, scored `factor` times the part's weight.
    fn add(
        &mut self,
        title: String,
        citation: Citation,
        text: CandidateText,
        factor: f64,
        relevance: Option<f64>,
    ) {
        self.out.push(Candidate {
            part: self.spec.part,
            title,
            citation,
            text,
            score: self.spec.weight * factor,
            mandatory: self.spec.mandatory,
            relevance,
        });
    }

    /// Adds a candidate (with no relevance) unless its text is empty.
    fn push(&mut self, title: String, citation: Citation, text: CandidateText, factor: f64) {
        let empty = match &text {
            CandidateText::Ready(t) => t.trim().is_empty(),
            CandidateText::Excerpt => self.plan.excerpt_is_bodiless(&citation),
        };
        if !empty {
            self.add(title, citation, text, factor, None);
        }
    }
}

/// The candidates of a story's pack, and what was left out before fitting. `quick`: units
/// that can make no difference are only counted (see [`ranking::rank`]); without it every
/// unit is placed one by one (tests compare the two).
pub(super) fn candidates<'i>(
    input: &PackInput<'i>,
    story: &Story,
    recipe: &Recipe,
    quick: bool,
) -> (Vec<Candidate>, PreOmitted<'i>) {
    let plan = input.plan;
    let index = input.index;
    let draw = Draw {
        plan,
        index,
        story,
        epic: story.epic.as_deref().and_then(|e| plan.epic(e)),
        sprint: story.sprint.as_deref().and_then(|s| plan.sprint(s)),
        handoffs: input.handoffs,
    };
    let bm25 = index.bm25(&story_query(plan, story));
    let max_bm25 = bm25.max().max(1e-9);
    let links = links(index, story);
    let mut link_list: Vec<(u32, f64)> = links.iter().map(|(&u, &w)| (u, w)).collect();
    link_list.sort_unstable_by_key(|l| l.0);
    let (mut ranked, pre) = ranking::rank(plan, index, recipe, &bm25, max_bm25, &link_list, quick);

    let mut out: Vec<Candidate> = Vec::new();
    for (slot, spec) in recipe.parts.iter().enumerate() {
        let mut part = PartCandidates {
            plan,
            spec,
            out: &mut out,
        };
        match spec.part {
            Part::Story => story_part(&mut part, story),
            Part::Dependencies => dependencies(&mut part, &draw),
            Part::Epic => epic(&mut part, &draw),
            Part::Feature => feature(&mut part, &draw),
            Part::Sprint => sprint(&mut part, &draw),
            Part::Checklist => checklist(&mut part, plan),
            Part::Gate => gate(&mut part, &draw),
            Part::RolePlan => {
                let relevance = |u: u32| bm25.get(u) / max_bm25;
                role_plan(&mut part, &draw, relevance, &links);
            }
            Part::Architecture | Part::Playbooks | Part::Governance | Part::AgentExecution => {
                ranked_part(&mut part, index, std::mem::take(&mut ranked[slot]));
            }
            Part::Handoffs => handoffs(&mut part, &draw),
        }
    }
    (out, pre)
}

/// Explicit links: units naming the story (strongest), its epic, its dependencies; each
/// unit's strongest link.
fn links(index: &SearchIndex, story: &Story) -> FxHashMap<u32, f64> {
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
    links
}

fn story_part(part: &mut PartCandidates<'_>, story: &Story) {
    part.push(
        story_title(story),
        story.citation.clone(),
        CandidateText::Ready(story_block(story, false)),
        1.0,
    );
}

fn dependencies(part: &mut PartCandidates<'_>, draw: &Draw<'_>) {
    for (i, d) in draw.story.depends_on.iter().enumerate() {
        if let Some(dep) = draw.plan.story(d) {
            part.push(
                dependency_title(dep),
                dep.citation.clone(),
                CandidateText::Ready(story_block(dep, true)),
                1.0 - 0.01 * i as f64,
            );
        }
    }
}

fn epic(part: &mut PartCandidates<'_>, draw: &Draw<'_>) {
    if let Some(e) = draw.epic {
        part.push(
            epic_title(e),
            e.citation.clone(),
            CandidateText::Excerpt,
            1.0,
        );
    }
}

/// The introduction of the epic's feature: the section at the feature's line.
fn feature(part: &mut PartCandidates<'_>, draw: &Draw<'_>) {
    let plan = draw.plan;
    let feature: Option<&Feature> = draw
        .epic
        .and_then(|e| plan.features.iter().find(|f| f.id == e.feature));
    if let Some(f) = feature
        && let Some(doc) = plan.doc(&f.citation.path)
        && let Some(section) = doc
            .sections
            .iter()
            .find(|s| s.citation.line_start == f.citation.line_start)
    {
        part.push(
            format!("Feature {}: {}", f.id, f.title),
            section.citation.clone(),
            CandidateText::Excerpt,
            1.0,
        );
    }
}

/// The sprint's theme, gate, epics and dates, and the focus and week priorities of the
/// story's role (of every role when the story has none).
fn sprint(part: &mut PartCandidates<'_>, draw: &Draw<'_>) {
    let Some(s) = draw.sprint else {
        return;
    };
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
        draw.story
            .role
            .as_deref()
            .is_none_or(|r| r == slug.as_str())
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
    part.push(
        format!("Sprint {}", s.id),
        s.citation.clone(),
        CandidateText::Ready(text),
        1.0,
    );
}

/// The per-sprint checklist, whole.
fn checklist(part: &mut PartCandidates<'_>, plan: &Plan) {
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
        part.push(
            "Per-sprint checklist".into(),
            citation,
            CandidateText::Ready(text),
            1.0,
        );
    }
}

fn gate(part: &mut PartCandidates<'_>, draw: &Draw<'_>) {
    if let Some(s) = draw.sprint {
        for g in draw.plan.gate_checklists(s) {
            part.push(
                gate_title(g),
                g.citation.clone(),
                CandidateText::Excerpt,
                1.0,
            );
        }
    }
}

/// The sections of the role's plans for the story's sprint, scored by relevance, links and
/// whether they are about the backlog or AI agents.
fn role_plan(
    part: &mut PartCandidates<'_>,
    draw: &Draw<'_>,
    relevance: impl Fn(u32) -> f64,
    links: &FxHashMap<u32, f64>,
) {
    let (Some(s), Some(role)) = (draw.sprint, draw.story.role.as_deref()) else {
        return;
    };
    let plan = draw.plan;
    let index = draw.index;
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
        let boost =
            if key.contains("backlog") || key.contains("ai-agent") || key.contains("ai agent") {
                0.15
            } else {
                0.0
            };
        let factor =
            0.5 + 0.35 * rel + boost + 0.3 * links.get(&(u as u32)).copied().unwrap_or(0.0);
        part.add(
            role_plan_title(unit),
            unit.citation.clone(),
            CandidateText::Excerpt,
            factor,
            None,
        );
    }
}

/// A ranked part's best units (from [`ranking::rank`]), best first, scored by relevance.
fn ranked_part(part: &mut PartCandidates<'_>, index: &SearchIndex, best: Vec<Ranked>) {
    for Ranked { relevance, unit: u } in best {
        if index.bodiless(u as usize) {
            continue;
        }
        let unit = &index.units[u as usize];
        part.add(
            unit.title.clone(),
            unit.citation.clone(),
            CandidateText::Excerpt,
            relevance,
            Some(relevance),
        );
    }
}

/// Earlier handoffs of the story and its dependencies: newer first, the story's own above
/// its dependencies'.
fn handoffs(part: &mut PartCandidates<'_>, draw: &Draw<'_>) {
    let story = draw.story;
    let related: BTreeSet<&str> = std::iter::once(story.id.as_str())
        .chain(story.depends_on.iter().map(String::as_str))
        .collect();
    let n = draw.handoffs.len();
    for (i, h) in draw.handoffs.iter().enumerate() {
        if !related.contains(h.story_id.as_str()) {
            continue;
        }
        let own = if h.story_id == story.id { 1.0 } else { 0.8 };
        let recency = 0.1 * (i + 1) as f64 / n as f64;
        part.push(
            h.title.clone(),
            h.citation.clone(),
            CandidateText::Ready(h.text.clone()),
            own + recency,
        );
    }
}

/// The units of these documents whose excerpts have a body, in order.
pub(super) fn units_with_body<'i>(
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
pub(super) fn story_title(story: &Story) -> String {
    format!("Story {}: {}", story.id, story.title)
}

pub(super) fn dependency_title(dep: &Story) -> String {
    format!("Depends on {}: {}", dep.id, dep.title)
}

pub(super) fn epic_title(e: &Epic) -> String {
    format!("Epic {}: {}", e.id, e.title)
}

pub(super) fn gate_title(g: &GateChecklist) -> String {
    format!("Gate evidence: {}", g.gate)
}

pub(super) fn role_plan_title(unit: &Unit) -> String {
    format!("Role plan: {}", unit.title)
}

/// What a story is about, for text relevance: its title, acceptance criteria and epic.
pub(super) fn story_query(plan: &Plan, story: &Story) -> String {
    let mut query = format!("{} {}", story.title, story.acceptance.join(" "));
    if let Some(e) = story.epic.as_deref().and_then(|e| plan.epic(e)) {
        query.push(' ');
        query.push_str(&e.title);
        query.push(' ');
        query.push_str(&excerpt_without_heading(plan, &e.citation));
    }
    query
}

/// Lines of a citation without its own heading line (the pack gives each excerpt a
/// heading); headings inside are demoted two levels so they nest under the pack's `##`.
pub(super) fn excerpt_without_heading(plan: &Plan, c: &Citation) -> String {
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
