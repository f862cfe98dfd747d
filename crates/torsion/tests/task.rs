//! The task helpers on the real reactor: LoopingCall, defer_later, Cooperator, react.

mod support;

use std::{cell::RefCell, rc::Rc, time::Duration};

use support::{capture_logs, logged, run};
use torsion::defer::ok;
use torsion::{
    defer::{fail, succeed},
    task::{defer_later, react_with, Cooperator, LoopingCall, Slice},
    testing::assert_clean,
    Failure, Reactor,
};
use tracing::Level;

each_backend!(
    a_looping_call_ticks_on_the_reactor_and_leaves_it_clean,
    defer_later_fires_on_the_reactor,
    a_cooperator_yields_the_loop_between_slices,
    react_with_stops_when_main_fires_and_returns_its_outcome,
    react_with_returns_and_logs_a_failure,
);

fn a_looping_call_ticks_on_the_reactor_and_leaves_it_clean(reactor: Reactor) {
    let ticks = Rc::new(RefCell::new(0));
    let slot: Rc<RefCell<Option<LoopingCall>>> = Rc::default();
    let call = LoopingCall::new(&reactor, {
        let (ticks, slot) = (ticks.clone(), slot.clone());
        move || {
            *ticks.borrow_mut() += 1;
            if *ticks.borrow() == 3 {
                if let Some(call) = slot.borrow_mut().take() {
                    call.stop().unwrap();
                }
            }
        }
    });
    *slot.borrow_mut() = Some(call.clone());
    let _ = call.start(Duration::from_millis(1), true).add_callback({
        let reactor = reactor.clone();
        move |()| {
            reactor.stop();
            ok(())
        }
    });
    run(&reactor);
    assert_eq!(*ticks.borrow(), 3);
    assert_clean(&reactor);
}

fn defer_later_fires_on_the_reactor(reactor: Reactor) {
    let d = defer_later(&reactor, Duration::from_millis(1), {
        let reactor = reactor.clone();
        move || {
            reactor.stop();
            ok("later")
        }
    });
    run(&reactor);
    assert_eq!(d.try_result().ok().unwrap().ok(), Some("later"));
    assert_clean(&reactor);
}

fn a_cooperator_yields_the_loop_between_slices(reactor: Reactor) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let coop = Cooperator::with_slice(&reactor, Slice::Steps(2));
    let done = coop.coiterate((0..6).map({
        let log = log.clone();
        move |i| log.borrow_mut().push(format!("step{i}"))
    }));
    reactor.call_later(Duration::ZERO, {
        let log = log.clone();
        move || log.borrow_mut().push("timer".to_owned())
    });
    let _ = done.add_callback({
        let reactor = reactor.clone();
        move |()| {
            reactor.stop();
            ok(())
        }
    });
    run(&reactor);
    // The timer was due in the first turn: it ran after the first slice, not after all.
    assert_eq!(log.borrow().iter().position(|s| s == "timer"), Some(2));
    assert_eq!(log.borrow().len(), 7);
    assert_clean(&reactor);
}

fn react_with_stops_when_main_fires_and_returns_its_outcome(reactor: Reactor) {
    let result = react_with(&reactor, |reactor| {
        defer_later(reactor, Duration::from_millis(1), || ok(()))
    });
    assert!(result.is_ok());
    assert!(!reactor.running());
    // Already fired: the reactor stops as soon as it started.
    assert!(react_with(&reactor, |_| succeed(())).is_ok());
    assert_clean(&reactor);
}

fn react_with_returns_and_logs_a_failure(reactor: Reactor) {
    let (result, logs) =
        capture_logs(|| react_with(&reactor, |_| fail(Failure::msg("bad config"))));
    assert_eq!(result.unwrap_err().error_message(), "bad config");
    assert!(logged(
        &logs,
        Level::ERROR,
        &["main function encountered an error", "bad config"]
    ));
    assert_clean(&reactor);
}
