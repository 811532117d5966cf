//! Handoff contracts: `validate_handoff` (read-only: every problem, nothing stored),
//! `record_handoff` (append-only: the stored record, or the problems and nothing stored),
//! `list_handoffs` (read-only, paged, newest last).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    MAX_CURSOR_LEN, Output, PAGE_ITEMS, Pool, ToolResult, input_schema, more_line, off_runtime,
    output_schema, page,
};
use crate::handoff::{HandoffList, HandoffRecord, RawContract, RecordOutcome, Validation};
use crate::mcp::errors::ToolError;
use crate::mcp::server::StorypackServer;
use crate::priorities::MAX_ARG_LEN;
use crate::render;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ContractArgs {
    /// The contract (JSON Schema: resource storypack://schema/handoff-contract).
    #[schemars(with = "RawContract")]
    pub contract: Value,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListHandoffsArgs {
    /// Only this story's handoffs ("SRE-04-01"); default: every story's.
    #[schemars(length(max = MAX_ARG_LEN))]
    pub story_id: Option<String>,
    /// Page cursor (a previous next_cursor).
    #[schemars(length(max = MAX_CURSOR_LEN))]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct HandoffPage {
    /// Records on this page.
    pub count: usize,
    /// Records matching (all pages).
    pub total: usize,
    /// Oldest first, newest last.
    pub handoffs: Vec<HandoffRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[tool_router(router = handoff_tools, vis = "pub(crate)")]
impl StorypackServer {
    /// Check a handoff contract against the plan: every problem with its JSON pointer. Nothing is recorded.
    #[tool(
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<ContractArgs>(),
        output_schema = output_schema::<Validation>()
    )]
    async fn validate_handoff(
        &self,
        Parameters(args): Parameters<ContractArgs>,
    ) -> ToolResult<Validation> {
        let app = self.app();
        let validation = off_runtime("validation", Pool::Blocking, move || {
            Ok::<_, ToolError>(app.validate_handoff(&args.contract))
        })
        .await?;
        let text = render::validation(&validation);
        Ok(Output::new(validation, text))
    }

    /// Validate and record a handoff contract (append-only). Returns the record (id, n, hash, time), or the problems with nothing recorded.
    #[tool(
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        ),
        input_schema = input_schema::<ContractArgs>(),
        output_schema = output_schema::<RecordOutcome>()
    )]
    async fn record_handoff(
        &self,
        Parameters(args): Parameters<ContractArgs>,
    ) -> ToolResult<RecordOutcome> {
        let app = self.app();
        let outcome = off_runtime("recording", Pool::Blocking, move || {
            app.record_handoff(&args.contract)
        })
        .await?;
        if let Some(record) = &outcome.record {
            self.handle()
                .publish_recorded(&[(record.story_id.clone(), record.n)])
                .await;
        }
        let text = render::record_outcome(&outcome);
        let failed = !outcome.recorded;
        Ok(Output {
            value: outcome,
            text,
            failed,
        })
    }

    /// Recorded handoffs, of one story or all, newest last.
    #[tool(
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<ListHandoffsArgs>(),
        output_schema = output_schema::<HandoffPage>()
    )]
    async fn list_handoffs(
        &self,
        Parameters(args): Parameters<ListHandoffsArgs>,
    ) -> ToolResult<HandoffPage> {
        let app = self.app();
        let story = args.story_id.clone();
        let all = off_runtime("listing", Pool::Blocking, move || {
            app.list_handoffs(story.as_deref())
        })
        .await?;
        let (handoffs, next_cursor) = page(&all.handoffs, args.cursor.as_deref(), PAGE_ITEMS)?;
        let shown = HandoffList {
            count: handoffs.len(),
            handoffs,
        };
        let mut text = render::handoff_list(&shown);
        text.push_str(&more_line(&next_cursor, shown.count, all.count));
        Ok(Output::new(
            HandoffPage {
                count: shown.count,
                total: all.count,
                handoffs: shown.handoffs,
                next_cursor,
            },
            text,
        ))
    }
}
