//! The reactor's thread pool: [`ThreadPool`], its workers, and the bookkeeping that turns
//! Twisted's pool deadlock into an error.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use slab::Slab;

use super::PoolError;
use crate::defer::{Deferred, Resolver};
use crate::reactor::{
    guard::panic_message, Phase, Reactor, ReactorHandle, SystemEvent, TriggerWait,
};
use crate::time::CallSite;
use crate::Failure;

/// How many threads a reactor's pool starts when first used.
pub const DEFAULT_MIN_THREADS: usize = 0;
/// The most threads a reactor's pool runs at once (Twisted's reactor pool has 10 too).
pub const DEFAULT_MAX_THREADS: usize = 10;
/// How many jobs may wait for a thread before submitting more fails with
/// [`PoolError::QueueFull`].
pub const DEFAULT_QUEUE_LIMIT: usize = 1024;

/// A reactor's thread pool (Twisted's `reactor.getThreadPool()`): a cheap handle, one
/// pool per reactor, made on first use. See the [module docs](super).
#[derive(Clone)]
pub struct ThreadPool {
    local: Rc<Local>,
}

/// A snapshot of a pool's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Worker threads alive.
    pub threads: usize,
    /// Of those, waiting for work.
    pub idle: usize,
    /// Of those, waiting in `blocking_call_from_thread`.
    pub blocked: usize,
    /// Jobs waiting for a thread.
    pub queued: usize,
    /// The pool's minimum size.
    pub min_threads: usize,
    /// The pool's maximum size.
    pub max_threads: usize,
    /// The queue's bound.
    pub queue_limit: usize,
}

/// The reactor-thread side of a pool: the resolvers waiting for results.
pub(crate) struct Local {
    shared: Arc<Shared>,
    /// What to do with each job's result when it comes back, by slot.
    slots: RefCell<Slab<Slot>>,
    /// Fires when the last worker has exited during shutdown.
    stopped: RefCell<Option<Resolver<()>>>,
}

type Slot = Box<dyn FnOnce(Delivery)>;

/// What a job sends back to the reactor thread.
pub(crate) enum Delivery {
    /// The work's value, boxed as the `T` its slot expects.
    Value(Box<dyn Any + Send>),
    /// The work's error.
    Error(Box<dyn Error + Send + Sync>),
    /// The work panicked.
    Panicked(Box<dyn Any + Send>),
    /// The job never ran.
    Abandoned(PoolError),
    /// The job was cancelled before it ran: nothing to deliver, free the slot.
    Skipped,
}

/// The part of a pool its workers share.
pub(crate) struct Shared {
    state: Mutex<State>,
    work: Condvar,
    handle: ReactorHandle,
    next_name: AtomicUsize,
}

struct State {
    queue: VecDeque<Job>,
    min: usize,
    max: usize,
    queue_limit: usize,
    threads: usize,
    idle: usize,
    blocked: usize,
    mode: Mode,
    joins: Vec<JoinHandle<()>>,
}

/// Where the pool is in its reactor's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Taking work and starting threads for it.
    Open,
    /// Shutting down: work is refused; workers finish the queue and exit.
    Draining,
    /// Shut down: work queues (up to the bound) and waits for the next run to start
    /// threads.
    Parked,
}

pub(crate) struct Job {
    pub(crate) work: Box<dyn FnOnce() -> Delivery + Send>,
    /// The slot awaiting the result; `None` for `call_in_thread`.
    pub(crate) slot: Option<usize>,
    pub(crate) site: CallSite,
    pub(crate) cancelled: Option<Arc<AtomicBool>>,
}

thread_local! {
    /// The pool a worker thread belongs to, for `blocking_call_from_thread`'s accounting.
    static CURRENT: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

impl ThreadPool {
    /// The pool of `reactor`, made (with no threads yet) on first use. Making it adds the
    /// shutdown triggers that drain and join it.
    pub fn of(reactor: &Reactor) -> ThreadPool {
        if let Some(local) = reactor.extension::<Local>() {
            return ThreadPool { local };
        }
        let local = Rc::new(Local {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    min: DEFAULT_MIN_THREADS,
                    max: DEFAULT_MAX_THREADS,
                    queue_limit: DEFAULT_QUEUE_LIMIT,
                    threads: 0,
                    idle: 0,
                    blocked: 0,
                    mode: Mode::Open,
                    joins: Vec::new(),
                }),
                work: Condvar::new(),
                handle: reactor.handle(),
                next_name: AtomicUsize::new(1),
            }),
            slots: RefCell::default(),
            stopped: RefCell::default(),
        });
        let weak = Rc::downgrade(&local);
        reactor.add_system_event_trigger(Phase::Before, SystemEvent::Startup, {
            let weak = weak.clone();
            move || {
                if let Some(local) = weak.upgrade() {
                    local.reopen();
                }
            }
        });
        reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, {
            let weak = weak.clone();
            move || Weak::upgrade(&weak).map_or_else(TriggerWait::ready, |l| l.begin_stop())
        });
        reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || {
            if let Some(local) = weak.upgrade() {
                local.finish_stop();
            }
        });
        reactor.set_extension(local.clone());
        ThreadPool { local }
    }

    /// Sets the pool's size: `max` is at least 1 and `min` at most `max`. Threads past a
    /// lowered `max` exit when they next go idle; a raised `min` starts threads at once.
    pub fn set_size(&self, min: usize, max: usize) {
        let max = max.max(1);
        let shared = &self.local.shared;
        let mut state = shared.lock();
        state.min = min.min(max);
        state.max = max;
        let abandoned = shared.balance(&mut state);
        drop(state);
        shared.work.notify_all();
        shared.abandon(abandoned);
    }

    /// Sets how many jobs may wait for a thread (at least 1).
    pub fn set_queue_limit(&self, limit: usize) {
        self.local.shared.lock().queue_limit = limit.max(1);
    }

    /// The pool's counters now.
    pub fn stats(&self) -> PoolStats {
        self.local.shared.stats()
    }

    /// Runs `f` on a pool thread; see [`defer_to_thread`](super::defer_to_thread).
    #[track_caller]
    pub fn defer_to_thread<T, E, F>(&self, f: F) -> Deferred<T>
    where
        T: Send + 'static,
        E: Error + Send + Sync + 'static,
        F: FnOnce() -> Result<T, E> + Send + 'static,
    {
        let site = Location::caller();
        let cancelled = Arc::new(AtomicBool::new(false));
        let (deferred, resolver) = Deferred::with_canceller({
            let cancelled = cancelled.clone();
            move |_: &Resolver<T>| cancelled.store(true, Ordering::Release)
        });
        let slot: Slot = Box::new(move |delivery| {
            let result = match delivery {
                Delivery::Value(value) => match value.downcast::<T>() {
                    Ok(value) => Ok(*value),
                    // Unreachable: the job made with this slot boxes a `T`.
                    Err(_) => Err(Failure::msg("torsion bug: pool result of the wrong type")),
                },
                Delivery::Error(error) => {
                    let error: Box<dyn Error> = error;
                    Err(Failure::from_boxed_at(error, site))
                }
                Delivery::Panicked(payload) => Err(Failure::from_panic_at(payload, site)),
                Delivery::Abandoned(error) => Err(Failure::from_boxed_at(Box::new(error), site)),
                Delivery::Skipped => return,
            };
            // Fails only when the Deferred was cancelled meanwhile: nobody wants it now.
            let _ = resolver.resolve(result);
        });
        let key = self.local.slots.borrow_mut().insert(slot);
        let job = Job {
            work: Box::new(move || match f() {
                Ok(value) => Delivery::Value(Box::new(value)),
                Err(error) => Delivery::Error(Box::new(error)),
            }),
            slot: Some(key),
            site,
            cancelled: Some(cancelled),
        };
        if let Err(error) = self.local.shared.submit(job) {
            self.local.deliver(key, Delivery::Abandoned(error));
        }
        deferred
    }

    /// Runs `f` on a pool thread; see [`call_in_thread`](super::call_in_thread).
    #[track_caller]
    pub fn call_in_thread(&self, f: impl FnOnce() + Send + 'static) -> Result<(), PoolError> {
        self.local.shared.submit(Job {
            work: Box::new(move || {
                f();
                Delivery::Skipped
            }),
            slot: None,
            site: Location::caller(),
            cancelled: None,
        })
    }
}

/// How many pool threads `reactor` has running (zero when it never made a pool).
pub fn running_threads(reactor: &Reactor) -> usize {
    reactor
        .extension::<Local>()
        .map_or(0, |local| local.shared.lock().threads)
}

impl Local {
    /// Hands a result to the slot waiting for it (on the reactor thread).
    fn deliver(&self, key: usize, delivery: Delivery) {
        let slot = self.slots.borrow_mut().try_remove(key);
        if let Some(slot) = slot {
            slot(delivery);
        }
    }

    /// Before shutdown: refuse new work, let the workers drain the queue and exit, and
    /// make shutdown wait until the last one is gone.
    fn begin_stop(&self) -> TriggerWait {
        let mut state = self.shared.lock();
        state.mode = Mode::Draining;
        if state.threads == 0 {
            return TriggerWait::ready();
        }
        let (done, resolver) = Deferred::<()>::new();
        *self.stopped.borrow_mut() = Some(resolver);
        drop(state);
        self.shared.work.notify_all();
        done.into()
    }

    /// During shutdown: join the exited workers; work submitted from now on waits for
    /// the next run.
    fn finish_stop(&self) {
        let joins = {
            let mut state = self.shared.lock();
            state.mode = Mode::Parked;
            std::mem::take(&mut state.joins)
        };
        for join in joins {
            // A worker catches the panics of its jobs, so it never ends in one.
            let _ = join.join();
        }
    }
}

impl Local {
    /// At startup: take work again, and start threads for what was parked.
    fn reopen(&self) {
        let mut state = self.shared.lock();
        state.mode = Mode::Open;
        let abandoned = self.shared.balance(&mut state);
        drop(state);
        self.shared.work.notify_all();
        self.shared.abandon(abandoned);
    }
}

impl Drop for Local {
    /// The reactor is gone: nothing can deliver results any more. Queued jobs are dropped
    /// unrun and workers exit after their current job, unjoined.
    fn drop(&mut self) {
        let dropped = {
            let mut state = self.shared.lock();
            state.mode = Mode::Draining;
            std::mem::take(&mut state.queue)
        };
        self.shared.work.notify_all();
        drop(dropped);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock and workers never panic while holding it, so a
        // poisoned lock still guards consistent counters.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stats(&self) -> PoolStats {
        let state = self.lock();
        PoolStats {
            threads: state.threads,
            idle: state.idle,
            blocked: state.blocked,
            queued: state.queue.len(),
            min_threads: state.min,
            max_threads: state.max,
            queue_limit: state.queue_limit,
        }
    }

    /// Queues a job, starting a thread for it if none is free and the pool may grow.
    pub(crate) fn submit(self: &Arc<Self>, job: Job) -> Result<(), PoolError> {
        let mut state = self.lock();
        if state.mode == Mode::Draining {
            return Err(PoolError::ShuttingDown);
        }
        if state.queue.len() >= state.queue_limit {
            return Err(PoolError::QueueFull {
                limit: state.queue_limit,
            });
        }
        if state.threads >= state.max && state.blocked >= state.threads {
            return Err(PoolError::Exhausted {
                max_threads: state.max,
            });
        }
        state.queue.push_back(job);
        let abandoned = self.balance(&mut state);
        drop(state);
        self.work.notify_one();
        self.abandon(abandoned);
        Ok(())
    }

    /// Starts the threads the queue needs and the minimum asks for. Returns the jobs that
    /// can never run: every thread waits in `blocking_call_from_thread` and none may be
    /// added (Twisted's pool deadlocks here).
    fn balance(self: &Arc<Self>, state: &mut State) -> Vec<Job> {
        if state.mode == Mode::Parked {
            return Vec::new();
        }
        let room = state.max.saturating_sub(state.threads);
        let wanted = state.queue.len().saturating_sub(state.idle);
        let below_min = state.min.saturating_sub(state.threads);
        for _ in 0..wanted.max(below_min).min(room) {
            if let Err(error) = self.spawn(state) {
                tracing::error!("thread pool: {error}");
                if state.threads == 0 {
                    return Vec::from(std::mem::take(&mut state.queue));
                }
                break;
            }
        }
        if !state.queue.is_empty() && state.threads >= state.max && state.blocked >= state.threads {
            return Vec::from(std::mem::take(&mut state.queue));
        }
        Vec::new()
    }

    fn spawn(self: &Arc<Self>, state: &mut State) -> Result<(), PoolError> {
        let n = self.next_name.fetch_add(1, Ordering::Relaxed);
        let shared = self.clone();
        let join = std::thread::Builder::new()
            .name(format!("torsion-pool-{n}"))
            .spawn(move || shared.work_loop())
            .map_err(|e| PoolError::Spawn {
                message: e.to_string(),
            })?;
        state.threads += 1;
        state.joins.push(join);
        Ok(())
    }

    /// Fails jobs that will never run, on the reactor thread.
    fn abandon(&self, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        let max_threads = self.lock().max;
        let jobs: Vec<(Option<usize>, CallSite)> =
            jobs.into_iter().map(|job| (job.slot, job.site)).collect();
        self.handle.call_from_thread(move |reactor| {
            let local = reactor.extension::<Local>();
            for (slot, site) in jobs {
                let error = PoolError::Exhausted { max_threads };
                match (slot, &local) {
                    (Some(key), Some(local)) => local.deliver(key, Delivery::Abandoned(error)),
                    _ => tracing::error!("call_in_thread work from {site} dropped: {error}"),
                }
            }
        });
    }

    /// A worker: run jobs until the pool quits (and its queue is empty) or shrinks.
    fn work_loop(self: Arc<Self>) {
        CURRENT.with(|current| *current.borrow_mut() = Some(self.clone()));
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                self.run(job);
                state = self.lock();
                continue;
            }
            if state.mode != Mode::Open || state.threads > state.max {
                break;
            }
            state.idle += 1;
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
        state.threads -= 1;
        let last = state.threads == 0 && state.mode == Mode::Draining;
        drop(state);
        CURRENT.with(|current| current.borrow_mut().take());
        if last {
            self.handle.call_from_thread(|reactor| {
                let stopped = reactor
                    .extension::<Local>()
                    .and_then(|local| local.stopped.borrow_mut().take());
                if let Some(stopped) = stopped {
                    let _ = stopped.callback(()); // Cannot fail: fired only here, once.
                }
            });
        }
    }

    fn run(&self, job: Job) {
        let skip = job
            .cancelled
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Acquire));
        let delivery = if skip {
            Delivery::Skipped
        } else {
            catch_unwind(AssertUnwindSafe(job.work)).unwrap_or_else(Delivery::Panicked)
        };
        let site = job.site;
        match (job.slot, delivery) {
            (None, Delivery::Panicked(payload)) => self.handle.call_from_thread(move |_| {
                let message = panic_message(payload.as_ref());
                tracing::error!("call_in_thread work from {site} panicked: {message}");
            }),
            (None, _) => {}
            (Some(key), delivery) => self.handle.call_from_thread(move |reactor| {
                if let Some(local) = reactor.extension::<Local>() {
                    local.deliver(key, delivery);
                }
            }),
        }
    }
}

/// Counts the calling pool thread as blocked while it lives (see
/// `blocking_call_from_thread`); does nothing on other threads.
pub(crate) struct Blocked(Option<Arc<Shared>>);

impl Blocked {
    pub(crate) fn enter() -> Blocked {
        let Some(shared) = CURRENT.with(|current| current.borrow().clone()) else {
            return Blocked(None);
        };
        let abandoned = {
            let mut state = shared.lock();
            state.blocked += 1;
            shared.balance(&mut state)
        };
        shared.abandon(abandoned);
        Blocked(Some(shared))
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        if let Some(shared) = &self.0 {
            shared.lock().blocked -= 1;
        }
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.stats(), f)
    }
}
