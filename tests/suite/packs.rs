//! Context packs on the example plan: content, ranking, exact budgets, determinism,
//! staleness, rendering snapshots and bad input.

#[path = "../common/copy_dir.rs"]
mod copy_dir;
pub use copy_dir::copy_dir;
use std::fs;

use storypack::app::App;
use storypack::pack::{OmitReason, Pack, PackRequest, Part, render};
use storypack::tokens::{Encoding, Tiktoken, TokenCounter};

use super::util::{example_plan, stderr, stdout, storypack};

fn app() -> App {
    App::open(&example_plan()).unwrap()
}

fn build(app: &App, story: &str, budget: usize) -> Pack {
    app.pack(&PackRequest {
        story_id: story.into(),
        budget_tokens: Some(budget),
        ..PackRequest::default()
    })
    .unwrap()
}

/// Copies the example plan to a temp folder so tests can write and edit it.
pub fn copy_plan() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&example_plan(), dir.path());
    dir
}

#[test]
fn a_pack_holds_the_story_its_epic_gate_role_plan_and_the_adrs_naming_its_epic() {
    let app = app();
    let pack = build(&app, "SRE-04-01", 8000);
    let titles: Vec<&str> = pack.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles[0],
        "Story SRE-04-01: Provision worker runtime settings"
    );
    assert_eq!(pack.sections[0].part, Part::Story);
    assert!(
        pack.sections[0]
            .text
            .contains("Worker pool size is configurable per environment")
    );

    let epic = pack
        .sections
        .iter()
        .find(|s| s.part == Part::Epic)
        .expect("epic section");
    assert_eq!(
        epic.title,
        "Epic F3-E2: Domain read path and background jobs"
    );
    assert!(epic.text.contains("worker pool that runs SLA timers"));
    assert_eq!(
        epic.citation.path,
        "docs/02-features/f3-core-domain-workflows.md"
    );

    let sprint = pack
        .sections
        .iter()
        .find(|s| s.part == Part::Sprint)
        .unwrap();
    assert!(sprint.text.contains("- Gate: Core workflow gate"));
    let gate = pack.sections.iter().find(|s| s.part == Part::Gate).unwrap();
    assert!(
        gate.text
            .contains("Case schema migration rollback rehearsed on staging")
    );

    let role_plan: Vec<_> = pack
        .sections
        .iter()
        .filter(|s| s.part == Part::RolePlan)
        .collect();
    // Role plan sections that touch are one excerpt; each keeps its heading inside.
    let units: usize = role_plan
        .iter()
        .map(|s| 1 + s.text.lines().filter(|l| l.starts_with("####")).count())
        .sum();
    assert!(units >= 5, "{titles:#?}");
    assert!(role_plan.iter().all(|s| s.citation.path
        == "docs/07-role-sprint-plans/sprint-04/devops-sre-engineer/section-contribution-plan.md"));

    // ADR-0004 and ADR-0005 name F3-E2; both are drawn on.
    for adr in ["adr-0004", "adr-0005"] {
        assert!(
            pack.sections
                .iter()
                .any(|s| s.part == Part::Architecture && s.citation.path.contains(adr)),
            "{adr} missing: {titles:#?}"
        );
    }
    // Score order after the mandatory story.
    for pair in pack.sections[1..].windows(2) {
        assert!(
            pair[0].score >= pair[1].score,
            "{} before {}",
            pair[0].title,
            pair[1].title
        );
    }
    // Every excerpt is cited and its text is what the cited lines say (modulo demoted headings).
    let plan = app.plan();
    for s in &pack.sections[1..] {
        if matches!(s.part, Part::Sprint | Part::Checklist | Part::Dependencies) {
            continue;
        }
        let cited = plan.excerpt(&s.citation).unwrap();
        let first_words: String = s
            .text
            .split_whitespace()
            .filter(|w| !w.starts_with('#'))
            .take(4)
            .collect::<Vec<_>>()
            .join(" ");
        let cited_flat = cited.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            cited_flat.contains(&first_words),
            "{}: `{first_words}` not in {}",
            s.title,
            s.citation
        );
    }
}

#[test]
fn packs_fit_their_budget_exactly_when_recounted() {
    let app = app();
    for story in ["SRE-04-01", "SRE-05-03", "BE-03-01", "SRE-00-01"] {
        for budget in [300, 2_000, 8_000] {
            for encoding in Encoding::ALL {
                let pack = app
                    .pack(&PackRequest {
                        story_id: story.into(),
                        budget_tokens: Some(budget),
                        encoding: Some(encoding),
                        recipe: None,
                    })
                    .unwrap();
                let md = render::markdown(&pack);
                let counted = Tiktoken::get(encoding).count_uncached(&md);
                assert_eq!(counted, pack.total_tokens, "{story} {budget} {encoding}");
                assert!(
                    counted <= budget,
                    "{story}: {counted} > {budget} ({encoding})"
                );
                assert_eq!(pack.encoding, encoding);
                // A larger budget is used: not more than a few hundred tokens left unused
                // unless everything relevant fit.
                if pack.omitted_by_reason.over_budget > 0 && budget > 300 {
                    assert!(
                        budget - counted < 600,
                        "{story} {budget}: only {counted} used"
                    );
                }
                for (s, alone) in pack.sections.iter().zip(render::sections(&pack)) {
                    assert_eq!(Tiktoken::get(encoding).count(&alone), s.tokens);
                }
            }
        }
    }
}

#[test]
fn a_pack_says_what_it_left_out_and_why() {
    let pack = build(&app(), "SRE-04-01", 2_000);
    assert!(pack.omitted_by_reason.over_budget > 0);
    assert!(pack.omitted_by_reason.below_threshold > 0);
    let total = pack.omitted_by_reason.over_budget
        + pack.omitted_by_reason.below_threshold
        + pack.omitted_by_reason.cap_reached;
    assert_eq!(total, pack.omitted.len() + pack.omitted_more);
    assert!(
        pack.omitted
            .iter()
            .any(|o| o.reason == OmitReason::OverBudget)
    );
    for o in &pack.omitted {
        assert!(o.citation.line_start >= 1 && !o.citation.path.is_empty());
    }
    // Listed best first.
    for pair in pack.omitted.windows(2) {
        assert!(pair[0].score >= pair[1].score);
    }
    let md = render::markdown(&pack);
    assert!(md.contains(&format!("Left out: {total} excerpts")));
}

#[test]
fn packs_are_byte_identical_across_runs_and_processes() {
    let a = render::json(&build(&app(), "SRE-05-03", 4_000));
    let b = render::json(&build(&app(), "SRE-05-03", 4_000));
    assert_eq!(a, b);
    let plan = copy_plan();
    let root = plan.path().to_str().unwrap();
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let out = storypack(&["pack", "SRE-05-03", "--plan", root, "--budget", "4000"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let md = fs::read(plan.path().join(".storypack/packs/SRE-05-03.md")).unwrap();
        let json = fs::read(plan.path().join(".storypack/packs/SRE-05-03.json")).unwrap();
        assert_eq!(
            stdout(&out).as_bytes(),
            md.as_slice(),
            "stdout is the written pack"
        );
        outputs.push((md, json));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(String::from_utf8(outputs[0].1.clone()).unwrap(), a);
}

#[test]
fn packs_after_the_servers_count_warm_up_are_those_of_a_fresh_process() {
    // The server counts ahead what packs share (excerpts, frame heads, story blocks, the
    // counts frames print, footer sources), and packs then add those counts up piece by
    // piece. A fresh `storypack pack` process has nothing counted.
    let app = app();
    assert!(app.warm_counts(Encoding::O200kBase) > 0);
    let plan = copy_plan();
    let root = plan.path().to_str().unwrap();
    let mut cut = false;
    for story in ["SRE-04-01", "BE-03-01", "SRE-05-03"] {
        for budget in [700, 8_000] {
            let warm = build(&app, story, budget);
            cut |= warm.sections.iter().any(|s| s.cut);
            let out = storypack(&[
                "pack",
                story,
                "--plan",
                root,
                "--budget",
                &budget.to_string(),
            ]);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            let packs = plan.path().join(".storypack/packs");
            let md = fs::read_to_string(packs.join(format!("{story}.md"))).unwrap();
            let json = fs::read_to_string(packs.join(format!("{story}.json"))).unwrap();
            assert_eq!(render::markdown(&warm), md, "{story} at {budget}");
            assert_eq!(render::json(&warm), json, "{story} at {budget}");
            let counted = Tiktoken::get(Encoding::O200kBase).count_uncached(&md);
            assert_eq!(counted, warm.total_tokens, "{story} at {budget}");
        }
    }
    assert!(cut, "a cut excerpt among them");
}

#[test]
fn a_repeated_pack_is_the_one_built_before_until_a_handoff_is_recorded_by_anyone() {
    // A long-lived App (the server) keeps the packs it built. A repeat must be the same
    // pack, and a handoff recorded since, by this App or by another process, must show.
    let plan = copy_plan();
    let app = App::open(plan.path()).unwrap();
    let story = app
        .plan()
        .stories
        .iter()
        .find(|s| s.depends_on.iter().any(|d| app.plan().story(d).is_some()))
        .expect("a story with a dependency")
        .clone();
    let dep = story
        .depends_on
        .iter()
        .find(|d| app.plan().story(d).is_some())
        .unwrap()
        .clone();
    let fresh = |budget| render::json(&build(&App::open(plan.path()).unwrap(), &story.id, budget));
    let handoffs = |p: &Pack| {
        p.sections
            .iter()
            .filter(|s| s.part == Part::Handoffs)
            .count()
    };

    let first = build(&app, &story.id, 8_000);
    assert_eq!(build(&app, &story.id, 8_000), first);
    assert_eq!(render::json(&first), fresh(8_000));
    let padded = app
        .pack(&PackRequest {
            story_id: format!("  {}  ", story.id),
            budget_tokens: Some(8_000),
            ..PackRequest::default()
        })
        .unwrap();
    assert_eq!(padded, first, "the id trimmed is the same request");
    let small = build(&app, &story.id, 2_000);
    assert_ne!(small.hash, first.hash, "another budget is another pack");
    assert_eq!(render::json(&small), fresh(2_000));
    assert_eq!(handoffs(&first), 0);

    // Recorded by another process: another App on the same plan.
    let other = App::open(plan.path()).unwrap();
    let out = other
        .record_handoff(&super::handoffs::valid_contract(&other, &story.id))
        .unwrap();
    assert!(out.recorded, "{:?}", out.validation.problems);
    let after = build(&app, &story.id, 8_000);
    assert_eq!(handoffs(&after), 1);
    assert_ne!(after.hash, first.hash);
    assert_eq!(render::json(&after), fresh(8_000));

    // Recorded through this App, on the dependency.
    let out = app
        .record_handoff(&super::handoffs::valid_contract(&app, &dep))
        .unwrap();
    assert!(out.recorded, "{:?}", out.validation.problems);
    let later = build(&app, &story.id, 8_000);
    assert_eq!(handoffs(&later), 2);
    assert_eq!(render::json(&later), fresh(8_000));
    assert_eq!(render::json(&build(&app, &story.id, 2_000)), fresh(2_000));
}

#[test]
fn pack_check_flags_packs_whose_sources_changed() {
    let plan = copy_plan();
    let root = plan.path().to_str().unwrap();
    for story in ["SRE-04-01", "SRE-07-02"] {
        let out = storypack(&["pack", story, "--plan", root, "--budget", "3000"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let out = storypack(&["pack", "--check", "--plan", root]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).ends_with("2 packs, 0 stale\n"),
        "{}",
        stdout(&out)
    );

    // Edit a file only SRE-04-01's pack cites.
    let epic_doc = plan
        .path()
        .join("docs/02-features/f3-core-domain-workflows.md");
    let text = fs::read_to_string(&epic_doc).unwrap();
    fs::write(&epic_doc, text.replace("worker pool", "worker fleet")).unwrap();
    let out = storypack(&["pack", "--check", "--json", "--plan", root]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stale"], 1);
    let stale: Vec<&serde_json::Value> = v["packs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["fresh"] == false)
        .collect();
    assert_eq!(stale[0]["story_id"], "SRE-04-01");
    assert_eq!(
        stale[0]["changed"],
        serde_json::json!(["docs/02-features/f3-core-domain-workflows.md"])
    );
    // Rebuilding makes it fresh again.
    storypack(&["pack", "SRE-04-01", "--plan", root, "--budget", "3000"]);
    let out = storypack(&["pack", "--check", "--plan", root]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn pack_markdown_snapshot() {
    let pack = build(&app(), "SRE-05-02", 1_500);
    insta::assert_snapshot!(render::markdown(&pack));
}

#[test]
fn pack_json_snapshot() {
    let pack = build(&app(), "SRE-05-02", 1_500);
    insta::assert_json_snapshot!(pack);
}

#[test]
fn bad_pack_requests_exit_2_name_the_field_and_write_nothing() {
    let plan = copy_plan();
    let root = plan.path().to_str().unwrap();
    let cases: [(&[&str], &str); 8] = [
        (&["NOPE-1"], "story_id: no story `NOPE-1` in the plan"),
        (
            &["../etc/passwd"],
            "story_id: `../etc/passwd` is not a story id",
        ),
        (
            &["SRE-04-01", "--recipe", "mystery"],
            "recipe: no recipe `mystery` (known: backend, default, devops-sre, frontend, qa)",
        ),
        (
            &["SRE-04-01", "--encoding", "gpt2"],
            "encoding: `gpt2` is not a supported encoding (o200k_base, cl100k_base)",
        ),
        (
            &["SRE-04-01", "--budget", "0"],
            "budget_tokens: 0 is out of range (1..=200000)",
        ),
        (
            &["SRE-04-01", "--budget", "200001"],
            "budget_tokens: 200001 is out of range (1..=200000)",
        ),
        (
            &["SRE-04-01", "--budget", "100"],
            "budget_tokens: 100 is below the 198 tokens this story's mandatory parts need (recipe `devops-sre`); ask for at least 198",
        ),
        (&["SRE-04-01", "--budget", "lots"], "invalid value 'lots'"),
    ];
    for (args, message) in cases {
        let mut full = vec!["pack"];
        full.extend_from_slice(args);
        full.extend(["--plan", root]);
        let out = storypack(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    assert!(!plan.path().join(".storypack").exists(), "nothing written");
}

#[test]
fn the_minimum_budget_named_in_the_error_is_enough() {
    let app = app();
    for story in ["SRE-04-01", "BE-03-01", "SRE-11-05"] {
        let err = app
            .pack(&PackRequest {
                story_id: story.into(),
                budget_tokens: Some(50),
                ..PackRequest::default()
            })
            .unwrap_err()
            .to_string();
        let need: usize = err.rsplit(' ').next().unwrap().parse().unwrap();
        let pack = build(&app, story, need);
        assert!(pack.total_tokens <= need);
        assert!(
            app.pack(&PackRequest {
                story_id: story.into(),
                budget_tokens: Some(need - 1),
                ..PackRequest::default()
            })
            .is_err()
        );
    }
}

#[test]
fn plan_recipes_override_shipped_ones() {
    let plan = copy_plan();
    fs::create_dir_all(plan.path().join("packs")).unwrap();
    fs::write(
        plan.path().join("packs/devops-sre.toml"),
        "name = \"devops-sre\"\nroles = [\"devops*\"]\n[[parts]]\npart = \"story\"\nweight = 1.0\nmandatory = true\n[[parts]]\npart = \"epic\"\nweight = 0.5\n",
    )
    .unwrap();
    let app = App::open(plan.path()).unwrap();
    let pack = build(&app, "SRE-04-01", 8_000);
    assert_eq!(pack.recipe, "devops-sre");
    let parts: Vec<Part> = pack.sections.iter().map(|s| s.part).collect();
    assert_eq!(parts, [Part::Story, Part::Epic]);
}

#[test]
fn search_ranks_plan_sections_with_citations() {
    let app = app();
    let r = app
        .search("dead-letter replay for the ingestion queue", Some(5))
        .unwrap();
    assert_eq!(r.count, 5);
    assert!(
        r.hits[0].snippet.to_lowercase().contains("dead-letter")
            || r.hits[0].title.to_lowercase().contains("dead-letter"),
        "{:#?}",
        r.hits[0]
    );
    for pair in r.hits.windows(2) {
        assert!(pair[0].score >= pair[1].score);
    }
    let ids = app.search("SRE-05-02", Some(3)).unwrap();
    assert!(
        ids.hits[0].citation.path.contains("sprint-05"),
        "{:#?}",
        ids.hits
    );

    let root = example_plan();
    let out = storypack(&[
        "search",
        "rollback rehearsal",
        "--plan",
        root.to_str().unwrap(),
        "--limit",
        "3",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["count"], 3);
    assert!(v["hits"][0]["citation"]["line_start"].as_u64().unwrap() >= 1);
    let out = storypack(&[
        "search",
        "x",
        "--plan",
        root.to_str().unwrap(),
        "--limit",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("limit: 0 is out of range (1..=100)"));
}

#[test]
fn a_one_shot_pack_ranks_exactly_as_one_built_on_the_whole_index() {
    for story in ["SRE-04-01", "BE-03-02", "SRE-09-04"] {
        let cold = app();
        let one_shot = render::json(&build(&cold, story, 6_000));
        let warm = app();
        warm.index();
        let whole = render::json(&build(&warm, story, 6_000));
        assert_eq!(one_shot, whole, "{story}");
    }
    let cold = app();
    let a = cold
        .search("replay dead-letter SRE-05-02", Some(8))
        .unwrap();
    let warm = app();
    warm.index();
    let b = warm
        .search("replay dead-letter SRE-05-02", Some(8))
        .unwrap();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

/// Plan text over total tokens for every story of the example plan at budgets 2,000 and
/// 8,000, at least [`MIN_DENSITY`] for each. The goal is 0.85; the floors asserted are what
/// the current Markdown shape reaches (a heading ending in a short `[n:lines]` citation per
/// excerpt, the header with the numbered source files), so that it cannot get thinner again.
///
/// Plan text is what the pack's sections carry from the plan, each section's `text` as the
/// JSON pack has it, counted alone with the pack's encoding: for an excerpt, the plan's
/// lines as cut from the cited file (its own heading line left out, the headings inside it
/// demoted, cut at a sentence when it did not fit whole); for the story, its dependencies,
/// the sprint and the checklist, the values the plan gives them as a list. Everything else
/// of the Markdown is framing: the header, each section's heading and citation line, the
/// cut marks, blank lines between sections, and the footer.
const MIN_DENSITY: [(usize, f64); 2] = [(2_000, 0.78), (8_000, 0.82)];

#[test]
fn packs_spend_most_of_their_tokens_on_plan_text() {
    let app = app();
    let ids: Vec<String> = app.plan().stories.iter().map(|s| s.id.clone()).collect();
    let mut thin = Vec::new();
    for (budget, floor) in MIN_DENSITY {
        let mut densities = Vec::new();
        for id in &ids {
            let pack = build(&app, id, budget);
            let counter = Tiktoken::get(pack.encoding);
            let plan_text: usize = pack.sections.iter().map(|s| counter.count(&s.text)).sum();
            let density = plan_text as f64 / pack.total_tokens as f64;
            if density < floor {
                thin.push(format!(
                    "{id} at {budget}: {plan_text} of {}",
                    pack.total_tokens
                ));
            }
            densities.push(density);
            excerpts_are_merged_and_cuts_keep_words(&app, &pack);
        }
        densities.sort_by(f64::total_cmp);
        println!(
            "budget {budget}: density min {:.3}, median {:.3} over {} packs",
            densities[0],
            densities[densities.len() / 2],
            densities.len()
        );
    }
    assert!(thin.is_empty(), "below the floor: {thin:#?}");
}

/// In a pack, no two excerpts cut from one file touch (only blank lines between) or
/// overlap: they are one excerpt (unless the first was cut: what follows its kept lines
/// is not in the pack). A cut excerpt keeps at least 12 words.
fn excerpts_are_merged_and_cuts_keep_words(app: &App, pack: &Pack) {
    let plan = app.plan();
    let from_plan = |p: Part| {
        !matches!(
            p,
            Part::Story | Part::Dependencies | Part::Sprint | Part::Checklist | Part::Handoffs
        )
    };
    let excerpts: Vec<_> = pack.sections.iter().filter(|s| from_plan(s.part)).collect();
    for (i, a) in excerpts.iter().enumerate() {
        if a.cut {
            let words = a.text.split_whitespace().count();
            assert!(words >= 12, "{}: {:?}", pack.story_id, a.text);
        }
        for b in &excerpts[i + 1..] {
            let (first, second) = if a.citation.line_start <= b.citation.line_start {
                (a, b)
            } else {
                (b, a)
            };
            let (x, y) = (&first.citation, &second.citation);
            if x.path != y.path || first.cut {
                continue;
            }
            let apart = y.line_start > x.line_end + 1 && {
                let gap = storypack::model::Citation {
                    path: x.path.clone(),
                    line_start: x.line_end + 1,
                    line_end: y.line_start - 1,
                    heading: String::new(),
                };
                plan.excerpt(&gap)
                    .unwrap()
                    .lines()
                    .any(|l| !l.trim().is_empty())
            };
            assert!(apart, "{}: {x} and {y} are one excerpt", pack.story_id);
        }
    }
}
