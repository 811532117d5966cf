//! The board's pages (maud): one function per page, each a pure function of the values
//! [`App`] gives. Semantic HTML (landmarks, headings, tables with captions, labelled form
//! controls) that works without script; `board.js` only swaps `<main>` in on a change.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, html};

use super::graph;
use crate::app::App;
use crate::error::Error;
use crate::gate::Verdict;
use crate::handoff::HandoffRecord;
use crate::model::{Sprint, States, Story, StoryState, is_done, state_of};
use crate::pack::Pack;
use crate::report::html::{Links, story_href};
use crate::report::{GatePackage, TimelineEntry, verdict_class, verdict_label};

/// A page around its main content.
fn layout(title: &str, main: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · storypack board" }
                link rel="stylesheet" href="/assets/board.css";
                script src="/assets/board.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Board" {
                        a.brand href="/" { "storypack board" }
                    }
                    p #live role="status" aria-live="polite" {}
                }
                main #main tabindex="-1" { (main) }
            }
        }
    }
    .into_string()
}

fn state_label(s: StoryState) -> &'static str {
    match s {
        StoryState::Todo => "To do",
        StoryState::Claimed => "Claimed",
        StoryState::InProgress => "In progress",
        StoryState::ReadyForReview => "Ready for review",
        StoryState::Done => "Done",
        StoryState::Blocked => "Blocked",
    }
}

fn dates(s: &Sprint) -> String {
    match (s.start, s.end) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "no dates".to_string(),
    }
}

/// One sprint on the timeline, with its gate's verdict.
pub(crate) struct SprintRow<'a> {
    pub(crate) sprint: &'a Sprint,
    pub(crate) verdict: Verdict,
    pub(crate) current: bool,
}

/// `/`: the sprints on a timeline (the current one first), then the current sprint's board.
pub(crate) fn index(rows: &[SprintRow<'_>], board: Markup) -> String {
    let main = html! {
        h1 { "Sprints" }
        (timeline(rows))
        (board)
    };
    layout("Sprints", main)
}

fn timeline(rows: &[SprintRow<'_>]) -> Markup {
    html! {
        section aria-labelledby="timeline-h" {
            h2 #timeline-h .sr-only { "Timeline" }
            ol.timeline data-sprint-count=(rows.len()) {
                @for r in rows {
                    @let s = r.sprint;
                    li.sprint.current[r.current] data-sprint=(s.id) data-verdict=(verdict_class(r.verdict)) {
                        a.sprint-link href={ "/sprint/" (crate::report::html::encode(&s.id)) } {
                            "Sprint " (s.id)
                            @if r.current { " (current)" }
                        }
                        @if let Some(t) = &s.theme { span.theme { (t) } }
                        span.dates { (dates(s)) }
                        a.gate-link href={ "/gate/" (crate::report::html::encode(&s.id)) } {
                            (s.gate.as_deref().unwrap_or("gate")) ": "
                            span class={ "badge verdict-" (verdict_class(r.verdict)) } { (verdict_label(r.verdict)) }
                        }
                    }
                }
            }
        }
    }
}

/// What is waiting on what: dependencies not done yet.
fn blockers<'p>(app: &'p App, states: &States, story: &'p Story) -> Vec<&'p str> {
    story
        .depends_on
        .iter()
        .filter(|d| !is_done(app.plan(), states, d))
        .map(String::as_str)
        .collect()
}

/// A sprint's stories by state, filterable by role, and its dependency graph.
pub(crate) fn sprint_board(
    app: &App,
    states: &States,
    sprint: &Sprint,
    verdict: Verdict,
    role: Option<&str>,
) -> Markup {
    let plan = app.plan();
    let in_sprint: Vec<&Story> = plan
        .stories
        .iter()
        .filter(|s| s.sprint.as_deref() == Some(sprint.id.as_str()))
        .collect();
    let roles: Vec<&str> = {
        let mut r: Vec<&str> = in_sprint.iter().filter_map(|s| s.role.as_deref()).collect();
        r.sort_unstable();
        r.dedup();
        r
    };
    let shown: Vec<&Story> = in_sprint
        .iter()
        .copied()
        .filter(|s| role.is_none_or(|r| s.role.as_deref() == Some(r)))
        .collect();
    let mut by_state: BTreeMap<usize, Vec<&Story>> = BTreeMap::new();
    for s in &shown {
        let st = state_of(states, s);
        let col = StoryState::ALL.iter().position(|x| *x == st).unwrap_or(0);
        by_state.entry(col).or_default().push(s);
    }
    let sid = crate::report::html::encode(&sprint.id);
    html! {
        section.sprint-board aria-labelledby="board-h" data-sprint=(sprint.id) data-story-count=(shown.len()) {
            h2 #board-h {
                "Sprint " (sprint.id)
                @if let Some(t) = &sprint.theme { ": " (t) }
            }
            p {
                (dates(sprint)) ". Gate "
                a href={ "/gate/" (sid) } { (sprint.gate.as_deref().unwrap_or("(none)")) }
                ": " span class={ "badge verdict-" (verdict_class(verdict)) } data-verdict=(verdict_class(verdict)) { (verdict_label(verdict)) }
            }
            form.filter method="get" action={ "/sprint/" (sid) } {
                label for="role" { "Role" }
                select #role name="role" {
                    option value="" selected[role.is_none()] { "All roles" }
                    @for r in &roles {
                        option value=(r) selected[role == Some(*r)] { (r) }
                    }
                }
                button type="submit" { "Filter" }
            }
            div.columns {
                @for (col, st) in StoryState::ALL.iter().enumerate() {
                    @let stories = by_state.get(&col).map(Vec::as_slice).unwrap_or(&[]);
                    section.column data-state=(st.as_str()) aria-labelledby={ "col-" (st.as_str()) } {
                        h3 #{ "col-" (st.as_str()) } { (state_label(*st)) " " span.count { "(" (stories.len()) ")" } }
                        ul {
                            @for s in stories {
                                (story_card(app, states, s))
                            }
                        }
                    }
                }
            }
            h3 { "Dependencies" }
            (sprint_graph(app, states, &shown))
        }
    }
}

fn story_card(app: &App, states: &States, s: &Story) -> Markup {
    let st = state_of(states, s);
    let claim = states.get(&s.id).and_then(|l| l.claim.as_ref());
    let waiting = blockers(app, states, s);
    html! {
        li.story data-story=(s.id) data-state=(st.as_str()) {
            a href=(story_href(&s.id)) { strong { (s.id) } } " " (s.title)
            @if let Some(r) = &s.role { br; span.role { (r) } }
            @if !s.depends_on.is_empty() {
                br; span.deps { "Depends on " @for (n, d) in s.depends_on.iter().enumerate() { @if n > 0 { ", " } a href=(story_href(d)) { (d) } } }
            }
            @if !waiting.is_empty() {
                br; span.blocker { "Waiting on " (waiting.join(", ")) }
            }
            @if let Some(c) = claim {
                br; span.claim { "Claimed by " (c.agent) " until " (c.until) }
            }
        }
    }
}

fn sprint_graph(app: &App, states: &States, shown: &[&Story]) -> Markup {
    let mut nodes: Vec<graph::Node> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for s in shown {
        index.insert(s.id.as_str(), nodes.len());
        nodes.push(graph::Node {
            id: s.id.clone(),
            title: s.title.clone(),
            state: state_of(states, s).as_str().to_string(),
            outside: false,
        });
    }
    let mut edges = Vec::new();
    for s in shown {
        for d in &s.depends_on {
            let from = match index.get(d.as_str()) {
                Some(&i) => i,
                None => {
                    let (title, state) = match app.plan().story(d) {
                        Some(o) => (o.title.clone(), state_of(states, o).as_str().to_string()),
                        None => ("(unknown story)".to_string(), "todo".to_string()),
                    };
                    let i = nodes.len();
                    nodes.push(graph::Node {
                        id: d.clone(),
                        title,
                        state,
                        outside: true,
                    });
                    index.insert(d.as_str(), i);
                    i
                }
            };
            edges.push((from, index[s.id.as_str()]));
        }
    }
    if nodes.is_empty() {
        return html! { p.muted { "No stories." } };
    }
    html! { figure.graph-box { (graph::svg(&nodes, &edges, story_href)) } }
}

/// `/sprint/ID`.
pub(crate) fn sprint_page(rows: &[SprintRow<'_>], board: Markup, id: &str) -> String {
    let main = html! {
        nav aria-label="Sprints" { (timeline(rows)) }
        (board)
    };
    layout(&format!("Sprint {id}"), main)
}

/// `/story/ID`: fields, acceptance, citation, pack preview, handoff timeline.
pub(crate) fn story_page(
    app: &App,
    states: &States,
    story: &Story,
    pack: Result<&Pack, &Error>,
    handoffs: &[HandoffRecord],
) -> String {
    let st = state_of(states, story);
    let live = states.get(&story.id);
    let main = html! {
        h1 { (story.id) ": " (story.title) }
        p { span class={ "badge st-" (st.as_str()) } data-state=(st.as_str()) { (state_label(st)) }
            " " (Links::Board.citation(&story.citation)) }
        section aria-labelledby="fields-h" {
            h2 #fields-h { "Fields" }
            dl.facts {
                @if let Some(s) = &story.sprint { dt { "Sprint" } dd { a href={ "/sprint/" (crate::report::html::encode(s)) } { (s) } } }
                @if let Some(r) = &story.role { dt { "Role" } dd { (r) } }
                @if let Some(e) = &story.epic { dt { "Epic" } dd { (e) } }
                dt { "Plan status" } dd { (format!("{:?}", story.status).to_lowercase()) }
                @if let Some(r) = &story.reviewer { dt { "Reviewer" } dd { (r) } }
                @if let Some(e) = &story.estimate { dt { "Estimate" } dd { (e) } }
                @if !story.depends_on.is_empty() {
                    dt { "Depends on" } dd { @for (n, d) in story.depends_on.iter().enumerate() { @if n > 0 { ", " } a href=(story_href(d)) { (d) } } }
                }
                @let waiting = blockers(app, states, story);
                @if !waiting.is_empty() { dt { "Waiting on" } dd.blocker { (waiting.join(", ")) } }
                @if let Some(c) = live.and_then(|l| l.claim.as_ref()) { dt { "Claim" } dd.claim { (c.agent) " since " (c.since) " until " (c.until) } }
                @if !story.evidence.is_empty() { dt { "Evidence" } dd { @for e in &story.evidence { code { (e) } " " } } }
                @for (k, v) in &story.extra { dt { (k) } dd { (v) } }
            }
        }
        section aria-labelledby="acc-h" {
            h2 #acc-h { "Acceptance criteria" }
            @if story.acceptance.is_empty() { p.muted { "None listed." } }
            ul { @for a in &story.acceptance { li { (a) } } }
        }
        section aria-labelledby="pack-h" {
            h2 #pack-h { "Context pack" }
            @match pack {
                Ok(p) => {
                    p.pack-size { (p.total_tokens) " tokens of a " (p.budget_tokens) "-token budget (" (p.recipe) ", " (p.encoding.as_str()) ")" }
                    ol.pack-sections {
                        @for s in &p.sections { li { (s.title) " " (Links::Board.citation(&s.citation)) " " small { (s.tokens) " tokens" } } }
                    }
                    details { summary { "Preview the pack" } pre.pack { (crate::pack::render::markdown(p)) } }
                }
                Err(e) => { p.muted { "No pack: " (e.to_string()) } }
            }
        }
        section aria-labelledby="handoffs-h" {
            h2 #handoffs-h { "Handoffs (" (handoffs.len()) ")" }
            @if handoffs.is_empty() { p.muted { "None recorded." } }
            ol.timeline-list {
                @for h in handoffs {
                    @let e = TimelineEntry::of(h);
                    li.handoff data-handoff=(e.id) { code { (e.id) } " " span.badge { (e.status) } " " time datetime=(e.received_at) { (e.received_at) } ": " (e.from) " to " (e.to) ". " (e.summary) }
                }
            }
        }
    };
    layout(&format!("{} {}", story.id, story.title), main)
}

/// `/gate/SPRINT`: the gate package's section, linked to the sources.
pub(crate) fn gate_page(pkg: &GatePackage) -> String {
    let r = &pkg.report;
    let title = format!(
        "Gate: sprint {} {}",
        r.sprint,
        r.gate.as_deref().unwrap_or("")
    );
    let main = html! {
        h1 { (title) }
        (crate::report::html::gate_section(pkg, Links::Board))
    };
    layout(&title, main)
}

/// `/source/PATH`: a plan document with numbered, linkable lines.
pub(crate) fn source_page(path: &str, text: &str) -> String {
    let main = html! {
        h1 { code { (path) } }
        ol.source {
            @for (n, line) in text.lines().enumerate() {
                li #{ "L" (n + 1) } { code { (line) } }
            }
        }
    };
    layout(path, main)
}

/// A page for what is not there (an unknown sprint, story or document).
pub(crate) fn not_found(message: &str) -> String {
    layout(
        "Not found",
        html! { h1 { "Not found" } p { (message) } p { a href="/" { "Back to the board" } } },
    )
}

/// The sign-in form (off loopback, without a token).
pub(crate) fn sign_in(error: Option<&str>) -> String {
    layout(
        "Sign in",
        html! {
            h1 { "Sign in" }
            p { "This board needs the server's token (the value of its " code { "--token-env" } " variable)." }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.signin method="post" action="/signin" {
                label for="token" { "Token" }
                input #token type="password" name="token" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}
