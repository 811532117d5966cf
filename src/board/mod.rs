//! The read-only board at `/` of `storypack serve --http`, for the people around the agents:
//! sprints on a timeline with their gate verdicts, a sprint's stories by state with their
//! dependencies, blockers and claims (filterable by role) and its dependency graph (SVG laid
//! out here), a story page (fields, acceptance, citations linked to the source text, the
//! context pack's preview, the handoff timeline), a gate page (the gate package's section),
//! and live updates over server-sent events.
//!
//! An adapter like `mcp`: it asks [`App`] and renders; nothing here decides anything.
//!
//! # Layout
//! - [`auth`]: token (bearer or sign-in cookie), Host and Origin checks, security headers.
//! - [`pages`]: the pages (maud). [`graph`]: the dependency graph's layout and SVG.
//! - `assets/`: the stylesheet and the script (live updates only), compiled in.
//!
//! Mounted by `mcp::serve_http` beside `/mcp`, so it shares the accept loop and its
//! limits (connections, header, idle and write timeouts); each page is built off the async
//! runtime from the current snapshot.

mod auth;
pub mod graph;
mod pages;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::error::Error;
use crate::gate::Verdict;
use crate::pack::PackRequest;

pub(crate) use auth::Access;

const CSS: &str = include_str!("assets/board.css");
const JS: &str = include_str!("assets/board.js");
/// Largest sign-in form accepted.
const MAX_FORM_BYTES: usize = 4096;

/// What the board shows and follows: the server's current snapshot, and a tick per change
/// of the plan, a handoff or a claim. The MCP server's plan handle is one.
pub(crate) trait Live: Send + Sync + 'static {
    /// The current snapshot; a page is built from one.
    fn app(&self) -> Arc<App>;
    /// Ticks, one per change an open page should show.
    fn ticks(&self) -> tokio::sync::broadcast::Receiver<()>;
}

struct Board {
    handle: Arc<dyn Live>,
    access: Arc<Access>,
    /// Cancelled when the server shuts down: ends the event streams, which would otherwise
    /// hold their connections (and the graceful shutdown) open.
    stop: CancellationToken,
}

/// The board's routes, behind their own guard (the `/mcp` route keeps its own).
pub(crate) fn router(handle: Arc<dyn Live>, access: Access, stop: CancellationToken) -> Router {
    let access = Arc::new(access);
    let board = Arc::new(Board {
        handle,
        access: access.clone(),
        stop,
    });
    Router::new()
        .route("/", get(index))
        .route("/sprint/{id}", get(sprint))
        .route("/story/{id}", get(story))
        .route("/gate/{id}", get(gate))
        .route("/source/{*path}", get(source))
        .route("/events", get(events))
        .route("/signin", get(sign_in_form).post(sign_in))
        .route("/assets/board.css", get(css))
        .route("/assets/board.js", get(js))
        .with_state(board)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(middleware::from_fn_with_state(access, auth::guard))
}

/// Builds a page off the async runtime (gates read evidence and may ask `git`).
async fn page(
    board: &Board,
    build: impl FnOnce(&App) -> Result<String, Error> + Send + 'static,
) -> Response {
    let app = board.handle.app();
    match tokio::task::spawn_blocking(move || build(&app)).await {
        Ok(Ok(html)) => Html(html).into_response(),
        Ok(Err(e)) => (
            StatusCode::NOT_FOUND,
            Html(pages::not_found(&crate::error::chain(&e))),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a board page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n").into_response()
        }
    }
}

fn verdict(app: &App, sprint: &str) -> Verdict {
    app.check_gate(sprint, crate::report::today())
        .map_or(Verdict::Fail, |r| r.verdict)
}

/// The timeline: the current sprint first, then the rest in plan order.
fn rows(app: &App) -> Vec<pages::SprintRow<'_>> {
    let today = crate::report::today();
    let current = crate::priorities::current_sprint(app.plan(), today).map(|(s, _)| s.id.clone());
    let mut rows: Vec<pages::SprintRow<'_>> = app
        .plan()
        .sprints
        .iter()
        .map(|s| pages::SprintRow {
            sprint: s,
            verdict: verdict(app, &s.id),
            current: current.as_deref() == Some(s.id.as_str()),
        })
        .collect();
    rows.sort_by_key(|r| !r.current);
    rows
}

#[derive(Deserialize, Default)]
struct RoleFilter {
    role: Option<String>,
}

fn board_of(app: &App, sprint: &str, role: Option<&str>) -> Result<maud::Markup, Error> {
    let sprint = crate::priorities::resolve_sprint(app.plan(), sprint)?;
    let role = match role.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Some(crate::priorities::resolve_role(app.plan(), r)?),
        None => None,
    };
    let states = app.states()?;
    Ok(pages::sprint_board(
        app,
        &states,
        sprint,
        verdict(app, &sprint.id),
        role.as_deref(),
    ))
}

async fn index(State(board): State<Arc<Board>>, Query(f): Query<RoleFilter>) -> Response {
    page(&board, move |app| {
        let rows = rows(app);
        let board = match rows.first() {
            Some(r) => board_of(app, &r.sprint.id, f.role.as_deref())?,
            None => maud::html! { p { "The plan has no sprints." } },
        };
        Ok(pages::index(&rows, board))
    })
    .await
}

async fn sprint(
    State(board): State<Arc<Board>>,
    Path(id): Path<String>,
    Query(f): Query<RoleFilter>,
) -> Response {
    page(&board, move |app| {
        let markup = board_of(app, &id, f.role.as_deref())?;
        Ok(pages::sprint_page(&rows(app), markup, &id))
    })
    .await
}

async fn story(State(board): State<Arc<Board>>, Path(id): Path<String>) -> Response {
    page(&board, move |app| {
        let story = crate::pack::find_story(app.plan(), &id)?;
        let states = app.states()?;
        let pack = app.pack(&PackRequest {
            story_id: story.id.clone(),
            ..PackRequest::default()
        });
        let handoffs = app.list_handoffs(Some(&story.id))?.handoffs;
        Ok(pages::story_page(
            app,
            &states,
            story,
            pack.as_ref(),
            &handoffs,
        ))
    })
    .await
}

async fn gate(State(board): State<Arc<Board>>, Path(id): Path<String>) -> Response {
    page(&board, move |app| {
        let pkg = crate::report::gate_package(app, &id, crate::report::today())?;
        Ok(pages::gate_page(&pkg))
    })
    .await
}

/// A plan document from the model only: a path the plan does not hold is 404, so no
/// request names a file.
async fn source(State(board): State<Arc<Board>>, Path(path): Path<String>) -> Response {
    page(&board, move |app| {
        let doc = app
            .plan()
            .docs
            .iter()
            .find(|d| d.path == path)
            .ok_or_else(|| Error::invalid("path", "the plan holds no such document".to_string()))?;
        Ok(pages::source_page(&doc.path, &doc.text))
    })
    .await
}

/// Server-sent events: `change` whenever the plan, a handoff or a claim changes. Ticks that
/// come while one is waiting to be sent are one change; the stream ends at shutdown.
async fn events(State(board): State<Arc<Board>>) -> impl IntoResponse {
    let mut ticks = board.handle.ticks();
    let stop = board.stop.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<()>(1);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tx.closed() => break,
                tick = ticks.recv() => match tick {
                    Ok(()) | Err(RecvError::Lagged(_)) => {
                        // Full: a change is already on its way.
                        let _ = tx.try_send(());
                    }
                    Err(RecvError::Closed) => break,
                },
            }
        }
    });
    let changes = ReceiverStream::new(rx)
        .map(|()| Ok::<Event, Infallible>(Event::default().event("change").data("plan")));
    Sse::new(changes).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn sign_in_form() -> Response {
    Html(pages::sign_in(None)).into_response()
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(State(board): State<Arc<Board>>, form: axum::Form<SignIn>) -> Response {
    let access = &board.access;
    if access.token.is_none() {
        return Redirect::to("/").into_response();
    }
    if !access.token_matches(&form.token) {
        return (
            StatusCode::UNAUTHORIZED,
            Html(pages::sign_in(Some("That token does not match."))),
        )
            .into_response();
    }
    let Some(session) = access.session_value() else {
        return Redirect::to("/").into_response();
    };
    let cookie = format!(
        "{}={session}; Path=/; HttpOnly; SameSite=Strict",
        auth::COOKIE
    );
    let mut response = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}
