//! [`Cooperator`] and [`cooperate`]: run long iterators a slice at a time, interleaved,
//! so none starves the loop (Twisted's `task.Cooperator` and `task.cooperate`).

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::StepResult;
use crate::defer::ok;
use crate::defer::{fail, succeed, Deferred, Resolver};
use crate::time::{CallSite, DelayedCall, ReactorTime};
use crate::Failure;

/// Runs iterators in time slices on a clock: each turn it steps its tasks round-robin
/// until the [`Slice`] is used up, then yields the loop with a zero-delay call, so timers
/// and I/O run between slices (Twisted's `Cooperator`).
///
/// ```
/// use std::{cell::RefCell, rc::Rc, time::Duration};
/// use torsion::task::{Clock, Cooperator, Slice};
/// let clock = Clock::new();
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let coop = Cooperator::with_slice(&clock, Slice::Steps(1));
/// for name in ["a", "b"] {
///     let seen = seen.clone();
///     coop.cooperate((0..2).map(move |i| seen.borrow_mut().push(format!("{name}{i}"))));
/// }
/// clock.advance(Duration::ZERO);
/// assert_eq!(*seen.borrow(), ["a0", "b0", "a1", "b1"]);
/// ```
///
/// Each step returns a [`StepResult`]: a `Deferred` pauses its task (not the others) until
/// it fires; a failure, an `Err` or a panic ends the task with that failure.
#[derive(Clone)]
pub struct Cooperator {
    inner: Rc<CoopInner>,
}

/// How much work one turn of a [`Cooperator`] does before it yields the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slice {
    /// Until this much real time has passed (measured with `Instant`, whatever the
    /// clock: a fake clock does not move while work runs). At least one step runs.
    Time(Duration),
    /// This many steps (at least one): deterministic, for tests.
    Steps(usize),
}

/// A handle to one iterator run by a [`Cooperator`] (Twisted's `CooperativeTask`).
#[derive(Clone)]
pub struct CooperativeTask {
    inner: Rc<TaskInner>,
}

/// Where a [`CooperativeTask`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Taking its turns.
    Running,
    /// Paused by [`pause`](CooperativeTask::pause) or waiting on a Deferred it yielded.
    Paused,
    /// Its iterator is exhausted.
    Done,
    /// Stopped by [`stop`](CooperativeTask::stop) or by its cooperator's stop.
    Stopped,
    /// A step failed.
    Failed,
}

/// Why a cooperative task stopped, or why an operation on it was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskError {
    /// The task was stopped (Twisted's `TaskStopped`): what `when_done` fails with.
    Stopped,
    /// Its cooperator was stopped (Twisted's `SchedulerStopped`).
    SchedulerStopped,
    /// `pause` or `stop` on a task that already finished (Twisted's `TaskFinished`).
    Finished,
    /// `resume` on a task that is not paused (Twisted's `NotPaused`).
    NotPaused,
}

/// The default slice: 10 ms of work per turn, as Twisted's default cooperator.
pub const DEFAULT_SLICE: Slice = Slice::Time(Duration::from_millis(10));

type Steps = Box<dyn Iterator<Item = Deferred<()>>>;

struct CoopInner {
    clock: Rc<dyn ReactorTime>,
    slice: Slice,
    /// Tasks that take turns (not paused, not finished).
    tasks: RefCell<Vec<Rc<TaskInner>>>,
    /// The index of the next task to step, for round-robin across turns.
    cursor: Cell<usize>,
    call: RefCell<Option<DelayedCall>>,
    stopped: Cell<bool>,
}

struct TaskInner {
    coop: Rc<CoopInner>,
    /// `None` while a step runs (so the step may pause or stop its own task) and after
    /// the task finished.
    steps: RefCell<Option<Steps>>,
    state: RefCell<TaskData>,
    site: CallSite,
}

#[derive(Default)]
struct TaskData {
    pauses: usize,
    finished: Option<(TaskState, Result<(), Failure>)>,
    waiters: Vec<Resolver<()>>,
}

/// Runs `iter` on its own cooperator with the default slice (Twisted's `cooperate`, which
/// uses one global cooperator; here, share a [`Cooperator`] to share its slices).
#[track_caller]
pub fn cooperate<C, I>(clock: &C, iter: I) -> CooperativeTask
where
    C: ReactorTime + Clone + 'static,
    I: IntoIterator,
    I::IntoIter: 'static,
    I::Item: StepResult,
{
    Cooperator::new(clock).cooperate(iter)
}

impl Cooperator {
    /// A cooperator on `clock` with the default slice ([`DEFAULT_SLICE`]).
    pub fn new<C: ReactorTime + Clone + 'static>(clock: &C) -> Cooperator {
        Cooperator::with_slice(clock, DEFAULT_SLICE)
    }

    /// A cooperator on `clock` doing `slice` of work per turn.
    pub fn with_slice<C: ReactorTime + Clone + 'static>(clock: &C, slice: Slice) -> Cooperator {
        Cooperator {
            inner: Rc::new(CoopInner {
                clock: Rc::new(clock.clone()),
                slice,
                tasks: RefCell::default(),
                cursor: Cell::new(0),
                call: RefCell::default(),
                stopped: Cell::new(false),
            }),
        }
    }

    /// Adds `iter` as a task; its first step comes on the next turn.
    #[track_caller]
    pub fn cooperate<I>(&self, iter: I) -> CooperativeTask
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: StepResult,
    {
        let steps: Steps = Box::new(iter.into_iter().map(StepResult::into_deferred));
        let task = Rc::new(TaskInner {
            coop: self.inner.clone(),
            steps: RefCell::new(Some(steps)),
            state: RefCell::default(),
            site: Location::caller(),
        });
        CoopInner::add(&self.inner, task.clone());
        CooperativeTask { inner: task }
    }

    /// Adds `iter` and gives the Deferred of its end (Twisted's `coiterate`).
    #[track_caller]
    pub fn coiterate<I>(&self, iter: I) -> Deferred<()>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: StepResult,
    {
        self.cooperate(iter).when_done()
    }

    /// Stops every running task (their `when_done` fails with
    /// [`TaskError::SchedulerStopped`]) and cancels the next turn; tasks added or resumed
    /// later stop at once.
    pub fn stop(&self) {
        let inner = &self.inner;
        inner.stopped.set(true);
        let tasks = std::mem::take(&mut *inner.tasks.borrow_mut());
        if let Some(call) = inner.call.borrow_mut().take() {
            let _ = call.cancel(); // Ours and pending: `tick` takes it before it runs.
        }
        for task in tasks {
            task.finish(TaskState::Stopped, Err(TaskError::SchedulerStopped.into()));
        }
    }

    /// True until [`stop`](Cooperator::stop).
    pub fn running(&self) -> bool {
        !self.inner.stopped.get()
    }
}

impl CoopInner {
    fn add(this: &Rc<CoopInner>, task: Rc<TaskInner>) {
        if this.stopped.get() {
            task.finish(TaskState::Stopped, Err(TaskError::SchedulerStopped.into()));
            return;
        }
        this.tasks.borrow_mut().push(task);
        CoopInner::reschedule(this);
    }

    fn remove(&self, task: &Rc<TaskInner>) {
        let empty = {
            let mut tasks = self.tasks.borrow_mut();
            if let Some(at) = tasks.iter().position(|t| Rc::ptr_eq(t, task)) {
                tasks.remove(at);
                if at < self.cursor.get() {
                    self.cursor.set(self.cursor.get() - 1);
                }
            }
            tasks.is_empty()
        };
        if empty {
            if let Some(call) = self.call.borrow_mut().take() {
                let _ = call.cancel(); // Ours and pending: `tick` takes it before it runs.
            }
        }
    }

    fn reschedule(this: &Rc<CoopInner>) {
        if this.call.borrow().is_some() || this.tasks.borrow().is_empty() {
            return;
        }
        let coop = this.clone();
        let call = this
            .clock
            .call_later(Duration::ZERO, Box::new(move || CoopInner::tick(&coop)));
        *this.call.borrow_mut() = Some(call);
    }

    /// One turn: step the tasks round-robin until the slice is used up.
    fn tick(this: &Rc<CoopInner>) {
        this.call.borrow_mut().take();
        let started = Instant::now();
        let mut steps = 0;
        loop {
            let task = {
                let tasks = this.tasks.borrow();
                if tasks.is_empty() {
                    break;
                }
                let at = this.cursor.get() % tasks.len();
                this.cursor.set(at + 1);
                tasks[at].clone()
            };
            task.step();
            steps += 1;
            let used_up = match this.slice {
                Slice::Steps(n) => steps >= n.max(1),
                Slice::Time(d) => started.elapsed() >= d,
            };
            if used_up {
                break;
            }
        }
        CoopInner::reschedule(this);
    }
}

impl TaskInner {
    /// Advances the iterator once (Twisted's `_oneWorkUnit`).
    fn step(self: &Rc<Self>) {
        let Some(mut steps) = self.steps.borrow_mut().take() else {
            return;
        };
        let next = catch_unwind(AssertUnwindSafe(|| steps.next()));
        let d = match next {
            Ok(Some(d)) => d,
            Ok(None) => return self.finish(TaskState::Done, Ok(())),
            Err(payload) => {
                let failure = Failure::from_panic_at(payload, self.site);
                return self.finish(TaskState::Failed, Err(failure));
            }
        };
        if self.state.borrow().finished.is_none() {
            *self.steps.borrow_mut() = Some(steps);
        }
        match d.try_result() {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => self.finish(TaskState::Failed, Err(failure)),
            Err(d) => {
                self.pause_count_up();
                let (task, failed) = (self.clone(), self.clone());
                d.add_callbacks(
                    move |()| {
                        task.pause_count_down();
                        ok(())
                    },
                    move |failure: Failure| {
                        failed.finish(TaskState::Failed, Err(failure));
                        ok(())
                    },
                );
            }
        }
    }

    fn pause_count_up(self: &Rc<Self>) {
        let first = {
            let mut state = self.state.borrow_mut();
            state.pauses += 1;
            state.pauses == 1
        };
        if first {
            self.coop.remove(self);
        }
    }

    fn pause_count_down(self: &Rc<Self>) -> bool {
        let back = {
            let mut state = self.state.borrow_mut();
            if state.pauses == 0 {
                return false;
            }
            state.pauses -= 1;
            state.pauses == 0 && state.finished.is_none()
        };
        if back {
            CoopInner::add(&self.coop, self.clone());
        }
        true
    }

    /// Ends the task once (Twisted's `_completeWith`) and tells its waiters.
    fn finish(self: &Rc<Self>, how: TaskState, result: Result<(), Failure>) {
        let (waiters, paused) = {
            let mut state = self.state.borrow_mut();
            if state.finished.is_some() {
                return;
            }
            state.finished = Some((how, result.clone()));
            (std::mem::take(&mut state.waiters), state.pauses > 0)
        };
        // Drop the iterator outside the borrow: its captures may touch this task.
        let steps = self.steps.borrow_mut().take();
        drop(steps);
        if !paused {
            self.coop.remove(self);
        }
        if let (Err(failure), true, TaskState::Failed) = (&result, waiters.is_empty(), how) {
            tracing::error!(
                "cooperative task started at {} failed, and nobody waits for it: {failure}",
                self.site
            );
        }
        for waiter in waiters {
            // Cannot fail: each waiter is a fresh Deferred fired only here.
            let _ = waiter.resolve(result.clone());
        }
    }
}

impl CooperativeTask {
    /// A Deferred that fires with `()` when the iterator is exhausted, or fails with the
    /// failure that ended the task ([`TaskError::Stopped`] after `stop`). Each call gives
    /// a new Deferred.
    #[track_caller]
    pub fn when_done(&self) -> Deferred<()> {
        let mut state = self.inner.state.borrow_mut();
        match &state.finished {
            Some((_, Ok(()))) => succeed(()),
            Some((_, Err(failure))) => fail(failure.clone()),
            None => {
                let (d, resolver) = Deferred::new();
                state.waiters.push(resolver);
                d
            }
        }
    }

    /// Takes the task out of its turns until as many [`resume`](Self::resume) calls.
    pub fn pause(&self) -> Result<(), TaskError> {
        if self.inner.state.borrow().finished.is_some() {
            return Err(TaskError::Finished);
        }
        self.inner.pause_count_up();
        Ok(())
    }

    /// Undoes one [`pause`](Self::pause).
    pub fn resume(&self) -> Result<(), TaskError> {
        match self.inner.pause_count_down() {
            true => Ok(()),
            false => Err(TaskError::NotPaused),
        }
    }

    /// Ends the task now: its iterator is dropped and `when_done` fails with
    /// [`TaskError::Stopped`].
    pub fn stop(&self) -> Result<(), TaskError> {
        if self.inner.state.borrow().finished.is_some() {
            return Err(TaskError::Finished);
        }
        self.inner
            .finish(TaskState::Stopped, Err(TaskError::Stopped.into()));
        Ok(())
    }

    /// Where the task is.
    pub fn state(&self) -> TaskState {
        let state = self.inner.state.borrow();
        match &state.finished {
            Some((how, _)) => *how,
            None if state.pauses > 0 => TaskState::Paused,
            None => TaskState::Running,
        }
    }
}

impl fmt::Debug for Cooperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cooperator")
            .field("slice", &self.inner.slice)
            .field("running_tasks", &self.inner.tasks.borrow().len())
            .field("stopped", &self.inner.stopped.get())
            .finish()
    }
}

impl fmt::Debug for CooperativeTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CooperativeTask")
            .field("state", &self.state())
            .field("site", &format_args!("{}", self.inner.site))
            .finish()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Stopped => f.write_str("cooperative task was stopped"),
            TaskError::SchedulerStopped => f.write_str("cooperator was stopped"),
            TaskError::Finished => f.write_str("cooperative task already finished"),
            TaskError::NotPaused => f.write_str("cooperative task is not paused"),
        }
    }
}

impl Error for TaskError {}

#[cfg(test)]
#[path = "cooperate_tests.rs"]
mod tests;
