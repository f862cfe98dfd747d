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
/// `Failure` deliberately does not implement `Error` itself (that conversion would then
/// conflict with the identity conversion); [`error`](Failure::error) gives the inner one.
/// Clones share the error: a failure stored in a `DeferredList` result and left in its
/// original chain is the same failure.
#[derive(Clone)]
pub struct Failure {
    inner: Rc<Inner>,
}

struct Inner {
    error: Box<dyn Error + 'static>,
    location: &'static Location<'static>,
}

impl Failure {
    /// Wraps `error`, noting the caller's location.
    #[track_caller]
    pub fn new(error: impl Error + 'static) -> Failure {
        Failure::from_boxed(Box::new(error))
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
            inner: Rc::new(Inner { error, location }),
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
