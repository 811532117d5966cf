//! Streamable HTTP at `/mcp` (rmcp's `StreamableHttpService` behind axum, on hyper), with
//! the safety the MCP spec asks of a local server and the limits a long-running one needs:
//!
//! - loopback by default, a bearer token required to bind anywhere else (then every request
//!   without it gets 401); `Host` and `Origin` checked against DNS rebinding (403);
//! - [`conn`]: our own accept loop: a cap on open connections (over it, 503 and close), and
//!   per connection a header-read timeout, an idle keep-alive timeout and a stalled-write
//!   timeout; graceful shutdown;
//! - [`admit`]: per request: a duplicate `Host` (400), the bearer token (401), the body read
//!   within a size limit (413) and a time limit (408), malformed JSON (400, -32700), the cap
//!   on live sessions (503 with `Retry-After`), `DELETE` of an unknown session (404), and
//!   rejections logged at most once a second.
//!
//! The board ([`crate::board`]) is served at `/` by the same accept loop, behind its own
//! guard (the same token, Host and Origin rules, plus a sign-in cookie).

mod admit;
mod conn;
mod throttle;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
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
    pub limits: HttpLimits,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            token: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: MAX_BODY_BYTES,
            limits: HttpLimits::default(),
        }
    }
}

/// What one client may hold of the server, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's head (request line and headers) must arrive within this, counted from
    /// its first byte, or from the connection's opening for its first request.
    pub header_timeout: Duration,
    /// A request's body must arrive within this, counted from the end of its head (408).
    pub body_timeout: Duration,
    /// A connection with no request in flight is closed after this long; so is one whose
    /// response has not moved (the client does not read) for this long.
    pub idle_timeout: Duration,
    /// Open connections at most; more are answered 503 and closed.
    pub max_connections: usize,
    /// Live MCP sessions at most; a new one past it gets 503 with `Retry-After`.
    pub max_sessions: usize,
    /// A session no request has used for this long ends (its id then gets 404).
    pub session_idle: Duration,
}

impl HttpLimits {
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
    pub const DEFAULT_MAX_SESSIONS: usize = 256;
    pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(120);
    /// Largest value `max_connections` and `max_sessions` take.
    pub const MAX_COUNT: usize = 1_000_000;

    /// Every limit is positive, the counts at most [`HttpLimits::MAX_COUNT`].
    pub fn check(&self) -> Result<(), ServerError> {
        let durations = [
            ("--header-timeout", self.header_timeout),
            ("--body-timeout", self.body_timeout),
            ("--idle-timeout", self.idle_timeout),
            ("--session-idle", self.session_idle),
        ];
        for (flag, d) in durations {
            if d.is_zero() {
                return Err(ServerError::Config(format!("{flag}: must be above zero")));
            }
        }
        for (flag, n) in [
            ("--max-connections", self.max_connections),
            ("--max-sessions", self.max_sessions),
        ] {
            if n == 0 || n > Self::MAX_COUNT {
                return Err(ServerError::Config(format!(
                    "{flag}: must be 1 to {}, not {n}",
                    Self::MAX_COUNT
                )));
            }
        }
        Ok(())
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_sessions: Self::DEFAULT_MAX_SESSIONS,
            session_idle: Self::DEFAULT_SESSION_IDLE,
        }
    }
}

/// Refuses to expose the server beyond this machine without a token, and a token no
/// request could match.
pub fn check_bind(ip: IpAddr, token: Option<&str>) -> Result<(), ServerError> {
    if let Some(token) = token {
        check_token(token)?;
    }
    if !ip.is_loopback() && token.is_none() {
        return Err(ServerError::Config(format!(
            "refusing to serve MCP over HTTP on {ip}: not a loopback address, and no bearer \
             token is set (pass --token-env VAR, VAR holding the token)"
        )));
    }
    Ok(())
}

/// A token a client can send: not empty, no whitespace around it (a request's token is
/// trimmed, so it could never match), only characters an HTTP header carries.
fn check_token(token: &str) -> Result<(), ServerError> {
    if token.is_empty() {
        return Err(ServerError::Config("the bearer token is empty".into()));
    }
    if token.trim() != token {
        return Err(ServerError::Config(
            "the bearer token starts or ends with whitespace (a trailing newline?): no \
             request could match it; remove the whitespace from the variable"
                .into(),
        ));
    }
    if !token.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(ServerError::Config(
            "the bearer token holds characters an HTTP header cannot carry (use printable \
             ASCII, e.g. `openssl rand -hex 32`)"
                .into(),
        ));
    }
    Ok(())
}

/// Whether an origin (`scheme://host[:port]`) names its port (`*` included).
fn has_port(origin: &str) -> bool {
    let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
    let host_end = if authority.starts_with('[') {
        authority.find(']').unwrap_or(authority.len())
    } else {
        0
    };
    authority[host_end..].contains(':')
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
    let limits = options.limits;
    limits.check()?;
    let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
    if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
        hosts.push(addr.ip().to_string());
    }
    hosts.extend(options.allowed_hosts.iter().cloned());
    for origin in options.allowed_origins.iter().filter(|o| !has_port(o)) {
        tracing::warn!(
            origin = origin.as_str(),
            "--allow-origin without a port matches any port for now; a future rmcp will \
             match only the scheme's default port: add `:*` or the port"
        );
    }
    let origins = LOOPBACK_ORIGINS
        .iter()
        .map(|o| o.to_string())
        .chain(options.allowed_origins.iter().cloned());
    let streams = CancellationToken::new();
    let board = crate::board::router(
        handle.clone() as Arc<dyn crate::board::Live>,
        crate::board::Access {
            token: options.token.clone(),
            hosts: hosts.clone(),
            origins: LOOPBACK_ORIGINS
                .iter()
                .map(|o| o.to_string())
                .chain(options.allowed_origins.iter().cloned())
                .collect(),
        },
        streams.child_token(),
    );
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(streams.child_token());
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(limits.session_idle);
    let sessions = Arc::new(sessions);
    let service = StreamableHttpService::new(
        move || Ok(StorypackServer::new(handle.clone())),
        sessions.clone(),
        config,
    );
    let gate = admit::Admit::new(
        options.token,
        options.max_body_bytes,
        limits.body_timeout,
        sessions,
        limits.max_sessions,
    );
    let router = Router::new()
        .route_service(MCP_PATH, service)
        .layer(middleware::from_fn_with_state(Arc::new(gate), admit::admit))
        // The board's routes, after the layer: they have their own guard (a sign-in cookie
        // as well as the bearer token).
        .merge(board);
    tracing::info!(%addr, path = MCP_PATH, "serving MCP over HTTP");
    conn::serve(listener, router, limits, async move {
        shutdown.await;
        streams.cancel();
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_no_request_could_match_are_refused() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap_or(IpAddr::from([127, 0, 0, 1]));
        assert!(check_bind(lo, Some("s3cret")).is_ok());
        assert!(check_bind(lo, Some("two words")).is_ok());
        for bad in [
            "",
            "s3cret\n",
            " s3cret",
            "s3cret\t",
            "s3\u{e9}cret",
            "a\u{1}b",
        ] {
            let err = check_bind(lo, Some(bad)).err().map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains("bearer token")), "{bad:?}");
        }
    }

    #[test]
    fn origins_without_a_port_are_told_apart() {
        for (origin, port) in [
            ("https://app.example.com:443", true),
            ("http://localhost:*", true),
            ("http://[::1]:8080", true),
            ("https://app.example.com", false),
            ("http://[::1]", false),
        ] {
            assert_eq!(has_port(origin), port, "{origin}");
        }
    }

    #[test]
    fn limits_must_be_positive() {
        assert!(HttpLimits::default().check().is_ok());
        let zero = HttpLimits {
            idle_timeout: Duration::ZERO,
            ..HttpLimits::default()
        };
        assert!(
            zero.check()
                .is_err_and(|e| e.to_string().contains("--idle-timeout"))
        );
        let none = HttpLimits {
            max_sessions: 0,
            ..HttpLimits::default()
        };
        assert!(
            none.check()
                .is_err_and(|e| e.to_string().contains("--max-sessions"))
        );
    }
}
