//! A sprint's dependency graph as SVG, laid out here on the server (no script): a layered
//! drawing, dependencies left of what depends on them. Layers by longest path from the
//! stories depending on nothing (a cycle, which lint reports, is cut where it closes); in
//! each layer, nodes ordered by the mean position of their dependencies (two sweeps of the
//! barycentre heuristic), which keeps most edges short and uncrossed for sprint-sized graphs.

use std::collections::BTreeMap;
use std::fmt::Write;

use maud::{Markup, PreEscaped, html};

/// One story in the drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub title: String,
    /// The state's JSON name (`todo`, `done`…): the node's class.
    pub state: String,
    /// A dependency outside the sprint, drawn dashed.
    pub outside: bool,
}

/// Nodes and their positions: `layers[l]` lists node indices top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub layers: Vec<Vec<usize>>,
}

const NODE_W: usize = 190;
const NODE_H: usize = 46;
const GAP_X: usize = 70;
const GAP_Y: usize = 18;
const PAD: usize = 10;

/// Layers of `n` nodes given edges `(from, to)`: `from` is a dependency of `to`.
pub fn layout(n: usize, edges: &[(usize, usize)]) -> Layout {
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        if a < n && b < n && a != b {
            preds[b].push(a);
        }
    }
    // Longest path, iteratively; a node on a cycle takes the layer it has when the cycle
    // closes (state 1 = on the stack).
    let mut layer = vec![0usize; n];
    let mut state = vec![0u8; n];
    for start in 0..n {
        if state[start] == 2 {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(top) = stack.last_mut() {
            let v = top.0;
            if let Some(&p) = preds[v].get(top.1) {
                top.1 += 1;
                if state[p] == 0 {
                    state[p] = 1;
                    stack.push((p, 0));
                }
            } else {
                layer[v] = preds[v]
                    .iter()
                    .filter(|&&p| state[p] == 2)
                    .map(|&p| layer[p] + 1)
                    .max()
                    .unwrap_or(0);
                state[v] = 2;
                stack.pop();
            }
        }
    }
    let depth = layer.iter().copied().max().map_or(0, |d| d + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (v, &l) in layer.iter().enumerate() {
        layers[l].push(v);
    }
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (b, ps) in preds.iter().enumerate() {
        for &a in ps {
            succs[a].push(b);
        }
    }
    let mut pos = vec![0.0f64; n];
    let place = |layers: &Vec<Vec<usize>>, pos: &mut Vec<f64>| {
        for l in layers {
            for (i, &v) in l.iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    };
    place(&layers, &mut pos);
    for _ in 0..2 {
        for l in 1..layers.len() {
            sort_by_barycentre(&mut layers[l], &preds, &pos);
            place(&layers, &mut pos);
        }
        for l in (0..layers.len().saturating_sub(1)).rev() {
            sort_by_barycentre(&mut layers[l], &succs, &pos);
            place(&layers, &mut pos);
        }
    }
    Layout { layers }
}

/// Orders a layer by the mean position of each node's neighbours (stable: ties and nodes
/// without neighbours keep their place).
fn sort_by_barycentre(layer: &mut [usize], neighbours: &[Vec<usize>], pos: &[f64]) {
    let key: BTreeMap<usize, f64> = layer
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ns = &neighbours[v];
            let k = if ns.is_empty() {
                i as f64
            } else {
                ns.iter().map(|&u| pos[u]).sum::<f64>() / ns.len() as f64
            };
            (v, k)
        })
        .collect();
    layer.sort_by(|a, b| key[a].total_cmp(&key[b]));
}

/// Shortens a title to what fits a node.
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// The SVG: each node a link to its story page, edges with arrowheads, a `<title>` per
/// node for screen readers and hover.
pub fn svg(nodes: &[Node], edges: &[(usize, usize)], href: impl Fn(&str) -> String) -> Markup {
    let lay = layout(nodes.len(), edges);
    let mut at: Vec<(usize, usize)> = vec![(0, 0); nodes.len()];
    let rows = lay.layers.iter().map(Vec::len).max().unwrap_or(0);
    for (l, layer) in lay.layers.iter().enumerate() {
        for (i, &v) in layer.iter().enumerate() {
            at[v] = (PAD + l * (NODE_W + GAP_X), PAD + i * (NODE_H + GAP_Y));
        }
    }
    let width = PAD * 2 + lay.layers.len().max(1) * (NODE_W + GAP_X) - GAP_X;
    let height = PAD * 2 + rows.max(1) * (NODE_H + GAP_Y) - GAP_Y;
    let mut paths = String::new();
    for &(a, b) in edges {
        if a >= nodes.len() || b >= nodes.len() || a == b {
            continue;
        }
        let (x1, y1) = (at[a].0 + NODE_W, at[a].1 + NODE_H / 2);
        let (x2, y2) = (at[b].0, at[b].1 + NODE_H / 2);
        let mid = (x1 + x2) / 2;
        let _ = write!(
            paths,
            "<path class=\"edge\" d=\"M{x1} {y1} C{mid} {y1} {mid} {y2} {x2} {y2}\" marker-end=\"url(#arrow)\"/>"
        );
    }
    let label = format!(
        "Dependency graph: {} stories, {} dependencies",
        nodes.len(),
        edges.len()
    );
    html! {
        svg.graph xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } {
            defs {
                marker #arrow viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto" {
                    path d="M0 0 L10 5 L0 10 z" class="arrowhead" {}
                }
            }
            (PreEscaped(paths))
            @for (v, node) in nodes.iter().enumerate() {
                a href=(href(&node.id)) class={ "node st-" (node.state) @if node.outside { " outside" } } data-node=(node.id) {
                    title { (node.id) ": " (node.title) " (" (node.state) ")" }
                    rect x=(at[v].0) y=(at[v].1) width=(NODE_W) height=(NODE_H) rx="6" {}
                    text x=(at[v].0 + 8) y=(at[v].1 + 18) class="id" { (node.id) }
                    text x=(at[v].0 + 8) y=(at[v].1 + 36) class="t" { (short(&node.title, 26)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_sit_left_of_what_depends_on_them() {
        // 0 -> 1 -> 3, 0 -> 2 -> 3, 4 alone
        let l = layout(5, &[(0, 1), (1, 3), (0, 2), (2, 3)]);
        assert_eq!(l.layers.len(), 3);
        assert!(l.layers[0].contains(&0) && l.layers[0].contains(&4));
        assert_eq!(l.layers[2], vec![3]);
    }

    #[test]
    fn a_cycle_is_cut_and_every_node_is_placed_once() {
        let l = layout(3, &[(0, 1), (1, 2), (2, 0)]);
        let mut all: Vec<usize> = l.layers.concat();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2]);
    }

    #[test]
    fn the_barycentre_keeps_chains_straight() {
        // Two chains: 0 -> 2, 1 -> 3, listed crossed in the second layer.
        let l = layout(4, &[(1, 3), (0, 2)]);
        let first = &l.layers[0];
        let second = &l.layers[1];
        let row = |layer: &Vec<usize>, v| layer.iter().position(|&x| x == v);
        assert_eq!(row(first, 0), row(second, 2));
        assert_eq!(row(first, 1), row(second, 3));
    }
}
