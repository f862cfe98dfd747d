//! Futures on the reactor's thread: [`Reactor::spawn`] runs a `!Send` future to completion
//! between the loop's other callbacks.
//!
//! ```
//! use std::{cell::Cell, rc::Rc};
//! use torsion::reactor::Reactor;
//! let reactor = Reactor::new().unwrap();
//! let seen = Rc::new(Cell::new(false));
//! let task = reactor.spawn({
//!     let (seen, reactor) = (seen.clone(), reactor.clone());
//!     async move {
//!         seen.set(true);
//!         reactor.stop();
//!     }
//! });
//! reactor.run();
//! assert!(seen.get() && task.is_finished());
//! ```
//!
//! A task's waker is `Send + Sync` as `std` requires: waking pushes the task onto the
//! reactor's thread-safe queue, and the backend is woken only when the wake comes from
//! another thread (on the reactor's own thread the loop is awake and looks at the queue
//! before it sleeps). A task woken many times before it runs is polled once; a task waiting
//! on nothing is never polled and costs nothing. A panicking poll is logged and the task
//! dropped; a poll that holds the loop is reported as a stall, with the `spawn` site.

use std::{
    fmt,
    future::Future,
    panic::Location,
    pin::Pin,
    rc::Weak,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll, Wake, Waker},
};

use slab::Slab;

use super::{guard::Kind, handle::Shared, Inner, Reactor};
use crate::time::CallSite;

/// A future spawned on a reactor; dropping the handle does not stop the task.
pub struct Task {
    reactor: Weak<Inner>,
    key: usize,
    id: u64,
}

/// The reactor's spawned futures.
#[derive(Default)]
pub(crate) struct Tasks {
    slots: Slab<Slot>,
    next_id: u64,
}

type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;

struct Slot {
    id: u64,
    /// `None` while the future is being polled (it is taken out to poll without a borrow).
    future: Option<BoxFuture>,
    waker: Arc<TaskWaker>,
    site: CallSite,
    /// Set when aborted during its own poll: dropped once the poll returns.
    aborted: bool,
}

/// The `Send + Sync` half of a task: what its `Waker` holds.
struct TaskWaker {
    key: usize,
    id: u64,
    /// True while the task sits in the ready queue, so repeated wakes push it once.
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Tasks {
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}

impl Reactor {
    /// Runs `future` on this reactor's thread; its first poll comes on the next loop turn.
    #[track_caller]
    pub fn spawn(&self, future: impl Future<Output = ()> + 'static) -> Task {
        self.spawn_at(future, Location::caller(), false)
    }

    /// Adds a task; `now`: poll it at once instead of on the next turn.
    pub(super) fn spawn_at(
        &self,
        future: impl Future<Output = ()> + 'static,
        site: CallSite,
        now: bool,
    ) -> Task {
        let mut tasks = self.inner.tasks.borrow_mut();
        let id = tasks.next_id;
        tasks.next_id += 1;
        let entry = tasks.slots.vacant_entry();
        let key = entry.key();
        let waker = Arc::new(TaskWaker {
            key,
            id,
            queued: AtomicBool::new(false),
            shared: self.inner.shared.clone(),
        });
        if !now {
            waker.wake_by_ref();
        }
        entry.insert(Slot {
            id,
            future: Some(Box::pin(future)),
            waker,
            site,
            aborted: false,
        });
        drop(tasks);
        if now {
            self.poll_task(key, id);
        }
        Task {
            reactor: std::rc::Rc::downgrade(&self.inner),
            key,
            id,
        }
    }

    /// How many spawned tasks have not finished.
    pub fn pending_tasks(&self) -> usize {
        self.inner.tasks.borrow().len()
    }

    /// Polls a woken task once, if it still exists.
    pub(super) fn poll_task(&self, key: usize, id: u64) {
        let taken = {
            let mut tasks = self.inner.tasks.borrow_mut();
            match tasks.slots.get_mut(key) {
                Some(slot) if slot.id == id => {
                    slot.waker.queued.store(false, Ordering::Release);
                    slot.future
                        .take()
                        .map(|f| (f, Waker::from(slot.waker.clone()), slot.site))
                }
                _ => None,
            }
        };
        let Some((mut future, waker, site)) = taken else {
            return;
        };
        let mut cx = Context::from_waker(&waker);
        let polled = self
            .inner
            .watch
            .run(Kind::Task, site, || future.as_mut().poll(&mut cx));
        let finished = !matches!(polled, Some(Poll::Pending));
        let leftover = {
            let mut tasks = self.inner.tasks.borrow_mut();
            match tasks.slots.get_mut(key) {
                Some(slot) if !finished && !slot.aborted => {
                    slot.future = Some(future);
                    None
                }
                Some(_) => {
                    tasks.slots.remove(key);
                    Some(future)
                }
                None => Some(future),
            }
        };
        // Drop outside the borrow: a future's destructor may spawn or abort tasks.
        drop(leftover);
    }
}

impl Task {
    /// Drops the future now (or, if it is the one running, as soon as its poll returns).
    /// Returns false when the task had already finished or been aborted.
    pub fn abort(&self) -> bool {
        let Some(inner) = self.reactor.upgrade() else {
            return false;
        };
        let removed = {
            let mut tasks = inner.tasks.borrow_mut();
            match tasks.slots.get_mut(self.key) {
                Some(slot) if slot.id == self.id && !slot.aborted => {
                    if slot.future.is_none() {
                        slot.aborted = true;
                        return true;
                    }
                    tasks.slots.remove(self.key)
                }
                _ => return false,
            }
        };
        drop(removed);
        true
    }

    /// True once the future returned `Ready`, panicked, or was aborted.
    pub fn is_finished(&self) -> bool {
        let Some(inner) = self.reactor.upgrade() else {
            return true;
        };
        let tasks = inner.tasks.borrow();
        !matches!(tasks.slots.get(self.key), Some(slot) if slot.id == self.id)
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl fmt::Debug for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tasks").field("len", &self.len()).finish()
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.shared.push_task(self.key, self.id);
        }
    }
}
