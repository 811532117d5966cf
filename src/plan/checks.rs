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
pub fn dependency_cycles(plan: &Plan, index: &HashMap<String, usize>) -> Vec<Vec<usize>> {
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
