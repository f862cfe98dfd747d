//! [`react`]: run a reactor for the life of one main function and exit with its outcome
//! (Twisted's `task.react`). The one item of `task` that needs a real reactor.

use crate::defer::ok;
use crate::defer::Deferred;
use crate::reactor::{Phase, Reactor, SystemEvent};
use crate::Failure;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Builds a reactor, calls `main` with it, runs it until the Deferred `main` returned
/// fires, and exits the process: status 0 on success, 1 after logging the failure (with
/// `tracing`, and on standard error, since a program using `react` may not have installed
/// a subscriber). Use [`react_with`] to keep the process, in tests.
///
/// ```no_run
/// use std::time::Duration;
/// use torsion::task::{defer_later, react};
/// react(|reactor| defer_later(reactor, Duration::from_millis(10), || {
///     println!("done");
///     Ok(())
/// }));
/// ```
pub fn react<F>(main: F) -> !
where
    F: FnOnce(&Reactor) -> Deferred<()>,
{
    let reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(e) => {
            eprintln!("react: {e}");
            std::process::exit(1);
        }
    };
    match react_with(&reactor, main) {
        Ok(()) => std::process::exit(0),
        Err(failure) => {
            eprintln!("main function failed: {failure}");
            std::process::exit(1);
        }
    }
}

/// Calls `main` with `reactor`, runs the reactor until `main`'s Deferred fires (then stops
/// it) or until something else stops it, and returns the Deferred's outcome. A failure is
/// also logged with `tracing` (target `torsion::task`).
///
/// As in Twisted, `main` is called before the reactor runs; when its Deferred has already
/// fired, the reactor stops as soon as it has started. If the reactor is stopped by
/// something else (a signal) before the Deferred fires, the outcome is `Ok`, as in Twisted.
pub fn react_with<F>(reactor: &Reactor, main: F) -> Result<(), Failure>
where
    F: FnOnce(&Reactor) -> Deferred<()>,
{
    let outcome: Rc<RefCell<Result<(), Failure>>> = Rc::new(RefCell::new(Ok(())));
    let shutting_down = Rc::new(Cell::new(false));
    let trigger = reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, {
        let shutting_down = shutting_down.clone();
        move || shutting_down.set(true)
    });
    let finished = main(reactor);
    let _ = finished.add_both({
        let (outcome, reactor) = (outcome.clone(), reactor.clone());
        move |result: Result<(), Failure>| {
            if let Err(failure) = &result {
                tracing::error!(
                    "main function encountered an error: {failure} (at {})",
                    failure.location()
                );
            }
            *outcome.borrow_mut() = result;
            if !shutting_down.get() {
                let stopper = reactor.clone();
                reactor.call_when_running(move || stopper.stop());
            }
            ok(())
        }
    });
    reactor.run();
    reactor.remove_system_event_trigger(trigger);
    outcome.replace(Ok(()))
}
