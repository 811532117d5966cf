//! Tools over the plan itself: `list_sprints`, `get_priorities`, `list_stories`,
//! `search_plan`. All read-only; every list is paged with a cursor.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    MAX_CURSOR_LEN, MAX_STATUS_LEN, Output, PAGE_ITEMS, Pool, ToolResult, input_schema, more_line,
    off_runtime, output_schema, page, page_text,
};
use crate::app::{self, MAX_QUERY_LEN, SearchResult, StoryEntry, StoryList};
use crate::mcp::errors::ToolError;
use crate::mcp::server::StorypackServer;
use crate::model::Sprint;
use crate::priorities::{MAX_ARG_LEN, Priorities, PriorityQuery, StoryFilter, WEEKS};
use crate::render;

/// Most search results over MCP (the library allows more; this keeps a result small).
const MAX_SEARCH_LIMIT: usize = 50;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListSprintsArgs {
    /// next_cursor of the previous page.
    #[schemars(length(max = MAX_CURSOR_LEN))]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct SprintPage {
    pub sprints: Vec<Sprint>,
    /// Sprints in the roadmap (all pages).
    pub total: usize,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PrioritiesArgs {
    /// Sprint id; default: the current one.
    #[schemars(length(max = MAX_ARG_LEN))]
    pub sprint: Option<String>,
    /// Role slug or label; default: all.
    #[schemars(length(max = MAX_ARG_LEN))]
    pub role: Option<String>,
    /// Week of the sprint; default: by calendar.
    #[schemars(range(min = 1, max = WEEKS))]
    pub week: Option<u8>,
    /// next_cursor of the previous page.
    #[schemars(length(max = MAX_CURSOR_LEN))]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct PrioritiesPage {
    #[serde(flatten)]
    pub priorities: Priorities,
    /// Pass as `cursor` for the next page of stories; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListStoriesArgs {
    /// Sprint id (05 or 5).
    #[schemars(length(max = MAX_ARG_LEN))]
    pub sprint: Option<String>,
    /// Role slug or label.
    #[schemars(length(max = MAX_ARG_LEN))]
    pub role: Option<String>,
    /// Epic id, e.g. F3-E1.
    #[schemars(length(max = MAX_ARG_LEN))]
    pub epic: Option<String>,
    /// Plan status: todo or done.
    #[schemars(length(max = MAX_STATUS_LEN))]
    pub status: Option<String>,
    /// Live state: todo, claimed, in_progress, ready_for_review, done, blocked.
    #[schemars(length(max = MAX_STATUS_LEN))]
    pub state: Option<String>,
    /// next_cursor of the previous page.
    #[schemars(length(max = MAX_CURSOR_LEN))]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct StoryPage {
    /// Stories on this page.
    pub count: usize,
    /// Stories matching the filters (all pages).
    pub total: usize,
    pub stories: Vec<StoryEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    /// Words or ids.
    #[schemars(length(min = 1, max = MAX_QUERY_LEN))]
    pub query: String,
    /// Most results (default 10).
    #[schemars(range(min = 1, max = MAX_SEARCH_LIMIT))]
    pub limit: Option<usize>,
}

#[tool_router(router = plan_tools, vis = "pub(crate)")]
impl StorypackServer {
    /// Roadmap sprints: theme, epics, gate, dates, roles.
    #[tool(
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<ListSprintsArgs>(),
        output_schema = output_schema::<SprintPage>()
    )]
    async fn list_sprints(
        &self,
        Parameters(args): Parameters<ListSprintsArgs>,
    ) -> ToolResult<SprintPage> {
        let list = self.app().sprints();
        let (sprints, next_cursor) = page(
            &list.sprints,
            args.cursor.as_deref(),
            PAGE_ITEMS,
            "list_sprints",
        )?;
        let text = page_text(
            || {
                render::sprints(&app::SprintList {
                    sprints: sprints.clone(),
                })
            },
            &next_cursor,
            sprints.len(),
            list.sprints.len(),
        );
        Ok(Output::new(
            SprintPage {
                total: list.sprints.len(),
                sprints,
                next_cursor,
            },
            text,
        ))
    }

    /// What matters now for a sprint, role and week: focus, priorities, gate, stories in dependency order.
    #[tool(
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<PrioritiesArgs>(),
        output_schema = output_schema::<PrioritiesPage>()
    )]
    async fn get_priorities(
        &self,
        Parameters(args): Parameters<PrioritiesArgs>,
    ) -> ToolResult<PrioritiesPage> {
        let q = PriorityQuery {
            sprint: args.sprint,
            role: args.role,
            week: args.week,
        };
        let mut p = self.app().priorities(&q, app::today())?;
        let scope = format!("get_priorities\0{}\0{:?}\0{:?}", p.sprint, p.role, p.weeks);
        let (stories, next_cursor) = page(&p.stories, args.cursor.as_deref(), PAGE_ITEMS, &scope)?;
        let total = p.stories.len();
        p.stories = stories;
        let mut text = render::priorities(&p);
        text.push_str(&more_line(&next_cursor, p.stories.len(), total));
        Ok(Output::new(
            PrioritiesPage {
                priorities: p,
                next_cursor,
            },
            text,
        ))
    }

    /// Stories matching all filters given, with fields, state and citations.
    #[tool(
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<ListStoriesArgs>(),
        output_schema = output_schema::<StoryPage>()
    )]
    async fn list_stories(
        &self,
        Parameters(args): Parameters<ListStoriesArgs>,
    ) -> ToolResult<StoryPage> {
        let filter = StoryFilter {
            sprint: args.sprint,
            role: args.role,
            epic: args.epic,
            status: args.status,
            state: args.state,
        };
        let scope = format!("list_stories\0{filter:?}");
        let all = self.app().stories(&filter)?;
        let (stories, next_cursor) =
            page(&all.stories, args.cursor.as_deref(), PAGE_ITEMS, &scope)?;
        let shown = StoryList {
            count: stories.len(),
            stories,
        };
        let text = page_text(
            || render::stories(&shown),
            &next_cursor,
            shown.count,
            all.count,
        );
        Ok(Output::new(
            StoryPage {
                count: shown.count,
                total: all.count,
                stories: shown.stories,
                next_cursor,
            },
            text,
        ))
    }

    /// Plan sections most relevant to a query, with citations.
    #[tool(
        annotations(read_only_hint = true, open_world_hint = false),
        input_schema = input_schema::<SearchArgs>(),
        output_schema = output_schema::<SearchResult>()
    )]
    async fn search_plan(
        &self,
        Parameters(args): Parameters<SearchArgs>,
    ) -> ToolResult<SearchResult> {
        if let Some(n) = args.limit
            && !(1..=MAX_SEARCH_LIMIT).contains(&n)
        {
            return Err(ToolError::invalid(
                "limit",
                format!("{n} is out of range (1..={MAX_SEARCH_LIMIT})"),
            ));
        }
        let app = self.app();
        let result = off_runtime("search", Pool::Hot, move || {
            app.search(&args.query, args.limit)
        })
        .await?;
        let text = render::search(&result);
        Ok(Output::new(result, text))
    }
}
