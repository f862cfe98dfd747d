//! Reading Deferreds synchronously in tests (Twisted's `SynchronousTestCase` helpers
//! `successResultOf`, `failureResultOf` and `assertNoResult`).
//!
//! ```
//! use torsion::defer::{fail, succeed, Cancelled, Deferred, Failure};
//! use torsion::testing::{assert_no_result, failure_result_of, success_result_of};
//!
//! assert_eq!(success_result_of(succeed(7)), 7);
//! let failure = failure_result_of::<Cancelled>(fail::<u32>(Failure::new(Cancelled)));
//! assert_eq!(failure.error_message(), "deferred was cancelled");
//! let (pending, resolver) = Deferred::<u32>::new();
//! assert_no_result(&pending);
//! resolver.callback(1).unwrap();
//! assert_eq!(success_result_of(pending), 1);
//! ```
//!
//! Each panics, naming what the Deferred held instead (pending, with its site; a value,
//! with its type; a failure, with its type, message and sites), so a failing test says
//! what happened. Taking a failure out with [`failure_result_of`] handles it: it is not
//! logged as unhandled.

use std::any::type_name;
use std::error::Error;

use crate::defer::{Deferred, Failure};

/// The value `d` fired with.
///
/// # Panics
/// When `d` has no result yet (or is paused), or holds a failure; the message says which.
#[track_caller]
pub fn success_result_of<T: 'static>(d: Deferred<T>) -> T {
    match d.try_result() {
        Ok(Ok(value)) => value,
        Ok(Err(failure)) => panic!(
            "success_result_of: expected a value of type {}, the Deferred holds a failure: {} \
             ({}, failed at {})",
            type_name::<T>(),
            failure,
            failure.type_name(),
            failure.location(),
        ),
        Err(d) => panic!(
            "success_result_of: expected a value of type {}, the Deferred has no result: {d:?}",
            type_name::<T>(),
        ),
    }
}

/// The failure `d` fired with, which must wrap an `E` (Twisted's `failureResultOf` with
/// one expected type). The failure is taken out of the chain: handled, not logged.
///
/// # Panics
/// When `d` has no result yet, holds a value, or holds a failure of another type; the
/// message says which.
#[track_caller]
pub fn failure_result_of<E: Error + 'static>(d: Deferred<impl Sized + 'static>) -> Failure {
    let expected = type_name::<E>();
    match d.try_result() {
        Ok(Err(failure)) if failure.check::<E>().is_some() => failure,
        Ok(Err(failure)) => panic!(
            "failure_result_of: expected a failure of type {expected}, the Deferred holds a \
             failure of type {}: {} (failed at {})",
            failure.type_name(),
            failure,
            failure.location(),
        ),
        Ok(Ok(value)) => panic!(
            "failure_result_of: expected a failure of type {expected}, the Deferred holds a \
             value of type {}",
            value_type(&value),
        ),
        Err(d) => {
            panic!("failure_result_of: expected a failure of type {expected}, the Deferred has no result: {d:?}")
        }
    }
}

/// Checks that `d` has no result yet (Twisted's `assertNoResult`): not fired, or paused,
/// or waiting on another Deferred.
///
/// # Panics
/// When `d` has a result; the message says which.
#[track_caller]
pub fn assert_no_result<T: 'static>(d: &Deferred<T>) {
    if d.has_result() {
        panic!("assert_no_result: the Deferred has a result: {d:?}");
    }
}

fn value_type<T>(_: &T) -> &'static str {
    type_name::<T>()
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;
    use crate::defer::{fail, succeed, Cancelled, TimedOut};

    fn message_of(f: impl FnOnce()) -> String {
        let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("must panic");
        crate::reactor::guard::panic_message(payload.as_ref()).to_owned()
    }

    #[test]
    fn success_result_of_names_the_failure_or_the_pending_deferred() {
        let m = message_of(|| {
            success_result_of(fail::<u32>(Failure::new(Cancelled)));
        });
        assert!(
            m.contains("expected a value of type u32, the Deferred holds a failure: deferred was cancelled")
                && m.contains("Cancelled"),
            "{m}"
        );
        let (pending, _resolver) = Deferred::<u32>::new();
        let m = message_of(|| {
            success_result_of(pending);
        });
        assert!(m.contains("has no result") && m.contains("pending"), "{m}");
    }

    #[test]
    fn failure_result_of_names_a_value_or_a_failure_of_another_type() {
        let m = message_of(|| {
            failure_result_of::<Cancelled>(succeed(3u8));
        });
        assert!(m.contains("holds a value of type u8"), "{m}");
        let m = message_of(|| {
            failure_result_of::<TimedOut>(fail::<u8>(Failure::new(Cancelled)));
        });
        assert!(
            m.contains("expected a failure of type torsion::defer::failure::TimedOut")
                && m.contains("holds a failure of type torsion::defer::failure::Cancelled"),
            "{m}"
        );
    }

    #[test]
    fn assert_no_result_names_what_the_deferred_holds() {
        let m = message_of(|| assert_no_result(&succeed(1)));
        assert!(
            m.contains("has a result") && m.contains("fired with a value"),
            "{m}"
        );
        let (mut paused, resolver) = Deferred::<u8>::new();
        paused.pause();
        resolver.callback(1).unwrap();
        assert_no_result(&paused); // paused: no result to take yet
        paused.unpause();
        assert_eq!(success_result_of(paused), 1);
    }
}
