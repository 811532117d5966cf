//! `build_context_pack`: one story's token-budgeted, cited context pack. Read-only (the MCP
//! tool returns the pack; it writes no file). Reports progress when the client asked for it
//! and the pack is slow (the index still to build, or a build past [`PROGRESS_AFTER`]).

use std::time::Duration;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ProgressNotificationParam, ProgressToken, RequestMetaObject};
use rmcp::service::{Peer, RoleServer};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{MAX_ENCODING_LEN, Output, Pool, ToolResult, input_schema, off_runtime, output_schema};
use crate::mcp::errors::ToolError;
use crate::mcp::server::StorypackServer;
use crate::pack::{self, Pack, PackRequest};
use crate::priorities::MAX_ARG_LEN;

/// Largest budget over MCP. The rendered pack is the text content and the structured
/// content repeats its sections, so this keeps a result well under the 25,000-token tool
/// output limit of clients (the CLI allows up to `pack::MAX_BUDGET`).
const MAX_MCP_BUDGET: usize = 12_000;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PackArgs {
    /// Story id, e.g. SRE-04-01.
    #[schemars(length(min = 1, max = MAX_ARG_LEN))]
    pub story_id: String,
    /// Token budget (default 8000).
    #[schemars(range(min = 1, max = MAX_MCP_BUDGET))]
    pub budget_tokens: Option<usize>,
    /// o200k_base (default) or cl100k_base.
    #[schemars(length(max = MAX_ENCODING_LEN))]
    pub encoding: Option<String>,
    /// Recipe (default: by the story's role).
    #[schemars(length(max = MAX_ARG_LEN))]
    pub recipe: Option<String>,
}

/// A pack that takes longer than this reports progress (when the client sent a progress
/// token); quicker ones, the usual case once the server is warm, send none: three
/// notifications would cost the client more than the pack.
const PROGRESS_AFTER: Duration = Duration::from_millis(100);

/// Progress notifications for one request, when it carried a progress token.
struct Progress {
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    total: f64,
    /// Whether a notification went out.
    sent: bool,
}

impl Progress {
    async fn step(&mut self, done: u32, message: &str) {
        let Some(token) = &self.token else {
            return;
        };
        let param = ProgressNotificationParam::new(token.clone(), f64::from(done))
            .with_total(self.total)
            .with_message(message);
        self.sent = true;
        if let Err(e) = self.peer.notify_progress(param).await {
            tracing::debug!(error = %e, "progress not delivered");
        }
    }
}

#[tool_router(router = pack_tools, vis = "pub(crate)")]
impl StorypackServer {
    /// A story's context pack: cited plan excerpts ranked to fit a token budget, and what was left out. Text: the pack in Markdown.
    #[tool(
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<PackArgs>(),
        output_schema = output_schema::<Pack>()
    )]
    async fn build_context_pack(
        &self,
        Parameters(args): Parameters<PackArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> ToolResult<Pack> {
        let budget = args.budget_tokens.unwrap_or(pack::DEFAULT_BUDGET);
        if !(1..=MAX_MCP_BUDGET).contains(&budget) {
            return Err(ToolError::invalid(
                "budget_tokens",
                format!("{budget} is out of range (1..={MAX_MCP_BUDGET})"),
            ));
        }
        let encoding = args.encoding.as_deref().map(str::parse).transpose()?;
        let mut progress = Progress {
            peer,
            token: meta.get_progress_token(),
            total: 2.0,
            sent: false,
        };
        let app = self.app();
        // Cheap checks first: a bad id must not wait for the index.
        pack::find_story(app.plan(), &args.story_id)?;
        if !app.index_ready() {
            // Seconds on a large plan, unless the server's warm-up got there first.
            progress.step(0, "indexing the plan").await;
            let indexing = app.clone();
            off_runtime("indexing", Pool::Blocking, move || {
                indexing.index();
                Ok::<_, ToolError>(())
            })
            .await?;
            progress.step(1, "ranking and fitting excerpts").await;
        }
        let req = PackRequest {
            story_id: args.story_id,
            budget_tokens: Some(budget),
            encoding,
            recipe: args.recipe,
        };
        let mut building =
            std::pin::pin!(off_runtime("pack build", Pool::Hot, move || app.pack(&req)));
        let built = match tokio::time::timeout(PROGRESS_AFTER, &mut building).await {
            Ok(built) => built,
            Err(_) => {
                if !progress.sent {
                    progress.step(1, "ranking and fitting excerpts").await;
                }
                building.await
            }
        }?;
        // No closing "done" notification: the response says it, and a notification racing
        // the response reaches clients after they dropped the token (the TypeScript SDK then
        // reports "a progress notification for an unknown token").
        let text = pack::render::markdown(&built);
        Ok(Output::new(built, text))
    }
}
