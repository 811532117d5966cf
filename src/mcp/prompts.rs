//! MCP prompts from `prompts/*.md`: front matter (name, description, arguments) over a
//! Markdown body with `{{placeholders}}`. The shipped prompts are compiled in; a plan repo's
//! own `prompts/*.md` replace them by name or add new ones.
//!
//! ```text
//! ---
//! name: start_story
//! description: Start work on a story.
//! arguments:
//!   - story_id (required): The story to start, e.g. SRE-04-01.
//! ---
//! Body with {{story}}, {{pack}} ...
//! ```
//!
//! Placeholders are filled from the plan in memory: an argument by its name, or one of
//! [`BLOCKS`]. A template that names an unknown placeholder keeps it as written (and the
//! load logs a warning).
//!
//! A prompt that declares an optional `story_id` and a `role` starts, when no story is
//! given, from the next ready story for that role (`next_story`), as `start_story` does.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::path::Path;

use rmcp::ErrorData;
use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::json;

use super::errors::prompt_error;
use crate::app::{self, App};
use crate::model::StoryStatus;
use crate::pack::{self, PackRequest};
use crate::priorities::{PriorityQuery, StoryFilter};
use crate::render;

pub(crate) const PROMPTS_DIR: &str = "prompts";

/// Token budget of a pack rendered into a prompt (leaves room for the rest of the prompt).
const PROMPT_PACK_BUDGET: usize = 6_000;
/// Longest prompt argument value accepted.
const MAX_ARGUMENT_LEN: usize = 128;
/// Largest prompt template file read from a plan repo.
const MAX_TEMPLATE_BYTES: u64 = 64 * 1024;

const SHIPPED: &[(&str, &str)] = &[
    (
        "prompts/start_story.md",
        include_str!("../../prompts/start_story.md"),
    ),
    (
        "prompts/handoff.md",
        include_str!("../../prompts/handoff.md"),
    ),
    (
        "prompts/gate_review.md",
        include_str!("../../prompts/gate_review.md"),
    ),
];

/// Placeholders filled from the plan, and the argument each needs.
const BLOCKS: &[(&str, &str)] = &[
    ("story", "story_id"),
    ("dependencies", "story_id"),
    ("pack", "story_id"),
    ("priorities", "sprint"),
    ("stories", "sprint"),
    ("gate", "sprint"),
    ("handoffs", "story_id"),
    ("contract_template", "story_id"),
    ("today", ""),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArgumentDef {
    pub name: String,
    pub description: String,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PromptDef {
    pub name: String,
    pub description: String,
    pub arguments: Vec<ArgumentDef>,
    pub body: String,
    /// Where it came from: `prompts/<file>.md` of the plan, or `shipped`.
    pub source: String,
}

/// The prompts a server offers, by name.
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    defs: BTreeMap<String, PromptDef>,
}

impl Prompts {
    /// The shipped prompts, then the plan's `prompts/*.md` over them.
    pub(crate) fn load(root: &Path) -> Prompts {
        let mut defs = BTreeMap::new();
        for (path, text) in SHIPPED {
            match parse(text, "shipped") {
                Ok(def) => {
                    defs.insert(def.name.clone(), def);
                }
                Err(e) => tracing::error!(path, error = %e, "shipped prompt does not parse"),
            }
        }
        for (path, text) in read_dir(&root.join(PROMPTS_DIR)) {
            match parse(&text, &path) {
                Ok(def) => {
                    defs.insert(def.name.clone(), def);
                }
                Err(e) => tracing::warn!(path, error = %e, "prompt skipped"),
            }
        }
        Prompts { defs }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&PromptDef> {
        self.defs.get(name)
    }

    pub(crate) fn list(&self) -> Vec<Prompt> {
        self.defs
            .values()
            .map(|d| {
                let args = d
                    .arguments
                    .iter()
                    .map(|a| {
                        PromptArgument::new(&a.name)
                            .with_description(&a.description)
                            .with_required(a.required)
                    })
                    .collect();
                Prompt::new(&d.name, Some(&d.description), Some(args))
            })
            .collect()
    }
}

fn read_dir(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            // Regular files only (never a FIFO swapped in after the listing).
            let text = crate::regular::read_text(&p, MAX_TEMPLATE_BYTES)
                .ok()
                .flatten()?;
            Some((format!("{PROMPTS_DIR}/{name}"), text))
        })
        .collect();
    out.sort();
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Parses one template file: front matter, then the body.
fn parse(text: &str, source: &str) -> Result<PromptDef, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        return Err("must start with a `---` front matter block".into());
    }
    let mut name = None;
    let mut description = None;
    let mut arguments: Vec<ArgumentDef> = Vec::new();
    let mut closed = false;
    let mut in_arguments = false;
    for line in lines.by_ref() {
        let trimmed = line.trim_end();
        if trimmed == "---" {
            closed = true;
            break;
        }
        if in_arguments && let Some(item) = trimmed.trim_start().strip_prefix("- ") {
            arguments.push(parse_argument(item)?);
            continue;
        }
        in_arguments = false;
        let Some((key, value)) = trimmed.split_once(':') else {
            if trimmed.trim().is_empty() {
                continue;
            }
            return Err(format!("front matter line `{trimmed}` is not `key: value`"));
        };
        let value = value.trim();
        match key.trim() {
            "name" => name = Some(value.to_string()),
            "description" => description = Some(value.to_string()),
            "arguments" => in_arguments = true,
            other => return Err(format!("unknown front matter key `{other}`")),
        }
    }
    if !closed {
        return Err("the front matter block is not closed with `---`".into());
    }
    let name = name.ok_or("front matter has no `name`")?;
    if !is_name(&name) {
        return Err(format!(
            "name `{name}` must be lowercase letters, digits, _ or -"
        ));
    }
    let body: String = lines.collect::<Vec<_>>().join("\n");
    let def = PromptDef {
        name,
        description: description.unwrap_or_default(),
        arguments,
        body: body.trim().to_string() + "\n",
        source: source.to_string(),
    };
    for key in placeholders(&def.body) {
        let known =
            def.arguments.iter().any(|a| a.name == key) || BLOCKS.iter().any(|(b, _)| *b == key);
        if !known {
            tracing::warn!(prompt = %def.name, placeholder = %key, "unknown placeholder kept as written");
        }
    }
    Ok(def)
}

/// `story_id (required): The story to start.`
fn parse_argument(item: &str) -> Result<ArgumentDef, String> {
    let (head, description) = item
        .split_once(':')
        .ok_or_else(|| format!("argument `{item}` is not `name (required): description`"))?;
    let head = head.trim();
    let (name, required) = match head.strip_suffix("(required)") {
        Some(n) => (n.trim(), true),
        None => (
            head.strip_suffix("(optional)").unwrap_or(head).trim(),
            false,
        ),
    };
    if !is_name(name) {
        return Err(format!(
            "argument name `{name}` must be lowercase letters, digits, _ or -"
        ));
    }
    Ok(ArgumentDef {
        name: name.to_string(),
        description: description.trim().to_string(),
        required,
    })
}

/// The `{{key}}` placeholders of a body, in order.
fn placeholders(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    out
}

/// Renders a prompt with its arguments against the plan.
pub(crate) fn render(
    def: &PromptDef,
    arguments: &HashMap<String, String>,
    app: &App,
) -> Result<GetPromptResult, ErrorData> {
    for (name, value) in arguments {
        if !def.arguments.iter().any(|a| &a.name == name) {
            let known: Vec<&str> = def.arguments.iter().map(|a| a.name.as_str()).collect();
            return Err(ErrorData::invalid_params(
                format!(
                    "{}: not an argument of prompt {} (arguments: {})",
                    name.chars().take(64).collect::<String>(),
                    def.name,
                    known.join(", ")
                ),
                None,
            ));
        }
        if value.len() > MAX_ARGUMENT_LEN || value.contains('\0') {
            return Err(ErrorData::invalid_params(
                format!("{name}: must be at most {MAX_ARGUMENT_LEN} characters of text"),
                None,
            ));
        }
    }
    let chosen = next_story_argument(def, arguments, app)?;
    let arguments = chosen.as_ref().unwrap_or(arguments);
    for a in def.arguments.iter().filter(|a| a.required) {
        if arguments.get(&a.name).is_none_or(|v| v.trim().is_empty()) {
            return Err(ErrorData::invalid_params(
                format!("{}: missing (prompt {} requires it)", a.name, def.name),
                None,
            ));
        }
    }
    let mut cache: HashMap<String, String> = HashMap::new();
    let mut out = String::with_capacity(def.body.len());
    let mut rest = def.body.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let key = after[..end].trim();
        let value = match cache.get(key) {
            Some(v) => v.clone(),
            None => {
                let v = fill(key, arguments, app)?.unwrap_or_else(|| format!("{{{{{key}}}}}"));
                cache.insert(key.to_string(), v.clone());
                v
            }
        };
        out.push_str(value.trim_end());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    let mut result = GetPromptResult::new(vec![PromptMessage::new_text(Role::User, out)]);
    result.description = Some(def.description.clone());
    Ok(result)
}

/// A prompt with an optional `story_id` and a `role` argument starts from the next ready
/// story when no story is given (`next_story` for that role, and `sprint` if declared):
/// the arguments with `story_id` filled, or None when there is nothing to fill.
fn next_story_argument(
    def: &PromptDef,
    arguments: &HashMap<String, String>,
    app: &App,
) -> Result<Option<HashMap<String, String>>, ErrorData> {
    let declares = |name: &str| def.arguments.iter().any(|a| a.name == name);
    let given = |name: &str| {
        arguments
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if !declares("story_id") || !declares("role") || given("story_id").is_some() {
        return Ok(None);
    }
    let req = app::NextRequest {
        role: given("role"),
        sprint: given("sprint"),
        ..app::NextRequest::default()
    };
    let next = app
        .next_story(&req, app::today())
        .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
    let Some(story) = next.story else {
        return Err(ErrorData::invalid_params(
            format!("story_id: not given, and {}", next.why.join("; ")),
            None,
        ));
    };
    let mut filled = arguments.clone();
    filled.insert("story_id".into(), story.id);
    Ok(Some(filled))
}

fn argument<'a>(
    arguments: &'a HashMap<String, String>,
    name: &str,
    block: &str,
) -> Result<&'a str, ErrorData> {
    arguments.get(name).map(|s| s.trim()).ok_or_else(|| {
        ErrorData::invalid_params(
            format!("{name}: missing (the prompt's {{{{{block}}}}} needs it)"),
            None,
        )
    })
}

/// The text of one placeholder, or `None` when it names nothing known.
fn fill(
    key: &str,
    arguments: &HashMap<String, String>,
    app: &App,
) -> Result<Option<String>, ErrorData> {
    if let Some(v) = arguments.get(key) {
        return Ok(Some(v.trim().to_string()));
    }
    let plan = app.plan();
    let err = |e: crate::Error| prompt_error(&e);
    let text = match key {
        "story" => {
            let story =
                pack::find_story(plan, argument(arguments, "story_id", key)?).map_err(err)?;
            format!(
                "### {} — {}\n\n{}\nsource: {}",
                story.id,
                story.title,
                pack::story_block(story, true),
                story.citation
            )
        }
        "dependencies" => {
            let story =
                pack::find_story(plan, argument(arguments, "story_id", key)?).map_err(err)?;
            let mut out = String::new();
            for id in &story.depends_on {
                match plan.story(id) {
                    Some(dep) => {
                        let state = match dep.status {
                            StoryStatus::Done => "done",
                            StoryStatus::Todo => "not done",
                        };
                        let _ = writeln!(
                            out,
                            "- {} {} ({state}) · {}",
                            dep.id, dep.title, dep.citation
                        );
                    }
                    None => {
                        let _ = writeln!(out, "- {id} (not declared in the plan)");
                    }
                }
            }
            if out.is_empty() {
                out.push_str("None: the story depends on no other story.");
            }
            out
        }
        "pack" => {
            let built = app
                .pack(&PackRequest {
                    story_id: argument(arguments, "story_id", key)?.to_string(),
                    budget_tokens: Some(PROMPT_PACK_BUDGET),
                    ..PackRequest::default()
                })
                .map_err(err)?;
            pack::render::markdown(&built)
        }
        "priorities" => {
            let q = PriorityQuery {
                sprint: Some(argument(arguments, "sprint", key)?.to_string()),
                ..PriorityQuery::default()
            };
            render::priorities(&app.priorities(&q, app::today()).map_err(err)?)
        }
        "stories" => {
            let filter = StoryFilter {
                sprint: Some(argument(arguments, "sprint", key)?.to_string()),
                ..StoryFilter::default()
            };
            render::stories(&app.stories(&filter).map_err(err)?)
        }
        "gate" => {
            let sprint = argument(arguments, "sprint", key)?;
            render::gate(&app.check_gate(sprint, app::today()).map_err(err)?)
        }
        "handoffs" => {
            let story =
                pack::find_story(plan, argument(arguments, "story_id", key)?).map_err(err)?;
            let list = app.list_handoffs(Some(&story.id)).map_err(err)?;
            if list.count == 0 {
                "None recorded yet.".to_string()
            } else {
                render::handoff_list(&list)
            }
        }
        "contract_template" => {
            let story =
                pack::find_story(plan, argument(arguments, "story_id", key)?).map_err(err)?;
            let pack_hash = app
                .pack(&PackRequest {
                    story_id: story.id.clone(),
                    ..PackRequest::default()
                })
                .map(|p| p.hash)
                .unwrap_or_default();
            let acceptance: Vec<serde_json::Value> = story
                .acceptance
                .iter()
                .map(|c| json!({"criterion": c, "status": "met", "evidence": ["<path, URL, commit or test>"]}))
                .collect();
            let template = json!({
                "story_id": story.id,
                "from": {"agent": "<you>", "role": story.role.clone().unwrap_or_default()},
                "to": {"agent": story.reviewer.clone().unwrap_or_else(|| "<who takes it next>".into()), "role": "reviewer"},
                "status": "ready_for_review",
                "summary": "<what was done, in a few sentences>",
                "acceptance": acceptance,
                "evidence": [{"kind": "file", "ref": "<path under the plan root>"}],
                "remaining": [],
                "decisions": [],
                "risks": [],
                "pack": {"story_id": story.id, "hash": pack_hash},
            });
            format!(
                "```json\n{}\n```",
                // A `Value` always prints.
                serde_json::to_string_pretty(&template).unwrap_or_else(|_| template.to_string())
            )
        }
        "today" => app::today().to_string(),
        _ => return Ok(None),
    };
    Ok(Some(text))
}
