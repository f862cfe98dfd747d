//! Errors a user sees without configuring anything: when no `tracing` subscriber is set,
//! torsion's three reports that must never be lost (an unhandled failure, a panicking
//! callback, a stalled loop) go to stderr as one line each, as Twisted prints "Unhandled
//! error in Deferred" with no logging set up. With a subscriber set (globally or for the
//! current scope), they go only through `tracing`, and the subscriber decides.

use tracing::subscriber::NoSubscriber;
use tracing::Level;

/// Writes `line()` to stderr, prefixed with its level, if no `tracing` subscriber would
/// see this thread's events; builds nothing otherwise.
pub(crate) fn to_stderr_unobserved(level: Level, line: impl FnOnce() -> String) {
    if unobserved() {
        eprintln!("torsion {level}: {}", line());
    }
}

/// True when this thread has no `tracing` subscriber: neither a global default nor a
/// scoped one (`tracing::subscriber::with_default`).
fn unobserved() -> bool {
    tracing::dispatcher::get_default(|dispatch| dispatch.is::<NoSubscriber>())
}

/// [`unobserved`], for the tests of this module's callers.
#[cfg(test)]
pub(crate) fn unobserved_for_tests() -> bool {
    unobserved()
}
