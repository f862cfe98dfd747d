//! The reactor: the loop that waits for events and calls your code (Twisted's `reactor`).
//!
//! ```
//! use std::time::Duration;
//! use torsion::reactor::Reactor;
//! let reactor = Reactor::new().unwrap();
//! reactor.call_when_running(|| println!("Reactor Starting..."));
//! reactor.call_later(Duration::from_millis(1), {
//!     let reactor = reactor.clone();
//!     move || reactor.stop()
//! });
//! reactor.run(); // returns after the stop and the shutdown triggers
//! println!("Reactor Stopped!");
//! ```
//!
//! "You don't call Twisted, Twisted calls you": [`Reactor::run`] loops until
//! [`Reactor::stop`], and each turn of the loop
//!
//! 1. computes how long it may sleep: until the next timer, forever with nothing to do,
//!    not at all when other threads queued work or a shutdown is ready to go on;
//! 2. waits for readiness in its backend ([`Backend`]: mio, or plain `poll(2)`) and calls
//!    the handlers of ready descriptors ([`register_fd`](Reactor::register_fd));
//! 3. runs the timers that are due ([`call_later`](Reactor::call_later)), in deadline
//!    order, equal deadlines in the order scheduled; timers scheduled meanwhile for "now"
//!    wait for the next turn, so a `call_later(0)` loop cannot starve I/O;
//! 4. runs the calls other threads sent ([`ReactorHandle::call_from_thread`]) and polls
//!    the tasks that were woken ([`spawn`](Reactor::spawn)).
//!
//! A reactor is single-threaded and `!Send`; [`Reactor`] is a cheap `Rc` handle, so
//! callbacks capture clones of it. Other threads use a [`ReactorHandle`]:
//!
//! ```compile_fail
//! let reactor = torsion::Reactor::new().unwrap();
//! std::thread::spawn(move || reactor.stop()); // error: `Rc` cannot be sent between threads
//! ```
//!
//! Several reactors can live in one process, one per thread, and a stopped reactor can
//! run again (its pending timers and triggers stay).
//! Unlike Twisted, `stop()` on a reactor that is not running is a no-op, not an error.
//!
//! Every user callback runs under the panic and stall watch of [`guard`]: a panic is logged
//! with where the callback was scheduled and the loop goes on.
//!
//! A reference cycle (a timer that captures the reactor that holds it) keeps the reactor
//! alive until the timer runs or is cancelled; a reactor with nothing pending is freed
//! when its last handle goes.

use std::{
    any::Any,
    cell::{Cell, RefCell},
    fmt,
    panic::Location,
    rc::Rc,
    sync::Arc,
    time::Duration,
};

use crate::time::{DelayedCall, ReactorTime, TimerQueue};

mod ensure;
mod events;
pub mod guard;
mod handle;
mod io;
mod signals;
pub mod sys;
mod task;

pub use events::{Done, Phase, SystemEvent, TriggerId, TriggerWait};
pub use guard::DEFAULT_STALL_THRESHOLD;
pub use handle::ReactorHandle;
pub use io::IoToken;
pub use signals::{signal, SignalHandlerId};
pub use sys::{Backend, Interest, Readiness, UnknownBackend};
pub use task::Task;

use guard::{Kind, LoopClock, Watch};
use handle::{Queue, Shared};
use sys::{Event, Poller};

/// An event loop: a cheap, clonable handle to one single-threaded reactor.
#[derive(Clone)]
pub struct Reactor {
    inner: Rc<Inner>,
}

/// Configures a [`Reactor`] before it is built.
#[derive(Clone, Debug)]
pub struct Builder {
    backend: Option<Backend>,
    install_signal_handlers: bool,
    stall_threshold: Duration,
}

/// Why a reactor could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// `TORSION_REACTOR` named no backend.
    UnknownBackend(UnknownBackend),
    /// The backend could not be created (out of descriptors, ...).
    Backend {
        /// The backend being created.
        backend: Backend,
        /// What the system said.
        source: std::io::Error,
    },
}

struct Inner {
    poller: RefCell<Poller>,
    /// The events of the current turn; taken out while they are dispatched.
    events: RefCell<Vec<Event>>,
    io: RefCell<io::Registrations>,
    timers: TimerQueue,
    clock: LoopClock,
    shared: Arc<Shared>,
    /// The batch taken from `shared` last turn, kept empty for its buffers.
    spare: RefCell<Queue>,
    triggers: RefCell<events::Triggers>,
    tasks: RefCell<task::Tasks>,
    signals: RefCell<signals::Signals>,
    watch: Watch,
    install_signal_handlers: bool,
    /// Inside `run`.
    in_run: Cell<bool>,
    /// Between the `During` phases of startup and shutdown.
    running: Cell<bool>,
    /// `stop()` was called; the shutdown begins once startup is over.
    stop_requested: Cell<bool>,
    /// The shutdown event is firing.
    stopping: Cell<bool>,
    /// State that upper layers keep per reactor (the thread pool), one value per type;
    /// the reactor cannot name their types, since modules only import downward.
    extensions: RefCell<Vec<Rc<dyn Any>>>,
}

impl Reactor {
    /// A reactor with the default settings (the backend from `TORSION_REACTOR`, or mio).
    ///
    /// # Errors
    /// See [`BuildError`].
    pub fn new() -> Result<Reactor, BuildError> {
        Reactor::builder().build()
    }

    /// Starts configuring a reactor.
    pub fn builder() -> Builder {
        Builder {
            backend: None,
            install_signal_handlers: true,
            stall_threshold: DEFAULT_STALL_THRESHOLD,
        }
    }

    /// Runs the loop until [`stop`](Reactor::stop): fires the startup event, turns the
    /// loop, fires the shutdown event (waiting for what its `Before` triggers return), and
    /// returns. It can be called again afterwards.
    ///
    /// # Panics
    /// When called while this reactor is already running (from one of its callbacks).
    pub fn run(&self) {
        let inner = &self.inner;
        assert!(
            !inner.in_run.replace(true),
            "Reactor::run called while the reactor is already running"
        );
        let _leave = LeaveRun(self);
        inner.watch.tick();
        inner.stop_requested.set(false);
        if inner.install_signal_handlers {
            self.install_default_signals();
        }
        self.begin_event(SystemEvent::Startup);
        loop {
            let finished = self.finish_event_if_ready(|event| match event {
                SystemEvent::Startup => inner.running.set(true),
                SystemEvent::Shutdown => inner.running.set(false),
            });
            if finished == Some(SystemEvent::Shutdown) {
                break;
            }
            self.turn();
            // As in Twisted, the turn in which stop() was called finishes first: its due
            // timers, thread calls and woken tasks run before shutdown begins.
            if self.shutdown_due() {
                inner.stop_requested.set(false);
                inner.stopping.set(true);
                self.begin_event(SystemEvent::Shutdown);
            }
        }
    }

    /// Asks the loop to stop: the shutdown event fires at the end of this turn (after
    /// the turn's due timers, thread calls and woken tasks), and
    /// [`run`](Reactor::run) returns when it is done. A no-op when the reactor is not
    /// running or already stopping (Twisted raises `ReactorNotRunning` instead).
    pub fn stop(&self) {
        let inner = &self.inner;
        if !inner.in_run.get() || inner.stopping.get() {
            tracing::debug!("Reactor::stop on a reactor that is not running: ignored");
            return;
        }
        inner.stop_requested.set(true);
    }

    /// How many times a callback held the loop past the stall threshold (each was
    /// logged): for metrics. Zero with stall reporting off.
    pub fn stall_count(&self) -> u64 {
        self.inner.watch.stalls()
    }

    /// True between the end of startup and the `During` phase of shutdown.
    pub fn running(&self) -> bool {
        self.inner.running.get()
    }

    /// Now, on the reactor's monotonic clock (time since the reactor was built).
    pub fn seconds(&self) -> Duration {
        self.inner.clock.now()
    }

    /// The time the loop last read its clock, without reading it again: for coarse
    /// deadlines; see [`ReactorTime::loop_time`]. Outside [`run`](Reactor::run) it is
    /// [`seconds`](Reactor::seconds).
    pub fn loop_time(&self) -> Duration {
        if self.inner.in_run.get() {
            self.inner.watch.now()
        } else {
            self.seconds()
        }
    }

    /// Runs `f` once, `delay` from now (Twisted's `callLater`). The [`DelayedCall`]
    /// cancels, resets or delays it.
    #[track_caller]
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> DelayedCall {
        self.inner
            .timers
            .schedule_from(delay, Box::new(f), Location::caller())
    }

    /// The reactor's timer queue (to list pending calls, as the clean-reactor check does).
    pub fn timers(&self) -> &TimerQueue {
        &self.inner.timers
    }

    /// A `Send + Sync` handle for other threads.
    pub fn handle(&self) -> ReactorHandle {
        ReactorHandle::new(self.inner.shared.clone())
    }

    /// Which readiness backend this reactor uses.
    pub fn backend(&self) -> Backend {
        self.inner.poller.borrow().backend()
    }

    /// This reactor's value of type `T` for an upper layer, if it made one.
    pub(crate) fn extension<T: 'static>(&self) -> Option<Rc<T>> {
        let extensions = self.inner.extensions.borrow();
        extensions
            .iter()
            .find_map(|ext| ext.clone().downcast::<T>().ok())
    }

    /// Stores `value` as this reactor's value of type `T` (replacing an older one), for
    /// [`extension`](Self::extension) to find.
    pub(crate) fn set_extension<T: 'static>(&self, value: Rc<T>) {
        let mut extensions = self.inner.extensions.borrow_mut();
        extensions.retain(|ext| !ext.is::<T>());
        extensions.push(value);
    }

    fn shutdown_due(&self) -> bool {
        let inner = &self.inner;
        inner.stop_requested.get() && inner.running.get() && !inner.stopping.get()
    }

    /// One turn of the loop: wait, dispatch readiness, run due timers, run thread calls
    /// and woken tasks.
    fn turn(&self) {
        let inner = &self.inner;
        let busy = inner.shared.is_pending() || self.shutdown_due() || self.event_ready_to_finish();
        let timeout = if busy {
            Some(Duration::ZERO)
        } else {
            inner
                .timers
                .next_deadline()
                .map(|at| at.saturating_sub(inner.watch.fresh_now()))
        };
        let mut events = std::mem::take(&mut *inner.events.borrow_mut());
        if let Err(e) = inner.poller.borrow_mut().poll(&mut events, timeout) {
            tracing::error!("reactor poll failed: {e}");
        }
        // The turn's one clock read of its own; the watch moves it on after each callback.
        inner.watch.tick();
        self.dispatch_io(&events);
        events.clear();
        *inner.events.borrow_mut() = events;
        self.run_due_timers();
        self.run_queued();
    }

    fn run_due_timers(&self) {
        let timers = &self.inner.timers;
        // The time the readiness handlers ended, or the poll returned with stall
        // reporting off: a timer that came due since runs next turn.
        let (now, limit) = (self.inner.watch.now(), timers.next_seq());
        while let Some(due) = timers.pop_due(now, limit) {
            let site = due.site;
            self.inner.watch.run(Kind::DelayedCall, site, || due.run());
        }
    }

    fn run_queued(&self) {
        let inner = &self.inner;
        let mut batch = std::mem::take(&mut *inner.spare.borrow_mut());
        if inner.shared.drain_into(&mut batch) {
            for call in batch.calls.drain(..) {
                let f = call.f;
                inner.watch.run(Kind::ThreadCall, call.site, || f(self));
            }
            for (key, id) in batch.tasks.drain(..) {
                self.poll_task(key, id);
            }
        }
        *inner.spare.borrow_mut() = batch;
    }
}

impl ReactorTime for Reactor {
    fn seconds(&self) -> Duration {
        Reactor::seconds(self)
    }

    fn loop_time(&self) -> Duration {
        Reactor::loop_time(self)
    }

    #[track_caller]
    fn call_later(&self, delay: Duration, f: Box<dyn FnOnce()>) -> DelayedCall {
        self.inner
            .timers
            .schedule_from(delay, f, Location::caller())
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Reactor")
            .field("backend", &self.backend())
            .field("running", &inner.running.get())
            .field("timers", &inner.timers)
            .field("io", &*inner.io.borrow())
            .field("tasks", &*inner.tasks.borrow())
            .field("signals", &*inner.signals.borrow())
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Uses `backend`, whatever `TORSION_REACTOR` says.
    pub fn backend(mut self, backend: Backend) -> Builder {
        self.backend = Some(backend);
        self
    }

    /// Whether `run` makes SIGINT and SIGTERM stop the reactor (default: true). Turn it
    /// off for reactors on secondary threads and in tests run side by side.
    pub fn install_signal_handlers(mut self, install: bool) -> Builder {
        self.install_signal_handlers = install;
        self
    }

    /// Logs a warning for any callback that holds the loop longer than `threshold`
    /// (default [`DEFAULT_STALL_THRESHOLD`]); zero turns stall reporting off.
    pub fn stall_threshold(mut self, threshold: Duration) -> Builder {
        self.stall_threshold = threshold;
        self
    }

    /// Builds the reactor on the calling thread.
    ///
    /// # Errors
    /// See [`BuildError`].
    pub fn build(self) -> Result<Reactor, BuildError> {
        let backend = match self.backend {
            Some(backend) => backend,
            None => Backend::from_env()
                .map_err(BuildError::UnknownBackend)?
                .unwrap_or_default(),
        };
        let poller =
            Poller::new(backend).map_err(|source| BuildError::Backend { backend, source })?;
        let clock = LoopClock::start();
        let shared = Arc::new(Shared::new(poller.waker()));
        Ok(Reactor {
            inner: Rc::new(Inner {
                poller: RefCell::new(poller),
                events: RefCell::new(Vec::new()),
                io: RefCell::default(),
                timers: TimerQueue::new(move || clock.now()),
                clock,
                shared,
                spare: RefCell::default(),
                triggers: RefCell::default(),
                tasks: RefCell::default(),
                signals: RefCell::default(),
                watch: Watch::new(self.stall_threshold, clock),
                install_signal_handlers: self.install_signal_handlers,
                in_run: Cell::new(false),
                running: Cell::new(false),
                stop_requested: Cell::new(false),
                stopping: Cell::new(false),
                extensions: RefCell::default(),
            }),
        })
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::UnknownBackend(e) => write!(f, "TORSION_REACTOR: {e}"),
            BuildError::Backend { backend, source } => {
                write!(f, "create {} reactor backend: {source}", backend.name())
            }
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::UnknownBackend(e) => Some(e),
            BuildError::Backend { source, .. } => Some(source),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Calls queued or sent later by other threads can never run now: drop them, so
        // that a thread waiting for one of them (blocking_call_from_thread) is told.
        self.shared.close();
    }
}

/// Resets the run state when `run` returns, or unwinds out of the loop's own code.
struct LeaveRun<'a>(&'a Reactor);

impl Drop for LeaveRun<'_> {
    fn drop(&mut self) {
        let reactor = self.0;
        let inner = &reactor.inner;
        reactor.uninstall_default_signals();
        inner.watch.unchain();
        inner.running.set(false);
        inner.stopping.set(false);
        inner.stop_requested.set(false);
        inner.in_run.set(false);
    }
}
