//! Helpers shared by the reactor's integration tests: one test body per backend, a
//! watchdog so a broken loop fails instead of hanging, and a log capture.

#![allow(dead_code)] // Each test file uses its own subset.

use std::{
    fmt::{self, Write as _},
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
    time::Duration,
};

use torsion::reactor::{Backend, Reactor};
use tracing::{
    field::{Field, Visit},
    span, Event, Level, Metadata, Subscriber,
};

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

/// Runs `reactor` until it stops, failing the test if it has not stopped within the
/// watchdog's time (a broken loop fails instead of hanging the suite).
pub fn run(reactor: &Reactor) {
    let (done, wait) = mpsc::channel::<()>();
    let handle = reactor.handle();
    let fired = Arc::new(Mutex::new(false));
    let watchdog = thread::spawn({
        let fired = fired.clone();
        move || {
            if wait.recv_timeout(WATCHDOG) == Err(mpsc::RecvTimeoutError::Timeout) {
                *fired.lock().unwrap() = true;
                handle.stop();
            }
        }
    });
    reactor.run();
    let _ = done.send(());
    watchdog.join().unwrap();
    assert!(
        !*fired.lock().unwrap(),
        "the watchdog had to stop the reactor"
    );
}

/// Log lines captured by [`capture_logs`]: `(level, message and fields)`.
pub type Logs = Arc<Mutex<Vec<(Level, String)>>>;

/// Runs `f` with a subscriber that records every event on this thread.
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, Vec<(Level, String)>) {
    let logs = Logs::default();
    let subscriber = Capture {
        logs: logs.clone(),
        next_span: AtomicU64::new(1),
    };
    let result = tracing::subscriber::with_default(subscriber, f);
    let lines = logs.lock().unwrap().clone();
    (result, lines)
}

/// A minimal `tracing` subscriber (the project takes no tracing-subscriber dependency).
struct Capture {
    logs: Logs,
    next_span: AtomicU64,
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = Text(String::new());
        event.record(&mut text);
        let level = *event.metadata().level();
        self.logs.lock().unwrap().push((level, text.0));
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

/// Whether some captured line at `level` contains every one of `parts`.
pub fn logged(logs: &[(Level, String)], level: Level, parts: &[&str]) -> bool {
    logs.iter()
        .any(|(l, text)| *l == level && parts.iter().all(|p| text.contains(p)))
}

/// `file:line:` for a line of the calling test file, to find the call site in a log line.
#[track_caller]
pub fn site(line: u32) -> String {
    format!("{}:{line}:", std::panic::Location::caller().file())
}
