//! The MCP server handler: one `StorypackServer` per client session, all sharing one
//! [`PlanHandle`]. Tools come from the routers in `tools/`; resources, prompts and
//! completions delegate to their modules. Nothing here knows the domain.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use rmcp::handler::server::tool::{IntoCallToolResult, ToolCallContext, ToolRouter};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, CompletionInfo,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, Reference, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, RoleServer, SubscriptionContext};
use rmcp::{ErrorData, ServerHandler, tool_handler};
use tokio::sync::broadcast::error::RecvError;

use super::errors::ToolError;
use super::handle::{PlanHandle, Session, Subscriptions};
use super::{completions, prompts, resources, tools};
use crate::app::App;
use crate::sync::lock;

const INSTRUCTIONS: &str = "storypack answers from the team's sprint plan (markdown, parsed once, kept current). \
Start with get_priorities (what matters now), then build_context_pack for one story; \
every result cites path:line.";

/// Most resource subscriptions one session may hold.
const MAX_SUBSCRIPTIONS: usize = 256;

/// Every tool, built once per process (schemas are computed here).
static TOOLS: LazyLock<ToolRouter<StorypackServer>> = LazyLock::new(|| {
    StorypackServer::plan_tools()
        + StorypackServer::pack_tools()
        + StorypackServer::handoff_tools()
        + StorypackServer::coord_tools()
        + StorypackServer::gate_tools()
});

/// The handler of one MCP session.
#[derive(Clone)]
pub struct StorypackServer {
    handle: Arc<PlanHandle>,
    tool_router: ToolRouter<StorypackServer>,
    subscriptions: Subscriptions,
}

impl StorypackServer {
    pub(crate) fn new(handle: Arc<PlanHandle>) -> StorypackServer {
        let selection = handle.tool_selection();
        let mut tool_router = TOOLS.clone();
        let names: Vec<String> = tool_router
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        for name in names.iter().filter(|n| !selection.offers(n)) {
            tool_router.remove_route(name);
        }
        StorypackServer {
            handle,
            tool_router,
            subscriptions: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// The plan snapshot a request works on.
    pub(crate) fn app(&self) -> Arc<App> {
        self.handle.app()
    }

    pub(crate) fn handle(&self) -> &Arc<PlanHandle> {
        &self.handle
    }
}

fn paginated_cursor(request: &Option<PaginatedRequestParams>) -> Option<&str> {
    request.as_ref().and_then(|r| r.cursor.as_deref())
}

/// How long a client may keep `tools/list` (it cannot change while the server runs).
const TOOLS_TTL_MS: u64 = 60 * 60 * 1000;
/// How long a client may keep `resources/templates/list` (fixed too).
const TEMPLATES_TTL_MS: u64 = 60 * 60 * 1000;

/// Whether the session's protocol version has cache hints (`ttlMs`, `cacheScope`).
fn cache_hints(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v >= rmcp::model::ProtocolVersion::V_2026_07_28)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for StorypackServer {
    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, ErrorData> {
        Err(super::errors::unparsed_request(
            &request.method,
            request.params.as_ref(),
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, ErrorData> {
        let mut result = rmcp::model::ListToolsResult::with_all_items(self.tool_router.list_all());
        if cache_hints(&context) {
            result = result
                .with_ttl_ms(TOOLS_TTL_MS)
                .with_cache_scope(rmcp::model::CacheScope::Public);
        }
        Ok(result)
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_completions()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_resources()
                .enable_resources_list_changed()
                .enable_resources_subscribe()
                .enable_tools()
                .build(),
        )
        .with_server_info(Implementation::new("storypack", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if let Some(args) = request.arguments.as_mut() {
            tools::lenient_arguments(args);
        }
        let Some(tool) = self.tool_router.get(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!(
                    "name: no tool `{}` (tools/list names them)",
                    request.name.chars().take(64).collect::<String>()
                ),
                None,
            ));
        };
        if let Err(problem) = tools::check_arguments(&tool.input_schema, request.arguments.as_ref())
        {
            return ToolError(problem).into_call_tool_result();
        }
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.handle.register(Session {
            peer: context.peer,
            subscriptions: self.subscriptions.clone(),
        });
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        resources::list(&self.app(), paginated_cursor(&request))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let mut result = resources::templates();
        if cache_hints(&context) {
            result = result
                .with_ttl_ms(TEMPLATES_TTL_MS)
                .with_cache_scope(rmcp::model::CacheScope::Public);
        }
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let app = self.app();
        let uri = request.uri;
        super::hot::run(move || resources::read(&app, &uri))
            .await
            .map_err(|e| ErrorData::internal_error(format!("read failed: {e}"), None))?
            .map(ReadResourceResponse::from)
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        resources::parse(&request.uri)?;
        let mut subs = lock(&self.subscriptions);
        if subs.len() >= MAX_SUBSCRIPTIONS && !subs.contains(&request.uri) {
            return Err(ErrorData::invalid_params(
                format!("uri: at most {MAX_SUBSCRIPTIONS} subscriptions per session"),
                None,
            ));
        }
        subs.insert(request.uri);
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        lock(&self.subscriptions).remove(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = requested.supported_by(&self.get_info().capabilities);
        accepted.tools_list_changed = None;
        if let Some(uris) = &mut accepted.resource_subscriptions {
            uris.retain(|u| resources::parse(u).is_ok());
            uris.truncate(MAX_SUBSCRIPTIONS);
        }
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.handle.changes();
        let sink = context.sink().clone();
        let accepted = context.accepted().clone();
        loop {
            let change = tokio::select! {
                _ = context.cancelled() => return Ok(()),
                change = changes.recv() => change,
            };
            let change = match change {
                Ok(c) => c,
                Err(RecvError::Lagged(_)) => {
                    if accepted.resources_list_changed == Some(true) {
                        let _ = sink.notify_resource_list_changed().await;
                    }
                    continue;
                }
                Err(RecvError::Closed) => return Ok(()),
            };
            if accepted.resources_list_changed == Some(true) {
                let _ = sink.notify_resource_list_changed().await;
            }
            if change.prompts_changed() && accepted.prompts_list_changed == Some(true) {
                let _ = sink.notify_prompt_list_changed().await;
            }
            for uri in accepted.resource_subscriptions.iter().flatten() {
                let (c, u) = (change.clone(), uri.clone());
                let affected = tokio::task::spawn_blocking(move || c.affects(&u))
                    .await
                    .unwrap_or(false);
                if affected {
                    let _ = sink.notify_resource_updated(uri.clone()).await;
                }
            }
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts = self.handle.snapshot().prompts.list();
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let snapshot = self.handle.snapshot();
        let Some(def) = snapshot.prompts.get(&request.name).cloned() else {
            return Err(ErrorData::invalid_params(
                format!(
                    "name: no prompt `{}` (prompts/list names them)",
                    request.name.chars().take(64).collect::<String>()
                ),
                None,
            ));
        };
        let mut arguments = HashMap::new();
        for (name, value) in request.arguments.unwrap_or_default() {
            match value {
                serde_json::Value::String(s) => {
                    arguments.insert(name, s);
                }
                other => {
                    return Err(ErrorData::invalid_params(
                        format!(
                            "{}: prompt arguments are strings, got {other}",
                            name.chars().take(64).collect::<String>()
                        ),
                        None,
                    ));
                }
            }
        }
        let app = snapshot.app.clone();
        super::hot::run(move || prompts::render(&def, &arguments, &app))
            .await
            .map_err(|e| ErrorData::internal_error(format!("prompt failed: {e}"), None))?
            .map(GetPromptResponse::from)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let snapshot = self.handle.snapshot();
        let argument = &request.argument;
        let known = match &request.r#ref {
            Reference::Prompt(p) => snapshot
                .prompts
                .get(&p.name)
                .is_some_and(|d| d.arguments.iter().any(|a| a.name == argument.name)),
            Reference::Resource(r) => match r.uri.as_str() {
                resources::PACK_TEMPLATE => argument.name == "story_id",
                resources::HANDOFF_TEMPLATE => argument.name == "id",
                _ => false,
            },
            _ => false,
        };
        if !known {
            return Ok(CompleteResult::new(CompletionInfo::default()));
        }
        let values = completions::complete(&snapshot.app, &argument.name, &argument.value);
        Ok(CompleteResult::new(values))
    }
}
