//! [`defer_later`]: a Deferred that fires with a function's result after a delay
//! (Twisted's `task.deferLater`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use crate::defer::{Deferred, IntoStep, Resolver};
use crate::time::{DelayedCall, ReactorTime};

/// Calls `f` `delay` from now on `clock` and gives its result as a Deferred (Twisted's
/// `deferLater`). `f` returns `Result<T, Failure>` or a `Deferred<T>` to wait for; a panic
/// in it becomes a `Panicked` failure.
///
/// Cancelling the Deferred before the delay is over cancels the timer (so `f` never
/// runs and nothing stays scheduled) and fails the Deferred with `Cancelled`.
///
/// ```
/// use std::time::Duration;
/// use torsion::{defer::ok, task::{defer_later, Clock}};
/// let clock = Clock::new();
/// let d = defer_later(&clock, Duration::from_secs(2), || ok("done"));
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(d.try_result().ok().unwrap().ok(), Some("done"));
/// ```
///
/// `#[track_caller]`: the Deferred and the timer are located at the caller, so a lost
/// failure or a left-over timer names the line that asked for it.
#[track_caller]
pub fn defer_later<C, R, F>(clock: &C, delay: Duration, f: F) -> Deferred<R::Output>
where
    C: ReactorTime + ?Sized,
    R: IntoStep,
    F: FnOnce() -> R + 'static,
{
    let timer: Rc<RefCell<Option<DelayedCall>>> = Rc::default();
    let (start, resolver) = Deferred::<()>::with_canceller({
        let timer = timer.clone();
        move |_: &Resolver<()>| {
            if let Some(call) = timer.borrow_mut().take() {
                // Cannot fail: a call that already ran fired the Deferred, and a fired
                // Deferred runs no canceller.
                let _ = call.cancel();
            }
        }
    });
    let call = clock.call_later(
        delay,
        Box::new({
            let timer = timer.clone();
            move || {
                timer.borrow_mut().take();
                // Cannot fail: cancelling took the timer, so an unfired Deferred is the
                // only way here.
                let _ = resolver.callback(());
            }
        }),
    );
    *timer.borrow_mut() = Some(call);
    start.add_callback(move |()| f())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::defer::{ok, succeed, Cancelled, Failure, Panicked};
    use crate::task::Clock;

    #[test]
    fn fires_with_the_result_after_the_delay_and_not_before() {
        let clock = Clock::new();
        let ran = Rc::new(Cell::new(false));
        let d = defer_later(&clock, Duration::from_secs(3), {
            let ran = ran.clone();
            move || {
                ran.set(true);
                ok(7)
            }
        });
        clock.advance(Duration::from_secs(2));
        assert!(!ran.get());
        clock.advance(Duration::from_secs(1));
        assert_eq!(d.try_result().ok().unwrap().ok(), Some(7));
    }

    #[test]
    fn cancelling_cancels_the_timer_and_fails_with_cancelled() {
        let clock = Clock::new();
        let ran = Rc::new(Cell::new(false));
        let d = defer_later(&clock, Duration::from_secs(3), {
            let ran = ran.clone();
            move || {
                ran.set(true);
                ok(())
            }
        });
        assert_eq!(clock.pending_calls().len(), 1);
        d.cancel();
        assert!(clock.pending_calls().is_empty());
        clock.advance(Duration::from_secs(5));
        assert!(!ran.get());
        let failure = d.try_result().ok().unwrap().unwrap_err();
        assert!(failure.check::<Cancelled>().is_some());
    }

    #[test]
    fn a_returned_deferred_is_waited_for_and_a_panic_is_a_failure() {
        let clock = Clock::new();
        let chained = defer_later(&clock, Duration::ZERO, || succeed(5u8));
        let panics = defer_later(&clock, Duration::ZERO, || -> Result<(), Failure> {
            panic!("in the later call")
        });
        clock.advance(Duration::ZERO);
        assert_eq!(chained.try_result().ok().unwrap().ok(), Some(5));
        let failure = panics.try_result().ok().unwrap().unwrap_err();
        assert_eq!(
            failure.check::<Panicked>().map(|p| p.message.as_str()),
            Some("in the later call")
        );
    }

    #[test]
    fn works_through_a_dyn_reactor_time() {
        let clock = Clock::new();
        let dynamic: &dyn ReactorTime = &clock;
        let d = defer_later(dynamic, Duration::from_secs(1), || ok(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(d.try_result().ok().unwrap().ok(), Some(1));
    }
}
