//! `Runner`: run a service tree on a reactor until a signal, then drain it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::Service;
use crate::defer::Failure;
use crate::net::Address;
use crate::reactor::{signal, Phase, SystemEvent};
use crate::{DelayedCall, Reactor};

/// How long a graceful stop may take before what is left is aborted.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a service tree on a reactor the way `torsiond` (Twisted's `twistd`) does.
///
/// [`run`](Runner::run): privileged start of the tree, the
/// [`after_privileged_start`](Runner::after_privileged_start) hook (drop privileges
/// there), start, [`on_ready`](Runner::on_ready), then the reactor runs until:
/// - the first SIGTERM or SIGINT: the tree is stopped gracefully ([`Service::stop`]:
///   listeners close at once, so new connections are refused; the connections in
///   flight finish), bounded by the [drain timeout](Runner::drain_timeout), after which
///   what is left is aborted ([`Service::abort`]); then the reactor stops;
/// - a second SIGTERM or SIGINT during the drain: the tree is aborted and the reactor
///   stops at once;
/// - anything else calling `reactor.stop()`: the tree is stopped in the shutdown's
///   `Before` phase, bounded by the same timeout.
///
/// SIGHUP calls the [`on_reload`](Runner::on_reload) hook (reopen log files).
pub struct Runner {
    reactor: Reactor,
    drain_timeout: Duration,
    after_privileged: Option<Box<dyn FnOnce() -> Result<(), Failure>>>,
    on_ready: Option<ReadyFn>,
    on_stopping: Option<Box<dyn FnOnce()>>,
    on_reload: Option<Box<dyn FnMut()>>,
}

/// Told the addresses once the tree runs.
type ReadyFn = Box<dyn FnOnce(&[Address])>;

/// Where a run is, between start and the end of `reactor.run()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Running,
    Draining,
    Stopped,
}

impl Runner {
    /// A runner on `reactor`, with [`DEFAULT_DRAIN_TIMEOUT`] and no hooks.
    pub fn new(reactor: &Reactor) -> Runner {
        Runner {
            reactor: reactor.clone(),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            after_privileged: None,
            on_ready: None,
            on_stopping: None,
            on_reload: None,
        }
    }

    /// How long a graceful stop may take before the rest is aborted.
    pub fn drain_timeout(mut self, timeout: Duration) -> Runner {
        self.drain_timeout = timeout;
        self
    }

    /// Called between the privileged start and the start: drop privileges here
    /// (`setgid`, `setuid`). Its failure ends the run.
    pub fn after_privileged_start(
        mut self,
        f: impl FnOnce() -> Result<(), Failure> + 'static,
    ) -> Runner {
        self.after_privileged = Some(Box::new(f));
        self
    }

    /// Called once the tree started and the reactor runs, with the addresses the tree
    /// listens on (print `listening on ADDR`, notify systemd `READY=1`).
    pub fn on_ready(mut self, f: impl FnOnce(&[Address]) + 'static) -> Runner {
        self.on_ready = Some(Box::new(f));
        self
    }

    /// Called once when the graceful stop begins (notify systemd `STOPPING=1`).
    pub fn on_stopping(mut self, f: impl FnOnce() + 'static) -> Runner {
        self.on_stopping = Some(Box::new(f));
        self
    }

    /// Called on each SIGHUP (reopen the log file).
    pub fn on_reload(mut self, f: impl FnMut() + 'static) -> Runner {
        self.on_reload = Some(Box::new(f));
        self
    }

    /// Starts `service`, runs the reactor until the service has stopped (see the type's
    /// doc), and returns.
    ///
    /// # Errors
    /// The privileged start, the hook after it, the start, or a signal handler failed:
    /// the tree is aborted and nothing runs. A stop that fails is logged, not returned:
    /// the program still ends normally.
    pub fn run(self, service: Rc<dyn Service>) -> Result<(), Failure> {
        let Runner {
            reactor,
            drain_timeout,
            after_privileged,
            on_ready,
            on_stopping,
            on_reload,
        } = self;
        let started = service
            .privileged_start()
            .and_then(|()| after_privileged.map_or(Ok(()), |f| f()))
            .and_then(|()| service.start());
        if let Err(failure) = started {
            service.abort();
            let _ = service.stop();
            return Err(failure);
        }
        let drain = Rc::new(Drain {
            reactor: reactor.clone(),
            service: service.clone(),
            timeout: drain_timeout,
            stage: Cell::new(Stage::Running),
            timer: RefCell::new(None),
            on_stopping: RefCell::new(on_stopping),
        });
        let mut handlers = Vec::new();
        for number in [signal::SIGTERM, signal::SIGINT] {
            let drain = drain.clone();
            let added = reactor.add_signal_handler(number, move |_| drain.signalled(number));
            match added {
                Ok(id) => handlers.push(id),
                Err(e) => {
                    for id in handlers {
                        reactor.remove_signal_handler(id);
                    }
                    service.abort();
                    let _ = service.stop();
                    return Err(Failure::msg(format!(
                        "install signal handler {number}: {e}"
                    )));
                }
            }
        }
        if let Some(mut reload) = on_reload {
            match reactor.add_signal_handler(signal::SIGHUP, move |_| reload()) {
                Ok(id) => handlers.push(id),
                Err(e) => tracing::warn!(target: "torsion::application", "sighup handler: {e}"),
            }
        }
        let on_shutdown = drain.clone();
        let trigger =
            reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
                on_shutdown.shutdown()
            });
        if let Some(ready) = on_ready {
            let service = service.clone();
            reactor.call_when_running(move || ready(&service.addresses()));
        }
        reactor.run();
        reactor.remove_system_event_trigger(trigger);
        for id in handlers {
            reactor.remove_signal_handler(id);
        }
        drain.stage.set(Stage::Stopped);
        if let Some(timer) = drain.timer.borrow_mut().take() {
            let _ = timer.cancel();
        }
        Ok(())
    }
}

/// The graceful stop's state, shared by the signal handlers and the shutdown trigger.
struct Drain {
    reactor: Reactor,
    service: Rc<dyn Service>,
    timeout: Duration,
    stage: Cell<Stage>,
    /// The drain timeout's timer, while draining.
    timer: RefCell<Option<DelayedCall>>,
    on_stopping: RefCell<Option<Box<dyn FnOnce()>>>,
}

impl Drain {
    fn signalled(self: &Rc<Self>, number: i32) {
        let name = match number {
            signal::SIGINT => "SIGINT",
            _ => "SIGTERM",
        };
        match self.stage.get() {
            Stage::Running => {
                tracing::info!(
                    target: "torsion::application",
                    "{name}: draining (at most {:?}; send it again to stop at once)",
                    self.timeout
                );
                let stopped = self.begin();
                let reactor = self.reactor.clone();
                let _ = stopped.add_both(move |_: Result<(), Failure>| {
                    reactor.stop();
                    Ok::<(), Failure>(())
                });
            }
            Stage::Draining => {
                tracing::warn!(target: "torsion::application", "{name} again: stopping now");
                self.abort();
                self.reactor.stop();
            }
            Stage::Stopped => {}
        }
    }

    /// Starts the graceful stop; the Deferred fires once the tree stopped or the drain
    /// timeout aborted what was left.
    fn begin(self: &Rc<Self>) -> crate::Deferred<()> {
        self.stage.set(Stage::Draining);
        if let Some(f) = self.on_stopping.borrow_mut().take() {
            f();
        }
        let (done, resolver) = crate::Deferred::<()>::new();
        let resolver = Rc::new(resolver);
        let on_timeout = resolver.clone();
        let me = Rc::downgrade(self);
        let timer = self.reactor.call_later(self.timeout, move || {
            if let Some(drain) = me.upgrade() {
                drain.timer.borrow_mut().take();
                tracing::warn!(
                    target: "torsion::application",
                    "drain timeout ({:?}) reached: aborting the connections left",
                    drain.timeout
                );
                drain.abort();
            }
            let _ = on_timeout.callback(());
        });
        *self.timer.borrow_mut() = Some(timer);
        let me = Rc::downgrade(self);
        let _ = self
            .service
            .stop()
            .add_both(move |result: Result<(), Failure>| {
                match result {
                    Ok(()) => tracing::info!(target: "torsion::application", "drained: stopping"),
                    Err(failure) => {
                        tracing::error!(target: "torsion::application", "stop failed: {failure}")
                    }
                }
                if let Some(drain) = me.upgrade() {
                    if let Some(timer) = drain.timer.borrow_mut().take() {
                        let _ = timer.cancel();
                    }
                }
                let _ = resolver.callback(()); // AlreadyCalled: the timeout came first
                Ok::<(), Failure>(())
            });
        done
    }

    fn abort(&self) {
        self.stage.set(Stage::Stopped);
        if let Some(timer) = self.timer.borrow_mut().take() {
            let _ = timer.cancel();
        }
        self.service.abort();
    }

    /// The shutdown's `Before` phase: a stop that did not come from a signal still
    /// drains the tree.
    fn shutdown(self: &Rc<Self>) -> crate::reactor::TriggerWait {
        match self.stage.get() {
            Stage::Running => self.begin().into(),
            Stage::Draining | Stage::Stopped => crate::reactor::TriggerWait::ready(),
        }
    }
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("drain_timeout", &self.drain_timeout)
            .finish_non_exhaustive()
    }
}
