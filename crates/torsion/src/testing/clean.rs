//! The clean-reactor check (trial's "reactor was unclean" error): after a test, nothing the
//! test started may still be pending.

use std::error::Error;
use std::fmt;

use crate::reactor::Reactor;
use crate::threads::running_threads;
use crate::time::DelayedCall;

/// What a test left behind on a reactor; see [`check_clean`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Dirty {
    /// Delayed calls neither run nor cancelled, earliest first (each knows its site).
    pub delayed_calls: Vec<DelayedCall>,
    /// Descriptors still registered with the reactor.
    pub registered_fds: usize,
    /// Spawned futures that have not finished.
    pub pending_tasks: usize,
    /// Thread pool workers still running.
    pub pool_threads: usize,
}

/// Checks that `reactor` has no pending delayed calls, registered descriptors, unfinished
/// tasks or running pool threads, as trial does after each test. Run the reactor to its
/// shutdown first: that is what joins the pool's threads.
///
/// ```
/// use std::time::Duration;
/// use torsion::{testing::check_clean, Reactor};
/// let reactor = Reactor::new().unwrap();
/// let call = reactor.call_later(Duration::from_secs(60), || {});
/// let dirty = check_clean(&reactor).unwrap_err();
/// assert_eq!(dirty.delayed_calls.len(), 1);
/// assert!(dirty.to_string().contains("1 delayed call"));
/// call.cancel().unwrap();
/// assert!(check_clean(&reactor).is_ok());
/// ```
///
/// # Errors
/// [`Dirty`], listing what was left.
pub fn check_clean(reactor: &Reactor) -> Result<(), Dirty> {
    let dirty = Dirty {
        delayed_calls: reactor.timers().pending(),
        registered_fds: reactor.registered_fds(),
        pending_tasks: reactor.pending_tasks(),
        pool_threads: running_threads(reactor),
    };
    if dirty.is_clean() {
        Ok(())
    } else {
        Err(dirty)
    }
}

/// Panics, listing what was left, unless [`check_clean`] passes.
#[track_caller]
pub fn assert_clean(reactor: &Reactor) {
    if let Err(dirty) = check_clean(reactor) {
        panic!("{dirty}");
    }
}

impl Dirty {
    fn is_clean(&self) -> bool {
        self.delayed_calls.is_empty()
            && self.registered_fds == 0
            && self.pending_tasks == 0
            && self.pool_threads == 0
    }
}

impl fmt::Display for Dirty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reactor left unclean:")?;
        let calls = self.delayed_calls.len();
        if calls > 0 {
            write!(f, "\n  {calls} delayed call{}:", plural(calls))?;
            for call in &self.delayed_calls {
                write!(
                    f,
                    "\n    due at {:?}, scheduled at {}",
                    call.time(),
                    call.site()
                )?;
            }
        }
        for (n, what) in [
            (self.registered_fds, "registered descriptor"),
            (self.pending_tasks, "pending task"),
            (self.pool_threads, "running pool thread"),
        ] {
            if n > 0 {
                write!(f, "\n  {n} {what}{}", plural(n))?;
            }
        }
        Ok(())
    }
}

impl Error for Dirty {}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
