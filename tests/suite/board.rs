//! The board, in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `scripts/ci-deps.sh` installs) driven over WebDriver, against the real binary serving a
//! copy of the example plan: the counts a reader sees, a screenshot that is not blank, a
//! plan edit and a claim that reach the open page within 2 s, the sign-in form off
//! loopback, and the security headers.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use fantoccini::{Client, ClientBuilder, Locator};
use storypack::app::App;
use storypack::gate::Verdict;

use super::packs::copy_plan;

/// The clock of the server and of every command here: day 5 of sprint 05.
const NOW: &str = "2026-11-20T09:30:00Z";
/// The acceptance bound: a change reaches the open page within this.
const LIVE_BOUND: Duration = Duration::from_secs(2);
/// Generous: what happens at all happens well within this.
const WAIT: Duration = Duration::from_secs(30);

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `storypack serve --http ADDR` on `plan`; returns the process and the board's URL.
fn serve(plan: &Path, addr: &str, token: Option<&str>) -> (Proc, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_storypack"));
    cmd.args(["serve", "--plan", plan.to_str().unwrap(), "--http", addr])
        .env("STORYPACK_NOW", NOW)
        .env_remove("STORYPACK_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(t) = token {
        cmd.args(["--token-env", "BOARD_TEST_TOKEN"])
            .env("BOARD_TEST_TOKEN", t);
    }
    let mut child = cmd.spawn().expect("start storypack serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("storypack: board at ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(WAIT)
        .expect("the server says where the board is");
    // Bound to 0.0.0.0: reach it on loopback.
    (Proc(child), url.replace("0.0.0.0", "127.0.0.1"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// ChromeDriver on a free port, and a headless Chromium session through it.
async fn browser() -> (Proc, Client, tempfile::TempDir) {
    let driver = which("chromedriver");
    let chromium = which("chromium");
    let port = free_port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let proc = Proc(child);
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1440,1400",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    (proc, client, profile)
}

/// A program on PATH (or in /usr/bin), else a failure saying how to install it.
fn which(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is missing: run `bash scripts/ci-deps.sh` (apt-get install chromium chromium-driver)")
        })
}

async fn count(client: &Client, css: &str) -> usize {
    client.find_all(Locator::Css(css)).await.unwrap().len()
}

async fn attr(client: &Client, css: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in client.find_all(Locator::Css(css)).await.unwrap() {
        out.push(e.attr(name).await.unwrap().unwrap_or_default());
    }
    out
}

/// Waits up to `bound` for the page's text to contain `needle`; how long it took.
async fn wait_for_text(client: &Client, needle: &str, bound: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() <= bound {
        let text: String = client
            .execute("return document.body.innerText", vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_string();
        if text.contains(needle) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

/// Waits (generously) until the page's live stream is open.
async fn wait_live(client: &Client) {
    let start = Instant::now();
    loop {
        let open = client
            .execute(
                "return document.documentElement.getAttribute('data-live')",
                vec![],
            )
            .await
            .unwrap();
        if open.as_str() == Some("open") {
            return;
        }
        assert!(start.elapsed() < WAIT, "the live stream never opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How far a screenshot is from blank: distinct colours among sampled pixels.
fn colours(png_bytes: &[u8]) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let mut seen = std::collections::HashSet::new();
    for px in bytes.chunks(channels).step_by(7) {
        seen.insert(px[..3.min(px.len())].to_vec());
    }
    (info.width, info.height, seen.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_the_plan_and_follows_edits_and_claims_live() {
    let plan = copy_plan();
    let app = App::open(plan.path()).unwrap();
    let (_server, url) = serve(plan.path(), "127.0.0.1:0", None);
    let (_driver, client, _profile) = browser().await;

    // Headers first, as any client sees them.
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response
        .headers()
        .get("content-security-policy")
        .expect("a CSP header")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let body = response.text().await.unwrap();
    for external in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "src=\"//",
        "href=\"//",
    ] {
        assert!(!body.contains(external), "no external asset: {external}");
    }

    // Source links serve plan documents of the model, and nothing else.
    let source = reqwest::get(format!(
        "{url}source/docs/03-backlog/sprint-05-devops-sre-engineer.md"
    ))
    .await
    .unwrap();
    assert_eq!(source.status(), 200);
    assert!(source.text().await.unwrap().contains(r#"<li id="L12">"#));
    for path in [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "storypack.toml",
        "docs",
    ] {
        let r = reqwest::get(format!("{url}source/{path}")).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }

    client.goto(&url).await.unwrap();
    // Every sprint on the timeline, the current one (05 on 2026-11-20) first, each with
    // its gate's verdict as the gate check gives it.
    let sprints = attr(&client, "li.sprint", "data-sprint").await;
    let expected: Vec<String> = app.plan().sprints.iter().map(|s| s.id.clone()).collect();
    assert_eq!(sprints.len(), expected.len());
    assert_eq!(sprints[0], "05");
    let mut sorted = sprints.clone();
    sorted.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(sorted, expected_sorted);
    let verdicts = attr(&client, "li.sprint", "data-verdict").await;
    for (id, verdict) in sprints.iter().zip(&verdicts) {
        let want = match app.check_gate(id, today()).unwrap().verdict {
            Verdict::Pass => "pass",
            Verdict::AtRisk => "at_risk",
            Verdict::Fail => "fail",
        };
        assert_eq!(verdict, want, "sprint {id}");
    }
    assert_eq!(
        count(&client, "li.sprint[data-verdict=fail]").await,
        verdicts.iter().filter(|v| *v == "fail").count()
    );
    // The current sprint's stories, all in the state columns and in the graph.
    let in_05: Vec<&str> = app
        .plan()
        .stories
        .iter()
        .filter(|s| s.sprint.as_deref() == Some("05"))
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(in_05.len(), 5);
    assert_eq!(count(&client, "li.story").await, in_05.len());
    assert_eq!(
        count(&client, "section.column[data-state=todo] li.story").await,
        5
    );
    assert_eq!(
        count(&client, "svg.graph a.node").await,
        5 + 2,
        "2 dependencies from sprint 04"
    );
    assert_eq!(count(&client, "svg.graph path.edge").await, 6);

    let shot = client.screenshot().await.unwrap();
    let (w, h, distinct) = colours(&shot);
    assert!(w >= 800 && h >= 600, "{w}x{h}");
    assert!(
        distinct >= 8,
        "the screenshot looks blank: {distinct} colours"
    );
    let target = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    std::fs::write(target.join("board.png"), &shot).unwrap();
    // The dependency graph, drawn: an element screenshot of the figure.
    let graph = client
        .find(Locator::Css("figure.graph-box"))
        .await
        .unwrap()
        .screenshot()
        .await
        .unwrap();
    let (gw, _, graph_colours) = colours(&graph);
    assert!(
        gw >= 600 && graph_colours >= 4,
        "{gw} wide, {graph_colours} colours"
    );
    std::fs::write(target.join("board-graph.png"), &graph).unwrap();
    if let Some(path) = std::env::var_os("STORYPACK_BOARD_SCREENSHOT") {
        let path = PathBuf::from(path);
        std::fs::write(&path, &shot).unwrap();
        std::fs::write(path.with_file_name("board-graph.png"), &graph).unwrap();
    }

    // A plan edit reaches the open page, without a reload, within 2 s.
    wait_live(&client).await;
    client
        .execute("window.__sameDocument = true; return true", vec![])
        .await
        .unwrap();
    let backlog = plan
        .path()
        .join("docs/03-backlog/sprint-05-devops-sre-engineer.md");
    let text = std::fs::read_to_string(&backlog).unwrap();
    let edited = text.replace(
        "Provision the ingestion queue with retry policy",
        "Provision the ingestion queue with a live retry policy",
    );
    assert_ne!(text, edited);
    std::fs::write(&backlog, edited).unwrap();
    let took = wait_for_text(&client, "live retry policy", LIVE_BOUND).await;
    assert!(took.is_some(), "the edit did not reach the page within 2 s");
    eprintln!("board: a plan edit reached the page in {took:?}");
    let same = client
        .execute("return window.__sameDocument === true", vec![])
        .await
        .unwrap();
    assert_eq!(same, serde_json::Value::Bool(true), "the page was reloaded");

    // A claim taken by another process reaches it too.
    let out = Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args(["claim", "take", "SRE-05-01", "--agent", "agent-7", "--plan"])
        .arg(plan.path())
        .env("STORYPACK_NOW", NOW)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = wait_for_text(&client, "Claimed by agent-7", LIVE_BOUND).await;
    assert!(
        took.is_some(),
        "the claim did not reach the page within 2 s"
    );
    assert_eq!(
        count(&client, "section.column[data-state=claimed] li.story").await,
        1
    );

    // So does a handoff recorded by another writer.
    let writer = App::open(plan.path()).unwrap();
    let mut contract = super::handoffs::valid_contract(&writer, "SRE-05-03");
    contract["status"] = "ready_for_review".into();
    let outcome = writer.record_handoff(&contract).unwrap();
    assert!(outcome.recorded, "{outcome:?}");
    let took = wait_for_text(&client, "Ready for review (1)", LIVE_BOUND).await;
    assert!(
        took.is_some(),
        "the handoff did not reach the page within 2 s"
    );

    // The story page: fields, acceptance, a pack with its token count, citations as links.
    client.goto(&format!("{url}story/SRE-05-01")).await.unwrap();
    let size = client
        .find(Locator::Css("p.pack-size"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(size.contains("tokens of a"), "{size}");
    assert!(count(&client, "a.cite[href^='/source/']").await > 1);
    client.goto(&format!("{url}story/SRE-05-03")).await.unwrap();
    assert_eq!(
        attr(&client, "li.handoff", "data-handoff").await,
        [super::util::record_id(plan.path(), "SRE-05-03", 1)]
    );
    // The gate page of sprint 04 names its reasons.
    client.goto(&format!("{url}gate/04")).await.unwrap();
    let reasons = count(&client, "li.reason").await;
    assert_eq!(
        reasons,
        app.check_gate("04", today()).unwrap().reasons.len()
    );
    assert_eq!(
        attr(&client, "[data-verdict]", "data-verdict").await,
        ["fail"]
    );

    // The role filter, without script: a GET form.
    client
        .goto(&format!("{url}sprint/04?role=backend-engineer"))
        .await
        .unwrap();
    let mut shown = attr(&client, "li.story", "data-story").await;
    shown.sort();
    assert_eq!(shown, ["BE-04-01", "BE-04-02", "BE-04-03", "BE-04-04"]);
    assert_eq!(
        count(&client, "section.column[data-state=done] li.story").await,
        2
    );

    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_the_board_asks_for_the_token() {
    let plan = copy_plan();
    let (_server, url) = serve(plan.path(), "0.0.0.0:0", Some("board-s3cret"));

    // Without the token: 401 and the sign-in form; the MCP endpoint still wants the bearer.
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("content-security-policy"));
    let body = response.text().await.unwrap();
    assert!(
        body.contains(r#"<form class="signin" method="post" action="/signin">"#),
        "{body}"
    );
    assert!(!body.contains("data-sprint"), "nothing of the plan shows");
    let client = reqwest::Client::new();
    let mcp = client.get(format!("{url}mcp")).send().await.unwrap();
    assert_eq!(mcp.status(), 401);
    // With it as a bearer header: the board.
    let ok = client
        .get(&url)
        .bearer_auth("board-s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // A foreign Host (DNS rebinding) is refused even with the token.
    let foreign = client
        .get(&url)
        .bearer_auth("board-s3cret")
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    // A form posted from another site is refused.
    let cross = client
        .post(format!("{url}signin"))
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=board-s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);

    // In the browser: the sign-in form, a wrong token, then the right one.
    let (_driver, browser, _profile) = browser().await;
    browser.goto(&url).await.unwrap();
    assert_eq!(count(&browser, "li.sprint").await, 0);
    let form = browser.form(Locator::Css("form.signin")).await.unwrap();
    form.set_by_name("token", "wrong")
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    let shown = wait_for_text(&browser, "does not match", Duration::from_secs(5)).await;
    assert!(shown.is_some(), "{}", browser.source().await.unwrap());
    let form = browser.form(Locator::Css("form.signin")).await.unwrap();
    form.set_by_name("token", "board-s3cret")
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    assert!(
        wait_for_text(&browser, "Sprint 05 (current)", WAIT)
            .await
            .is_some()
    );
    assert!(count(&browser, "li.sprint").await > 0);
    // The session cookie is HttpOnly: no script reads it.
    let cookies = browser
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert_eq!(cookies, serde_json::Value::String(String::new()));
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_an_event_and_an_open_stream_does_not_hold_up_shutdown() {
    let plan = copy_plan();
    let (mut server, url) = serve(plan.path(), "127.0.0.1:0", None);
    let mut events = reqwest::get(format!("{url}events")).await.unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let backlog = plan
        .path()
        .join("docs/03-backlog/sprint-05-devops-sre-engineer.md");
    let text = std::fs::read_to_string(&backlog).unwrap();
    std::fs::write(&backlog, text.replace("retry policy", "retry rules")).unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + WAIT;
    while !seen.contains("event: change") {
        let chunk = tokio::time::timeout_at(deadline.into(), events.chunk())
            .await
            .expect("a change event")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }

    // SIGTERM with the stream still open: the server ends it and exits.
    let pid = libc::pid_t::try_from(server.0.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid, with a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    let rest = tokio::time::timeout(WAIT, events.chunk()).await.unwrap();
    assert!(matches!(rest, Ok(None) | Err(_)), "the stream ended");
}
