//! `next_story`: the best ready story for a role and sprint, and why; with `claim`, leased
//! to the agent atomically (first writer wins) for the default lease. Argument lengths are
//! checked by `App` (naming the field), not in the schema: the definition stays under 200
//! tokens.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Output, Pool, ToolResult, input_schema, off_runtime, output_schema};
use crate::app::{self, NextRequest};
use crate::coord::next::NextStory;
use crate::mcp::server::StorypackServer;
use crate::render;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NextArgs {
    /// Role slug or label.
    pub role: Option<String>,
    /// Sprint id; default: all, current first.
    pub sprint: Option<String>,
    /// Your agent name.
    pub agent: Option<String>,
    /// Lease it to agent for 2h.
    pub claim: Option<bool>,
}

#[tool_router(router = coord_tools, vis = "pub(crate)")]
impl StorypackServer {
    /// Best ready story (deps done, unclaimed) and why; claim leases it atomically.
    #[tool(
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        ),
        input_schema = input_schema::<NextArgs>(),
        output_schema = output_schema::<NextStory>()
    )]
    async fn next_story(&self, Parameters(args): Parameters<NextArgs>) -> ToolResult<NextStory> {
        if args.claim == Some(true) && self.handle().tool_selection().read_only {
            return Err(crate::mcp::errors::ToolError::invalid(
                "claim",
                "this server is read-only (--read-only): it records no claims",
            ));
        }
        let app = self.app();
        let req = NextRequest {
            role: args.role,
            sprint: args.sprint,
            agent: args.agent,
            claim: args.claim.unwrap_or(false),
            ttl: None,
        };
        let next = off_runtime("next story", Pool::Blocking, move || {
            app.next_story(&req, app::today())
        })
        .await?;
        let text = render::next_story(&next);
        Ok(Output::new(next, text))
    }
}
