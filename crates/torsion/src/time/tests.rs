use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use super::{TimerError, TimerQueue};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

type Log = Rc<RefCell<Vec<&'static str>>>;

/// A queue driven by a hand-moved clock, and a log of what ran.
fn fixture() -> (TimerQueue, Rc<Cell<Duration>>, Log) {
    let now = Rc::new(Cell::new(Duration::ZERO));
    let queue = TimerQueue::new({
        let now = now.clone();
        move || now.get()
    });
    (queue, now, Rc::new(RefCell::new(Vec::new())))
}

fn logger(log: &Log, name: &'static str) -> Box<dyn FnOnce()> {
    let log = log.clone();
    Box::new(move || log.borrow_mut().push(name))
}

#[test]
fn calls_run_in_deadline_order_and_fifo_when_equal() {
    let (queue, now, log) = fixture();
    queue.schedule(secs(2), logger(&log, "b"));
    queue.schedule(secs(1), logger(&log, "a"));
    queue.schedule(secs(2), logger(&log, "c"));
    queue.schedule(secs(3), logger(&log, "d"));
    now.set(secs(2));
    assert_eq!(queue.run_due(now.get()), 3);
    assert_eq!(*log.borrow(), ["a", "b", "c"]);
    assert_eq!(queue.next_deadline(), Some(secs(3)));
}

#[test]
fn cancelled_call_never_runs_and_cancelling_twice_is_an_error() {
    let (queue, now, log) = fixture();
    let call = queue.schedule(secs(1), logger(&log, "x"));
    assert_eq!(call.cancel(), Ok(()));
    assert!(!call.active());
    assert_eq!(call.cancel(), Err(TimerError::AlreadyCancelled));
    now.set(secs(5));
    assert_eq!(queue.run_due(now.get()), 0);
    assert!(log.borrow().is_empty());
    assert!(queue.is_empty());
}

#[test]
fn cancelling_after_the_call_ran_is_already_called() {
    let (queue, now, log) = fixture();
    let call = queue.schedule(secs(1), logger(&log, "x"));
    now.set(secs(1));
    queue.run_due(now.get());
    assert_eq!(call.cancel(), Err(TimerError::AlreadyCalled));
    assert_eq!(call.reset(secs(1)), Err(TimerError::AlreadyCalled));
    assert_eq!(call.delay(secs(1)), Err(TimerError::AlreadyCalled));
}

#[test]
fn cancel_drops_the_closure_at_once() {
    let (queue, _now, _log) = fixture();
    let token = Rc::new(());
    let held = token.clone();
    let call = queue.schedule(secs(1), Box::new(move || drop(held)));
    assert_eq!(Rc::strong_count(&token), 2);
    call.cancel().unwrap();
    assert_eq!(Rc::strong_count(&token), 1);
}

#[test]
fn reset_and_delay_move_the_deadline() {
    let (queue, now, log) = fixture();
    let a = queue.schedule(secs(1), logger(&log, "a"));
    let b = queue.schedule(secs(2), logger(&log, "b"));
    now.set(secs(1) / 2);
    a.reset(secs(5)).unwrap(); // now due at 5.5
    assert_eq!(a.time(), secs(5) + secs(1) / 2);
    b.delay(secs(1)).unwrap(); // now due at 3
    assert_eq!(b.time(), secs(3));
    now.set(secs(3));
    queue.run_due(now.get());
    assert_eq!(*log.borrow(), ["b"]);
    assert!(a.active());
    now.set(secs(6));
    queue.run_due(now.get());
    assert_eq!(*log.borrow(), ["b", "a"]);
    assert_eq!(queue.len(), 0);
}

#[test]
fn calls_scheduled_while_running_respect_the_seq_limit() {
    let (queue, now, log) = fixture();
    let q2 = queue.clone();
    let log2 = log.clone();
    queue.schedule(
        Duration::ZERO,
        Box::new(move || {
            log2.borrow_mut().push("first");
            q2.schedule(Duration::ZERO, logger(&log2, "second"));
        }),
    );
    // A reactor turn: only what was scheduled before the turn began.
    let limit = queue.next_seq();
    while let Some(due) = queue.pop_due(now.get(), limit) {
        due.run();
    }
    assert_eq!(*log.borrow(), ["first"]);
    // The fake clock's advance runs the newcomer too.
    queue.run_due(now.get());
    assert_eq!(*log.borrow(), ["first", "second"]);
}

#[test]
fn many_cancellations_keep_the_heap_bounded() {
    let (queue, _now, _log) = fixture();
    for _ in 0..10_000 {
        let call = queue.schedule(secs(10), Box::new(|| {}));
        call.cancel().unwrap();
    }
    let keep = queue.schedule(secs(1), Box::new(|| {}));
    assert!(format!("{queue:?}").len() < 200);
    assert!(queue.shared.heap.borrow().len() <= 2 * super::queue::COMPACT_THRESHOLD_FOR_TESTS);
    assert!(keep.active());
    assert_eq!(queue.len(), 1);
}

#[test]
fn pending_lists_live_calls_earliest_first() {
    let (queue, _now, log) = fixture();
    queue.schedule(secs(3), logger(&log, "c"));
    let b = queue.schedule(secs(2), logger(&log, "b"));
    queue.schedule(secs(1), logger(&log, "a"));
    b.cancel().unwrap();
    let times: Vec<Duration> = queue.pending().iter().map(|c| c.time()).collect();
    assert_eq!(times, [secs(1), secs(3)]);
}

#[test]
fn delayed_call_records_where_it_was_scheduled() {
    let (queue, _now, _log) = fixture();
    let call = queue.schedule(secs(1), Box::new(|| {}));
    assert!(call.site().file().ends_with("tests.rs"));
    assert!(format!("{call:?}").contains("pending"));
}

#[test]
fn thousands_of_shuffled_calls_run_sorted_by_deadline_then_order() {
    let (queue, now, _log) = fixture();
    let ran = Rc::new(RefCell::new(Vec::new()));
    let mut expected = Vec::new();
    let mut calls = Vec::new();
    // Few distinct deadlines, so most calls tie and the scheduling order must decide.
    let mut x: u64 = 7;
    for i in 0..5_000u64 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let at = Duration::from_millis((x >> 33) % 50);
        let ran = ran.clone();
        calls.push(queue.schedule(at, Box::new(move || ran.borrow_mut().push(i))));
        if i % 3 != 0 {
            expected.push((at, i));
        }
    }
    // Cancel every third call: enough stale entries to rebuild the heap on the way.
    for call in calls.iter().step_by(3) {
        call.cancel().unwrap();
    }
    // Move one live call later; it must run once, at its new place.
    calls[1].reset(Duration::from_millis(100)).unwrap();
    expected.retain(|&(_, i)| i != 1);
    expected.sort();
    expected.push((Duration::from_millis(100), 1));
    for ms in 0..=100 {
        now.set(Duration::from_millis(ms));
        queue.run_due(now.get());
    }
    let order: Vec<u64> = expected.iter().map(|&(_, i)| i).collect();
    assert_eq!(*ran.borrow(), order);
    assert!(queue.is_empty());
}
