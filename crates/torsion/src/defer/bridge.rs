//! Deferreds and `async`: awaiting a `Deferred<T>` gives `Result<T, Failure>`.
//!
//! ```
//! use std::future::{Future, IntoFuture};
//! use std::pin::pin;
//! use std::task::{Context, Poll, Waker};
//! use torsion::defer::Deferred;
//!
//! let (d, resolver) = Deferred::<u32>::new();
//! let mut fut = pin!(async move { d.await.map(|n| n * 2) });
//! let mut cx = Context::from_waker(Waker::noop());
//! assert!(fut.as_mut().poll(&mut cx).is_pending()); // waits: nothing spins
//! resolver.callback(21).unwrap();
//! assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(42))));
//! ```
//!
//! A future awaiting a Deferred with a waker of its own executor is woken when the
//! Deferred fires, and polled whenever that executor gets to it. A future run by
//! [`ensure_deferred`](super::ensure_deferred) (or the reactor's) is resumed at once,
//! inside the Deferred's `callback`, as Twisted resumes a coroutine. So that cancelling
//! such a future's Deferred cancels the Deferred it is waiting on, as Twisted does, its
//! driver polls through [`track_awaits`] and learns which Deferred that is.

use std::cell::RefCell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::mem;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use super::chain::Chain;
use super::ensure::{current_driver, Driver};
use super::{Deferred, Failure};

/// A `Deferred<T>` being awaited. Dropping it before the Deferred fires leaves any
/// failure in the chain, where it is logged as unhandled, never lost.
pub struct DeferredFuture<T> {
    state: Awaiting<T>,
}

enum Awaiting<T> {
    /// The Deferred had its result already: held here, no shared slot.
    Known(Option<Result<T, Failure>>),
    /// The Deferred's callback fills the slot.
    Pending {
        slot: Rc<RefCell<Slot<T>>>,
        chain: Weak<Chain>,
    },
}

enum Slot<T> {
    Waiting(Option<Waiter>),
    Ready(Result<T, Failure>),
    Taken,
}

/// Who to tell when the Deferred fires.
enum Waiter {
    /// A future run by a driver ([`ensure_deferred`](super::ensure_deferred) or the
    /// reactor's), polled with the driver's own waker: resumed at once, inside the
    /// Deferred's `callback`, as Twisted resumes a coroutine.
    Driver(Weak<Driver>),
    /// Any other executor: woken, and polled when that executor gets to it.
    Waker(Waker),
}

/// Cancels a Deferred later without keeping it alive: from
/// [`Deferred::canceller`], or from [`track_awaits`] for the Deferred a future awaits.
#[derive(Clone)]
pub struct CancelHandle {
    chain: Weak<Chain>,
}

thread_local! {
    /// The Deferred most recently awaited (and found pending) on this thread, while an
    /// executor polls through `track_awaits`.
    static AWAITED: RefCell<Option<Weak<Chain>>> = const { RefCell::new(None) };
}

/// Runs `poll` (an executor polling a task) and returns, with its result, the Deferred
/// that the task is now waiting on, if it waits on one.
pub fn track_awaits<R>(poll: impl FnOnce() -> R) -> (R, Option<CancelHandle>) {
    let outer = AWAITED.with(|a| a.borrow_mut().take());
    let result = poll();
    let awaited = AWAITED.with(|a| mem::replace(&mut *a.borrow_mut(), outer));
    (result, awaited.map(|chain| CancelHandle { chain }))
}

impl CancelHandle {
    pub(crate) fn new(chain: &Rc<Chain>) -> CancelHandle {
        CancelHandle {
            chain: Rc::downgrade(chain),
        }
    }

    /// A handle for a Deferred that has nothing to cancel (it already has its result).
    pub(crate) fn none() -> CancelHandle {
        CancelHandle { chain: Weak::new() }
    }

    /// Cancels the Deferred, if it is still there (see [`Deferred::cancel`]).
    #[track_caller]
    pub fn cancel(&self) {
        if let Some(chain) = self.chain.upgrade() {
            chain.cancel();
        }
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.chain.upgrade() {
            Some(chain) => f.debug_tuple("CancelHandle").field(&*chain).finish(),
            None => f.write_str("CancelHandle(gone)"),
        }
    }
}

impl<T: 'static> IntoFuture for Deferred<T> {
    type Output = Result<T, Failure>;
    type IntoFuture = DeferredFuture<T>;

    fn into_future(self) -> DeferredFuture<T> {
        let d = match self.try_result() {
            Ok(result) => {
                return DeferredFuture {
                    state: Awaiting::Known(Some(result)),
                };
            }
            Err(d) => d,
        };
        let chain = d.canceller().chain;
        let slot = Rc::new(RefCell::new(Slot::Waiting(None)));
        let weak = Rc::downgrade(&slot);
        d.add_both(move |result: Result<T, Failure>| {
            let Some(slot) = weak.upgrade() else {
                // Nobody awaits any more: keep a failure in the chain so it is logged.
                return result.map(drop);
            };
            let old = mem::replace(&mut *slot.borrow_mut(), Slot::Ready(result));
            match old {
                Slot::Waiting(Some(Waiter::Driver(driver))) => {
                    if let Some(driver) = driver.upgrade() {
                        driver.resume();
                    }
                }
                Slot::Waiting(Some(Waiter::Waker(waker))) => waker.wake(),
                _ => {}
            }
            Ok(())
        });
        DeferredFuture {
            state: Awaiting::Pending { slot, chain },
        }
    }
}

// The value is only ever moved out whole, never pinned in place: no `T: Unpin` needed.
impl<T> Unpin for DeferredFuture<T> {}

impl<T> Future for DeferredFuture<T> {
    type Output = Result<T, Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every field is `Unpin`: the future moves nothing it was pinned with.
        let (slot, chain) = match &mut self.get_mut().state {
            Awaiting::Known(result) => match result.take() {
                Some(result) => return Poll::Ready(result),
                None => panic!("DeferredFuture polled after it completed"),
            },
            Awaiting::Pending { slot, chain } => (slot, chain),
        };
        let mut slot = slot.borrow_mut();
        match mem::replace(&mut *slot, Slot::Taken) {
            Slot::Ready(result) => Poll::Ready(result),
            Slot::Waiting(old) => {
                let waiter = match old {
                    // Polled again by the same task: nothing to redo.
                    Some(Waiter::Waker(w)) if w.will_wake(cx.waker()) => Waiter::Waker(w),
                    _ => match current_driver(cx.waker()) {
                        Some(driver) => Waiter::Driver(driver),
                        None => Waiter::Waker(cx.waker().clone()),
                    },
                };
                *slot = Slot::Waiting(Some(waiter));
                AWAITED.with(|a| *a.borrow_mut() = Some(chain.clone()));
                Poll::Pending
            }
            Slot::Taken => panic!("DeferredFuture polled after it completed"),
        }
    }
}

impl<T> Drop for DeferredFuture<T> {
    fn drop(&mut self) {
        // A result that arrived but was never polled: keep its failure from vanishing.
        let failure = match &mut self.state {
            Awaiting::Known(result) => match result.take() {
                Some(Err(failure)) => Some(failure),
                _ => None,
            },
            Awaiting::Pending { slot, .. } => {
                match mem::replace(&mut *slot.borrow_mut(), Slot::Taken) {
                    Slot::Ready(Err(failure)) => Some(failure),
                    _ => None,
                }
            }
        };
        if let Some(failure) = failure {
            tracing::error!(
                target: "torsion::defer",
                failed_at = %failure.location(),
                error_type = failure.type_name(),
                "unhandled error in dropped Deferred future: {failure} ({}; failed at {})",
                failure.type_name(),
                failure.location(),
            );
            super::report::to_stderr_unobserved(tracing::Level::ERROR, || {
                format!(
                    "unhandled error in dropped Deferred future: {failure} ({}; failed at {})",
                    failure.type_name(),
                    failure.location(),
                )
            });
        }
    }
}

impl<T> fmt::Debug for DeferredFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            Awaiting::Known(Some(_)) => "ready",
            Awaiting::Known(None) => "done",
            Awaiting::Pending { slot, .. } => match *slot.borrow() {
                Slot::Waiting(_) => "waiting",
                Slot::Ready(_) => "ready",
                Slot::Taken => "done",
            },
        };
        f.debug_struct("DeferredFuture")
            .field("state", &state)
            .finish()
    }
}
