//! The gate package as HTML (maud: markup checked at compile time, every value escaped).
//! [`document`] is the self-contained file `report gate --html` writes (inline style, no
//! script, no external asset: it opens offline); [`gate_section`] is the part the board's
//! gate page shows too, with citations linked to the board's source view.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{GatePackage, handoff_label, pack_label, verdict_class, verdict_label};
use crate::gate::ItemReport;
use crate::model::Citation;

/// Where citations and story ids point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// A file on its own: citations are plain `path:line` text.
    None,
    /// The board: `/source/<path>#L<line>` and `/story/<id>`.
    Board,
}

impl Links {
    /// A citation, as a link to the cited lines when there is somewhere to link to.
    pub fn citation(self, c: &Citation) -> Markup {
        match self {
            Links::None => html! { code.cite { (c.to_string()) } },
            Links::Board => html! {
                a.cite href=(source_href(c)) { code { (c.to_string()) } }
            },
        }
    }

    fn story(self, id: &str) -> Markup {
        match self {
            Links::None => html! { (id) },
            Links::Board => html! { a href=(story_href(id)) { (id) } },
        }
    }
}

/// The board's link to a story page.
pub fn story_href(id: &str) -> String {
    format!("/story/{}", encode(id))
}

/// The board's link to the cited lines of a plan document.
pub fn source_href(c: &Citation) -> String {
    let path: Vec<String> = c.path.split('/').map(encode).collect();
    format!("/source/{}#L{}", path.join("/"), c.line_start)
}

/// What a path segment keeps unencoded in a link.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

/// Percent-encodes one path segment.
pub fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// The style of the self-contained report (the board has its own stylesheet).
const REPORT_CSS: &str = include_str!("report.css");

/// The whole self-contained HTML file.
pub fn document(pkg: &GatePackage) -> String {
    let r = &pkg.report;
    let title = format!(
        "Gate evidence: sprint {} {}",
        r.sprint,
        r.gate.as_deref().unwrap_or("(no gate)")
    );
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(REPORT_CSS)) }
            }
            body {
                main {
                    h1 { (title) }
                    (gate_section(pkg, Links::None))
                }
            }
        }
    }
    .into_string();
    block_lines(&html)
}

/// Starts each block element on its own line, so that the file reads (and diffs) line by
/// line. Whitespace between blocks renders as nothing, and text never holds a raw `<`.
fn block_lines(html: &str) -> String {
    const BLOCKS: &[&str] = &[
        "<head",
        "<body",
        "<main",
        "<section",
        "<h1",
        "<h2",
        "<h3",
        "<p",
        "<dl",
        "<dt",
        "<ul",
        "<ol",
        "<li",
        "<table",
        "<caption",
        "<thead",
        "<tbody",
        "<tr",
        "</tbody",
        "</table",
        "</ul",
        "</ol",
        "</section",
        "</main",
        "</body",
        "</html",
        "<style",
        "<meta",
        "<title",
    ];
    let mut out = String::with_capacity(html.len() + html.len() / 16);
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        let (text, tag) = rest.split_at(at);
        out.push_str(text);
        let block = BLOCKS
            .iter()
            .any(|b| tag.starts_with(b) && tag[b.len()..].starts_with(['>', ' ']));
        if block && !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('<');
        rest = &tag[1..];
    }
    out.push_str(rest);
    out.push('\n');
    out
}

fn item_state(i: &ItemReport) -> (&'static str, &'static str) {
    if i.checked {
        ("checked", "checked")
    } else if i.overdue {
        ("overdue", "overdue")
    } else {
        ("open", "open")
    }
}

/// Verdict, reasons, overdue items, evidence, stories with their handoffs, provenance.
pub fn gate_section(pkg: &GatePackage, links: Links) -> Markup {
    let r = &pkg.report;
    let overdue: Vec<&ItemReport> = pkg.overdue().collect();
    html! {
        section.gate aria-labelledby="verdict-h" {
            h2 #verdict-h { "Verdict" }
            p.verdict {
                span class={ "badge verdict-" (verdict_class(r.verdict)) } data-verdict=(verdict_class(r.verdict)) {
                    (verdict_label(r.verdict))
                }
                " sprint " (r.sprint)
                @if let Some(g) = &r.gate { ", " (g) }
            }
            dl.facts {
                dt { "Today" } dd { (r.today.to_string()) @if let Some(d) = r.day { " (day " (d) " of the sprint)" } }
                @if let (Some(s), Some(e)) = (r.start, r.end) {
                    dt { "Sprint" } dd { (s.to_string()) " to " (e.to_string()) }
                }
                dt { "Generated" } dd { time datetime=(pkg.generated_at) { (pkg.generated_at) } }
                dt { "Plan hash" } dd { code { (pkg.plan_hash) } }
                dt { "Checklists" } dd {
                    @for (n, c) in r.checklists.iter().enumerate() {
                        @if n > 0 { ", " }
                        (links.citation(c))
                    }
                }
            }
            @if r.reasons.is_empty() {
                p { "Nothing stands in the way of this gate." }
            } @else {
                h3 { "Reasons" }
                ul.reasons {
                    @for reason in &r.reasons { li.reason { (reason) } }
                }
            }
        }
        @if !overdue.is_empty() {
            section aria-labelledby="overdue-h" {
                h2 #overdue-h { "Overdue items (" (overdue.len()) ")" }
                ul {
                    @for i in &overdue {
                        li.overdue { (i.text) " (due " (i.due)
                            @if let Some(d) = i.due_date { ", " (d.to_string()) }
                            ") " (links.citation(&i.citation)) }
                    }
                }
            }
        }
        section aria-labelledby="items-h" {
            h2 #items-h { "Evidence checklist (" (r.items.len()) " items)" }
            table.items {
                caption.sr-only { "Checklist items, their evidence and its state" }
                thead { tr { th scope="col" { "Item" } th scope="col" { "State" } th scope="col" { "Due" } th scope="col" { "Owner" } th scope="col" { "Evidence" } th scope="col" { "Source" } } }
                tbody {
                    @for i in &r.items {
                        @let (class, label) = item_state(i);
                        tr.item data-state=(class) {
                            td { (i.text) }
                            td { span class={ "badge item-" (class) } { (label) } }
                            td { (i.due) @if let Some(d) = i.due_date { br; small { (d.to_string()) } } }
                            td { (i.owner.as_deref().unwrap_or("")) }
                            td {
                                @if i.evidence.is_empty() { span.muted { "none cited" } }
                                ul.evidence {
                                    @for e in &i.evidence {
                                        li data-evidence=(e.state.as_str()) {
                                            span class={ "badge ev-" (e.state.as_str()) } { (e.state.as_str()) }
                                            " " code { (e.reference) }
                                            @if let Some(l) = &e.label { " (" (l) ")" }
                                            @if let Some(d) = &e.detail { ": " (d) }
                                        }
                                    }
                                }
                            }
                            td { (links.citation(&i.citation)) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="stories-h" {
            h2 #stories-h { "Stories (" (r.stories.len()) ")" }
            table.stories {
                caption.sr-only { "The sprint's stories, their state, pack and handoffs" }
                thead { tr { th scope="col" { "Story" } th scope="col" { "State" } th scope="col" { "Claim" } th scope="col" { "Pack" } th scope="col" { "Handoffs" } th scope="col" { "Source" } } }
                tbody {
                    @for s in &r.stories {
                        tr.story-row data-state=(s.state.as_str()) {
                            td { (links.story(&s.id)) " " (s.title) }
                            td { span class={ "badge st-" (s.state.as_str()) } { (s.state.as_str()) } }
                            td { @if let Some(c) = &s.claim { (c.agent) " until " (c.until) } }
                            td { (pack_label(s.pack)) }
                            td {
                                (handoff_label(s.handoff))
                                @let timeline = pkg.timeline(&s.id);
                                @if !timeline.is_empty() {
                                    ol.timeline {
                                        @for h in timeline {
                                            li { code { (h.id) } " " (h.status) ", " (h.received_at) ": " (h.from) " to " (h.to) ". " (h.summary) }
                                        }
                                    }
                                }
                            }
                            td { (links.citation(&s.citation)) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_start_lines_and_inline_elements_stay_put() {
        assert_eq!(
            block_lines("<main><p>a <code>b</code></p><ul><li>c</li></ul></main>"),
            "<main>\n<p>a <code>b</code></p>\n<ul>\n<li>c</li>\n</ul>\n</main>\n"
        );
        // `<pre` is not `<p`.
        assert_eq!(
            block_lines("<div><pre>x</pre></div>"),
            "<div><pre>x</pre></div>\n"
        );
    }
}
