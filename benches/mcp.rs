//! MCP server benchmark: the `storypack` binary as users run it (`storypack serve`, over stdio
//! and over streamable HTTP), driven by rmcp's client. HTTP is measured twice: through a
//! reqwest client that keeps its connection alive, as MCP clients do, and through rmcp's
//! default client, which opens a connection for every request.
//!
//! Per transport and plan it measures the time from spawn to the first successful
//! `tools/list`, the first `build_context_pack` (which may wait for the search index), waits
//! for the server's warm-up to end (its `plan ready` line on stderr), then `tools/call`
//! latency p50/p99/max of `list_stories` and `build_context_pack` (budget 8000, cycling over
//! stories spread over the plan: about half the calls are a story's first pack, half
//! repeats, each 199 calls after the story's first, long out of the server's memo of its
//! last 32 packs), the first packs alone judged against the target too; the CPU the server, the client and the rest of the
//! machine used meanwhile, and the machine's pace (a fixed tokenizer task) just before and
//! after; on a copy of the example plan, the time from a file edit to
//! `notifications/resources/updated` for the story's subscribed pack and to a
//! `build_context_pack` result with a new hash; the `tools/list` result's size in o200k
//! tokens; and `check_gate` on the warm server against a `storypack gate` process on the
//! same plan (set `STORYPACK_BENCH_STORIES` for a bigger plan).
//!
//! `cargo bench --bench mcp` measures the example plan (200 calls per tool, 50 stories) and
//! the generated 10,000-story plan (400 calls per tool, 200 stories; used in place, never
//! edited). Without `--bench` (as `cargo test --all-targets` runs it) it is a smoke run: the
//! example plan, 10 calls each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/benchplan.rs"]
mod benchplan;
use benchplan::ms;
#[path = "support/genplan.rs"]
mod genplan;

#[path = "../tests/common/copy_dir.rs"]
mod copy_dir;
use copy_dir::copy_dir;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ResourceUpdatedNotificationParam, SubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, oneshot};

use storypack::app::App;
use storypack::tokens::{Encoding, Tiktoken, TokenCounter};

/// Generous: anything that comes at all comes well within this (a 10k-plan start included).
const WAIT: Duration = Duration::from_secs(300);
const BUDGET: u64 = 8000;

/// A client that timestamps the `resources/updated` notifications it receives.
#[derive(Clone)]
struct Recorder {
    events: mpsc::UnboundedSender<(Instant, String)>,
}

impl ClientHandler for Recorder {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        let _ = self.events.send((Instant::now(), params.uri));
    }
}

type Client = RunningService<RoleClient, Recorder>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Stdio,
    /// Streamable HTTP through a client that keeps its connection alive between requests,
    /// as MCP clients do (the TypeScript SDK's `fetch`, the Python SDK's httpx).
    Http,
    /// Streamable HTTP through rmcp's default client, which opens a new TCP connection for
    /// every POST (it disables reqwest's idle pool).
    HttpNewConnection,
}

impl Transport {
    const ALL: [Transport; 3] = [
        Transport::Stdio,
        Transport::Http,
        Transport::HttpNewConnection,
    ];

    fn name(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Http => "HTTP",
            Transport::HttpNewConnection => "HTTP, a connection per call",
        }
    }
}

/// A running `storypack serve` and a client connected to it.
struct Server {
    client: Client,
    events: mpsc::UnboundedReceiver<(Instant, String)>,
    /// The HTTP server process (the stdio one belongs to the client's transport).
    child: Option<tokio::process::Child>,
    /// Spawn to the first successful `tools/list`.
    startup: Duration,
    /// The whole `tools/list` result in o200k tokens.
    tools_tokens: usize,
    tools: usize,
    /// What the server says when its warm-up (index, excerpt counts) is done.
    ready: Option<oneshot::Receiver<String>>,
    /// The server process, for its CPU time.
    pid: Option<u32>,
}

/// Reads the server's stderr as it comes: where it listens (HTTP), and the end of its
/// warm-up. Lines before the address, and warnings, are echoed.
fn read_stderr(
    stderr: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> (oneshot::Receiver<String>, oneshot::Receiver<String>) {
    let (url_tx, url_rx) = oneshot::channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let (mut url_tx, mut ready_tx) = (Some(url_tx), Some(ready_tx));
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("storypack: serving MCP at ") {
                if let Some(tx) = url_tx.take() {
                    let _ = tx.send(url.to_string());
                }
            } else if let Some(done) = line.strip_prefix("storypack: plan ready: ") {
                if let Some(tx) = ready_tx.take() {
                    let _ = tx.send(done.to_string());
                }
            } else if url_tx.is_some() || line.contains("ERROR") || line.contains("WARN") {
                eprintln!("server: {line}");
            }
        }
    });
    (url_rx, ready_rx)
}

/// The server under test: this build's binary, or `STORYPACK_BENCH_BIN` to compare builds
/// (say, a release binary of the commit before a change) in one run.
fn server_binary() -> PathBuf {
    std::env::var_os("STORYPACK_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_storypack")))
}

fn serve_command(plan: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(server_binary());
    cmd.arg("serve")
        .arg("--plan")
        .arg(plan)
        .env_remove("STORYPACK_LOG");
    cmd
}

async fn start(transport: Transport, plan: &Path) -> Server {
    let (tx, events) = mpsc::unbounded_channel();
    let recorder = Recorder { events: tx };
    let t = Instant::now();
    let (client, child, ready, pid) = match transport {
        Transport::Stdio => {
            let (io, stderr) = TokioChildProcess::builder(serve_command(plan))
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = io.id();
            let (_, ready) = read_stderr(stderr.expect("stderr piped"));
            let client = tokio::time::timeout(WAIT, recorder.serve(io))
                .await
                .expect("initialize in time")
                .unwrap();
            (client, None, ready, pid)
        }
        Transport::Http | Transport::HttpNewConnection => {
            let mut cmd = serve_command(plan);
            cmd.args(["--http", "127.0.0.1:0"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            let mut child = cmd.spawn().unwrap();
            let pid = child.id();
            let (url, ready) = read_stderr(child.stderr.take().unwrap());
            let url = tokio::time::timeout(WAIT, url)
                .await
                .expect("the server listens in time")
                .expect("the server says where it listens");
            let io = if transport == Transport::Http {
                StreamableHttpClientTransport::with_client(
                    reqwest::Client::new(),
                    StreamableHttpClientTransportConfig::with_uri(url),
                )
            } else {
                StreamableHttpClientTransport::from_uri(url.as_str())
            };
            let client = tokio::time::timeout(WAIT, recorder.serve(io))
                .await
                .expect("initialize in time")
                .unwrap();
            (client, Some(child), ready, pid)
        }
    };
    let tools = tokio::time::timeout(WAIT, client.list_all_tools())
        .await
        .expect("tools/list in time")
        .unwrap();
    let startup = t.elapsed();
    // What a client puts in its context: the whole tools/list result.
    let listed = serde_json::to_string(&json!({ "tools": tools })).unwrap();
    let tools_tokens = Tiktoken::get(Encoding::O200kBase).count(&listed);
    Server {
        client,
        events,
        child,
        startup,
        tools_tokens,
        tools: tools.len(),
        ready: Some(ready),
        pid,
    }
}

async fn stop(server: Server) {
    let Server { client, child, .. } = server;
    let _ = tokio::time::timeout(Duration::from_secs(10), client.cancel()).await;
    if let Some(mut child) = child {
        if let Some(pid) = child.id() {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_err()
        {
            eprintln!("HTTP server did not stop on SIGTERM; killing it");
            let _ = child.kill().await;
        }
    }
}

async fn call(client: &Client, tool: &'static str, args: &Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone());
    let r = tokio::time::timeout(WAIT, client.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("{tool} {args} answers in time"))
        .unwrap_or_else(|e| panic!("{tool} {args}: {e}"));
    if r.is_error == Some(true) {
        panic!("{tool} {args}: tool error {:?}", r.content);
    }
    r
}

fn pack_args(story: &str) -> Value {
    json!({ "story_id": story, "budget_tokens": BUDGET })
}

/// A pack result's hash, after checking it holds its budget.
fn pack_hash(r: &CallToolResult) -> String {
    let v = r.structured_content.as_ref().expect("structured content");
    let total = v["total_tokens"].as_u64().expect("total_tokens");
    assert!(total <= BUDGET, "pack of {total} tokens over {BUDGET}");
    v["hash"].as_str().expect("hash").to_string()
}

/// Latencies of one series, sorted.
struct Stats {
    ms: Vec<f64>,
    /// Calls asked for (fewer were made when the time cap applied).
    asked: usize,
}

impl Stats {
    fn new(mut ms: Vec<f64>, asked: usize) -> Stats {
        ms.sort_by(f64::total_cmp);
        Stats { ms, asked }
    }

    /// Nearest-rank percentile.
    fn pct(&self, p: f64) -> f64 {
        let n = self.ms.len();
        let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as usize;
        self.ms[rank.min(n) - 1]
    }

    fn max(&self) -> f64 {
        self.ms[self.ms.len() - 1]
    }

    fn calls(&self) -> String {
        if self.ms.len() == self.asked {
            self.asked.to_string()
        } else {
            format!("{} of {} (cap)", self.ms.len(), self.asked)
        }
    }
}

/// `n` calls of `tool`, the i-th with `args(i)`; no call starts after `cap`. The times in
/// call order.
async fn series(
    client: &Client,
    tool: &'static str,
    n: usize,
    cap: Duration,
    args: impl Fn(usize) -> Value,
    check: impl Fn(&CallToolResult),
) -> Vec<f64> {
    let started = Instant::now();
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        if i > 0 && started.elapsed() > cap {
            break;
        }
        let a = args(i);
        let t = Instant::now();
        let r = call(client, tool, &a).await;
        times.push(ms(t.elapsed()));
        check(&r);
    }
    times
}

/// CPU time counters from `/proc` (Linux; `None` elsewhere), in clock ticks of 1/100 s
/// (`USER_HZ`, which `/proc` always uses).
#[derive(Debug, Clone, Copy)]
struct CpuSample {
    at: Instant,
    /// All CPUs busy: user, nice, system, irq, softirq (guest time is inside user).
    machine: u64,
    /// Time the hypervisor ran something else while this machine wanted a CPU.
    steal: u64,
    server: u64,
    /// This process: rmcp's client and the bench.
    bench: u64,
}

/// CPU used over a transport's pack series (all its rounds), to tell a slow server from a
/// loaded machine.
#[derive(Debug, Clone, Copy, Default)]
struct CpuUse {
    calls: usize,
    wall_ms: f64,
    server_ms: f64,
    bench_ms: f64,
    /// The whole machine busy (server and bench included).
    machine_ms: f64,
    steal_ms: f64,
    /// The slowest and the fastest [`Pace`] measured around the rounds.
    pace: Option<(f64, f64)>,
}

impl CpuUse {
    /// Adds what was used from `a` to `b` over `calls` calls.
    fn add(&mut self, a: CpuSample, b: CpuSample, calls: usize) {
        let ticks_ms = |from: u64, to: u64| to.saturating_sub(from) as f64 * 10.0;
        self.calls += calls;
        self.wall_ms += ms(b.at.duration_since(a.at));
        self.server_ms += ticks_ms(a.server, b.server);
        self.bench_ms += ticks_ms(a.bench, b.bench);
        self.machine_ms += ticks_ms(a.machine, b.machine);
        self.steal_ms += ticks_ms(a.steal, b.steal);
    }

    fn pace(&mut self, mbs: f64) {
        self.pace = Some(match self.pace {
            Some((lo, hi)) => (lo.min(mbs), hi.max(mbs)),
            None => (mbs, mbs),
        });
    }

    fn server_per_call(&self) -> f64 {
        self.server_ms / self.calls.max(1) as f64
    }

    fn client_per_call(&self) -> f64 {
        self.bench_ms / self.calls.max(1) as f64
    }

    /// Other processes, in CPUs busy on average while the calls ran.
    fn others(&self) -> f64 {
        (self.machine_ms - self.server_ms - self.bench_ms).max(0.0) / self.wall_ms.max(1.0)
    }

    fn steal(&self) -> f64 {
        self.steal_ms / self.wall_ms.max(1.0)
    }

    fn pace_range(&self) -> String {
        self.pace
            .map_or_else(|| "n/a".into(), |(lo, hi)| format!("{lo:.1} to {hi:.1}"))
    }
}

/// `utime + stime` of a process (`self` or a pid).
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from field 3 (state).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

impl CpuSample {
    fn take(server: Option<u32>) -> Option<CpuSample> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let field = |i: usize| cpu.get(i).copied().unwrap_or(0);
        Some(CpuSample {
            at: Instant::now(),
            // user nice system idle iowait irq softirq steal
            machine: field(0) + field(1) + field(2) + field(5) + field(6),
            steal: field(7),
            server: process_ticks(&server?.to_string())?,
            bench: process_ticks("self")?,
        })
    }
}

/// The machine's pace at a moment: MB/s of tiktoken-rs (o200k) `encode_ordinary` over the
/// example plan's documents, the median of three rounds (about 0.1 s in all). The same
/// code runs up to half as fast again in some spells of a shared machine as in others,
/// with no other process to be seen (the host's load); this says which spell a series ran
/// in.
struct Pace {
    text: String,
}

impl Pace {
    fn new(plan: &Path) -> Pace {
        let app = App::open(plan).unwrap();
        let docs: Vec<&str> = app.plan().docs.iter().map(|d| d.text.as_str()).collect();
        let text = docs.join("\n");
        let pace = Pace { text };
        pace.measure(); // tiktoken-rs's tables loaded, the caches warm
        pace
    }

    fn measure(&self) -> f64 {
        let bpe = tiktoken_rs::o200k_base_singleton();
        let rounds: Vec<f64> = (0..3)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(bpe.encode_ordinary(&self.text).len());
                self.text.len() as f64 / 1e6 / t.elapsed().as_secs_f64()
            })
            .collect();
        median(rounds)
    }
}

/// What the bench needs to know about a plan, read before any server starts.
struct PlanFacts {
    label: &'static str,
    dir: PathBuf,
    stories: usize,
    /// Stories spread evenly over the plan.
    pack_stories: Vec<String>,
    list_sprint: String,
}

/// `stories`: how many stories, spread evenly over the plan, the pack series cycles over.
fn facts(label: &'static str, dir: &Path, list_sprint: Option<&str>, stories: usize) -> PlanFacts {
    let app = App::open(dir).unwrap();
    let plan = app.plan();
    let n = plan.stories.len();
    assert!(n > 0, "{label}: no stories");
    let k = stories.min(n);
    let pack_stories: Vec<String> = (0..k).map(|i| plan.stories[i * n / k].id.clone()).collect();
    let list_sprint = match list_sprint {
        Some(s) => s.to_string(),
        None => plan.sprints[plan.sprints.len() / 2].id.clone(),
    };
    PlanFacts {
        label,
        dir: dir.to_path_buf(),
        stories: n,
        pack_stories,
        list_sprint,
    }
}

/// Edit-to-update timings of one repetition.
struct EditTiming {
    notified: f64,
    new_pack: f64,
}

/// Where to add a line inside the story's epic section: (file, 0-based line index).
fn epic_section(plan: &Path, story: &str) -> (PathBuf, usize) {
    let app = App::open(plan).unwrap();
    let s = app.plan().story(story).expect("edit story");
    let epic = app
        .plan()
        .epic(s.epic.as_deref().expect("the story names its epic"))
        .expect("the epic exists");
    (
        plan.join(&epic.citation.path),
        epic.citation.line_end as usize,
    )
}

/// Subscribes to the story's pack, then `reps` times: adds a line to the epic's section, waits
/// for `resources/updated` of the pack, then asks for packs until the hash changes.
#[allow(deprecated)] // resources/subscribe: the session lifecycle every client uses today
async fn edit_to_update(
    server: &mut Server,
    story: &str,
    (file, line): (&Path, usize),
    reps: usize,
    tag: &str,
) -> Vec<EditTiming> {
    let uri = format!("storypack://pack/{story}");
    server
        .client
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    let args = pack_args(story);
    let mut hash = pack_hash(&call(&server.client, "build_context_pack", &args).await);
    let mut out = Vec::new();
    for rep in 0..reps {
        // Let earlier changes settle, then forget what they sent.
        tokio::time::sleep(Duration::from_millis(400)).await;
        while server.events.try_recv().is_ok() {}
        let text = fs::read_to_string(file).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        let added = format!("Benchmark edit {tag}-{rep}: the write path records its latency.");
        let at = line.min(lines.len());
        lines.splice(at..at, ["", added.as_str(), ""]);
        let edited = lines.join("\n") + "\n";
        let t = Instant::now();
        fs::write(file, edited).unwrap();
        let notified = tokio::time::timeout(WAIT, async {
            loop {
                let (at, got) = server.events.recv().await.expect("client alive");
                if got == uri {
                    return at;
                }
            }
        })
        .await
        .expect("resources/updated for the subscribed pack");
        let notified = ms(notified.duration_since(t));
        let new_pack = tokio::time::timeout(WAIT, async {
            loop {
                let h = pack_hash(&call(&server.client, "build_context_pack", &args).await);
                if h != hash {
                    hash = h;
                    return ms(t.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("a pack with a new hash");
        out.push(EditTiming { notified, new_pack });
    }
    out
}

/// Everything measured for one plan over one transport.
struct Run {
    plan: &'static str,
    transport: Transport,
    startup: f64,
    first_pack: f64,
    list: Stats,
    pack: Stats,
    /// The pack calls split: each story's first pack, and packs of stories packed before.
    pack_first: Stats,
    pack_repeat: Stats,
    /// The p50 of each round's pack calls.
    round_p50s: Vec<f64>,
    /// CPU use over the pack calls.
    cpu: Option<CpuUse>,
    edits: Vec<EditTiming>,
}

struct Settings {
    /// Calls per tool and transport, over all rounds.
    calls: usize,
    /// The calls are made in rounds, each going through the transports in turn: a spell of
    /// the machine (see [`Pace`]) then weighs on every transport alike, and a transport's
    /// calls are spread over the whole run rather than one or two seconds of it.
    rounds: usize,
    /// No call of a round's series starts after this.
    cap: Duration,
    edits: usize,
}

/// A running server under measurement and what it gave so far.
struct Live {
    transport: Transport,
    label: String,
    server: Server,
    startup: f64,
    first_pack: f64,
    list: Vec<f64>,
    pack: Vec<f64>,
    /// Of `pack`, the calls that were a story's first pack.
    pack_first: Vec<f64>,
    pack_repeat: Vec<f64>,
    round_p50s: Vec<f64>,
    cpu: Option<CpuUse>,
}

/// Starts a server, times its start and first pack, and waits for its warm-up to end.
async fn open(
    transport: Transport,
    facts: &PlanFacts,
    tools_tokens: &mut Option<(usize, usize)>,
) -> Live {
    let label = format!("{} / {}", facts.label, transport.name());
    let mut server = start(transport, &facts.dir).await;
    let startup = ms(server.startup);
    println!(
        "{label}: started, tools/list after {:.0} ms ({} tools, {} o200k tokens)",
        ms(server.startup),
        server.tools,
        server.tools_tokens
    );
    match tools_tokens {
        Some((n, _)) if *n != server.tools_tokens => println!(
            "  note: tools/list is {} tokens here, {n} before",
            server.tools_tokens
        ),
        Some(_) => {}
        None => *tools_tokens = Some((server.tools_tokens, server.tools)),
    }
    // Warm-up: the first pack may wait for the server's search index.
    let t = Instant::now();
    pack_hash(
        &call(
            &server.client,
            "build_context_pack",
            &pack_args(&facts.pack_stories[0]),
        )
        .await,
    );
    let first_pack = ms(t.elapsed());
    println!("{label}: first build_context_pack {first_pack:.0} ms");
    // The server counts every excerpt once in the background after indexing: measure the
    // warm server, as clients meet it after its first seconds.
    let t = Instant::now();
    let ready = server.ready.take().expect("warm-up not yet awaited");
    let done = tokio::time::timeout(WAIT, ready)
        .await
        .expect("warm-up in time")
        .expect("the server says when it is warm");
    println!(
        "{label}: warm-up: {done} (waited {:.0} ms more)",
        ms(t.elapsed())
    );
    // check_gate: the same work over MCP as `storypack gate` does in a process of its own
    // (which also reads the plan): the MCP answer must never be the slower one.
    let gate_args = serde_json::json!({ "sprint": facts.list_sprint });
    let mut gate_ms = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let r = call(&server.client, "check_gate", &gate_args).await;
        gate_ms.push(ms(t.elapsed()));
        assert_ne!(r.is_error, Some(true), "check_gate failed");
    }
    let t = Instant::now();
    let cli = std::process::Command::new(server_binary())
        .args(["gate", &facts.list_sprint, "--json", "--plan"])
        .arg(&facts.dir)
        .output()
        .expect("run storypack gate");
    let cli_ms = ms(t.elapsed());
    assert!(!cli.stdout.is_empty(), "storypack gate printed nothing");
    println!(
        "{label}: check_gate sprint {}: MCP median {:.1} ms; `storypack gate` process {cli_ms:.0} ms \
         (plan read included); ratio MCP/CLI {:.3}",
        facts.list_sprint,
        median(gate_ms.clone()),
        median(gate_ms) / cli_ms
    );
    Live {
        transport,
        label,
        server,
        startup,
        first_pack,
        list: Vec::new(),
        pack: Vec::new(),
        pack_first: Vec::new(),
        pack_repeat: Vec::new(),
        round_p50s: Vec::new(),
        cpu: None,
    }
}

/// One round of calls: `list_stories`, then `build_context_pack` going on through the
/// stories where the last round stopped.
async fn round(live: &mut Live, facts: &PlanFacts, settings: &Settings, pace: &Pace) {
    let label = &live.label;
    let client = &live.server.client;
    let n = settings.calls / settings.rounds;
    let sprint = facts.list_sprint.clone();
    let list = series(
        client,
        "list_stories",
        n,
        settings.cap,
        |_| json!({ "sprint": sprint }),
        |r| {
            let v = r.structured_content.as_ref().unwrap();
            assert!(v["count"].as_u64().unwrap() > 0, "list_stories found none");
        },
    )
    .await;
    let stories = &facts.pack_stories;
    // stories[0] was the warm-up: call i packs stories[(i + 1) % len], a story's first pack
    // for i + 1 < len.
    let done = live.pack.len();
    let pace_before = pace.measure();
    let before = CpuSample::take(live.server.pid);
    let times = series(
        client,
        "build_context_pack",
        n,
        settings.cap,
        |i| pack_args(&stories[(done + i + 1) % stories.len()]),
        |r| {
            pack_hash(r);
        },
    )
    .await;
    let after = CpuSample::take(live.server.pid);
    let pace_after = pace.measure();
    if let (Some(a), Some(b)) = (before, after) {
        let cpu = live.cpu.get_or_insert_with(CpuUse::default);
        cpu.add(a, b, times.len());
        cpu.pace(pace_before);
        cpu.pace(pace_after);
    }
    for (i, &t) in times.iter().enumerate() {
        if done + i + 1 < stories.len() {
            live.pack_first.push(t);
        } else {
            live.pack_repeat.push(t);
        }
    }
    let (l, p) = (Stats::new(list.clone(), n), Stats::new(times.clone(), n));
    live.round_p50s.push(p.pct(50.0));
    println!(
        "{label}: round {}: list_stories sprint {}: {} calls, p50 {:.2} / p99 {:.2} ms; \
         build_context_pack: {} calls, p50 {:.2} / p99 {:.2} / max {:.2} ms; pace {pace_before:.1} \
         then {pace_after:.1} MB/s",
        live.round_p50s.len(),
        facts.list_sprint,
        l.calls(),
        l.pct(50.0),
        l.pct(99.0),
        p.calls(),
        p.pct(50.0),
        p.pct(99.0),
        p.max()
    );
    live.list.extend(list);
    live.pack.extend(times);
}

/// Times the file edits (if any), stops the server and sums up.
async fn close(
    mut live: Live,
    facts: &PlanFacts,
    settings: &Settings,
    edit: Option<(&str, (&Path, usize))>,
) -> Run {
    let label = &live.label;
    let asked = settings.calls / settings.rounds * settings.rounds;
    let n = live.pack_first.len();
    let pack_first = Stats::new(live.pack_first, n);
    let n = live.pack_repeat.len();
    let pack_repeat = Stats::new(live.pack_repeat, n);
    let (list, pack) = (Stats::new(live.list, asked), Stats::new(live.pack, asked));
    println!(
        "{label}: build_context_pack: {} calls over {} stories, p50 {:.2} / p99 {:.2} / max {:.2} ms",
        pack.calls(),
        facts.pack_stories.len(),
        pack.pct(50.0),
        pack.pct(99.0),
        pack.max()
    );
    for (what, st) in [
        ("a story's first pack", &pack_first),
        ("repeats", &pack_repeat),
    ] {
        if !st.ms.is_empty() {
            println!(
                "{label}:   {what}: {} calls, p50 {:.2} / p99 {:.2} / max {:.2} ms",
                st.ms.len(),
                st.pct(50.0),
                st.pct(99.0),
                st.max()
            );
        }
    }
    if let Some(c) = &live.cpu {
        println!(
            "{label}:   CPU per call: server {:.2} ms, client {:.2} ms; meanwhile other \
             processes used {:.2} CPUs, steal {:.2}; pace {} MB/s",
            c.server_per_call(),
            c.client_per_call(),
            c.others(),
            c.steal(),
            c.pace_range()
        );
    }
    let edits = match edit {
        Some((story, at)) => {
            let e = edit_to_update(
                &mut live.server,
                story,
                at,
                settings.edits,
                live.transport.name(),
            )
            .await;
            for (i, x) in e.iter().enumerate() {
                println!(
                    "{label}: edit {i}: notified after {:.0} ms, new pack after {:.0} ms",
                    x.notified, x.new_pack
                );
            }
            e
        }
        None => Vec::new(),
    };
    stop(live.server).await;
    Run {
        plan: facts.label,
        transport: live.transport,
        startup: live.startup,
        first_pack: live.first_pack,
        list,
        pack,
        pack_first,
        pack_repeat,
        round_p50s: live.round_p50s,
        cpu: live.cpu,
        edits,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(bench));
}

async fn run(bench: bool) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plan");
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&example, copy.path());
    let edit_story = "SRE-05-03";
    let (epic_file, epic_line) = epic_section(copy.path(), edit_story);
    println!(
        "edit: {} line {} (the epic section of {edit_story})",
        epic_file.strip_prefix(copy.path()).unwrap().display(),
        epic_line + 1
    );

    let mut plans = vec![(
        facts("example", copy.path(), Some("05"), 50),
        Settings {
            calls: if bench { 200 } else { 10 },
            rounds: if bench { 2 } else { 1 },
            cap: Duration::from_secs(60),
            edits: if bench { 5 } else { 2 },
        },
    )];
    if bench {
        let dir = benchplan::ensure(benchplan::stories_from_env(benchplan::DEFAULT_STORIES));
        let t = Instant::now();
        // 600 calls over 300 stories: half a story's first pack, half repeats, in three
        // rounds through the three servers (each alive the whole time, 0.6 GB apiece).
        let f = facts("10k", &dir, None, 300);
        println!(
            "10k: {} stories (read by the bench in {:.0} ms)",
            f.stories,
            ms(t.elapsed())
        );
        plans.push((
            f,
            Settings {
                calls: 600,
                rounds: 3,
                cap: Duration::from_secs(60),
                edits: 0,
            },
        ));
    }

    let pace = Pace::new(&example);
    let mut tools_tokens = None;
    let mut runs = Vec::new();
    for (f, settings) in &plans {
        let mut live = Vec::new();
        for transport in Transport::ALL {
            live.push(open(transport, f, &mut tools_tokens).await);
        }
        for _ in 0..settings.rounds {
            for l in &mut live {
                round(l, f, settings, &pace).await;
            }
        }
        for l in live {
            let edit =
                (settings.edits > 0).then_some((edit_story, (epic_file.as_path(), epic_line)));
            runs.push(close(l, f, settings, edit).await);
        }
    }
    print_table(&runs, tools_tokens);
}

fn print_table(runs: &[Run], tools: Option<(usize, usize)>) {
    let mut out = String::new();
    out.push_str(
        "\n| plan | transport | `tools/call` | calls | p50 ms | p99 ms | max ms | target |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in runs {
        // The pack target is judged on the series and on first packs alone.
        let target = |st: &Stats| {
            if r.plan == "10k" {
                let ok = st.pct(50.0) < 5.0 && st.pct(99.0) < 25.0;
                format!("p50 < 5, p99 < 25: **{}**", benchplan::verdict(ok))
            } else {
                String::new()
            }
        };
        let rows = [
            ("`list_stories`", &r.list, String::new()),
            ("`build_context_pack`", &r.pack, target(&r.pack)),
            (
                "... a story's first pack",
                &r.pack_first,
                target(&r.pack_first),
            ),
            ("... a story packed before", &r.pack_repeat, String::new()),
        ];
        for (what, st, target) in rows {
            if st.ms.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "| {} | {} | {what} | {} | {:.2} | {:.2} | {:.2} | {target} |",
                r.plan,
                r.transport.name(),
                st.calls(),
                st.pct(50.0),
                st.pct(99.0),
                st.max()
            );
        }
    }
    println!("{out}");
    let mut out = String::from(
        "| plan | transport | spawn to first `tools/list` | first `build_context_pack` |\n",
    );
    out.push_str("|---|---|---|---|\n");
    for r in runs {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} ms | {:.0} ms |",
            r.plan,
            r.transport.name(),
            r.startup,
            r.first_pack
        );
    }
    println!("{out}");
    let mut out = String::from(
        "| plan | transport | pack p50 per round, ms | server CPU per pack, ms | client CPU per \
         pack, ms | other processes, CPUs | steal, CPUs | pace, MB/s |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in runs {
        let rounds: Vec<String> = r.round_p50s.iter().map(|p| format!("{p:.2}")).collect();
        let cpu = r.cpu.map_or_else(
            || "n/a | n/a | n/a | n/a | n/a".to_string(),
            |c| {
                format!(
                    "{:.2} | {:.2} | {:.2} | {:.2} | {}",
                    c.server_per_call(),
                    c.client_per_call(),
                    c.others(),
                    c.steal(),
                    c.pace_range()
                )
            },
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | {cpu} |",
            r.plan,
            r.transport.name(),
            rounds.join(", ")
        );
    }
    println!("{out}");
    let mut out =
        String::from("| file edit (example plan) to | transport | runs | median | min | max |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for r in runs.iter().filter(|r| !r.edits.is_empty()) {
        let notified: Vec<f64> = r.edits.iter().map(|e| e.notified).collect();
        let new_pack: Vec<f64> = r.edits.iter().map(|e| e.new_pack).collect();
        for (what, xs) in [
            ("`notifications/resources/updated` of the pack", notified),
            ("`build_context_pack` result with the new hash", new_pack),
        ] {
            let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = xs.iter().copied().fold(0.0, f64::max);
            let _ = writeln!(
                out,
                "| {what} | {} | {} | {:.0} ms | {:.0} ms | {:.0} ms |",
                r.transport.name(),
                xs.len(),
                median(xs.clone()),
                min,
                max
            );
        }
    }
    println!("{out}");
    if let Some((tokens, n)) = tools {
        println!("`tools/list` result: {n} tools, {tokens} o200k tokens (limit 3,000)");
    }
}
