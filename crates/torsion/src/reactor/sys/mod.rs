//! Readiness backends: the one place the reactor talks to the operating system's poller.
//!
//! ```
//! use torsion::reactor::{Backend, Reactor};
//! let reactor = Reactor::builder().backend(Backend::Poll).build().unwrap();
//! assert_eq!(reactor.backend(), Backend::Poll);
//! ```
//!
//! A backend provides five things, and the reactor uses nothing else:
//!
//! - **register** a file descriptor with an [`Interest`] and a token (a `usize` the reactor
//!   picks), **reregister** it with a new interest, **deregister** it;
//! - **poll**: wait up to a timeout (or forever) and fill a buffer with `(token, Readiness)`
//!   events; an interrupted wait (`EINTR`) returns no events, not an error;
//! - **wake**: a waker that is `Send + Sync`, so another thread can end a `poll` early.
//!
//! Two backends implement it, chosen with [`Backend`] (Twisted ships several reactors the
//! same way): `mio` (epoll on Linux, kqueue on BSD and macOS; the default) and `poll`, a
//! plain `poll(2)` loop like Twisted's `pollreactor`. Both run the same test suite.
//!
//! **Edge or level.** `mio` reports readiness on edges, `poll(2)` on levels. The reactor's
//! contract is the edge one, which both satisfy: after a handler is told that a descriptor
//! is readable (writable), it reads (writes) until the call returns `WouldBlock`, or it
//! reregisters the descriptor to be told again.

use std::{fmt, io, os::fd::RawFd, sync::Arc, time::Duration};

mod mio;
mod poll;

/// Which readiness backend a reactor uses.
///
/// The default is [`Backend::Mio`]; the environment variable `TORSION_REACTOR` (`mio` or
/// `poll`) overrides the default, and [`Builder::backend`](super::Builder::backend)
/// overrides both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// epoll on Linux, kqueue on BSD and macOS, through the `mio` crate.
    #[default]
    Mio,
    /// Plain `poll(2)`: portable and simple, O(descriptors) per wait.
    Poll,
}

impl Backend {
    /// The backend named by `TORSION_REACTOR`, or `None` when it is unset or empty.
    ///
    /// # Errors
    /// [`UnknownBackend`] when the variable names no backend.
    pub fn from_env() -> Result<Option<Backend>, UnknownBackend> {
        match std::env::var("TORSION_REACTOR") {
            Ok(value) => Backend::parse(&value),
            Err(_) => Ok(None),
        }
    }

    /// Parses a backend name (`mio` or `poll`); an empty string is `None`.
    ///
    /// # Errors
    /// [`UnknownBackend`] for any other name.
    pub fn parse(name: &str) -> Result<Option<Backend>, UnknownBackend> {
        match name.trim() {
            "" => Ok(None),
            "mio" => Ok(Some(Backend::Mio)),
            "poll" => Ok(Some(Backend::Poll)),
            other => Err(UnknownBackend {
                name: other.to_owned(),
            }),
        }
    }

    /// The name `TORSION_REACTOR` uses for this backend.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Mio => "mio",
            Backend::Poll => "poll",
        }
    }
}

/// `TORSION_REACTOR` (or a parsed name) named no known backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownBackend {
    /// The name that was given.
    pub name: String,
}

impl fmt::Display for UnknownBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown reactor backend {:?} (expected \"mio\" or \"poll\")",
            self.name
        )
    }
}

impl std::error::Error for UnknownBackend {}

/// What a registered descriptor should be watched for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(u8);

impl Interest {
    /// Tell me when it is readable (or the peer hung up).
    pub const READABLE: Interest = Interest(1);
    /// Tell me when it is writable.
    pub const WRITABLE: Interest = Interest(2);
    /// Both readable and writable.
    pub const BOTH: Interest = Interest(3);

    /// Whether readability is watched.
    pub fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    /// Whether writability is watched.
    pub fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("READABLE"),
            2 => f.write_str("WRITABLE"),
            _ => f.write_str("BOTH"),
        }
    }
}

/// What a backend saw on a descriptor, handed to its handler.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Readiness(u8);

impl Readiness {
    const READABLE: u8 = 1;
    const WRITABLE: u8 = 2;
    const ERROR: u8 = 4;
    const HANGUP: u8 = 8;

    /// A read will not block (it may return data, end of file or an error).
    pub fn is_readable(self) -> bool {
        self.0 & Self::READABLE != 0
    }

    /// A write will not block (it may still fail).
    pub fn is_writable(self) -> bool {
        self.0 & Self::WRITABLE != 0
    }

    /// The descriptor has a pending error (read it with `take_error` or a failed call).
    pub fn is_error(self) -> bool {
        self.0 & Self::ERROR != 0
    }

    /// The peer closed its end (reads will reach end of file).
    pub fn is_hangup(self) -> bool {
        self.0 & Self::HANGUP != 0
    }

    fn with(self, flag: u8, on: bool) -> Readiness {
        if on {
            Readiness(self.0 | flag)
        } else {
            self
        }
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::READABLE, "READABLE"),
            (Self::WRITABLE, "WRITABLE"),
            (Self::ERROR, "ERROR"),
            (Self::HANGUP, "HANGUP"),
        ];
        let mut list = f.debug_set();
        for (bit, name) in names {
            if self.0 & bit != 0 {
                list.entry(&format_args!("{name}"));
            }
        }
        list.finish()
    }
}

/// One readiness report from [`Poller::poll`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    pub(crate) token: usize,
    pub(crate) readiness: Readiness,
}

/// The token no registration uses: backends keep it for their waker.
const WAKER_TOKEN: usize = usize::MAX;

/// The reactor's poller: one of the backends, matched statically (no virtual call per event).
#[derive(Debug)]
pub(crate) enum Poller {
    Mio(mio::MioPoller),
    Poll(poll::PollPoller),
}

impl Poller {
    /// A new poller of the given kind, with its waker registered.
    pub(crate) fn new(backend: Backend) -> io::Result<Poller> {
        Ok(match backend {
            Backend::Mio => Poller::Mio(mio::MioPoller::new()?),
            Backend::Poll => Poller::Poll(poll::PollPoller::new()?),
        })
    }

    /// Which backend this is.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Poller::Mio(_) => Backend::Mio,
            Poller::Poll(_) => Backend::Poll,
        }
    }

    /// A handle that ends a `poll` early from any thread.
    pub(crate) fn waker(&self) -> Arc<Waker> {
        match self {
            Poller::Mio(p) => p.waker(),
            Poller::Poll(p) => p.waker(),
        }
    }

    pub(crate) fn register(
        &mut self,
        fd: RawFd,
        token: usize,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Poller::Mio(p) => p.register(fd, token, interest),
            Poller::Poll(p) => p.register(fd, token, interest),
        }
    }

    pub(crate) fn reregister(
        &mut self,
        fd: RawFd,
        token: usize,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Poller::Mio(p) => p.reregister(fd, token, interest),
            Poller::Poll(p) => p.reregister(fd, token, interest),
        }
    }

    pub(crate) fn deregister(&mut self, fd: RawFd, token: usize) -> io::Result<()> {
        match self {
            Poller::Mio(p) => p.deregister(fd),
            Poller::Poll(p) => p.deregister(token),
        }
    }

    /// Waits up to `timeout` (`None`: until something happens) and appends the events to
    /// `events`. Wake-ups are consumed here and produce no event.
    pub(crate) fn poll(
        &mut self,
        events: &mut Vec<Event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let result = match self {
            Poller::Mio(p) => p.poll(events, timeout),
            Poller::Poll(p) => p.poll(events, timeout),
        };
        match result {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            other => other,
        }
    }
}

/// Ends a backend's `poll` early; safe to use from any thread.
#[derive(Debug)]
pub(crate) enum Waker {
    Mio(::mio::Waker),
    Poll(poll::PipeWaker),
}

impl Waker {
    /// Makes the poller's current or next `poll` return. Errors are ignored: the only
    /// possible ones mean the poller is gone, and then nobody is waiting.
    pub(crate) fn wake(&self) {
        let _ = match self {
            Waker::Mio(w) => w.wake(),
            Waker::Poll(w) => w.wake(),
        };
    }
}

/// Rounds a timeout up to whole milliseconds, as `poll(2)` and `epoll_wait(2)` take it:
/// rounding down would wake before a timer is due and spin until it is.
pub(crate) fn timeout_millis(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            i32::try_from(ms).unwrap_or(i32::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_milliseconds() {
        assert_eq!(timeout_millis(None), -1);
        assert_eq!(timeout_millis(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_millis(Some(Duration::from_nanos(1))), 1);
        assert_eq!(timeout_millis(Some(Duration::from_micros(1500))), 2);
        assert_eq!(timeout_millis(Some(Duration::from_secs(1 << 40))), i32::MAX);
    }

    #[test]
    fn backend_names_parse() {
        assert_eq!(Backend::parse("poll"), Ok(Some(Backend::Poll)));
        assert_eq!(Backend::parse(" mio "), Ok(Some(Backend::Mio)));
        assert_eq!(Backend::parse(""), Ok(None));
        let err = Backend::parse("select").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown reactor backend \"select\" (expected \"mio\" or \"poll\")"
        );
    }

    #[test]
    fn readiness_debug_lists_flags() {
        let r = Readiness::default()
            .with(Readiness::READABLE, true)
            .with(Readiness::HANGUP, true);
        assert_eq!(format!("{r:?}"), "{READABLE, HANGUP}");
    }
}
