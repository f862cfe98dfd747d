//! [`Failure`]: any error, its message, and where it was made (Twisted's `Failure`);
//! and the errors the Deferred machinery itself reports.

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

/// An error travelling down a Deferred's errback chain.
///
/// It carries any error type, its message, and the source location where it was made
/// (`#[track_caller]`: always on, no debug mode needed). Errbacks test for an error type
/// with [`check`](Failure::check) or [`trap`](Failure::trap), never by matching strings:
///
/// ```
/// use torsion::defer::{Cancelled, Failure};
///
/// let failure = Failure::new(Cancelled);
/// assert!(failure.check::<Cancelled>().is_some());
/// assert!(failure.check::<std::io::Error>().is_none());
/// assert_eq!(failure.error_message(), "deferred was cancelled");
/// ```
///
/// Any `std::error::Error` converts into a `Failure`, so `?` works inside callbacks.
/// Clones share the error: a failure stored in a `DeferredList` result and left in its
/// original chain is the same failure.
///
/// # With ordinary Rust errors
///
/// `Failure` cannot implement `std::error::Error` itself: with the conversion from every
/// `Error` above, that would make `From<Failure> for Failure` twice (Rust's coherence
/// rule; `anyhow::Error` is built the same way for the same reason). It goes wherever an
/// error does anyway:
///
/// - `?` turns it into a `Box<dyn Error>` (single-threaded code, `fn main`), keeping the
///   inner error as the `source()` chain;
/// - [`error`](Failure::error) borrows the inner error;
/// - [`into_send`](Failure::into_send) makes a [`SendFailure`] (`Error + Send + Sync`:
///   its message, the Rust type name and the location) for crossing threads, for
///   `anyhow`, or for `Box<dyn Error + Send + Sync>`. A `Failure` itself is `!Send`, as
///   everything on a Deferred's path is.
///
/// ```
/// use std::error::Error;
/// use torsion::defer::{Cancelled, Failure};
///
/// fn run() -> Result<(), Box<dyn Error>> {
///     let failure = Failure::new(Cancelled);
///     Err(failure)?
/// }
/// assert_eq!(run().unwrap_err().to_string(), "deferred was cancelled");
///
/// let sent = Failure::new(Cancelled).into_send();
/// let message = std::thread::spawn(move || sent.to_string()).join().unwrap();
/// assert_eq!(message, "deferred was cancelled");
/// ```
#[derive(Clone)]
pub struct Failure {
    inner: Rc<Inner>,
}

struct Inner {
    error: Box<dyn Error + 'static>,
    location: &'static Location<'static>,
    /// The Rust type of `error` when it was made (`dyn Error` forgets it).
    type_name: &'static str,
}

/// A [`Failure`] made `Send + Sync` for crossing threads ([`Failure::into_send`]): its
/// message (with the inner error's sources), the Rust type name of its error, and where
/// it was made. The error value itself stays behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// The error's message (its `Display`), followed by its sources, `: `-separated.
    pub message: String,
    /// The Rust type name of the error (`std::any::type_name`).
    pub type_name: &'static str,
    /// Where the failure was made.
    pub location: &'static Location<'static>,
}

/// A `Failure` seen as a `std::error::Error` (what `?` makes of it in a
/// `Box<dyn Error>`).
struct AsError(Failure);

impl Failure {
    /// Wraps `error`, noting the caller's location.
    #[track_caller]
    pub fn new<E: Error + 'static>(error: E) -> Failure {
        Failure {
            inner: Rc::new(Inner {
                error: Box::new(error),
                location: Location::caller(),
                type_name: std::any::type_name::<E>(),
            }),
        }
    }

    /// Wraps an already boxed error, noting the caller's location.
    #[track_caller]
    pub fn from_boxed(error: Box<dyn Error + 'static>) -> Failure {
        Failure::from_boxed_at(error, Location::caller())
    }

    /// Wraps an already boxed error made elsewhere (on a pool thread, say), located at
    /// `location`: where the work that failed was asked for.
    pub fn from_boxed_at(
        error: Box<dyn Error + 'static>,
        location: &'static Location<'static>,
    ) -> Failure {
        Failure {
            inner: Rc::new(Inner {
                error,
                location,
                type_name: "Box<dyn std::error::Error>",
            }),
        }
    }

    /// A failure with only a message, for errors that have no type of their own.
    #[track_caller]
    pub fn msg(message: impl Into<String>) -> Failure {
        Failure::new(Message(message.into()))
    }

    /// A failure describing a caught panic, carrying its message.
    #[track_caller]
    pub fn from_panic(payload: Box<dyn Any + Send>) -> Failure {
        Failure::from_panic_at(payload, Location::caller())
    }

    /// A failure describing a caught panic, located at `location` (where the code that
    /// panicked was registered: the panic payload itself carries no location).
    pub fn from_panic_at(
        payload: Box<dyn Any + Send>,
        location: &'static Location<'static>,
    ) -> Failure {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_owned()
        };
        Failure {
            inner: Rc::new(Inner {
                error: Box::new(Panicked { message }),
                location,
                type_name: std::any::type_name::<Panicked>(),
            }),
        }
    }

    /// The error's message (Twisted's `getErrorMessage`).
    pub fn error_message(&self) -> String {
        self.inner.error.to_string()
    }

    /// The wrapped error.
    pub fn error(&self) -> &(dyn Error + 'static) {
        &*self.inner.error
    }

    /// Where the failure was made: the `Failure::new` call, the `?`, or the callback
    /// that panicked.
    pub fn location(&self) -> &'static Location<'static> {
        self.inner.location
    }

    /// The Rust type name of the error (`std::any::type_name` of what was wrapped;
    /// `Box<dyn std::error::Error>` for [`from_boxed`](Failure::from_boxed)), as the
    /// unhandled-failure report names it.
    pub fn type_name(&self) -> &'static str {
        self.inner.type_name
    }

    /// A `Send + Sync` copy of what this failure says (message, type name, location),
    /// to cross threads or go into `anyhow`: see [`SendFailure`].
    pub fn into_send(self) -> SendFailure {
        let mut message = self.error_message();
        let mut source = self.inner.error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        SendFailure {
            message,
            type_name: self.inner.type_name,
            location: self.inner.location,
        }
    }

    /// The failure as a boxed `std::error::Error` (what `?` does into
    /// `Box<dyn Error>`).
    pub fn into_error(self) -> Box<dyn Error + 'static> {
        Box::new(AsError(self))
    }

    /// The error as `E`, if it is one (Twisted's `check`, for one type).
    pub fn check<E: Error + 'static>(&self) -> Option<&E> {
        self.inner.error.downcast_ref::<E>()
    }

    /// Same as [`check`](Failure::check), under the name Rust users look for.
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.check::<E>()
    }

    /// The error as `E`, or this failure again so that `?` passes it on (Twisted's
    /// `trap`, which re-raises what it does not expect):
    ///
    /// ```
    /// use torsion::defer::{fail, Cancelled, Deferred, Failure};
    ///
    /// let d: Deferred<u32> = fail(Failure::new(Cancelled));
    /// let d = d.add_errback(|f: Failure| {
    ///     f.trap::<Cancelled>()?; // anything else keeps failing
    ///     Ok(0)
    /// });
    /// assert_eq!(d.try_result().ok().unwrap().ok(), Some(0));
    /// ```
    pub fn trap<E: Error + 'static>(&self) -> Result<&E, Failure> {
        self.check::<E>().ok_or_else(|| self.clone())
    }
}

impl<E: Error + 'static> From<E> for Failure {
    #[track_caller]
    fn from(error: E) -> Failure {
        Failure::new(error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner.error, f)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failure({} at {}", self.inner.error, self.inner.location)?;
        let mut source = self.inner.error.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        f.write_str(")")
    }
}

impl From<Failure> for Box<dyn Error + 'static> {
    fn from(failure: Failure) -> Self {
        failure.into_error()
    }
}

impl fmt::Display for AsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for AsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Error for AsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.inner.error.source()
    }
}

impl fmt::Display for SendFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for SendFailure {}

/// A Deferred was fired twice (Twisted's `AlreadyCalledError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyCalled {
    /// Where the Deferred was created.
    pub created: &'static Location<'static>,
}

impl fmt::Display for AlreadyCalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deferred already called (created at {})", self.created)
    }
}

impl Error for AlreadyCalled {}

/// The Deferred was cancelled (Twisted's `CancelledError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deferred was cancelled")
    }
}

impl Error for Cancelled {}

/// The Deferred did not fire in time (Twisted's `TimeoutError` from `addTimeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    /// The timeout that passed.
    pub after: Duration,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deferred timed out after {:?}", self.after)
    }
}

impl Error for TimedOut {}

/// A callback panicked; the panic became this failure instead of unwinding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked {
    /// The panic's message.
    pub message: String,
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "callback panicked: {}", self.message)
    }
}

impl Error for Panicked {}

/// An error that is only a message (see [`Failure::msg`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message(pub String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Message {}
