//! Futures as Deferreds (Twisted's `ensureDeferred`): `async` code that awaits Deferreds
//! reads like `inlineCallbacks`, and its result comes back as a [`Deferred`].
//!
//! ```
//! use torsion::{defer::{ok, Deferred}, Reactor};
//! let reactor = Reactor::new().unwrap();
//! let (answer, resolver) = Deferred::<u32>::new();
//! let doubled = reactor.ensure_deferred(async move {
//!     let n = answer.await?; // waits without blocking the loop
//!     ok(n * 2)
//! });
//! assert!(!doubled.called()); // it ran at once up to its first wait
//! resolver.callback(21).unwrap();
//! reactor.call_when_running({ let r = reactor.clone(); move || r.stop() });
//! reactor.run();
//! assert_eq!(doubled.try_result().ok().unwrap().ok(), Some(42));
//! ```
//!
//! As in Twisted, the future runs at once, up to its first wait (Rust futures are lazy,
//! Twisted's coroutines are not). When a Deferred it awaits fires, it resumes inside that
//! Deferred's `callback`, before `callback` returns, exactly as
//! [`defer::ensure_deferred`](crate::defer::ensure_deferred) does without a reactor;
//! anything else that wakes it (a channel, a timer, another thread) queues it as a task
//! of the reactor, polled on the loop's next turn. A panic in it fails the Deferred with
//! a `Panicked` failure.
//!
//! Cancelling the Deferred cancels the Deferred the future is waiting on, and the future
//! resumes at once: it sees `Err(Cancelled)` from its `await` and may recover, in which
//! case its own value fires the Deferred, as in Twisted. A future waiting on something
//! that is not a Deferred is dropped instead, and the Deferred fails with `Cancelled`.

use std::{
    future::Future,
    panic::Location,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll},
};

use super::Reactor;
use crate::{
    defer::{Deferred, Driver},
    Failure,
};

impl Reactor {
    /// Runs `future` at once up to its first wait, then as a task of this reactor, and
    /// gives its result as a Deferred (Twisted's `ensureDeferred`). Like
    /// [`defer::ensure_deferred`](crate::defer::ensure_deferred), it resumes the future
    /// inside the `callback` of a Deferred it awaits; other wakes (from any thread) go
    /// through the reactor's task queue, and the task counts in
    /// [`pending_tasks`](Reactor::pending_tasks) until the future is done.
    #[track_caller]
    pub fn ensure_deferred<T: 'static>(
        &self,
        future: impl Future<Output = Result<T, Failure>> + 'static,
    ) -> Deferred<T> {
        let site = Location::caller();
        let (deferred, driver) = Driver::start(future, site);
        let task = self.spawn_at(DriverTask(driver.clone()), site, true);
        // Done during a resume outside the task's own poll (a Deferred fired, or a
        // cancel): the task has nothing left to do.
        driver.on_done(move || {
            task.abort();
        });
        deferred
    }
}

/// The reactor task of a driver: polled by the reactor on wakes that are not a
/// Deferred's, and first at once.
struct DriverTask(Rc<Driver>);

impl Future for DriverTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let driver = &self.0;
        // The task's waker is the same on every poll; set once.
        driver.set_waker_once(cx.waker());
        driver.resume();
        if driver.is_done() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
