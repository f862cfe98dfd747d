//! The loop itself: run and stop, timers, system events, running again, many reactors.

mod support;

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
    thread,
    time::Duration,
};

use torsion::{
    reactor::{Phase, SystemEvent, TriggerWait},
    time::{ReactorTime, TimerError},
    Reactor,
};

each_backend!(
    run_returns_after_stop_from_call_when_running,
    call_when_running_calls_at_once_when_already_running,
    stop_on_a_reactor_that_is_not_running_is_a_no_op,
    timers_fire_by_deadline_and_in_scheduling_order_when_equal,
    a_timer_never_fires_before_its_time,
    cancelled_timers_never_run_and_cancel_errors_are_clear,
    reset_and_delay_move_a_timer,
    call_later_zero_waits_for_the_next_turn,
    the_reactor_implements_reactor_time,
    a_stopped_reactor_runs_again_with_its_pending_timers,
    system_event_phases_fire_in_order,
    removed_triggers_do_not_fire,
    shutdown_waits_for_before_triggers,
    triggers_fire_on_every_run_and_call_when_running_once,
    stop_during_startup_waits_for_startup_to_finish,
    running_twice_at_once_is_refused_and_logged,
);

const TICK: Duration = Duration::from_millis(1);

fn log() -> Rc<RefCell<Vec<String>>> {
    Rc::default()
}

fn push(log: &Rc<RefCell<Vec<String>>>, what: &str) -> impl FnOnce() + 'static {
    let (log, what) = (log.clone(), what.to_owned());
    move || log.borrow_mut().push(what)
}

fn stopper(reactor: &Reactor) -> impl FnOnce() + 'static {
    let reactor = reactor.clone();
    move || reactor.stop()
}

fn run_returns_after_stop_from_call_when_running(reactor: Reactor) {
    let ran = Rc::new(Cell::new(false));
    reactor.call_when_running({
        let (reactor, ran) = (reactor.clone(), ran.clone());
        move || {
            assert!(reactor.running());
            ran.set(true);
            reactor.stop();
        }
    });
    assert!(!reactor.running());
    support::run(&reactor);
    assert!(ran.get());
    assert!(!reactor.running());
}

fn call_when_running_calls_at_once_when_already_running(reactor: Reactor) {
    let order = log();
    reactor.call_when_running({
        let (reactor, order) = (reactor.clone(), order.clone());
        move || {
            reactor.call_when_running(push(&order, "inner"));
            order.borrow_mut().push("outer".into());
            reactor.stop();
        }
    });
    support::run(&reactor);
    assert_eq!(*order.borrow(), ["inner", "outer"]);
}

fn stop_on_a_reactor_that_is_not_running_is_a_no_op(reactor: Reactor) {
    reactor.stop();
    reactor.call_later(TICK, stopper(&reactor));
    let fired = Rc::new(Cell::new(false));
    reactor.call_later(Duration::ZERO, {
        let f = fired.clone();
        move || f.set(true)
    });
    support::run(&reactor);
    assert!(
        fired.get(),
        "an early stop() must not cut the next run short"
    );
}

fn timers_fire_by_deadline_and_in_scheduling_order_when_equal(reactor: Reactor) {
    // Margins of 10 ms and more: scheduling itself takes time on a loaded machine, and
    // only the order is asserted, never how long anything took.
    let order = log();
    reactor.call_later(30 * TICK, push(&order, "c"));
    reactor.call_later(Duration::ZERO, push(&order, "a1"));
    reactor.call_later(Duration::ZERO, push(&order, "a2"));
    reactor.call_later(10 * TICK, push(&order, "b"));
    reactor.call_later(Duration::ZERO, push(&order, "a3"));
    reactor.call_later(40 * TICK, stopper(&reactor));
    support::run(&reactor);
    assert_eq!(*order.borrow(), ["a1", "a2", "a3", "b", "c"]);
}

fn a_timer_never_fires_before_its_time(reactor: Reactor) {
    let due = reactor.seconds() + 3 * TICK;
    let fired_at = Rc::new(Cell::new(None));
    reactor.call_later(3 * TICK, {
        let (reactor, fired_at) = (reactor.clone(), fired_at.clone());
        move || {
            fired_at.set(Some(reactor.seconds()));
            reactor.stop();
        }
    });
    support::run(&reactor);
    assert!(fired_at.get().unwrap() >= due);
}

fn cancelled_timers_never_run_and_cancel_errors_are_clear(reactor: Reactor) {
    let fired = Rc::new(Cell::new(0));
    let bump = |fired: &Rc<Cell<i32>>| {
        let f = fired.clone();
        move || f.set(f.get() + 1)
    };
    let cancelled = reactor.call_later(TICK, bump(&fired));
    let ran = reactor.call_later(Duration::ZERO, bump(&fired));
    assert_eq!(cancelled.cancel(), Ok(()));
    assert!(!cancelled.active());
    assert_eq!(cancelled.cancel(), Err(TimerError::AlreadyCancelled));
    reactor.call_later(2 * TICK, stopper(&reactor));
    support::run(&reactor);
    assert_eq!(fired.get(), 1);
    assert_eq!(ran.cancel(), Err(TimerError::AlreadyCalled));
    assert_eq!(ran.reset(TICK), Err(TimerError::AlreadyCalled));
}

fn reset_and_delay_move_a_timer(reactor: Reactor) {
    let order = log();
    let first = reactor.call_later(TICK, push(&order, "moved"));
    reactor.call_later(2 * TICK, push(&order, "fixed"));
    let second = reactor.call_later(3 * TICK, push(&order, "delayed"));
    first.reset(20 * TICK).unwrap();
    second.delay(40 * TICK).unwrap();
    assert!(first.time() > reactor.seconds());
    assert!(second.time() - first.time() > 10 * TICK);
    reactor.call_later(60 * TICK, stopper(&reactor));
    support::run(&reactor);
    assert_eq!(*order.borrow(), ["fixed", "moved", "delayed"]);
}

fn call_later_zero_waits_for_the_next_turn(reactor: Reactor) {
    // A timer that reschedules itself for "now" must let the loop turn (poll I/O,
    // run thread calls) between runs, or it would starve everything else.
    let turns = Rc::new(Cell::new(0));
    fn again(reactor: Reactor, turns: Rc<Cell<u32>>) {
        turns.set(turns.get() + 1);
        if turns.get() < 50 {
            let r = reactor.clone();
            reactor.call_later(Duration::ZERO, move || again(r, turns));
        }
    }
    reactor.call_later(Duration::ZERO, {
        let (r, t) = (reactor.clone(), turns.clone());
        move || again(r, t)
    });
    let handle = reactor.handle();
    let seen_at = Rc::new(Cell::new(0));
    thread::scope(|s| {
        s.spawn(|| handle.call_from_thread(|r| r.stop()));
    });
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, {
        let (turns, seen_at) = (turns.clone(), seen_at.clone());
        move || seen_at.set(turns.get())
    });
    support::run(&reactor);
    assert!(
        seen_at.get() < 50,
        "the thread call waited for {} timer runs",
        seen_at.get()
    );
}

fn the_reactor_implements_reactor_time(reactor: Reactor) {
    let clock: &dyn ReactorTime = &reactor;
    let before = clock.seconds();
    let call = clock.call_later(TICK, Box::new(stopper(&reactor)));
    assert!(call.time() >= before + TICK);
    support::run(&reactor);
    assert!(!call.active());
    assert!(reactor.timers().is_empty());
}

fn a_stopped_reactor_runs_again_with_its_pending_timers(reactor: Reactor) {
    let order = log();
    reactor.call_later(TICK, stopper(&reactor));
    reactor.call_later(50 * TICK, push(&order, "later"));
    support::run(&reactor);
    assert!(order.borrow().is_empty());
    reactor.call_later(60 * TICK, stopper(&reactor));
    support::run(&reactor);
    assert_eq!(*order.borrow(), ["later"]);
}

fn system_event_phases_fire_in_order(reactor: Reactor) {
    let order = log();
    for event in [SystemEvent::Startup, SystemEvent::Shutdown] {
        for phase in [Phase::After, Phase::During, Phase::Before] {
            let order = order.clone();
            let what = format!("{phase:?} {event:?}");
            reactor.add_system_event_trigger(phase, event, move || {
                order.borrow_mut().push(what.clone())
            });
        }
    }
    reactor.call_when_running({
        let (r, o) = (reactor.clone(), order.clone());
        move || {
            o.borrow_mut().push("running".into());
            r.stop()
        }
    });
    support::run(&reactor);
    assert_eq!(
        *order.borrow(),
        [
            "Before Startup",
            "During Startup",
            "After Startup",
            "running",
            "Before Shutdown",
            "During Shutdown",
            "After Shutdown",
        ]
    );
}

fn removed_triggers_do_not_fire(reactor: Reactor) {
    let order = log();
    let id = reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, {
        let order = order.clone();
        move || order.borrow_mut().push("removed".to_owned())
    });
    // A trigger removed by an earlier one in the same phase does not run either.
    let victim = Rc::new(Cell::new(None));
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, {
        let (reactor, victim) = (reactor.clone(), victim.clone());
        move || {
            reactor.remove_system_event_trigger(victim.get().unwrap());
        }
    });
    victim.set(Some(reactor.add_system_event_trigger(
        Phase::Before,
        SystemEvent::Shutdown,
        {
            let order = order.clone();
            move || order.borrow_mut().push("victim".to_owned())
        },
    )));
    assert!(reactor.remove_system_event_trigger(id));
    assert!(!reactor.remove_system_event_trigger(id));
    reactor.call_when_running(stopper(&reactor));
    support::run(&reactor);
    assert!(order.borrow().is_empty(), "{:?}", order.borrow());
}

fn shutdown_waits_for_before_triggers(reactor: Reactor) {
    let order = log();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, {
        let (reactor, order) = (reactor.clone(), order.clone());
        move || {
            let order = order.clone();
            let reactor = reactor.clone();
            TriggerWait::until(move |done| {
                reactor.call_later(3 * TICK, move || {
                    order.borrow_mut().push("drained".to_owned());
                    done();
                });
            })
        }
    });
    reactor.add_system_event_trigger(
        Phase::During,
        SystemEvent::Shutdown,
        push_fn(&order, "during"),
    );
    reactor.call_when_running(stopper(&reactor));
    support::run(&reactor);
    assert_eq!(*order.borrow(), ["drained", "during"]);
}

fn push_fn(log: &Rc<RefCell<Vec<String>>>, what: &'static str) -> impl FnMut() + 'static {
    let log = log.clone();
    move || log.borrow_mut().push(what.to_owned())
}

fn triggers_fire_on_every_run_and_call_when_running_once(reactor: Reactor) {
    let order = log();
    reactor.add_system_event_trigger(
        Phase::After,
        SystemEvent::Startup,
        push_fn(&order, "trigger"),
    );
    reactor.call_when_running(push(&order, "once"));
    for _ in 0..2 {
        reactor.call_when_running(stopper(&reactor));
        support::run(&reactor);
    }
    assert_eq!(*order.borrow(), ["trigger", "once", "trigger"]);
}

fn stop_during_startup_waits_for_startup_to_finish(reactor: Reactor) {
    let order = log();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Startup, {
        let reactor = reactor.clone();
        move || reactor.stop()
    });
    reactor.call_when_running(push(&order, "running"));
    reactor.add_system_event_trigger(
        Phase::During,
        SystemEvent::Shutdown,
        push_fn(&order, "shutdown"),
    );
    support::run(&reactor);
    assert_eq!(*order.borrow(), ["running", "shutdown"]);
}

fn running_twice_at_once_is_refused_and_logged(reactor: Reactor) {
    let ((), logs) = support::capture_logs(|| {
        reactor.call_when_running({
            let r = reactor.clone();
            move || r.run()
        });
        reactor.call_later(TICK, stopper(&reactor));
        support::run(&reactor);
    });
    support::assert_logged(&logs, tracing::Level::ERROR, &["already running"]);
}

#[test]
fn several_reactors_run_at_once_on_their_own_threads() {
    let threads: Vec<_> = (0..4)
        .map(|i| {
            thread::spawn(move || {
                let backend = if i % 2 == 0 {
                    torsion::reactor::Backend::Mio
                } else {
                    torsion::reactor::Backend::Poll
                };
                let reactor = support::reactor(backend);
                let count = Rc::new(Cell::new(0));
                for n in 0..10 {
                    reactor.call_later(n * TICK, {
                        let c = count.clone();
                        move || c.set(c.get() + 1)
                    });
                }
                reactor.call_later(11 * TICK, stopper(&reactor));
                support::run(&reactor);
                count.get()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 10);
    }
}

#[test]
fn the_backend_is_chosen_by_the_builder() {
    for backend in [
        torsion::reactor::Backend::Mio,
        torsion::reactor::Backend::Poll,
    ] {
        assert_eq!(support::reactor(backend).backend(), backend);
    }
}
