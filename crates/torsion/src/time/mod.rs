//! Time for the reactor and for tests: a timer queue, delayed calls, and the
//! [`ReactorTime`] interface (Twisted's `IReactorTime`).
//!
//! ```
//! use std::{cell::Cell, rc::Rc, time::Duration};
//! use torsion::time::TimerQueue;
//!
//! // A queue whose "now" is a cell we move by hand, as a fake clock does.
//! let now = Rc::new(Cell::new(Duration::ZERO));
//! let queue = TimerQueue::new({ let now = now.clone(); move || now.get() });
//! let fired = Rc::new(Cell::new(0));
//! let call = queue.schedule(Duration::from_secs(2), Box::new({ let f = fired.clone(); move || f.set(f.get() + 1) }));
//! assert!(call.active());
//! now.set(Duration::from_secs(2));
//! queue.run_due(now.get());
//! assert_eq!(fired.get(), 1);
//! assert!(call.cancel().is_err()); // AlreadyCalled
//! ```
//!
//! This module sits at the bottom of the crate beside `defer`: it knows nothing about
//! the reactor, so `defer` (timeouts), `task` (the fake `Clock`, `LoopingCall`) and the
//! reactor itself all share one queue implementation.
//!
//! The queue is a min-heap (4-ary, to touch fewer cache lines than a binary one) ordered
//! by (deadline, scheduling order), with lazy cancellation as Twisted does: cancelling a
//! call drops its closure at once and marks its heap entry stale; stale entries are skipped when they reach the top, and the heap
//! is rebuilt without them when they outnumber the live ones. Adding and cancelling are
//! O(log n) and O(1); calls due at the same instant run in the order they were scheduled.

mod heap;
mod queue;

use std::fmt;
use std::panic::Location;
use std::time::Duration;

pub use queue::{DelayedCall, Due, TimerQueue};

/// Anything that can tell the time and run a function later: the reactor, or a fake
/// clock in tests (Twisted's `IReactorTime`).
///
/// Code written against this trait (timeouts on Deferreds, `LoopingCall`,
/// `defer_later`) runs the same on the real reactor and on `task::Clock`, so it is
/// tested without sleeping.
pub trait ReactorTime {
    /// Now, on this clock's monotonic scale (time since the clock started).
    fn seconds(&self) -> Duration;

    /// The time the loop last read its clock, on the scale of [`seconds`](Self::seconds),
    /// without reading it again (libuv's `uv_now`): for coarse deadlines moved on every
    /// request or message, such as idle timeouts. Use `seconds()` when precision matters.
    ///
    /// On the reactor it is at most one callback old: the loop reads its clock when the
    /// poll returns and, unless stall reporting is off, when each callback ends (with it
    /// off, at most one turn old), so inside a callback it may be from before the callback
    /// began. It never runs ahead of `seconds()` and never goes back. Clocks
    /// whose `seconds()` is already free, such as the fake `task::Clock`, keep this
    /// default, which is `seconds()`.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc, time::Duration};
    /// use torsion::{time::ReactorTime, Reactor};
    ///
    /// let reactor = Reactor::builder().install_signal_handlers(false).build().unwrap();
    /// let idle_until = Rc::new(Cell::new(Duration::ZERO));
    /// reactor.call_later(Duration::ZERO, {
    ///     let (r, idle_until) = (reactor.clone(), idle_until.clone());
    ///     move || {
    ///         // A request came in: push the idle deadline back, with no clock read.
    ///         idle_until.set(r.loop_time() + Duration::from_secs(30));
    ///         assert!(r.loop_time() <= r.seconds());
    ///         r.stop();
    ///     }
    /// });
    /// reactor.run();
    /// assert!(idle_until.get() >= Duration::from_secs(30));
    /// ```
    fn loop_time(&self) -> Duration {
        self.seconds()
    }

    /// Runs `f` once, `delay` from now. The returned [`DelayedCall`] cancels or moves it.
    ///
    /// Reactors and clocks also offer an inherent, generic `call_later` that boxes the
    /// closure for you; this boxed form keeps the trait usable as `&dyn ReactorTime`.
    #[track_caller]
    fn call_later(&self, delay: Duration, f: Box<dyn FnOnce()>) -> DelayedCall;
}

/// Why a [`DelayedCall`] could not be cancelled, reset or delayed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerError {
    /// The call already ran (Twisted's `AlreadyCalled`).
    AlreadyCalled,
    /// The call was already cancelled (Twisted's `AlreadyCancelled`).
    AlreadyCancelled,
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerError::AlreadyCalled => f.write_str("delayed call already called"),
            TimerError::AlreadyCancelled => f.write_str("delayed call already cancelled"),
        }
    }
}

impl std::error::Error for TimerError {}

/// Where a delayed call was scheduled: kept so that a call which panics or stalls the
/// loop can be reported with the line that scheduled it.
pub type CallSite = &'static Location<'static>;

#[cfg(test)]
mod tests;
