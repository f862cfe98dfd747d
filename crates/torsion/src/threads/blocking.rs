//! [`blocking_call_from_thread`]: a thread waits for a Deferred made on the reactor
//! thread (Twisted's `blockingCallFromThread`).

use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::mpsc;

use super::pool::Blocked;
use super::PoolError;
use crate::defer::ok;
use crate::defer::{fail, Deferred};
use crate::reactor::{Reactor, ReactorHandle};
use crate::Failure;

/// Why [`blocking_call_from_thread`] returned no value.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockingCallError {
    /// The Deferred failed. A `Failure` cannot cross threads, so its message and the
    /// place it was made come instead.
    Failed {
        /// The failure's message.
        message: String,
        /// Where the failure was made (`file:line:column`).
        location: String,
    },
    /// The Deferred failed because the pool refused or dropped work it needed (see the
    /// module docs on deadlocks).
    Pool(PoolError),
    /// The reactor was dropped before it ran the call or fired the Deferred.
    ReactorGone,
    /// Called on the reactor's own thread, where waiting would hang the loop forever.
    OnReactorThread,
}

/// Runs `f` on the reactor thread, waits for the Deferred it returns, and gives its value
/// to the calling thread (Twisted's `blockingCallFromThread`). For pool threads and other
/// threads that may block, never for the reactor thread.
///
/// While a pool thread waits here, it counts as blocked; see the [module docs](super) for
/// how that turns Twisted's pool deadlock into [`BlockingCallError::Pool`]. A reactor
/// that is stopped (not dropped) keeps the caller waiting until it runs again.
///
/// ```
/// use std::{thread, time::Duration};
/// use torsion::{defer::ok, task::defer_later, threads::blocking_call_from_thread, Reactor};
/// let reactor = Reactor::builder().install_signal_handlers(false).build().unwrap();
/// let handle = reactor.handle();
/// let worker = thread::spawn(move || {
///     let n = blocking_call_from_thread(&handle, |reactor| {
///         defer_later(reactor, Duration::ZERO, || ok(7))
///     });
///     handle.stop();
///     n
/// });
/// reactor.run();
/// assert_eq!(worker.join().unwrap(), Ok(7));
/// ```
#[track_caller]
pub fn blocking_call_from_thread<T, F>(handle: &ReactorHandle, f: F) -> Result<T, BlockingCallError>
where
    T: Send + 'static,
    F: FnOnce(&Reactor) -> Deferred<T> + Send + 'static,
{
    if handle.is_reactor_thread() {
        return Err(BlockingCallError::OnReactorThread);
    }
    let site = Location::caller();
    let (send, receive) = mpsc::sync_channel::<Result<T, BlockingCallError>>(1);
    // Counted before the call is sent, so that work `f` submits already sees this thread
    // as blocked.
    let _blocked = Blocked::enter();
    handle.call_from_thread(move |reactor| {
        let d = match catch_unwind(AssertUnwindSafe(|| f(reactor))) {
            Ok(d) => d,
            Err(payload) => fail(Failure::from_panic_at(payload, site)),
        };
        let _ = d.add_both(move |result: Result<T, Failure>| {
            // The waiting thread may be gone (it panicked): nothing to tell then.
            let _ = send.send(result.map_err(BlockingCallError::from_failure));
            ok(())
        });
    });
    // A dropped sender means the call or its Deferred was dropped unrun: the reactor is gone.
    receive
        .recv()
        .unwrap_or(Err(BlockingCallError::ReactorGone))
}

impl BlockingCallError {
    fn from_failure(failure: Failure) -> BlockingCallError {
        match failure.check::<PoolError>() {
            Some(error) => BlockingCallError::Pool(error.clone()),
            None => BlockingCallError::Failed {
                message: failure.error_message(),
                location: failure.location().to_string(),
            },
        }
    }
}

impl fmt::Display for BlockingCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingCallError::Failed { message, location } => {
                write!(f, "blocking call failed: {message} (at {location})")
            }
            BlockingCallError::Pool(error) => write!(f, "blocking call failed: {error}"),
            BlockingCallError::ReactorGone => {
                f.write_str("blocking call failed: the reactor was dropped")
            }
            BlockingCallError::OnReactorThread => {
                f.write_str("blocking call from the reactor thread would hang the loop")
            }
        }
    }
}

impl Error for BlockingCallError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BlockingCallError::Pool(error) => Some(error),
            _ => None,
        }
    }
}
