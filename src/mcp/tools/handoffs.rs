//! Handoff contracts: `record_handoff` (append-only: the stored record, or the problems and
//! nothing stored; with `dry_run` only the problems), `list_handoffs` (read-only, paged,
//! newest last).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    MAX_CURSOR_LEN, Output, PAGE_ITEMS, Pool, ToolResult, input_schema, off_runtime, output_schema,
    page, page_text,
};
use crate::handoff::{HandoffList, HandoffRecord, RawContract, RecordOutcome};
use crate::mcp::server::StorypackServer;
use crate::priorities::MAX_ARG_LEN;
use crate::render;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ContractArgs {
    /// The contract (schema: storypack://schema/handoff-contract).
    #[schemars(with = "RawContract")]
    pub contract: Value,
    /// Validate only; record nothing.
    pub dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListHandoffsArgs {
    /// Only this story's; default: all.
    #[schemars(length(max = MAX_ARG_LEN))]
    pub story_id: Option<String>,
    /// next_cursor of the previous page.
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[tool_router(router = handoff_tools, vis = "pub(crate)")]
impl StorypackServer {
    /// Validate and record (append-only) a handoff contract: the record, or each problem by JSON pointer and nothing recorded.
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
        let dry_run = args.dry_run.unwrap_or(false);
        let outcome = off_runtime("recording", Pool::Blocking, move || {
            if dry_run {
                Ok(RecordOutcome {
                    recorded: false,
                    record: None,
                    validation: app.validate_handoff(&args.contract),
                })
            } else {
                app.record_handoff(&args.contract)
            }
        })
        .await?;
        if dry_run {
            // A report, not a failure: the check ran.
            let text = render::validation(&outcome.validation);
            return Ok(Output::new(outcome, text));
        }
        if let Some(record) = &outcome.record {
            self.handle()
                .publish_recorded(&[(record.story_id.clone(), record.slot())])
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
        let scope = format!("list_handoffs\0{:?}", args.story_id);
        let (handoffs, next_cursor) =
            page(&all.handoffs, args.cursor.as_deref(), PAGE_ITEMS, &scope)?;
        let shown = HandoffList {
            count: handoffs.len(),
            handoffs,
        };
        let text = page_text(
            || render::handoff_list(&shown),
            &next_cursor,
            shown.count,
            all.count,
        );
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
