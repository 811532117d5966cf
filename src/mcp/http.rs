//! Streamable HTTP at `/mcp` (rmcp's `StreamableHttpService` on axum), with the safety the
//! MCP spec asks of a local server: loopback by default, a bearer token required to bind
//! anywhere else (then every request without it gets 401), `Host` and `Origin` checked
//! against DNS rebinding (403), a request body limit (413), and graceful shutdown.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::errors::ServerError;
use super::handle::PlanHandle;
use super::server::StorypackServer;

/// The endpoint path.
pub const MCP_PATH: &str = "/mcp";
/// Largest request body accepted (a handoff contract is a few KiB).
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Host names always accepted: the loopback names.
const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];
/// Browser origins always accepted: pages served from this machine.
const LOOPBACK_ORIGINS: &[&str] = &["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Bearer token every request must carry. Required unless bound to loopback.
    pub token: Option<String>,
    /// Host names accepted besides loopback and the bound address (a public name).
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted besides loopback ones, e.g. `https://app.example.com:443`.
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            token: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

/// Refuses to expose the server beyond this machine without a token.
pub fn check_bind(ip: IpAddr, token: Option<&str>) -> Result<(), ServerError> {
    if token.is_some_and(str::is_empty) {
        return Err(ServerError::Config("the bearer token is empty".into()));
    }
    if !ip.is_loopback() && token.is_none() {
        return Err(ServerError::Config(format!(
            "refusing to serve MCP over HTTP on {ip}: not a loopback address, and no bearer \
             token is set (pass --token-env VAR, VAR holding the token)"
        )));
    }
    Ok(())
}

/// Serves MCP over streamable HTTP on `listener` until `shutdown` completes; then stops
/// accepting, ends the open streams and returns once in-flight requests are done.
pub async fn serve_http(
    listener: TcpListener,
    handle: Arc<PlanHandle>,
    options: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listener.local_addr()?;
    check_bind(addr.ip(), options.token.as_deref())?;
    let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
    if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
        hosts.push(addr.ip().to_string());
    }
    hosts.extend(options.allowed_hosts.iter().cloned());
    let origins = LOOPBACK_ORIGINS
        .iter()
        .map(|o| o.to_string())
        .chain(options.allowed_origins.iter().cloned());
    let streams = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(streams.child_token());
    let service = StreamableHttpService::new(
        move || Ok(StorypackServer::new(handle.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let mut router = Router::new().route_service(MCP_PATH, service);
    if let Some(token) = options.token {
        router = router.layer(middleware::from_fn_with_state(
            Arc::new(token),
            require_bearer,
        ));
    }
    tracing::info!(%addr, path = MCP_PATH, "serving MCP over HTTP");
    // Answers go out as soon as they are written: without this, the last small write of a
    // response (the end of its event stream) can wait on the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            streams.cancel();
        })
        .await?;
    Ok(())
}

/// 401 unless `Authorization: Bearer <token>` matches (compared in constant time).
async fn require_bearer(
    State(token): State<Arc<String>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match presented {
        Some(p) if constant_time_eq(p.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ => {
            tracing::warn!("rejected an HTTP request without a valid bearer token");
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "Unauthorized: a bearer token is required\n",
            )
                .into_response()
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
