//! System events: functions run when a reactor starts up or shuts down (Twisted's
//! `addSystemEventTrigger`), in three phases each.
//!
//! ```
//! use std::time::Duration;
//! use torsion::reactor::{Phase, Reactor, SystemEvent};
//! let reactor = Reactor::new().unwrap();
//! reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
//!     println!("draining connections");
//! });
//! reactor.call_when_running({ let r = reactor.clone(); move || r.stop() });
//! reactor.run();
//! ```
//!
//! Each event fires its phases in order: `Before`, `During`, `After`; within a phase,
//! triggers run in the order they were added. A `Before` trigger may return a `Deferred`
//! (or any [`TriggerWait`]) to wait for: the reactor keeps
//! running its loop, and starts the `During` phase only when every such wait has completed.
//! This is how a server drains gracefully on shutdown.
//!
//! Triggers stay registered until removed, so a reactor that runs again fires them again;
//! [`call_when_running`](Reactor::call_when_running) adds a one-shot `After Startup`
//! trigger (or calls at once when the reactor is already running). `running()` turns true
//! after the `During Startup` phase and false after the `During Shutdown` phase.

use std::{
    cell::{Cell, RefCell},
    fmt,
    panic::Location,
    rc::Rc,
};

use super::{guard::Kind, Reactor};
use crate::defer::ok;
use crate::{time::CallSite, Deferred, Failure};

/// When, relative to the event itself, a trigger runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// First; may return something to wait for.
    Before,
    /// The event itself (on shutdown: after the `Before` waits are done).
    During,
    /// Last.
    After,
}

/// A reactor's system events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SystemEvent {
    /// [`Reactor::run`] was called.
    Startup,
    /// [`Reactor::stop`] was called (or SIGINT or SIGTERM came).
    Shutdown,
}

/// Identifies a trigger for [`Reactor::remove_system_event_trigger`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TriggerId(u64);

/// What a `Before` trigger hands back: nothing to wait for, or a completion to wait for.
///
/// `()` converts into "nothing"; a `Deferred` converts into "wait until it fires".
pub struct TriggerWait {
    /// Registers the function to call once the awaited thing is done.
    on_done: Option<Box<dyn FnOnce(Done)>>,
}

/// Called once when what a [`TriggerWait`] waits for is done.
pub type Done = Box<dyn FnOnce()>;

impl TriggerWait {
    /// Nothing to wait for.
    pub fn ready() -> TriggerWait {
        TriggerWait { on_done: None }
    }

    /// Wait until the `done` function handed to `register` is called (at once or later,
    /// on the reactor's thread).
    pub fn until(register: impl FnOnce(Done) + 'static) -> TriggerWait {
        TriggerWait {
            on_done: Some(Box::new(register)),
        }
    }
}

impl From<()> for TriggerWait {
    fn from((): ()) -> TriggerWait {
        TriggerWait::ready()
    }
}

impl<T: 'static> From<Deferred<T>> for TriggerWait {
    /// Wait until the Deferred fires. A failure is logged (with where the Deferred was
    /// created) and does not stop the event: shutdown goes on, as in Twisted.
    fn from(deferred: Deferred<T>) -> TriggerWait {
        TriggerWait::until(move |done| {
            let created = deferred.created();
            deferred.add_both(move |result: Result<T, Failure>| {
                if let Err(failure) = result {
                    tracing::error!(
                        "system event trigger's Deferred (created at {created}) failed: {failure}"
                    );
                }
                done();
                ok(())
            });
        })
    }
}

impl fmt::Debug for TriggerWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.on_done {
            None => "TriggerWait::Ready",
            Some(_) => "TriggerWait::Until(..)",
        })
    }
}

/// The registered triggers and the state of the event being fired.
#[derive(Default)]
pub(crate) struct Triggers {
    next_id: u64,
    list: Vec<Trigger>,
    /// The event whose `Before` phase has run and whose `During` phase has not.
    firing: Option<SystemEvent>,
    /// `Before` waits of the firing event not yet completed.
    waits_left: Rc<Cell<usize>>,
}

struct Trigger {
    id: u64,
    phase: Phase,
    event: SystemEvent,
    f: TriggerFn,
    site: CallSite,
}

enum TriggerFn {
    Repeat(Rc<RefCell<dyn FnMut() -> TriggerWait>>),
    /// From `call_when_running`: taken out of the list when it fires.
    Once(Box<dyn FnOnce()>),
}

impl Reactor {
    /// Runs `f` in `phase` of every firing of `event` until removed (Twisted's
    /// `addSystemEventTrigger`). In the `Before` phase, `f` may return a `Deferred` (or any
    /// [`TriggerWait`]) and the event waits for it; other phases ignore what it returns.
    #[track_caller]
    pub fn add_system_event_trigger<W: Into<TriggerWait>>(
        &self,
        phase: Phase,
        event: SystemEvent,
        mut f: impl FnMut() -> W + 'static,
    ) -> TriggerId {
        let f = Rc::new(RefCell::new(move || f().into()));
        self.push_trigger(phase, event, TriggerFn::Repeat(f), Location::caller())
    }

    /// Removes a trigger; returns false when it was already removed. A trigger removed
    /// while its phase is firing does not run, as in Twisted.
    pub fn remove_system_event_trigger(&self, id: TriggerId) -> bool {
        let mut triggers = self.inner.triggers.borrow_mut();
        let before = triggers.list.len();
        triggers.list.retain(|t| t.id != id.0);
        triggers.list.len() != before
    }

    /// Runs `f` once the reactor is running: at the end of its startup, or at once when it
    /// is already running (Twisted's `callWhenRunning`).
    #[track_caller]
    pub fn call_when_running(&self, f: impl FnOnce() + 'static) {
        if self.running() {
            f();
            return;
        }
        let once = TriggerFn::Once(Box::new(f));
        self.push_trigger(Phase::After, SystemEvent::Startup, once, Location::caller());
    }

    fn push_trigger(
        &self,
        phase: Phase,
        event: SystemEvent,
        f: TriggerFn,
        site: CallSite,
    ) -> TriggerId {
        let mut triggers = self.inner.triggers.borrow_mut();
        let id = triggers.next_id;
        triggers.next_id += 1;
        triggers.list.push(Trigger {
            id,
            phase,
            event,
            f,
            site,
        });
        TriggerId(id)
    }

    /// Runs the `Before` phase of `event` and notes what it must wait for.
    pub(super) fn begin_event(&self, event: SystemEvent) {
        let waits_left = {
            let mut triggers = self.inner.triggers.borrow_mut();
            triggers.firing = Some(event);
            triggers.waits_left.set(0);
            triggers.waits_left.clone()
        };
        for wait in self.fire_phase(event, Phase::Before) {
            let Some(register) = wait.on_done else {
                continue;
            };
            waits_left.set(waits_left.get() + 1);
            let left = waits_left.clone();
            register(Box::new(move || left.set(left.get().saturating_sub(1))));
        }
    }

    /// When the firing event's waits are done, runs its `During` and `After` phases and
    /// returns the event. `on_during` runs between the two (the reactor flips `running`).
    pub(super) fn finish_event_if_ready(
        &self,
        on_during: impl FnOnce(SystemEvent),
    ) -> Option<SystemEvent> {
        let event = {
            let triggers = self.inner.triggers.borrow();
            match triggers.firing {
                Some(event) if triggers.waits_left.get() == 0 => event,
                _ => return None,
            }
        };
        self.inner.triggers.borrow_mut().firing = None;
        self.fire_phase(event, Phase::During);
        on_during(event);
        self.fire_phase(event, Phase::After);
        Some(event)
    }

    /// Whether an event is waiting on nothing more and can finish without sleeping.
    pub(super) fn event_ready_to_finish(&self) -> bool {
        let triggers = self.inner.triggers.borrow();
        triggers.firing.is_some() && triggers.waits_left.get() == 0
    }

    /// Runs one phase's triggers, each outside any borrow, and returns what they gave back.
    fn fire_phase(&self, event: SystemEvent, phase: Phase) -> Vec<TriggerWait> {
        let due: Vec<(u64, CallSite, TriggerFn)> = {
            let mut triggers = self.inner.triggers.borrow_mut();
            let mut due = Vec::new();
            let mut kept = Vec::with_capacity(triggers.list.len());
            for t in triggers.list.drain(..) {
                if t.phase != phase || t.event != event {
                    kept.push(t);
                    continue;
                }
                match t.f {
                    TriggerFn::Once(f) => due.push((t.id, t.site, TriggerFn::Once(f))),
                    TriggerFn::Repeat(ref f) => {
                        due.push((t.id, t.site, TriggerFn::Repeat(f.clone())));
                        kept.push(t);
                    }
                }
            }
            triggers.list = kept;
            due
        };
        let watch = &self.inner.watch;
        let mut waits = Vec::new();
        for (id, site, f) in due {
            match f {
                TriggerFn::Once(f) => {
                    watch.run(Kind::Trigger, site, f);
                }
                TriggerFn::Repeat(f) => {
                    let removed = !self.inner.triggers.borrow().list.iter().any(|t| t.id == id);
                    if removed {
                        continue;
                    }
                    if let Some(wait) = watch.run(Kind::Trigger, site, || (f.borrow_mut())()) {
                        waits.push(wait);
                    }
                }
            }
        }
        waits
    }
}
