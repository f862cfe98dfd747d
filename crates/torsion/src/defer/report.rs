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

/// The user code a callback of the loop last entered, for a stall report: the loop's own
/// dispatch site (a readiness handler in `net/`) says little, the protocol type or the
/// future's `ensure_deferred` site says whose code held the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blame {
    /// A protocol method, by the protocol's Rust type.
    Protocol(&'static str),
    /// A future resumed by a Deferred, by where it was made a Deferred.
    Future(&'static std::panic::Location<'static>),
}

thread_local! {
    static BLAMED: std::cell::Cell<Option<Blame>> = const { std::cell::Cell::new(None) };
}

/// Notes that user code `who` is about to run (the last one noted is blamed for a stall).
#[inline]
pub(crate) fn blame(who: Blame) {
    BLAMED.set(Some(who));
}

/// Takes what was noted since the last call, leaving `with` in its place.
pub(crate) fn replace_blame(with: Option<Blame>) -> Option<Blame> {
    BLAMED.replace(with)
}

impl std::fmt::Display for Blame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blame::Protocol(type_name) => write!(f, "protocol {type_name}"),
            Blame::Future(site) => write!(f, "the future made a Deferred at {site}"),
        }
    }
}
