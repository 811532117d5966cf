//! Gate checklist items: text, evidence, owner and due date.

use super::Walker;
use crate::model::GateItem;
use crate::plan::markdown::{BlockKind, Item};
use crate::plan::text;

impl Walker<'_> {
    pub(super) fn gate_item(&self, item: &Item, checked: bool) -> GateItem {
        let flat = item.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let (mut body, mut evidence) = split_evidence(&flat);
        let mut owner = None;
        let mut due = None;
        // "(owner: @sre, due: day 3)" anywhere in the text.
        if let Some(open) = body.find('(')
            && let Some(close) = body[open..].find(')').map(|c| open + c)
        {
            let inner = &body[open + 1..close];
            let mut understood = false;
            for part in inner.split([',', ';']) {
                if let Some((k, v)) = part.split_once(':') {
                    match k.trim().to_lowercase().as_str() {
                        "owner" | "owners" => {
                            owner = Some(v.trim().to_string());
                            understood = true;
                        }
                        "due" | "by" | "due by" => {
                            due = Some(v.trim().to_string());
                            understood = true;
                        }
                        _ => {}
                    }
                }
            }
            if understood {
                body = format!(
                    "{} {}",
                    body[..open].trim_end(),
                    body[close + 1..].trim_start()
                )
                .trim()
                .to_string();
            }
        }
        for child in &item.children {
            if let BlockKind::List { items, .. } = &child.kind {
                for i in items {
                    match text::field(&i.text) {
                        Some((k, v)) if k == "evidence" => evidence.extend(text::split_list(&v)),
                        Some((k, v)) if k == "owner" => owner = Some(v),
                        Some((k, v)) if k == "due" => due = Some(v),
                        _ => {}
                    }
                }
            }
        }
        GateItem {
            text: body,
            checked,
            evidence,
            owner,
            due,
            citation: self.cite(item.start, item.end),
        }
    }
}

/// "Rollback rehearsed - evidence: a.md, https://x" -> ("Rollback rehearsed", [a.md, url]).
fn split_evidence(text: &str) -> (String, Vec<String>) {
    let Some(pos) = text::find_ascii_ci(text, "evidence:") else {
        return (text.trim().to_string(), Vec::new());
    };
    let refs = text::split_list(&text[pos + "evidence:".len()..]);
    let body = text[..pos]
        .trim_end()
        .trim_end_matches(['-', '—', '–', ';', '|', ':'])
        .trim_end()
        .to_string();
    (body, refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_split_off() {
        assert_eq!(
            split_evidence("CI jobs required - evidence: .ci/run, docs/x.png"),
            (
                "CI jobs required".to_string(),
                vec![".ci/run".to_string(), "docs/x.png".to_string()]
            )
        );
    }
}
