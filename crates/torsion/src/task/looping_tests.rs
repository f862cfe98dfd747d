use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::defer::{Deferred, Panicked};
use crate::task::Clock;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn counter() -> (Rc<Cell<u32>>, impl FnMut() + 'static) {
    let n = Rc::new(Cell::new(0));
    (n.clone(), move || n.set(n.get() + 1))
}

#[test]
fn now_true_calls_at_once_then_every_interval() {
    let clock = Clock::new();
    let (n, f) = counter();
    let call = LoopingCall::new(&clock, f);
    let _done = call.start(secs(1), true);
    assert_eq!(n.get(), 1);
    clock.advance(secs(3));
    assert_eq!(
        n.get(),
        2,
        "one advance jumps over grid points: they are skipped"
    );
    clock.pump(&[secs(1), secs(1)]);
    assert_eq!(n.get(), 4);
    assert_eq!(call.interval(), Some(secs(1)));
    call.stop().unwrap();
}

#[test]
fn now_false_waits_one_interval_first() {
    let clock = Clock::new();
    let (n, f) = counter();
    let call = LoopingCall::new(&clock, f);
    let _done = call.start(secs(2), false);
    assert_eq!(n.get(), 0);
    clock.advance(secs(1));
    assert_eq!(n.get(), 0);
    clock.advance(secs(1));
    assert_eq!(n.get(), 1);
    call.stop().unwrap();
}

#[test]
fn with_count_reports_the_intervals_skipped_since_the_last_call() {
    let clock = Clock::new();
    let counts = Rc::new(RefCell::new(Vec::new()));
    let call = LoopingCall::with_count(&clock, {
        let counts = counts.clone();
        move |n: u64| counts.borrow_mut().push(n)
    });
    let _done = call.start(secs(1), true);
    clock.advance(secs(1));
    clock.advance(secs(3)); // The call due at 2 runs at 4: grid points 2, 3, 4 passed.
    clock.advance(secs(1));
    assert_eq!(*counts.borrow(), [1, 1, 3, 1]);
    call.stop().unwrap();
}

#[test]
fn calls_keep_to_the_grid_when_one_runs_late() {
    let clock = Clock::new();
    let times = Rc::new(RefCell::new(Vec::new()));
    let call = LoopingCall::new(&clock, {
        let (clock, times) = (clock.clone(), times.clone());
        move || times.borrow_mut().push(clock.seconds().as_millis())
    });
    let _done = call.start(secs(1), false);
    clock.advance(Duration::from_millis(1500)); // Late by half an interval.
    clock.advance(Duration::from_millis(500));
    assert_eq!(*times.borrow(), [1500, 2000]);
    call.stop().unwrap();
}

#[test]
fn stop_fires_the_deferred_and_leaves_no_call_behind() {
    let clock = Clock::new();
    let (_, f) = counter();
    let call = LoopingCall::new(&clock, f);
    let done = call.start(secs(1), true);
    assert!(!done.called());
    call.stop().unwrap();
    assert!(!call.running());
    assert_eq!(done.try_result().ok().unwrap().ok(), Some(()));
    assert!(clock.pending_calls().is_empty());
    assert_eq!(call.stop(), Err(LoopingCallError::NotRunning));
    assert_eq!(call.reset(), Err(LoopingCallError::NotRunning));
}

#[test]
fn starting_twice_fails_the_second_deferred() {
    let clock = Clock::new();
    let call = LoopingCall::new(&clock, || {});
    let _done = call.start(secs(1), true);
    let again = call.start(secs(1), true);
    let failure = again.try_result().ok().unwrap().unwrap_err();
    assert_eq!(
        failure.check::<LoopingCallError>(),
        Some(&LoopingCallError::AlreadyRunning)
    );
    call.stop().unwrap();
}

#[test]
fn a_returned_deferred_holds_the_next_call_until_it_fires() {
    let clock = Clock::new();
    let resolvers = Rc::new(RefCell::new(Vec::new()));
    let call = LoopingCall::new(&clock, {
        let resolvers = resolvers.clone();
        move || {
            let (d, r) = Deferred::<()>::new();
            resolvers.borrow_mut().push(r);
            d
        }
    });
    let _done = call.start(secs(1), true);
    clock.advance(secs(5));
    assert_eq!(resolvers.borrow().len(), 1, "waits for the first Deferred");
    let first = resolvers.borrow_mut().remove(0);
    first.callback(()).unwrap();
    clock.advance(secs(1));
    assert_eq!(
        resolvers.borrow().len(),
        1,
        "the next call came one interval later"
    );
    call.stop().unwrap();
}

#[test]
fn stop_while_the_function_waits_fires_when_it_is_done() {
    let clock = Clock::new();
    let pending = Rc::new(RefCell::new(None));
    let call = LoopingCall::new(&clock, {
        let pending = pending.clone();
        move || {
            let (d, r) = Deferred::<()>::new();
            *pending.borrow_mut() = Some(r);
            d
        }
    });
    let done = call.start(secs(1), true);
    call.stop().unwrap();
    let done = done
        .try_result()
        .expect_err("the function is still working");
    let resolver = pending.borrow_mut().take().unwrap();
    resolver.callback(()).unwrap();
    assert_eq!(done.try_result().ok().unwrap().ok(), Some(()));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn a_failure_stops_the_loop_and_fails_its_deferred() {
    let clock = Clock::new();
    let n = Rc::new(Cell::new(0));
    let call = LoopingCall::new(&clock, {
        let n = n.clone();
        move || {
            n.set(n.get() + 1);
            if n.get() == 3 {
                return Err(Failure::msg("third time"));
            }
            Ok(())
        }
    });
    let done = call.start(secs(1), true);
    clock.pump(&[secs(1); 5]);
    assert_eq!(n.get(), 3);
    assert!(!call.running());
    let failure = done.try_result().ok().unwrap().unwrap_err();
    assert_eq!(failure.error_message(), "third time");
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn a_panic_becomes_a_panicked_failure_located_at_the_loop() {
    let clock = Clock::new();
    let line = line!() + 1;
    let call = LoopingCall::new(&clock, || -> Result<(), Failure> { panic!("tick") });
    let done = call.start(secs(1), true);
    let failure = done.try_result().ok().unwrap().unwrap_err();
    assert_eq!(failure.check::<Panicked>().unwrap().message, "tick");
    assert_eq!(failure.location().line(), line);
}

#[test]
fn the_function_may_stop_its_own_loop_and_restart_it_when_done() {
    let clock = Clock::new();
    let n = Rc::new(Cell::new(0));
    let slot: Rc<RefCell<Option<LoopingCall>>> = Rc::default();
    let call = LoopingCall::new(&clock, {
        let (n, slot) = (n.clone(), slot.clone());
        move || {
            n.set(n.get() + 1);
            if n.get() % 2 == 0 {
                if let Some(call) = &*slot.borrow() {
                    call.stop().unwrap();
                }
            }
        }
    });
    *slot.borrow_mut() = Some(call.clone());
    let done = call.start(secs(1), true);
    clock.advance(secs(1));
    assert_eq!(done.try_result().ok().unwrap().ok(), Some(()));
    let again = call.start(secs(1), false);
    clock.pump(&[secs(1), secs(1)]);
    assert_eq!(n.get(), 4);
    assert_eq!(again.try_result().ok().unwrap().ok(), Some(()));
    slot.borrow_mut().take();
}

#[test]
fn reset_moves_the_next_call_one_interval_from_now() {
    let clock = Clock::new();
    let (n, f) = counter();
    let call = LoopingCall::new(&clock, f);
    let _done = call.start(secs(2), false);
    clock.advance(secs(1));
    call.reset().unwrap();
    clock.advance(secs(1));
    assert_eq!(n.get(), 0);
    clock.advance(secs(1));
    assert_eq!(n.get(), 1);
    call.stop().unwrap();
}
