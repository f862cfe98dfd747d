//! [`run_test`] and [`run_test_on`]: a test body returning a Deferred or a future, run
//! on a reactor with trial's checks (deadline, logged errors, clean reactor).

use std::{cell::RefCell, future::IntoFuture, rc::Rc, time::Duration};

use tracing::Level;

use super::{capture_logs, check_clean, watchdog::run_with_deadline, CapturedEvent};
use crate::{
    defer::{ok, Failure},
    Reactor,
};

/// Runs `body` on a fresh reactor (signal handlers not installed) and returns its value,
/// failing the test as Twisted's `trial` does: on a timeout, on an error logged while it
/// ran (an unhandled failure, a panicking callback), or on a dirty reactor.
///
/// ```
/// use std::time::Duration;
/// use torsion::defer::ok;
/// use torsion::task::defer_later;
/// use torsion::testing::run_test;
///
/// let answer = run_test(Duration::from_secs(20), |reactor| {
///     let reactor = reactor.clone();
///     async move {
///         let n = defer_later(&reactor, Duration::from_millis(1), || Ok(21)).await?;
///         ok(n * 2)
///     }
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// The body is called before the reactor runs (as `react` does) and may return a
/// `Deferred<T>` or any future of `Result<T, Failure>`. The reactor runs until that
/// result is known, then shuts down (so pool threads are joined), and the test passes
/// only if:
///
/// - the result came before the deadline (else the body's Deferred is cancelled and the
///   test fails, naming the deadline);
/// - nothing was logged at `ERROR` level meanwhile: unhandled failures and panicking
///   callbacks are errors of the test even when the body succeeded (the log is in the
///   panic message);
/// - the reactor is clean afterwards ([`check_clean`]: no delayed calls, descriptors,
///   tasks or pool threads left);
/// - the body's result is a value: a failure fails the test with its type and sites.
///
/// The test's events are captured ([`capture_logs`]) while it runs, so the test's own
/// subscriber (if any) does not see them.
///
/// # Panics
/// When the test failed: timed out, logged an error, left the reactor dirty, or the
/// body's result was a failure. The message lists every reason.
#[track_caller]
pub fn run_test<T, R, F>(timeout: Duration, body: F) -> T
where
    T: 'static,
    F: FnOnce(&Reactor) -> R,
    R: IntoFuture<Output = Result<T, Failure>> + 'static,
{
    let reactor = match Reactor::builder().install_signal_handlers(false).build() {
        Ok(reactor) => reactor,
        Err(e) => panic!("run_test: could not build a reactor: {e}"),
    };
    run_test_on(&reactor, timeout, body)
}

/// [`run_test`] on a reactor the caller built (another backend, a stall threshold); the
/// reactor must not have run yet.
///
/// # Panics
/// As [`run_test`].
#[track_caller]
pub fn run_test_on<T, R, F>(reactor: &Reactor, timeout: Duration, body: F) -> T
where
    T: 'static,
    F: FnOnce(&Reactor) -> R,
    R: IntoFuture<Output = Result<T, Failure>> + 'static,
{
    let ((outcome, timed_out, dirty), logs) = capture_logs(|| {
        let result = Rc::new(RefCell::new(None));
        let future = body(reactor).into_future();
        let d = reactor.ensure_deferred(future);
        let canceller = d.canceller();
        let _ = d.add_both({
            let (result, reactor) = (result.clone(), reactor.clone());
            move |outcome: Result<T, Failure>| {
                *result.borrow_mut() = Some(outcome);
                let stopper = reactor.clone();
                reactor.call_when_running(move || stopper.stop());
                ok(())
            }
        });
        let timed_out = run_with_deadline(reactor, timeout);
        if result.borrow().is_none() {
            // Stopped by the deadline (or by something else) before the body finished:
            // give up on it, as trial cancels a test's Deferred when it times out.
            canceller.cancel();
        }
        let outcome = result.borrow_mut().take();
        (outcome, timed_out, check_clean(reactor).err())
    });
    let mut problems = Vec::new();
    if timed_out {
        problems.push(format!("timed out after {timeout:?}"));
    }
    let value = match outcome {
        Some(Ok(value)) => Some(value),
        Some(Err(failure)) => {
            problems.push(format!(
                "the test's result is a failure: {failure} ({}, failed at {})",
                failure.type_name(),
                failure.location()
            ));
            None
        }
        None if timed_out => None,
        None => {
            problems.push("the reactor stopped before the test's result was known".to_owned());
            None
        }
    };
    let errors: Vec<&CapturedEvent> = logs.iter().filter(|e| e.level == Level::ERROR).collect();
    if !errors.is_empty() {
        let mut text = format!("{} error(s) logged during the test:", errors.len());
        for e in &errors {
            text.push_str(&format!("\n    {}: {}", e.target, e.message));
        }
        problems.push(text);
    }
    if let Some(dirty) = dirty {
        problems.push(dirty.to_string());
    }
    match value {
        Some(value) if problems.is_empty() => value,
        _ => panic!("run_test: the test failed:\n  {}", problems.join("\n  ")),
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;
    use crate::defer::{ok, Deferred, Failure};
    use crate::task::defer_later;

    const LIMIT: Duration = Duration::from_secs(20);

    /// The panic message of a `run_test` that must fail.
    fn failure_of(test: impl FnOnce()) -> String {
        let payload = catch_unwind(AssertUnwindSafe(test)).expect_err("the test must fail");
        crate::reactor::guard::panic_message(payload.as_ref()).to_owned()
    }

    #[test]
    fn a_body_returning_a_deferred_gives_its_value() {
        let n = run_test(LIMIT, |reactor| {
            defer_later(reactor, Duration::from_millis(1), || ok(5))
        });
        assert_eq!(n, 5);
    }

    #[test]
    fn a_body_that_never_finishes_times_out_and_is_cancelled() {
        let cancelled = Rc::new(std::cell::Cell::new(false));
        let message = failure_of(|| {
            let cancelled = cancelled.clone();
            run_test(Duration::from_millis(30), move |_| {
                let (d, resolver) = Deferred::<()>::with_canceller(move |_| cancelled.set(true));
                std::mem::forget(resolver); // Never fired: only the deadline ends the test.
                d
            })
        });
        assert!(message.contains("timed out after 30ms"), "{message}");
        assert!(cancelled.get(), "the test's Deferred was cancelled");
    }

    #[test]
    fn a_failed_body_fails_the_test_with_its_type() {
        let message = failure_of(|| {
            run_test(LIMIT, |_| async {
                Err::<(), _>(Failure::new(crate::defer::Cancelled))
            })
        });
        assert!(
            message.contains("the test's result is a failure: deferred was cancelled")
                && message.contains("Cancelled"),
            "{message}"
        );
    }

    #[test]
    fn an_unhandled_failure_logged_during_the_test_fails_it() {
        let message = failure_of(|| {
            run_test(LIMIT, |_| {
                drop(crate::defer::fail::<()>(Failure::msg("lost on the way")));
                async { ok(()) }
            })
        });
        assert!(
            message.contains("1 error(s) logged during the test")
                && message.contains("unhandled error in Deferred: lost on the way"),
            "{message}"
        );
    }

    #[test]
    fn a_delayed_call_left_behind_makes_the_reactor_dirty() {
        let message = failure_of(|| {
            run_test(LIMIT, |reactor| {
                reactor.call_later(Duration::from_secs(3600), || {});
                async { ok(()) }
            })
        });
        assert!(
            message.contains("reactor left unclean") && message.contains("1 delayed call"),
            "{message}"
        );
    }
}
