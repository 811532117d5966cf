//! Fitting a story's candidates into its budget: mandatory first, then by score, within
//! each part's cap; an excerpt that does not fit whole is cut at paragraph or sentence
//! boundaries; then the whole pack is counted and its lowest excerpts dropped while it is
//! over the budget.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashSet;

use super::candidates::{Candidate, CandidateText};
use super::frame::{frame_floor, min_tokens, settle_section};
use super::merge::{self, Piece};
use super::omitted::{Left, PreOmitted};
use super::{OmitReason, Omitted, OmittedCounts, Pack, PackSection, Part, Recipe, finish, render};
use crate::error::Error;
use crate::model::{Citation, Plan, Story};
use crate::search;
use crate::tokens::{Encoding, TokenCounter};

/// An excerpt is cut to fit only if at least this many tokens of room are left for it.
const MIN_CUT_TOKENS: usize = 40;
/// A cut excerpt keeps at least this many words (a lone `1.` tells an agent nothing).
const MIN_CUT_WORDS: usize = 12;

/// Orders candidates: mandatory first, then by score, ties by source position and title.
fn order(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    b.mandatory
        .cmp(&a.mandatory)
        .then(b.score.total_cmp(&a.score))
        .then_with(|| a.citation.cmp(&b.citation))
        .then_with(|| a.title.cmp(&b.title))
}

/// What a pack is being fitted for.
pub(super) struct Target<'a> {
    pub(super) plan: &'a Plan,
    pub(super) story: &'a Story,
    pub(super) recipe: &'a Recipe,
    pub(super) encoding: Encoding,
    pub(super) budget: usize,
    pub(super) state: Option<crate::model::StoryState>,
}

pub(super) fn fit(
    target: &Target<'_>,
    mut cands: Vec<Candidate>,
    pre: &PreOmitted<'_>,
    counter: &dyn TokenCounter,
) -> Result<Pack, Error> {
    let Target {
        plan,
        story,
        recipe,
        encoding,
        budget,
        state,
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
        state,
        claim: None,
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
    // The lines each section's excerpt had before it was cut, for sections cut from the plan
    // (those that can merge with a neighbour); `None` for text made up from the model.
    let mut wholes: Vec<Option<Citation>> = Vec::new();
    for c in &mandatory {
        let s = section_from(
            c,
            c.text(plan).into_owned(),
            c.citation.clone(),
            false,
            counter,
        );
        let added = place(plan, &mut pack.sections, &mut wholes, c, s, counter);
        *per_part.entry(c.part).or_default() += added;
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
    // The files chosen sections cite (merging and cutting keep a section's file).
    let mut cited: FxHashSet<String> = pack
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
        // A file no chosen section cites yet adds its line to the header's sources.
        let source_cost = if cited.contains(c.citation.path.as_str()) {
            0
        } else {
            counter.count(&render::source_line(
                render::COUNTED_SOURCE,
                &c.citation.path,
            ))
        };
        let budget_room = budget.saturating_sub(used);
        let cap_room = cap.saturating_sub(part_used);
        let room = budget_room.min(cap_room);
        // An excerpt touching one already chosen costs what the merged one adds.
        if let Some(added) = merge_whole(plan, &mut pack.sections, &mut wholes, c, room, counter) {
            used += added;
            *per_part.entry(c.part).or_default() += added;
            continue;
        }
        // Cheap tests first (lower bounds: the frame alone, then with the excerpt; the
        // excerpt is cut from the plan only past the first), then the exact count.
        // The frame's words first: cheap, and it stops candidates before their text is cut
        // from the plan (or tried cut to fit).
        if frame_floor(&c.title) + source_cost > room
            || min_tokens(&render::section_frame(
                &c.title,
                render::COUNTED_SOURCE,
                &c.citation,
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
                let added = place(plan, &mut pack.sections, &mut wholes, c, s, counter);
                used += added + source_cost;
                *per_part.entry(c.part).or_default() += added + source_cost;
                cited.insert(c.citation.path.clone());
                continue;
            }
        }
        if room >= MIN_CUT_TOKENS + source_cost
            && let Some((text, citation)) = cut_to_fit(plan, c, &text, room - source_cost, counter)
        {
            let s = section_from(c, text, citation, true, counter);
            let added = place(plan, &mut pack.sections, &mut wholes, c, s, counter);
            used += added + source_cost;
            *per_part.entry(c.part).or_default() += added + source_cost;
            cited.insert(c.citation.path.clone());
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
        wholes.pop();
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

/// Adds section `s` (drawn from candidate `c`) to the pack: merged into a chosen section it
/// touches when both are cut from the plan ([`merge::merge`]), else at the end. Returns the
/// tokens it adds.
fn place(
    plan: &Plan,
    sections: &mut Vec<PackSection>,
    wholes: &mut Vec<Option<Citation>>,
    c: &Candidate,
    s: PackSection,
    counter: &dyn TokenCounter,
) -> usize {
    let excerpt = matches!(c.text, CandidateText::Excerpt);
    if excerpt {
        let piece = Piece {
            title: &s.title,
            citation: &s.citation,
            whole: &c.citation,
            cut: s.cut,
            text: &s.text,
        };
        if let Some(m) = merged_into(plan, sections, wholes, piece, counter) {
            let added = m.commit(sections, wholes);
            cascade(plan, sections, wholes, counter);
            return added;
        }
    }
    let added = s.tokens;
    wholes.push(excerpt.then(|| c.citation.clone()));
    sections.push(s);
    added
}

/// Candidate `c` whole, merged into a chosen section it touches, if what that adds fits
/// `room`; returns the tokens added.
fn merge_whole(
    plan: &Plan,
    sections: &mut Vec<PackSection>,
    wholes: &mut Vec<Option<Citation>>,
    c: &Candidate,
    room: usize,
    counter: &dyn TokenCounter,
) -> Option<usize> {
    let touches = sections
        .iter()
        .zip(wholes.iter())
        .any(|(s, w)| w.is_some() && merge::touching(plan, &s.citation, &c.citation));
    if !matches!(c.text, CandidateText::Excerpt) || !touches {
        return None;
    }
    let text = c.text(plan);
    let piece = Piece {
        title: &c.title,
        citation: &c.citation,
        whole: &c.citation,
        cut: false,
        text: &text,
    };
    let m = merged_into(plan, sections, wholes, piece, counter)?;
    (m.added(sections) <= room).then(|| {
        let added = m.commit(sections, wholes);
        cascade(plan, sections, wholes, counter);
        added
    })
}

/// Merges chosen sections that a merge made touch, into the earlier chosen one (the
/// later is removed), until none touch. A merge only shortens the pack by a frame, so the
/// tokens saved are not counted back (the exact pass counts the whole).
fn cascade(
    plan: &Plan,
    sections: &mut Vec<PackSection>,
    wholes: &mut Vec<Option<Citation>>,
    counter: &dyn TokenCounter,
) {
    'again: loop {
        for j in 1..sections.len() {
            let Some(whole) = wholes[j].clone() else {
                continue;
            };
            let s = &sections[j];
            let piece = Piece {
                title: &s.title,
                citation: &s.citation,
                whole: &whole,
                cut: s.cut,
                text: &s.text,
            };
            if let Some(m) = merged_into(plan, &sections[..j], &wholes[..j], piece, counter) {
                m.commit(sections, wholes);
                sections.remove(j);
                wholes.remove(j);
                continue 'again;
            }
        }
        break;
    }
}

/// A chosen section and what it becomes with another piece merged in.
struct Merge {
    at: usize,
    merged: merge::Merged,
    tokens: usize,
}

impl Merge {
    /// Tokens the merge adds to the pack.
    fn added(&self, sections: &[PackSection]) -> usize {
        self.tokens.saturating_sub(sections[self.at].tokens)
    }

    /// Makes the chosen section the merged one (its part and score stay); returns the tokens
    /// added.
    fn commit(self, sections: &mut [PackSection], wholes: &mut [Option<Citation>]) -> usize {
        let added = self.added(sections);
        let s = &mut sections[self.at];
        s.title = self.merged.title;
        s.citation = self.merged.citation;
        s.cut = self.merged.cut;
        s.text = self.merged.text;
        s.tokens = self.tokens;
        wholes[self.at] = Some(self.merged.whole);
        added
    }
}

/// The first chosen section cut from the plan that `piece` merges into, and the result.
fn merged_into(
    plan: &Plan,
    sections: &[PackSection],
    wholes: &[Option<Citation>],
    piece: Piece<'_>,
    counter: &dyn TokenCounter,
) -> Option<Merge> {
    sections
        .iter()
        .zip(wholes)
        .enumerate()
        .find_map(|(at, (s, whole))| {
            let chosen = Piece {
                title: &s.title,
                citation: &s.citation,
                whole: whole.as_ref()?,
                cut: s.cut,
                text: &s.text,
            };
            let merged = merge::merge(plan, chosen, piece)?;
            let tokens = settle_section(
                counter,
                &merged.title,
                &merged.citation,
                merged.cut,
                &merged.text,
            );
            Some(Merge { at, merged, tokens })
        })
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
    let tokens = settle_section(counter, &c.title, &citation, cut, &text);
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

/// Cuts an excerpt at paragraph, then sentence, boundaries until its rendering fits `room`.
/// The citation is narrowed to the lines kept.
fn cut_to_fit(
    plan: &Plan,
    c: &Candidate,
    text: &str,
    room: usize,
    counter: &dyn TokenCounter,
) -> Option<(String, Citation)> {
    let fits = |text: &str| {
        min_tokens(text) <= room
            && settle_section(counter, &c.title, &c.citation, true, text) <= room
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
    if min_tokens(&keep) < MIN_CUT_WORDS {
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
