//! The HTTP server's limits and answers, driven over raw TCP (what a well-behaved client
//! library would never send) and through the binary: timeouts on slow and idle
//! connections, the caps on connections and sessions, and the status codes of the
//! streamable HTTP spec. Servers run with short timeouts and small caps.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use storypack::mcp::{self, HttpLimits, HttpOptions, PlanHandle};

use super::util::example_plan;

/// Generous: what happens at all happens well within this.
const WAIT: Duration = Duration::from_secs(30);

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const PING: &str = r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;

struct Server {
    port: u16,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), String>>,
}

/// A server on 127.0.0.1:0 with these limits.
async fn start(limits: HttpLimits) -> Server {
    let handle = PlanHandle::open(&example_plan()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let options = HttpOptions {
        limits,
        ..HttpOptions::default()
    };
    let serving = mcp::serve_http(listener, handle, options, async {
        let _ = stopped.await;
    });
    let task = tokio::spawn(async move { serving.await.map_err(|e| e.to_string()) });
    Server { port, stop, task }
}

impl Server {
    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("graceful shutdown")
            .unwrap()
            .unwrap();
    }
}

/// One parsed answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A request's head: POST /mcp with the headers MCP needs, plus `extra` lines.
fn post_head(port: u16, body_len: usize, extra: &[&str]) -> String {
    let mut head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {body_len}\r\n"
    );
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

fn post(port: u16, body: &str, extra: &[&str]) -> String {
    post_head(port, body.len(), extra) + body
}

/// Reads one answer: its head, then a Content-Length or chunked body (or up to EOF).
async fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end_of_head = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end_of_head]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut answer = Answer {
        status,
        head,
        body: String::new(),
    };
    let length = answer
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    let chunked = answer
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"));
    let mut body = buf[end_of_head..].to_vec();
    loop {
        let done = match (length, chunked) {
            (Some(n), _) => body.len() >= n,
            (None, true) => body.ends_with(b"0\r\n\r\n"),
            (None, false) => false,
        };
        if done {
            break;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    if chunked {
        body = dechunk(&body);
    }
    answer.body = String::from_utf8_lossy(&body).to_string();
    Some(answer)
}

/// The data of a chunked body.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    while let Some(eol) = find(raw, b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || raw.len() < eol + 2 + size {
            break;
        }
        data.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[(eol + 4 + size).min(raw.len())..];
    }
    data
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends `request` on a new connection and reads the answer.
async fn exchange(port: u16, request: &str) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::timeout(WAIT, read_answer(&mut stream))
        .await
        .expect("an answer")
        .expect("an answer before the connection closed")
}

/// Whether the server closes `stream` (EOF or reset) within [`WAIT`].
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(WAIT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// Opens a session: initialize, then the initialized notification. Returns its id.
async fn open_session(port: u16) -> String {
    let a = exchange(port, &post(port, INITIALIZE, &["Connection: close"])).await;
    assert_eq!(a.status, 200, "{a:?}");
    let id = a.header("mcp-session-id").expect("a session id");
    let session = format!("Mcp-Session-Id: {id}");
    let a = exchange(
        port,
        &post(port, INITIALIZED, &[&session, "Connection: close"]),
    )
    .await;
    assert_eq!(a.status, 202, "{a:?}");
    id
}

async fn ping(port: u16, session: &str) -> Answer {
    let session = format!("Mcp-Session-Id: {session}");
    exchange(port, &post(port, PING, &[&session, "Connection: close"])).await
}

fn limits() -> HttpLimits {
    HttpLimits::default()
}

#[tokio::test]
async fn http_closes_connections_whose_head_does_not_arrive_but_keeps_idle_ones_longer() {
    let server = start(HttpLimits {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(60),
        ..limits()
    })
    .await;
    let port = server.port;
    // Half a head, then nothing: closed.
    let mut half = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    half.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // Connected, nothing sent: closed too.
    let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // A kept-alive connection after a full exchange outlives the header timeout.
    let mut kept = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    kept.write_all(post(port, INITIALIZE, &[]).as_bytes())
        .await
        .unwrap();
    let a = read_answer(&mut kept).await.unwrap();
    assert_eq!(a.status, 200);

    assert!(closed_by_server(&mut half).await, "half a head stays open");
    assert!(
        closed_by_server(&mut silent).await,
        "a silent connection stays open"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    kept.write_all(post(port, INITIALIZE, &[]).as_bytes())
        .await
        .unwrap();
    let a = read_answer(&mut kept)
        .await
        .expect("an idle connection survives the header timeout");
    assert_eq!(a.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn http_closes_idle_connections_and_times_out_slow_bodies() {
    let server = start(HttpLimits {
        idle_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..limits()
    })
    .await;
    let port = server.port;
    let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    idle.write_all(post(port, INITIALIZE, &[]).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_answer(&mut idle).await.unwrap().status, 200);
    assert!(
        closed_by_server(&mut idle).await,
        "an idle connection stays open"
    );

    // Ten bytes of a hundred, then nothing: 408, and the connection is closed.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = post_head(port, 100, &[]);
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&INITIALIZE.as_bytes()[..10]).await.unwrap();
    let a = tokio::time::timeout(WAIT, read_answer(&mut slow))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.status, 408, "{a:?}");
    assert!(closed_by_server(&mut slow).await);
    server.stop().await;
}

#[tokio::test]
async fn http_refuses_connections_past_the_cap_and_serves_the_open_ones() {
    let server = start(HttpLimits {
        max_connections: 3,
        ..limits()
    })
    .await;
    let port = server.port;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    // The fourth: 503 with Retry-After, then closed.
    let mut extra = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let a = tokio::time::timeout(WAIT, read_answer(&mut extra))
        .await
        .unwrap()
        .expect("a 503 before the close");
    assert_eq!(a.status, 503, "{a:?}");
    assert_eq!(a.header("retry-after").as_deref(), Some("1"));
    assert!(closed_by_server(&mut extra).await);
    // The open ones are served.
    open[0]
        .write_all(post(port, INITIALIZE, &[]).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_answer(&mut open[0]).await.unwrap().status, 200);
    // A closed one frees its place.
    drop(open.pop());
    let served = tokio::time::timeout(WAIT, async {
        loop {
            let a = exchange(port, &post(port, INITIALIZE, &["Connection: close"])).await;
            if a.status == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "a freed place is never given again");
    // Shutdown does not wait for the idle open connections.
    server.stop().await;
}

#[tokio::test]
async fn http_caps_live_sessions_with_a_503_and_serves_the_live_ones() {
    let cap = 4;
    let server = start(HttpLimits {
        max_sessions: cap,
        ..limits()
    })
    .await;
    let port = server.port;
    let mut sessions = Vec::new();
    for _ in 0..cap {
        sessions.push(open_session(port).await);
    }
    // A flood of new sessions: every one refused, with a JSON-RPC error naming the cap.
    let flood = 200;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let mut refused = 0;
    for _ in 0..flood {
        let r = client
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .body(INITIALIZE)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 503);
        assert_eq!(r.headers()["retry-after"], "5");
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(body["id"], 1);
        assert_eq!(body["error"]["code"], -32000);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("maximum of 4 live MCP sessions"),
            "{message}"
        );
        refused += 1;
    }
    assert_eq!(refused, flood);
    // The live sessions are still served.
    for id in &sessions {
        assert_eq!(ping(port, id).await.status, 200);
    }
    // Ending one (DELETE: 200, as the Python SDK expects) makes room for one more.
    let gone = sessions.pop().unwrap();
    let delete = format!(
        "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nMcp-Session-Id: {gone}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(exchange(port, &delete).await.status, 200);
    assert_eq!(exchange(port, &delete).await.status, 404, "deleted twice");
    assert_eq!(ping(port, &gone).await.status, 404);
    sessions.push(open_session(port).await);
    let a = exchange(port, &post(port, INITIALIZE, &["Connection: close"])).await;
    assert_eq!(a.status, 503);
    server.stop().await;
}

#[tokio::test]
async fn http_ends_idle_sessions_and_frees_their_place() {
    let server = start(HttpLimits {
        max_sessions: 1,
        session_idle: Duration::from_secs(1),
        ..limits()
    })
    .await;
    let port = server.port;
    let first = open_session(port).await;
    // Full until the first expires; then a new one opens.
    let opened = tokio::time::timeout(WAIT, async {
        loop {
            let a = exchange(port, &post(port, INITIALIZE, &["Connection: close"])).await;
            if a.status == 200 {
                return;
            }
            assert_eq!(a.status, 503);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(opened.is_ok(), "an idle session never expires");
    assert_eq!(ping(port, &first).await.status, 404, "the expired session");
    server.stop().await;
}

#[tokio::test]
async fn http_answers_malformed_requests_with_the_spec_status() {
    let server = start(limits()).await;
    let port = server.port;
    let close = "Connection: close";
    // Not JSON: 400 with a JSON-RPC parse error, with or without a session.
    let a = exchange(port, &post(port, "{\"jsonrpc\": ", &[close])).await;
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.json()["error"]["code"], -32700);
    let session = open_session(port).await;
    let with_session = format!("Mcp-Session-Id: {session}");
    let a = exchange(port, &post(port, "not json", &[&with_session, close])).await;
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.json()["error"]["code"], -32700);
    // JSON, but no JSON-RPC message: 400 with -32600.
    let a = exchange(port, &post(port, "[1, 2]", &[&with_session, close])).await;
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.json()["error"]["code"], -32600);
    // DELETE of a session that never was: 404.
    let a = exchange(
        port,
        &format!(
            "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nMcp-Session-Id: no-such-session\r\n{close}\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(a.status, 404, "{a:?}");
    // Content-Length next to chunked, with a body that is not chunked (smuggling): 400.
    let a = exchange(
        port,
        &post(port, INITIALIZE, &["Transfer-Encoding: chunked", close]),
    )
    .await;
    assert_eq!(a.status, 400, "{a:?}");
    // Two Host headers: 400.
    let a = exchange(
        port,
        &post(port, INITIALIZE, &["Host: evil.example", close]),
    )
    .await;
    assert_eq!(a.status, 400, "{a:?}");
    // The session is still served.
    assert_eq!(ping(port, &session).await.status, 200);
    server.stop().await;
}

#[test]
fn serve_refuses_a_token_with_whitespace_around_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--token-env",
            "SP_TEST_TOKEN",
        ])
        .arg("--plan")
        .arg(example_plan())
        .env("SP_TEST_TOKEN", "s3cret\n")
        .env_remove("STORYPACK_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("whitespace"), "{stderr}");
    let out = super::util::storypack(&["serve", "--http", "0", "--max-sessions", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(super::util::stderr(&out).contains("--max-sessions"));
}

/// The binary, serving HTTP with `args`, once it is ready; the URL it prints; its stderr.
#[cfg(unix)]
async fn spawn_binary(
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
) {
    use tokio::io::AsyncBufReadExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_storypack"));
    command
        .args(["serve", "--http", "127.0.0.1:0", "--no-watch", "--plan"])
        .arg(example_plan())
        .args(args)
        .env_remove("STORYPACK_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    // Both lines: where it listens, and that the warm-up (which grows the heap) is over.
    let (mut url, mut ready) = (None, false);
    tokio::time::timeout(WAIT, async {
        while url.is_none() || !ready {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the listening and ready lines");
            ready |= line.starts_with("storypack: plan ready");
            if let Some(u) = line.strip_prefix("storypack: serving MCP at ") {
                url = Some(u.to_string());
            }
        }
    })
    .await
    .unwrap();
    (child, url.unwrap(), lines)
}

/// The resident memory of a process, in KiB.
#[cfg(target_os = "linux")]
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_flood_of_sessions_leaves_the_server_memory_bounded_and_answering() {
    let (mut child, url, _stderr) = spawn_binary(&["--max-sessions", "8"], &[]).await;
    let pid = child.id().unwrap();
    let client = reqwest::Client::new();
    let initialize = |client: reqwest::Client, url: String| async move {
        client
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .body(INITIALIZE)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let port: u16 = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/mcp")
        .parse()
        .unwrap();
    // Fill the cap, then measure.
    let mut sessions = Vec::new();
    for _ in 0..8 {
        sessions.push(open_session(port).await);
    }
    let before = rss_kib(pid);
    let flood = 3000;
    let workers = 8;
    let url = Arc::new(url);
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..flood / workers {
                statuses.push(initialize(client.clone(), url.to_string()).await);
            }
            statuses
        }));
    }
    for task in tasks {
        let statuses = task.await.unwrap();
        assert!(statuses.iter().all(|s| *s == 503), "{statuses:?}");
    }
    let after = rss_kib(pid);
    // 3,000 sessions of about 100 KB each would be about 300 MB.
    assert!(
        after < before + 30 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    // A real request is still answered.
    for id in &sessions {
        assert_eq!(ping(port, id).await.status, 200);
    }
    child.kill().await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn rejected_requests_are_logged_at_most_once_a_second() {
    let (mut child, url, mut stderr) = spawn_binary(
        &["--token-env", "SP_TEST_TOKEN"],
        &[("SP_TEST_TOKEN", "s3cret")],
    )
    .await;
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    for _ in 0..300 {
        let r = client.post(&url).body(INITIALIZE).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    let elapsed = started.elapsed().as_secs();
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let mut logged = 0;
    while let Ok(Some(line)) = tokio::time::timeout(WAIT, stderr.next_line())
        .await
        .unwrap()
    {
        if line.contains("rejected an HTTP request") {
            logged += 1;
        }
    }
    assert!(
        logged >= 1 && logged <= elapsed + 2,
        "{logged} lines for 300 rejections in {elapsed} s"
    );
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
