//! Futures as Deferreds with no reactor (Twisted's `ensureDeferred`): [`ensure_deferred`]
//! and the `Driver` that resumes a future inside the `callback()` of the Deferred it
//! awaits. The rules are on [`ensure_deferred`].

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};

use slab::Slab;

use super::bridge::{track_awaits, CancelHandle};
use super::chain::{Chain, Site, Value};
use super::{Deferred, Failure, Resolver};

/// How deep resumes nest before they are queued for the outermost one (see
/// [`ensure_deferred`]).
pub const MAX_NESTED_RESUMES: u32 = 64;

/// Runs `future` at once up to its first wait, resumes it synchronously whenever a
/// Deferred it awaits fires, and gives its result as a Deferred (Twisted's
/// `ensureDeferred`). Needs no reactor; see below for the futures that do. A panic in the future fails the Deferred with a
/// [`Panicked`](super::Panicked) failure.
///
/// Cancelling the Deferred cancels the Deferred the future is waiting on; the future is
/// resumed at once with `Err(Cancelled)` and may recover, in which case its own result
/// fires the Deferred, as in Twisted. A future waiting on something that is not a
/// Deferred is dropped instead, and the Deferred fails with
/// [`Cancelled`](super::Cancelled).
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use torsion::defer::{ensure_deferred, ok, Deferred};
///
/// let trace = Rc::new(RefCell::new(Vec::new()));
/// let (gate, open) = Deferred::<u32>::new();
/// let doubled = ensure_deferred({
///     let trace = trace.clone();
///     async move {
///         trace.borrow_mut().push("waiting");
///         let n = gate.await?;
///         trace.borrow_mut().push("resumed");
///         ok(n * 2)
///     }
/// });
/// open.callback(21).unwrap(); // the future resumes here, before `callback` returns
/// trace.borrow_mut().push("callback returned");
/// assert_eq!(*trace.borrow(), ["waiting", "resumed", "callback returned"]);
/// assert_eq!(doubled.try_result().ok().unwrap().ok(), Some(42));
/// ```
///
/// # What needs the reactor, and what does not
///
/// A future is polled at once, up to its first wait, and then again each time what it
/// waits on is ready:
///
/// - **A Deferred** (awaited directly, or inside `async` blocks, `join`s and `select`s
///   polled with the task's own waker): the future is polled synchronously, inside the
///   Deferred's `callback()`/`errback()`, as Twisted resumes a coroutine. No reactor is
///   needed: a fake [`Clock`](crate::task::Clock) driving `defer_later` runs async code to
///   its end with `clock.advance(..)` alone.
/// - **Anything else woken on this thread** (a `std::future` or `futures` channel filled
///   by code on this thread, a combinator with its own wakers): the waker polls the future
///   at once, the same way.
/// - **Something woken from another thread** (a thread pool's result, a tokio runtime, an
///   OS event): a future cannot be polled on another thread, so this needs an executor on
///   the future's own thread: use `Reactor::ensure_deferred`, whose tasks are woken through
///   the reactor's thread-safe queue. Without one, the wake is logged as a warning
///   (target `torsion::defer`) and the future waits forever.
///
/// Futures that need tokio's runtime (`tokio::time::sleep`, `tokio::net`) run on no
/// torsion executor: tokio panics with "there is no reactor running". Run them on a tokio
/// runtime on its own thread and hand results back with `ReactorHandle::call_from_thread`
/// (the guide's async/await page shows the pattern).
///
/// # Re-entrancy and depth
///
/// A future is never polled inside its own poll: a Deferred fired by the future itself
/// marks it, and it is polled again as soon as its poll returns. Resumes nest (a resumed
/// future fires a Deferred another future awaits, which resumes in turn, as in Twisted),
/// up to [`MAX_NESTED_RESUMES`] deep; past that, resumes wait in a queue that the
/// outermost one runs in a loop, so a chain of 100,000 futures each awaiting the previous
/// one does not grow the stack.
///
/// A future that never finishes (it awaits a Deferred nobody fires) stays with its
/// thread, as a task stays with its executor; dropping its Deferred does not drop it.
#[track_caller]
pub fn ensure_deferred<T: 'static>(
    future: impl Future<Output = Result<T, Failure>> + 'static,
) -> Deferred<T> {
    let (deferred, driver) = Driver::start(future, Location::caller());
    driver.set_waker(LocalWake::waker(&driver));
    driver.resume();
    deferred
}

/// A future run as a Deferred: polls it when what it awaits is ready. Shared by
/// [`ensure_deferred`] and the reactor's executor (`Reactor::ensure_deferred`).
pub(crate) struct Driver {
    /// The future, wrapped to fire the Deferred; `None` while polled and once done.
    future: RefCell<Option<Pin<Box<dyn Future<Output = ()>>>>>,
    state: Cell<Run>,
    /// The waker the future is polled with; Deferreds it awaits with this waker resume
    /// it directly instead of waking it.
    waker: RefCell<Option<Waker>>,
    /// The Deferred the future waited on when its last poll returned `Pending`.
    awaited: RefCell<Option<CancelHandle>>,
    /// Run once when the future is done or dropped (the reactor forgets its task).
    on_done: RefCell<Option<Box<dyn FnOnce()>>>,
    /// The registry slot of its thread-local waker, if it has one.
    local_key: Cell<Option<usize>>,
    /// The Deferred's chain, failed with `Panicked` if the future panics (its typed
    /// resolver is inside the future); let go once the future is done.
    chain: RefCell<Option<Rc<Chain>>>,
    site: Site,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Run {
    Idle,
    Polling,
    /// Woken during its own poll: poll again when it returns.
    PollingWoken,
    /// Cancelled during its own poll while waiting on no Deferred: drop it after.
    PollingAborted,
    Done,
}

thread_local! {
    /// The driver polling its future now, so that a Deferred awaited with its waker
    /// resumes it directly.
    static CURRENT: RefCell<Option<Rc<Driver>>> = const { RefCell::new(None) };
    /// Whether `CURRENT` holds a driver: one read on the path of every await.
    static IN_DRIVER: Cell<bool> = const { Cell::new(false) };
    /// How many resumes are nested on this thread's stack now.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Resumes past the depth limit, run by the outermost one.
    static QUEUED: RefCell<VecDeque<Rc<Driver>>> = const { RefCell::new(VecDeque::new()) };
    /// Drivers with no executor, reachable from their `Send` wakers by key (with an id,
    /// so that a stale waker never reaches the driver that reused its key). This is what
    /// keeps such a driver alive until its future is done, as an executor's task list
    /// keeps its tasks.
    static LOCAL: RefCell<Slab<(u64, Rc<Driver>)>> = const { RefCell::new(Slab::new()) };
    static NEXT_LOCAL_ID: Cell<u64> = const { Cell::new(0) };
}

impl Driver {
    /// A driver for `future` and the Deferred it fires; nothing is polled yet.
    pub(crate) fn start<T: 'static>(
        future: impl Future<Output = Result<T, Failure>> + 'static,
        site: Site,
    ) -> (Deferred<T>, Rc<Driver>) {
        let driver = Rc::new(Driver {
            future: RefCell::new(None),
            state: Cell::new(Run::Idle),
            waker: RefCell::new(None),
            awaited: RefCell::new(None),
            on_done: RefCell::new(None),
            local_key: Cell::new(None),
            chain: RefCell::new(None),
            site,
        });
        let (deferred, resolver) = Deferred::with_canceller_at(site, {
            let driver = Rc::downgrade(&driver);
            move |_: &Resolver<T>| {
                if let Some(driver) = driver.upgrade() {
                    driver.cancel();
                }
            }
        });
        *driver.chain.borrow_mut() = Some(resolver.chain.clone());
        // One allocation holds the user's future and what fires the Deferred with its
        // result; a panic is caught around the poll (see `poll_until_pending`).
        let fire = async move {
            let result = future.await;
            // Already fired only when it was cancelled meanwhile: the result goes
            // nowhere, as in Twisted. The "first invoker" is where it became a Deferred.
            let _ = resolver.chain.fire(result.map(Value::new), site);
        };
        *driver.future.borrow_mut() = Some(Box::pin(fire));
        (deferred, driver)
    }

    /// Sets the waker the future is polled with.
    pub(crate) fn set_waker(&self, waker: Waker) {
        *self.waker.borrow_mut() = Some(waker);
    }

    /// Sets the waker from the executor's first poll, keeping one already set.
    pub(crate) fn set_waker_once(&self, waker: &Waker) {
        let mut slot = self.waker.borrow_mut();
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Runs `f` once the future is done or dropped (at once if it already is).
    pub(crate) fn on_done(&self, f: impl FnOnce() + 'static) {
        if self.state.get() == Run::Done {
            f();
        } else {
            *self.on_done.borrow_mut() = Some(Box::new(f));
        }
    }

    /// True once the future finished or was dropped.
    pub(crate) fn is_done(&self) -> bool {
        self.state.get() == Run::Done
    }

    /// True if `waker` is the one this driver polls with.
    fn owns(&self, waker: &Waker) -> bool {
        self.waker
            .borrow()
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
    }

    /// Polls the future now, unless it is being polled (then it is polled again when
    /// that poll returns) or resumes are nested too deep (then the outermost runs it).
    pub(crate) fn resume(self: &Rc<Self>) {
        match self.state.get() {
            Run::Idle => {}
            Run::Polling => return self.state.set(Run::PollingWoken),
            Run::PollingWoken | Run::PollingAborted | Run::Done => return,
        }
        let depth = DEPTH.get();
        if depth >= MAX_NESTED_RESUMES {
            QUEUED.with_borrow_mut(|q| q.push_back(self.clone()));
            return;
        }
        DEPTH.set(depth + 1);
        self.poll_until_pending();
        DEPTH.set(depth);
        if depth == 0 {
            // The outermost resume: run what was queued past the depth limit, in order.
            while let Some(next) = QUEUED.with_borrow_mut(VecDeque::pop_front) {
                match next.state.get() {
                    Run::Idle => {
                        DEPTH.set(1);
                        next.poll_until_pending();
                        DEPTH.set(0);
                    }
                    Run::Polling => next.state.set(Run::PollingWoken),
                    Run::PollingWoken | Run::PollingAborted | Run::Done => {}
                }
            }
        }
    }

    fn poll_until_pending(self: &Rc<Self>) {
        loop {
            let Some(mut future) = self.future.borrow_mut().take() else {
                return;
            };
            let waker = self.waker.borrow();
            let Some(waker_ref) = waker.as_ref() else {
                drop(waker);
                *self.future.borrow_mut() = Some(future);
                return; // Not started by its executor yet: it polls first.
            };
            // Borrowed for the poll: the waker is replaced only by the executor's own
            // poll, which cannot run while this one does.
            let mut cx = Context::from_waker(waker_ref);
            self.state.set(Run::Polling);
            super::report::blame(super::report::Blame::Future(self.site));
            let outer = CURRENT.replace(Some(self.clone()));
            let outer_in = IN_DRIVER.replace(true);
            let polled = catch_unwind(AssertUnwindSafe(|| {
                track_awaits(|| future.as_mut().poll(&mut cx))
            }));
            IN_DRIVER.set(outer_in);
            CURRENT.set(outer);
            drop(waker);
            let polled = match polled {
                Ok((polled, awaited)) => {
                    *self.awaited.borrow_mut() = awaited;
                    polled
                }
                Err(payload) => {
                    let failure = Failure::from_panic_at(payload, self.site);
                    let chain = self.chain.borrow_mut().take();
                    self.finish(Some(future));
                    if let Some(chain) = chain {
                        // Already fired only when it was cancelled meanwhile.
                        let _ = chain.fire(Err(failure), self.site);
                    }
                    return;
                }
            };
            match (polled, self.state.get()) {
                (Poll::Pending, Run::Polling) => {
                    *self.future.borrow_mut() = Some(future);
                    self.state.set(Run::Idle);
                    return;
                }
                (Poll::Pending, Run::PollingWoken) => {
                    *self.future.borrow_mut() = Some(future);
                    self.state.set(Run::Idle);
                }
                _ => {
                    self.finish(Some(future));
                    return;
                }
            }
        }
    }

    /// The future is done or given up: drop it and tell the executor.
    fn finish(&self, future: Option<Pin<Box<dyn Future<Output = ()>>>>) {
        self.state.set(Run::Done);
        *self.awaited.borrow_mut() = None;
        let chain = self.chain.borrow_mut().take();
        drop(chain);
        // Dropped outside every borrow: its destructor may fire Deferreds.
        drop(future);
        if let Some(key) = self.local_key.take() {
            // Dropped after the borrow: it is not the last handle (the caller holds one),
            // but nothing is dropped under the registry's borrow.
            let entry = LOCAL.with_borrow_mut(|slots| slots.try_remove(key));
            drop(entry);
        }
        let on_done = self.on_done.borrow_mut().take();
        if let Some(f) = on_done {
            f();
        }
    }

    /// The Deferred's canceller: cancel what the future awaits (it then resumes with
    /// `Err(Cancelled)`), or drop a future that awaits no Deferred.
    fn cancel(self: &Rc<Self>) {
        let awaited = self.awaited.borrow_mut().take();
        match (awaited, self.state.get()) {
            (_, Run::Done) => {}
            (Some(awaited), _) => awaited.cancel(),
            (None, Run::Idle) => {
                let future = self.future.borrow_mut().take();
                self.finish(future);
            }
            (None, _) => self.state.set(Run::PollingAborted),
        }
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("state", &self.state.get())
            .field("site", &format_args!("{}", self.site))
            .finish()
    }
}

/// If a future is being polled by a driver with `waker`, that driver: the Deferred the
/// future awaits resumes it directly.
#[inline]
pub(crate) fn current_driver(waker: &Waker) -> Option<Weak<Driver>> {
    if !IN_DRIVER.get() {
        return None;
    }
    CURRENT.with_borrow(|current| {
        current
            .as_ref()
            .filter(|driver| driver.owns(waker))
            .map(Rc::downgrade)
    })
}

/// The `Send` waker of a driver with no executor: wakes on the driver's own thread poll
/// it at once; a wake from another thread cannot, and is logged.
struct LocalWake {
    thread: ThreadId,
    key: usize,
    id: u64,
    site: Site,
}

impl LocalWake {
    fn waker(driver: &Rc<Driver>) -> Waker {
        let id = NEXT_LOCAL_ID.get();
        NEXT_LOCAL_ID.set(id + 1);
        let key = LOCAL.with_borrow_mut(|slots| slots.insert((id, driver.clone())));
        driver.local_key.set(Some(key));
        Waker::from(Arc::new(LocalWake {
            thread: thread::current().id(),
            key,
            id,
            site: driver.site,
        }))
    }
}

impl Wake for LocalWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if thread::current().id() != self.thread {
            tracing::warn!(
                target: "torsion::defer",
                site = %self.site,
                "future run by ensure_deferred at {} was woken from another thread; it \
                 needs an executor on its thread: use Reactor::ensure_deferred",
                self.site,
            );
            return;
        }
        let driver = LOCAL.with_borrow(|slots| match slots.get(self.key) {
            Some((id, driver)) if *id == self.id => Some(driver.clone()),
            _ => None, // Its future is done: nothing to poll.
        });
        if let Some(driver) = driver {
            driver.resume();
        }
    }
}
