//! [`Clock`]: a fake clock that moves only when told (Twisted's `task.Clock`).

use std::cell::Cell;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::time::{DelayedCall, ReactorTime, TimerQueue};

/// A clock for tests: its time starts at zero and moves only by [`advance`](Clock::advance)
/// or [`pump`](Clock::pump), which run the calls that come due.
///
/// It implements [`ReactorTime`], as the reactor does, so code written against that trait
/// (`LoopingCall`, `defer_later`, `Deferred::add_timeout`, protocol timeouts) is tested
/// without sleeping. Its calls live on the same [`TimerQueue`] the reactor uses, so their
/// order (deadline, then scheduling order) is the reactor's.
///
/// Clones share one clock.
#[derive(Clone)]
pub struct Clock {
    now: Rc<Cell<Duration>>,
    timers: TimerQueue,
}

impl Clock {
    /// A clock at time zero with no calls.
    pub fn new() -> Clock {
        let now = Rc::new(Cell::new(Duration::ZERO));
        let timers = TimerQueue::new({
            let now = now.clone();
            move || now.get()
        });
        Clock { now, timers }
    }

    /// Now, on this clock.
    pub fn seconds(&self) -> Duration {
        self.now.get()
    }

    /// Runs `f` once, `delay` from now (when an `advance` reaches it).
    #[track_caller]
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> DelayedCall {
        self.timers
            .schedule_from(delay, Box::new(f), Location::caller())
    }

    /// Moves time forward by `by` and runs every call due by then, earliest first,
    /// including calls that those calls schedule for no later than the new time
    /// (Twisted's `Clock.advance`). Returns how many calls ran.
    ///
    /// A call that panics is not caught: the panic reaches the test, as an exception
    /// from `Clock.advance` does in Twisted. A call that reschedules itself with a zero
    /// delay makes `advance` loop for as long as it does so.
    pub fn advance(&self, by: Duration) -> usize {
        let now = self.now.get().saturating_add(by);
        self.now.set(now);
        self.timers.run_due(now)
    }

    /// Advances by each of `steps` in turn (Twisted's `Clock.pump`); returns how many
    /// calls ran in all.
    pub fn pump(&self, steps: &[Duration]) -> usize {
        steps.iter().map(|step| self.advance(*step)).sum()
    }

    /// The calls not yet run nor cancelled, earliest first (Twisted's `getDelayedCalls`).
    pub fn pending_calls(&self) -> Vec<DelayedCall> {
        self.timers.pending()
    }

    /// The clock's timer queue.
    pub fn timers(&self) -> &TimerQueue {
        &self.timers
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

impl ReactorTime for Clock {
    fn seconds(&self) -> Duration {
        self.now.get()
    }

    #[track_caller]
    fn call_later(&self, delay: Duration, f: Box<dyn FnOnce()>) -> DelayedCall {
        self.timers.schedule_from(delay, f, Location::caller())
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("now", &self.now.get())
            .field("pending", &self.timers.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::defer::{Deferred, TimedOut};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn advance_runs_due_calls_in_deadline_then_scheduling_order() {
        let clock = Clock::new();
        let log = Rc::new(RefCell::new(Vec::new()));
        for (name, at) in [("c", 3), ("a", 1), ("b1", 2), ("b2", 2)] {
            let log = log.clone();
            clock.call_later(secs(at), move || log.borrow_mut().push(name));
        }
        assert_eq!(clock.advance(secs(1)), 1);
        assert_eq!(*log.borrow(), ["a"]);
        assert_eq!(clock.advance(secs(5)), 3);
        assert_eq!(*log.borrow(), ["a", "b1", "b2", "c"]);
        assert_eq!(clock.seconds(), secs(6));
    }

    #[test]
    fn calls_scheduled_by_calls_run_in_the_same_advance_when_due() {
        let clock = Clock::new();
        let ran = Rc::new(Cell::new(0));
        clock.call_later(secs(1), {
            let (clock2, ran) = (clock.clone(), ran.clone());
            move || {
                ran.set(ran.get() + 1);
                let ran = ran.clone();
                // Relative to the clock's new time (2 s): due, so it runs in this advance.
                clock2.call_later(Duration::ZERO, move || ran.set(ran.get() + 10));
            }
        });
        clock.advance(secs(2));
        assert_eq!(ran.get(), 11);
        assert!(clock.pending_calls().is_empty());
    }

    #[test]
    fn pump_advances_step_by_step_and_pending_calls_lists_sites() {
        let clock = Clock::new();
        let line = line!() + 1;
        let call = clock.call_later(secs(10), || {});
        let pending = clock.pending_calls();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].site().line(), line);
        assert_eq!(clock.pump(&[secs(3), secs(3), secs(3)]), 0);
        assert!(call.active());
        assert_eq!(clock.pump(&[secs(1)]), 1);
        assert!(!call.active());
    }

    #[test]
    fn add_timeout_works_on_the_fake_clock() {
        let clock = Clock::new();
        let (d, _resolver) = Deferred::<u32>::new();
        let d = d.add_timeout(secs(5), &clock);
        clock.advance(secs(4));
        let d = d.try_result().expect_err("not fired before the timeout");
        clock.advance(secs(1));
        let failure = d.try_result().ok().unwrap().unwrap_err();
        assert!(failure.check::<TimedOut>().is_some());
        assert!(clock.pending_calls().is_empty());
    }
}
