//! The MCP tools, one file per family (`plan`, `packs`, `handoffs`, `coord`, `gate`): each file holds its argument types beside the
//! `#[tool]` methods, which only translate arguments, call [`crate::app::App`] and wrap the
//! result. Shared here: [`Output`] (structured content plus a readable text), output schemas
//! kept lean, cursor paging, and the argument pre-check that names the field at fault.

mod coord;
mod gate;
mod handoffs;
mod packs;
mod plan;

use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::handler::server::tool::{IntoCallToolResult, schema_for_output, schema_for_type};
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, JsonObject};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::errors::ToolError;

/// The tool families `storypack serve --toolsets` picks from, as GitHub's MCP server does:
/// a client that needs only packs lists fewer definitions.
pub const TOOLSETS: &[(&str, &[&str])] = &[
    (
        "plan",
        &[
            "list_sprints",
            "get_priorities",
            "list_stories",
            "search_plan",
        ],
    ),
    ("packs", &["build_context_pack"]),
    (
        "handoffs",
        &["record_handoff", "list_handoffs", "next_story"],
    ),
    ("gates", &["check_gate"]),
];

/// Tools that write (append) to the record: left out by `--read-only` (`next_story` stays,
/// without claims).
pub(crate) const WRITING_TOOLS: &[&str] = &["record_handoff"];

/// Which tools a server offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolSelection {
    /// Toolset names (see [`TOOLSETS`]); empty: all.
    pub toolsets: Vec<String>,
    /// Nothing is recorded: no `record_handoff`, no claims.
    pub read_only: bool,
}

impl ToolSelection {
    /// Checks the toolset names; the error names the unknown one and the known ones.
    pub fn check(&self) -> Result<(), String> {
        for t in &self.toolsets {
            if !TOOLSETS.iter().any(|(name, _)| name == t) {
                let known: Vec<&str> = TOOLSETS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "--toolsets: no toolset `{}` (known: {})",
                    t.chars().take(32).collect::<String>(),
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Whether the tool `name` is offered.
    pub(crate) fn offers(&self, name: &str) -> bool {
        if self.read_only && WRITING_TOOLS.contains(&name) {
            return false;
        }
        self.toolsets.is_empty()
            || TOOLSETS
                .iter()
                .filter(|(set, _)| self.toolsets.iter().any(|t| t == set))
                .any(|(_, tools)| tools.contains(&name))
    }
}

/// What a tool returns: the value (structured content; its JSON Schema is the tool's output
/// schema) and a short readable rendering of it (the text content).
struct Output<T> {
    pub value: T,
    pub text: String,
    /// The tool ran but did not do what was asked (a contract not recorded): `isError`,
    /// with the structured value still describing why.
    pub failed: bool,
}

impl<T> Output<T> {
    fn new(value: T, text: String) -> Self {
        Output {
            value,
            text,
            failed: false,
        }
    }
}

impl<T: Serialize> IntoCallToolResult for Output<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        let value = serde_json::to_value(&self.value).map_err(|e| {
            ErrorData::internal_error(format!("cannot serialize the result: {e}"), None)
        })?;
        let mut result = CallToolResult::success(vec![ContentBlock::text(self.text)]);
        result.structured_content = Some(value);
        if self.failed {
            result.is_error = Some(true);
        }
        Ok(result.into())
    }
}

/// What every tool method returns.
type ToolResult<T> = Result<Output<T>, ToolError>;

/// The output schema of `T` as `tools/list` shows it: the top level only, each property
/// with its JSON type, without prose, nested definitions or the `required` list. A property
/// that may be null is `anyOf` its type and `null` (a type list `[T, "null"]` is not
/// portable: single-type dialects such as Gemini's reject it); one left out when it has no
/// value is its type alone. Every result validates against it; the full shapes
/// are in docs/results.md. This keeps the whole `tools/list` response small
/// (a test holds it under 3,000 o200k tokens).
fn output_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    let full = schema_for_output::<T>();
    let defs = full.get("$defs").and_then(Value::as_object);
    let mut out = Map::new();
    out.insert("type".into(), Value::from("object"));
    if let Some(props) = full.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = full
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let shallow: Map<String, Value> = props
            .iter()
            .map(|(name, schema)| {
                let mut p = Map::new();
                let mut types = json_types(schema, defs);
                // Not required: left out when it has no value, never null.
                if !required.contains(&name.as_str())
                    && let Value::Array(list) = &types
                {
                    let not_null: Vec<Value> =
                        list.iter().filter(|t| *t != "null").cloned().collect();
                    if not_null.len() == 1 {
                        types = not_null[0].clone();
                    }
                }
                match types {
                    Value::Array(types) => {
                        let branches: Vec<Value> = types
                            .into_iter()
                            .map(|t| serde_json::json!({ "type": t }))
                            .collect();
                        p.insert("anyOf".into(), Value::Array(branches));
                    }
                    one => {
                        p.insert("type".into(), one);
                    }
                }
                (name.clone(), Value::Object(p))
            })
            .collect();
        out.insert("properties".into(), Value::Object(shallow));
    }
    Arc::new(out)
}

/// The JSON type(s) a property schema allows: `"string"`, or `["object", "null"]` for an
/// optional reference.
fn json_types(schema: &Value, defs: Option<&Map<String, Value>>) -> Value {
    let mut types: Vec<String> = Vec::new();
    collect_types(schema, defs, &mut types, 0);
    types.dedup();
    match types.len() {
        0 => Value::from(vec![
            "string", "number", "integer", "boolean", "object", "array", "null",
        ]),
        1 => Value::from(types.remove(0)),
        _ => Value::from(types),
    }
}

fn collect_types(
    schema: &Value,
    defs: Option<&Map<String, Value>>,
    out: &mut Vec<String>,
    depth: u8,
) {
    if depth > 8 {
        return;
    }
    let mut push = |t: &str| {
        if !out.iter().any(|x| x == t) {
            out.push(t.to_string());
        }
    };
    match schema.get("type") {
        Some(Value::String(t)) => push(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).for_each(&mut push),
        _ => {}
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/$defs/")
            .and_then(|name| defs.and_then(|d| d.get(name)));
        match target {
            Some(def) => collect_types(def, defs, out, depth + 1),
            None => push("object"),
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            for sub in list {
                collect_types(sub, defs, out, depth + 1);
            }
        }
    }
    if out.is_empty() && schema.get("properties").is_some() {
        out.push("object".into());
    }
}

/// The input schema of `T`: every argument with its type, bounds and description; shapes
/// it refers to (the handoff contract) inlined with their structure, without their prose.
/// Portable and lean: an optional argument is its type alone (absent means none, and
/// `null` is still accepted), not `[T, "null"]`; no `$defs`, `$schema`, integer formats or
/// `additionalProperties` (unknown arguments are refused by name all the same).
fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    let mut schema = schema_for_type::<T>().as_ref().clone();
    for key in ["$schema", "title", "description"] {
        schema.remove(key);
    }
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        for p in props.values_mut() {
            if let Value::Object(p) = p {
                p.remove("format");
            }
        }
    }
    let defs = match schema.remove("$defs") {
        Some(Value::Object(mut defs)) => {
            for def in defs.values_mut() {
                strip_prose(def);
            }
            defs
        }
        _ => Map::new(),
    };
    let mut value = Value::Object(schema);
    portable(&mut value, &defs, 0);
    match value {
        Value::Object(schema) => Arc::new(schema),
        _ => Arc::new(JsonObject::new()),
    }
}

/// Rewrites a schema for every client: `$ref`s into `defs` inlined, `[T, "null"]` and
/// `anyOf [X, null]` as `T` and `X`, an enum without its redundant `type`, no
/// `additionalProperties: false`.
fn portable(schema: &mut Value, defs: &Map<String, Value>, depth: u8) {
    let Value::Object(map) = schema else {
        return;
    };
    if depth > 16 {
        return;
    }
    if let Some(Value::String(r)) = map.get("$ref")
        && let Some(def) = r
            .strip_prefix("#/$defs/")
            .and_then(|name| defs.get(name))
            .and_then(Value::as_object)
    {
        let def = def.clone();
        map.remove("$ref");
        for (k, v) in def {
            map.entry(k).or_insert(v);
        }
    }
    if let Some(Value::Array(list)) = map.get("anyOf") {
        let not_null: Vec<&Value> = list
            .iter()
            .filter(|s| s.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if not_null.len() == 1 && list.len() == 2 {
            let only = not_null[0].clone();
            map.remove("anyOf");
            if let Value::Object(only) = only {
                for (k, v) in only {
                    map.entry(k).or_insert(v);
                }
            }
            // The inlined branch may itself be a reference.
            let mut again = Value::Object(std::mem::take(map));
            portable(&mut again, defs, depth + 1);
            if let Value::Object(m) = again {
                *map = m;
            }
            return;
        }
    }
    if let Some(Value::Array(types)) = map.get("type") {
        let not_null: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        if not_null.len() == 1 {
            map.insert("type".into(), not_null[0].clone());
        }
    }
    if map.contains_key("enum") {
        map.remove("type");
    }
    if map.get("additionalProperties") == Some(&Value::Bool(false)) {
        map.remove("additionalProperties");
    }
    // The pre-check's defaults (see `check_value`): stated only where a bound differs.
    if map
        .get("maxLength")
        .and_then(Value::as_u64)
        .is_some_and(|m| m <= DEFAULT_MAX_LEN as u64)
    {
        map.remove("maxLength");
    }
    if map.get("minLength").and_then(Value::as_u64) == Some(1) {
        map.remove("minLength");
    }
    for (key, value) in map.iter_mut() {
        match (key.as_str(), value) {
            ("properties", Value::Object(children)) => {
                children
                    .values_mut()
                    .for_each(|c| portable(c, defs, depth + 1));
            }
            ("anyOf" | "oneOf" | "allOf", Value::Array(list)) => {
                list.iter_mut().for_each(|c| portable(c, defs, depth + 1));
            }
            ("items", v) => portable(v, defs, depth + 1),
            _ => {}
        }
    }
}

/// Removes descriptions, titles and formats from a schema and everything below it (but not
/// properties that happen to be named so).
fn strip_prose(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    for key in ["description", "title", "format", "$schema", "default"] {
        map.remove(key);
    }
    for (key, value) in map.iter_mut() {
        match (key.as_str(), value) {
            ("properties" | "$defs", Value::Object(children)) => {
                children.values_mut().for_each(strip_prose);
            }
            ("anyOf" | "oneOf" | "allOf", Value::Array(list)) => {
                list.iter_mut().for_each(strip_prose)
            }
            ("items" | "additionalProperties", v) => strip_prose(v),
            _ => {}
        }
    }
}

/// Where a tool's work runs, off the async workers.
pub(crate) enum Pool {
    /// CPU-bound work (packs, searches): the long-lived request thread while it is free,
    /// else tokio's blocking pool (see [`crate::mcp::hot`]).
    Hot,
    /// File and store I/O (handoffs, gates) and one-off work (building the index): tokio's
    /// blocking pool.
    Blocking,
}

/// Runs a tool's work on `pool` and turns both failures into the tool's error: the work's
/// own (a bad argument, an unknown id) as is, a panic or a lost thread as `<what> failed: ..`.
pub(crate) async fn off_runtime<T, E, F>(
    what: &'static str,
    pool: Pool,
    work: F,
) -> Result<T, ToolError>
where
    T: Send + 'static,
    E: Send + 'static,
    ToolError: From<E>,
    F: FnOnce() -> Result<T, E> + Send + 'static,
{
    let joined = match pool {
        Pool::Hot => super::hot::run(work).await,
        Pool::Blocking => tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| e.to_string()),
    };
    Ok(joined.map_err(|e| ToolError(format!("{what} failed: {e}")))??)
}

/// Longest page cursor accepted (`<scope>.<offset>`).
const MAX_CURSOR_LEN: usize = 32;
/// Longest `status` filter accepted ("todo", "done").
const MAX_STATUS_LEN: usize = 16;
/// Longest `encoding` accepted ("o200k_base", "cl100k_base").
const MAX_ENCODING_LEN: usize = 32;

/// Largest page of a list result, in bytes of JSON (about 8,000 tokens): with its text
/// rendering a page stays well under the 25,000-token tool output limit of clients.
const PAGE_BYTES: usize = 32_000;
/// Most items on one page.
const PAGE_ITEMS: usize = 100;

/// One page of `items` from `cursor` (what a previous page of the same tool and query handed
/// out): as many items as fit in `PAGE_BYTES` of JSON, at least one, at most `limit`.
/// Returns the page and the cursor of the next one.
///
/// A cursor is `<scope>.<offset>`: `scope` names the tool and its query (everything but
/// the cursor), hashed, so a cursor from another tool or another query is refused rather
/// than read as an offset into the wrong list.
fn page<T: Serialize + Clone>(
    items: &[T],
    cursor: Option<&str>,
    limit: usize,
    scope: &str,
) -> Result<(Vec<T>, Option<String>), ToolError> {
    let tag = &blake3::hash(scope.as_bytes()).to_hex()[..8];
    let offset = match cursor {
        None => None,
        Some(c) => match c.split_once('.') {
            Some((t, n)) if t == tag => Some(n),
            Some((t, _)) if t.len() == 8 && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
                return Err(ToolError::invalid(
                    "cursor",
                    "this cursor belongs to another tool or other arguments: pass the \
                     next_cursor this tool returned for the same arguments",
                ));
            }
            _ => {
                return Err(ToolError::invalid(
                    "cursor",
                    format!(
                        "`{}` is not a cursor this server handed out (use next_cursor)",
                        c.chars().take(32).collect::<String>()
                    ),
                ));
            }
        },
    };
    let start = parse_cursor(offset, items.len()).map_err(|m| ToolError::invalid("cursor", m))?;
    let mut out = Vec::new();
    let mut bytes = 0;
    for item in &items[start..] {
        let size = serde_json::to_vec(item).map(|v| v.len()).unwrap_or(0);
        if out.len() >= limit || (!out.is_empty() && bytes + size > PAGE_BYTES) {
            break;
        }
        bytes += size;
        out.push(item.clone());
    }
    let end = start + out.len();
    let next = (end < items.len()).then(|| format!("{tag}.{end}"));
    Ok((out, next))
}

/// The text of one page: `render` of its items, then how to get the next page; or, for a
/// page past the last item of a list that has some, just that.
fn page_text(
    render: impl FnOnce() -> String,
    next: &Option<String>,
    shown: usize,
    total: usize,
) -> String {
    if shown == 0 && total > 0 {
        return format!("No more: this page starts after the last of the {total} items.\n");
    }
    let mut text = render();
    text.push_str(&more_line(next, shown, total));
    text
}

/// A cursor is the offset of the first item of the page, as handed out in `next_cursor`.
pub(crate) fn parse_cursor(cursor: Option<&str>, len: usize) -> Result<usize, String> {
    let Some(c) = cursor else {
        return Ok(0);
    };
    match c.parse::<usize>() {
        Ok(n) if n <= len => Ok(n),
        Ok(n) => Err(format!("{n} is past the end of the list ({len} items)")),
        Err(_) => Err(format!(
            "`{}` is not a cursor this server handed out (use next_cursor)",
            c.chars().take(32).collect::<String>()
        )),
    }
}

/// The readable line that tells a caller how to get the next page.
fn more_line(next: &Option<String>, shown: usize, total: usize) -> String {
    match next {
        Some(c) => format!("Showing {shown} of {total}; pass cursor \"{c}\" for more.\n"),
        None => String::new(),
    }
}

/// What clients commonly send in another shape than the schema's, taken as they mean it: a
/// sprint as a number (`{"sprint": 2}`, as the Inspector and many models send it) is the
/// sprint `"2"`; a `contract` sent as a string holding a JSON object is that object.
pub(crate) fn lenient_arguments(args: &mut JsonObject) {
    if let Some(Value::Number(n)) = args.get("sprint")
        && (n.is_u64() || n.is_i64())
    {
        let s = n.to_string();
        args.insert("sprint".into(), Value::String(s));
    }
    if let Some(Value::String(s)) = args.get("contract")
        && s.trim_start().starts_with('{')
        && let Ok(obj @ Value::Object(_)) = serde_json::from_str::<Value>(s)
    {
        args.insert("contract".into(), obj);
    }
}

/// Checks `arguments` against the tool's input schema before the typed parse, so that a
/// wrong type, a missing or unknown field, a too-long string or an out-of-range number is
/// reported with the field's name. Arguments the schema describes by reference (a handoff
/// contract) are left to the library's own validation.
pub(crate) fn check_arguments(
    schema: &JsonObject,
    arguments: Option<&JsonObject>,
) -> Result<(), String> {
    let empty = Map::new();
    let args = arguments.unwrap_or(&empty);
    let props = schema.get("properties").and_then(Value::as_object);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !args.contains_key(name) {
                return Err(format!("{name}: missing (this argument is required)"));
            }
        }
    }
    for (name, value) in args {
        let Some(prop) = props.and_then(|p| p.get(name)).and_then(Value::as_object) else {
            let known: Vec<&str> = props
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let name: String = name.chars().take(64).collect();
            return Err(if known.is_empty() {
                format!("{name}: unknown argument (this tool takes none)")
            } else {
                format!(
                    "{name}: unknown argument (expected one of: {})",
                    known.join(", ")
                )
            });
        };
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|x| x.as_str() == Some(name.as_str())));
        check_value(name, prop, value, required)?;
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A string argument's length when its schema states none: ids, names and cursors are
/// far shorter; a longer value is refused before anything looks it up.
const DEFAULT_MAX_LEN: usize = crate::priorities::MAX_ARG_LEN;

fn check_value(
    name: &str,
    prop: &Map<String, Value>,
    value: &Value,
    required: bool,
) -> Result<(), String> {
    // An optional argument may be sent as null: the same as leaving it out.
    if value.is_null() && !required {
        return Ok(());
    }
    if let Value::String(s) = value {
        if s.contains('\0') {
            return Err(format!("{name}: must not contain NUL"));
        }
        let max = prop
            .get("maxLength")
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_MAX_LEN as u64);
        if s.chars().count() as u64 > max {
            return Err(format!("{name}: longer than {max} characters"));
        }
        if s.is_empty() && required {
            return Err(format!("{name}: must not be empty"));
        }
    }
    let allowed: Vec<&str> = match prop.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let got = json_type(value);
    let fits = allowed
        .iter()
        .any(|t| *t == got || (*t == "number" && got == "integer"));
    if !fits {
        return Err(format!(
            "{name}: expected {}, got {got}",
            allowed.join(" or ")
        ));
    }
    if let Some(n) = value.as_f64() {
        let min = prop.get("minimum").and_then(Value::as_f64);
        let max = prop.get("maximum").and_then(Value::as_f64);
        if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
            let show = |b: Option<f64>| b.map(|b| b.to_string()).unwrap_or_default();
            return Err(format!(
                "{name}: {value} is out of range ({}..={})",
                show(min),
                show(max)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hand_out_cursors_of_their_own_scope_and_say_when_past_the_end() {
        let items: Vec<u32> = (0..5).collect();
        let (first, next) = page(&items, None, 2, "a").unwrap();
        assert_eq!(first, [0, 1]);
        let next = next.unwrap();
        let (second, _) = page(&items, Some(&next), 2, "a").unwrap();
        assert_eq!(second, [2, 3]);
        let other = page(&items, Some(&next), 2, "b").unwrap_err();
        assert!(
            other.0.contains("another tool or other arguments"),
            "{}",
            other.0
        );
        let junk = page(&items, Some("7"), 2, "a").unwrap_err();
        assert!(junk.0.contains("not a cursor"), "{}", junk.0);
        // A page past the last item (the list shrank since): said so, not "no items".
        let tag = next.split_once('.').unwrap().0;
        let (empty, none) = page(&items, Some(&format!("{tag}.5")), 2, "a").unwrap();
        assert!(empty.is_empty() && none.is_none());
        let text = page_text(|| "No sprints: none.\n".into(), &none, 0, 5);
        assert_eq!(
            text,
            "No more: this page starts after the last of the 5 items.\n"
        );
        assert_eq!(
            page_text(|| "No sprints.\n".into(), &None, 0, 0),
            "No sprints.\n"
        );
    }
}
