//! Gate checklist items: text, evidence, owner and due date.

use std::collections::BTreeMap;

use super::Walker;
use crate::model::GateItem;
use crate::plan::markdown::{BlockKind, Item};
use crate::plan::text;

impl Walker<'_> {
    pub(super) fn gate_item(&self, item: &Item, checked: bool) -> GateItem {
        let flat = item.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let (mut body, mut evidence) = split_evidence(&flat);
        let mut labels = BTreeMap::new();
        // `evidence: [risk sign-off](https://...)`: the text above has lost the link's target,
        // which is the reference; read the references from the item's source instead.
        let source = self.text.get(item.start..item.end).unwrap_or("");
        let own = source.split("\n").take(item.text.lines().count().max(1));
        let own = own.collect::<Vec<_>>().join(" ");
        if own.contains("](") {
            let (_, linked) = split_evidence(&own);
            if linked.len() == evidence.len() {
                evidence = linked.iter().map(|r| link(r, &mut labels)).collect();
            }
        }
        let mut owner = None;
        let mut due = None;
        // "(owner: @sre, due: day 3)" anywhere in the text.
        if let Some(open) = body.find('(')
            && let Some(close) = body[open..].find(')').map(|c| open + c)
        {
            let inner = &body[open + 1..close];
            let mut understood = false;
            // `due: Dec 4, 2026`: a comma not followed by another `key:` belongs to the value.
            let mut parts: Vec<String> = Vec::new();
            for piece in inner.split([',', ';']) {
                match parts.last_mut() {
                    Some(last) if !piece.contains(':') => {
                        last.push(',');
                        last.push_str(piece);
                    }
                    _ => parts.push(piece.to_string()),
                }
            }
            for part in &parts {
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
                        Some((k, _)) if k == "evidence" => {
                            let source = self.text.get(i.start..i.end).unwrap_or("");
                            let refs = source
                                .find(':')
                                .map(|c| text::split_list(&source[c + 1..]))
                                .unwrap_or_default();
                            evidence.extend(refs.iter().map(|r| link(r, &mut labels)));
                        }
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
            labels,
            owner,
            due,
            citation: self.cite(item.start, item.end),
        }
    }
}

/// A Markdown link's target (`[risk sign-off](https://x/y)` -> `https://x/y`, also `<...>`
/// targets and a `"title"`), its text kept in `labels` under the target; anything else as
/// written, without emphasis markers.
fn link(reference: &str, labels: &mut BTreeMap<String, String>) -> String {
    let r = reference.trim().trim_matches('*');
    if let Some(open) = r.find("](")
        && r.starts_with('[')
        && r.ends_with(')')
    {
        let target = r[open + 2..r.len() - 1].trim();
        let target = target.split_once(" \"").map_or(target, |(t, _)| t.trim());
        let target = target
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string();
        let label = r[1..open].trim();
        if !label.is_empty() && label != target {
            labels.insert(target.clone(), label.to_string());
        }
        return target;
    }
    if r.starts_with('<') && r.ends_with('>') {
        return r[1..r.len() - 1].to_string();
    }
    r.to_string()
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
    fn link_targets_are_the_references_and_texts_the_labels() {
        let mut labels = BTreeMap::new();
        assert_eq!(
            link("[risk sign-off](https://example.com/signoff)", &mut labels),
            "https://example.com/signoff"
        );
        assert_eq!(
            link("[runbook](docs/runbook.md \"Runbook\")", &mut labels),
            "docs/runbook.md"
        );
        assert_eq!(link("<https://x.y/z>", &mut labels), "https://x.y/z");
        assert_eq!(link("docs/a.md", &mut labels), "docs/a.md");
        assert_eq!(link("[docs/b.md](docs/b.md)", &mut labels), "docs/b.md");
        let want = [
            ("docs/runbook.md", "runbook"),
            ("https://example.com/signoff", "risk sign-off"),
        ];
        assert_eq!(
            labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            want
        );
    }

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
