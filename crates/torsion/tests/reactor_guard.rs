//! Panics and stalls in user callbacks are logged with where the callback was scheduled,
//! and the reactor keeps running.

mod support;

use std::{
    cell::Cell,
    io::{Read, Write},
    os::unix::net::UnixStream,
    rc::Rc,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use torsion::{
    defer::{ok, Deferred},
    reactor::{Backend, Interest, Phase, SystemEvent, DEFAULT_STALL_THRESHOLD},
    testing::CapturedEvent,
    Reactor,
};
use tracing::Level;

each_backend!(
    a_panicking_timer_is_logged_with_its_site_and_the_loop_goes_on,
    a_panicking_readiness_handler_is_logged_and_the_loop_goes_on,
    a_panicking_thread_call_is_logged_and_the_loop_goes_on,
    a_panicking_trigger_is_logged_and_the_others_still_run,
    a_callback_holding_the_loop_is_reported_as_a_stall,
    only_the_callback_that_stalls_is_reported_among_several_in_one_turn,
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
    support::assert_logged(
        &logs,
        Level::ERROR,
        &["delayed call", &site, "timer went wrong"],
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
    support::assert_logged(
        &logs,
        Level::ERROR,
        &["readiness handler", &site, "handler went wrong"],
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
    support::assert_logged(
        &logs,
        Level::ERROR,
        &["call from thread", &site, "thread call went wrong"],
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
    support::assert_logged(
        &logs,
        Level::ERROR,
        &["system event trigger", &site, "trigger went wrong"],
    );
}

fn a_callback_holding_the_loop_is_reported_as_a_stall(reactor: Reactor) {
    let reactor = stalling_reactor(reactor.backend(), Duration::from_millis(1));
    let line = line!() + 1;
    reactor.call_later(Duration::ZERO, || hold_the_loop(Duration::from_millis(3)));
    reactor.call_later(TICK, stopper(&reactor));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    let site = support::site(line);
    support::assert_logged(
        &logs,
        Level::WARN,
        &["stalled", "delayed call", &site, "threshold 1 ms"],
    );
}

/// The loop reads the clock once per callback: each starts where the one before it ended.
/// A fast callback after a slow one must not inherit its time, nor one before it.
fn only_the_callback_that_stalls_is_reported_among_several_in_one_turn(reactor: Reactor) {
    let reactor = stalling_reactor(reactor.backend(), DEFAULT_STALL_THRESHOLD);
    // Atomic only because the thread call must be `Send`; it runs on the loop's thread.
    let ran = Arc::new(AtomicU32::new(0));
    let count = |ran: &Arc<AtomicU32>| {
        let ran = ran.clone();
        move || {
            ran.fetch_add(1, Ordering::Relaxed);
        }
    };
    // In one turn: a readiness handler, three timers (the middle one stalls), a thread call.
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    theirs.write_all(b"x").unwrap();
    let token = reactor.register_fd(&ours, Interest::READABLE, {
        let (mut ours, counted) = (ours.try_clone().unwrap(), count(&ran));
        let mut counted = Some(counted);
        move |_: &Reactor, _| {
            ours.read_exact(&mut [0]).unwrap();
            if let Some(counted) = counted.take() {
                counted();
            }
        }
    });
    let token = token.unwrap();
    reactor.call_later(Duration::ZERO, count(&ran));
    let line = line!() + 1;
    reactor.call_later(Duration::ZERO, || {
        hold_the_loop(DEFAULT_STALL_THRESHOLD + TICK)
    });
    reactor.call_later(Duration::ZERO, count(&ran));
    reactor.handle().call_from_thread({
        let counted = count(&ran);
        move |r| {
            counted();
            r.stop();
        }
    });
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    assert_eq!(ran.load(Ordering::Relaxed), 4, "every fast callback ran");
    let site = support::site(line);
    assert_eq!(stalls(&logs).len(), 1, "{logs:?}");
    support::assert_logged(&logs, Level::WARN, &["stalled", "delayed call", &site]);
    reactor.deregister_fd(token).unwrap();
}

#[test]
fn a_callback_run_inside_a_stalling_one_is_not_blamed_for_its_time() {
    let reactor = stalling_reactor(Backend::Mio, DEFAULT_STALL_THRESHOLD);
    let polled = Rc::new(Cell::new(false));
    let line = line!() + 1;
    reactor.call_later(Duration::ZERO, {
        let (r, polled) = (reactor.clone(), polled.clone());
        move || {
            hold_the_loop(DEFAULT_STALL_THRESHOLD + TICK);
            // Polled at once, under the watch, inside this callback.
            let _ = r.ensure_deferred(async move {
                polled.set(true);
                ok(())
            });
        }
    });
    reactor.call_later(TICK, stopper(&reactor));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    assert!(polled.get());
    let site = support::site(line);
    assert_eq!(stalls(&logs).len(), 1, "{logs:?}");
    support::assert_logged(&logs, Level::WARN, &["stalled", "delayed call", &site]);
}

#[test]
fn a_stall_in_a_protocol_names_the_protocol_not_the_dispatch_site() {
    use std::io::Write;
    use torsion::net::{factory_fn, Protocol, StreamNetwork, TcpListenOptions};

    struct SlowReader(Reactor);
    impl Protocol for SlowReader {
        fn data_received(&mut self, _: &[u8]) {
            hold_the_loop(Duration::from_millis(2));
            self.0.stop();
        }
    }
    let reactor = stalling_reactor(Backend::Mio, Duration::from_millis(1));
    let factory = factory_fn({
        let reactor = reactor.clone();
        move |_| Some(Box::new(SlowReader(reactor.clone())) as Box<dyn Protocol>)
    });
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port.port())).unwrap();
    client.write_all(b"hello").unwrap();
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    let stall = stalls(&logs)
        .into_iter()
        .find(|e| e.message.contains("readiness handler"))
        .unwrap_or_else(|| panic!("{logs:?}"));
    assert!(
        stall
            .message
            .starts_with("reactor stalled: protocol reactor_guard::a_stall_in_a_protocol_names_the_protocol_not_the_dispatch_site::SlowReader held the loop"),
        "{}",
        stall.message
    );
    drop(client);
}

#[test]
fn a_stall_in_a_resumed_future_names_where_it_became_a_deferred() {
    let reactor = stalling_reactor(Backend::Poll, Duration::from_millis(1));
    let (wait, resolver) = Deferred::<()>::new();
    let line = line!() + 1;
    let _done = reactor.ensure_deferred(async move {
        wait.await?;
        hold_the_loop(Duration::from_millis(2));
        ok(())
    });
    // A timer fires the Deferred; the future resumes inside it and holds the loop.
    reactor.call_later(TICK, move || resolver.callback(()).unwrap());
    reactor.call_later(2 * TICK, stopper(&reactor));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    let site = support::site(line);
    support::assert_logged(
        &logs,
        Level::WARN,
        &[
            "reactor stalled: the future made a Deferred at",
            &site,
            "in the delayed call scheduled at",
        ],
    );
}

#[test]
fn a_callback_run_outside_the_loop_times_itself() {
    let reactor = stalling_reactor(Backend::Poll, DEFAULT_STALL_THRESHOLD);
    reactor.call_when_running(stopper(&reactor));
    support::run(&reactor);
    // Time passes outside `run`; a task polled at once then must not count it as its own.
    hold_the_loop(DEFAULT_STALL_THRESHOLD + TICK);
    let polled = Rc::new(Cell::new(false));
    let ((), logs) = support::capture_logs(|| {
        let polled = polled.clone();
        let _ = reactor.ensure_deferred(async move {
            polled.set(true);
            ok(())
        });
    });
    assert!(polled.get());
    assert!(stalls(&logs).is_empty(), "{logs:?}");
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

/// The stall warnings among `logs`.
fn stalls(logs: &[CapturedEvent]) -> Vec<&CapturedEvent> {
    logs.iter()
        .filter(|e| e.level == Level::WARN && e.message.contains("stalled"))
        .collect()
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
