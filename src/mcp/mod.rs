//! The MCP server (rmcp): a thin adapter over [`crate::app::App`]. The only module that
//! knows rmcp. It translates requests into library calls and results into MCP results;
//! the domain lives elsewhere.
//!
//! # Layout
//! - [`handle`]: the shared plan snapshot (`Arc<App>` behind a lock, swapped whole) and the
//!   sessions to notify.
//! - [`server`]: the `ServerHandler`, one per session: tool routing with argument checks,
//!   resources, prompts, completions, subscriptions.
//! - [`tools`]: one file per tool family (`plan`, `packs`), each with its argument types.
//! - [`resources`], [`prompts`], [`completions`]: the other MCP surfaces.
//! - [`http`]: streamable HTTP with bearer token, Host/Origin checks, timeouts and caps.
//! - [`watch`](mod@watch): the live plan (notify, debounced, incremental re-index).
//! - [`remote`]: what other servers store, announced (a store's LISTEN/NOTIFY).
//! - [`errors`]: tool errors vs protocol errors; what starting the server can fail with.
//!
//! # Entry points
//! Tests and benches start a server in process: [`serve`] over any transport (a
//! `tokio::io::duplex` pair), [`serve_http`] on a bound listener with a shutdown future.
//! The binary calls [`run`].

mod completions;
mod errors;
mod handle;
mod hot;
pub mod http;
mod prompts;
mod remote;
mod resources;
mod server;
mod stdio;
mod tools;
mod watch;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::service::{RoleServer, RunningService};
use rmcp::transport::IntoTransport;

pub(crate) use errors::ServerError;
pub use handle::{Event, PlanChange, PlanHandle, Snapshot};
pub use http::{HttpLimits, HttpOptions, MCP_PATH, serve_http};
pub(crate) use server::StorypackServer;
pub use tools::{TOOLSETS, ToolSelection};
pub use watch::{DEBOUNCE, PlanWatcher, watch};

/// Log directives the binary adds to its default level (`warn`). rmcp's HTTP service warns
/// once per request it rejects (a foreign Host or Origin), so a flood of them would flood
/// the log; the server logs every rejection itself, at most once a second ([`http`]), and
/// leaves rmcp's own to `STORYPACK_LOG`.
pub const LOG_QUIET: &str = "rmcp::transport::streamable_http_server::tower=error";

/// Largest JSON-RPC message accepted over stdio (one line), as over HTTP.
pub(crate) const MAX_MESSAGE_BYTES: usize = http::MAX_BODY_BYTES;

/// Serves one MCP session over `transport`: returns once the client has initialized; the
/// returned service runs until the client goes or it is cancelled.
pub async fn serve<T, E, A>(
    handle: Arc<PlanHandle>,
    transport: T,
) -> Result<RunningService<RoleServer, StorypackServer>, ServerError>
where
    T: IntoTransport<RoleServer, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    Ok(StorypackServer::new(handle).serve(transport).await?)
}

/// Serves one session over stdin/stdout until the client closes stdin or `shutdown`
/// completes.
async fn serve_stdio(
    handle: Arc<PlanHandle>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let (input, output) = stdio_streams();
    let transport = stdio::LineTransport::new(input, output, MAX_MESSAGE_BYTES);
    let running = serve(handle, transport).await?;
    let stop = running.cancellation_token();
    tokio::select! {
        result = running.waiting() => {
            result?;
        }
        () = shutdown => {
            stop.cancel();
        }
    }
    Ok(())
}

type Input = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
type Output = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// stdin and stdout for the stdio transport. As MCP clients start servers, they are pipes
/// or Unix sockets: then they are read and written without blocking, through the runtime's
/// own I/O driver. tokio's `stdin()` and `stdout()` hand every read and write to a thread of
/// its blocking pool, thread switches each message pays for. A terminal or a file gets
/// those.
#[cfg(unix)]
fn stdio_streams() -> (Input, Output) {
    use std::os::fd::AsFd;
    use tokio::net::unix::pipe;
    let input = nonblocking(
        std::io::stdin().as_fd(),
        |f| Ok(Box::new(pipe::Receiver::from_file(f)?) as Input),
        |s| Box::new(s) as Input,
    )
    .unwrap_or_else(|| Box::new(tokio::io::stdin()));
    let output = nonblocking(
        std::io::stdout().as_fd(),
        |f| Ok(Box::new(pipe::Sender::from_file(f)?) as Output),
        |s| Box::new(s) as Output,
    )
    .unwrap_or_else(|| Box::new(tokio::io::stdout()));
    (input, output)
}

#[cfg(not(unix))]
fn stdio_streams() -> (Input, Output) {
    (Box::new(tokio::io::stdin()), Box::new(tokio::io::stdout()))
}

/// A copy of a standard stream's descriptor, set non-blocking and registered with the
/// runtime, if it is a pipe (`pipe` checks its direction) or a Unix stream socket.
#[cfg(unix)]
fn nonblocking<T>(
    fd: std::os::fd::BorrowedFd<'_>,
    pipe: impl FnOnce(std::fs::File) -> std::io::Result<T>,
    socket: impl FnOnce(tokio::net::UnixStream) -> T,
) -> Option<T> {
    use std::os::unix::fs::FileTypeExt;
    let file = std::fs::File::from(fd.try_clone_to_owned().ok()?);
    let kind = file.metadata().ok()?.file_type();
    if kind.is_fifo() {
        return pipe(file).ok();
    }
    if !kind.is_socket() {
        return None;
    }
    let stream = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(file));
    // Not a Unix socket (a TCP one, say): tokio's stdio then.
    stream.peer_addr().ok()?;
    stream.set_nonblocking(true).ok()?;
    tokio::net::UnixStream::from_std(stream).ok().map(socket)
}

/// What `storypack serve` was asked for.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub plan: PathBuf,
    /// Serve streamable HTTP on this address (`127.0.0.1:8080`, `localhost:8080`, or a
    /// bare port, taken on 127.0.0.1) instead of stdio.
    pub http: Option<String>,
    /// The environment variable holding the HTTP bearer token.
    pub token_env: Option<String>,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    /// Re-index when plan files change (default on).
    pub watch: bool,
    /// Timeouts and caps of the HTTP server.
    pub limits: HttpLimits,
    /// The tools offered (`--toolsets`, `--read-only`).
    pub tools: ToolSelection,
    /// The handoff store (`--store`: a postgres:// URL or a plan folder); none: the plan's.
    pub store: Option<String>,
    /// Keep the plan's persisted index (`.storypack/index/`): read it on start, write it
    /// after warm-up and after changes.
    pub persisted_index: bool,
}

/// Runs the server the binary starts: parses the plan once, watches it, serves stdio or
/// HTTP until the client leaves or SIGINT/SIGTERM arrives.
pub fn run(options: ServeOptions) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run_async(options));
    // A pending read on stdin cannot be cancelled; do not wait for it on the way out.
    runtime.shutdown_background();
    result
}

/// Builds a plan's search index and counts its excerpts (one thread; seconds for a plan of
/// 100 MB, milliseconds for a usual one). Says what it did.
pub(crate) fn warm_up(app: &crate::app::App) -> String {
    let t = std::time::Instant::now();
    let units = app.index().units.len();
    let indexed = t.elapsed();
    let excerpts = app.warm_counts(crate::tokens::Encoding::default());
    let done = t.elapsed();
    tracing::debug!(
        index_ms = indexed.as_millis() as u64,
        count_ms = (done - indexed).as_millis() as u64,
        excerpts,
        "index and token counts warm"
    );
    format!(
        "{units} sections indexed, {excerpts} excerpts counted in {} ms",
        done.as_millis()
    )
}

async fn run_async(options: ServeOptions) -> Result<(), ServerError> {
    let token = match &options.token_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            ServerError::Config(format!(
                "--token-env: environment variable {var} is not set"
            ))
        })?),
        None => None,
    };
    if options.http.is_some() {
        options.limits.check()?;
    }
    options.tools.check().map_err(ServerError::Config)?;
    let app = crate::app::App::open_with(&options.plan, options.persisted_index)?;
    let app = match options.store.as_deref() {
        None => app,
        Some(spec) => app.with_store(crate::store::open(Some(spec), &options.plan)?),
    };
    let handle = PlanHandle::from_app(app);
    handle.select_tools(options.tools.clone());
    let _remote = remote::announce(handle.clone()).await;
    // Warm what packs would otherwise wait for: the search index, then the default
    // encoding's count of every excerpt. The server answers meanwhile (packs wait on the
    // index if they must, and count what is not counted yet).
    let warm = handle.app();
    tokio::task::spawn_blocking(move || {
        let done = warm_up(&warm);
        eprintln!("storypack: plan ready: {done}");
        // The next server or command starts warm: the plan's facts and every excerpt's
        // count, kept in the plan's persisted index (when it keeps one).
        warm.persist_index();
        crate::tokens::persist_counts();
    });
    let _watcher = if options.watch {
        Some(watch(handle.clone(), DEBOUNCE)?)
    } else {
        None
    };
    match options.http {
        None => serve_stdio(handle, shutdown_signal()).await,
        Some(addr) => {
            let addr = if addr.chars().all(|c| c.is_ascii_digit()) {
                format!("127.0.0.1:{addr}")
            } else {
                addr
            };
            let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
                ServerError::Config(format!("--http: cannot listen on {addr}: {e}"))
            })?;
            let local = listener.local_addr()?;
            http::check_bind(local.ip(), token.as_deref())?;
            eprintln!("storypack: serving MCP at http://{local}{MCP_PATH}");
            eprintln!("storypack: board at http://{local}/");
            let options = HttpOptions {
                token,
                allowed_hosts: options.allowed_hosts,
                allowed_origins: options.allowed_origins,
                limits: options.limits,
                ..HttpOptions::default()
            };
            serve_http(listener, handle, options, shutdown_signal()).await
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
