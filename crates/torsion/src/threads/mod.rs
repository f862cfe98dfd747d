//! Blocking work off the loop: each reactor's thread pool (Twisted's `deferToThread`,
//! `callInThread`, `blockingCallFromThread` and `reactor.getThreadPool()`).
//!
//! ```
//! use std::io;
//! use torsion::{threads::defer_to_thread, Reactor};
//! let reactor = Reactor::builder().install_signal_handlers(false).build().unwrap();
//! let d = defer_to_thread(&reactor, || Ok::<_, io::Error>(6 * 7)) // runs on a pool thread
//!     .add_callback({
//!         let reactor = reactor.clone();
//!         move |n| { reactor.stop(); Ok(n) }                      // back on the reactor
//!     });
//! reactor.run(); // shutdown drains and joins the pool
//! assert_eq!(d.try_result().ok().unwrap().ok(), Some(42));
//! assert!(torsion::testing::check_clean(&reactor).is_ok());
//! ```
//!
//! # The pool
//!
//! Each reactor owns one pool ([`ThreadPool::of`]), made on first use with no threads.
//! Threads (named `torsion-pool-N`) start as work arrives, up to `max` (default
//! [`DEFAULT_MAX_THREADS`]); `min` (default [`DEFAULT_MIN_THREADS`]) are started on first
//! use and kept. When the reactor shuts down, a `Before Shutdown` trigger stops taking new
//! work ([`PoolError::ShuttingDown`]), lets the workers finish the queue, and makes the
//! shutdown wait until they have exited; the `During` phase joins them. Work submitted
//! after that waits in the queue for the reactor's next run, which starts threads again. A
//! reactor dropped without shutting down drops its queued work, and its workers exit
//! after their current job, unjoined.
//!
//! Results come back through
//! [`ReactorHandle::call_from_thread`](crate::ReactorHandle::call_from_thread), so callbacks always run
//! on the reactor thread, and only while the reactor runs.
//!
//! # The queue is bounded
//!
//! At most [`DEFAULT_QUEUE_LIMIT`] jobs (see [`ThreadPool::set_queue_limit`]) wait for a
//! thread. Past that, `defer_to_thread` gives a Deferred failed with
//! [`PoolError::QueueFull`] and `call_in_thread` returns that error: the producer learns
//! at once that it outpaces the pool, and memory stays bounded.
//!
//! # No deadlock
//!
//! In Twisted, when every pool thread waits in `blockingCallFromThread` for a Deferred that
//! itself needs a pool thread, the process hangs. torsion counts the pool threads blocked
//! in [`blocking_call_from_thread`]: when all `max` of them are blocked, work submitted is
//! refused, and work already queued is failed, with [`PoolError::Exhausted`], instead of
//! waiting forever. The blocked calls see that failure (as
//! [`BlockingCallError::Pool`]) when their Deferred depended on that work. This is a
//! rule, not a proof: if the blocked calls wait on something else (a timer), the refused
//! work would have run later. Raise `max` when that is your design.

mod blocking;
mod pool;

use std::error::Error;
use std::fmt;

use crate::defer::Deferred;
use crate::reactor::Reactor;

pub use blocking::{blocking_call_from_thread, BlockingCallError};
pub use pool::{
    running_threads, PoolStats, ThreadPool, DEFAULT_MAX_THREADS, DEFAULT_MIN_THREADS,
    DEFAULT_QUEUE_LIMIT,
};

/// Runs `f` on `reactor`'s pool and gives its result as a Deferred, fired on the reactor
/// thread (Twisted's `deferToThread`).
///
/// `Err(e)` fails the Deferred with `e` (so `Failure::check::<E>()` finds it); a panic
/// fails it with a [`Panicked`](crate::defer::Panicked) failure located here. Cancelling
/// the Deferred before a thread took the job means it never runs; work already running is
/// not interrupted, and its result is dropped. A full queue, a pool that is shutting down
/// or exhausted gives a failed Deferred ([`PoolError`]).
#[track_caller]
pub fn defer_to_thread<T, E, F>(reactor: &Reactor, f: F) -> Deferred<T>
where
    T: Send + 'static,
    E: Error + Send + Sync + 'static,
    F: FnOnce() -> Result<T, E> + Send + 'static,
{
    ThreadPool::of(reactor).defer_to_thread(f)
}

/// Runs `f` on `reactor`'s pool, not waiting for it (Twisted's `callInThread`). A panic
/// in `f` is logged on the reactor thread with where it was submitted.
///
/// # Errors
/// [`PoolError`] when the job was refused (full queue, shutting down, exhausted).
#[track_caller]
pub fn call_in_thread(
    reactor: &Reactor,
    f: impl FnOnce() + Send + 'static,
) -> Result<(), PoolError> {
    ThreadPool::of(reactor).call_in_thread(f)
}

/// Why the pool refused or dropped a job.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// The queue holds `limit` jobs already.
    QueueFull {
        /// The queue's bound.
        limit: usize,
    },
    /// Every one of the pool's `max_threads` waits in `blocking_call_from_thread`, so
    /// queued work could never run (Twisted deadlocks here).
    Exhausted {
        /// The pool's maximum size.
        max_threads: usize,
    },
    /// The reactor is shutting down: the pool takes no new work.
    ShuttingDown,
    /// No worker thread could be started.
    Spawn {
        /// What the system said.
        message: String,
    },
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::QueueFull { limit } => {
                write!(
                    f,
                    "thread pool queue full: {limit} jobs waiting (limit {limit})"
                )
            }
            PoolError::Exhausted { max_threads } => write!(
                f,
                "thread pool exhausted: all {max_threads} threads wait in \
                 blocking_call_from_thread and queued work could never run"
            ),
            PoolError::ShuttingDown => f.write_str("thread pool is shutting down"),
            PoolError::Spawn { message } => write!(f, "spawn thread pool worker: {message}"),
        }
    }
}

impl Error for PoolError {}
