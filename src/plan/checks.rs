//! What only the whole plan can tell: story ids, dependencies and their cycles, gates and
//! their checklists, and the expected folder layout.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque, hash_map::Entry};

use super::at_citation;
use crate::model::{Diagnostic, DocKind, Plan, Severity, gate_key};

pub(super) fn check_stories(
    plan: &Plan,
    index: &HashMap<String, usize>,
    diags: &mut Vec<Diagnostic>,
) {
    let sprint_ids: BTreeSet<&str> = plan.sprints.iter().map(|s| s.id.as_str()).collect();
    let epic_ids: BTreeSet<&str> = plan.epics.iter().map(|e| e.id.as_str()).collect();
    for story in &plan.stories {
        let c = &story.citation;
        if story.acceptance.is_empty() {
            diags.push(at_citation(
                c,
                Severity::Warning,
                "no-acceptance",
                format!("story {} has no acceptance criteria", story.id),
            ));
        }
        for dep in &story.depends_on {
            if dep == &story.id {
                diags.push(at_citation(
                    c,
                    Severity::Error,
                    "dependency-cycle",
                    format!("story {} depends on itself", story.id),
                ));
            } else if !index.contains_key(dep) {
                diags.push(at_citation(
                    c,
                    Severity::Error,
                    "unknown-dependency",
                    format!(
                        "story {} depends on {dep}, which no story declares",
                        story.id
                    ),
                ));
            }
        }
        match &story.sprint {
            None => diags.push(at_citation(c, Severity::Warning, "no-sprint", format!("story {} belongs to no sprint (put it under sprint-NN/, a `Sprint NN` heading, `sprint:` front matter or a Sprint field)", story.id))),
            Some(s) if !sprint_ids.is_empty() && !sprint_ids.contains(s.as_str()) => diags.push(at_citation(c, Severity::Warning, "unknown-sprint", format!("story {} is in sprint {s}, which the roadmap does not list", story.id))),
            Some(_) => {}
        }
        if let Some(epic) = &story.epic
            && !epic_ids.is_empty()
            && !epic_ids.contains(epic.as_str())
        {
            diags.push(at_citation(
                c,
                Severity::Warning,
                "unknown-epic",
                format!(
                    "story {} names epic {epic}, which no feature doc declares",
                    story.id
                ),
            ));
        }
    }
    for cycle in dependency_cycles(plan, index) {
        let first = &plan.stories[cycle[0]];
        let ids: Vec<&str> = cycle.iter().map(|&i| plan.stories[i].id.as_str()).collect();
        let shown = if ids.len() > 12 {
            format!(
                "{} -> ... -> {} -> {} ({} stories)",
                ids[..10].join(" -> "),
                ids[ids.len() - 1],
                ids[0],
                ids.len()
            )
        } else {
            format!("{} -> {}", ids.join(" -> "), ids[0])
        };
        diags.push(at_citation(
            &first.citation,
            Severity::Error,
            "dependency-cycle",
            format!("dependency cycle: {shown}"),
        ));
    }
}

/// One cycle per strongly connected component of two or more stories: the shortest path
/// from the component's first story (in plan order) back to itself. Iterative throughout,
/// so long chains cannot overflow the stack.
fn dependency_cycles(plan: &Plan, index: &HashMap<String, usize>) -> Vec<Vec<usize>> {
    let n = plan.stories.len();
    let edges: Vec<Vec<usize>> = plan
        .stories
        .iter()
        .map(|s| {
            s.depends_on
                .iter()
                .filter_map(|d| index.get(d).copied())
                .filter(|&j| plan.stories[j].id != s.id)
                .collect()
        })
        .collect();
    // Tarjan's algorithm with an explicit stack.
    let mut idx = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut counter = 0usize;
    let mut out = Vec::new();
    for start in 0..n {
        if idx[start] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(start, 0)];
        idx[start] = counter;
        low[start] = counter;
        counter += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut ei)) = call.last_mut() {
            if *ei < edges[v].len() {
                let w = edges[v][*ei];
                *ei += 1;
                if idx[w] == usize::MAX {
                    idx[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(idx[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == idx[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if comp.len() > 1 {
                        out.push(shortest_cycle(&edges, &comp));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// Breadth-first from the component's first story back to it, within the component.
fn shortest_cycle(edges: &[Vec<usize>], comp: &[usize]) -> Vec<usize> {
    let members: HashSet<usize> = comp.iter().copied().collect();
    let Some(&start) = comp.iter().min() else {
        return Vec::new();
    };
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &edges[v] {
            if !members.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut cur = v;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if let Entry::Vacant(e) = prev.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}

pub(super) fn check_gates(plan: &Plan, diags: &mut Vec<Diagnostic>) {
    for sprint in &plan.sprints {
        if sprint.gate.is_some() && plan.gate_checklists(sprint).is_empty() {
            diags.push(at_citation(
                &sprint.citation,
                Severity::Warning,
                "gate-without-checklist",
                format!(
                    "sprint {}'s {} has no evidence checklist (docs/00-governance/gates/*.md or a `gate evidence` heading in the sprint's role plans)",
                    sprint.id,
                    sprint.gate.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    let sprint_ids: BTreeSet<&str> = plan.sprints.iter().map(|s| s.id.as_str()).collect();
    let gate_keys: BTreeSet<String> = plan
        .sprints
        .iter()
        .filter_map(|s| s.gate.as_deref())
        .map(gate_key)
        .collect();
    for gate in &plan.gates {
        if gate.items.is_empty() {
            diags.push(at_citation(
                &gate.citation,
                Severity::Warning,
                "empty-gate-checklist",
                format!(
                    "gate checklist `{}` has no task-list items (`- [ ] item - evidence: path`)",
                    gate.gate
                ),
            ));
        }
        match &gate.sprint {
            Some(s) if !sprint_ids.is_empty() && !sprint_ids.contains(s.as_str()) => diags.push(at_citation(&gate.citation, Severity::Warning, "unknown-sprint", format!("gate checklist `{}` is for sprint {s}, which the roadmap does not list", gate.gate))),
            None if !gate_keys.is_empty() && !gate_keys.contains(&gate_key(&gate.gate)) => diags.push(at_citation(&gate.citation, Severity::Warning, "unknown-gate", format!("gate checklist `{}` matches no gate of the roadmap; add `sprint: NN` front matter", gate.gate))),
            _ => {}
        }
    }
}

pub(super) fn check_layout(plan: &Plan, diags: &mut Vec<Diagnostic>) {
    let present: BTreeSet<DocKind> = plan.docs.iter().map(|d| d.kind).collect();
    for (kind, folder, what) in [
        (
            DocKind::Governance,
            "docs/00-governance",
            "risks and gate checklists",
        ),
        (
            DocKind::Architecture,
            "docs/01-architecture",
            "ADRs and interfaces",
        ),
        (DocKind::Features, "docs/02-features", "features and epics"),
        (DocKind::Backlog, "docs/03-backlog", "stories"),
        (DocKind::Sprints, "docs/04-sprints", "the sprint roadmap"),
        (
            DocKind::Playbooks,
            "docs/05-engineering-playbooks",
            "playbooks",
        ),
        (
            DocKind::AgentExecution,
            "docs/06-ai-agent-execution",
            "context-pack and handoff policy",
        ),
        (
            DocKind::RolePlans,
            "docs/07-role-sprint-plans",
            "role sprint plans",
        ),
    ] {
        if !present.contains(&kind) {
            diags.push(Diagnostic {
                severity: Severity::Info,
                code: "missing-folder".into(),
                path: String::new(),
                line: 0,
                message: format!("no {folder}/ markdown: packs will have no {what}"),
            });
        }
    }
    if plan.sprints.is_empty() {
        diags.push(Diagnostic {
            severity: Severity::Warning,
            code: "no-roadmap".into(),
            path: String::new(),
            line: 0,
            message:
                "no roadmap table found (a table with a `Sprint` column under docs/04-sprints/)"
                    .into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::plan::extract::extract;
    use crate::plan::{Config, Parsed, assemble};

    fn parse(files: &[(&str, &str)]) -> Parsed {
        let config = Config::default();
        let facts: Vec<_> = files
            .iter()
            .map(|(path, text)| Arc::new(extract(path, text, &config)))
            .collect();
        assemble(&config, &facts)
    }

    fn with_code<'a>(parsed: &'a Parsed, code: &str) -> Vec<&'a Diagnostic> {
        parsed
            .diagnostics
            .iter()
            .filter(|d| d.code == code)
            .collect()
    }

    fn index(plan: &Plan) -> HashMap<String, usize> {
        let ids = plan.stories.iter().map(|s| s.id.clone());
        ids.enumerate().map(|(i, id)| (id, i)).collect()
    }

    /// `(id, depends on)` pairs as backlog items.
    fn backlog(stories: &[(&str, &str)]) -> String {
        stories
            .iter()
            .map(|(id, deps)| format!("- {id} story\n  - Depends on: {deps}\n  - Acceptance: a\n"))
            .collect()
    }

    #[test]
    fn the_shortest_dependency_cycle_is_reported() {
        // A-1 -> B-1 -> C-1 -> A-1 and A-1 -> D-1 -> A-1 are one component: the shorter
        // way back to A-1 is told. F-1 <-> G-1 is a second one; E-1 needs itself.
        let text = backlog(&[
            ("A-1", "B-1, D-1"),
            ("B-1", "C-1"),
            ("C-1", "A-1"),
            ("D-1", "A-1"),
            ("E-1", "E-1"),
            ("F-1", "G-1"),
            ("G-1", "F-1"),
            ("H-1", "A-1, Z-9"),
        ]);
        let parsed = parse(&[("docs/03-backlog/b.md", &text)]);
        let plan = &parsed.plan;
        assert_eq!(
            dependency_cycles(plan, &index(plan)),
            [vec![0, 3], vec![5, 6]]
        );
        let cycles: Vec<(&str, u32)> = with_code(&parsed, "dependency-cycle")
            .iter()
            .map(|d| (d.message.as_str(), d.line))
            .collect();
        assert_eq!(
            cycles,
            [
                ("dependency cycle: A-1 -> D-1 -> A-1", 1),
                ("story E-1 depends on itself", 13),
                ("dependency cycle: F-1 -> G-1 -> F-1", 16),
            ]
        );
        let unknown = with_code(&parsed, "unknown-dependency");
        assert_eq!(unknown.len(), 1);
        assert_eq!(
            unknown[0].message,
            "story H-1 depends on Z-9, which no story declares"
        );
    }

    #[test]
    fn a_long_cycle_is_shortened_in_its_message() {
        let ids: Vec<String> = (1..=13).map(|i| format!("R-{i}")).collect();
        let pairs: Vec<(&str, &str)> = (0..13)
            .map(|i| (ids[i].as_str(), ids[(i + 1) % 13].as_str()))
            .collect();
        let parsed = parse(&[("docs/03-backlog/ring.md", &backlog(&pairs))]);
        let cycle = dependency_cycles(&parsed.plan, &index(&parsed.plan));
        assert_eq!(cycle, [(0..13).collect::<Vec<_>>()]);
        assert_eq!(
            with_code(&parsed, "dependency-cycle")[0].message,
            "dependency cycle: R-1 -> R-2 -> R-3 -> R-4 -> R-5 -> R-6 -> R-7 -> R-8 -> R-9 -> R-10 -> ... -> R-13 -> R-1 (13 stories)"
        );
    }

    #[test]
    fn a_story_declared_twice_is_reported_at_the_second() {
        let first = "- A-1 the first\n  - Acceptance: a\n";
        let second = "# Also\n- B-1 other\n  - Acceptance: b\n- A-1 the second\n  - Epic: F1-E1\n- A-1 (see a.md)\n";
        let parsed = parse(&[
            ("docs/03-backlog/b.md", second),
            ("docs/03-backlog/a.md", first),
        ]);
        let ids: Vec<(&str, &str)> = parsed
            .plan
            .stories
            .iter()
            .map(|s| (s.id.as_str(), s.title.as_str()))
            .collect();
        assert_eq!(ids, [("A-1", "the first"), ("B-1", "other")]);
        let dup = with_code(&parsed, "duplicate-story");
        assert_eq!(dup.len(), 1);
        assert_eq!(dup[0].severity, Severity::Error);
        assert_eq!(
            (dup[0].path.as_str(), dup[0].line),
            ("docs/03-backlog/b.md", 4)
        );
        assert_eq!(
            dup[0].message,
            "story A-1 is declared twice: here and at docs/03-backlog/a.md:1; this one is ignored"
        );
        // The ignored copy is not checked: its missing acceptance goes unreported. The bare
        // mention (an id, no fields) is a reference to the story, not a third declaration.
        assert!(with_code(&parsed, "no-acceptance").is_empty());
    }
}
