//! The ranked parts (architecture, playbooks, governance, agent execution): one pass over
//! the units with a score or a link picks each part's best units; the rest are left out and
//! counted ([`PreOmitted`]).

use std::collections::BinaryHeap;
use std::ops::{Index, IndexMut, Range};

use super::omitted::PreOmitted;
use super::{OmitReason, OmittedCounts, Part, Recipe};
use crate::model::{DocKind, Plan};
use crate::search::{Scores, SearchIndex};

/// Ranked excerpts (architecture, playbooks, ...) considered per part; a part's cap holds far
/// fewer.
const RANKED_PER_PART: usize = 48;

/// Units counted per step of the quick loop of [`Ranking::scan`].
const CHUNK: usize = 64;

/// A ranked unit. Ordered best first (higher relevance, then earlier in the plan), so a
/// max-heap of them keeps the worst on top.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ranked {
    pub(super) relevance: f64,
    pub(super) unit: u32,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .relevance
            .total_cmp(&self.relevance)
            .then(self.unit.cmp(&other.unit))
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

/// One value per kind of document.
#[derive(Debug, Clone, Copy)]
struct PerKind<T>([T; DocKind::COUNT]);

impl<T: Copy> PerKind<T> {
    fn new(value: T) -> Self {
        PerKind([value; DocKind::COUNT])
    }

    fn map<U>(self, f: impl FnMut(T) -> U) -> PerKind<U> {
        PerKind(self.0.map(f))
    }

    fn values(&self) -> impl Iterator<Item = T> + '_ {
        self.0.iter().copied()
    }
}

impl<T> Index<DocKind> for PerKind<T> {
    type Output = T;

    fn index(&self, kind: DocKind) -> &T {
        &self.0[kind.index()]
    }
}

impl<T> IndexMut<DocKind> for PerKind<T> {
    fn index_mut(&mut self, kind: DocKind) -> &mut T {
        &mut self.0[kind.index()]
    }
}

/// Where [`Ranking::run`] stops its quick loop: the units `units`, then what to do with them.
struct Stop {
    units: Range<usize>,
    what: StopFor,
}

enum StopFor {
    /// A unit linked to the story (with this link weight): placed with its link.
    Link(f64),
    /// The units of a gate checklist: drawn on by the gate part, so neither ranked as
    /// governance nor counted.
    GateChecklist,
}

/// Each ranked part's best units (by the recipe's parts, empty for the others), best first,
/// and the ranked units left out. `links`: units linked to the story with their weight, by
/// unit. `quick`: units that can make no difference are only counted (see [`Ranking`]);
/// without it every unit is placed one by one (tests compare the two).
pub(super) fn rank<'i>(
    plan: &Plan,
    index: &'i SearchIndex,
    recipe: &Recipe,
    scores: &Scores,
    max: f64,
    links: &[(u32, f64)],
    quick: bool,
) -> (Vec<Vec<Ranked>>, PreOmitted<'i>) {
    // Ranked parts draw on the units of one kind each. Only the best few of a part can fit
    // its cap: the rest are counted as over the cap, and only the best of those are
    // itemised (without cutting their text).
    let mut slot_of_kind = PerKind::new(None);
    for (i, p) in recipe.parts.iter().enumerate() {
        if let Some(k) = ranked_kind(p.part) {
            slot_of_kind[k] = Some(i);
        }
    }
    // The gate checklists' units: drawn on by the gate part, not ranked as governance.
    let mut gate_units: Vec<Range<usize>> = plan
        .gates
        .iter()
        .filter_map(|g| plan.doc_index(&g.citation.path))
        .map(|d| index.units_of_doc(d))
        .collect();
    gate_units.sort_unstable_by_key(|r| r.start);
    let mut ranking = Ranking {
        index,
        recipe,
        scores,
        max,
        slot_of_kind,
        gate_units: &gate_units,
        ranked: vec![BinaryHeap::new(); recipe.parts.len()],
        left: PreOmitted::new(),
        quick,
    };
    if slot_of_kind.values().any(|s| s.is_some()) {
        ranking.run(links);
    }
    let best = ranking
        .ranked
        .into_iter()
        .map(BinaryHeap::into_sorted_vec)
        .collect();
    (best, ranking.left)
}

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
    scores: &'a Scores,
    /// The score relevance is relative to (the best, or a floor above zero).
    max: f64,
    /// Per kind of document, the recipe part ranking it.
    slot_of_kind: PerKind<Option<usize>>,
    gate_units: &'a [Range<usize>],
    ranked: Vec<BinaryHeap<Ranked>>,
    left: PreOmitted<'i>,
    /// Whether units under the cuts are only counted (else all are placed).
    quick: bool,
}

impl Ranking<'_, '_> {
    fn run(&mut self, links: &[(u32, f64)]) {
        let scores = self.scores;
        let dense = scores.dense();
        let below = below_cut(self.max, self.recipe.min_score);
        // Where the pass stops its quick loop: at each linked unit (placed with its link),
        // and over the governance units of gate checklists (not ranked at all).
        let mut stops: Vec<Stop> = links
            .iter()
            .map(|&(u, w)| Stop {
                units: u as usize..u as usize + 1,
                what: StopFor::Link(w),
            })
            .collect();
        if self.slot_of_kind[DocKind::Governance].is_some() {
            let kinds = self.index.kinds();
            stops.extend(
                self.gate_units
                    .iter()
                    .filter(|r| kinds.get(r.start) == Some(&DocKind::Governance))
                    .map(|r| Stop {
                        units: r.clone(),
                        what: StopFor::GateChecklist,
                    }),
            );
        }
        stops.sort_unstable_by_key(|s| s.units.start);
        let mut cuts = self.cuts();
        // Units of ranked kinds only counted.
        let mut tally = OmittedCounts::default();
        let mut runs = self.index.kind_runs().peekable();
        let mut from = 0;
        let mut stops = stops.into_iter();
        loop {
            let stop = stops.next();
            let to = stop
                .as_ref()
                .map_or(dense.len(), |s| s.units.start)
                .max(from);
            // The units up to the stop, run by run of one kind. Units of kinds no part ranks
            // are neither counted nor placed.
            let mut at = from;
            while at < to {
                while runs.next_if(|(r, _)| r.end <= at).is_some() {}
                let Some((run, kind)) = runs.peek() else {
                    break;
                };
                let end = run.end.min(to);
                if self.slot_of_kind[*kind].is_some() {
                    self.scan(at..end, *kind, below, &mut cuts, &mut tally);
                }
                at = end;
            }
            let Some(Stop { units, what }) = stop else {
                break;
            };
            if units.start >= from
                && let StopFor::Link(link) = what
                && self.place(units.start as u32, link)
            {
                cuts = self.cuts();
            }
            from = from.max(units.end);
        }
        debug_assert!(
            dense
                .iter()
                .all(|&s| (s < below) == (f64::from(s) / self.max < self.recipe.min_score))
        );
        self.left.counts.add_all(tally);
    }

    /// Counts or places the units `range`, all of kind `kind` (which a part ranks): those
    /// under the kind's cut are counted, in chunks without branches (which way a score goes
    /// is a coin toss here) and, the kind being fixed, without a lookup per unit; a chunk
    /// holding a unit at or above the cut is gone through one by one.
    fn scan(
        &mut self,
        range: Range<usize>,
        kind: DocKind,
        below: f32,
        cuts: &mut PerKind<f32>,
        tally: &mut OmittedCounts,
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
        let Some(slot) = self.slot_of_kind[kind] else {
            return false;
        };
        if kind == DocKind::Governance && self.is_gate(u as usize) {
            return false;
        }
        let relevance = link + self.scores.get(u) / self.max;
        let spec = &self.recipe.parts[slot];
        let new = Ranked { relevance, unit: u };
        let (left_out, reason) = if relevance < self.recipe.min_score {
            (new, OmitReason::BelowThreshold)
        } else {
            let top = &mut self.ranked[slot];
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
        let index = self.index;
        self.left.add(
            spec.weight * left_out.relevance,
            reason,
            &index.units[left_out.unit as usize],
            spec.part,
        );
        true
    }

    /// Per kind of document, the raw score under which a unit (with no link) can enter
    /// neither its part's best nor the itemised omitted list. Conservative: a score just
    /// under it is still well under in relevance, whatever the rounding.
    /// Kinds no part ranks get an infinite cut: their units are all only counted (and
    /// dropped).
    fn cuts(&self) -> PerKind<f32> {
        let floor = self.left.floor().filter(|_| self.quick);
        self.slot_of_kind.map(|slot| {
            let Some(slot) = slot else {
                return f32::INFINITY;
            };
            let Some(floor) = floor else {
                return 0.0;
            };
            let top = &self.ranked[slot];
            let enters = match top.peek() {
                Some(worst) if top.len() >= RANKED_PER_PART => worst.relevance,
                _ => self.recipe.min_score,
            };
            let itemised = floor / self.recipe.parts[slot].weight;
            let cut = enters.min(itemised) * self.max * (1.0 - 1e-6);
            if cut > 0.0 { cut as f32 } else { 0.0 }
        })
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
pub(super) fn ranked_kind(part: Part) -> Option<DocKind> {
    match part {
        Part::Architecture => Some(DocKind::Architecture),
        Part::Playbooks => Some(DocKind::Playbooks),
        Part::Governance => Some(DocKind::Governance),
        Part::AgentExecution => Some(DocKind::AgentExecution),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::PackInput;
    use super::super::candidates::candidates;
    use super::*;

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
            state: None,
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
                    let best = |pre: &PreOmitted<'_>| {
                        pre.best.iter().map(|l| l.to_omitted()).collect::<Vec<_>>()
                    };
                    assert_eq!(best(&quick_pre), best(&each_pre), "{}", story.id);
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
