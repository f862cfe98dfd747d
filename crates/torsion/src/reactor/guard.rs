//! Panic containment and stall reporting around every user callback the loop runs.
//!
//! ```
//! use std::time::Duration;
//! use torsion::reactor::Reactor;
//! let reactor = Reactor::builder().stall_threshold(Duration::from_millis(50)).build().unwrap();
//! reactor.call_later(Duration::ZERO, || panic!("logged, not fatal"));
//! reactor.call_later(Duration::from_millis(1), { let r = reactor.clone(); move || r.stop() });
//! reactor.run(); // returns: the panic was caught and logged
//! ```
//!
//! A callback (timer, readiness handler, thread call, trigger, signal handler, task poll)
//! that panics is caught with `catch_unwind` and logged with `tracing::error!`, naming the
//! kind of callback and where it was scheduled; the reactor goes on with the next one.
//! A callback that holds the loop longer than the stall threshold (100 ms by default; zero
//! turns it off) is logged with `tracing::warn!` the same way: a blocking call hidden in a
//! callback shows up at once, with its line. No Twisted or tokio core does this. With no
//! `tracing` subscriber set, both reports also go to stderr, one line each.
//!
//! The watch also keeps the loop's time (what [`Reactor::loop_time`] returns) and reads
//! the clock once per callback, not twice: a callback that runs right after another (or
//! right after the poll returned) starts where that one ended, and its end is read. So
//! the loop's own work between two callbacks counts towards the second one (a few
//! microseconds). A callback that starts inside another (a task polled at once when a
//! Deferred fires) or outside [`Reactor::run`] reads its own start, so it is never blamed
//! for time that was not its own. With stall reporting off the watch reads nothing, and
//! the loop time moves once per turn.
//!
//! [`Reactor::loop_time`]: super::Reactor::loop_time
//! [`Reactor::run`]: super::Reactor::run

use std::{
    any::Any,
    cell::Cell,
    panic::{catch_unwind, AssertUnwindSafe},
    time::Duration,
};

use crate::{
    defer::{replace_blame, Blame},
    sys::unix::monotonic_nanos,
    time::CallSite,
};

/// The stall threshold a reactor uses unless its builder says otherwise.
pub const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_millis(100);

/// Runs callbacks under the reactor's panic and stall watch, and keeps the loop's time.
#[derive(Debug)]
pub(crate) struct Watch {
    /// The stall threshold in nanoseconds; `None`: stall reporting is off.
    threshold: Option<u64>,
    clock: LoopClock,
    /// The loop time in nanoseconds: the clock as the loop last read it (when the poll
    /// returned or, with stall reporting on, when the last callback ended).
    now: Cell<u64>,
    /// Whether `now` may serve as the next callback's start: it was read at the end of
    /// the previous top-level callback (or of the poll) and no callback runs now. False
    /// outside `run` and while a callback runs, so that one started elsewhere reads its
    /// own start instead of being blamed for time that was not its own.
    chained: Cell<bool>,
    /// Stalls reported so far (counted on the slow path only).
    stalls: Cell<u64>,
}

/// The reactor's clock: time since the reactor was built, on the system's monotonic
/// clock. Read as plain nanoseconds rather than through `Instant`, whose checked
/// arithmetic cost more than the read itself on every callback.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoopClock {
    origin: u64,
}

/// What kind of callback ran, for the log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    DelayedCall,
    Readiness,
    ThreadCall,
    Trigger,
    Signal,
    Task,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::DelayedCall => "delayed call",
            Kind::Readiness => "readiness handler",
            Kind::ThreadCall => "call from thread",
            Kind::Trigger => "system event trigger",
            Kind::Signal => "signal handler",
            Kind::Task => "task",
        }
    }
}

impl LoopClock {
    /// A clock that starts now.
    pub(crate) fn start() -> LoopClock {
        LoopClock {
            origin: monotonic_nanos(),
        }
    }

    /// Now, as time since the start.
    pub(crate) fn now(self) -> Duration {
        Duration::from_nanos(self.nanos())
    }

    fn nanos(self) -> u64 {
        monotonic_nanos().saturating_sub(self.origin)
    }
}

impl Watch {
    pub(crate) fn new(threshold: Duration, clock: LoopClock) -> Watch {
        // A threshold past u64 nanoseconds (584 years) is never reached either way.
        let threshold = u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX);
        Watch {
            threshold: (threshold != 0).then_some(threshold),
            clock,
            now: Cell::new(0),
            chained: Cell::new(false),
            stalls: Cell::new(0),
        }
    }

    /// The loop time: at most one callback old with stall reporting on, one turn old
    /// with it off.
    pub(crate) fn now(&self) -> Duration {
        Duration::from_nanos(self.now.get())
    }

    /// The loop time when the watch refreshes it after every callback; a new read when
    /// it does not (stall reporting off), for what must not be a turn late (the poll's
    /// timeout).
    pub(crate) fn fresh_now(&self) -> Duration {
        match self.threshold {
            Some(_) => self.now(),
            None => self.clock.now(),
        }
    }

    /// Reads the clock at the top of the loop (the poll returned, or `run` began): the
    /// next callback starts from here.
    pub(crate) fn tick(&self) {
        self.now.set(self.clock.nanos());
        self.chained.set(true);
    }

    /// The loop is leaving `run`: a callback run before it comes back (a task polled at
    /// once, say) reads its own start.
    pub(crate) fn unchain(&self) {
        self.chained.set(false);
    }

    /// How many stalls were reported.
    pub(crate) fn stalls(&self) -> u64 {
        self.stalls.get()
    }

    /// Runs `f`; a panic is logged and becomes `None`, a stall is logged.
    #[inline]
    pub(crate) fn run<R>(&self, kind: Kind, site: CallSite, f: impl FnOnce() -> R) -> Option<R> {
        let result = match self.threshold {
            None => catch_unwind(AssertUnwindSafe(f)),
            Some(threshold) => {
                // Restored on the way out: callbacks nested in this one read their own
                // start, and only a top-level callback lets the next one start where it
                // ended.
                let chained = self.chained.replace(false);
                let started = if chained {
                    self.now.get()
                } else {
                    self.clock.nanos()
                };
                // What user code this callback enters (a protocol, a future), kept apart
                // from an enclosing callback's.
                let outer = replace_blame(None);
                let result = catch_unwind(AssertUnwindSafe(f));
                let blamed = replace_blame(outer);
                // Read the end even after a panic, so the next callback does not carry
                // its time.
                let ended = self.clock.nanos();
                self.now.set(ended);
                self.chained.set(chained);
                // A panic's time is mostly the panic hook's (a backtrace can take 100 ms):
                // report the panic alone.
                let held = ended.saturating_sub(started);
                if held > threshold && result.is_ok() {
                    self.stalls.set(self.stalls.get() + 1);
                    report_stall(kind, site, blamed, held, threshold);
                }
                result
            }
        };
        match result {
            Ok(value) => Some(value),
            Err(payload) => {
                report_panic(kind, site, payload);
                None
            }
        }
    }
}

#[cold]
#[inline(never)]
fn report_stall(kind: Kind, site: CallSite, blamed: Option<Blame>, held: u64, threshold: u64) {
    let (held, threshold) = (Duration::from_nanos(held), Duration::from_nanos(threshold));
    // Name the user's code first when the callback entered some (a protocol method, a
    // resumed future): the dispatch site alone would be torsion's own line.
    let line = match blamed {
        Some(who) => format!(
            "reactor stalled: {who} held the loop for {} ms (threshold {} ms), in the {} \
             scheduled at {site}",
            held.as_millis(),
            threshold.as_millis(),
            kind.name(),
        ),
        None => format!(
            "reactor stalled: {} scheduled at {} held the loop for {} ms (threshold {} ms)",
            kind.name(),
            site,
            held.as_millis(),
            threshold.as_millis(),
        ),
    };
    tracing::warn!(
        kind = kind.name(),
        site = %site,
        held_ms = held.as_millis() as u64,
        "{line}"
    );
    crate::defer::report_unobserved(tracing::Level::WARN, || line);
}

#[cold]
#[inline(never)]
fn report_panic(kind: Kind, site: CallSite, payload: Box<dyn Any + Send>) {
    let message = panic_message(payload.as_ref());
    tracing::error!(
        kind = kind.name(),
        site = %site,
        "{} scheduled at {} panicked: {}",
        kind.name(),
        site,
        message,
    );
    crate::defer::report_unobserved(tracing::Level::ERROR, || {
        format!(
            "{} scheduled at {} panicked: {}",
            kind.name(),
            site,
            message
        )
    });
}

/// The text a panic was raised with, when it was a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

#[cfg(test)]
mod tests {
    use std::panic::Location;

    use super::*;

    #[test]
    fn a_panic_becomes_none_and_a_value_passes_through() {
        let watch = Watch::new(Duration::ZERO, LoopClock::start());
        let site = Location::caller();
        assert_eq!(watch.run(Kind::Task, site, || 7), Some(7));
        assert_eq!(
            watch.run(Kind::Task, site, || -> u8 { panic!("boom") }),
            None
        );
    }

    #[test]
    fn panic_messages_are_read_from_str_and_string() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42u8), "non-string panic payload");
    }
}
