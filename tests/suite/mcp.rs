//! The MCP server driven through rmcp's own client: in process over a duplex pipe, the built
//! binary as a child process over stdio, and streamable HTTP on 127.0.0.1:0.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, GetPromptRequestParams,
    ReadResourceRequestParams, Request, ResourceContents, ResourceUpdatedNotificationParam,
    SubscribeRequestParams,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceError, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use storypack::mcp::{self, HttpOptions, PlanHandle};
use storypack::tokens::{Encoding, Tiktoken, TokenCounter};

use super::handoffs::valid_contract;
use super::packs::copy_plan;
use super::util::example_plan;

/// Generous: a notification that comes at all comes well within this.
const WAIT: Duration = Duration::from_secs(30);

/// A client that reports the notifications it receives (also the store tests' client).
#[derive(Clone)]
pub(super) struct Recorder {
    pub(super) events: mpsc::UnboundedSender<String>,
}

impl ClientHandler for Recorder {
    async fn on_resource_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        let _ = self.events.send("resources/list_changed".into());
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        let _ = self.events.send(format!("updated {}", params.uri));
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        let _ = self.events.send(format!("progress {}", params.progress));
    }
}

type Client = RunningService<RoleClient, Recorder>;

struct Connected {
    client: Client,
    events: mpsc::UnboundedReceiver<String>,
    handle: Arc<PlanHandle>,
}

/// A server over an in-process duplex pipe, and a client connected to it.
async fn connect(plan: &Path) -> Connected {
    connect_with(plan, mcp::ToolSelection::default()).await
}

/// The same, the server offering only `tools`.
async fn connect_with(plan: &Path, tools: mcp::ToolSelection) -> Connected {
    let handle = PlanHandle::open(plan).unwrap();
    handle.select_tools(tools);
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let served = handle.clone();
    tokio::spawn(async move {
        let running = mcp::serve(served, server_io).await.unwrap();
        let _ = running.waiting().await;
    });
    let (tx, events) = mpsc::unbounded_channel();
    let client = Recorder { events: tx }.serve(client_io).await.unwrap();
    Connected {
        client,
        events,
        handle,
    }
}

async fn call(client: &Client, tool: &'static str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone());
    client.call_tool(params).await.unwrap()
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn tokens(s: &str) -> usize {
    Tiktoken::get(Encoding::O200kBase).count(s)
}

/// Waits for an event satisfying `want`, skipping others.
async fn expect_event(
    events: &mut mpsc::UnboundedReceiver<String>,
    want: impl Fn(&str) -> bool,
) -> String {
    tokio::time::timeout(WAIT, async {
        loop {
            let e = events.recv().await.expect("event stream open");
            if want(&e) {
                return e;
            }
        }
    })
    .await
    .expect("the expected notification arrives")
}

/// Every file under `root` with its bytes: "nothing changed on disk" is equality of two.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &mut out);
    out
}

const READ_ONLY_TOOLS: &[&str] = &[
    "build_context_pack",
    "check_gate",
    "get_priorities",
    "list_handoffs",
    "list_sprints",
    "list_stories",
    "search_plan",
];

#[tokio::test]
async fn tools_list_is_lean_fully_described_and_read_only_where_it_holds() {
    let c = connect(&example_plan()).await;
    let tools = c.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "build_context_pack",
            "check_gate",
            "get_priorities",
            "list_handoffs",
            "list_sprints",
            "list_stories",
            "next_story",
            "record_handoff",
            "search_plan"
        ]
    );
    for tool in &tools {
        let cost = tokens(&serde_json::to_string(tool).unwrap());
        eprintln!("  {}: {cost} tokens", tool.name);
        if tool.name == "next_story" {
            assert!(cost <= 200, "next_story's definition is {cost} tokens");
        }
        // `DUMP_TOOLS=1 cargo test tools_list -- --nocapture` shows what each tool costs.
        if std::env::var("DUMP_TOOLS").is_ok() {
            eprintln!("{}", serde_json::to_string(tool).unwrap());
        }
        assert!(tool.description.as_ref().is_some_and(|d| !d.is_empty()));
        assert!(
            tool.output_schema.is_some(),
            "{} has an output schema",
            tool.name
        );
        let props = tool
            .input_schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap();
        for (field, schema) in props {
            assert!(
                schema
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| !d.is_empty()),
                "{}.{field} is described",
                tool.name
            );
        }
        let ann = tool.annotations.as_ref().unwrap();
        let read_only = READ_ONLY_TOOLS.contains(&tool.name.as_ref());
        assert_eq!(ann.read_only_hint, Some(read_only), "{}", tool.name);
        if !read_only {
            assert_eq!(
                ann.destructive_hint,
                Some(false),
                "append-only: {}",
                tool.name
            );
        }
    }
    // What a model sees of the tools: name, description, input schema.
    let seen: usize = tools
        .iter()
        .map(|t| {
            tokens(
                &json!({"name": t.name, "description": t.description, "inputSchema": t.input_schema})
                    .to_string(),
            )
        })
        .sum();
    eprintln!("tool definitions as a model sees them: {seen} o200k tokens");
    assert!(seen <= 1_200, "tool definitions cost {seen} tokens");
    // Portable schemas: no type lists (`[T, "null"]`), no references to resolve.
    fn portable(at: &str, v: &Value) {
        match v {
            Value::Object(m) => {
                assert!(
                    !m.get("type").is_some_and(Value::is_array),
                    "{at}: a type list is not portable: {v}"
                );
                for key in ["$ref", "$defs", "nullable"] {
                    assert!(!m.contains_key(key), "{at}: {key}");
                }
                for (k, c) in m {
                    portable(&format!("{at}/{k}"), c);
                }
            }
            Value::Array(list) => list.iter().for_each(|c| portable(at, c)),
            _ => {}
        }
    }
    for tool in &tools {
        portable(
            &format!("{}/inputSchema", tool.name),
            &Value::Object((*tool.input_schema).clone()),
        );
        if let Some(out) = &tool.output_schema {
            portable(
                &format!("{}/outputSchema", tool.name),
                &Value::Object((**out).clone()),
            );
        }
    }
    // What a client puts in its context: the whole tools/list result.
    let listed = serde_json::to_string(&json!({ "tools": tools })).unwrap();
    let n = tokens(&listed);
    eprintln!(
        "tools/list: {} tools, {} bytes, {n} o200k tokens",
        tools.len(),
        listed.len()
    );
    // 2,815 before next_story came (validate_handoff is now record_handoff's dry_run).
    assert!(n <= 2_000, "tools/list is {n} tokens");
}

#[tokio::test]
async fn every_tool_answers_with_structured_content_and_readable_text() {
    let c = connect(&example_plan()).await;

    let r = call(&c.client, "list_sprints", json!({})).await;
    assert_ne!(r.is_error, Some(true));
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["sprints"][4]["id"], "04");
    assert_eq!(v["sprints"][4]["gate"], "Core workflow gate");
    assert!(v["sprints"][4]["citation"]["path"].is_string());
    assert!(text(&r).contains("Sprint 04"));

    let r = call(
        &c.client,
        "get_priorities",
        json!({"sprint": "4", "week": 1}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["sprint"], "04");
    assert!(v["stories"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(v["stories"][0]["blocked"].is_boolean());
    assert!(v["gate"]["name"].is_string());
    assert!(text(&r).contains("Stories in dependency order"));

    let r = call(
        &c.client,
        "list_stories",
        json!({"sprint": "04", "status": "done"}),
    )
    .await;
    let v = r.structured_content.clone().unwrap();
    assert!(
        v["stories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "done")
    );
    assert_eq!(v["count"], v["total"]);
    assert!(text(&r).contains("SRE-04-01"));

    let r = call(
        &c.client,
        "search_plan",
        json!({"query": "worker runtime settings", "limit": 3}),
    )
    .await;
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["hits"].as_array().unwrap().len(), 3);
    assert!(v["hits"][0]["citation"]["line_start"].is_u64());

    let r = call(
        &c.client,
        "build_context_pack",
        json!({"story_id": "SRE-04-01", "budget_tokens": 3000}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["story_id"], "SRE-04-01");
    assert_eq!(v["encoding"], "o200k_base");
    assert!(v["total_tokens"].as_u64().unwrap() <= 3000);
    assert!(v["hash"].is_string() && v["sections"][0]["citation"]["path"].is_string());
    assert!(text(&r).starts_with("# Context pack: SRE-04-01"));
}

#[tokio::test]
async fn results_stay_well_under_client_token_limits_and_lists_page_with_a_cursor() {
    let c = connect(&example_plan()).await;
    let biggest = [
        ("list_sprints", json!({})),
        ("list_stories", json!({})),
        ("get_priorities", json!({"sprint": "04"})),
        (
            "search_plan",
            json!({"query": "gate evidence sprint story", "limit": 50}),
        ),
        (
            "build_context_pack",
            json!({"story_id": "SRE-04-01", "budget_tokens": 12000}),
        ),
    ];
    for (tool, args) in biggest {
        let r = call(&c.client, tool, args).await;
        assert_ne!(r.is_error, Some(true), "{tool}: {}", text(&r));
        let structured = serde_json::to_string(&r.structured_content).unwrap();
        let n = tokens(&text(&r)) + tokens(&structured);
        assert!(n < 25_000, "{tool}: {n} tokens");
    }
    // All stories, page by page, each exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let args = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let r = call(&c.client, "list_stories", args).await;
        let v = r.structured_content.unwrap();
        seen.extend(
            v["stories"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string()),
        );
        pages += 1;
        match v["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => {
                assert_eq!(seen.len(), v["total"].as_u64().unwrap() as usize);
                break;
            }
        }
    }
    assert!(
        pages > 1,
        "the example plan's stories take more than one page"
    );
    // A cursor is bound to its tool and its arguments.
    let first = call(&c.client, "list_stories", json!({})).await;
    let cursor = first.structured_content.unwrap()["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    for (tool, args) in [
        ("list_handoffs", json!({ "cursor": cursor })),
        ("list_stories", json!({ "sprint": "05", "cursor": cursor })),
        (
            "get_priorities",
            json!({ "sprint": "05", "cursor": cursor }),
        ),
    ] {
        let r = call(&c.client, tool, args).await;
        assert_eq!(r.is_error, Some(true), "{tool}");
        assert!(
            text(&r).contains("cursor: this cursor belongs to another tool or other arguments"),
            "{tool}: {}",
            text(&r)
        );
    }
    let app = c.handle.app();
    assert_eq!(
        seen,
        app.plan()
            .stories
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn bad_input_is_a_tool_error_naming_the_field_and_changes_nothing() {
    let plan = copy_plan();
    let before = tree(plan.path());
    let c = connect(plan.path()).await;
    let huge = "x".repeat(100_000);
    let cases = [
        (
            "get_priorities",
            json!({"sprint": "99"}),
            "sprint: no sprint 99",
        ),
        ("get_priorities", json!({"week": 3}), "week:"),
        (
            "get_priorities",
            json!({"week": "one"}),
            "week: expected integer",
        ),
        ("get_priorities", json!({"role": "astronaut"}), "role:"),
        ("list_stories", json!({"status": "maybe"}), "status:"),
        ("list_stories", json!({"epic": huge}), "epic:"),
        (
            "list_stories",
            json!({"bogus": 1}),
            "bogus: unknown argument",
        ),
        ("list_sprints", json!({"cursor": "zzz"}), "cursor:"),
        ("list_sprints", json!({"cursor": "9999"}), "cursor:"),
        ("build_context_pack", json!({}), "story_id: missing"),
        (
            "build_context_pack",
            json!({"story_id": 42}),
            "story_id: expected string",
        ),
        (
            "build_context_pack",
            json!({"story_id": "../../etc/passwd"}),
            "story_id:",
        ),
        (
            "build_context_pack",
            json!({"story_id": "SRE\\04"}),
            "story_id:",
        ),
        (
            "build_context_pack",
            json!({"story_id": "SRE\u{0}04"}),
            "story_id:",
        ),
        (
            "build_context_pack",
            json!({"story_id": "NOPE-01"}),
            "story_id: no story",
        ),
        (
            "build_context_pack",
            json!({"story_id": "SRE-04-01", "budget_tokens": 0}),
            "budget_tokens:",
        ),
        (
            "build_context_pack",
            json!({"story_id": "SRE-04-01", "budget_tokens": 50000}),
            "budget_tokens:",
        ),
        (
            "build_context_pack",
            json!({"story_id": "SRE-04-01", "budget_tokens": -5}),
            "budget_tokens:",
        ),
        (
            "build_context_pack",
            json!({"story_id": "SRE-04-01", "encoding": "gpt2"}),
            "encoding:",
        ),
        (
            "build_context_pack",
            json!({"story_id": "SRE-04-01", "recipe": "nope"}),
            "recipe:",
        ),
        ("search_plan", json!({"query": huge}), "query:"),
        ("search_plan", json!({"query": "   "}), "query:"),
        (
            "search_plan",
            json!({"query": "gate", "limit": 500}),
            "limit:",
        ),
    ];
    for (tool, args, want) in cases {
        let shown = args.to_string().chars().take(80).collect::<String>();
        let r = call(&c.client, tool, args).await;
        assert_eq!(r.is_error, Some(true), "{tool} {shown}");
        let t = text(&r);
        assert!(
            t.contains(want),
            "{tool} {shown}: `{t}` should contain `{want}`"
        );
        assert!(t.len() < 1_000, "a short message: {t}");
    }
    // An unknown tool is a protocol error; the server keeps serving.
    let err = c
        .client
        .call_tool(CallToolRequestParams::new("drop_tables"))
        .await
        .unwrap_err();
    match err {
        ServiceError::McpError(e) => assert!(e.message.contains("drop_tables"), "{}", e.message),
        other => panic!("expected a protocol error, got {other}"),
    }
    // An invalid contract: every problem, nothing recorded.
    let r = call(
        &c.client,
        "record_handoff",
        json!({"contract": {"story_id": "SRE-04-01", "status": "finished"}}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert_eq!(r.structured_content.unwrap()["recorded"], false);
    let r = call(&c.client, "list_sprints", json!({})).await;
    assert_ne!(r.is_error, Some(true));
    drop(c);
    assert!(
        before == tree(plan.path()),
        "no file was written or changed"
    );
}

#[tokio::test]
async fn resources_serve_plan_docs_and_packs_and_refuse_traversal() {
    let c = connect(&example_plan()).await;
    let resources = c.client.list_all_resources().await.unwrap();
    let roadmap = "storypack://plan/docs/04-sprints/devops-sre-implementation-map.md";
    assert!(resources.iter().any(|r| r.uri == roadmap));
    assert_eq!(
        resources.len(),
        c.handle.app().plan().docs.len() + 1,
        "docs and the contract schema"
    );
    let read = |uri: &str| {
        let uri = uri.to_string();
        let client = &c.client;
        async move {
            client
                .read_resource(ReadResourceRequestParams::new(uri))
                .await
        }
    };
    let body = |r: rmcp::model::ReadResourceResult| match &r.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("text contents expected, got {other:?}"),
    };
    let doc = body(read(roadmap).await.unwrap());
    let on_disk =
        fs::read_to_string(example_plan().join("docs/04-sprints/devops-sre-implementation-map.md"))
            .unwrap();
    assert_eq!(doc, on_disk.trim_start_matches('\u{feff}'));

    let templates = c.client.list_all_resource_templates().await.unwrap();
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "storypack://pack/{story_id}")
    );
    let pack = body(read("storypack://pack/SRE-04-01").await.unwrap());
    assert!(pack.starts_with("# Context pack: SRE-04-01"));

    for bad in [
        "storypack://plan/../Cargo.toml",
        "storypack://plan/docs/../../../etc/passwd",
        "storypack://plan/%2e%2e/%2e%2e/etc/passwd",
        "storypack://plan/docs%2F..%2F..%2Fetc%2Fpasswd",
        "storypack://plan//etc/passwd",
        "storypack://plan/docs\\..\\storypack.toml",
        "storypack://plan/docs/%00x.md",
        "storypack://plan/%zz",
        "storypack://pack/../SRE-04-01",
        "storypack://pack/SRE-04-01/../../x",
        "storypack://pack/NOPE-99",
        "storypack://plan/infra/workers.tf",
        "storypack://plan/storypack.toml",
        "storypack://elsewhere/x",
        "file:///etc/passwd",
    ] {
        let err = read(bad).await.expect_err(bad);
        let ServiceError::McpError(e) = err else {
            panic!("{bad}: a protocol error expected");
        };
        assert!(
            e.message.starts_with("uri:") || e.message.starts_with("story_id:"),
            "{bad}: {}",
            e.message
        );
    }
    let huge = format!("storypack://plan/{}", "a/".repeat(5_000));
    assert!(read(&huge).await.is_err());
    // Still serving.
    assert!(read(roadmap).await.is_ok());
}

#[tokio::test]
async fn prompts_render_real_plan_content_and_plan_prompts_override_shipped_ones() {
    let plan = copy_plan();
    fs::create_dir_all(plan.path().join("prompts")).unwrap();
    fs::write(
        plan.path().join("prompts/gate_review.md"),
        "---\nname: gate_review\ndescription: Our own gate review.\narguments:\n  - sprint (required): Sprint id.\n---\nOUR REVIEW of {{sprint}}\n{{gate}}\n",
    )
    .unwrap();
    let c = connect(plan.path()).await;
    let prompts = c.client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["gate_review", "handoff", "start_story"]);
    let start = prompts.iter().find(|p| p.name == "start_story").unwrap();
    let args: Vec<(&str, Option<bool>)> = start
        .arguments
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| (a.name.as_str(), a.required))
        .collect();
    assert_eq!(args, [("story_id", Some(false)), ("role", Some(false))]);

    let get = |name: &str, args: Value| {
        let params =
            GetPromptRequestParams::new(name).with_arguments(args.as_object().unwrap().clone());
        let client = &c.client;
        async move { client.get_prompt(params).await }
    };
    let message = |r: rmcp::model::GetPromptResult| {
        serde_json::to_value(&r.messages[0].content).unwrap()["text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let started = message(
        get("start_story", json!({"story_id": "SRE-04-01"}))
            .await
            .unwrap(),
    );
    assert!(
        started.contains("Provision worker runtime settings"),
        "{started}"
    );
    assert!(started.contains("docs/03-backlog/sprint-04-devops-sre-engineer.md:10"));
    assert!(started.contains("# Context pack: SRE-04-01"));
    assert!(!started.contains("{{"), "every placeholder filled");

    // No story given: the next ready story for the role, as next_story picks it.
    let next = c
        .handle
        .app()
        .next_story(
            &storypack::app::NextRequest {
                role: Some("devops-sre-engineer".into()),
                ..Default::default()
            },
            storypack::app::today(),
        )
        .unwrap()
        .story
        .unwrap();
    let started = message(
        get("start_story", json!({"role": "devops-sre-engineer"}))
            .await
            .unwrap(),
    );
    assert!(
        started.contains(&format!("# Context pack: {}", next.id)),
        "{}",
        &started[..started.len().min(400)]
    );
    assert!(started.contains(&format!("picking up story {}", next.id)));
    let err = get("start_story", json!({"role": "no-such-role"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("role"), "{err}");

    let handoff = message(
        get("handoff", json!({"story_id": "SRE-04-02"}))
            .await
            .unwrap(),
    );
    assert!(
        handoff.contains("SRE-04-01"),
        "names its dependency: {handoff}"
    );

    let review = message(get("gate_review", json!({"sprint": "4"})).await.unwrap());
    assert!(review.starts_with("OUR REVIEW of 4"), "{review}");
    assert!(review.contains("docs/00-governance/gates/sprint-04-core-workflow-gate.md"));

    for (name, args, want) in [
        (
            "start_story",
            json!({"story_id": "NOPE-1"}),
            "story_id: no story",
        ),
        (
            "start_story",
            json!({"story_id": "SRE-04-01", "extra": "x"}),
            "extra:",
        ),
        ("start_story", json!({"story_id": 7}), "story_id:"),
        ("gate_review", json!({"sprint": "99"}), "sprint:"),
        ("no_such_prompt", json!({}), "name: no prompt"),
    ] {
        match get(name, args).await {
            Err(ServiceError::McpError(e)) => {
                assert!(e.message.contains(want), "{name}: {}", e.message)
            }
            other => panic!("{name}: expected an error containing {want}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn completions_offer_story_and_sprint_ids() {
    let c = connect(&example_plan()).await;
    let stories = c
        .client
        .complete_prompt_simple("start_story", "story_id", "sre-04")
        .await
        .unwrap();
    assert!(
        !stories.is_empty() && stories.iter().all(|s| s.starts_with("SRE-04-")),
        "{stories:?}"
    );
    let sprints = c
        .client
        .complete_prompt_simple("gate_review", "sprint", "4")
        .await
        .unwrap();
    assert_eq!(sprints, ["04"]);
    let packs = c
        .client
        .complete_resource_simple("storypack://pack/{story_id}", "story_id", "BE-0")
        .await
        .unwrap();
    assert!(
        !packs.is_empty() && packs.iter().all(|s| s.starts_with("BE-0")),
        "{packs:?}"
    );
    let none = c
        .client
        .complete_prompt_simple("start_story", "nope", "x")
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// The next notifications are exactly `want`, in order.
async fn expect_exactly(events: &mut mpsc::UnboundedReceiver<String>, want: &[String], what: &str) {
    for w in want {
        let e = tokio::time::timeout(WAIT, events.recv())
            .await
            .unwrap_or_else(|_| panic!("{what}: {w} arrives"))
            .expect("event stream open");
        assert_eq!(&e, w, "{what}");
    }
}

/// `storypack handoff record FILE --plan ROOT` as another process runs it.
async fn record_with_the_cli(root: &Path, contract: &Path) {
    let (root, contract) = (root.to_path_buf(), contract.to_path_buf());
    let out = tokio::task::spawn_blocking(move || {
        super::util::storypack(&[
            "handoff",
            "record",
            contract.to_str().unwrap(),
            "--plan",
            root.to_str().unwrap(),
        ])
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
#[allow(deprecated)] // resources/subscribe: the session lifecycle every client uses today
async fn a_handoff_recorded_by_another_process_notifies_subscribers_once() {
    let plan = copy_plan();
    let store = plan.path().join(".storypack/handoffs");
    assert!(!store.exists(), "the CLI creates the store");
    let mut c = connect(plan.path()).await;
    let _watcher = mcp::watch(c.handle.clone(), Duration::from_millis(50)).unwrap();
    let story = "SRE-04-01";
    let app = c.handle.app();
    let unrelated = app
        .plan()
        .stories
        .iter()
        .find(|s| s.id != story && !s.depends_on.iter().any(|d| d == story))
        .unwrap()
        .id
        .clone();
    let pack_uri = format!("storypack://pack/{story}");
    let unrelated_uri = format!("storypack://pack/{unrelated}");
    for uri in [&pack_uri, &unrelated_uri] {
        c.client
            .subscribe(SubscribeRequestParams::new(uri.as_str()))
            .await
            .unwrap();
    }
    // The contract file lives outside the plan: only the store changes.
    let outside = tempfile::tempdir().unwrap();
    let contract = outside.path().join("contract.json");
    let good = valid_contract(&app, story);
    fs::write(&contract, serde_json::to_vec_pretty(&good).unwrap()).unwrap();

    // Exactly these notifications, in order: the unrelated pack's subscription hears none.
    let told = [
        "resources/list_changed".to_string(),
        format!("updated {pack_uri}"),
    ];
    // The first record creates the store, the second lands in the watched store.
    for n in 1..=2 {
        record_with_the_cli(plan.path(), &contract).await;
        expect_exactly(&mut c.events, &told, &format!("record {n}")).await;
        let r = call(&c.client, "list_handoffs", json!({ "story_id": story })).await;
        assert_eq!(
            r.structured_content.unwrap()["count"],
            n,
            "the server lists the record"
        );
    }
    // Recorded through this server: announced by the tool, not again by the watcher.
    let r = call(&c.client, "record_handoff", json!({ "contract": good })).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    expect_exactly(&mut c.events, &told, "recorded through the server").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    if let Ok(e) = c.events.try_recv() {
        panic!("told twice: {e}");
    }
    let w = super::util::writer_tag(plan.path());
    assert!(store.join(story).join(format!("3-{w}.json")).is_file());
}

#[tokio::test]
#[allow(deprecated)] // resources/subscribe: the session lifecycle every client uses today
async fn editing_a_plan_file_reindexes_and_notifies_subscribers() {
    let plan = copy_plan();
    let mut c = connect(plan.path()).await;
    let _watcher = mcp::watch(c.handle.clone(), Duration::from_millis(50)).unwrap();
    let backlog = "docs/03-backlog/sprint-04-devops-sre-engineer.md";
    let pack_uri = "storypack://pack/SRE-04-01";
    let doc_uri = format!("storypack://plan/{backlog}");
    let untouched = "storypack://plan/docs/03-backlog/sprint-01-devops-sre-engineer.md";
    for uri in [pack_uri, doc_uri.as_str(), untouched] {
        c.client
            .subscribe(SubscribeRequestParams::new(uri))
            .await
            .unwrap();
    }
    let path = plan.path().join(backlog);
    let text = fs::read_to_string(&path).unwrap();
    let edited = text.replace(
        "Provision worker runtime settings",
        "Provision worker runtime limits",
    );
    assert_ne!(text, edited);
    fs::write(&path, edited).unwrap();

    expect_event(&mut c.events, |e| e == "resources/list_changed").await;
    let mut updated = vec![
        expect_event(&mut c.events, |e| e.starts_with("updated ")).await,
        expect_event(&mut c.events, |e| e.starts_with("updated ")).await,
    ];
    updated.sort();
    assert_eq!(
        updated,
        [format!("updated {pack_uri}"), format!("updated {doc_uri}")]
    );

    let r = call(&c.client, "list_stories", json!({"sprint": "04"})).await;
    assert!(text_of_story(&r, "SRE-04-01").contains("runtime limits"));
    let pack = c
        .client
        .read_resource(ReadResourceRequestParams::new(pack_uri))
        .await
        .unwrap();
    assert!(
        serde_json::to_string(&pack)
            .unwrap()
            .contains("runtime limits")
    );
    // The untouched document's subscription heard nothing.
    while let Ok(e) = c.events.try_recv() {
        assert!(!e.contains(untouched), "{e}");
    }
}

fn text_of_story(r: &CallToolResult, id: &str) -> String {
    let v = r.structured_content.clone().unwrap();
    let s = v["stories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap();
    s["title"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn build_context_pack_reports_progress_to_a_client_that_asks() {
    let mut c = connect(&example_plan()).await;
    let params = CallToolRequestParams::new("build_context_pack").with_arguments(
        json!({"story_id": "SRE-05-03"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let handle = c
        .client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    handle.await_response().await.unwrap();
    let first = expect_event(&mut c.events, |e| e.starts_with("progress")).await;
    assert_eq!(first, "progress 0");
    expect_event(&mut c.events, |e| e == "progress 1").await;
    // Nothing after the response: a late notification is one for a token the client has
    // already forgotten.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    while let Ok(e) = c.events.try_recv() {
        assert!(
            !e.starts_with("progress"),
            "a progress notification after the last step: {e}"
        );
    }
}

#[tokio::test]
async fn the_binary_serves_mcp_over_stdio() {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_storypack"));
    cmd.args(["serve", "--plan"])
        .arg(example_plan())
        .env_remove("STORYPACK_LOG");
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = transport.id().unwrap();
    let client = ().serve(transport).await.unwrap();
    assert_stdio_nonblocking(pid);
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "storypack");
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.len() >= READ_ONLY_TOOLS.len());
    let r = client
        .call_tool(
            CallToolRequestParams::new("get_priorities")
                .with_arguments(json!({"sprint": "05"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(r.structured_content.unwrap()["sprint"], "05");
    let r = client
        .call_tool(
            CallToolRequestParams::new("get_priorities")
                .with_arguments(json!({"sprint": "77"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    let prompt = client
        .get_prompt(
            GetPromptRequestParams::new("gate_review")
                .with_arguments(json!({"sprint": "05"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert!(!prompt.messages.is_empty());
    client.cancel().await.unwrap();
}

/// The server set its stdin and stdout non-blocking, as it does for pipes and Unix sockets
/// (read and written through the runtime, not a blocking thread each).
fn assert_stdio_nonblocking(pid: u32) {
    #[cfg(target_os = "linux")]
    for fd in [0, 1] {
        let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .unwrap();
        assert_ne!(flags & 0o4000, 0, "fd {fd} is not O_NONBLOCK: {info}");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = pid;
}

/// Node-based clients (libuv) give a child process Unix socket pairs as stdin and stdout,
/// not pipes; the server reads and writes those without blocking too. A pack (tens of KB,
/// more than one write) and the calls after it come through whole.
#[cfg(unix)]
#[tokio::test]
async fn the_binary_serves_mcp_over_a_socket_pair() {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args(["serve", "--plan"])
        .arg(example_plan())
        .env_remove("STORYPACK_LOG")
        .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            theirs.try_clone().unwrap(),
        )))
        .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            theirs,
        )))
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    ours.set_nonblocking(true).unwrap();
    let (read, write) = tokio::net::UnixStream::from_std(ours).unwrap().into_split();
    let client = ().serve((read, write)).await.unwrap();
    assert_eq!(
        client
            .peer_info()
            .unwrap()
            .server_info
            .as_ref()
            .unwrap()
            .name,
        "storypack"
    );
    for budget in [12000, 500] {
        let r = client
            .call_tool(
                CallToolRequestParams::new("build_context_pack").with_arguments(
                    json!({"story_id": "SRE-04-01", "budget_tokens": budget})
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
            )
            .await
            .unwrap();
        let v = r.structured_content.clone().unwrap();
        assert_eq!(v["story_id"], "SRE-04-01");
        assert!(v["total_tokens"].as_u64().unwrap() <= budget);
        assert!(text(&r).starts_with("# Context pack: SRE-04-01"));
    }
    assert!(client.list_all_tools().await.unwrap().len() >= READ_ONLY_TOOLS.len());
    assert_stdio_nonblocking(child.id().unwrap());
    client.cancel().await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the server exits when the client leaves")
        .unwrap();
    assert!(status.success(), "{status}");
}

/// One raw HTTP/1.1 request; returns the status code.
async fn raw_post(port: u16, headers: &[(&str, &str)], body: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut req = format!(
        "POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let _ = stream.write_all(body.as_bytes()).await;
    let mut buf = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut buf[read..]).await.unwrap();
        if n == 0 {
            break;
        }
        read += n;
    }
    let head = String::from_utf8_lossy(&buf[..read]).to_string();
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

#[tokio::test]
async fn http_serves_mcp_behind_a_token_with_host_and_origin_checks() {
    let handle = PlanHandle::open(&example_plan()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = HttpOptions {
        token: Some("s3cret-token".into()),
        ..HttpOptions::default()
    };
    let server = tokio::spawn(mcp::serve_http(listener, handle, options, async {
        let _ = stopped.await;
    }));

    let url = format!("http://127.0.0.1:{port}/mcp");
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.as_str()).auth_header("s3cret-token"),
    );
    let client = ().serve(transport).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "build_context_pack"));
    let r = client
        .call_tool(
            CallToolRequestParams::new("list_stories")
                .with_arguments(json!({"sprint": "04"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert!(r.structured_content.unwrap()["count"].as_u64().unwrap() > 0);

    // Without the token: refused before anything else.
    let anonymous = StreamableHttpClientTransport::from_uri(url.as_str());
    assert!(().serve(anonymous).await.is_err());
    let bearer = "Bearer s3cret-token";
    assert_eq!(raw_post(port, &[], INITIALIZE).await, 401);
    assert_eq!(
        raw_post(port, &[("Authorization", "Bearer wrong")], INITIALIZE).await,
        401
    );
    assert_eq!(
        raw_post(port, &[("Authorization", "s3cret-token")], INITIALIZE).await,
        401
    );
    // DNS rebinding: a foreign Origin or Host is refused even with the token.
    assert_eq!(
        raw_post(
            port,
            &[("Authorization", bearer), ("Origin", "http://evil.example")],
            INITIALIZE
        )
        .await,
        403
    );
    assert_eq!(
        raw_post(
            port,
            &[("Authorization", bearer), ("Host", "evil.example")],
            INITIALIZE
        )
        .await,
        403
    );
    // A local page's Origin and a plain request pass.
    assert_eq!(
        raw_post(
            port,
            &[
                ("Authorization", bearer),
                ("Origin", &format!("http://localhost:{port}"))
            ],
            INITIALIZE
        )
        .await,
        200
    );
    assert_eq!(
        raw_post(port, &[("Authorization", bearer)], INITIALIZE).await,
        200
    );
    // Body size limit.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(2 << 20)
    );
    assert_eq!(
        raw_post(port, &[("Authorization", bearer)], &huge).await,
        413
    );

    client.cancel().await.unwrap();
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, server)
        .await
        .expect("graceful shutdown")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn http_refuses_to_bind_beyond_loopback_without_a_token() {
    let handle = PlanHandle::open(&example_plan()).unwrap();
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let err = mcp::serve_http(listener, handle, HttpOptions::default(), async {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--token-env"), "{err}");
    assert!(mcp::http::check_bind("127.0.0.1".parse().unwrap(), None).is_ok());
    assert!(mcp::http::check_bind("::1".parse().unwrap(), None).is_ok());
    assert!(mcp::http::check_bind("192.168.1.5".parse().unwrap(), Some("t")).is_ok());
    assert!(mcp::http::check_bind("127.0.0.1".parse().unwrap(), Some("")).is_err());
}

#[tokio::test]
async fn handoffs_are_validated_recorded_listed_and_served_as_resources() {
    let plan = copy_plan();
    let mut c = connect(plan.path()).await;
    let story = "SRE-04-01";
    let dependent = "SRE-04-02";
    #[allow(deprecated)]
    for uri in [
        format!("storypack://pack/{story}"),
        format!("storypack://pack/{dependent}"),
    ] {
        c.client
            .subscribe(SubscribeRequestParams::new(uri))
            .await
            .unwrap();
    }
    let good = valid_contract(&c.handle.app(), story);

    let mut bad = good.clone();
    bad["status"] = json!("finished");
    bad["surprise"] = json!(1);
    let before = tree(plan.path());
    let r = call(
        &c.client,
        "record_handoff",
        json!({ "contract": bad, "dry_run": true }),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "a report, not a failure");
    let v = r.structured_content.unwrap();
    assert_eq!(v["recorded"], false);
    let v = &v["validation"];
    assert_eq!(v["valid"], false);
    let pointers: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/status") && pointers.contains(&"/surprise"),
        "{pointers:?}"
    );
    let r = call(
        &c.client,
        "record_handoff",
        json!({ "contract": good.to_string(), "dry_run": true }),
    )
    .await;
    assert_eq!(
        r.structured_content.unwrap()["validation"]["valid"],
        true,
        "a contract sent as a JSON string is parsed (clients and models do send that)"
    );
    let r = call(
        &c.client,
        "record_handoff",
        json!({ "contract": "not json", "dry_run": true }),
    )
    .await;
    assert_eq!(
        r.is_error,
        Some(true),
        "a string that is no JSON object is no contract"
    );
    assert!(
        text(&r).contains("contract: expected object, got string"),
        "{}",
        text(&r)
    );
    // A sprint sent as a number is the sprint.
    let by_number = call(&c.client, "check_gate", json!({ "sprint": 4 })).await;
    assert_ne!(by_number.is_error, Some(true), "{}", text(&by_number));
    assert_eq!(by_number.structured_content.unwrap()["sprint"], "04");
    let r = call(&c.client, "list_stories", json!({ "sprint": 5 })).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert!(r.structured_content.unwrap()["count"].as_u64().unwrap() > 0);
    let r = call(&c.client, "record_handoff", json!({ "contract": bad })).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("not recorded"), "{}", text(&r));
    assert!(before == tree(plan.path()), "nothing recorded");

    let r = call(
        &c.client,
        "record_handoff",
        json!({ "contract": good, "dry_run": true }),
    )
    .await;
    let v = r.structured_content.unwrap();
    assert_eq!(
        (v["validation"]["valid"].clone(), v["recorded"].clone()),
        (json!(true), json!(false))
    );
    assert!(before == tree(plan.path()), "a dry run records nothing");
    let r = call(&c.client, "record_handoff", json!({ "contract": good })).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let v = r.structured_content.unwrap();
    assert_eq!(v["recorded"], true);
    let id = v["record"]["id"].as_str().unwrap().to_string();
    assert_eq!(id, super::util::record_id(plan.path(), story, 1));
    assert_eq!(v["record"]["n"], 1);
    assert!(v["record"]["hash"].is_string() && v["record"]["received_at"].is_string());

    expect_event(&mut c.events, |e| e == "resources/list_changed").await;
    let mut updated = vec![
        expect_event(&mut c.events, |e| e.starts_with("updated ")).await,
        expect_event(&mut c.events, |e| e.starts_with("updated ")).await,
    ];
    updated.sort();
    assert_eq!(
        updated,
        [
            format!("updated storypack://pack/{story}"),
            format!("updated storypack://pack/{dependent}")
        ]
    );

    let r = call(&c.client, "record_handoff", json!({ "contract": good })).await;
    assert_eq!(
        r.structured_content.unwrap()["record"]["id"],
        super::util::record_id(plan.path(), story, 2)
    );
    let r = call(&c.client, "list_handoffs", json!({ "story_id": story })).await;
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["total"], 2);
    let w = super::util::writer_tag(plan.path());
    assert_eq!(
        v["handoffs"][1]["id"],
        format!("{story}#2-{w}"),
        "newest last"
    );
    assert!(text(&r).contains(&format!("{story}#1-{w}")));

    // As resources: listed, readable by id (# written %23, or raw), and the schema.
    let resources = c.client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert!(uris.contains(&"storypack://schema/handoff-contract"));
    let listed = format!("storypack://handoff/{story}%231-{w}");
    assert!(uris.contains(&listed.as_str()), "{uris:?}");
    for uri in [listed.clone(), format!("storypack://handoff/{id}")] {
        let read = c
            .client
            .read_resource(ReadResourceRequestParams::new(uri))
            .await
            .unwrap();
        let ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
            panic!("text expected");
        };
        let record: Value = serde_json::from_str(text).unwrap();
        assert_eq!(record["id"], id);
        assert_eq!(record["contract"]["story_id"], story);
    }
    let schema = c
        .client
        .read_resource(ReadResourceRequestParams::new(
            "storypack://schema/handoff-contract",
        ))
        .await
        .unwrap();
    assert!(
        serde_json::to_string(&schema)
            .unwrap()
            .contains("acceptance")
    );
    for bad in [
        "storypack://handoff/SRE-04-01%2399",
        "storypack://handoff/..%2F..%2Fx%231",
        "storypack://handoff/nonsense",
        "storypack://schema/other",
    ] {
        assert!(
            c.client
                .read_resource(ReadResourceRequestParams::new(bad))
                .await
                .is_err(),
            "{bad}"
        );
    }
    let ids = c
        .client
        .complete_resource_simple("storypack://handoff/{id}", "id", "sre-04-01#")
        .await
        .unwrap();
    assert_eq!(ids, [format!("{story}#1-{w}"), format!("{story}#2-{w}")]);

    // The pack now shows the handoff; the handoff prompt lists it and offers a contract to fill.
    let r = call(
        &c.client,
        "build_context_pack",
        json!({ "story_id": dependent }),
    )
    .await;
    assert!(
        text(&r).contains(&id),
        "the dependent's pack cites the handoff"
    );
    let prompt = c
        .client
        .get_prompt(
            GetPromptRequestParams::new("handoff")
                .with_arguments(json!({"story_id": story}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let body = serde_json::to_value(&prompt.messages[0].content).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(body.contains(&format!("{story}#2")), "{body}");
    assert!(
        body.contains(r#""story_id": "SRE-04-01""#) && body.contains(r#""criterion""#),
        "{body}"
    );
}

#[tokio::test]
async fn check_gate_reports_a_verdict_with_reasons() {
    let c = connect(&example_plan()).await;
    let r = call(&c.client, "check_gate", json!({"sprint": "4"})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["sprint"], "04");
    assert!(["pass", "at_risk", "fail"].contains(&v["verdict"].as_str().unwrap()));
    assert!(v["items"].as_array().is_some_and(|i| !i.is_empty()));
    assert!(
        v["items"][0]["citation"]["path"]
            .as_str()
            .unwrap()
            .starts_with("docs/00-governance/gates/")
    );
    assert!(v["stories"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(text(&r).contains("Evidence checklist"));
}

#[tokio::test]
async fn a_client_on_the_2026_protocol_hears_changes_through_subscriptions_listen() {
    use rmcp::model::{ProtocolVersion, ServerNotification, SubscriptionFilter};
    use rmcp::{ClientLifecycleMode, ClientServiceExt};

    let plan = copy_plan();
    let handle = PlanHandle::open(plan.path()).unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let served = handle.clone();
    tokio::spawn(async move {
        let running = mcp::serve(served, server_io).await.unwrap();
        let _ = running.waiting().await;
    });
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = ().serve_with_lifecycle(client_io, lifecycle).await.unwrap();
    let r = client
        .call_tool(
            CallToolRequestParams::new("get_priorities")
                .with_arguments(json!({"sprint": "04"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(r.structured_content.unwrap()["sprint"], "04");

    let pack_uri = "storypack://pack/SRE-04-01";
    let filter = SubscriptionFilter::builder()
        .resources_list_changed()
        .resource_subscriptions([pack_uri, "storypack://plan/../escape"])
        .build();
    let mut sub = client.listen(filter).await.unwrap();
    assert_eq!(
        sub.acknowledged().resource_subscriptions.as_deref(),
        Some(&[pack_uri.to_string()][..]),
        "a traversal URI is not accepted"
    );

    let backlog = plan
        .path()
        .join("docs/03-backlog/sprint-04-devops-sre-engineer.md");
    let text = fs::read_to_string(&backlog).unwrap();
    fs::write(
        &backlog,
        text.replace(
            "Provision worker runtime settings",
            "Provision worker pools",
        ),
    )
    .unwrap();
    let change = handle.refresh(&[backlog]).expect("the edit is a change");
    assert!(
        change
            .docs
            .contains("docs/03-backlog/sprint-04-devops-sre-engineer.md")
    );
    handle.publish(mcp::Event::Plan(change)).await;

    let mut heard = Vec::new();
    while heard.len() < 2 {
        let n = tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match n {
            ServerNotification::ResourceListChangedNotification(_) => {
                heard.push("list_changed".to_string())
            }
            ServerNotification::ResourceUpdatedNotification(u) => heard.push(u.params.uri),
            _ => {}
        }
    }
    assert_eq!(heard, ["list_changed", pack_uri]);
    sub.cancel().await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn the_binary_serves_http_and_stops_cleanly_on_sigterm() {
    use tokio::io::AsyncBufReadExt;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args(["serve", "--http", "127.0.0.1:0", "--plan"])
        .arg(example_plan())
        .env_remove("STORYPACK_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(WAIT, async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the server says where it listens");
            if let Some(url) = line.strip_prefix("storypack: serving MCP at ") {
                return url.to_string();
            }
        }
    })
    .await
    .unwrap();
    let client = ().serve(StreamableHttpClientTransport::from_uri(url.as_str())).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), 9);
    drop(client);

    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exits on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn serve_refuses_a_public_address_without_a_token() {
    let out = super::util::storypack(&[
        "serve",
        "--http",
        "0.0.0.0:0",
        "--plan",
        example_plan().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        super::util::stderr(&out).contains("--token-env"),
        "{}",
        super::util::stderr(&out)
    );
    let out = super::util::storypack(&[
        "serve",
        "--http",
        "127.0.0.1:0",
        "--token-env",
        "STORYPACK_TEST_NO_SUCH_VAR",
        "--plan",
        example_plan().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(super::util::stderr(&out).contains("STORYPACK_TEST_NO_SUCH_VAR"));
}

#[tokio::test]
async fn toolsets_and_read_only_narrow_what_the_server_offers() {
    let names = |c: &Connected| {
        let client = c.client.peer().clone();
        async move {
            let mut n: Vec<String> = client
                .list_all_tools()
                .await
                .unwrap()
                .iter()
                .map(|t| t.name.to_string())
                .collect();
            n.sort();
            n
        }
    };
    let packs = connect_with(
        &example_plan(),
        mcp::ToolSelection {
            toolsets: vec!["packs".into(), "gates".into()],
            read_only: false,
        },
    )
    .await;
    assert_eq!(names(&packs).await, ["build_context_pack", "check_gate"]);
    // A tool left out is unknown to the session.
    let params = CallToolRequestParams::new("list_sprints");
    assert!(packs.client.call_tool(params).await.is_err());

    let plan = copy_plan();
    let read_only = connect_with(
        plan.path(),
        mcp::ToolSelection {
            toolsets: Vec::new(),
            read_only: true,
        },
    )
    .await;
    let listed = names(&read_only).await;
    assert!(
        !listed.contains(&"record_handoff".to_string()),
        "{listed:?}"
    );
    assert!(listed.contains(&"next_story".to_string()), "{listed:?}");
    let before = tree(plan.path());
    let r = call(
        &read_only.client,
        "next_story",
        json!({"agent": "a", "claim": true}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(
        text(&r).contains("claim: this server is read-only"),
        "{}",
        text(&r)
    );
    let r = call(&read_only.client, "next_story", json!({"agent": "a"})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert!(
        before == tree(plan.path()),
        "a read-only server wrote nothing"
    );

    assert!(
        mcp::ToolSelection {
            toolsets: vec!["plans".into()],
            read_only: false
        }
        .check()
        .unwrap_err()
        .contains("no toolset `plans` (known: plan, packs, handoffs, gates)")
    );
}

#[tokio::test]
async fn list_results_carry_cache_hints_on_protocol_versions_that_have_them() {
    use rmcp::model::{CacheScope, ClientConfig, ProtocolVersion};
    // A client of the current default version: no hints (its results have no such fields).
    let c = connect(&example_plan()).await;
    let version = c.client.peer_info().unwrap().protocol_version.clone();
    assert!(version < ProtocolVersion::V_2026_07_28, "{version:?}");
    assert_eq!(c.client.list_tools(None).await.unwrap().ttl_ms, None);
    // A client of 2026-07-28: tools and templates fresh for an hour, for anyone.
    let handle = PlanHandle::open(&example_plan()).unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let running = mcp::serve(handle, server_io).await.unwrap();
        let _ = running.waiting().await;
    });
    let client = rmcp::service::serve_client_with_lifecycle(
        ClientConfig::default(),
        client_io,
        rmcp::service::ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .unwrap();
    assert_eq!(
        client.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2026_07_28
    );
    let tools = client.list_tools(None).await.unwrap();
    assert_eq!(tools.ttl_ms, Some(3_600_000));
    assert_eq!(tools.cache_scope, Some(CacheScope::Public));
    let templates = client.list_resource_templates(None).await.unwrap();
    assert_eq!(templates.ttl_ms, Some(3_600_000));
    // Lists that change with the plan: immediately stale, as the protocol's default says.
    let resources = client.list_resources(None).await.unwrap();
    assert_eq!(resources.ttl_ms, Some(0));
}

/// Over stdio, every line gets an answer, and the error codes are the spec's.
#[test]
fn stdio_answers_every_line_with_the_spec_error_codes() {
    use std::io::{BufRead, BufReader, Write};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args(["serve", "--no-watch", "--plan"])
        .arg(example_plan())
        .env_remove("STORYPACK_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |line: &str| {
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    send(&init.to_string());
    let mut reply = String::new();
    stdout.read_line(&mut reply).unwrap();
    assert!(reply.contains("\"result\""), "{reply}");
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let mut ask = |line: String| -> Value {
        send(&line);
        let mut reply = String::new();
        stdout.read_line(&mut reply).unwrap();
        serde_json::from_str(&reply).unwrap()
    };
    let cases = [
        // Malformed JSON: a parse error, id unknown.
        (
            r#"{"jsonrpc":"2.0","id":6,"method":"tools/list""#.to_string(),
            -32700,
            Value::Null,
        ),
        // JSON, but no JSON-RPC message.
        (r#"{"id": 9, "hello": 1}"#.to_string(), -32600, json!(9)),
        // Over the size limit (1 MiB).
        (
            format!(
                r#"{{"jsonrpc":"2.0","id":7,"method":"ping","params":{{"x":"{}"}}}}"#,
                "a".repeat(1_100_000)
            ),
            -32600,
            Value::Null,
        ),
        // A known method with params that do not fit: invalid params, naming the field.
        (
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"nam": "x"}})
                .to_string(),
            -32602,
            json!(2),
        ),
        (
            json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {}})
                .to_string(),
            -32602,
            json!(3),
        ),
        // A prompt for an unknown story: invalid params too.
        (
            json!({"jsonrpc": "2.0", "id": 4, "method": "prompts/get",
                   "params": {"name": "start_story", "arguments": {"story_id": "NOPE-1"}}})
            .to_string(),
            -32602,
            json!(4),
        ),
        // An unknown method stays method-not-found.
        (
            json!({"jsonrpc": "2.0", "id": 5, "method": "tools/frobnicate"}).to_string(),
            -32601,
            json!(5),
        ),
    ];
    for (line, code, id) in cases {
        let reply = ask(line.clone());
        assert_eq!(
            reply["error"]["code"],
            code,
            "{}: {reply}",
            &line[..line.len().min(60)]
        );
        assert_eq!(reply["id"], id, "{reply}");
    }
    // And the session goes on.
    let pong = ask(json!({"jsonrpc": "2.0", "id": 8, "method": "ping"}).to_string());
    assert_eq!(pong["result"], json!({}));
    let _ = child.kill();
    let _ = child.wait();
}
