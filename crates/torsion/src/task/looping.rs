//! [`LoopingCall`]: run a function every interval on any [`ReactorTime`] clock (Twisted's
//! `task.LoopingCall`, with its `withCount` variant).

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::time::Duration;

use super::StepResult;
use crate::defer::ok;
use crate::defer::{fail, succeed, Deferred, Resolver};
use crate::time::{CallSite, DelayedCall, ReactorTime};
use crate::Failure;

/// Calls a function every `interval` on a clock, until stopped or until the function
/// fails (Twisted's `LoopingCall`). See the [module docs](super) for an example.
///
/// The function returns `()`, a `Result` or a `Deferred`; while a returned Deferred is
/// pending, no further call is made, and the next one is scheduled from the moment it
/// fires. Calls keep to the grid `start + k * interval`: a call that runs late (a busy
/// loop, a slow Deferred) is followed by the next point on the grid, not by a full
/// interval, and grid points that passed meanwhile are skipped, not made up for.
/// [`with_count`](LoopingCall::with_count) tells the function how many grid points
/// passed since its last call, so it can see the skipped ones.
///
/// Clones are handles to the same loop; a running loop is kept alive by its scheduled
/// call, so dropping every handle does not stop it.
#[derive(Clone)]
pub struct LoopingCall {
    inner: Rc<Inner>,
}

/// Misuse of a [`LoopingCall`] (Twisted asserts on these).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopingCallError {
    /// `start` on a loop that is running.
    AlreadyRunning,
    /// `stop` or `reset` on a loop that is not running.
    NotRunning,
}

struct Inner {
    clock: Rc<dyn ReactorTime>,
    f: RefCell<Box<dyn FnMut(u64) -> Deferred<()>>>,
    /// `with_count`: compute the count and skip calls where it is zero.
    counting: bool,
    /// Where the loop was made: the location of a panic in its function.
    site: CallSite,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    running: bool,
    /// `start` was called at least once (so `interval` means something).
    started: bool,
    interval: Duration,
    start_time: Duration,
    run_at_start: bool,
    /// When the function last ran (Twisted's `_realLastTime`), for `with_count`.
    last_time: Option<Duration>,
    /// The next call, while one is scheduled (not while the function's Deferred waits).
    call: Option<DelayedCall>,
    /// Fires when the loop stops or fails.
    done: Option<Resolver<()>>,
}

impl LoopingCall {
    /// A loop calling `f` on `clock` (a `Reactor`, a `task::Clock`, ...); not started.
    #[track_caller]
    pub fn new<C, R, F>(clock: &C, mut f: F) -> LoopingCall
    where
        C: ReactorTime + Clone + 'static,
        R: StepResult,
        F: FnMut() -> R + 'static,
    {
        LoopingCall::build(clock, false, Box::new(move |_| f().into_deferred()))
    }

    /// A loop calling `f` with the number of intervals that passed since its last call
    /// (Twisted's `LoopingCall.withCount`): 1 when on time, more when the clock jumped or
    /// the loop was held, so skipped intervals are visible. The first call after
    /// `start(interval, true)` gets 1.
    #[track_caller]
    pub fn with_count<C, R, F>(clock: &C, mut f: F) -> LoopingCall
    where
        C: ReactorTime + Clone + 'static,
        R: StepResult,
        F: FnMut(u64) -> R + 'static,
    {
        LoopingCall::build(clock, true, Box::new(move |n| f(n).into_deferred()))
    }

    #[track_caller]
    fn build<C: ReactorTime + Clone + 'static>(
        clock: &C,
        counting: bool,
        f: Box<dyn FnMut(u64) -> Deferred<()>>,
    ) -> LoopingCall {
        LoopingCall {
            inner: Rc::new(Inner {
                clock: Rc::new(clock.clone()),
                f: RefCell::new(f),
                counting,
                site: Location::caller(),
                state: RefCell::default(),
            }),
        }
    }

    /// Starts calling every `interval`: at once when `now`, else after one interval.
    /// The returned Deferred fires with `()` when [`stop`](LoopingCall::stop) is called,
    /// or fails with the function's failure, which also stops the loop. Starting a loop
    /// that runs gives a Deferred failed with [`LoopingCallError::AlreadyRunning`].
    ///
    /// A zero interval calls again on every turn of the reactor; on a fake `Clock`, an
    /// `advance` then loops until the function stops the loop.
    #[track_caller]
    pub fn start(&self, interval: Duration, now: bool) -> Deferred<()> {
        let (done, resolver) = Deferred::new();
        {
            let mut state = self.inner.state.borrow_mut();
            if state.running {
                return fail(LoopingCallError::AlreadyRunning);
            }
            *state = State {
                running: true,
                started: true,
                interval,
                start_time: self.inner.clock.seconds(),
                run_at_start: now,
                last_time: None,
                call: None,
                done: Some(resolver),
            };
        }
        if now {
            self.tick();
        } else {
            let start = self.inner.state.borrow().start_time;
            self.schedule_from(start);
        }
        done
    }

    /// Stops the loop: cancels the next call, and fires the Deferred from `start` now, or,
    /// when the function's own Deferred is pending, once that fires.
    pub fn stop(&self) -> Result<(), LoopingCallError> {
        let done = {
            let mut state = self.inner.state.borrow_mut();
            if !state.running {
                return Err(LoopingCallError::NotRunning);
            }
            state.running = false;
            match state.call.take() {
                Some(call) => {
                    let _ = call.cancel(); // Pending: it is ours and has not run.
                    state.done.take()
                }
                None => None, // The function's Deferred is pending; its callback fires.
            }
        };
        if let Some(done) = done {
            let _ = done.callback(()); // Cannot fail: only this loop fires it, once.
        }
        Ok(())
    }

    /// Restarts the interval grid from now (Twisted's `reset`): the next call comes one
    /// interval from now.
    pub fn reset(&self) -> Result<(), LoopingCallError> {
        let start = {
            let mut state = self.inner.state.borrow_mut();
            if !state.running {
                return Err(LoopingCallError::NotRunning);
            }
            let Some(call) = state.call.take() else {
                return Ok(()); // Waiting on the function: it schedules from then on.
            };
            let _ = call.cancel();
            state.start_time = self.inner.clock.seconds();
            state.start_time
        };
        self.schedule_from(start);
        Ok(())
    }

    /// True from `start` until `stop` or a failure.
    pub fn running(&self) -> bool {
        self.inner.state.borrow().running
    }

    /// The interval of the current (or last) run; `None` before the first `start`.
    pub fn interval(&self) -> Option<Duration> {
        let state = self.inner.state.borrow();
        state.started.then_some(state.interval)
    }

    /// One call of the function (Twisted's `__call__`).
    fn tick(&self) {
        self.inner.state.borrow_mut().call = None;
        let result = match self.count() {
            Some(count) => self.call_function(count),
            None => succeed(()),
        };
        let this = self.clone();
        result.add_callbacks(
            move |()| {
                this.function_done(None);
                ok(())
            },
            {
                let this = self.clone();
                move |failure: Failure| {
                    this.function_done(Some(failure));
                    ok(())
                }
            },
        );
    }

    /// The count to call with (1 for a plain loop), or `None` when no interval passed.
    fn count(&self) -> Option<u64> {
        let mut state = self.inner.state.borrow_mut();
        if !self.inner.counting {
            return Some(1);
        }
        let now = self.inner.clock.seconds();
        if state.interval.is_zero() {
            state.last_time = Some(now);
            return Some(1);
        }
        let last = match state.last_time {
            Some(t) => state.interval_of(t),
            None if state.run_at_start => -1,
            None => 0,
        };
        let count = state.interval_of(now) - last;
        if count <= 0 {
            return None;
        }
        state.last_time = Some(now);
        Some(u64::try_from(count).unwrap_or(u64::MAX))
    }

    /// Calls the function outside any borrow of the state, so it may stop or reset us.
    fn call_function(&self, count: u64) -> Deferred<()> {
        let mut f = self.inner.f.borrow_mut();
        match catch_unwind(AssertUnwindSafe(|| f(count))) {
            Ok(d) => d,
            Err(payload) => fail(Failure::from_panic_at(payload, self.inner.site)),
        }
    }

    fn function_done(&self, failure: Option<Failure>) {
        let (running, now) = {
            let state = self.inner.state.borrow();
            (state.running, self.inner.clock.seconds())
        };
        if running && failure.is_none() {
            self.schedule_from(now);
            return;
        }
        let done = {
            let mut state = self.inner.state.borrow_mut();
            state.running = false;
            state.done.take()
        };
        if let Some(done) = done {
            // Cannot fail: only this loop fires it, once.
            let _ = match failure {
                None => done.callback(()),
                Some(failure) => done.errback(failure),
            };
        }
    }

    /// Schedules the next call at the next grid point after `when`.
    fn schedule_from(&self, when: Duration) {
        let delay = self.inner.state.borrow().delay_from(when);
        let this = self.clone();
        let call = self
            .inner
            .clock
            .call_later(delay, Box::new(move || this.tick()));
        self.inner.state.borrow_mut().call = Some(call);
    }
}

impl State {
    /// Which grid interval `t` falls in.
    fn interval_of(&self, t: Duration) -> i128 {
        let elapsed = t.saturating_sub(self.start_time).as_nanos();
        // `interval` is not zero here: the callers handle that case first.
        (elapsed / self.interval.as_nanos().max(1)) as i128
    }

    /// How long from `when` to the next grid point (Twisted's `howLong`).
    fn delay_from(&self, when: Duration) -> Duration {
        let interval = self.interval.as_nanos();
        if interval == 0 {
            return Duration::ZERO;
        }
        let running_for = when.saturating_sub(self.start_time).as_nanos();
        from_nanos(interval - running_for % interval)
    }
}

fn from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // The remainder is below one billion: it fits a u32.
    Duration::new(secs, (nanos % NANOS_PER_SEC) as u32)
}

impl fmt::Debug for LoopingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.borrow();
        f.debug_struct("LoopingCall")
            .field("running", &state.running)
            .field("interval", &state.interval)
            .field("site", &format_args!("{}", self.inner.site))
            .finish()
    }
}

impl fmt::Display for LoopingCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoopingCallError::AlreadyRunning => f.write_str("looping call is already running"),
            LoopingCallError::NotRunning => f.write_str("looping call is not running"),
        }
    }
}

impl Error for LoopingCallError {}

#[cfg(test)]
#[path = "looping_tests.rs"]
mod tests;
