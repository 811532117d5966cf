//! `completion/complete` for prompt and resource-template arguments: story ids, sprint ids
//! and role slugs from the plan in memory, handoff ids from the store, matched by prefix
//! (case-insensitive).

use rmcp::model::CompletionInfo;

use crate::app::App;

/// Completions for argument `name` whose value so far is `prefix`.
pub(crate) fn complete(app: &App, name: &str, prefix: &str) -> CompletionInfo {
    let plan = app.plan();
    let want = prefix.trim().to_lowercase();
    let matches = |candidate: &str| candidate.to_lowercase().starts_with(&want);
    let values: Vec<String> = match name {
        "story_id" => plan
            .stories
            .iter()
            .map(|s| s.id.as_str())
            .filter(|id| matches(id))
            .map(str::to_string)
            .collect(),
        "sprint" => {
            // "5" completes to "05" as well as "50".
            let unpadded = want.trim_start_matches('0');
            plan.sprints
                .iter()
                .map(|s| s.id.as_str())
                .filter(|id| matches(id) || id.trim_start_matches('0').starts_with(unpadded))
                .map(str::to_string)
                .collect()
        }
        "role" => plan
            .roles
            .iter()
            .map(|r| r.slug.as_str())
            .filter(|slug| matches(slug))
            .map(str::to_string)
            .collect(),
        "id" => app
            .list_handoffs(None)
            .map(|l| l.handoffs)
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.id)
            .filter(|id| matches(id))
            .collect(),
        _ => Vec::new(),
    };
    let total = values.len();
    let shown: Vec<String> = values
        .into_iter()
        .take(CompletionInfo::MAX_VALUES)
        .collect();
    let has_more = total > shown.len();
    CompletionInfo::with_pagination(shown, u32::try_from(total).ok(), has_more).unwrap_or_default()
}
