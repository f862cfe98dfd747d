//! `TimerService`: a function called every interval while the service runs.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::{Service, ServiceState};
use crate::defer::{succeed, Deferred, Failure, Resolver};
use crate::task::{LoopingCall, StepResult};
use crate::time::ReactorTime;

/// Calls a function every `interval` while running, the first time at start (Twisted's
/// `TimerService`). A function that fails stops the loop and the failure is logged;
/// stop waits for a call whose Deferred is still pending.
pub struct TimerService {
    state: ServiceState,
    call: LoopingCall,
    interval: Duration,
    /// While the loop runs: who waits for it to end (stop callers).
    waiting: Rc<RefCell<Option<Vec<Resolver<()>>>>>,
}

impl TimerService {
    /// A service calling `f` every `interval` on `clock` (the reactor, or a fake
    /// `Clock` in tests).
    #[track_caller]
    pub fn new<C, R, F>(
        name: impl Into<String>,
        clock: &C,
        interval: Duration,
        f: F,
    ) -> TimerService
    where
        C: ReactorTime + Clone + 'static,
        R: StepResult,
        F: FnMut() -> R + 'static,
    {
        TimerService {
            state: ServiceState::new(name),
            call: LoopingCall::new(clock, f),
            interval,
            waiting: Rc::new(RefCell::new(None)),
        }
    }
}

impl Service for TimerService {
    fn name(&self) -> &str {
        self.state.name()
    }

    fn start(&self) -> Result<(), Failure> {
        if self.state.set_running(true) {
            return Ok(());
        }
        let name = self.name().to_owned();
        *self.waiting.borrow_mut() = Some(Vec::new());
        let waiting = self.waiting.clone();
        let _ = self.call.start(self.interval, true).add_both(move |result| {
            if let Err(failure) = result {
                tracing::error!(target: "torsion::application", "timer service {name} failed: {failure}");
            }
            let waiters = waiting.borrow_mut().take().unwrap_or_default();
            for waiter in waiters {
                let _ = waiter.callback(());
            }
            Ok::<(), Failure>(())
        });
        Ok(())
    }

    /// Stops the loop; fires once a call whose Deferred is pending has finished.
    fn stop(&self) -> Deferred<()> {
        if !self.state.set_running(false) {
            return succeed(());
        }
        let _ = self.call.stop(); // NotRunning: the function failed and ended the loop
        let mut waiting = self.waiting.borrow_mut();
        let Some(waiters) = waiting.as_mut() else {
            return succeed(());
        };
        let (done, resolver) = Deferred::new();
        waiters.push(resolver);
        done
    }

    fn is_running(&self) -> bool {
        self.state.is_running()
    }
}

impl fmt::Debug for TimerService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerService")
            .field("name", &self.name())
            .field("running", &self.is_running())
            .field("interval", &self.interval)
            .finish()
    }
}
