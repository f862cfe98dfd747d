use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::defer::{Deferred, Panicked};
use crate::task::Clock;
use crate::testing::capture_logs;

type Log = Rc<RefCell<Vec<String>>>;

fn recorder(log: &Log, name: &'static str, n: u32) -> impl Iterator<Item = ()> + 'static {
    let log = log.clone();
    (0..n).map(move |i| log.borrow_mut().push(format!("{name}{i}")))
}

fn result_of(d: Deferred<()>) -> Result<(), Failure> {
    d.try_result().expect("fired")
}

#[test]
fn tasks_take_turns_and_each_when_done_fires_at_its_end() {
    let (clock, log) = (Clock::new(), Log::default());
    let coop = Cooperator::with_slice(&clock, Slice::Steps(1));
    let a = coop.cooperate(recorder(&log, "a", 3));
    let b = coop.coiterate(recorder(&log, "b", 1));
    let a_done = a.when_done();
    clock.advance(Duration::ZERO);
    assert_eq!(*log.borrow(), ["a0", "b0", "a1", "a2"]);
    assert!(result_of(a_done).is_ok() && result_of(b).is_ok());
    assert_eq!(a.state(), TaskState::Done);
    assert!(
        result_of(a.when_done()).is_ok(),
        "asking after the end fires at once"
    );
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn other_calls_run_between_slices() {
    let (clock, log) = (Clock::new(), Log::default());
    let coop = Cooperator::with_slice(&clock, Slice::Steps(2));
    let _task = coop.cooperate(recorder(&log, "w", 4));
    clock.call_later(Duration::ZERO, {
        let log = log.clone();
        move || log.borrow_mut().push("timer".to_owned())
    });
    clock.advance(Duration::ZERO);
    assert_eq!(*log.borrow(), ["w0", "w1", "timer", "w2", "w3"]);
}

#[test]
fn a_yielded_deferred_pauses_only_its_own_task() {
    let (clock, log) = (Clock::new(), Log::default());
    let coop = Cooperator::with_slice(&clock, Slice::Steps(1));
    let (gate, open) = Deferred::<()>::new();
    let mut gate = Some(gate);
    let waiting = coop.cooperate((0..2).map({
        let log = log.clone();
        move |i| {
            log.borrow_mut().push(format!("g{i}"));
            gate.take().unwrap_or_else(|| crate::defer::succeed(()))
        }
    }));
    let _other = coop.cooperate(recorder(&log, "o", 3));
    clock.advance(Duration::ZERO);
    assert_eq!(*log.borrow(), ["g0", "o0", "o1", "o2"]);
    assert_eq!(waiting.state(), TaskState::Paused);
    open.callback(()).unwrap();
    clock.advance(Duration::ZERO);
    assert_eq!(log.borrow().last().map(String::as_str), Some("g1"));
    assert!(result_of(waiting.when_done()).is_ok());
}

#[test]
fn failures_and_panics_end_the_task_with_that_failure() {
    let clock = Clock::new();
    let coop = Cooperator::with_slice(&clock, Slice::Steps(10));
    let failing = coop.coiterate((0..5).map(|i| {
        if i == 1 {
            Err(Failure::msg("step 1 failed"))
        } else {
            Ok(())
        }
    }));
    let line = line!() + 1;
    let panicking = coop.coiterate((0..5).map(|_| -> () { panic!("in a step") }));
    clock.advance(Duration::ZERO);
    assert_eq!(
        result_of(failing).unwrap_err().error_message(),
        "step 1 failed"
    );
    let failure = result_of(panicking).unwrap_err();
    assert_eq!(failure.check::<Panicked>().unwrap().message, "in a step");
    assert_eq!(failure.location().line(), line);
}

#[test]
fn a_failure_nobody_waits_for_is_logged() {
    let clock = Clock::new();
    let coop = Cooperator::with_slice(&clock, Slice::Steps(1));
    let (_, logs) = capture_logs(|| {
        let _task = coop.cooperate([Err::<(), _>(Failure::msg("lost?"))]);
        clock.advance(Duration::ZERO);
    });
    assert!(logs.iter().any(|e| e.message.contains("lost?")));
}

#[test]
fn stop_pause_and_resume() {
    let (clock, log) = (Clock::new(), Log::default());
    let coop = Cooperator::with_slice(&clock, Slice::Steps(1));
    let task = coop.cooperate(recorder(&log, "t", 100));
    assert_eq!(task.resume(), Err(TaskError::NotPaused));
    task.pause().unwrap();
    clock.advance(Duration::ZERO);
    assert!(log.borrow().is_empty());
    assert!(
        clock.pending_calls().is_empty(),
        "no turns for paused tasks"
    );
    task.resume().unwrap();
    assert_eq!(clock.pending_calls().len(), 1);
    let done = task.when_done();
    task.stop().unwrap();
    assert_eq!(task.state(), TaskState::Stopped);
    let failure = result_of(done).unwrap_err();
    assert_eq!(failure.check::<TaskError>(), Some(&TaskError::Stopped));
    assert_eq!(task.stop(), Err(TaskError::Finished));
    assert_eq!(task.pause(), Err(TaskError::Finished));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn stopping_the_cooperator_stops_its_tasks_and_later_ones() {
    let (clock, log) = (Clock::new(), Log::default());
    let coop = Cooperator::with_slice(&clock, Slice::Steps(1));
    let first = coop.coiterate(recorder(&log, "f", 10));
    coop.stop();
    assert!(!coop.running());
    let later = coop.coiterate(recorder(&log, "l", 10));
    for d in [first, later] {
        let failure = result_of(d).unwrap_err();
        assert_eq!(
            failure.check::<TaskError>(),
            Some(&TaskError::SchedulerStopped)
        );
    }
    assert!(clock.pending_calls().is_empty());
    clock.advance(Duration::ZERO);
    assert!(log.borrow().is_empty());
}

#[test]
fn a_time_slice_runs_at_least_one_step_per_turn() {
    let (clock, log) = (Clock::new(), Log::default());
    let done = cooperate(&clock, recorder(&log, "x", 3)).when_done();
    clock.advance(Duration::ZERO);
    assert_eq!(log.borrow().len(), 3);
    assert!(result_of(done).is_ok());
}
