//! Signals: the default graceful stop on SIGINT and SIGTERM, and user handlers.
//!
//! Signals reach every reactor of the process, so these tests take a lock and run one at
//! a time; other test files build their reactors without the default handlers.

mod support;

use std::{
    cell::{Cell, RefCell},
    io::ErrorKind,
    rc::Rc,
    sync::{Mutex, MutexGuard},
};

use torsion::{
    reactor::{signal, Backend, Phase, SystemEvent},
    Reactor,
};

each_backend!(
    a_user_handler_runs_on_the_reactor_thread,
    sigterm_stops_the_reactor_gracefully_by_default,
    sigint_stops_the_reactor_by_default,
    a_user_sigint_handler_replaces_the_default_stop,
    a_removed_handler_is_not_called,
    signals_that_cannot_be_handled_are_refused,
);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serialize() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn with_defaults(backend: Backend) -> Reactor {
    Reactor::builder().backend(backend).build().unwrap()
}

fn a_user_handler_runs_on_the_reactor_thread(reactor: Reactor) {
    let _one = serialize();
    let seen = Rc::new(Cell::new(0));
    let id = reactor
        .add_signal_handler(signal::SIGUSR1, {
            let seen = seen.clone();
            move |reactor: &Reactor| {
                seen.set(seen.get() + 1);
                reactor.stop();
            }
        })
        .unwrap();
    reactor.call_when_running(|| signal::raise(signal::SIGUSR1).unwrap());
    support::run(&reactor);
    assert_eq!(seen.get(), 1);
    assert!(reactor.remove_signal_handler(id));
    assert!(!reactor.remove_signal_handler(id));
}

fn sigterm_stops_the_reactor_gracefully_by_default(reactor: Reactor) {
    let _one = serialize();
    let reactor = with_defaults(reactor.backend());
    let drained = Rc::new(Cell::new(false));
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, {
        let drained = drained.clone();
        move || drained.set(true)
    });
    reactor.call_when_running(|| signal::raise(signal::SIGTERM).unwrap());
    support::run(&reactor);
    assert!(drained.get());
}

fn sigint_stops_the_reactor_by_default(reactor: Reactor) {
    let _one = serialize();
    let reactor = with_defaults(reactor.backend());
    reactor.call_when_running(|| signal::raise(signal::SIGINT).unwrap());
    support::run(&reactor);
    assert!(!reactor.running());
}

fn a_user_sigint_handler_replaces_the_default_stop(reactor: Reactor) {
    let _one = serialize();
    let reactor = with_defaults(reactor.backend());
    let order = Rc::new(RefCell::new(Vec::new()));
    let id = reactor
        .add_signal_handler(signal::SIGINT, {
            let order = order.clone();
            move |reactor: &Reactor| {
                order.borrow_mut().push("handler");
                // Still running: the default stop did not happen.
                let (r, o) = (reactor.clone(), order.clone());
                reactor.call_later(std::time::Duration::from_millis(1), move || {
                    o.borrow_mut()
                        .push(if r.running() { "running" } else { "stopped" });
                    r.stop();
                });
            }
        })
        .unwrap();
    reactor.call_when_running(|| signal::raise(signal::SIGINT).unwrap());
    support::run(&reactor);
    assert_eq!(*order.borrow(), ["handler", "running"]);
    assert!(reactor.remove_signal_handler(id));
}

fn a_removed_handler_is_not_called(reactor: Reactor) {
    let _one = serialize();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let handler = |name: &'static str| {
        let calls = calls.clone();
        move |reactor: &Reactor| {
            calls.borrow_mut().push(name);
            reactor.stop();
        }
    };
    let first = reactor
        .add_signal_handler(signal::SIGUSR2, handler("first"))
        .unwrap();
    let second = reactor
        .add_signal_handler(signal::SIGUSR2, handler("second"))
        .unwrap();
    assert!(reactor.remove_signal_handler(first));
    reactor.call_when_running(|| signal::raise(signal::SIGUSR2).unwrap());
    support::run(&reactor);
    assert_eq!(*calls.borrow(), ["second"]);
    assert!(reactor.remove_signal_handler(second));
}

fn signals_that_cannot_be_handled_are_refused(reactor: Reactor) {
    let err = reactor
        .add_signal_handler(libc::SIGKILL, |_: &Reactor| {})
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        "handle signal 9: this signal cannot be handled"
    );
}

#[test]
fn the_signal_pipe_is_not_counted_as_a_user_descriptor() {
    let _one = serialize();
    let reactor = with_defaults(Backend::Poll);
    let id = reactor
        .add_signal_handler(signal::SIGUSR1, |_: &Reactor| {})
        .unwrap();
    assert_eq!(reactor.registered_fds(), 0);
    assert!(reactor.remove_signal_handler(id));
}
