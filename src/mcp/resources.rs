//! MCP resources: every plan document (`storypack://plan/<path>`), a pack per story
//! (`storypack://pack/{story_id}`, a template), the handoff contract's JSON Schema
//! (`storypack://schema/handoff-contract`) and every recorded handoff
//! (`storypack://handoff/{id}`, `#` written `%23`).
//!
//! URIs are written percent-encoded (RFC 3986): in a plan document's path, every byte but
//! the unreserved and sub-delimiter characters, `:`, `@` and the `/` between segments is
//! `%XX`, so a file name with spaces, control characters or non-ASCII letters gives a valid
//! URI, and `resources/read` takes it back. They are parsed strictly (percent-decoded once,
//! then no `.`/`..`/empty segments or NUL; no backslash or control characters outside a plan
//! document's path) and resolved against the in-memory model only: a plan document is served
//! from the parsed plan, never read from disk by the path a client gave, so no URI can reach
//! outside the plan root.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};

use super::tools::parse_cursor;
use crate::app::App;
use crate::pack::{self, PackRequest};

const SCHEME: &str = "storypack://";
const PLAN_PREFIX: &str = "storypack://plan/";
const PACK_PREFIX: &str = "storypack://pack/";
pub(crate) const PACK_TEMPLATE: &str = "storypack://pack/{story_id}";
const SCHEMA_URI: &str = "storypack://schema/handoff-contract";
const HANDOFF_PREFIX: &str = "storypack://handoff/";
pub(crate) const HANDOFF_TEMPLATE: &str = "storypack://handoff/{id}";
/// Longest resource URI accepted.
const MAX_URI_LEN: usize = 2_048;
/// Resources per `resources/list` page.
const LIST_PAGE: usize = 200;

const MARKDOWN: &str = "text/markdown";
const JSON: &str = "application/json";
const SCHEMA_JSON: &str = "application/schema+json";

/// What a URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A plan document, by its path relative to the plan root.
    Doc(String),
    /// The context pack of a story (default budget and encoding).
    Pack(String),
    /// The handoff contract's JSON Schema.
    Schema,
    /// A recorded handoff, by id (`SRE-04-01#2-k2x7m4pq`).
    Handoff(String),
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
pub(crate) fn parse(uri: &str) -> Result<Target, ErrorData> {
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
    let Some((kind, path)) = rest.split_once('/') else {
        return Err(not_found(format!("nothing at `{uri}`")));
    };
    // A plan document is looked up by exact path among the documents read, so its name may
    // hold any character a file name can; nothing else may.
    let strange = |c: char| c == '\0' || (kind != "plan" && (c.is_control() || c == '\\'));
    if rest.chars().any(strange) {
        return Err(invalid(
            "must not contain NUL, backslashes or control characters",
        ));
    }
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
        "schema" if path == "handoff-contract" => Ok(Target::Schema),
        "handoff" if !path.contains('/') => Ok(Target::Handoff(path.to_string())),
        _ => Err(not_found(format!("nothing at `{uri}`"))),
    }
}

/// What a path segment keeps as it is (RFC 3986 `pchar`: unreserved, sub-delims, `:`, `@`);
/// every other byte is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// `s` as one URI path segment.
fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A plan document's URI: each segment of its path percent-encoded.
fn doc_uri(path: &str) -> String {
    let segments: Vec<String> = path.split('/').map(segment).collect();
    format!("{PLAN_PREFIX}{}", segments.join("/"))
}

pub(crate) fn pack_uri(story_id: &str) -> String {
    format!("{PACK_PREFIX}{}", segment(story_id))
}

/// A handoff's URI: `#` is percent-encoded (`%23`) so that it is not read as a fragment.
fn handoff_uri(id: &str) -> String {
    format!("{HANDOFF_PREFIX}{}", segment(id))
}

/// All concrete resources, one page at a time: the plan documents, the contract schema,
/// the recorded handoffs.
pub(crate) fn list(app: &App, cursor: Option<&str>) -> Result<ListResourcesResult, ErrorData> {
    let docs = &app.plan().docs;
    let handoffs = match app.list_handoffs(None) {
        Ok(l) => l.handoffs,
        Err(e) => {
            tracing::warn!(error = %crate::error::chain(&e), "handoffs not listed");
            Vec::new()
        }
    };
    let total = docs.len() + 1 + handoffs.len();
    let start = parse_cursor(cursor, total)
        .map_err(|m| ErrorData::invalid_params(format!("cursor: {m}"), None))?;
    let end = (start + LIST_PAGE).min(total);
    let resources = (start..end)
        .map(|i| {
            if let Some(d) = docs.get(i) {
                let mut r =
                    Resource::new(doc_uri(&d.path), d.path.clone()).with_mime_type(MARKDOWN);
                r.title = d.title.clone();
                r.size = Some(d.text.len() as u64);
                r
            } else if i == docs.len() {
                Resource::new(SCHEMA_URI, "handoff-contract")
                    .with_title("Handoff contract JSON Schema")
                    .with_mime_type(SCHEMA_JSON)
            } else {
                let id = handoffs
                    .get(i - docs.len() - 1)
                    .map(|h| h.id.as_str())
                    .unwrap_or_default();
                Resource::new(handoff_uri(id), id).with_mime_type(JSON)
            }
        })
        .collect();
    let mut result = ListResourcesResult::with_all_items(resources);
    result.next_cursor = (end < total).then(|| end.to_string());
    Ok(result)
}

pub(crate) fn templates() -> ListResourceTemplatesResult {
    let pack = ResourceTemplate::new(PACK_TEMPLATE, "pack")
        .with_title("Context pack of a story")
        .with_description(format!(
            "The story's context pack in Markdown ({} o200k_base tokens at most).",
            pack::DEFAULT_BUDGET
        ))
        .with_mime_type(MARKDOWN);
    let handoff = ResourceTemplate::new(HANDOFF_TEMPLATE, "handoff")
        .with_title("A recorded handoff")
        .with_description(
            "A recorded handoff contract by id (SRE-04-01#2-k2x7m4pq; write # as %23).",
        )
        .with_mime_type(JSON);
    ListResourceTemplatesResult::with_all_items(vec![pack, handoff])
}

/// Reads one resource from the plan in memory (or the handoff store).
pub(crate) fn read(app: &App, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let library = |e: crate::Error| super::errors::protocol_error(&e);
    let (text, mime) = match parse(uri)? {
        Target::Doc(path) => match app.plan().doc(&path) {
            Some(doc) => (doc.text.clone(), MARKDOWN),
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
                .map_err(library)?;
            (pack::render::markdown(&built), MARKDOWN)
        }
        Target::Schema => (pretty(&crate::handoff::contract_schema()), SCHEMA_JSON),
        Target::Handoff(id) => (pretty(&app.handoff(&id).map_err(library)?), JSON),
    };
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type(mime),
    ]))
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    #[allow(
        clippy::expect_used,
        reason = "resources are the library's own plain data (strings, numbers, enums, maps \
                  with string keys): serializing them cannot fail"
    )]
    let text = serde_json::to_string_pretty(value).expect("a resource serializes");
    text + "\n"
}

/// Whether `uri` reads differently in `new` than in `old` (what `resources/updated` says).
pub(crate) fn changed(uri: &str, old: &App, new: &App) -> bool {
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
        // The schema is compiled in; a recorded handoff never changes.
        Ok(Target::Schema | Target::Handoff(_)) | Err(_) => false,
    }
}
