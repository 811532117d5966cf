//! One long-lived thread for the server's CPU-bound requests (packs, searches, pack
//! resources and prompts).
//!
//! tokio's blocking pool wakes the thread that has waited longest, so back-to-back packs each
//! start on a thread whose caches, and whose share of the allocator's memory, hold nothing of
//! the pack before: on the 10,000-story plan that made a pack about a quarter slower in the
//! server than in a loop on one thread (BENCHMARKS.md, run (g)). Work given to [`run`] goes to
//! this thread while it is free. Work that arrives while it is busy goes to the blocking pool
//! as before, so a request never waits behind another.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

type Job = Box<dyn FnOnce() + Send>;

struct Hot {
    jobs: mpsc::Sender<Job>,
    /// Set from when a job is handed over until it has run.
    busy: AtomicBool,
}

/// The thread, started on first use (`None` if it could not be started: then every job
/// goes to the blocking pool).
fn hot() -> Option<&'static Hot> {
    static HOT: OnceLock<Option<Hot>> = OnceLock::new();
    HOT.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("storypack-hot".into())
            .spawn(move || {
                for job in queue {
                    job();
                }
            })
            .map_err(|e| tracing::warn!("cannot start the request thread: {e}"))
            .ok()?;
        Some(Hot {
            jobs,
            busy: AtomicBool::new(false),
        })
    })
    .as_ref()
}

/// Work handed to [`run`]; resolves to its result, or to a message if it panicked.
pub(crate) enum Running<T> {
    Hot(oneshot::Receiver<std::thread::Result<T>>),
    Pool(JoinHandle<T>),
}

impl<T> Future for Running<T> {
    type Output = Result<T, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Running::Hot(rx) => Pin::new(rx).poll(cx).map(|r| match r {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(_)) => Err("the request panicked".to_string()),
                Err(_) => Err("the request thread stopped".to_string()),
            }),
            Running::Pool(handle) => Pin::new(handle).poll(cx).map_err(|e| e.to_string()),
        }
    }
}

/// Runs `work` off the async workers: on the long-lived thread if it is free, else on
/// tokio's blocking pool. Must be called within the runtime.
pub(crate) fn run<T, F>(work: F) -> Running<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let Some(hot) = hot() else {
        return Running::Pool(tokio::task::spawn_blocking(work));
    };
    if hot.busy.swap(true, Ordering::AcqRel) {
        return Running::Pool(tokio::task::spawn_blocking(work));
    }
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let out = std::panic::catch_unwind(AssertUnwindSafe(work));
        // Free before answering: the next request, sent once this answer is read, finds
        // the thread free.
        hot.busy.store(false, Ordering::Release);
        let _ = tx.send(out);
    });
    if let Err(mpsc::SendError(job)) = hot.jobs.send(job) {
        // The thread is gone (it cannot be, short of a panic outside a job): run it on the
        // pool, answering the same way.
        drop(tokio::task::spawn_blocking(job));
    }
    Running::Hot(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_runs_once_and_answers_even_when_it_panics_or_overlaps() {
        assert_eq!(run(|| 6 * 7).await, Ok(42));
        // Back to back, one thread does the work while it is free.
        let a = run(|| std::thread::current().id()).await.unwrap();
        let b = run(|| std::thread::current().id()).await.unwrap();
        assert_eq!(a, b);
        // A panic is an error for that request only.
        let failed = run(|| -> u32 { panic!("boom") }).await;
        assert_eq!(failed, Err("the request panicked".to_string()));
        assert_eq!(run(|| 1).await, Ok(1));
        // Work that overlaps busy work does not wait for it.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let slow = run(move || wait.recv().is_ok());
        let quick = run(|| 2).await;
        assert_eq!(quick, Ok(2));
        release.send(()).unwrap();
        assert_eq!(slow.await, Ok(true));
    }
}
