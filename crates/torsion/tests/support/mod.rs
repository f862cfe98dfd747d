//! Helpers shared by the reactor's integration tests: one test body per backend, a
//! watchdog so a broken loop fails instead of hanging, and log matching.

#![allow(dead_code)] // Each test file uses its own subset.

pub mod net;

use std::time::Duration;

use torsion::{
    reactor::{Backend, Reactor},
    testing::CapturedEvent,
};
use tracing::Level;

/// Runs each named test function `fn NAME(reactor: Reactor)` once per readiness backend,
/// as the tests `NAME::mio` and `NAME::poll` (Twisted runs its suite on every reactor).
#[macro_export]
macro_rules! each_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn mio() {
                    super::$name($crate::support::reactor(torsion::reactor::Backend::Mio));
                }

                #[test]
                fn poll() {
                    super::$name($crate::support::reactor(torsion::reactor::Backend::Poll));
                }
            }
        )*
    };
}

/// A reactor for tests: the given backend, no default signal handlers (tests run side by
/// side in one process, and a SIGTERM for one must not stop the others).
pub fn reactor(backend: Backend) -> Reactor {
    Reactor::builder()
        .backend(backend)
        .install_signal_handlers(false)
        .build()
        .expect("build a test reactor")
}

/// How long a test's loop may run before the watchdog stops it and fails the test.
const WATCHDOG: Duration = Duration::from_secs(20);

/// Runs `reactor` until it stops, failing the test instead of hanging if it does not.
pub fn run(reactor: &Reactor) {
    torsion::testing::run_with_watchdog(reactor, WATCHDOG);
}

#[allow(unused_imports)] // Not every test file captures logs.
pub use torsion::testing::capture_logs;

/// Whether some captured line at `level` contains every one of `parts`.
pub fn logged(logs: &[CapturedEvent], level: Level, parts: &[&str]) -> bool {
    logs.iter()
        .any(|e| e.level == level && parts.iter().all(|p| e.message.contains(p)))
}

/// Asserts that [`logged`] finds such an event, showing every captured event if not.
#[track_caller]
pub fn assert_logged(logs: &[CapturedEvent], level: Level, parts: &[&str]) {
    assert!(
        logged(logs, level, parts),
        "no {level} event with {parts:?} in {logs:?}"
    );
}

/// `file:line:` for a line of the calling test file, to find the call site in a log line.
#[track_caller]
pub fn site(line: u32) -> String {
    format!("{}:{line}:", std::panic::Location::caller().file())
}
