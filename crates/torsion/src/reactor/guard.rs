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
//! callback shows up at once, with its line. No Twisted or tokio core does this.

use std::{
    any::Any,
    panic::{catch_unwind, AssertUnwindSafe},
    time::{Duration, Instant},
};

use crate::time::CallSite;

/// The stall threshold a reactor uses unless its builder says otherwise.
pub const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_millis(100);

/// Runs callbacks under the reactor's panic and stall watch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Watch {
    /// `None`: stall reporting is off.
    threshold: Option<Duration>,
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

impl Watch {
    pub(crate) fn new(threshold: Duration) -> Watch {
        Watch {
            threshold: (!threshold.is_zero()).then_some(threshold),
        }
    }

    /// Runs `f`; a panic is logged and becomes `None`, a stall is logged.
    pub(crate) fn run<R>(&self, kind: Kind, site: CallSite, f: impl FnOnce() -> R) -> Option<R> {
        let started = self.threshold.map(|_| Instant::now());
        let result = catch_unwind(AssertUnwindSafe(f));
        // A panic's time is mostly the panic hook's (a backtrace can take 100 ms): report
        // the panic alone.
        if let (Some(threshold), Some(started), true) = (self.threshold, started, result.is_ok()) {
            let held = started.elapsed();
            if held > threshold {
                tracing::warn!(
                    kind = kind.name(),
                    site = %site,
                    held_ms = held.as_millis() as u64,
                    "reactor stalled: {} scheduled at {} held the loop for {} ms (threshold {} ms)",
                    kind.name(),
                    site,
                    held.as_millis(),
                    threshold.as_millis(),
                );
            }
        }
        match result {
            Ok(value) => Some(value),
            Err(payload) => {
                tracing::error!(
                    kind = kind.name(),
                    site = %site,
                    "{} scheduled at {} panicked: {}",
                    kind.name(),
                    site,
                    panic_message(payload.as_ref()),
                );
                None
            }
        }
    }
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
        let watch = Watch::new(Duration::ZERO);
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
