//! The accept loop and the life of one connection (hyper's HTTP/1 server).
//!
//! `axum::serve` keeps a connection for as long as the client likes; this loop does not:
//! - at most `max_connections` are open; one more is answered `503` with `Retry-After` and
//!   closed, and the open ones go on being served;
//! - each connection has a watchdog over an [`Activity`]: the head of a request must arrive
//!   within `header_timeout` of its first byte (of the opening, for the first request), a
//!   connection without a request in flight is closed after `idle_timeout`, and so is one
//!   whose writes have made no progress for `idle_timeout` (a client that does not read).
//!   hyper's own `header_read_timeout` is off: it runs from the end of the previous
//!   response, so it would make the idle timeout the header timeout;
//! - on shutdown: stop accepting, ask every connection to finish its request and close,
//!   and return once all are closed.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::HttpLimits;
use super::throttle::Throttle;
use crate::mcp::errors::ServerError;
use crate::sync::lock;

/// Refused connections being answered at once; past these, a refused connection gets its
/// 503 only if the socket takes it at once, and is closed.
const REFUSALS_IN_FLIGHT: usize = 64;
/// How long a refusal may take (write the 503, read what the client sent, close).
const REFUSAL_TIME: Duration = Duration::from_millis(500);

/// Accepts connections on `listener` and serves `router` on each until `shutdown`
/// completes, then waits for the open connections to finish.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let max = u32::try_from(limits.max_connections)
        .map_err(|_| ServerError::Config("--max-connections: too large".into()))?;
    let open = Arc::new(Semaphore::new(max as usize));
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let (refused_log, accept_log) = (Throttle::default(), Throttle::default());
    let closing = CancellationToken::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    if let Some(suppressed) = accept_log.admit(std::time::Instant::now()) {
                        tracing::error!(suppressed, "cannot accept a connection: {e}");
                    }
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_millis(200)) => continue,
                    }
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            if let Some(suppressed) = refused_log.admit(std::time::Instant::now()) {
                tracing::warn!(
                    max_connections = max,
                    suppressed,
                    "refused a connection: the server holds its maximum of open connections \
                     (--max-connections)"
                );
            }
            if let Ok(slot) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(REFUSAL_TIME, refuse(stream)).await;
                    drop(slot);
                });
            } else {
                let _ = stream.try_write(BUSY);
            }
            continue;
        };
        if let Err(e) = stream.set_nodelay(true) {
            // Answers go out as soon as they are written: without this, the last small
            // write of a response can wait on the client's delayed ACK.
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        tokio::spawn(connection(
            stream,
            router.clone(),
            limits,
            closing.clone(),
            permit,
        ));
    }
    drop(listener);
    closing.cancel();
    // Every connection holds a permit until it is closed.
    let _all = open.acquire_many(max).await;
    Ok(())
}

/// Errors that concern one connection, not the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Retry-After: 1\r\n\
Connection: close\r\n\
Content-Length: 64\r\n\
\r\n\
Service Unavailable: too many open connections; retry in a second";

/// Answers 503 and closes, after reading what the client sent (closing with unread data
/// would reset the connection, and the client could miss the answer).
async fn refuse(mut stream: TcpStream) {
    if stream.write_all(BUSY).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    while let Ok(n) = stream.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}

/// Serves one connection until the client closes it, a limit closes it, or the server
/// shuts down.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: HttpLimits,
    closing: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new(Instant::now()));
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let busy = activity.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let serving = Serving::start(busy.clone());
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(Body::new)).await;
            // The request is over when its response body is done or dropped.
            response.map(|r| {
                r.map(|body| {
                    Body::new(body.map_frame(move |frame| {
                        let _ = &serving;
                        frame
                    }))
                })
            })
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut shutting_down = false;
    loop {
        let deadline = activity.deadline(&limits);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("HTTP connection ended: {e}");
                }
                return;
            }
            () = closing.cancelled(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            () = activity.changed.notified() => {}
            () = tokio::time::sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!("closing an HTTP connection: idle or too slow");
                    return;
                }
            }
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// What a connection is doing, for its watchdog.
#[derive(Debug)]
struct Activity {
    state: Mutex<State>,
    /// Woken when a deadline may have moved.
    changed: Notify,
}

#[derive(Debug, Clone, Copy)]
struct State {
    phase: Phase,
    /// Since when a write has been waiting on the client to read.
    stalled_since: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request in flight and no byte of the next one, since then.
    Idle(Instant),
    /// A request's head is arriving, since then (or the connection opened then).
    Head(Instant),
    /// This many requests in flight: from a complete head to the end of the response.
    Busy(usize),
}

impl Activity {
    fn new(now: Instant) -> Self {
        Activity {
            state: Mutex::new(State {
                phase: Phase::Head(now),
                stalled_since: None,
            }),
            changed: Notify::new(),
        }
    }

    /// When the connection is to be closed if nothing changes; `None` while serving.
    fn deadline(&self, limits: &HttpLimits) -> Option<Instant> {
        let state = *lock(&self.state);
        let phase = match state.phase {
            Phase::Idle(since) => Some(since + limits.idle_timeout),
            Phase::Head(since) => Some(since + limits.header_timeout),
            Phase::Busy(_) => None,
        };
        let stall = state.stalled_since.map(|since| since + limits.idle_timeout);
        match (phase, stall) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn update(&self, f: impl FnOnce(&mut State) -> bool) {
        let moved = f(&mut lock(&self.state));
        if moved {
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: after an idle spell, they start the next request's head.
    fn read(&self) {
        self.update(|s| match s.phase {
            Phase::Idle(_) => {
                s.phase = Phase::Head(Instant::now());
                true
            }
            _ => false,
        });
    }

    fn wrote(&self, pending: bool) {
        self.update(|s| match (pending, s.stalled_since) {
            (true, None) => {
                s.stalled_since = Some(Instant::now());
                true
            }
            (false, Some(_)) => {
                s.stalled_since = None;
                true
            }
            _ => false,
        });
    }
}

/// One request in flight, from its head to the end of its response.
struct Serving(Arc<Activity>);

impl Serving {
    fn start(activity: Arc<Activity>) -> Self {
        activity.update(|s| {
            s.phase = match s.phase {
                Phase::Busy(n) => Phase::Busy(n + 1),
                _ => Phase::Busy(1),
            };
            true
        });
        Serving(activity)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.update(|s| {
            s.phase = match s.phase {
                Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
                _ => Phase::Idle(Instant::now()),
            };
            true
        });
    }
}

/// A TCP stream that tells its [`Activity`] about reads and stalled writes.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.activity.wrote(polled.is_pending());
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.activity.wrote(polled.is_pending());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HttpLimits {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..HttpLimits::default()
        }
    }

    /// `deadline` lies between `before + d` and now + `d`.
    fn due_within(a: &Activity, before: Instant, d: Duration) -> bool {
        a.deadline(&limits())
            .is_some_and(|t| t >= before + d && t <= Instant::now() + d)
    }

    #[test]
    fn deadlines_follow_the_phase_of_the_connection() {
        let t0 = Instant::now();
        let a = Arc::new(Activity::new(t0));
        // Opened: the first head is due within the header timeout.
        assert_eq!(a.deadline(&limits()), Some(t0 + Duration::from_secs(10)));
        let serving = Serving::start(a.clone());
        assert_eq!(a.deadline(&limits()), None, "no deadline while serving");
        a.read();
        assert_eq!(
            a.deadline(&limits()),
            None,
            "reading the body is not a new head"
        );
        let t1 = Instant::now();
        drop(serving);
        assert!(due_within(&a, t1, Duration::from_secs(60)), "idle");
        let t2 = Instant::now();
        a.read();
        assert!(due_within(&a, t2, Duration::from_secs(10)), "the next head");
        // A write the client does not take is due within the idle timeout, even mid-request.
        let _serving = Serving::start(a.clone());
        let t3 = Instant::now();
        a.wrote(true);
        assert!(due_within(&a, t3, Duration::from_secs(60)), "stalled");
        a.wrote(true);
        assert!(
            due_within(&a, t3, Duration::from_secs(60)),
            "still since the first stall"
        );
        a.wrote(false);
        assert_eq!(a.deadline(&limits()), None);
    }
}
