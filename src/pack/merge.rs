//! Excerpts of one file that touch or overlap, made one: one citation range, one frame, the
//! plan's lines between them as they are (a later excerpt's heading kept, demoted).

use super::candidates::excerpt_without_heading;
use crate::model::{Citation, Plan};

/// An excerpt cut from the plan, as a pack keeps it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Piece<'a> {
    pub(super) title: &'a str,
    /// The lines kept (narrowed when the excerpt was cut).
    pub(super) citation: &'a Citation,
    /// The lines the excerpt had before it was cut (the same when it was not).
    pub(super) whole: &'a Citation,
    pub(super) cut: bool,
    pub(super) text: &'a str,
}

/// Two pieces made one.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Merged {
    /// The title of the piece the text starts with.
    pub(super) title: String,
    pub(super) citation: Citation,
    pub(super) whole: Citation,
    pub(super) cut: bool,
    pub(super) text: String,
}

/// Whether two citations of one file overlap or touch (only blank lines between them).
pub(super) fn touching(plan: &Plan, a: &Citation, b: &Citation) -> bool {
    if a.path != b.path {
        return false;
    }
    let (first, second) = if a.line_start <= b.line_start {
        (a, b)
    } else {
        (b, a)
    };
    if second.line_start <= first.line_end.saturating_add(1) {
        return true;
    }
    let gap = Citation {
        path: first.path.clone(),
        line_start: first.line_end + 1,
        line_end: second.line_start - 1,
        heading: String::new(),
    };
    plan.excerpt(&gap)
        .is_some_and(|t| t.lines().all(|l| l.trim().is_empty()))
}

/// `a` and `b` as one excerpt, if they touch and can be one: the first (in the file) kept
/// whole, the second whole or cut after the first's end. A piece inside a whole one is that
/// one. The text is the plan's lines from the first's start, as a single excerpt of them
/// reads, up to what the second keeps.
pub(super) fn merge(plan: &Plan, a: Piece<'_>, b: Piece<'_>) -> Option<Merged> {
    if !touching(plan, a.citation, b.citation) {
        return None;
    }
    let key = |p: &Piece<'_>| {
        (
            p.citation.line_start,
            std::cmp::Reverse(p.citation.line_end),
        )
    };
    let (first, second) = if key(&a) <= key(&b) { (a, b) } else { (b, a) };
    if first.cut {
        return None;
    }
    if second.citation.line_end <= first.citation.line_end {
        return Some(Merged {
            title: first.title.to_string(),
            citation: first.citation.clone(),
            whole: first.whole.clone(),
            cut: false,
            text: first.text.to_string(),
        });
    }
    if second.cut && second.citation.line_start <= first.citation.line_end {
        return None;
    }
    let whole = Citation {
        line_end: second.whole.line_end.max(second.citation.line_end),
        ..first.citation.clone()
    };
    let full = excerpt_without_heading(plan, &whole);
    let text = if second.cut {
        // The second's whole text ends the first's and its lines; what it keeps replaces it.
        let second_full = excerpt_without_heading(plan, second.whole);
        let before = full.strip_suffix(second_full.as_str())?;
        format!("{before}{}", second.text)
    } else {
        full
    };
    Some(Merged {
        title: first.title.to_string(),
        citation: Citation {
            line_end: second.citation.line_end,
            ..first.citation.clone()
        },
        whole,
        cut: second.cut,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Doc, DocKind};

    const FILE: &str = "# Plan\n\nIntro line.\n\n## One\n\nFirst body.\n\n## Two\n\nSecond body. More of it.\n\n## Three\n\nThird.\n";

    fn plan() -> Plan {
        let mut plan = Plan::default();
        let line_starts = std::iter::once(0)
            .chain(FILE.match_indices('\n').map(|(i, _)| i + 1))
            .filter(|&i| i < FILE.len())
            .collect();
        plan.docs.push(std::sync::Arc::new(Doc {
            path: "p.md".into(),
            kind: DocKind::from_number(0),
            title: None,
            front_matter: Default::default(),
            hash: String::new(),
            sections: Vec::new(),
            text: FILE.into(),
            line_starts,
        }));
        plan.reindex();
        plan
    }

    fn cite(start: u32, end: u32) -> Citation {
        Citation {
            path: "p.md".into(),
            line_start: start,
            line_end: end,
            heading: String::new(),
        }
    }

    fn piece<'a>(title: &'a str, c: &'a Citation, text: &'a str) -> Piece<'a> {
        Piece {
            title,
            citation: c,
            whole: c,
            cut: false,
            text,
        }
    }

    #[test]
    fn sections_separated_by_blank_lines_merge_into_the_lines_between() {
        let plan = plan();
        let (one, two, three) = (cite(5, 7), cite(9, 11), cite(13, 15));
        let a = excerpt_without_heading(&plan, &one);
        let b = excerpt_without_heading(&plan, &two);
        let m = merge(&plan, piece("Two", &two, &b), piece("One", &one, &a)).unwrap();
        assert_eq!(m.title, "One", "titled by where the text starts");
        assert_eq!(m.citation, cite(5, 11));
        assert_eq!(
            m.text,
            "First body.\n\n#### Two\n\nSecond body. More of it."
        );
        let c = excerpt_without_heading(&plan, &three);
        assert!(merge(&plan, piece("One", &one, &a), piece("Three", &three, &c)).is_none());
    }

    #[test]
    fn a_piece_inside_another_is_that_one_and_a_cut_piece_ends_the_merge() {
        let plan = plan();
        let (all, two, one) = (cite(1, 15), cite(9, 11), cite(5, 7));
        let whole = excerpt_without_heading(&plan, &all);
        let b = excerpt_without_heading(&plan, &two);
        let m = merge(&plan, piece("Two", &two, &b), piece("All", &all, &whole)).unwrap();
        assert_eq!((m.title.as_str(), &m.citation), ("All", &all));
        let a = excerpt_without_heading(&plan, &one);
        let kept = cite(9, 11);
        let cut = Piece {
            title: "Two",
            citation: &kept,
            whole: &two,
            cut: true,
            text: "Second body.",
        };
        let m = merge(&plan, piece("One", &one, &a), cut).unwrap();
        assert!(m.cut);
        assert_eq!(m.text, "First body.\n\n#### Two\n\nSecond body.");
        // A cut piece first cannot be continued.
        let cut_first = Piece {
            cut: true,
            ..piece("One", &one, &a)
        };
        assert!(merge(&plan, cut_first, piece("Two", &two, &b)).is_none());
    }
}
