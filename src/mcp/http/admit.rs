//! What a request must pass before rmcp's service sees it, and the answers rmcp gives that
//! the streamable HTTP spec words otherwise.
//!
//! In order: a duplicate `Host` header is 400; without the bearer token (when one is set),
//! 401. A `POST` body is read here, within `max_body_bytes` (413) and `body_timeout` (408);
//! a body hyper cannot decode (a `Content-Length` next to `Transfer-Encoding: chunked`, not
//! chunked) is 400. A body that is not JSON is 400 with a JSON-RPC parse error (-32700), one
//! that is JSON but no JSON-RPC message 400 with -32600 (rmcp says 415 to both). New
//! sessions (`initialize` without `Mcp-Session-Id`) are opened one at a time, and past
//! `max_sessions` live ones refused with 503, a JSON-RPC error naming the cap, and
//! `Retry-After`. `DELETE` of an unknown session is 404 (rmcp: 202), of a live one 200
//! (rmcp: 202, which the Python SDK logs as "Session termination failed: 202").
//! Every 4xx and 503 is logged, at most once a second (see [`super::throttle`]).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde::Deserialize;
use serde_json::{Value, json};

use super::throttle::Throttle;

const SESSION_ID: &str = "mcp-session-id";
/// Seconds a client refused for a full server is asked to wait.
const RETRY_AFTER_SECS: u64 = 5;

/// The checks, and what they need.
pub(super) struct Admit {
    token: Option<String>,
    max_body_bytes: usize,
    body_timeout: Duration,
    sessions: Arc<LocalSessionManager>,
    max_sessions: usize,
    /// Held while a session is opened, so that counting and opening are one step.
    opening: tokio::sync::Mutex<()>,
    rejections: Throttle,
}

impl Admit {
    pub(super) fn new(
        token: Option<String>,
        max_body_bytes: usize,
        body_timeout: Duration,
        sessions: Arc<LocalSessionManager>,
        max_sessions: usize,
    ) -> Self {
        Admit {
            token,
            max_body_bytes,
            body_timeout,
            sessions,
            max_sessions,
            opening: tokio::sync::Mutex::new(()),
            rejections: Throttle::default(),
        }
    }
}

/// The middleware: checks, then logs what was rejected (bounded).
pub(super) async fn admit(
    State(gate): State<Arc<Admit>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let response = gate.check(request, next).await;
    let status = response.status();
    if (status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE)
        && let Some(suppressed) = gate.rejections.admit(std::time::Instant::now())
    {
        tracing::warn!(
            %method,
            status = status.as_u16(),
            suppressed,
            "rejected an HTTP request (and {suppressed} more since the last line)"
        );
    }
    response
}

impl Admit {
    async fn check(&self, request: Request, next: Next) -> Response {
        if request.headers().get_all(header::HOST).iter().count() > 1 {
            return plain(
                StatusCode::BAD_REQUEST,
                "Bad Request: more than one Host header",
            );
        }
        if let Some(token) = &self.token
            && !bearer_matches(request.headers(), token)
        {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "Unauthorized: a bearer token is required\n",
            )
                .into_response();
        }
        match *request.method() {
            Method::POST => self.post(request, next).await,
            Method::DELETE => self.delete(request, next).await,
            _ => next.run(request).await,
        }
    }

    async fn post(&self, request: Request, next: Next) -> Response {
        let (parts, body) = request.into_parts();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
            return self.too_large();
        }
        let read = tokio::time::timeout(
            self.body_timeout,
            Limited::new(body, self.max_body_bytes).collect(),
        )
        .await;
        let bytes = match read {
            Err(_) => {
                return closing(plain(
                    StatusCode::REQUEST_TIMEOUT,
                    &format!(
                        "Request Timeout: the request body did not arrive within {} s",
                        self.body_timeout.as_secs_f64()
                    ),
                ));
            }
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return self.too_large();
            }
            Ok(Err(e)) => {
                return closing(plain(
                    StatusCode::BAD_REQUEST,
                    &format!("Bad Request: the request body cannot be read: {e}"),
                ));
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        let json = is_json(&parts.headers);
        let request = Request::from_parts(parts, Body::from(bytes.clone()));
        let response = if request.headers().contains_key(SESSION_ID) {
            next.run(request).await
        } else {
            // No session yet: most likely an `initialize`.
            let probe = match serde_json::from_slice::<Probe>(&bytes) {
                Ok(probe) => probe,
                Err(_) if json => return not_a_message(&bytes),
                Err(_) => Probe::default(),
            };
            if probe.method.as_deref() == Some("initialize") {
                let _one_at_a_time = self.opening.lock().await;
                if self.sessions.sessions.read().await.len() >= self.max_sessions {
                    return self.full(probe.id);
                }
                next.run(request).await
            } else {
                next.run(request).await
            }
        };
        // rmcp answers 415 to a JSON body it cannot read as a message.
        if json && response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            return not_a_message(&bytes);
        }
        response
    }

    async fn delete(&self, request: Request, next: Next) -> Response {
        let Some(id) = request
            .headers()
            .get(SESSION_ID)
            .and_then(|v| v.to_str().ok())
        else {
            return next.run(request).await;
        };
        let live = self
            .sessions
            .has_session(&id.to_owned().into())
            .await
            .unwrap_or(false);
        if !live {
            return plain(StatusCode::NOT_FOUND, "Not Found: no such session");
        }
        let response = next.run(request).await;
        if response.status() == StatusCode::ACCEPTED {
            // The session is gone: say so as the Python SDK expects (200 or 204).
            return StatusCode::OK.into_response();
        }
        response
    }

    fn too_large(&self) -> Response {
        closing(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "Payload Too Large: request body exceeds {} bytes",
                self.max_body_bytes
            ),
        ))
    }

    /// 503: the session cap is reached.
    fn full(&self, id: Option<Value>) -> Response {
        let message = format!(
            "server busy: it holds its maximum of {} live MCP sessions (--max-sessions); \
             retry later, or end a session you no longer use (HTTP DELETE)",
            self.max_sessions
        );
        let mut response = jsonrpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            id,
            -32000,
            &message,
            Some(json!({"maxSessions": self.max_sessions})),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        response
    }
}

/// The fields of a message looked at before a session exists.
#[derive(Debug, Default, Deserialize)]
struct Probe {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    id: Option<Value>,
}

/// 400 for a body that is no JSON-RPC message: -32700 if it is not JSON at all, -32600 if
/// it is JSON of another shape.
fn not_a_message(bytes: &Bytes) -> Response {
    match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        Err(e) => jsonrpc_error(
            StatusCode::BAD_REQUEST,
            None,
            -32700,
            &format!("Parse error: the request body is not JSON: {e}"),
            None,
        ),
        Ok(_) => jsonrpc_error(
            StatusCode::BAD_REQUEST,
            None,
            -32600,
            "Invalid Request: the request body is not a JSON-RPC request, notification or \
             response",
            None,
        ),
    }
}

fn jsonrpc_error(
    status: StatusCode,
    id: Option<Value>,
    code: i64,
    message: &str,
    data: Option<Value>,
) -> Response {
    let mut error = json!({"code": code, "message": message});
    if let Some(data) = data {
        error["data"] = data;
    }
    let body = json!({"jsonrpc": "2.0", "id": id.unwrap_or(Value::Null), "error": error});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// Asks hyper to close the connection after this answer (its request was not read whole).
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// `Authorization: Bearer <token>` with this token (compared in constant time).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .is_some_and(|(_, presented)| {
            constant_time_eq(presented.trim().as_bytes(), token.as_bytes())
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(r: Response) -> Value {
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn bodies_that_are_no_message_get_400_with_the_json_rpc_code() {
        let r = not_a_message(&Bytes::from_static(b"{\"jsonrpc\": "));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body_json(r).await["error"]["code"], -32700);
        let r = not_a_message(&Bytes::from_static(b"[1, 2]"));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body_json(r).await["error"]["code"], -32600);
    }

    #[test]
    fn the_bearer_scheme_and_token_must_match() {
        let mut h = HeaderMap::new();
        assert!(!bearer_matches(&h, "t0k"));
        for (value, ok) in [
            ("Bearer t0k", true),
            ("bearer  t0k ", true),
            ("Bearer t0", false),
            ("t0k", false),
            ("Basic t0k", false),
        ] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer_matches(&h, "t0k"), ok, "{value}");
        }
    }
}
