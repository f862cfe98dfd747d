//! The reactor and Deferreds: ensure_deferred, and shutdown triggers that return one.

mod support;

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
    time::Duration,
};

use torsion::defer::ok;
use torsion::{
    defer::{Cancelled, Deferred, Panicked, TimedOut},
    reactor::{Phase, SystemEvent},
    testing::run_test_on,
    Failure, Reactor,
};
use tracing::Level;

each_backend!(
    ensure_deferred_runs_at_once_up_to_its_first_wait,
    ensure_deferred_fires_with_the_futures_result,
    an_error_in_the_future_fails_the_deferred,
    a_panic_in_the_future_fails_the_deferred_with_panicked,
    cancelling_cancels_the_awaited_deferred_and_the_future_may_recover,
    cancelling_a_future_waiting_on_no_deferred_drops_it,
    shutdown_waits_for_a_deferred_from_a_before_trigger,
    a_failed_shutdown_deferred_is_logged_and_shutdown_goes_on,
    add_timeout_times_out_on_the_reactor_clock,
    add_timeout_lets_a_timely_result_through_on_the_reactor,
);

const TICK: Duration = Duration::from_millis(1);
const LIMIT: Duration = Duration::from_secs(20);

fn stopper(reactor: &Reactor) -> impl FnOnce() + 'static {
    let reactor = reactor.clone();
    move || reactor.stop()
}

fn ensure_deferred_runs_at_once_up_to_its_first_wait(reactor: Reactor) {
    let steps = Rc::new(RefCell::new(Vec::new()));
    let (wait, resolver) = Deferred::<()>::new();
    let d = reactor.ensure_deferred({
        let steps = steps.clone();
        async move {
            steps.borrow_mut().push("before");
            wait.await?;
            steps.borrow_mut().push("after");
            ok(())
        }
    });
    assert_eq!(*steps.borrow(), ["before"]);
    assert!(!d.called());
    resolver.callback(()).unwrap();
    reactor.call_later(TICK, stopper(&reactor));
    support::run(&reactor);
    assert_eq!(*steps.borrow(), ["before", "after"]);
    assert!(d.called());
}

fn ensure_deferred_fires_with_the_futures_result(reactor: Reactor) {
    // run_test_on wraps the body in reactor.ensure_deferred, runs the loop until it
    // fires, and checks the reactor is left clean.
    let answer = run_test_on(&reactor, LIMIT, |reactor| {
        let (wait, resolver) = Deferred::<u32>::new();
        reactor.call_later(TICK, move || resolver.callback(41).unwrap());
        async move { ok(wait.await? + 1) }
    });
    assert_eq!(answer, 42);
}

fn an_error_in_the_future_fails_the_deferred(reactor: Reactor) {
    let d: Deferred<u32> = reactor.ensure_deferred(async { Err(Failure::msg("no luck")) });
    let failure = d.try_result().ok().unwrap().unwrap_err();
    assert_eq!(failure.error_message(), "no luck");
    drop(reactor);
}

fn a_panic_in_the_future_fails_the_deferred_with_panicked(reactor: Reactor) {
    let (wait, resolver) = Deferred::<()>::new();
    let d: Deferred<()> = reactor.ensure_deferred(async move {
        wait.await?;
        panic!("future went wrong")
    });
    reactor.call_later(TICK, move || resolver.callback(()).unwrap());
    reactor.call_later(2 * TICK, stopper(&reactor));
    support::run(&reactor);
    let failure = d.try_result().ok().unwrap().unwrap_err();
    assert_eq!(
        failure.check::<Panicked>().map(|p| p.message.as_str()),
        Some("future went wrong")
    );
}

fn cancelling_cancels_the_awaited_deferred_and_the_future_may_recover(reactor: Reactor) {
    let (wait, _resolver) = Deferred::<u32>::new();
    let d = reactor.ensure_deferred(async move {
        match wait.await {
            Err(f) if f.check::<Cancelled>().is_some() => ok(7),
            other => other,
        }
    });
    d.cancel();
    // The future saw its cancellation at once and recovered: its value won.
    assert_eq!(d.try_result().ok().unwrap().ok(), Some(7));
    assert_eq!(reactor.pending_tasks(), 0);
}

fn cancelling_a_future_waiting_on_no_deferred_drops_it(reactor: Reactor) {
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let flag = Flag(dropped.clone());
    let d: Deferred<()> = reactor.ensure_deferred(async move {
        let _flag = flag;
        std::future::pending::<()>().await;
        Ok(())
    });
    d.cancel();
    assert!(dropped.get());
    let failure = d.try_result().ok().unwrap().unwrap_err();
    assert!(failure.check::<Cancelled>().is_some());
    assert_eq!(reactor.pending_tasks(), 0);
}

fn shutdown_waits_for_a_deferred_from_a_before_trigger(reactor: Reactor) {
    let order = Rc::new(RefCell::new(Vec::new()));
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, {
        let (reactor, order) = (reactor.clone(), order.clone());
        move || {
            let (d, resolver) = Deferred::<()>::new();
            let order = order.clone();
            reactor.call_later(3 * TICK, move || {
                order.borrow_mut().push("drained");
                resolver.callback(()).unwrap();
            });
            d
        }
    });
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, {
        let order = order.clone();
        move || order.borrow_mut().push("during")
    });
    reactor.call_when_running(stopper(&reactor));
    support::run(&reactor);
    assert_eq!(*order.borrow(), ["drained", "during"]);
}

fn a_failed_shutdown_deferred_is_logged_and_shutdown_goes_on(reactor: Reactor) {
    let line = line!() + 2;
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
        torsion::defer::fail::<()>(Failure::msg("drain failed"))
    });
    reactor.call_when_running(stopper(&reactor));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    let site = support::site(line);
    support::assert_logged(&logs, Level::ERROR, &["drain failed", &site]);
}

fn add_timeout_times_out_on_the_reactor_clock(reactor: Reactor) {
    let (d, resolver) = Deferred::<u32>::new();
    let outcome = Rc::new(RefCell::new(None));
    d.add_timeout(TICK, &reactor).add_both({
        let outcome = outcome.clone();
        let stop = stopper(&reactor);
        move |result: Result<u32, Failure>| {
            *outcome.borrow_mut() = Some(result.map_err(|f| f.check::<TimedOut>().copied()));
            stop();
            Ok(())
        }
    });
    reactor.run();
    assert_eq!(
        outcome.borrow_mut().take(),
        Some(Err(Some(TimedOut { after: TICK })))
    );
    assert_eq!(resolver.callback(1), Ok(()), "the late result is swallowed");
    torsion::testing::assert_clean(&reactor);
}

fn add_timeout_lets_a_timely_result_through_on_the_reactor(reactor: Reactor) {
    // The hour-long timer must be cancelled when the result comes: run_test_on fails the
    // test if anything is left behind.
    let n = run_test_on(&reactor, LIMIT, |reactor| {
        let (d, resolver) = Deferred::<u32>::new();
        reactor.call_when_running(move || resolver.callback(7).unwrap());
        d.add_timeout(Duration::from_secs(3600), reactor)
    });
    assert_eq!(n, 7);
}
