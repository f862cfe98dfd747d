//! Where torsion used to differ from Twisted (issue 12), one test per rule, written from
//! the behaviour Twisted's `defer` howto and `defer.py` document. Interleavings are
//! checked as whole ordered traces.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::future::{poll_fn, Future, IntoFuture};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use super::*;
use crate::task::{defer_later, Clock};
use crate::testing::{
    assert_no_result, capture_logs, failure_result_of, success_result_of, CapturedEvent,
};

type Trace = Rc<RefCell<Vec<String>>>;

fn trace() -> Trace {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(trace: &Trace, s: impl Into<String>) {
    trace.borrow_mut().push(s.into());
}

fn seen(trace: &Trace) -> Vec<String> {
    trace.borrow().clone()
}

#[derive(Debug)]
struct Refused(&'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused: {}", self.0)
    }
}

impl Error for Refused {}

// ---- async code resumes inside callback() ----

#[test]
fn two_coroutines_on_one_queue_resume_inside_each_put() {
    // Twisted: a coroutine awaiting queue.get() runs on inside put(), so the first one
    // finishes its next line before the second put is even made.
    let (t, queue) = (trace(), DeferredQueue::<u32>::new());
    let mut done = Vec::new();
    for name in ["a", "b"] {
        let (t, queue) = (t.clone(), queue.clone());
        done.push(ensure_deferred(async move {
            push(&t, format!("{name} waits"));
            let item = queue.get().map_err(Failure::new)?.await?;
            push(&t, format!("{name} got {item}"));
            ok(())
        }));
    }
    push(&t, "put 1");
    queue.put(1).unwrap();
    push(&t, "put 1 returned");
    queue.put(2).unwrap();
    push(&t, "put 2 returned");
    assert_eq!(
        seen(&t),
        [
            "a waits",
            "b waits",
            "put 1",
            "a got 1",
            "put 1 returned",
            "b got 2",
            "put 2 returned"
        ]
    );
    for d in done {
        success_result_of(d);
    }
}

#[test]
fn callbacks_after_the_await_run_in_twisteds_order() {
    // The Deferred's own callbacks added before the await's, then the coroutine, then
    // the code after `callback()`.
    let t = trace();
    let (d, resolver) = Deferred::<u32>::new();
    let d = d.add_callback({
        let t = t.clone();
        move |n| {
            push(&t, format!("callback {n}"));
            Ok(n + 1)
        }
    });
    let result = ensure_deferred({
        let t = t.clone();
        async move {
            let n = d.await?;
            push(&t, format!("coroutine got {n}"));
            ok(n)
        }
    });
    let result = result.add_callback({
        let t = t.clone();
        move |n| {
            push(&t, format!("result callback {n}"));
            Ok(n)
        }
    });
    resolver.callback(1).unwrap();
    push(&t, "callback() returned");
    assert_eq!(
        seen(&t),
        [
            "callback 1",
            "coroutine got 2",
            "result callback 2",
            "callback() returned"
        ]
    );
    assert_eq!(success_result_of(result), 2);
}

#[test]
fn an_async_fn_runs_to_its_end_on_a_fake_clock_alone() {
    async fn countdown(
        clock: Clock,
        trace: Trace,
        gate: Deferred<&'static str>,
    ) -> Result<u32, Failure> {
        push(&trace, format!("start at {:?}", clock.seconds()));
        let mut slept = 0;
        for _ in 0..3 {
            slept += defer_later(&clock, Duration::from_secs(1), || Ok(1)).await?;
            push(&trace, format!("tick at {:?}", clock.seconds()));
        }
        let word = gate.await?;
        push(&trace, format!("gate said {word}"));
        Ok(slept)
    }
    let (clock, t) = (Clock::new(), trace());
    let (gate, open) = Deferred::new();
    let d = ensure_deferred(countdown(clock.clone(), t.clone(), gate));
    for _ in 0..3 {
        assert_no_result(&d);
        clock.advance(Duration::from_secs(1));
    }
    assert_no_result(&d);
    open.callback("go").unwrap();
    assert_eq!(success_result_of(d), 3);
    assert_eq!(
        seen(&t),
        [
            "start at 0ns",
            "tick at 1s",
            "tick at 2s",
            "tick at 3s",
            "gate said go"
        ]
    );
    assert!(clock.pending_calls().is_empty(), "no timer left behind");
}

#[test]
fn a_deferred_fired_by_its_own_awaiter_repolls_instead_of_recursing() {
    let (polls, in_poll, nested) = (
        Rc::new(Cell::new(0)),
        Rc::new(Cell::new(false)),
        Rc::new(Cell::new(false)),
    );
    let (d, resolver) = Deferred::<u32>::new();
    let mut awaiting = Box::pin(d.into_future());
    let mut resolver = Some(resolver);
    let result = ensure_deferred({
        let (polls, in_poll, nested) = (polls.clone(), in_poll.clone(), nested.clone());
        poll_fn(move |cx| {
            polls.set(polls.get() + 1);
            if in_poll.replace(true) {
                nested.set(true);
            }
            let polled = awaiting.as_mut().poll(cx);
            if polled.is_pending() {
                if let Some(resolver) = resolver.take() {
                    // Fires the Deferred this very poll waits on.
                    resolver.callback(41).unwrap();
                }
            }
            in_poll.set(false);
            polled.map(|r| r.map(|n| n + 1))
        })
    });
    assert_eq!(success_result_of(result), 42);
    assert_eq!(polls.get(), 2, "polled again once its poll returned");
    assert!(!nested.get(), "never polled inside its own poll");
}

#[test]
fn a_hundred_thousand_futures_awaiting_each_other_do_not_grow_the_stack() {
    let (first, resolver) = Deferred::<u64>::new();
    let mut d = first;
    for _ in 0..100_000 {
        let previous = d;
        d = ensure_deferred(async move { ok(previous.await? + 1) });
    }
    assert_no_result(&d);
    resolver.callback(0).unwrap();
    assert_eq!(success_result_of(d), 100_000);
}

#[test]
fn nested_resumes_keep_twisteds_order_up_to_the_depth_limit() {
    // a awaits x; b awaits a's result; firing x resumes a, whose end resumes b, all
    // inside the one callback().
    let t = trace();
    let (x, fire_x) = Deferred::<u32>::new();
    let a = ensure_deferred({
        let t = t.clone();
        async move {
            let n = x.await?;
            push(&t, "a resumed");
            ok(n)
        }
    });
    let b = ensure_deferred({
        let t = t.clone();
        async move {
            let n = a.await?;
            push(&t, "b resumed");
            ok(n * 10)
        }
    });
    fire_x.callback(4).unwrap();
    push(&t, "callback() returned");
    assert_eq!(seen(&t), ["a resumed", "b resumed", "callback() returned"]);
    assert_eq!(success_result_of(b), 40);
}

#[test]
fn cancelling_ensure_deferred_resumes_the_future_with_cancelled_at_once() {
    let t = trace();
    let (wait, _resolver) = Deferred::<u32>::with_canceller({
        let t = t.clone();
        move |_| push(&t, "inner canceller")
    });
    let d = ensure_deferred({
        let t = t.clone();
        async move {
            match wait.await {
                Err(f) if f.check::<Cancelled>().is_some() => {
                    push(&t, "future saw cancelled");
                    ok(7)
                }
                other => other,
            }
        }
    });
    d.cancel();
    push(&t, "cancel() returned");
    assert_eq!(
        seen(&t),
        [
            "inner canceller",
            "future saw cancelled",
            "cancel() returned"
        ]
    );
    assert_eq!(success_result_of(d), 7);
}

#[test]
fn a_future_woken_on_its_own_thread_by_a_non_deferred_is_polled_at_once() {
    // A waker kept by hand and woken on this thread: the driver polls at once.
    let waker = Rc::new(RefCell::new(None));
    let ready = Rc::new(Cell::new(false));
    let d = ensure_deferred({
        let (waker, ready) = (waker.clone(), ready.clone());
        poll_fn(move |cx| {
            if ready.get() {
                Poll::Ready(ok("woken"))
            } else {
                *waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    });
    assert_no_result(&d);
    ready.set(true);
    let taken = waker.borrow_mut().take();
    taken.unwrap().wake();
    assert_eq!(success_result_of(d), "woken");
}

#[test]
fn a_wake_from_another_thread_without_a_reactor_is_logged() {
    let waker = Rc::new(RefCell::new(None));
    let d: Deferred<()> = ensure_deferred({
        let waker = waker.clone();
        poll_fn(move |cx| {
            *waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
    });
    let sent = waker.borrow_mut().take().unwrap();
    let ((), logs) = capture_logs(|| {
        // The other thread's event goes to no subscriber; it is replayed here.
        std::thread::spawn(move || sent.wake()).join().unwrap();
    });
    assert!(logs.is_empty(), "logged on the other thread, not this one");
    assert_no_result(&d);
    // The warning itself: woken from a thread that captures its own logs.
    let waker2 = Rc::new(RefCell::new(None));
    let _d2: Deferred<()> = ensure_deferred({
        let waker2 = waker2.clone();
        poll_fn(move |cx| {
            *waker2.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
    });
    let sent = waker2.borrow_mut().take().unwrap();
    let logs = std::thread::spawn(move || capture_logs(|| sent.wake()).1)
        .join()
        .unwrap();
    assert!(
        logs.iter()
            .any(|e| e.message.contains("woken from another thread")
                && e.message.contains("Reactor::ensure_deferred")),
        "{logs:?}"
    );
}

// ---- DeferredList and gather cancellation ----

fn member(t: &Trace, name: &'static str) -> (Deferred<u32>, Resolver<u32>) {
    let t = t.clone();
    Deferred::with_canceller(move |_| push(&t, format!("cancel {name}")))
}

#[test]
fn cancelling_a_deferred_list_cancels_every_unfired_member_and_fires_the_list() {
    let t = trace();
    let (a, _ra) = member(&t, "a");
    let (b, rb) = member(&t, "b");
    let (c, _rc) = member(&t, "c");
    rb.callback(2).unwrap();
    let list = DeferredList::new(vec![a, b, c])
        .consume_errors()
        .into_deferred();
    let list = list.add_callback({
        let t = t.clone();
        move |results: Vec<Result<u32, Failure>>| {
            let shown: Vec<String> = results
                .iter()
                .map(|r| match r {
                    Ok(n) => format!("ok {n}"),
                    Err(f) if f.check::<Cancelled>().is_some() => "cancelled".to_owned(),
                    Err(f) => format!("err {f}"),
                })
                .collect();
            push(&t, format!("list fired: {}", shown.join(", ")));
            Ok(())
        }
    });
    list.cancel();
    assert_eq!(
        seen(&t),
        [
            "cancel a",
            "cancel c",
            "list fired: cancelled, ok 2, cancelled"
        ]
    );
    success_result_of(list);
}

#[test]
fn cancelling_gather_results_first_error_names_the_first_cancelled_index() {
    let t = trace();
    let (a, ra) = member(&t, "a");
    let (b, _rb) = member(&t, "b");
    let (c, _rc) = member(&t, "c");
    ra.callback(1).unwrap();
    let all = gather_results_first_error(vec![a, b, c], true);
    all.cancel();
    assert_eq!(seen(&t), ["cancel b", "cancel c"], "every unfired member");
    let failure = failure_result_of::<FirstError>(all);
    let first = failure.check::<FirstError>().unwrap();
    assert_eq!(first.index, 1);
    assert!(first.failure.check::<Cancelled>().is_some());
}

#[test]
fn cancelling_gather_results_fails_with_the_members_cancelled() {
    let t = trace();
    let (a, _ra) = member(&t, "a");
    let (b, _rb) = member(&t, "b");
    let all = gather_results(vec![a, b]);
    all.cancel();
    assert_eq!(seen(&t), ["cancel a", "cancel b"]);
    failure_result_of::<Cancelled>(all);
}

#[test]
fn a_member_canceller_that_fires_a_value_counts_as_that_value() {
    let (a, _ra) = Deferred::<u32>::with_canceller(|r| r.callback(9).unwrap());
    let (b, _rb) = Deferred::<u32>::with_canceller(|r| r.callback(8).unwrap());
    let all = gather_results(vec![a, b]);
    all.cancel();
    assert_eq!(success_result_of(all), [9, 8]);
}

#[test]
fn gather_results_first_error_names_the_failing_index_and_consumes_on_request() {
    let (a, ra) = Deferred::<u32>::new();
    let (b, rb) = Deferred::<u32>::new();
    let all = gather_results_first_error(vec![a, b], false);
    ra.callback(1).unwrap();
    let ((), logs) = capture_logs(|| {
        rb.errback(Refused("b")).unwrap();
        let failure = failure_result_of::<FirstError>(all);
        let first = failure.check::<FirstError>().unwrap();
        assert_eq!(first.index, 1);
        assert!(first.failure.check::<Refused>().is_some());
        drop(rb);
    });
    // consume_errors = false: the failure also stays in member b, unhandled, and is
    // logged when b goes away, as in Twisted.
    assert!(unhandled(&logs, "refused: b"), "{logs:?}");

    let (a, ra) = Deferred::<u32>::new();
    let all = gather_results_first_error(vec![a], true);
    let ((), logs) = capture_logs(|| {
        ra.errback(Refused("a")).unwrap();
        drop(ra);
        let failure = failure_result_of::<FirstError>(all);
        assert_eq!(failure.check::<FirstError>().unwrap().index, 0);
    });
    assert!(logs.is_empty(), "consumed: {logs:?}");
}

fn unhandled(logs: &[CapturedEvent], text: &str) -> bool {
    logs.iter()
        .any(|e| e.message.contains("unhandled error") && e.message.contains(text))
}

// ---- queue and semaphore errors at the call ----

#[test]
fn queue_get_beyond_the_backlog_fails_at_the_call() {
    let queue = DeferredQueue::<u32>::with_limits(4, 1);
    let waiting = queue.get().unwrap();
    let underflow = queue.get().unwrap_err();
    assert_eq!(underflow, QueueUnderflow { backlog: 1 });
    assert_eq!(
        underflow.to_string(),
        "deferred queue backlog full: 1 getters waiting (max 1)"
    );
    assert_eq!(queue.waiting(), 1, "the refused get did not join the line");
    queue.put(5).unwrap();
    assert_eq!(success_result_of(waiting), 5);
}

#[test]
fn a_semaphore_without_tokens_is_an_error() {
    let err = DeferredSemaphore::new(0).unwrap_err();
    assert_eq!(err, NoTokens);
    assert_eq!(
        err.to_string(),
        "deferred semaphore: a semaphore needs at least one token"
    );
    assert_eq!(DeferredSemaphore::new(3).unwrap().limit(), 3);
}

#[test]
fn lock_and_queue_tell_who_waits() {
    let lock = DeferredLock::new();
    let held = lock.acquire();
    let (second, third) = (lock.acquire(), lock.acquire());
    assert_eq!(lock.waiting(), 2);
    lock.release().unwrap();
    assert_eq!(lock.waiting(), 1);
    drop((held, second, third));

    let queue = DeferredQueue::<&str>::new();
    queue.put("x").unwrap();
    queue.put("y").unwrap();
    assert_eq!(queue.pending(), 2);
    assert_eq!(
        queue.inspect_pending(|items| items.copied().collect::<Vec<_>>()),
        ["x", "y"]
    );
    assert_eq!(queue.waiting(), 0);
    assert_eq!(success_result_of(queue.get().unwrap()), "x");
    assert_eq!(queue.pending(), 1);
}

// ---- pause ----

#[test]
fn pause_from_a_running_callback_holds_back_only_later_callbacks() {
    // Twisted's _runCallbacks looks at `paused` before it starts a chain, not between
    // callbacks: the callbacks already there run; one added later waits for unpause.
    let t = trace();
    let (d, resolver) = Deferred::<u32>::new();
    let slot: Rc<RefCell<Option<Deferred<u32>>>> = Rc::new(RefCell::new(None));
    let d = d
        .add_callback({
            let (t, slot) = (t.clone(), slot.clone());
            move |n| {
                push(&t, "first pauses");
                if let Some(d) = slot.borrow_mut().as_mut() {
                    d.pause();
                }
                Ok(n + 1)
            }
        })
        .add_callback({
            let t = t.clone();
            move |n| {
                push(&t, format!("second runs with {n}"));
                Ok(n + 1)
            }
        });
    *slot.borrow_mut() = Some(d);
    resolver.callback(1).unwrap();
    push(&t, "callback() returned");
    let mut d = slot.borrow_mut().take().unwrap();
    assert_eq!(d.pause_count(), 1);
    d = d.add_callback({
        let t = t.clone();
        move |n| {
            push(&t, format!("later runs with {n}"));
            Ok(n)
        }
    });
    push(&t, "later added");
    d.unpause();
    assert_eq!(d.pause_count(), 0);
    assert_eq!(
        seen(&t),
        [
            "first pauses",
            "second runs with 2",
            "callback() returned",
            "later added",
            "later runs with 3"
        ]
    );
    assert_eq!(success_result_of(d), 3);
}

#[test]
fn pause_count_counts_nested_pauses_and_waiting() {
    let (mut d, resolver) = Deferred::<u32>::new();
    d.pause();
    d.pause();
    assert_eq!(d.pause_count(), 2);
    d.unpause();
    assert_eq!(d.pause_count(), 1);
    d.unpause();
    assert_eq!(d.pause_count(), 0);
    let (inner, inner_resolver) = Deferred::<u32>::new();
    let d = d.add_callback(move |_| inner);
    resolver.callback(0).unwrap();
    assert_eq!(d.pause_count(), 1, "waiting on the inner Deferred");
    inner_resolver.callback(5).unwrap();
    assert_eq!(d.pause_count(), 0);
    assert_eq!(success_result_of(d), 5);
}

// ---- Failure with ordinary Rust errors ----

#[derive(Debug)]
struct Wrapped(std::io::Error);

impl fmt::Display for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reading the config")
    }
}

impl Error for Wrapped {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn a_failure_goes_into_box_dyn_error_with_question_mark() {
    fn run() -> Result<(), Box<dyn Error>> {
        let d: Deferred<()> = fail(Wrapped(std::io::Error::other("no such file")));
        d.try_result().ok().unwrap()?;
        Ok(())
    }
    let err = run().unwrap_err();
    assert_eq!(err.to_string(), "reading the config");
    assert_eq!(err.source().unwrap().to_string(), "no such file");
}

#[test]
fn a_failure_becomes_a_send_error_with_message_type_and_location() {
    let line = line!() + 1;
    let failure = Failure::new(Wrapped(std::io::Error::other("no such file")));
    assert!(failure.type_name().ends_with("exact_tests::Wrapped"));
    let sent = failure.into_send();
    let (message, type_name, location) = std::thread::spawn(move || {
        let boxed: Box<dyn Error + Send + Sync> = Box::new(sent.clone());
        (boxed.to_string(), sent.type_name, sent.location.to_string())
    })
    .join()
    .unwrap();
    assert_eq!(message, "reading the config: no such file");
    assert!(type_name.ends_with("Wrapped"));
    assert!(
        location.ends_with(&format!("exact_tests.rs:{line}:19")),
        "{location}"
    );
}

// ---- the unhandled report ----

#[test]
fn the_unhandled_report_names_the_type_and_where_the_chain_was_fired() {
    let created = line!() + 1;
    let (d, resolver) = Deferred::<u32>::new();
    let fired = line!() + 2;
    let ((), logs) = capture_logs(|| {
        resolver.errback(Refused("twice")).unwrap();
        drop((d, resolver));
    });
    let event = logs
        .iter()
        .find(|e| {
            e.message
                .starts_with("unhandled error in Deferred: refused: twice")
        })
        .unwrap_or_else(|| panic!("{logs:?}"));
    for part in [
        "exact_tests::Refused".to_owned(),
        format!("created at {}:{created}:", file!()),
        format!("fired at {}:{fired}:", file!()),
    ] {
        assert!(event.message.contains(&part), "{part} in {}", event.message);
    }
    assert!(event
        .fields
        .iter()
        .any(|(k, v)| k == "error_type" && v.ends_with("Refused")));
}

#[test]
fn reports_go_to_stderr_only_without_a_subscriber() {
    assert!(report::unobserved_for_tests());
    let (inside, _) = capture_logs(report::unobserved_for_tests);
    assert!(!inside, "a scoped subscriber sees the reports");
}

#[test]
fn a_cancelled_chain_left_unhandled_names_the_cancel_call_as_its_first_invoker() {
    let (d, resolver) = Deferred::<u32>::new();
    let cancelled_at = line!() + 2;
    let ((), logs) = capture_logs(|| {
        d.cancel();
        drop((d, resolver));
    });
    let event = logs
        .iter()
        .find(|e| {
            e.message
                .starts_with("unhandled error in Deferred: deferred was cancelled")
        })
        .unwrap_or_else(|| panic!("{logs:?}"));
    let part = format!("fired at {}:{cancelled_at}:", file!());
    assert!(event.message.contains(&part), "{part} in {}", event.message);
}
