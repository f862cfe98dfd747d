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
//! Twisted's coroutines are not), then as a task of the reactor. A panic in it fails the
//! Deferred with a `Panicked` failure.
//!
//! Cancelling the Deferred cancels the Deferred the future is waiting on, and the future
//! is polled at once: it sees `Err(Cancelled)` from its `await` and may recover, in which
//! case its own value fires the Deferred, as in Twisted. A future waiting on something
//! that is not a Deferred is dropped instead, and the Deferred fails with `Cancelled`.

use std::{
    cell::RefCell,
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe, Location},
    pin::Pin,
    rc::Rc,
    task::{Context, Poll},
};

use super::{Reactor, Task};
use crate::{
    defer::{track_awaits, CancelHandle, Deferred, Resolver},
    time::CallSite,
    Failure,
};

impl Reactor {
    /// Runs `future` at once up to its first wait, then on this reactor, and gives its
    /// result as a Deferred (Twisted's `ensureDeferred`).
    #[track_caller]
    pub fn ensure_deferred<T: 'static>(
        &self,
        future: impl Future<Output = Result<T, Failure>> + 'static,
    ) -> Deferred<T> {
        let site = Location::caller();
        let state = Rc::new(State::default());
        let (deferred, resolver) = Deferred::with_canceller({
            let state = state.clone();
            move |_: &Resolver<T>| state.cancel()
        });
        let bridge = Bridge {
            future: Box::pin(future),
            resolver: Some(resolver),
            state: state.clone(),
            site,
        };
        let task = self.spawn_at(bridge, site, true);
        *state.task.borrow_mut() = Some(task);
        deferred
    }
}

/// What the Deferred's canceller shares with the running future.
#[derive(Default)]
struct State {
    /// The Deferred the future waited on when its last poll returned `Pending`.
    awaited: RefCell<Option<CancelHandle>>,
    /// The task polling the future; `None` during the first poll.
    task: RefCell<Option<Task>>,
}

impl State {
    fn cancel(&self) {
        let awaited = self.awaited.borrow_mut().take();
        let task = self.task.borrow();
        match (awaited, task.as_ref()) {
            (Some(awaited), task) => {
                awaited.cancel();
                // Let the future see its cancellation now, so that a future that recovers
                // fires the Deferred before `cancel` fails it, as in Twisted.
                if let Some(task) = task {
                    task.poll_now();
                }
            }
            (None, Some(task)) => {
                task.abort();
            }
            (None, None) => {}
        }
    }
}

/// The task's future: polls the user's future and fires the Deferred with its result.
struct Bridge<T, F> {
    future: Pin<Box<F>>,
    /// Taken when the Deferred is fired.
    resolver: Option<Resolver<T>>,
    state: Rc<State>,
    site: CallSite,
}

impl<T: 'static, F: Future<Output = Result<T, Failure>>> Future for Bridge<T, F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let future = &mut this.future;
        let (polled, awaited) =
            track_awaits(|| catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))));
        *this.state.awaited.borrow_mut() = awaited;
        let result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => result,
            Err(payload) => Err(Failure::from_panic_at(payload, this.site)),
        };
        if let Some(resolver) = this.resolver.take() {
            // Already fired only when it was cancelled meanwhile: the result goes nowhere,
            // as in Twisted.
            let _ = resolver.resolve(result);
        }
        Poll::Ready(())
    }
}
