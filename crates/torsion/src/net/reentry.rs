//! The re-entrancy bookkeeping of a transport that calls its protocol (the socket
//! transport, the process transport): how many protocol or producer calls are running,
//! and whether a `settle` is already due on the next turn.
//!
//! A transport method may be called from inside the protocol's own callback, so it only
//! changes state; what must reach the protocol is done by the transport's `settle`, when
//! the outermost call returns ([`Reentry::is_busy`] is false again) or, for a method
//! called from elsewhere (a timer), on the next loop turn ([`Reentry::schedule`]).

use std::cell::Cell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::reactor::Reactor;

/// Counts the running calls into a protocol and remembers a settle already scheduled.
#[derive(Debug, Default)]
pub(crate) struct Reentry {
    /// How many protocol or producer calls are running; `settle` waits for zero.
    busy: Cell<u32>,
    settle_scheduled: Cell<bool>,
}

impl Reentry {
    /// Counts one running call until the guard drops (even if the call unwinds).
    #[inline]
    pub(crate) fn enter(&self) -> Busy<'_> {
        self.busy.set(self.busy.get() + 1);
        Busy(&self.busy)
    }

    /// True while a call into the protocol is running.
    #[inline]
    pub(crate) fn is_busy(&self) -> bool {
        self.busy.get() > 0
    }

    /// Runs `settle(target)` on the next turn, once however often it is asked before.
    pub(crate) fn schedule<T: 'static>(
        &self,
        reactor: &Reactor,
        target: Weak<T>,
        reentry: fn(&T) -> &Reentry,
        settle: fn(&Rc<T>),
    ) {
        if self.settle_scheduled.replace(true) {
            return;
        }
        reactor.call_later(Duration::ZERO, move || {
            if let Some(target) = target.upgrade() {
                reentry(&target).settle_scheduled.set(false);
                settle(&target);
            }
        });
    }
}

/// A running call, counted by [`Reentry::enter`].
pub(crate) struct Busy<'a>(&'a Cell<u32>);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    struct Target {
        reentry: Reentry,
        settled: RefCell<u32>,
    }

    #[test]
    fn calls_nest_and_a_settle_is_scheduled_once() {
        let reentry = Reentry::default();
        {
            let _outer = reentry.enter();
            let _inner = reentry.enter();
            assert!(reentry.is_busy());
        }
        assert!(!reentry.is_busy());

        let reactor = Reactor::new().unwrap();
        let target = Rc::new(Target {
            reentry: Reentry::default(),
            settled: RefCell::new(0),
        });
        for _ in 0..3 {
            target.reentry.schedule(
                &reactor,
                Rc::downgrade(&target),
                |t| &t.reentry,
                |t| *t.settled.borrow_mut() += 1,
            );
        }
        reactor.call_later(Duration::ZERO, {
            let reactor = reactor.clone();
            move || reactor.stop()
        });
        reactor.run();
        assert_eq!(*target.settled.borrow(), 1);
    }
}
