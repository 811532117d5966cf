//! Agents coordinating on one plan, through the real binary and real MCP servers: live
//! story states, `next --claim` races (processes and servers), leases that expire and
//! renew, handoffs that end a claim or unblock dependents, and claimers killed mid-write.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt, service::RunningService};
use serde_json::{Value, json};
use storypack::app::App;

use super::handoffs::valid_contract;
use super::packs::copy_plan;
use super::util::{stderr, stdout};

/// The four stories of sprint 04 whose dependencies are done in the example plan.
const READY_04: [&str; 4] = ["BE-04-03", "BE-04-04", "SRE-04-04", "SRE-04-05"];
const T0: &str = "2026-12-05T10:00:00Z";

fn cmd(plan: &Path, now: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_storypack"));
    c.args(args)
        .arg("--plan")
        .arg(plan)
        .env("STORYPACK_NOW", now)
        .env_remove("STORYPACK_LOG");
    c
}

fn run(plan: &Path, now: &str, args: &[&str]) -> Output {
    cmd(plan, now, args).output().expect("run storypack")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(out), stderr(out)))
}

/// Story id -> state, from `stories --json`.
fn states(plan: &Path, now: &str) -> BTreeMap<String, String> {
    let v = json_of(&run(plan, now, &["stories", "--json"]));
    v["stories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Records a handoff for `story` with `status` from `agent`, through the binary.
fn record(plan: &Path, now: &str, story: &str, status: &str, agent: &str) {
    let app = App::open(plan).unwrap();
    let mut contract = valid_contract(&app, story);
    contract["status"] = status.into();
    contract["from"]["agent"] = agent.into();
    if status == "blocked" {
        contract["risks"] = json!([{"text": "waiting for credentials", "severity": "high"}]);
    }
    let file = plan.join(format!("contract-{story}.json"));
    fs::write(&file, contract.to_string()).unwrap();
    let out = run(plan, now, &["handoff", "record", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    fs::remove_file(file).unwrap();
}

/// Every stored claim event: parses, is whole, numbers dense per story.
fn claim_events(plan: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let dir = plan.join(".storypack/claims");
    let Ok(stories) = fs::read_dir(&dir) else {
        return out;
    };
    for story in stories {
        let story = story.unwrap().path();
        let mut ns = Vec::new();
        for f in fs::read_dir(&story).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with(".tmp-") {
                continue;
            }
            let v: Value = serde_json::from_slice(&fs::read(&f).unwrap())
                .unwrap_or_else(|e| panic!("{} is not a whole event: {e}", f.display()));
            ns.push(v["n"].as_u64().unwrap());
            out.push(v);
        }
        ns.sort_unstable();
        assert_eq!(
            ns,
            (1..=ns.len() as u64).collect::<Vec<_>>(),
            "{}",
            story.display()
        );
    }
    out
}

#[test]
fn states_show_in_stories_priorities_gate_and_pack() {
    let plan = copy_plan();
    let p = plan.path();
    let s = states(p, T0);
    assert_eq!(s["SRE-04-03"], "done");
    assert_eq!(s["SRE-04-04"], "todo");

    let out = run(p, T0, &["claim", "take", "SRE-04-04", "--agent", "codex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("SRE-04-04 claimed by codex until 2026-12-05T12:00:00.000Z"));
    record(p, T0, "BE-04-03", "in_progress", "cursor");
    record(p, T0, "BE-04-04", "ready_for_review", "cursor");
    record(p, T0, "SRE-04-05", "blocked", "cursor");

    let s = states(p, T0);
    assert_eq!(s["SRE-04-04"], "claimed");
    assert_eq!(s["BE-04-03"], "in_progress");
    assert_eq!(s["BE-04-04"], "ready_for_review");
    assert_eq!(s["SRE-04-05"], "blocked");

    // --state filters.
    let v = json_of(&run(p, T0, &["stories", "--state", "claimed", "--json"]));
    assert_eq!(v["count"], 1);
    assert_eq!(v["stories"][0]["claim"]["agent"], "codex");
    let bad = run(p, T0, &["stories", "--state", "finished"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("state"), "{}", stderr(&bad));
    let text = stdout(&run(p, T0, &["stories", "--sprint", "04"]));
    assert!(
        text.contains("state: claimed (claimed by codex until 2026-12-05T12:00:00.000Z)"),
        "{text}"
    );

    // Priorities: the state, and a blocked handoff flags the story blocked.
    let v = json_of(&run(p, T0, &["priorities", "--sprint", "04", "--json"]));
    let by_id = |id: &str| {
        v["stories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("SRE-04-05")["blocked"], true);
    assert_eq!(by_id("SRE-04-04")["state"], "claimed");

    // The gate report and a pack's header carry it too.
    let v = json_of(&run(
        p,
        T0,
        &["gate", "04", "--today", "2026-12-05", "--json"],
    ));
    let story = v["stories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "BE-04-04")
        .unwrap();
    assert_eq!(story["state"], "ready_for_review");
    assert!(
        v["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .contains("BE-04-04 is not done (ready for review)")),
        "{v}"
    );
    let v = json_of(&run(p, T0, &["pack", "SRE-04-04", "--json"]));
    assert_eq!(v["state"], "claimed");
    assert_eq!(v["claim"]["agent"], "codex");
    let md = stdout(&run(p, T0, &["pack", "SRE-04-04"]));
    assert!(
        md.starts_with("# Context pack: SRE-04-04 (claimed)\n> sprint 04 · "),
        "{md}"
    );
    // Its hash is the pack's content: the same as once the claim is gone.
    let later = json_of(&run(
        p,
        "2026-12-05T13:00:00Z",
        &["pack", "SRE-04-04", "--json"],
    ));
    assert_eq!(later["state"], "todo");
    assert_eq!(later["hash"], v["hash"]);
}

#[test]
fn eight_processes_claiming_at_once_never_share_a_story() {
    for round in 0..3 {
        let plan = copy_plan();
        let p = plan.path();
        let children: Vec<_> = (0..8)
            .map(|i| {
                cmd(
                    p,
                    T0,
                    &[
                        "next",
                        "--sprint",
                        "04",
                        "--agent",
                        &format!("agent-{i}"),
                        "--claim",
                        "--json",
                    ],
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        let mut won: Vec<String> = Vec::new();
        let mut none = 0;
        for child in children {
            let out = child.wait_with_output().unwrap();
            let v = json_of(&out);
            match v["story"]["id"].as_str() {
                Some(id) => {
                    assert_eq!(out.status.code(), Some(0));
                    assert!(v["claim"]["agent"].as_str().unwrap().starts_with("agent-"));
                    won.push(id.to_string());
                }
                None => {
                    assert_eq!(out.status.code(), Some(1), "nothing ready exits 1");
                    assert!(
                        v["why"][0].as_str().unwrap().contains("in sprint 04"),
                        "{v}"
                    );
                    none += 1;
                }
            }
        }
        let distinct: BTreeSet<&str> = won.iter().map(String::as_str).collect();
        assert_eq!(
            distinct.len(),
            won.len(),
            "round {round}: a story handed out twice: {won:?}"
        );
        assert_eq!(distinct, READY_04.into_iter().collect(), "round {round}");
        assert_eq!(none, 4);
        let v = json_of(&run(p, T0, &["claim", "list", "--json"]));
        assert_eq!(v["count"], 4);
        // Losers never wrote: one event per story.
        assert_eq!(claim_events(p).len(), 4);
    }
}

#[test]
fn a_lease_expires_at_its_time_and_is_renewed_by_its_agent() {
    let plan = copy_plan();
    let p = plan.path();
    let take = |now: &str, agent: &str| {
        run(
            p,
            now,
            &[
                "claim",
                "take",
                "SRE-04-04",
                "--agent",
                agent,
                "--ttl",
                "1h",
                "--json",
            ],
        )
    };
    let out = take(T0, "a");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_of(&out)["claim"]["until"], "2026-12-05T11:00:00.000Z");
    // Another agent before the end: refused, naming the holder.
    let out = take("2026-12-05T10:59:59.999Z", "b");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["held_by"]["agent"], "a");
    // The holder renews: same since, later until.
    let out = take("2026-12-05T10:30:00Z", "a");
    let v = json_of(&out);
    assert_eq!(v["claim"]["since"], "2026-12-05T10:00:00.000Z");
    assert_eq!(v["claim"]["until"], "2026-12-05T11:30:00.000Z");
    assert!(v["message"].as_str().unwrap().contains("renewed"));
    // At 11:00 the first lease would have ended: still held.
    assert_eq!(take("2026-12-05T11:00:00Z", "b").status.code(), Some(1));
    // At its (renewed) end, gone: listed no more, and b wins.
    let v = json_of(&run(
        p,
        "2026-12-05T11:30:00Z",
        &["claim", "list", "--json"],
    ));
    assert_eq!(v["count"], 0);
    assert_eq!(states(p, "2026-12-05T11:30:00Z")["SRE-04-04"], "todo");
    assert_eq!(take("2026-12-05T11:30:00Z", "b").status.code(), Some(0));
    // Release: only by the holder.
    let later = "2026-12-05T11:40:00Z";
    let out = run(p, later, &["claim", "release", "SRE-04-04", "--agent", "a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("b does"), "{}", stdout(&out));
    let out = run(p, later, &["claim", "release", "SRE-04-04", "--agent", "b"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(states(p, later)["SRE-04-04"], "todo");
    // Bad input changes nothing.
    let before = claim_events(p).len();
    for args in [
        &["claim", "take", "SRE-04-04", "--agent", " ", "--json"][..],
        &[
            "claim",
            "take",
            "SRE-04-04",
            "--agent",
            "a",
            "--ttl",
            "forever",
        ],
        &["claim", "take", "SRE-04-04", "--agent", "a", "--ttl", "30d"],
        &["claim", "take", "NOPE-1", "--agent", "a"],
    ] {
        let out = run(p, later, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let field = if args.contains(&"NOPE-1") {
            "story"
        } else if args.contains(&" ") {
            "agent"
        } else {
            "ttl"
        };
        assert!(stderr(&out).contains(field), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(claim_events(p).len(), before);
}

#[test]
fn a_handoff_ends_the_claim_and_a_done_handoff_unblocks_dependents() {
    let plan = copy_plan();
    let p = plan.path();
    let v = json_of(&run(
        p,
        T0,
        &[
            "next",
            "--sprint",
            "04",
            "--role",
            "devops-sre-engineer",
            "--agent",
            "claude-code",
            "--claim",
            "--json",
        ],
    ));
    let id = v["story"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        id, "SRE-04-04",
        "dependency order, then stories unblocked: {v}"
    );
    assert!(
        v["why"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("unblocks")),
        "{v}"
    );
    assert_eq!(v["story"]["state"], "claimed");
    // SRE-05-01 waits on it.
    let v = json_of(&run(p, T0, &["next", "--sprint", "05", "--json"]));
    assert!(v["story"].is_null(), "{v}");
    let waiting = &v["waiting"];
    assert!(
        waiting
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == "SRE-05-01" && w["waits_on"][0] == "SRE-04-04"),
        "{v}"
    );
    assert!(
        v["why"][0]
            .as_str()
            .unwrap()
            .starts_with("nothing is ready in sprint 05")
    );

    // A handoff from the holder saying done ends the claim and unblocks SRE-05-01.
    let later = "2026-12-05T10:30:00Z";
    record(p, later, &id, "done", "claude-code");
    let v = json_of(&run(p, later, &["claim", "list", "--json"]));
    assert_eq!(v["count"], 0, "{v}");
    assert_eq!(states(p, later)[&id], "done");
    let v = json_of(&run(p, later, &["next", "--sprint", "05", "--json"]));
    assert_eq!(v["story"]["id"], "SRE-05-01", "{v}");
    let v = json_of(&run(p, later, &["priorities", "--sprint", "05", "--json"]));
    let s = v["stories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "SRE-05-01")
        .unwrap()
        .clone();
    assert_eq!(
        (s["blocked"].clone(), s["state"].clone()),
        (json!(false), json!("todo"))
    );

    // An in-progress handoff does not end a claim.
    let out = run(
        p,
        later,
        &["claim", "take", "SRE-04-05", "--agent", "cursor"],
    );
    assert!(out.status.success());
    record(p, later, "SRE-04-05", "in_progress", "cursor");
    let v = json_of(&run(p, later, &["claim", "list", "--json"]));
    assert_eq!(v["claims"][0]["story_id"], "SRE-04-05");
    assert_eq!(states(p, later)["SRE-04-05"], "in_progress");
}

#[test]
fn claimers_killed_mid_write_leave_no_partial_claim_and_lose_no_acknowledged_one() {
    let plan = copy_plan();
    let p = plan.path();
    let mut killed = 0;
    let mut acked: Vec<(String, String)> = Vec::new();
    let mut i = 0u64;
    while killed < 50 {
        i += 1;
        // Two claimers each time: one left to finish, one killed after a short while.
        let story = READY_04[(i % 4) as usize];
        // Each round two seconds later: the last lease (1 s) has run out, so takes write.
        let now = (chrono::DateTime::parse_from_rfc3339(T0).unwrap()
            + chrono::Duration::seconds(2 * i as i64))
        .to_rfc3339();
        let spawn = |agent: String| {
            cmd(
                p,
                &now,
                &[
                    "claim", "take", story, "--agent", &agent, "--ttl", "1s", "--json",
                ],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
        };
        let kept = spawn(format!("kept-{i}"));
        let mut victim = spawn(format!("victim-{i}"));
        // Across a claimer's whole life (it loads the plan, reads, writes, in ~50 ms).
        std::thread::sleep(Duration::from_micros(5_000 + (i * 7919) % 75_000));
        let mut outs = vec![kept.wait_with_output().unwrap()];
        if victim.try_wait().unwrap().is_none() {
            victim.kill().unwrap();
            let _ = victim.wait();
            killed += 1;
        } else {
            outs.push(victim.wait_with_output().unwrap());
        }
        for out in outs.iter().filter(|o| o.status.success()) {
            let v = json_of(out);
            acked.push((
                story.to_string(),
                v["claim"]["agent"].as_str().unwrap().to_string(),
            ));
        }
    }
    // Every event whole (parsed in claim_events), numbers dense, every acknowledged take stored.
    let events = claim_events(p);
    for (story, agent) in &acked {
        assert!(
            events
                .iter()
                .any(|e| e["story_id"] == story.as_str() && e["agent"] == agent.as_str()),
            "acknowledged claim of {story} by {agent} lost"
        );
    }
    // And the store still reads: claim list works.
    let out = run(p, T0, &["claim", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    eprintln!(
        "{killed} claimers killed, {} takes acknowledged, {} events",
        acked.len(),
        events.len()
    );
}

type Client = RunningService<RoleClient, ()>;

async fn server(plan: &Path) -> Client {
    let cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_storypack")).configure(|c| {
        c.arg("serve")
            .arg("--plan")
            .arg(plan)
            .env("STORYPACK_NOW", T0)
            .env_remove("STORYPACK_LOG");
    });
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ().serve(transport).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_claiming_at_once_hand_each_story_out_once() {
    let plan = copy_plan();
    let (a, b) = tokio::join!(server(plan.path()), server(plan.path()));
    let call = |client: &Client, i: usize| {
        let params = CallToolRequestParams::new("next_story").with_arguments(
            json!({"sprint": "04", "agent": format!("agent-{i}"), "claim": true})
                .as_object()
                .unwrap()
                .clone(),
        );
        let peer = client.peer().clone();
        async move { peer.call_tool(params).await.unwrap() }
    };
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..8 {
        let client = if i % 2 == 0 { &a } else { &b };
        calls.spawn(call(client, i));
    }
    let results = calls.join_all().await;
    let won: Vec<String> = results
        .iter()
        .filter_map(|r| {
            let v = r.structured_content.clone().unwrap();
            v["story"]["id"].as_str().map(str::to_string)
        })
        .collect();
    let distinct: BTreeSet<&str> = won.iter().map(String::as_str).collect();
    assert_eq!(
        distinct.len(),
        won.len(),
        "a story handed out twice: {won:?}"
    );
    assert_eq!(distinct, READY_04.into_iter().collect());
    // Without claim: an answer, nothing written.
    let before = claim_events(plan.path()).len();
    let params = CallToolRequestParams::new("next_story").with_arguments(
        json!({"role": "devops-sre-engineer"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let r = a.peer().call_tool(params).await.unwrap();
    let v = r.structured_content.unwrap();
    assert!(v["story"]["id"].is_string(), "{v}");
    assert!(v["claim"].is_null());
    assert_eq!(claim_events(plan.path()).len(), before);
    // Claim without agent: a clear error naming the field.
    let params = CallToolRequestParams::new("next_story")
        .with_arguments(json!({"claim": true}).as_object().unwrap().clone());
    let r = a.peer().call_tool(params).await;
    let msg = match r {
        Ok(r) => format!("{:?}", r.content),
        Err(e) => e.to_string(),
    };
    assert!(msg.contains("agent"), "{msg}");
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
}
