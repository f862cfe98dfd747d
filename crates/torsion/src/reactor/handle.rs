//! The reactor's door for other threads: [`ReactorHandle`] (Twisted's `callFromThread`).
//!
//! ```
//! use std::thread;
//! use torsion::reactor::Reactor;
//! let reactor = Reactor::new().unwrap();
//! let handle = reactor.handle();
//! let worker = thread::spawn(move || {
//!     handle.call_from_thread(|reactor| {
//!         println!("on the reactor thread");
//!         reactor.stop();
//!     });
//! });
//! reactor.run();
//! worker.join().unwrap();
//! ```
//!
//! A call from another thread is pushed onto a queue behind one mutex, and the backend's
//! waker is poked only when no wake-up is already pending: a burst of calls costs one lock
//! each and one wake-up syscall in all, and the loop takes the whole batch with one lock.
//! Tasks woken from other threads come in through the same queue.

use std::{
    fmt, mem,
    panic::Location,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
    thread::{self, ThreadId},
};

use super::{sys::Waker, Reactor};
use crate::time::CallSite;

/// A `Send + Sync` handle to a reactor, for other threads: call a function on the reactor's
/// thread, stop it, or wake it.
///
/// Calls made after the reactor is dropped are dropped unrun. Calls made while it is not
/// running wait for its next [`run`](Reactor::run).
#[derive(Clone)]
pub struct ReactorHandle {
    shared: Arc<Shared>,
}

impl ReactorHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> ReactorHandle {
        ReactorHandle { shared }
    }

    /// Runs `f` on the reactor's thread during its next loop turn (Twisted's
    /// `callFromThread`). Calls from one thread run in the order they were made.
    #[track_caller]
    pub fn call_from_thread(&self, f: impl FnOnce(&Reactor) + Send + 'static) {
        self.shared.push_call(ThreadCall {
            f: Box::new(f),
            site: Location::caller(),
        });
    }

    /// Asks the reactor to stop, as [`Reactor::stop`] from its own thread would.
    #[track_caller]
    pub fn stop(&self) {
        self.call_from_thread(|reactor| reactor.stop());
    }

    /// True when called on the reactor's own thread (where blocking on it would hang).
    pub fn is_reactor_thread(&self) -> bool {
        thread::current().id() == self.shared.thread
    }

    /// Ends the reactor's current wait, so it runs a loop turn (and checks its timers).
    pub fn wake(&self) {
        self.shared.wake_from(thread::current().id());
    }
}

impl fmt::Debug for ReactorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorHandle")
            .field("thread", &self.shared.thread)
            .finish_non_exhaustive()
    }
}

/// A function sent to the reactor's thread, with where it was sent from.
pub(crate) struct ThreadCall {
    pub(crate) f: Box<dyn FnOnce(&Reactor) + Send>,
    pub(crate) site: CallSite,
}

/// What other threads hand the loop.
#[derive(Default)]
pub(crate) struct Queue {
    pub(crate) calls: Vec<ThreadCall>,
    /// Woken tasks, as `(slab key, task id)`.
    pub(crate) tasks: Vec<(usize, u64)>,
}

/// The part of a reactor that other threads can reach.
pub(crate) struct Shared {
    queue: Mutex<Queue>,
    /// Set when the reactor is dropped: calls pushed afterwards are dropped unrun.
    closed: AtomicBool,
    /// True from the first push after a drain until the loop's next drain. While it is
    /// set, the loop does not sleep and pushers do not wake it again.
    pending: AtomicBool,
    waker: Arc<Waker>,
    /// The reactor's own thread: pushes from it need no wake-up, the loop is not asleep.
    thread: ThreadId,
}

impl Shared {
    pub(crate) fn new(waker: Arc<Waker>) -> Shared {
        Shared {
            queue: Mutex::new(Queue::default()),
            closed: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            waker,
            thread: thread::current().id(),
        }
    }

    pub(crate) fn push_call(&self, call: ThreadCall) {
        let mut queue = self.lock();
        // Checked under the lock that `close` takes, so no call slips in after it.
        if self.closed.load(Ordering::Acquire) {
            drop(queue);
            drop(call); // Outside the lock: its captures may do anything when dropped.
            return;
        }
        queue.calls.push(call);
        drop(queue);
        self.mark_pending();
    }

    /// Drops every queued call and every call pushed from now on (the reactor is gone).
    pub(crate) fn close(&self) {
        let taken = {
            let mut queue = self.lock();
            self.closed.store(true, Ordering::Release);
            mem::take(&mut *queue)
        };
        drop(taken);
    }

    pub(crate) fn push_task(&self, key: usize, id: u64) {
        self.lock().tasks.push((key, id));
        self.mark_pending();
    }

    /// Whether the loop has work queued and must not sleep.
    pub(crate) fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Swaps the queue's contents into `into` if anything was pushed since the last drain,
    /// and returns whether it did. `into` is empty on entry; the loop keeps it between
    /// turns, so the two buffers trade places and the steady state allocates nothing.
    pub(crate) fn drain_into(&self, into: &mut Queue) -> bool {
        // Clear the flag before taking the queue: a push that lands after the swap below
        // sets it again and wakes us, so no call can be left behind asleep.
        if !self.pending.swap(false, Ordering::AcqRel) {
            return false;
        }
        let mut queue = self.lock();
        mem::swap(&mut *queue, into);
        true
    }

    fn wake_from(&self, thread: ThreadId) {
        if thread != self.thread {
            self.waker.wake();
        }
    }

    fn mark_pending(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            self.wake_from(thread::current().id());
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A poisoned lock only means a pusher panicked between two plain Vec pushes;
        // the queue itself is still whole.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
