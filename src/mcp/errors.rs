//! How failures reach an MCP client. A domain error (a bad argument, an unknown id) is a tool
//! result with `isError` and the library's message, which names the field; only requests the
//! protocol cannot route (unknown tool, unknown resource scheme, malformed parameters) are
//! JSON-RPC errors. `ServerError` is what starting or running the server can fail with.

use std::io;

use rmcp::ErrorData;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use thiserror::Error;

use crate::error::Error;

/// A tool call that ran and failed: shown to the caller as `isError` with this text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ToolError(pub String);

impl From<Error> for ToolError {
    fn from(e: Error) -> Self {
        ToolError(crate::error::chain(&e))
    }
}

impl ToolError {
    /// An argument the protocol layer rejects before the library sees it.
    pub(crate) fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        ToolError(format!("{field}: {message}"))
    }
}

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        Ok(CallToolResult::error(vec![ContentBlock::text(self.0)]).into())
    }
}

/// A library error met while serving a resource or a prompt: not-found ids are
/// `resource_not_found` (-32002), everything else invalid parameters (-32602).
pub(crate) fn protocol_error(e: &Error) -> ErrorData {
    match e {
        Error::NotFound { .. } => ErrorData::resource_not_found(e.to_string(), None),
        Error::Invalid { .. } => ErrorData::invalid_params(e.to_string(), None),
        Error::Plan(_) | Error::Io { .. } | Error::Store(_) => {
            ErrorData::internal_error(crate::error::chain(e), None)
        }
    }
}

/// A library error met while rendering a prompt: an argument naming nothing (an unknown
/// story) is invalid parameters (-32602), as the spec has it for prompts; `resource_not_found`
/// is for resources only.
pub(crate) fn prompt_error(e: &Error) -> ErrorData {
    match e {
        Error::NotFound { .. } | Error::Invalid { .. } => {
            ErrorData::invalid_params(e.to_string(), None)
        }
        _ => protocol_error(e),
    }
}

/// MCP methods this server answers: a request for one of them whose params do not parse
/// reaches `on_custom_request`, and is invalid parameters (-32602), not an unknown method.
pub(crate) const KNOWN_METHODS: &[(&str, &[&str])] = &[
    (
        "initialize",
        &["protocolVersion", "capabilities", "clientInfo"],
    ),
    ("tools/call", &["name"]),
    ("resources/read", &["uri"]),
    ("resources/subscribe", &["uri"]),
    ("resources/unsubscribe", &["uri"]),
    ("prompts/get", &["name"]),
    ("completion/complete", &["ref", "argument"]),
    ("logging/setLevel", &["level"]),
    ("tools/list", &[]),
    ("resources/list", &[]),
    ("resources/templates/list", &[]),
    ("prompts/list", &[]),
    ("ping", &[]),
];

/// The error for a request `on_custom_request` got: bad params of a known method (naming
/// the first required field missing, else saying the params do not fit), or an unknown one.
pub(crate) fn unparsed_request(method: &str, params: Option<&serde_json::Value>) -> ErrorData {
    let shown: String = method.chars().take(64).collect();
    let Some((_, required)) = KNOWN_METHODS.iter().find(|(m, _)| *m == method) else {
        return ErrorData::new(
            rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            format!("method: no method `{shown}`"),
            None,
        );
    };
    let message = match params {
        Some(serde_json::Value::Object(p)) => {
            match required.iter().find(|f| !p.contains_key(**f)) {
                Some(f) => format!("{f}: missing (required by {shown})"),
                None => format!("params: do not fit {shown} (a field has the wrong type)"),
            }
        }
        Some(_) => format!("params: must be an object for {shown}"),
        None => format!("params: missing (required by {shown})"),
    };
    ErrorData::invalid_params(message, None)
}

/// Why the server could not start or stopped abnormally.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error(transparent)]
    Plan(#[from] Error),
    #[error("{0}")]
    Config(String),
    #[error("io: {0}")]
    Io(#[from] io::Error),
    #[error("watch: {0}")]
    Watch(#[from] notify_debouncer_full::notify::Error),
    #[error("mcp: {0}")]
    Initialize(#[from] Box<rmcp::service::ServerInitializeError>),
    #[error("mcp: the server task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl From<rmcp::service::ServerInitializeError> for ServerError {
    fn from(e: rmcp::service::ServerInitializeError) -> Self {
        ServerError::Initialize(Box::new(e))
    }
}
