//! MCP resources: every plan document (`storypack://plan/<path>`), a pack per story
//! (`storypack://pack/{story_id}`, a template).
//!
//! URIs are parsed strictly (percent-decoded once, then no `.`/`..`/empty segments, NUL,
//! backslash or control characters) and resolved against the in-memory model only: a plan
//! document is served from the parsed plan, never read from disk by the path a client gave,
//! so no URI can reach outside the plan root.

use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};

use super::tools::parse_cursor;
use crate::app::App;
use crate::pack::{self, PackRequest};

pub const SCHEME: &str = "storypack://";
pub const PLAN_PREFIX: &str = "storypack://plan/";
pub const PACK_PREFIX: &str = "storypack://pack/";
pub const PACK_TEMPLATE: &str = "storypack://pack/{story_id}";
/// Longest resource URI accepted.
pub const MAX_URI_LEN: usize = 2_048;
/// Resources per `resources/list` page.
pub const LIST_PAGE: usize = 200;

const MARKDOWN: &str = "text/markdown";

/// What a URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A plan document, by its path relative to the plan root.
    Doc(String),
    /// The context pack of a story (default budget and encoding).
    Pack(String),
}

fn invalid(message: impl std::fmt::Display) -> ErrorData {
    ErrorData::invalid_params(format!("uri: {message}"), None)
}

fn not_found(message: impl std::fmt::Display) -> ErrorData {
    ErrorData::resource_not_found(format!("uri: {message}"), None)
}

/// `%XX` sequences decoded once; anything malformed is refused.
fn percent_decode(s: &str) -> Result<String, ErrorData> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid("malformed percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid("not UTF-8 once percent-decoded"))
}

/// Parses a `storypack://` URI into what it names.
pub fn parse(uri: &str) -> Result<Target, ErrorData> {
    if uri.len() > MAX_URI_LEN {
        return Err(invalid(format!("longer than {MAX_URI_LEN} bytes")));
    }
    let Some(rest) = uri.strip_prefix(SCHEME) else {
        return Err(not_found(format!(
            "`{}` is not a storypack:// URI",
            uri.chars().take(64).collect::<String>()
        )));
    };
    let rest = percent_decode(rest)?;
    if rest.chars().any(|c| c.is_control() || c == '\\') {
        return Err(invalid(
            "must not contain NUL, backslashes or control characters",
        ));
    }
    let Some((kind, path)) = rest.split_once('/') else {
        return Err(not_found(format!("nothing at `{uri}`")));
    };
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(invalid(
            "`..`, `.` and empty path segments are not accepted",
        ));
    }
    match kind {
        "plan" => Ok(Target::Doc(path.to_string())),
        "pack" if !path.contains('/') => Ok(Target::Pack(path.to_string())),
        _ => Err(not_found(format!("nothing at `{uri}`"))),
    }
}

pub fn doc_uri(path: &str) -> String {
    format!("{PLAN_PREFIX}{path}")
}

pub fn pack_uri(story_id: &str) -> String {
    format!("{PACK_PREFIX}{story_id}")
}

/// All concrete resources, one page at a time.
pub fn list(app: &App, cursor: Option<&str>) -> Result<ListResourcesResult, ErrorData> {
    let docs = &app.plan().docs;
    let start = parse_cursor(cursor, docs.len())
        .map_err(|m| ErrorData::invalid_params(format!("cursor: {m}"), None))?;
    let end = (start + LIST_PAGE).min(docs.len());
    let resources = docs[start..end]
        .iter()
        .map(|d| {
            let mut r = Resource::new(doc_uri(&d.path), d.path.clone()).with_mime_type(MARKDOWN);
            r.title = d.title.clone();
            r.size = Some(d.text.len() as u64);
            r
        })
        .collect();
    let mut result = ListResourcesResult::with_all_items(resources);
    result.next_cursor = (end < docs.len()).then(|| end.to_string());
    Ok(result)
}

pub fn templates() -> ListResourceTemplatesResult {
    let pack = ResourceTemplate::new(PACK_TEMPLATE, "pack")
        .with_title("Context pack of a story")
        .with_description(format!(
            "The story's context pack in Markdown ({} o200k_base tokens at most).",
            pack::DEFAULT_BUDGET
        ))
        .with_mime_type(MARKDOWN);
    ListResourceTemplatesResult::with_all_items(vec![pack])
}

/// Reads one resource from the plan in memory.
pub fn read(app: &App, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let text = match parse(uri)? {
        Target::Doc(path) => match app.plan().doc(&path) {
            Some(doc) => doc.text.clone(),
            None => {
                return Err(not_found(format!(
                    "no plan document `{path}` (resources/list names them)"
                )));
            }
        },
        Target::Pack(story_id) => {
            let built = app
                .pack(&PackRequest {
                    story_id,
                    ..PackRequest::default()
                })
                .map_err(|e| super::errors::protocol_error(&e))?;
            pack::render::markdown(&built)
        }
    };
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type(MARKDOWN),
    ]))
}

/// Whether `uri` reads differently in `new` than in `old` (what `resources/updated` says).
pub fn changed(uri: &str, old: &App, new: &App) -> bool {
    match parse(uri) {
        Ok(Target::Doc(path)) => {
            old.plan().doc(&path).map(|d| &d.hash) != new.plan().doc(&path).map(|d| &d.hash)
        }
        Ok(Target::Pack(story_id)) => {
            let hash = |app: &App| {
                app.pack(&PackRequest {
                    story_id: story_id.clone(),
                    ..PackRequest::default()
                })
                .map(|p| p.hash)
                .ok()
            };
            hash(old) != hash(new)
        }
        Err(_) => false,
    }
}
