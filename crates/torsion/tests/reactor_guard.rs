//! Panics and stalls in user callbacks are logged with where the callback was scheduled,
//! and the reactor keeps running.

mod support;

use std::{
    cell::Cell,
    io::Write,
    os::unix::net::UnixStream,
    rc::Rc,
    time::{Duration, Instant},
};

use torsion::{
    reactor::{Backend, Interest, Phase, SystemEvent},
    Reactor,
};
use tracing::Level;

each_backend!(
    a_panicking_timer_is_logged_with_its_site_and_the_loop_goes_on,
    a_panicking_readiness_handler_is_logged_and_the_loop_goes_on,
    a_panicking_thread_call_is_logged_and_the_loop_goes_on,
    a_panicking_trigger_is_logged_and_the_others_still_run,
    a_callback_holding_the_loop_is_reported_as_a_stall,
);

const TICK: Duration = Duration::from_millis(1);

fn stopper(reactor: &Reactor) -> impl FnOnce() + 'static {
    let reactor = reactor.clone();
    move || reactor.stop()
}

/// Holds the loop for longer than `at_least`, as a blocking call hidden in a callback would.
fn hold_the_loop(at_least: Duration) {
    let start = Instant::now();
    while start.elapsed() <= at_least {
        std::hint::spin_loop();
    }
}

fn a_panicking_timer_is_logged_with_its_site_and_the_loop_goes_on(reactor: Reactor) {
    let after = Rc::new(Cell::new(false));
    let line = line!() + 1;
    reactor.call_later(Duration::ZERO, || panic!("timer went wrong"));
    reactor.call_later(TICK, {
        let a = after.clone();
        move || a.set(true)
    });
    reactor.call_later(2 * TICK, stopper(&reactor));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    assert!(after.get());
    let site = support::site(line);
    assert!(
        support::logged(
            &logs,
            Level::ERROR,
            &["delayed call", &site, "timer went wrong"]
        ),
        "{logs:?}"
    );
}

fn a_panicking_readiness_handler_is_logged_and_the_loop_goes_on(reactor: Reactor) {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let handler = |_: &Reactor, _| panic!("handler went wrong");
    let line = line!() + 1;
    let token = reactor.register_fd(&ours, Interest::READABLE, handler);
    let token = token.unwrap();
    theirs.write_all(b"x").unwrap();
    reactor.call_later(2 * TICK, stopper(&reactor));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    let site = support::site(line);
    assert!(
        support::logged(
            &logs,
            Level::ERROR,
            &["readiness handler", &site, "handler went wrong"]
        ),
        "{logs:?}"
    );
    reactor.deregister_fd(token).unwrap();
}

fn a_panicking_thread_call_is_logged_and_the_loop_goes_on(reactor: Reactor) {
    let handle = reactor.handle();
    let line = line!() + 1;
    handle.call_from_thread(|_| panic!("thread call went wrong"));
    handle.call_from_thread(|r| r.stop());
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    let site = support::site(line);
    assert!(
        support::logged(
            &logs,
            Level::ERROR,
            &["call from thread", &site, "thread call went wrong"]
        ),
        "{logs:?}"
    );
}

fn a_panicking_trigger_is_logged_and_the_others_still_run(reactor: Reactor) {
    let later = Rc::new(Cell::new(false));
    let line = line!() + 1;
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, trigger_went_wrong);
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, {
        let l = later.clone();
        move || l.set(true)
    });
    reactor.call_when_running(stopper(&reactor));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    assert!(later.get());
    let site = support::site(line);
    assert!(
        support::logged(
            &logs,
            Level::ERROR,
            &["system event trigger", &site, "trigger went wrong"]
        ),
        "{logs:?}"
    );
}

fn a_callback_holding_the_loop_is_reported_as_a_stall(reactor: Reactor) {
    let reactor = stalling_reactor(reactor.backend(), Duration::from_millis(1));
    let line = line!() + 1;
    reactor.call_later(Duration::ZERO, || hold_the_loop(Duration::from_millis(3)));
    reactor.call_later(TICK, stopper(&reactor));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    let site = support::site(line);
    assert!(
        support::logged(
            &logs,
            Level::WARN,
            &["stalled", "delayed call", &site, "threshold 1 ms"]
        ),
        "{logs:?}"
    );
}

#[test]
fn a_zero_threshold_turns_stall_reporting_off() {
    let reactor = stalling_reactor(Backend::Mio, Duration::ZERO);
    reactor.call_later(Duration::ZERO, || hold_the_loop(Duration::from_millis(3)));
    reactor.call_later(TICK, stopper(&reactor));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    assert!(
        !support::logged(&logs, Level::WARN, &["stalled"]),
        "{logs:?}"
    );
}

#[test]
fn a_quick_callback_is_not_reported() {
    let reactor = stalling_reactor(Backend::Poll, Duration::from_secs(10));
    reactor.call_later(Duration::ZERO, || {});
    reactor.call_later(TICK, stopper(&reactor));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    assert!(logs.iter().all(|e| e.level < Level::WARN), "{logs:?}");
}

fn trigger_went_wrong() {
    panic!("trigger went wrong")
}

fn stalling_reactor(backend: Backend, threshold: Duration) -> Reactor {
    Reactor::builder()
        .backend(backend)
        .install_signal_handlers(false)
        .stall_threshold(threshold)
        .build()
        .unwrap()
}
