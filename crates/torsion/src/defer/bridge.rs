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
//! The other direction, a future run as a Deferred (Twisted's `ensureDeferred`), needs an
//! executor and lives in the reactor. So that cancelling such a Deferred cancels the
//! Deferred its future is waiting on, as Twisted does, the executor polls through
//! [`track_awaits`] and learns which Deferred that is.

use std::cell::RefCell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::mem;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use super::chain::Chain;
use super::{Deferred, Failure};

/// A `Deferred<T>` being awaited. Dropping it before the Deferred fires leaves any
/// failure in the chain, where it is logged as unhandled, never lost.
pub struct DeferredFuture<T> {
    slot: Rc<RefCell<Slot<T>>>,
    chain: Weak<Chain>,
}

enum Slot<T> {
    Waiting(Option<Waker>),
    Ready(Result<T, Failure>),
    Taken,
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

    /// Cancels the Deferred, if it is still there (see [`Deferred::cancel`]).
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
        let chain = Rc::downgrade(&self.chain);
        let d = match self.try_result() {
            Ok(result) => {
                return DeferredFuture {
                    slot: Rc::new(RefCell::new(Slot::Ready(result))),
                    chain,
                }
            }
            Err(d) => d,
        };
        let slot = Rc::new(RefCell::new(Slot::Waiting(None)));
        let weak = Rc::downgrade(&slot);
        d.add_both(move |result: Result<T, Failure>| {
            let Some(slot) = weak.upgrade() else {
                // Nobody awaits any more: keep a failure in the chain so it is logged.
                return result.map(drop);
            };
            let old = mem::replace(&mut *slot.borrow_mut(), Slot::Ready(result));
            if let Slot::Waiting(Some(waker)) = old {
                waker.wake();
            }
            Ok(())
        });
        DeferredFuture { slot, chain }
    }
}

impl<T> Future for DeferredFuture<T> {
    type Output = Result<T, Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.borrow_mut();
        match mem::replace(&mut *slot, Slot::Taken) {
            Slot::Ready(result) => Poll::Ready(result),
            Slot::Waiting(_) => {
                *slot = Slot::Waiting(Some(cx.waker().clone()));
                AWAITED.with(|a| *a.borrow_mut() = Some(self.chain.clone()));
                Poll::Pending
            }
            Slot::Taken => panic!("DeferredFuture polled after it completed"),
        }
    }
}

impl<T> Drop for DeferredFuture<T> {
    fn drop(&mut self) {
        // A result that arrived but was never polled: keep its failure from vanishing.
        if let Slot::Ready(Err(failure)) = mem::replace(&mut *self.slot.borrow_mut(), Slot::Taken) {
            tracing::error!(
                target: "torsion::defer",
                failed_at = %failure.location(),
                "unhandled error in dropped Deferred future: {failure}"
            );
        }
    }
}

impl<T> fmt::Debug for DeferredFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match *self.slot.borrow() {
            Slot::Waiting(_) => "waiting",
            Slot::Ready(_) => "ready",
            Slot::Taken => "done",
        };
        f.debug_struct("DeferredFuture")
            .field("state", &state)
            .finish()
    }
}
