//! The handoff stores on real disks and a real PostgreSQL: one suite run against the file
//! store and the PostgreSQL store, then what a team notices: servers sharing one database
//! (dense numbers, announcements, one claim winner), the database restarted mid-run,
//! writers SIGKILLed mid-write, UPDATE refused by the database itself, and `store copy`.
//!
//! PostgreSQL comes from `scripts/postgres.sh` (`.ci/run` runs the tests inside it), which
//! sets `STORYPACK_TEST_PG`. Without it the PostgreSQL tests say so and pass locally; under
//! CI (`CI` set) they fail.

#![allow(
    clippy::await_holding_lock,
    reason = "the database lock spans whole tests, each on its own runtime and thread"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, SubscribeRequestParams};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};
use storypack::app::App;
use storypack::handoff::{
    ClaimAction, ClaimEvent, EntryKind, FileStore, HandoffRecord, HandoffStore, Put, Slot,
};
use tokio::sync::mpsc;

use super::handoffs::valid_contract;
use super::mcp::Recorder;
use super::packs::copy_plan;
use super::util::{stderr, stdout};

/// Tests that restart the database take this for writing; every other PostgreSQL test
/// holds it for reading.
static DB: RwLock<()> = RwLock::new(());
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// A fresh database on the test cluster, or `None` (with a note) outside CI without one.
fn pg_url() -> Option<String> {
    let Ok(admin) = std::env::var("STORYPACK_TEST_PG") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL tests: run them inside `bash scripts/postgres.sh`"
        );
        eprintln!("skipped: no STORYPACK_TEST_PG (run `bash scripts/postgres.sh cargo test ...`)");
        return None;
    };
    let name = format!(
        "sp_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    psql(&admin, &format!("CREATE DATABASE {name}"));
    let base = admin.rsplit_once('/').unwrap().0;
    Some(format!("{base}/{name}"))
}

fn password(url: &str) -> String {
    let userinfo = url.split("://").nth(1).unwrap().split('@').next().unwrap();
    userinfo.split_once(':').unwrap().1.to_string()
}

/// Runs SQL through the psql client, as a person would; panics when it fails.
fn psql(url: &str, sql: &str) -> String {
    let out = psql_output(url, sql);
    assert!(out.status.success(), "psql {sql}: {}", stderr(&out));
    stdout(&out)
}

fn psql_output(url: &str, sql: &str) -> Output {
    Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs")
}

fn read_lock() -> std::sync::RwLockReadGuard<'static, ()> {
    DB.read().unwrap_or_else(|e| e.into_inner())
}

fn record(story: &str, n: u64) -> HandoffRecord {
    let app = example_app();
    let contract = valid_contract(app, story);
    let validated = app.validate_handoff(&contract);
    assert!(validated.valid, "{validated:?}");
    let contract: storypack::handoff::Contract = serde_json::from_value(contract).unwrap();
    let hash = blake3::hash(&serde_json::to_vec(&contract).unwrap()).to_hex()[..32].to_string();
    HandoffRecord {
        id: format!("{story}#{n}"),
        n,
        writer: None,
        story_id: story.into(),
        received_at: format!("2026-12-01T10:00:{:02}.000Z", n % 60),
        hash,
        contract,
    }
}

fn example_app() -> &'static App {
    static APP: std::sync::OnceLock<App> = std::sync::OnceLock::new();
    APP.get_or_init(|| App::open(&super::util::example_plan()).unwrap())
}

/// What every store must do, the same way.
fn store_suite(store: Arc<dyn HandoffStore>) {
    // Numbers per story from 1, dense, whatever the interleaving.
    let a1 = store
        .append("SRE-04-01", &|n| record("SRE-04-01", n))
        .unwrap();
    let b1 = store
        .append("BE-04-03", &|n| record("BE-04-03", n))
        .unwrap();
    let a2 = store
        .append("SRE-04-01", &|n| record("SRE-04-01", n))
        .unwrap();
    assert_eq!((a1.n, b1.n, a2.n), (1, 1, 2));
    // Filed under the store's writer tag (the file store's clone; none in PostgreSQL).
    let writer = store.writer().unwrap();
    assert_eq!(a2.writer, writer);
    match &writer {
        Some(w) => assert_eq!(a2.id, format!("SRE-04-01#2-{w}")),
        None => assert_eq!(a2.id, "SRE-04-01#2"),
    }
    assert_eq!(store.get("SRE-04-01", &a2.slot()).unwrap().unwrap(), a2);
    let third = Slot::new(3, writer.as_deref());
    assert_eq!(store.get("SRE-04-01", &third).unwrap(), None);
    let all = store.list(None).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(store.list(Some("SRE-04-01")).unwrap(), vec![a1.clone(), a2]);
    // Eight writers at once on one story: every append gets its own number, none is lost.
    std::thread::scope(|s| {
        for _ in 0..8 {
            let store = store.clone();
            s.spawn(move || {
                for _ in 0..5 {
                    store
                        .append("SRE-04-02", &|n| record("SRE-04-02", n))
                        .unwrap();
                }
            });
        }
    });
    let ns: Vec<u64> = store
        .list(Some("SRE-04-02"))
        .unwrap()
        .iter()
        .map(|r| r.n)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(ns, (1..=40).collect::<Vec<_>>());
    // Claims: first writer of a number wins; the other is told so.
    let at = "2026-12-01T10:00:00.000Z".to_string();
    let take = ClaimEvent::new("BE-04-03", 1, ClaimAction::Take, "a", at.clone(), None)
        .with_writer(writer.as_deref());
    let rival = ClaimEvent::new("BE-04-03", 1, ClaimAction::Take, "b", at.clone(), None)
        .with_writer(writer.as_deref());
    assert!(take.intact());
    assert!(store.append_claim(&take).unwrap());
    assert!(!store.append_claim(&rival).unwrap());
    assert_eq!(store.claim_events(Some("BE-04-03")).unwrap(), vec![take]);
    // Hostile ids name nothing and change nothing.
    for bad in [
        "../etc",
        "",
        ".hidden",
        "a/b",
        "x'; DROP TABLE storypack_handoffs; --",
    ] {
        assert!(store.append(bad, &|n| record("SRE-04-01", n)).is_err());
        assert!(store.list(Some(bad)).is_err());
    }
    assert_eq!(store.list(None).unwrap().len(), 43);
    // Raw entries: byte for byte what put_raw is given back.
    let raw = store.raw_entries().unwrap();
    assert_eq!(
        raw.iter().filter(|e| e.kind == EntryKind::Record).count(),
        43
    );
    assert_eq!(raw.iter().filter(|e| e.kind == EntryKind::Claim).count(), 1);
    for e in &raw {
        assert_eq!(store.put_raw(e).unwrap(), Put::Same);
    }
    let mut other = raw[0].clone();
    other.bytes.extend_from_slice(b" ");
    assert_eq!(store.put_raw(&other).unwrap(), Put::Differs);
    assert_eq!(store.raw_entries().unwrap(), raw, "nothing overwritten");
    // Every record intact.
    assert!(store.list(None).unwrap().iter().all(HandoffRecord::intact));
}

#[test]
fn the_store_suite_passes_on_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    store_suite(Arc::new(FileStore::for_plan(dir.path())));
}

#[test]
fn the_store_suite_passes_on_postgresql_with_the_file_stores_bytes() {
    let _db = read_lock();
    let Some(url) = pg_url() else { return };
    let pg = storypack::store::open(Some(&url), Path::new(".")).unwrap();
    store_suite(pg.clone());
    // The same JSON, byte for byte, as the file store writes for the same record (which
    // adds only its writer tag).
    let dir = tempfile::tempdir().unwrap();
    let file = FileStore::for_plan(dir.path());
    let r = pg.get("SRE-04-01", &Slot::new(1, None)).unwrap().unwrap();
    let filed = file.append("SRE-04-01", &|_| r.clone()).unwrap();
    let tag = file.writer().unwrap().unwrap();
    assert_eq!(filed, r.clone().with_writer(Some(&tag)));
    let on_disk = std::fs::read(
        dir.path()
            .join(format!(".storypack/handoffs/SRE-04-01/1-{tag}.json")),
    )
    .unwrap();
    let pretty = |r: &HandoffRecord| {
        let mut b = serde_json::to_vec_pretty(r).unwrap();
        b.push(b'\n');
        b
    };
    assert_eq!(on_disk, pretty(&filed));
    let in_db = pg
        .raw_entries()
        .unwrap()
        .into_iter()
        .find(|e| e.story_id == "SRE-04-01" && e.slot == Slot::new(1, None))
        .unwrap();
    assert_eq!(in_db.bytes, pretty(&r));
}

#[test]
fn the_database_refuses_update_delete_and_truncate_from_psql() {
    let _db = read_lock();
    let Some(url) = pg_url() else { return };
    let plan = copy_plan();
    let p = plan.path();
    record_cli(p, &url, "SRE-04-01");
    claim_cli(p, &url, "BE-04-03", "a");
    let before = psql(&url, "SELECT n, body FROM storypack_handoffs ORDER BY n");
    for sql in [
        "UPDATE storypack_handoffs SET body = '{}'",
        "DELETE FROM storypack_handoffs",
        "TRUNCATE storypack_handoffs",
        "UPDATE storypack_claims SET n = 7",
        "DELETE FROM storypack_claims",
    ] {
        let out = psql_output(&url, sql);
        assert!(!out.status.success(), "{sql} was allowed");
        assert!(
            stderr(&out).contains("append-only"),
            "{sql}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        psql(&url, "SELECT n, body FROM storypack_handoffs ORDER BY n"),
        before
    );
    assert_eq!(
        psql(&url, "SELECT count(*) FROM storypack_claims").trim(),
        "1"
    );
}

#[test]
fn a_database_of_a_newer_schema_is_refused_and_the_password_never_shows() {
    let _db = read_lock();
    let Some(url) = pg_url() else { return };
    let secret = password(&url);
    let plan = copy_plan();
    let p = plan.path();
    // Migrates, and logs at debug without the password.
    let out = cmd(p, &url, &["handoff", "list"])
        .env("STORYPACK_LOG", "debug")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&secret), "{}", stderr(&out));
    assert_eq!(
        psql(&url, "SELECT max(version) FROM storypack_schema").trim(),
        "2"
    );
    // A wrong password: a clear error, without the (wrong) password either.
    let wrong = url.replace(&secret, "not-the-password-42");
    let out = cmd(p, &wrong, &["handoff", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("not-the-password-42"), "{err}");
    // doctor checks the store it is given: the database answers, or why not.
    let store_line = |out: &Output| {
        stdout(out)
            .lines()
            .find(|l| l.contains("store"))
            .unwrap_or_default()
            .to_string()
    };
    let out = cmd(p, &url, &["doctor"]).output().unwrap();
    let line = store_line(&out);
    assert!(
        line.contains("answers: 0 handoff records, 0 claim events"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(&secret));
    let out = cmd(p, &wrong, &["doctor"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let line = store_line(&out);
    assert!(
        line.contains("password authentication failed"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("not-the-password-42"));
    // A newer schema: refused, nothing written.
    psql(&url, "INSERT INTO storypack_schema (version) VALUES (99)");
    let out = cmd(p, &url, &["handoff", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("schema is version 99, newer than this storypack's (2)"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(&secret));
}

fn cmd(plan: &Path, store: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_storypack"));
    c.args(args)
        .arg("--plan")
        .arg(plan)
        .arg("--store")
        .arg(store)
        .env_remove("STORYPACK_LOG")
        .env_remove("STORYPACK_STORE");
    c
}

fn contract_file(plan: &Path, story: &str) -> PathBuf {
    let app = App::open(plan).unwrap();
    let file = plan.join(format!("contract-{story}.json"));
    std::fs::write(&file, valid_contract(&app, story).to_string()).unwrap();
    file
}

fn record_cli(plan: &Path, store: &str, story: &str) {
    let file = contract_file(plan, story);
    let out = cmd(plan, store, &["handoff", "record", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

fn claim_cli(plan: &Path, store: &str, story: &str, agent: &str) {
    let out = cmd(plan, store, &["claim", "take", story, "--agent", agent])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

type Client = RunningService<RoleClient, Recorder>;

/// `storypack serve --store URL` as a child process, and a client of it.
async fn server(plan: &Path, store: &str) -> (Client, mpsc::UnboundedReceiver<String>) {
    let cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_storypack")).configure(|c| {
        c.arg("serve")
            .arg("--plan")
            .arg(plan)
            .arg("--store")
            .arg(store)
            .arg("--no-watch")
            .env_remove("STORYPACK_LOG");
    });
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    (Recorder { events: tx }.serve(transport).await.unwrap(), rx)
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().unwrap().clone());
    client.peer().call_tool(params).await.unwrap()
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_recording_200_each_on_one_story_give_400_dense_ids() {
    let _db = read_lock();
    let Some(url) = pg_url() else { return };
    let plan = copy_plan();
    let ((a, _), (b, _)) = tokio::join!(server(plan.path(), &url), server(plan.path(), &url));
    let contract = valid_contract(&App::open(plan.path()).unwrap(), "SRE-04-01");
    let mut calls = tokio::task::JoinSet::new();
    for client in [&a, &b] {
        let peer = client.peer().clone();
        let contract = contract.clone();
        // Each server gets its 200 records from 4 concurrent callers.
        for _ in 0..4 {
            let (peer, contract) = (peer.clone(), contract.clone());
            calls.spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..50 {
                    let params = CallToolRequestParams::new("record_handoff").with_arguments(
                        json!({ "contract": contract }).as_object().unwrap().clone(),
                    );
                    let r = peer.call_tool(params).await.unwrap();
                    assert_ne!(r.is_error, Some(true), "{}", text(&r));
                    let v = r.structured_content.unwrap();
                    ids.push(v["record"]["id"].as_str().unwrap().to_string());
                }
                ids
            });
        }
    }
    let acknowledged: Vec<String> = calls.join_all().await.into_iter().flatten().collect();
    let distinct: BTreeSet<&str> = acknowledged.iter().map(String::as_str).collect();
    assert_eq!(distinct.len(), 400, "an id handed out twice");
    let expected: BTreeSet<String> = (1..=400).map(|n| format!("SRE-04-01#{n}")).collect();
    assert_eq!(
        distinct,
        expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    // And the database holds exactly those.
    assert_eq!(
        psql(
            &url,
            "SELECT count(*), min(n), max(n) FROM storypack_handoffs"
        )
        .trim(),
        "400|1|400"
    );
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
}

/// Waits until every one of `want` came (in any order: a client handles notifications
/// concurrently), ignoring others; panics after a while.
async fn expect_events(events: &mut mpsc::UnboundedReceiver<String>, want: &[String]) {
    let mut missing: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !missing.is_empty() {
        let e = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no {missing:?} within 30 s"))
            .unwrap();
        missing.remove(e.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(deprecated)] // resources/subscribe: the session lifecycle every client uses today
async fn a_record_or_claim_through_server_a_is_announced_by_server_b() {
    let _db = read_lock();
    let Some(url) = pg_url() else { return };
    let plan = copy_plan();
    let ((a, _), (b, mut told)) =
        tokio::join!(server(plan.path(), &url), server(plan.path(), &url));
    let story = "SRE-04-01";
    let uri = format!("storypack://pack/{story}");
    b.subscribe(SubscribeRequestParams::new(uri.as_str()))
        .await
        .unwrap();
    let contract = valid_contract(&App::open(plan.path()).unwrap(), story);
    let r = call(&a, "record_handoff", json!({ "contract": contract })).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let list_changed = "resources/list_changed".to_string();
    expect_events(&mut told, &[list_changed.clone(), format!("updated {uri}")]).await;
    // B serves the record it did not write.
    let r = call(&b, "list_handoffs", json!({ "story_id": story })).await;
    assert_eq!(r.structured_content.unwrap()["count"], 1);
    // A claim taken through A is announced by B too.
    for other in ["BE-04-03", "BE-04-04"] {
        let other_uri = format!("storypack://pack/{other}");
        b.subscribe(SubscribeRequestParams::new(other_uri.as_str()))
            .await
            .unwrap();
    }
    let r = call(
        &a,
        "next_story",
        json!({"sprint": "04", "role": "backend-engineer", "agent": "x", "claim": true}),
    )
    .await;
    let won = r.structured_content.unwrap()["story"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    expect_events(
        &mut told,
        &[list_changed, format!("updated storypack://pack/{won}")],
    )
    .await;
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_race_across_two_servers_on_postgresql_has_one_winner_per_story() {
    let _db = read_lock();
    let Some(url) = pg_url() else { return };
    let plan = copy_plan();
    let ((a, _), (b, _)) = tokio::join!(server(plan.path(), &url), server(plan.path(), &url));
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..8 {
        let peer = if i % 2 == 0 { a.peer() } else { b.peer() }.clone();
        calls.spawn(async move {
            let params = CallToolRequestParams::new("next_story").with_arguments(
                json!({"sprint": "04", "agent": format!("agent-{i}"), "claim": true})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
            peer.call_tool(params).await.unwrap()
        });
    }
    let won: Vec<String> = calls
        .join_all()
        .await
        .iter()
        .filter_map(|r| {
            r.structured_content.clone().unwrap()["story"]["id"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let distinct: BTreeSet<&str> = won.iter().map(String::as_str).collect();
    assert_eq!(
        distinct.len(),
        won.len(),
        "a story handed out twice: {won:?}"
    );
    assert_eq!(distinct.len(), 4, "{won:?}");
    // One take per story in the database, numbers dense.
    assert_eq!(
        psql(
            &url,
            "SELECT count(*), count(DISTINCT story_id), max(n) FROM storypack_claims"
        )
        .trim(),
        "4|4|1"
    );
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
}

/// The handoff ids a `handoff record --repeat N --json` run printed (one JSON per record).
fn printed_ids(out: &[u8]) -> Vec<String> {
    serde_json::Deserializer::from_slice(out)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .filter_map(|v| v["record"]["id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn writers_sigkilled_mid_write_leave_no_partial_record_and_lose_no_acknowledged_one() {
    let _db = read_lock();
    let Some(url) = pg_url() else { return };
    let plan = copy_plan();
    let p = plan.path();
    let file = contract_file(p, "SRE-04-01");
    let mut acknowledged = Vec::new();
    for i in 0..12u64 {
        let child = cmd(
            p,
            &url,
            &[
                "handoff",
                "record",
                file.to_str().unwrap(),
                "--repeat",
                "200",
                "--json",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        std::thread::sleep(Duration::from_millis(150 + (i * 7919) % 400));
        // SIGKILL, then read what it acknowledged before dying.
        let mut child = child;
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        acknowledged.extend(printed_ids(&out.stdout));
    }
    assert!(!acknowledged.is_empty(), "no writer got to write");
    let rows = psql(
        &url,
        "SELECT id || ' ' || n || ' ' || body FROM storypack_handoffs ORDER BY n",
    );
    let stored = cmd(p, &url, &["handoff", "list", "--json"])
        .output()
        .unwrap();
    assert!(stored.status.success(), "{}", stderr(&stored));
    let list: Value = serde_json::from_slice(&stored.stdout).unwrap();
    let ids: BTreeSet<String> = list["handoffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let rec: HandoffRecord = serde_json::from_value(r.clone()).unwrap();
            assert!(rec.intact(), "a partial or altered record: {}", rec.id);
            rec.id
        })
        .collect();
    for id in &acknowledged {
        assert!(ids.contains(id), "acknowledged {id} lost");
    }
    let n = ids.len() as u64;
    assert_eq!(
        psql(&url, "SELECT count(*), max(n) FROM storypack_handoffs").trim(),
        format!("{n}|{n}"),
        "numbers dense"
    );
    assert!(!rows.is_empty());
    eprintln!("{} acknowledged, {n} stored", acknowledged.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_restarted_mid_run_fails_clearly_then_recovers_losing_nothing() {
    let Ok(ctl) = std::env::var("STORYPACK_TEST_PG_CTL") else {
        let _ = pg_url();
        return;
    };
    let _db = DB.write().unwrap_or_else(|e| e.into_inner());
    let Some(url) = pg_url() else { return };
    let secret = password(&url);
    let plan = copy_plan();
    let (a, _) = server(plan.path(), &url).await;
    let contract = valid_contract(&App::open(plan.path()).unwrap(), "SRE-04-01");
    let record = |client: &Client| {
        let params = CallToolRequestParams::new("record_handoff")
            .with_arguments(json!({ "contract": contract }).as_object().unwrap().clone());
        let peer = client.peer().clone();
        async move { peer.call_tool(params).await.unwrap() }
    };
    let mut acknowledged = Vec::new();
    for _ in 0..5 {
        let r = record(&a).await;
        assert_ne!(r.is_error, Some(true), "{}", text(&r));
        acknowledged.push(r.structured_content.unwrap()["record"]["id"].clone());
    }
    let pg = |what: &str| {
        let out = Command::new(&ctl).arg(what).output().unwrap();
        assert!(out.status.success(), "{what}: {}", stderr(&out));
    };
    pg("stop");
    // Down: a clear error naming the database, not its password; nothing acknowledged.
    let r = record(&a).await;
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    let message = text(&r);
    assert!(message.contains("unreachable"), "{message}");
    assert!(
        message.contains("postgres://storypack@127.0.0.1"),
        "{message}"
    );
    assert!(!message.contains(&secret), "{message}");
    pg("start");
    // Up again: the same server records again (reconnecting), and lost nothing.
    let mut ok = false;
    for _ in 0..50 {
        let r = record(&a).await;
        if r.is_error != Some(true) {
            acknowledged.push(r.structured_content.unwrap()["record"]["id"].clone());
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok, "the server did not recover");
    let r = call(&a, "list_handoffs", json!({ "story_id": "SRE-04-01" })).await;
    let v = r.structured_content.unwrap();
    let listed: Vec<&Value> = v["handoffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["id"])
        .collect();
    assert_eq!(listed, acknowledged.iter().collect::<Vec<_>>());
    assert_eq!(acknowledged.last().unwrap(), "SRE-04-01#6");
    a.cancel().await.unwrap();
}

/// Every file under `.storypack/{handoffs,claims}`: relative path -> bytes.
fn store_files(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for top in ["handoffs", "claims"] {
        let base = root.join(".storypack").join(top);
        let Ok(stories) = std::fs::read_dir(&base) else {
            continue;
        };
        for story in stories {
            let story = story.unwrap().path();
            for f in std::fs::read_dir(&story).unwrap() {
                let f = f.unwrap().path();
                let rel = f.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&f).unwrap());
            }
        }
    }
    out
}

#[test]
fn store_copy_file_to_postgresql_to_file_round_trips_byte_identical_records() {
    let _db = read_lock();
    let Some(url) = pg_url() else { return };
    let secret = password(&url);
    let plan = copy_plan();
    let p = plan.path();
    let here = p.to_str().unwrap();
    for story in ["SRE-04-01", "SRE-04-01", "BE-04-03"] {
        record_cli(p, here, story);
    }
    claim_cli(p, here, "BE-04-04", "a");
    claim_cli(p, here, "SRE-04-05", "b");
    // As after a merge: another worktree's record of the same number, and entries an
    // earlier version wrote (`1.json`, no writer tag).
    let other = copy_plan();
    record_cli(other.path(), other.path().to_str().unwrap(), "SRE-04-01");
    let theirs = format!("1-{}.json", super::util::writer_tag(other.path()));
    std::fs::copy(
        other
            .path()
            .join(".storypack/handoffs/SRE-04-01")
            .join(&theirs),
        p.join(".storypack/handoffs/SRE-04-01").join(&theirs),
    )
    .unwrap();
    for part in ["handoffs", "claims"] {
        super::packs::copy_dir(
            &super::util::fixture("store-v1").join(part),
            &p.join(".storypack").join(part),
        );
    }
    let original = store_files(p);
    assert_eq!(original.len(), 9);
    assert_eq!(
        original
            .keys()
            .filter(|k| k.starts_with(".storypack/handoffs/SRE-04-01/1-"))
            .count(),
        2
    );
    let copy = |from: &str, to: &str| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_storypack"))
            .args(["store", "copy", "--from", from, "--to", to, "--json"])
            .env_remove("STORYPACK_STORE")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        assert!(!stdout(&out).contains(&secret));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = copy(here, &url);
    assert_eq!(
        (&first["entries"], &first["copied"], &first["verified"]),
        (&json!(9), &json!(9), &json!(9))
    );
    // Idempotent: a second run copies nothing.
    let again = copy(here, &url);
    assert_eq!(
        (&again["copied"], &again["already"]),
        (&json!(0), &json!(9))
    );
    // Back into a fresh folder: the very same bytes.
    let back = tempfile::tempdir().unwrap();
    let b = back.path().to_str().unwrap();
    let home = copy(&url, b);
    assert_eq!(home["verified"], 9);
    assert_eq!(store_files(back.path()), original);
    // And the copy reads as the original does.
    let list = |store: &str| {
        let out = cmd(p, store, &["handoff", "list", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(list(b), list(here));
    assert_eq!(list(&url), list(here));
}

#[test]
fn a_database_of_schema_1_migrates_to_2_keeping_its_records() {
    let _db = read_lock();
    let Some(url) = pg_url() else { return };
    // A database as the first version left it: schema 1, one record, one claim.
    psql(
        &url,
        "CREATE TABLE storypack_schema (version integer PRIMARY KEY, \
         applied_at timestamptz NOT NULL DEFAULT now())",
    );
    psql(&url, storypack::store::postgres::MIGRATIONS[0]);
    psql(&url, "INSERT INTO storypack_schema (version) VALUES (1)");
    let old = record("SRE-04-01", 1);
    let mut body = serde_json::to_string_pretty(&old).unwrap();
    body.push('\n');
    psql(
        &url,
        &format!(
            "INSERT INTO storypack_handoffs (story_id, n, id, received_at, hash, body) \
             VALUES ('SRE-04-01', 1, '{}', '{}', '{}', $body${body}$body$)",
            old.id, old.received_at, old.hash
        ),
    );
    // Opening it migrates it; the record reads back under its old id, numbering goes on.
    let pg = storypack::store::open(Some(&url), Path::new(".")).unwrap();
    assert_eq!(
        psql(&url, "SELECT max(version) FROM storypack_schema").trim(),
        "2"
    );
    assert_eq!(pg.get("SRE-04-01", &Slot::new(1, None)).unwrap(), Some(old));
    let next = pg.append("SRE-04-01", &|n| record("SRE-04-01", n)).unwrap();
    assert_eq!(next.id, "SRE-04-01#2");
    // Still append-only after the migration.
    let out = psql_output(&url, "UPDATE storypack_handoffs SET body = '{}'");
    assert!(!out.status.success());
}
