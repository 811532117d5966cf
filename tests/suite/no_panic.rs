//! Parsing never fails and never panics, whatever the bytes: pathological sizes and shapes,
//! and a property test over arbitrary bytes and markdown-like text.

use proptest::prelude::*;
use storypack::plan::{self, Loaded, Source};

use super::util::{parse_files, with_code};

fn parse_bytes(path: &str, bytes: Vec<u8>) -> plan::Parsed {
    plan::parse(Loaded {
        sources: vec![Source {
            path: path.to_string(),
            bytes,
        }],
        config: None,
        diagnostics: Vec::new(),
    })
}

#[test]
fn a_10_mb_single_line() {
    let line = "SRE-01-01 ".repeat(1_048_576);
    let parsed = parse_files(&[("docs/03-backlog/long.md", &line)], None);
    assert_eq!(parsed.plan.docs.len(), 1);
    assert_eq!(parsed.plan.docs[0].line_starts.len(), 1);
}

#[test]
fn ten_thousand_deep_nested_lists_and_quotes() {
    let lists = "- ".repeat(10_000) + "DEV-1 deep\n";
    let indented: String = (0..10_000)
        .map(|i| format!("{}- level {i}\n", "  ".repeat(i.min(400))))
        .collect();
    let quotes = "> ".repeat(10_000) + "deep\n";
    let parsed = parse_files(
        &[
            ("docs/03-backlog/lists.md", &lists),
            ("docs/03-backlog/indented.md", &indented),
            ("docs/03-backlog/quotes.md", &quotes),
        ],
        None,
    );
    assert_eq!(parsed.plan.docs.len(), 3);
    let deep = with_code(&parsed, "nesting-too-deep");
    assert_eq!(deep.len(), 3, "{deep:#?}");
}

#[test]
fn a_100_000_row_table() {
    let mut text = String::from("| ID | Title | Acceptance |\n|---|---|---|\n");
    for i in 0..100_000 {
        text.push_str(&format!("| BIG-{i} | Story {i} | done when {i} |\n"));
    }
    let parsed = parse_files(&[("docs/03-backlog/big.md", &text)], None);
    assert_eq!(parsed.plan.stories.len(), 100_000);
    assert_eq!(parsed.plan.stories[99_999].citation.line_start, 100_002);
    assert_eq!(parsed.errors(), 0);
}

#[test]
fn binary_files() {
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    png.extend((0..=255u8).cycle().take(100_000));
    let parsed = parse_bytes("docs/03-backlog/image.md", png);
    assert_eq!(with_code(&parsed, "not-utf8").len(), 1);
    // Valid UTF-8 full of NULs and control characters is just odd text.
    let parsed = parse_bytes("docs/03-backlog/nul.md", vec![0u8; 10_000]);
    assert_eq!(parsed.plan.docs.len(), 1);
}

fn markdownish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "# ",
        "## ",
        "### Week 1\n",
        "## 03-backlog\n",
        "- ",
        "  - ",
        "    - ",
        "- [ ] ",
        "- [x] ",
        "1. ",
        "> ",
        "| ",
        " | ",
        "|---|---|\n",
        "| Sprint | Theme |\n",
        "| ID | Title |\n",
        "\n",
        "\r\n",
        "**",
        "`",
        "```\n",
        "SRE-04-01 ",
        "F1-E1",
        "Depends on: ",
        "Acceptance:",
        "Evidence: ",
        " - evidence: ",
        "(owner: @a, due: day 3)",
        "---\n",
        "sprint: 04\n",
        "\\|",
        "[link](x)",
        "<div>",
        "\u{feff}",
        "é",
        "\t",
        "Sprint 03",
        "gate evidence",
        "Checklist\n",
        "`00-governance`: ",
    ]);
    prop::collection::vec(atoms, 0..200).prop_map(|v| v.concat())
}

const PATHS: &[&str] = &[
    "docs/03-backlog/a.md",
    "docs/04-sprints/r.md",
    "docs/00-governance/gates/g.md",
    "docs/02-features/f.md",
    "docs/07-role-sprint-plans/sprint-04/devops-sre-engineer/p.md",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096), p in 0..PATHS.len()) {
        let parsed = parse_bytes(PATHS[p], bytes);
        prop_assert!(parsed.plan.docs.len() <= 1);
    }

    #[test]
    fn markdown_like_text_never_panics_and_cites_real_lines(text in markdownish(), p in 0..PATHS.len()) {
        let parsed = parse_files(&[(PATHS[p], &text), ("docs/03-backlog/other.md", &text)], None);
        let lines = text.split('\n').count() as u32;
        for s in &parsed.plan.stories {
            prop_assert!(s.citation.line_start >= 1 && s.citation.line_start <= s.citation.line_end);
            prop_assert!(s.citation.line_end <= lines, "{:?} beyond {lines}", s.citation);
        }
        for d in &parsed.diagnostics {
            prop_assert!(d.path.is_empty() || d.line >= 1);
        }
    }
}
