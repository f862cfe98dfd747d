//! Unix signals, delivered on the reactor's thread (Twisted's `installSignalHandlers` and
//! `signal.signal` calls made safe).
//!
//! ```
//! use torsion::reactor::{signal, Reactor};
//! let reactor = Reactor::new().unwrap();
//! reactor.add_signal_handler(signal::SIGUSR1, |reactor| reactor.stop()).unwrap();
//! reactor.call_when_running(|| signal::raise(signal::SIGUSR1).unwrap());
//! reactor.run();
//! ```
//!
//! While it runs, a reactor stops gracefully on SIGINT and SIGTERM (its shutdown triggers
//! run), unless its builder said
//! [`install_signal_handlers(false)`](super::Builder::install_signal_handlers). A handler
//! added for SIGINT or SIGTERM replaces that default stop. SIGCHLD is left alone unless you
//! add a handler for it.
//!
//! The signal handler itself does only async-signal-safe work, through `signal-hook`: it
//! sets a flag and writes a byte to a self-pipe that the reactor watches. The reactor reads
//! the pipe, then the flags, then calls the handlers, in that order, so a signal that
//! arrives meanwhile is never lost. Signals of one kind that arrive together are collapsed
//! into one call, as the operating system does.
//!
//! When no reactor watches a signal any more, its default action (for SIGINT: terminate)
//! is emulated again, since `signal-hook` cannot reinstall the original disposition.

use std::{
    cell::RefCell,
    collections::HashMap,
    fmt,
    io::{self, Read},
    os::unix::net::UnixStream,
    panic::Location,
    rc::Rc,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use libc::c_int;
use signal_hook::{low_level, SigId};

use super::{guard::Kind, Reactor};
use crate::time::CallSite;

/// Signal numbers and `raise`, re-exported for convenience.
pub mod signal {
    pub use signal_hook::consts::signal::{
        SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH,
    };
    pub use signal_hook::low_level::raise;
}

/// Identifies a handler for [`Reactor::remove_signal_handler`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalHandlerId(u64);

/// A reactor's signal state.
#[derive(Default)]
pub(crate) struct Signals {
    pipe: Option<SelfPipe>,
    watched: HashMap<c_int, Watched>,
    handlers: Vec<Handler>,
    next_id: u64,
    /// True while the default SIGINT and SIGTERM stop is installed (during `run`).
    defaults: bool,
}

/// The socket pair the signal handler writes to; the reader is registered with the reactor.
struct SelfPipe {
    reader: UnixStream,
    writer: UnixStream,
}

/// A signal this reactor has `signal-hook` actions for.
struct Watched {
    flag: Arc<AtomicBool>,
    ids: [SigId; 2],
    /// User handlers plus one for the default stop: unwatched when it reaches zero.
    refs: usize,
}

/// A user's signal handler, shared so it can be called outside the state's borrow.
type HandlerFn = Rc<RefCell<dyn FnMut(&Reactor)>>;

struct Handler {
    id: u64,
    signal: c_int,
    f: HandlerFn,
    site: CallSite,
}

impl Reactor {
    /// Calls `f` on the reactor's thread whenever `signal` arrives (while the reactor runs;
    /// a signal that came while it was not running is delivered when it runs again).
    ///
    /// # Errors
    /// `InvalidInput` for signals that cannot be handled (SIGKILL, SIGSTOP, SIGSEGV, ...);
    /// the system's error if the handler cannot be installed.
    #[track_caller]
    pub fn add_signal_handler(
        &self,
        signal: c_int,
        f: impl FnMut(&Reactor) + 'static,
    ) -> io::Result<SignalHandlerId> {
        let site = Location::caller();
        self.watch_signal(signal)?;
        let mut signals = self.inner.signals.borrow_mut();
        let id = signals.next_id;
        signals.next_id += 1;
        signals.handlers.push(Handler {
            id,
            signal,
            f: Rc::new(RefCell::new(f)),
            site,
        });
        Ok(SignalHandlerId(id))
    }

    /// Removes a handler; returns false when it was already removed.
    pub fn remove_signal_handler(&self, id: SignalHandlerId) -> bool {
        let removed = {
            let mut signals = self.inner.signals.borrow_mut();
            let Some(at) = signals.handlers.iter().position(|h| h.id == id.0) else {
                return false;
            };
            signals.handlers.remove(at)
        };
        self.unwatch_signal(removed.signal);
        true
    }

    /// Installs the default SIGINT and SIGTERM stop (at the start of `run`).
    pub(super) fn install_default_signals(&self) {
        if self.inner.signals.borrow().defaults {
            return;
        }
        for signal in [signal::SIGINT, signal::SIGTERM] {
            if let Err(e) = self.watch_signal(signal) {
                tracing::error!("install the reactor's handler for signal {signal}: {e}");
            }
        }
        self.inner.signals.borrow_mut().defaults = true;
    }

    /// Removes the default SIGINT and SIGTERM stop (at the end of `run`).
    pub(super) fn uninstall_default_signals(&self) {
        if !std::mem::take(&mut self.inner.signals.borrow_mut().defaults) {
            return;
        }
        self.unwatch_signal(signal::SIGINT);
        self.unwatch_signal(signal::SIGTERM);
    }

    fn watch_signal(&self, signal: c_int) -> io::Result<()> {
        if signal_hook::consts::FORBIDDEN.contains(&signal) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("handle signal {signal}: this signal cannot be handled"),
            ));
        }
        if let Some(watched) = self.inner.signals.borrow_mut().watched.get_mut(&signal) {
            watched.refs += 1;
            return Ok(());
        }
        let writer = self.self_pipe_writer()?;
        fallback::hold(signal)?;
        let flag = Arc::new(AtomicBool::new(false));
        // The flag first, then the pipe: the reader drains the pipe, then reads the flags.
        let registered = signal_hook::flag::register(signal, flag.clone()).and_then(|flag_id| {
            match low_level::pipe::register(signal, writer) {
                Ok(pipe_id) => Ok([flag_id, pipe_id]),
                Err(e) => {
                    low_level::unregister(flag_id);
                    Err(e)
                }
            }
        });
        let ids = match registered {
            Ok(ids) => ids,
            Err(e) => {
                fallback::release(signal);
                return Err(io::Error::new(
                    e.kind(),
                    format!("handle signal {signal}: {e}"),
                ));
            }
        };
        let watched = Watched { flag, ids, refs: 1 };
        self.inner
            .signals
            .borrow_mut()
            .watched
            .insert(signal, watched);
        Ok(())
    }

    fn unwatch_signal(&self, signal: c_int) {
        let mut signals = self.inner.signals.borrow_mut();
        let Some(watched) = signals.watched.get_mut(&signal) else {
            return;
        };
        watched.refs -= 1;
        if watched.refs == 0 {
            if let Some(watched) = signals.watched.remove(&signal) {
                watched.unregister(signal);
            }
        }
    }

    /// A new write end of the self-pipe, creating the pipe (and registering its read end)
    /// the first time.
    fn self_pipe_writer(&self) -> io::Result<UnixStream> {
        if let Some(pipe) = &self.inner.signals.borrow().pipe {
            return pipe.writer.try_clone();
        }
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        self.register_internal_fd(&reader, |reactor, _| reactor.dispatch_signals())?;
        let clone = writer.try_clone()?;
        self.inner.signals.borrow_mut().pipe = Some(SelfPipe { reader, writer });
        Ok(clone)
    }

    /// Reads the self-pipe, then the flags, and calls each arrived signal's handlers.
    fn dispatch_signals(&self) {
        let arrived: Vec<c_int> = {
            let signals = self.inner.signals.borrow();
            if let Some(pipe) = &signals.pipe {
                drain(&pipe.reader);
            }
            let mut arrived: Vec<c_int> = signals
                .watched
                .iter()
                .filter(|(_, w)| w.flag.swap(false, Ordering::AcqRel))
                .map(|(&signal, _)| signal)
                .collect();
            arrived.sort_unstable();
            arrived
        };
        for signal in arrived {
            let (handlers, defaults): (Vec<_>, bool) = {
                let signals = self.inner.signals.borrow();
                let handlers = signals
                    .handlers
                    .iter()
                    .filter(|h| h.signal == signal)
                    .map(|h| (h.f.clone(), h.site))
                    .collect();
                (handlers, signals.defaults)
            };
            let stops = signal == signal::SIGINT || signal == signal::SIGTERM;
            if handlers.is_empty() && defaults && stops {
                tracing::info!("received signal {signal}: stopping the reactor");
                self.stop();
            }
            for (f, site) in handlers {
                self.inner
                    .watch
                    .run(Kind::Signal, site, || (f.borrow_mut())(self));
            }
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for (signal, watched) in self.watched.drain() {
            watched.unregister(signal);
        }
    }
}

impl Watched {
    fn unregister(self, signal: c_int) {
        for id in self.ids {
            low_level::unregister(id);
        }
        fallback::release(signal);
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut watched: Vec<_> = self.watched.keys().collect();
        watched.sort_unstable();
        f.debug_struct("Signals")
            .field("watched", &watched)
            .field("handlers", &self.handlers.len())
            .field("defaults", &self.defaults)
            .finish()
    }
}

fn drain(mut reader: &UnixStream) {
    let mut buf = [0u8; 64];
    while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
}

/// The process-wide fallback: a signal that no reactor watches gets its default action.
mod fallback {
    use super::*;

    /// Per signal: "nobody handles it" (read by the signal handler) and how many watch it.
    static STATE: Mutex<Vec<(c_int, Arc<AtomicBool>, usize)>> = Mutex::new(Vec::new());

    /// Notes one more watcher of `signal`, installing its fallback the first time.
    pub(super) fn hold(signal: c_int) -> io::Result<()> {
        let mut state = STATE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = state.iter_mut().find(|e| e.0 == signal) {
            entry.1.store(false, Ordering::SeqCst);
            entry.2 += 1;
            return Ok(());
        }
        let unhandled = Arc::new(AtomicBool::new(false));
        // Registered before any reactor's action, so it runs first: when it is armed no
        // reactor action remains to run anyway.
        signal_hook::flag::register_conditional_default(signal, unhandled.clone())
            .map_err(|e| io::Error::new(e.kind(), format!("handle signal {signal}: {e}")))?;
        state.push((signal, unhandled, 1));
        Ok(())
    }

    /// Notes one fewer watcher; the last one out re-arms the default action.
    pub(super) fn release(signal: c_int) {
        let mut state = STATE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = state.iter_mut().find(|e| e.0 == signal) {
            entry.2 = entry.2.saturating_sub(1);
            if entry.2 == 0 {
                entry.1.store(true, Ordering::SeqCst);
            }
        }
    }
}
