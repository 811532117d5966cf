//! What a pack leaves out: each excerpt as a [`Left`] (made into an [`Omitted`] only if it is
//! listed), the ranked units left out before fitting ([`PreOmitted`]: all counted, the best
//! kept), and the pack's list of them ([`listing`]).

use super::candidates::Candidate;
use super::{OMITTED_LIST_LIMIT, OmitReason, Omitted, OmittedCounts, Part};
use crate::model::Citation;
use crate::search::{self, Unit};

/// An excerpt left out of a pack. Only those the pack lists are copied into an [`Omitted`].
#[derive(Debug, Clone)]
pub(super) enum Left<'a> {
    /// A unit of a ranked part, left out before fitting.
    Unit {
        unit: &'a Unit,
        part: Part,
        /// Weighted score, rounded as packs show it.
        score: f64,
        reason: OmitReason,
    },
    /// A candidate left out while fitting.
    Candidate(&'a Candidate, OmitReason),
    /// A section dropped after it was chosen.
    Section(Omitted),
}

impl Left<'_> {
    pub(super) fn reason(&self) -> OmitReason {
        match self {
            Left::Unit { reason, .. } | Left::Candidate(_, reason) => *reason,
            Left::Section(o) => o.reason,
        }
    }

    /// The score the pack shows.
    pub(super) fn score(&self) -> f64 {
        match self {
            Left::Unit { score, .. } => *score,
            Left::Candidate(c, _) => search::round(c.score),
            Left::Section(o) => o.score,
        }
    }

    pub(super) fn citation(&self) -> &Citation {
        match self {
            Left::Unit { unit, .. } => &unit.citation,
            Left::Candidate(c, _) => &c.citation,
            Left::Section(o) => &o.citation,
        }
    }

    pub(super) fn to_omitted(&self) -> Omitted {
        match self {
            Left::Unit {
                unit,
                part,
                score,
                reason,
            } => Omitted {
                title: unit.title.clone(),
                part: *part,
                citation: unit.citation.clone(),
                score: *score,
                reason: *reason,
            },
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

/// The ranked units left out before fitting (ones that cannot make it): every one counted,
/// the best [`OMITTED_LIST_LIMIT`] by score, then citation, kept whatever order they come in,
/// so a large plan does not cost a copy of every excerpt.
#[derive(Debug)]
pub(super) struct PreOmitted<'i> {
    pub(super) counts: OmittedCounts,
    /// Best first; each a [`Left::Unit`].
    pub(super) best: Vec<Left<'i>>,
}

impl<'i> PreOmitted<'i> {
    pub(super) fn new() -> Self {
        PreOmitted {
            counts: OmittedCounts::default(),
            best: Vec::with_capacity(OMITTED_LIST_LIMIT + 1),
        }
    }

    /// The score below which an addition cannot be itemised (once the list is full).
    pub(super) fn floor(&self) -> Option<f64> {
        if self.best.len() >= OMITTED_LIST_LIMIT {
            self.best.last().map(|last| last.score() - 1e-4)
        } else {
            None
        }
    }

    /// Counts a unit left out with its weighted `score`, and keeps it if it is among the best.
    pub(super) fn add(&mut self, score: f64, reason: OmitReason, unit: &'i Unit, part: Part) {
        self.counts.add(reason);
        // Most fall well below the last kept: rejected before rounding.
        if self.floor().is_some_and(|floor| score < floor) {
            return;
        }
        let score = search::round(score);
        let citation = &unit.citation;
        let full = self.best.len() >= OMITTED_LIST_LIMIT;
        if full
            && self.best.last().is_some_and(|last| {
                last.score() > score || (last.score() == score && last.citation() <= citation)
            })
        {
            return;
        }
        let at = self.best.partition_point(|o| {
            o.score() > score || (o.score() == score && o.citation() <= citation)
        });
        self.best.insert(
            at,
            Left::Unit {
                unit,
                part,
                score,
                reason,
            },
        );
        self.best.truncate(OMITTED_LIST_LIMIT);
    }
}

/// What a pack says of the excerpts it left out.
pub(super) struct Listing {
    /// The best [`OMITTED_LIST_LIMIT`], best first, then by citation.
    pub(super) listed: Vec<Omitted>,
    /// How many more were left out.
    pub(super) more: usize,
    /// How many were left out for each reason (listed or not).
    pub(super) counts: OmittedCounts,
}

/// The listing of the excerpts left out while fitting (`omitted`) and before it (`pre`).
pub(super) fn listing(omitted: &[Left<'_>], pre: &PreOmitted<'_>) -> Listing {
    let mut counts = pre.counts;
    for o in omitted {
        counts.add(o.reason());
    }
    // Best first, then by citation; only those listed are copied.
    let mut listed: Vec<(f64, &Left<'_>)> = omitted
        .iter()
        .chain(&pre.best)
        .map(|o| (o.score(), o))
        .collect();
    listed.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.citation().cmp(b.1.citation()))
    });
    listed.truncate(OMITTED_LIST_LIMIT);
    Listing {
        more: counts.total() - listed.len(),
        listed: listed.into_iter().map(|(_, o)| o.to_omitted()).collect(),
        counts,
    }
}
