//! `check_gate`: a sprint's gate checklist against the repo and the handoff record.
//! Read-only (it looks at files; it writes none).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Output, Pool, ToolResult, input_schema, off_runtime, output_schema};
use crate::app;
use crate::gate::GateReport;
use crate::mcp::server::StorypackServer;
use crate::priorities::MAX_ARG_LEN;
use crate::render;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GateArgs {
    /// Sprint id (05 or 5).
    #[schemars(length(min = 1, max = MAX_ARG_LEN))]
    pub sprint: String,
}

#[tool_router(router = gate_tools, vis = "pub(crate)")]
impl StorypackServer {
    /// A sprint's gate verdict (pass, at_risk, fail) with each evidence item, story, and reason at file:line.
    #[tool(
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<GateArgs>(),
        output_schema = output_schema::<GateReport>()
    )]
    async fn check_gate(&self, Parameters(args): Parameters<GateArgs>) -> ToolResult<GateReport> {
        let app = self.app();
        let report = off_runtime("gate check", Pool::Blocking, move || {
            app.check_gate(&args.sprint, app::today())
        })
        .await?;
        let text = render::gate(&report);
        Ok(Output::new(report, text))
    }
}
