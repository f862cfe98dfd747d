//! The Deferred rules, one test each, written from the behaviour Twisted documents.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::*;
use crate::testing::capture_logs;
use crate::time::{DelayedCall, ReactorTime, TimerQueue};

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

/// The result of a Deferred that must have fired.
fn result_of<T: 'static>(d: Deferred<T>) -> Result<T, Failure> {
    match d.try_result() {
        Ok(result) => result,
        Err(d) => panic!("deferred has not fired: {d:?}"),
    }
}

fn value_of<T: 'static>(d: Deferred<T>) -> T {
    result_of(d).unwrap_or_else(|f| panic!("deferred failed: {f:?}"))
}

fn failure_of<T: 'static>(d: Deferred<T>) -> Failure {
    match result_of(d) {
        Ok(_) => panic!("deferred succeeded"),
        Err(f) => f,
    }
}

#[derive(Debug, PartialEq)]
struct BadValue(i32);

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad value {}", self.0)
    }
}

impl Error for BadValue {}

/// A clock for timeouts: a timer queue whose time moves only when told.
struct FakeClock {
    now: Rc<Cell<Duration>>,
    queue: TimerQueue,
}

impl FakeClock {
    fn new() -> FakeClock {
        let now = Rc::new(Cell::new(Duration::ZERO));
        let queue = TimerQueue::new({
            let now = now.clone();
            move || now.get()
        });
        FakeClock { now, queue }
    }

    fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
        self.queue.run_due(self.now.get());
    }
}

impl ReactorTime for FakeClock {
    fn seconds(&self) -> Duration {
        self.now.get()
    }

    fn call_later(&self, delay: Duration, f: Box<dyn FnOnce()>) -> DelayedCall {
        self.queue.schedule(delay, f)
    }
}

// ---- the chain ----

#[test]
fn callbacks_pass_values_down_the_chain_and_change_its_type() {
    let (d, r) = Deferred::<&str>::new();
    let d = d
        .add_callback(|s: &str| Ok(s.to_uppercase()))
        .add_callback(|s: String| Ok(s.len()));
    assert!(!d.called());
    r.callback("hello").unwrap();
    assert!(d.called());
    assert_eq!(value_of(d), 5);
}

#[test]
fn a_failing_callback_skips_the_callbacks_after_it_until_an_errback() {
    let seen = log();
    let (d, r) = Deferred::<i32>::new();
    let d = d
        .add_callback(|n| {
            if n < 0 {
                Err(BadValue(n).into())
            } else {
                Ok(n)
            }
        })
        .add_callback({
            let seen = seen.clone();
            move |n| {
                push(&seen, "skipped callback ran");
                Ok(n)
            }
        })
        .add_errback({
            let seen = seen.clone();
            move |f: Failure| {
                push(&seen, format!("errback: {}", f.error_message()));
                Ok(0)
            }
        })
        .add_callback({
            let seen = seen.clone();
            move |n| {
                push(&seen, format!("back to callbacks with {n}"));
                Ok(n)
            }
        });
    r.callback(-7).unwrap();
    assert_eq!(
        *seen.borrow(),
        ["errback: bad value -7", "back to callbacks with 0"]
    );
    assert_eq!(value_of(d), 0);
}

#[test]
fn an_errback_that_reraises_passes_the_failure_to_the_next_errback() {
    let seen = log();
    let d: Deferred<i32> = fail(BadValue(1));
    let d = d
        .add_errback({
            let seen = seen.clone();
            move |f: Failure| {
                push(&seen, "first errback");
                Err(f)
            }
        })
        .add_errback({
            let seen = seen.clone();
            move |f: Failure| {
                push(&seen, format!("second errback: {}", f.error_message()));
                Err(f)
            }
        });
    assert_eq!(
        *seen.borrow(),
        ["first errback", "second errback: bad value 1"]
    );
    assert_eq!(failure_of(d).check::<BadValue>(), Some(&BadValue(1)));
}

#[test]
fn a_failure_passes_through_several_callbacks_unchanged() {
    let (d, r) = Deferred::<i32>::new();
    let d = d
        .add_callback(|n| Ok(n + 1))
        .add_callback(|n| Ok(n * 2))
        .add_callback(|n| Ok(n.to_string()));
    let failure = Failure::new(BadValue(3));
    let made_at = failure.location();
    r.errback(failure).unwrap();
    let f = failure_of(d);
    assert_eq!(f.check::<BadValue>(), Some(&BadValue(3)));
    assert_eq!(f.location(), made_at);
}

#[test]
fn errback_added_with_add_callbacks_does_not_see_its_own_callbacks_failure() {
    let seen = log();
    let (d, r) = Deferred::<i32>::new();
    let d = d.add_callbacks(|_| -> Result<i32, Failure> { Err(BadValue(9).into()) }, {
        let seen = seen.clone();
        move |_f: Failure| {
            push(&seen, "same-level errback ran");
            Ok(0)
        }
    });
    r.callback(1).unwrap();
    assert!(seen.borrow().is_empty());
    assert_eq!(failure_of(d).check::<BadValue>(), Some(&BadValue(9)));

    // An errback added after the callback does see it: errback after callback.
    let (d, r) = Deferred::<i32>::new();
    let d = d
        .add_callback(|_| -> Result<i32, Failure> { Err(BadValue(9).into()) })
        .add_errback(|_| Ok(42));
    r.callback(1).unwrap();
    assert_eq!(value_of(d), 42);
}

#[test]
fn add_both_sees_values_and_failures() {
    let describe = |r: Result<i32, Failure>| match r {
        Ok(n) => Ok(format!("value {n}")),
        Err(f) => Ok(format!("failure {}", f.error_message())),
    };
    assert_eq!(value_of(succeed(4).add_both(describe)), "value 4");
    assert_eq!(
        value_of(fail::<i32>(BadValue(2)).add_both(describe)),
        "failure bad value 2"
    );
}

#[test]
fn a_panicking_callback_becomes_a_failure_and_never_unwinds_into_the_firer() {
    let (d, r) = Deferred::<i32>::new();
    let d = d.add_callback(|n: i32| -> Result<i32, Failure> { panic!("callback blew up on {n}") });
    r.callback(5).unwrap(); // returns normally
    let f = failure_of(d);
    let panicked = f.check::<Panicked>().expect("a Panicked failure");
    assert_eq!(panicked.message, "callback blew up on 5");
    assert!(
        f.location().file().ends_with("tests.rs"),
        "located where the callback was added"
    );
    assert_eq!(
        f.error_message(),
        "callback panicked: callback blew up on 5"
    );
}

#[test]
fn callbacks_added_after_firing_run_at_once_in_order() {
    let seen = log();
    let d = succeed(1);
    let d = d.add_callback({
        let seen = seen.clone();
        move |n| {
            push(&seen, format!("first {n}"));
            Ok(n + 1)
        }
    });
    assert_eq!(*seen.borrow(), ["first 1"]);
    let d = d.add_callback({
        let seen = seen.clone();
        move |n| {
            push(&seen, format!("second {n}"));
            Ok(n)
        }
    });
    assert_eq!(*seen.borrow(), ["first 1", "second 2"]);
    assert_eq!(value_of(d), 2);
}

#[test]
fn firing_twice_is_already_called() {
    let (d, r) = Deferred::<i32>::new();
    r.callback(1).unwrap();
    let err = r.callback(2).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("deferred already called (created at"));
    assert_eq!(r.errback(BadValue(0)).unwrap_err(), err);
    assert_eq!(value_of(d), 1, "the first result stands");
}

#[test]
fn pause_holds_the_chain_until_as_many_unpauses() {
    let seen = log();
    let (mut d, r) = Deferred::<i32>::new();
    d.pause();
    d.pause();
    let mut d = d.add_callback({
        let seen = seen.clone();
        move |n| {
            push(&seen, format!("ran {n}"));
            Ok(n)
        }
    });
    r.callback(3).unwrap();
    assert!(d.paused());
    d.unpause();
    assert!(seen.borrow().is_empty());
    d.unpause();
    assert_eq!(*seen.borrow(), ["ran 3"]);
    assert!(!d.paused());
}

// ---- chaining ----

#[test]
fn a_callback_returning_an_unfired_deferred_pauses_the_chain() {
    let seen = log();
    let (inner, inner_r) = Deferred::<String>::new();
    let (outer, outer_r) = Deferred::<i32>::new();
    let outer = outer.add_callback(move |_| inner).add_callback({
        let seen = seen.clone();
        move |s: String| {
            push(&seen, format!("outer got {s}"));
            Ok(s.len())
        }
    });
    outer_r.callback(1).unwrap();
    assert!(outer.paused());
    assert!(seen.borrow().is_empty());
    inner_r.callback("inner value".into()).unwrap();
    assert_eq!(*seen.borrow(), ["outer got inner value"]);
    assert_eq!(value_of(outer), 11);
}

#[test]
fn an_inner_deferred_that_fails_sends_the_outer_chain_to_its_errbacks() {
    let (inner, inner_r) = Deferred::<i32>::new();
    let (outer, outer_r) = Deferred::<i32>::new();
    let outer = outer
        .add_callback(move |_| inner)
        .add_callback(|n| Ok(n + 1000))
        .add_errback(|f: Failure| Ok(-f.check::<BadValue>().map_or(0, |b| b.0)));
    outer_r.callback(0).unwrap();
    inner_r.errback(BadValue(5)).unwrap();
    assert_eq!(value_of(outer), -5);
}

#[test]
fn a_callback_returning_a_fired_deferred_goes_on_at_once() {
    let d = succeed(2)
        .add_callback(|n| succeed(n * 10))
        .add_callback(|n| Ok(n + 1));
    assert_eq!(value_of(d), 21);
}

#[test]
fn a_callback_returning_its_own_deferred_fails_clearly() {
    let ((), logs) = capture_logs(|| {
        let (d, r) = Deferred::<i32>::new();
        // Hand the chain's own tail to its first callback.
        let slot: Rc<RefCell<Option<Deferred<i32>>>> = Rc::new(RefCell::new(None));
        let tail = d.add_callback({
            let slot = slot.clone();
            move |_| slot.borrow_mut().take().expect("set below")
        });
        *slot.borrow_mut() = Some(tail);
        r.callback(1).unwrap();
        // The chain now ends in a failure that says what went wrong; it is logged when
        // the last handle goes.
        drop(r);
    });
    assert!(
        logs.iter()
            .any(|e| e.message.contains("returned the Deferred it was added to")),
        "{logs:?}"
    );
}

#[test]
fn a_hundred_thousand_nested_fired_deferreds_do_not_overflow_the_stack() {
    let mut d = succeed(0u64);
    for _ in 0..100_000 {
        d = d.add_callback(|n| succeed(n + 1));
    }
    assert_eq!(value_of(d), 100_000);

    // The same with real chains, fired by their resolvers before being returned.
    let (start, fire) = Deferred::<u64>::new();
    let mut d = start;
    for _ in 0..100_000 {
        d = d.add_callback(|n| {
            let (inner, r) = Deferred::new();
            r.callback(n + 1).unwrap();
            inner
        });
    }
    fire.callback(0).unwrap();
    assert_eq!(value_of(d), 100_000);
}

#[test]
fn pausing_a_known_result_holds_callbacks_added_after() {
    let seen = log();
    let mut d = succeed(1);
    d.pause();
    let mut d = d.add_callback({
        let seen = seen.clone();
        move |n| {
            push(&seen, "ran");
            Ok(n)
        }
    });
    assert!(seen.borrow().is_empty());
    d.unpause();
    assert_eq!(*seen.borrow(), ["ran"]);
    assert_eq!(value_of(d), 1);
}

#[test]
fn a_hundred_thousand_deferreds_each_waiting_on_the_next_unwind_in_a_loop() {
    // d_k's callback returns d_{k-1}; only the innermost fires, from the bottom.
    let (innermost, fire) = Deferred::<u64>::new();
    let mut waiting = innermost;
    let mut resolvers = Vec::new();
    for _ in 0..100_000 {
        let (outer, outer_r) = Deferred::<u64>::new();
        outer_r.callback(0).unwrap();
        let inner = waiting;
        waiting = outer
            .add_callback(move |_| inner)
            .add_callback(|n| Ok(n + 1));
        resolvers.push(outer_r);
    }
    assert!(!waiting.called() || waiting.paused());
    fire.callback(0).unwrap();
    assert_eq!(value_of(waiting), 100_000);
}

#[test]
fn dropping_a_hundred_thousand_waiting_deferreds_does_not_overflow() {
    let (innermost, fire) = Deferred::<u64>::new();
    let mut waiting = innermost;
    for _ in 0..100_000 {
        let inner = waiting;
        waiting = succeed(0).add_callback(move |_| inner);
    }
    drop(waiting);
    drop(fire);
}

// ---- unhandled failures ----

#[test]
fn an_unhandled_failure_is_logged_with_where_the_deferred_was_created() {
    let ((), logs) = capture_logs(|| {
        let (d, r) = Deferred::<i32>::new();
        let line = line!() - 1;
        let d = d.add_callback(|n| {
            if n > 0 {
                Err(BadValue(n).into())
            } else {
                Ok(n)
            }
        });
        r.callback(8).unwrap();
        drop(r);
        drop(d);
        let _ = line;
    });
    let event = logs
        .iter()
        .find(|e| e.target == "torsion::defer")
        .expect("an event from torsion::defer");
    assert_eq!(event.level, tracing::Level::ERROR);
    assert!(
        event
            .message
            .contains("unhandled error in Deferred: bad value 8"),
        "{event:?}"
    );
    assert!(
        event.message.contains("tests.rs"),
        "names the creation site: {event:?}"
    );
    assert!(event
        .fields
        .iter()
        .any(|(k, v)| k == "created" && v.contains("tests.rs")));
}

#[test]
fn a_handled_failure_is_not_logged() {
    let ((), logs) = capture_logs(|| {
        let d: Deferred<i32> = fail(BadValue(1));
        let d = d.add_errback(|_| Ok(0));
        drop(d);
        let taken: Deferred<i32> = fail(BadValue(2));
        let _ = result_of(taken);
    });
    assert!(logs.is_empty(), "{logs:?}");
}

// ---- cancellation and timeouts ----

#[test]
fn cancel_without_a_canceller_fails_with_cancelled_and_swallows_the_late_result() {
    let (d, r) = Deferred::<i32>::new();
    d.cancel();
    assert!(d.called());
    assert_eq!(
        r.callback(1),
        Ok(()),
        "the first late firing is suppressed, as in Twisted"
    );
    assert!(r.callback(2).is_err(), "a second one is AlreadyCalled");
    assert!(failure_of(d).check::<Cancelled>().is_some());
}

#[test]
fn cancel_runs_the_canceller_which_may_fire_its_own_result() {
    let (d, _r) = Deferred::<i32>::with_canceller(|r| r.callback(-1).unwrap());
    d.cancel();
    assert_eq!(value_of(d), -1);

    let ran = Rc::new(Cell::new(false));
    let (d, r) = Deferred::<i32>::with_canceller({
        let ran = ran.clone();
        move |_| ran.set(true)
    });
    d.cancel();
    assert!(ran.get());
    assert!(
        r.callback(1).is_err(),
        "with a canceller, a late result is AlreadyCalled"
    );
    assert!(failure_of(d).check::<Cancelled>().is_some());
}

#[test]
fn cancelling_a_deferred_waiting_on_another_cancels_the_inner_one() {
    let inner_cancelled = Rc::new(Cell::new(false));
    let (inner, _inner_r) = Deferred::<i32>::with_canceller({
        let flag = inner_cancelled.clone();
        move |_| flag.set(true)
    });
    let outer = succeed(0)
        .add_callback(move |_| inner)
        .add_callback(|n| Ok(n + 1));
    outer.cancel();
    assert!(inner_cancelled.get());
    assert!(failure_of(outer).check::<Cancelled>().is_some());
}

#[test]
fn cancelling_a_fired_deferred_does_nothing() {
    let d = succeed(3);
    d.cancel();
    assert_eq!(value_of(d), 3);
}

#[test]
fn add_timeout_fails_with_timed_out_when_the_clock_passes_it() {
    let clock = FakeClock::new();
    let (d, r) = Deferred::<i32>::new();
    let d = d.add_timeout(Duration::from_secs(5), &clock);
    clock.advance(Duration::from_secs(4));
    assert!(!d.called());
    clock.advance(Duration::from_secs(1));
    let f = failure_of(d);
    assert_eq!(
        f.check::<TimedOut>(),
        Some(&TimedOut {
            after: Duration::from_secs(5)
        })
    );
    assert_eq!(r.callback(1), Ok(()), "the late result is swallowed");
}

#[test]
fn add_timeout_lets_a_timely_result_through_and_cancels_its_timer() {
    let clock = FakeClock::new();
    let (d, r) = Deferred::<i32>::new();
    let d = d.add_timeout(Duration::from_secs(5), &clock);
    r.callback(7).unwrap();
    assert!(clock.queue.is_empty(), "the timer was cancelled");
    assert_eq!(value_of(d), 7);
}

#[test]
fn add_timeout_keeps_a_value_the_canceller_gives() {
    let clock = FakeClock::new();
    let (d, _r) = Deferred::<i32>::with_canceller(|r| r.callback(99).unwrap());
    let d = d.add_timeout(Duration::from_secs(1), &clock);
    clock.advance(Duration::from_secs(1));
    assert_eq!(value_of(d), 99);
}

#[test]
fn a_plain_cancel_is_not_reported_as_a_timeout() {
    let clock = FakeClock::new();
    let (d, _r) = Deferred::<i32>::new();
    let d = d.add_timeout(Duration::from_secs(1), &clock);
    d.cancel();
    assert!(failure_of(d).check::<Cancelled>().is_some());
}

// ---- helpers ----

#[test]
fn maybe_deferred_wraps_values_errors_panics_and_deferreds() {
    assert_eq!(value_of(maybe_deferred(|| Ok(1))), 1);
    let failed: Deferred<i32> = maybe_deferred(|| Err(BadValue(2).into()));
    assert_eq!(failure_of(failed).check::<BadValue>(), Some(&BadValue(2)));
    let panicked: Deferred<i32> = maybe_deferred(|| -> Result<i32, Failure> { panic!("no") });
    assert!(failure_of(panicked).check::<Panicked>().is_some());
    let (d, r) = Deferred::<i32>::new();
    let waited = maybe_deferred(move || d);
    assert!(!waited.called() || waited.paused());
    r.callback(4).unwrap();
    assert_eq!(value_of(waited), 4);
}

#[test]
fn chain_deferred_fires_the_other_deferred_with_this_result() {
    let (other, other_r) = Deferred::<i32>::new();
    let this = succeed(5).chain_deferred(other_r);
    assert_eq!(value_of(other), 5);
    assert_eq!(value_of(this), ());
}

#[test]
fn failure_trap_check_and_question_mark_locate_the_error() {
    fn parse(s: &str) -> Result<i32, Failure> {
        let n: i32 = s.parse()?; // the Failure is located on this line
        Ok(n)
    }
    let f = parse("x").unwrap_err();
    assert!(f.check::<std::num::ParseIntError>().is_some());
    assert!(f.trap::<BadValue>().is_err());
    assert_eq!(f.location().line(), line!() - 6);
    assert!(format!("{f:?}").contains("invalid digit"));
    assert_eq!(f.error_message(), "invalid digit found in string");
}

// ---- DeferredList and gather ----

#[test]
fn deferred_list_fires_with_every_result_in_order() {
    let (late, late_r) = Deferred::<i32>::new();
    let list = DeferredList::new(vec![succeed(1), late, fail(BadValue(3))])
        .consume_errors()
        .into_deferred();
    assert!(!list.called());
    late_r.callback(2).unwrap();
    let results = value_of(list);
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().ok(), Some(&1));
    assert_eq!(results[1].as_ref().ok(), Some(&2));
    assert_eq!(
        results[2]
            .as_ref()
            .err()
            .and_then(|f| f.check::<BadValue>()),
        Some(&BadValue(3))
    );
}

#[test]
fn deferred_list_of_nothing_fires_at_once() {
    let list = DeferredList::<i32>::new(Vec::new()).into_deferred();
    assert!(value_of(list).is_empty());
}

#[test]
fn deferred_list_without_consume_errors_leaves_failures_to_be_logged() {
    let ((), logs) = capture_logs(|| {
        let list = DeferredList::new(vec![fail::<i32>(BadValue(1))]).into_deferred();
        assert!(value_of(list)[0].is_err());
    });
    assert_eq!(logs.len(), 1, "{logs:?}");
    let ((), logs) = capture_logs(|| {
        let list = DeferredList::new(vec![fail::<i32>(BadValue(1))])
            .consume_errors()
            .into_deferred();
        assert!(value_of(list)[0].is_err());
    });
    assert!(logs.is_empty(), "{logs:?}");
}

#[test]
fn fire_on_one_callback_fires_with_the_first_value_and_its_index() {
    let (a, _a_r) = Deferred::<&str>::new();
    let (b, b_r) = Deferred::<&str>::new();
    let list = DeferredList::new(vec![a, b])
        .fire_on_one_callback()
        .into_deferred();
    b_r.callback("b").unwrap();
    match value_of(list) {
        ListResult::First { value, index } => assert_eq!((value, index), ("b", 1)),
        ListResult::All(_) => panic!("expected the first success"),
    }
    let none = DeferredList::new(vec![fail::<i32>(BadValue(1))])
        .fire_on_one_callback()
        .consume_errors();
    assert!(matches!(value_of(none.into_deferred()), ListResult::All(v) if v.len() == 1));
}

#[test]
fn fire_on_one_errback_fails_with_first_error() {
    let (a, _a_r) = Deferred::<i32>::new();
    let list = DeferredList::new(vec![a, fail(BadValue(4))])
        .fire_on_one_errback()
        .consume_errors()
        .into_deferred();
    let f = failure_of(list);
    let first = f.check::<FirstError>().expect("FirstError");
    assert_eq!(first.index, 1);
    assert_eq!(first.failure.check::<BadValue>(), Some(&BadValue(4)));
}

#[test]
fn gather_results_gives_values_in_order_or_the_first_failure() {
    let (a, a_r) = Deferred::<i32>::new();
    let gathered = gather_results(vec![a, succeed(2), succeed(3)]);
    a_r.callback(1).unwrap();
    assert_eq!(value_of(gathered), [1, 2, 3]);

    let ((), logs) = capture_logs(|| {
        let (a, a_r) = Deferred::<i32>::new();
        let gathered = gather_results(vec![fail(BadValue(7)), a]);
        assert_eq!(failure_of(gathered).check::<BadValue>(), Some(&BadValue(7)));
        a_r.errback(BadValue(8)).unwrap(); // consumed: not logged
    });
    assert!(logs.is_empty(), "{logs:?}");
}

// ---- lock, semaphore, queue ----

#[test]
fn deferred_lock_serves_waiters_in_order() {
    let lock = DeferredLock::new();
    let seen = log();
    let first = lock.acquire();
    assert!(lock.locked());
    let waiters: Vec<Deferred<()>> = (0..3)
        .map(|i| {
            let seen = seen.clone();
            lock.acquire().add_callback(move |()| {
                push(&seen, format!("waiter {i}"));
                Ok(())
            })
        })
        .collect();
    assert_eq!(value_of(first), ());
    assert!(seen.borrow().is_empty());
    for expected in 1..=3 {
        lock.release().unwrap();
        assert_eq!(seen.borrow().len(), expected);
    }
    assert_eq!(*seen.borrow(), ["waiter 0", "waiter 1", "waiter 2"]);
    lock.release().unwrap();
    assert!(!lock.locked());
    assert!(lock.release().is_err(), "released more often than acquired");
    drop(waiters);
}

#[test]
fn cancelling_a_waiting_acquire_gives_up_its_place() {
    let sem = DeferredSemaphore::new(1).unwrap();
    let held = sem.acquire();
    let gave_up = sem.acquire();
    let next = sem.acquire();
    assert_eq!(sem.waiting(), 2);
    gave_up.cancel();
    assert_eq!(sem.waiting(), 1);
    assert!(failure_of(gave_up).check::<Cancelled>().is_some());
    sem.release().unwrap();
    assert_eq!(value_of(next), ());
    drop(held);
}

#[test]
fn semaphore_run_releases_even_when_the_job_fails() {
    let sem = DeferredSemaphore::new(2).unwrap();
    let failed: Deferred<i32> = sem.run(|| Err(BadValue(1).into()));
    assert!(failure_of(failed).check::<BadValue>().is_some());
    let panicked: Deferred<i32> = sem.run(|| -> Result<i32, Failure> { panic!("job panicked") });
    assert!(failure_of(panicked).check::<Panicked>().is_some());
    assert_eq!(sem.tokens(), 2);
}

#[test]
fn deferred_queue_hands_items_to_getters_in_order() {
    let queue = DeferredQueue::with_limits(2, 2);
    let first = queue.get().unwrap();
    let second = queue.get().unwrap();
    assert_eq!(queue.waiting(), 2);
    assert_eq!(queue.get().unwrap_err(), QueueUnderflow { backlog: 2 });
    queue.put("a").unwrap();
    queue.put("b").unwrap();
    assert_eq!((value_of(first), value_of(second)), ("a", "b"));
    queue.put("c").unwrap();
    queue.put("d").unwrap();
    let overflow = queue.put("e").unwrap_err();
    assert_eq!(overflow.item, "e", "the item comes back");
    assert_eq!(
        overflow.to_string(),
        "deferred queue full: 2 items waiting (max 2)"
    );
    assert_eq!(value_of(queue.get().unwrap()), "c");
    assert_eq!(queue.len(), 1);
}

#[test]
fn cancelling_a_queue_get_gives_up_its_place() {
    let queue = DeferredQueue::<i32>::new();
    let gave_up = queue.get().unwrap();
    let next = queue.get().unwrap();
    gave_up.cancel();
    queue.put(1).unwrap();
    assert_eq!(value_of(next), 1);
    assert!(failure_of(gave_up).check::<Cancelled>().is_some());
}

// ---- async ----

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn awaiting_a_deferred_gives_its_value_or_failure() {
    let (d, r) = Deferred::<i32>::new();
    let (e, e_r) = Deferred::<i32>::new();
    let mut fut = pin!(async move {
        let a = d.await?;
        let b = e.await.or_else(|f| f.trap::<BadValue>().map(|b| b.0))?;
        ok(a + b)
    });
    assert!(poll_once(fut.as_mut()).is_pending());
    r.callback(10).unwrap();
    assert!(poll_once(fut.as_mut()).is_pending());
    e_r.errback(BadValue(5)).unwrap();
    assert!(matches!(poll_once(fut.as_mut()), Poll::Ready(Ok(15))));
}

#[test]
fn track_awaits_names_the_deferred_a_future_waits_on() {
    let cancelled = Rc::new(Cell::new(false));
    let (d, _r) = Deferred::<i32>::with_canceller({
        let c = cancelled.clone();
        move |_| c.set(true)
    });
    let mut fut = pin!(d.into_future());
    let (poll, awaited) = track_awaits(|| poll_once(fut.as_mut()));
    assert!(poll.is_pending());
    awaited.expect("the future waits on d").cancel();
    assert!(cancelled.get());
    assert!(
        matches!(poll_once(fut.as_mut()), Poll::Ready(Err(f)) if f.check::<Cancelled>().is_some())
    );
}

#[test]
fn a_failure_arriving_after_its_future_was_dropped_is_logged() {
    let ((), logs) = capture_logs(|| {
        let (d, r) = Deferred::<i32>::new();
        let fut = d.into_future();
        drop(fut);
        r.errback(BadValue(6)).unwrap();
        drop(r);
    });
    assert!(
        logs.iter().any(|e| e.message.contains("bad value 6")),
        "{logs:?}"
    );
}
