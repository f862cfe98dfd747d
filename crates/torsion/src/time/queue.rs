//! The timer heap behind every clock: [`TimerQueue`] and its [`DelayedCall`] handles.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::heap::{Entry, Heap};
use super::{CallSite, TimerError};

/// A queue of calls ordered by deadline; the engine of the reactor's timers and of the
/// fake clock. Cheap to clone: clones share one queue.
#[derive(Clone)]
pub struct TimerQueue {
    pub(super) shared: Rc<Shared>,
}

/// A handle to a call scheduled on a [`TimerQueue`] (Twisted's `DelayedCall`).
///
/// Clones refer to the same call. Dropping the handle does not cancel the call.
#[derive(Clone)]
pub struct DelayedCall {
    call: Rc<Call>,
    queue: Weak<Shared>,
}

/// A call whose time has come, taken off the queue: run it with [`Due::run`], outside
/// any borrow of the queue, so that it may schedule or cancel other calls.
pub struct Due {
    f: Box<dyn FnOnce()>,
    /// Where the call was scheduled.
    pub site: CallSite,
    /// The deadline it was due at.
    pub at: Duration,
}

pub(super) struct Shared {
    pub(super) heap: RefCell<Heap>,
    now: Box<dyn Fn() -> Duration>,
    next_seq: Cell<u64>,
    /// Heap entries that no longer lead to a pending call (cancelled or moved).
    stale: Cell<usize>,
}

pub(super) struct Call {
    state: RefCell<State>,
    /// Deadline on the queue's clock.
    at: Cell<Duration>,
    /// The scheduling order of the call's live heap entry; a heap entry with another
    /// `seq` is stale (the call was moved by `reset` or `delay`).
    seq: Cell<u64>,
    site: CallSite,
}

enum State {
    Pending(Box<dyn FnOnce()>),
    Called,
    Cancelled,
}

/// Rebuild the heap once stale entries exceed this many and half of it.
const COMPACT_THRESHOLD: usize = 64;

#[cfg(test)]
pub(super) const COMPACT_THRESHOLD_FOR_TESTS: usize = COMPACT_THRESHOLD;

impl TimerQueue {
    /// A queue whose clock is `now` (monotonic, since some origin).
    pub fn new(now: impl Fn() -> Duration + 'static) -> TimerQueue {
        TimerQueue {
            shared: Rc::new(Shared {
                heap: RefCell::default(),
                now: Box::new(now),
                next_seq: Cell::new(0),
                stale: Cell::new(0),
            }),
        }
    }

    /// Now, on this queue's clock.
    pub fn now(&self) -> Duration {
        (self.shared.now)()
    }

    /// Schedules `f` to run `delay` from now.
    #[track_caller]
    pub fn schedule(&self, delay: Duration, f: Box<dyn FnOnce()>) -> DelayedCall {
        self.schedule_from(delay, f, Location::caller())
    }

    /// Schedules `f` to run `delay` from now, recording `site` as where it was asked for
    /// (for reactors that take the location in their own `#[track_caller]` method).
    pub fn schedule_from(
        &self,
        delay: Duration,
        f: Box<dyn FnOnce()>,
        site: CallSite,
    ) -> DelayedCall {
        let at = self.now().saturating_add(delay);
        let seq = self.shared.take_seq();
        let call = Rc::new(Call {
            state: RefCell::new(State::Pending(f)),
            at: Cell::new(at),
            seq: Cell::new(seq),
            site,
        });
        self.shared.heap.borrow_mut().push(Entry {
            at: nanos(at),
            seq,
            call: call.clone(),
        });
        DelayedCall {
            call,
            queue: Rc::downgrade(&self.shared),
        }
    }

    /// The order number the next scheduled call will get. A reactor notes it before
    /// running due calls and passes it to [`pop_due`](Self::pop_due), so that calls
    /// scheduled while running (a `call_later(0)` loop) wait for the next turn.
    pub fn next_seq(&self) -> u64 {
        self.shared.next_seq.get()
    }

    /// The deadline of the earliest pending call, if any.
    pub fn next_deadline(&self) -> Option<Duration> {
        let mut heap = self.shared.heap.borrow_mut();
        while let Some(top) = heap.peek() {
            if top.is_live() {
                return Some(top.call.at.get());
            }
            heap.pop();
            self.shared
                .stale
                .set(self.shared.stale.get().saturating_sub(1));
        }
        None
    }

    /// Takes the earliest call due at or before `now` and scheduled before `seq_limit`
    /// (see [`next_seq`](Self::next_seq)), marking it called.
    pub fn pop_due(&self, now: Duration, seq_limit: u64) -> Option<Due> {
        let mut heap = self.shared.heap.borrow_mut();
        loop {
            let top = heap.peek()?;
            if !top.is_live() {
                heap.pop();
                self.shared
                    .stale
                    .set(self.shared.stale.get().saturating_sub(1));
                continue;
            }
            if top.at > nanos(now) || top.seq >= seq_limit {
                return None;
            }
            let entry = heap.pop()?;
            let state = entry.call.state.replace(State::Called);
            let State::Pending(f) = state else {
                // Unreachable: `is_live` checked the state; keep the queue consistent anyway.
                continue;
            };
            return Some(Due {
                f,
                site: entry.call.site,
                at: entry.call.at.get(),
            });
        }
    }

    /// Runs every call due at or before `now`, including calls that those calls schedule
    /// for `now` or earlier (Twisted's `Clock.advance` semantics), and returns how many ran.
    ///
    /// A panicking call is not caught here: callers that must survive user panics (the
    /// reactor) use [`pop_due`](Self::pop_due) and catch them around [`Due::run`].
    pub fn run_due(&self, now: Duration) -> usize {
        let mut ran = 0;
        while let Some(due) = self.pop_due(now, u64::MAX) {
            due.run();
            ran += 1;
        }
        ran
    }

    /// Pending (not cancelled, not yet run) calls, earliest first.
    pub fn pending(&self) -> Vec<DelayedCall> {
        let heap = self.shared.heap.borrow();
        let mut live: Vec<&Entry> = heap.iter().filter(|e| e.is_live()).collect();
        live.sort_by_key(|e| (e.at, e.seq));
        live.iter()
            .map(|e| DelayedCall {
                call: e.call.clone(),
                queue: Rc::downgrade(&self.shared),
            })
            .collect()
    }

    /// How many calls are pending.
    pub fn len(&self) -> usize {
        self.shared
            .heap
            .borrow()
            .iter()
            .filter(|e| e.is_live())
            .count()
    }

    /// True when no call is pending.
    pub fn is_empty(&self) -> bool {
        self.next_deadline().is_none()
    }
}

impl fmt::Debug for TimerQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerQueue")
            .field("entries", &self.shared.heap.borrow().len())
            .field("stale", &self.shared.stale.get())
            .finish()
    }
}

impl Shared {
    fn take_seq(&self) -> u64 {
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        seq
    }

    /// Notes one more stale heap entry, and drops them all when they dominate the heap,
    /// so a server that schedules and cancels timeouts forever keeps a bounded heap.
    fn mark_stale(&self) {
        let stale = self.stale.get() + 1;
        self.stale.set(stale);
        let Ok(mut heap) = self.heap.try_borrow_mut() else {
            return; // The queue is being walked; compaction waits for the next cancel.
        };
        if stale > COMPACT_THRESHOLD && stale * 2 > heap.len() {
            heap.retain(Entry::is_live);
            self.stale.set(0);
        }
    }
}

impl DelayedCall {
    /// Cancels the call: its closure is dropped now and will never run.
    ///
    /// Fails with [`TimerError::AlreadyCalled`] or [`TimerError::AlreadyCancelled`].
    pub fn cancel(&self) -> Result<(), TimerError> {
        self.check_pending()?;
        // Drop the closure after releasing the borrow: its captures may touch this call.
        let old = self.call.state.replace(State::Cancelled);
        if let Some(queue) = self.queue.upgrade() {
            queue.mark_stale();
        }
        drop(old);
        Ok(())
    }

    /// Moves the call to run `delay` from now (Twisted's `reset`).
    pub fn reset(&self, delay: Duration) -> Result<(), TimerError> {
        self.check_pending()?;
        let Some(queue) = self.queue.upgrade() else {
            return Ok(()); // Its clock is gone: the call can never run anyway.
        };
        self.move_to((queue.now)().saturating_add(delay), &queue);
        Ok(())
    }

    /// Pushes the call `by` later than it was due (Twisted's `delay`).
    pub fn delay(&self, by: Duration) -> Result<(), TimerError> {
        self.check_pending()?;
        let Some(queue) = self.queue.upgrade() else {
            return Ok(());
        };
        self.move_to(self.call.at.get().saturating_add(by), &queue);
        Ok(())
    }

    /// True until the call runs or is cancelled.
    pub fn active(&self) -> bool {
        matches!(*self.call.state.borrow(), State::Pending(_))
    }

    /// When the call is (or was) due, on its clock's scale.
    pub fn time(&self) -> Duration {
        self.call.at.get()
    }

    /// Where the call was scheduled.
    pub fn site(&self) -> CallSite {
        self.call.site
    }

    fn check_pending(&self) -> Result<(), TimerError> {
        match *self.call.state.borrow() {
            State::Pending(_) => Ok(()),
            State::Called => Err(TimerError::AlreadyCalled),
            State::Cancelled => Err(TimerError::AlreadyCancelled),
        }
    }

    /// Re-queues the call at `at` under a new order number; the old heap entry goes stale.
    fn move_to(&self, at: Duration, queue: &Rc<Shared>) {
        let seq = queue.take_seq();
        self.call.at.set(at);
        self.call.seq.set(seq);
        queue.heap.borrow_mut().push(Entry {
            at: nanos(at),
            seq,
            call: self.call.clone(),
        });
        queue.mark_stale();
    }
}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match *self.call.state.borrow() {
            State::Pending(_) => "pending",
            State::Called => "called",
            State::Cancelled => "cancelled",
        };
        f.debug_struct("DelayedCall")
            .field("time", &self.call.at.get())
            .field("state", &state)
            .field("site", &format_args!("{}", self.call.site))
            .finish()
    }
}

impl Due {
    /// Runs the call.
    pub fn run(self) {
        (self.f)()
    }
}

impl fmt::Debug for Due {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Due")
            .field("at", &self.at)
            .field("site", &format_args!("{}", self.site))
            .finish()
    }
}

impl Entry {
    fn is_live(&self) -> bool {
        self.call.seq.get() == self.seq && matches!(*self.call.state.borrow(), State::Pending(_))
    }
}

/// A deadline as the heap's key: nanoseconds, saturated at `u64::MAX` (584 years); calls
/// further out than that keep their scheduling order among themselves.
fn nanos(at: Duration) -> u64 {
    u64::try_from(at.as_nanos()).unwrap_or(u64::MAX)
}
