//! Who may see the board, as on `/mcp`: on loopback without a token anyone on this machine;
//! with a token (required off loopback) a request carries it as `Authorization: Bearer` or
//! as the session cookie the sign-in form sets (HttpOnly, SameSite=Strict; its value is
//! derived from the token, never the token itself). `Host` must name this server (DNS
//! rebinding), and a form post must come from one of its own pages (`Origin`).
//! Every answer carries a strict Content-Security-Policy.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::pages;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "storypack_board";

/// Only the board's own script, style and requests; no frames, no forms elsewhere.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// What the guard checks against.
pub(crate) struct Access {
    /// The bearer token; `None` on loopback without one.
    pub(crate) token: Option<String>,
    /// Host names (without port) a request may name.
    pub(crate) hosts: Vec<String>,
    /// Origins (`scheme://host[:port]`, `:*` for any port) a form may be posted from,
    /// besides this server's own.
    pub(crate) origins: Vec<String>,
}

impl Access {
    /// The cookie value that stands for the token: blake3 keyed by the token's hash.
    pub(crate) fn session_value(&self) -> Option<String> {
        let token = self.token.as_deref()?;
        let key = blake3::hash(token.as_bytes());
        Some(
            blake3::keyed_hash(key.as_bytes(), b"storypack board session v1")
                .to_hex()
                .to_string(),
        )
    }

    /// Whether `candidate` is the token (time independent of where they differ).
    pub(crate) fn token_matches(&self, candidate: &str) -> bool {
        self.token
            .as_deref()
            .is_some_and(|t| same(t.as_bytes(), candidate.trim().as_bytes()))
    }

    fn signed_in(&self, headers: &HeaderMap) -> bool {
        let Some(token) = self.token.as_deref() else {
            return true;
        };
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .any(|v| same(v.trim().as_bytes(), token.as_bytes()));
        if bearer {
            return true;
        }
        let Some(session) = self.session_value() else {
            return false;
        };
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .any(|(k, v)| k == COOKIE && same(v.as_bytes(), session.as_bytes()))
    }

    fn host_ok(&self, headers: &HeaderMap) -> bool {
        let hosts: Vec<&HeaderValue> = headers.get_all(header::HOST).iter().collect();
        let [host] = hosts.as_slice() else {
            return false;
        };
        let Ok(host) = host.to_str() else {
            return false;
        };
        let name = host_name(host);
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    /// A form post must come from a page of this server (same host) or an allowed origin.
    fn origin_ok(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            // Not a browser's cross-site post (browsers send Origin on every POST).
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let same_host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| origin.split_once("://").is_some_and(|(_, a)| a == h));
        same_host || self.origins.iter().any(|o| origin_matches(o, origin))
    }
}

/// `host:port`, `[::1]:port` or `host` -> the name.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// An allowed origin (`:*` for any port) against a request's.
fn origin_matches(allowed: &str, origin: &str) -> bool {
    match allowed.strip_suffix(":*") {
        Some(prefix) => origin
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(':')),
        None => allowed.eq_ignore_ascii_case(origin),
    }
}

/// Constant-time equality.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Headers every board answer carries.
pub(crate) fn harden(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: under it Chromium posts forms with `Origin: null`, which the
        // Origin check must refuse.
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The middleware in front of every board route.
pub(crate) async fn guard(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = check(&access, request, next).await;
    harden(&mut response);
    response
}

async fn check(access: &Access, request: Request, next: Next) -> Response {
    if !access.host_ok(request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "Forbidden: Host is not this server\n",
        )
            .into_response();
    }
    if request.method() != Method::GET
        && request.method() != Method::HEAD
        && !access.origin_ok(request.headers())
    {
        return (
            StatusCode::FORBIDDEN,
            "Forbidden: Origin is not this server\n",
        )
            .into_response();
    }
    let path = request.uri().path();
    let open = path == "/signin" || path.starts_with("/assets/");
    if open || access.signed_in(request.headers()) {
        return next.run(request).await;
    }
    if request.method() == Method::GET {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::response::Html(pages::sign_in(None)),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "Unauthorized: a bearer token is required\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("localhost"), "localhost");
    }

    #[test]
    fn origins_match_with_any_port_or_exactly() {
        assert!(origin_matches(
            "http://localhost:*",
            "http://localhost:3000"
        ));
        assert!(!origin_matches(
            "http://localhost:*",
            "http://localhost.evil:3000"
        ));
        assert!(origin_matches(
            "https://a.example:443",
            "https://a.example:443"
        ));
        assert!(!origin_matches(
            "https://a.example:443",
            "https://b.example:443"
        ));
    }

    #[test]
    fn the_cookie_is_not_the_token_and_only_the_token_signs_in() {
        let a = Access {
            token: Some("s3cret".into()),
            hosts: vec![],
            origins: vec![],
        };
        let v = a.session_value().unwrap_or_default();
        assert!(!v.contains("s3cret") && v.len() == 64);
        assert!(a.token_matches("s3cret") && !a.token_matches("s3cre") && !a.token_matches(""));
        let mut h = HeaderMap::new();
        assert!(!a.signed_in(&h));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {COOKIE}={v}"))
                .unwrap_or(HeaderValue::from_static("")),
        );
        assert!(a.signed_in(&h));
    }
}
