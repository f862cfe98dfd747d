//! Deferreds: a promise of a value or a [`Failure`], with a chain of callbacks
//! (Twisted's `twisted.internet.defer`).
//!
//! ```
//! use torsion::defer::{Deferred, Failure};
//!
//! let (d, resolver) = Deferred::<String>::new();
//! let shouted = d
//!     .add_callback(|s: String| Ok(s.to_uppercase()))       // String -> String
//!     .add_callback(|s: String| Ok(s.len()))                // String -> usize
//!     .add_errback(|f: Failure| Ok(f.error_message().len())); // a failure becomes a usize too
//! resolver.callback("yo, uppercase me!".to_owned()).unwrap();
//! assert_eq!(shouted.try_result().ok().unwrap().ok(), Some(17));
//! ```
//!
//! # The rules (Twisted's, exactly)
//!
//! - A Deferred holds a chain of (callback, errback) pairs and fires once, with a value
//!   ([`Resolver::callback`]) or a failure ([`Resolver::errback`]); firing twice is the
//!   error [`AlreadyCalled`].
//! - A callback that returns `Ok(value)` passes the value on; one that returns `Err` or
//!   panics switches the chain to errbacks. An errback that returns `Ok` switches back.
//!   A panic becomes a [`Panicked`] failure carrying its message: it never unwinds into
//!   the code that fired the Deferred.
//! - A callback may return another `Deferred`: the chain pauses until that one fires, then
//!   goes on with its result. Already-fired Deferreds nested 100,000 deep run in a loop,
//!   not by recursion (Twisted's trampoline).
//! - Callbacks added after firing run at once, in order. [`Deferred::pause`] and
//!   [`Deferred::unpause`] hold and release the chain; pauses nest
//!   ([`Deferred::pause_count`] is Twisted's `paused`). As in Twisted, a pause made by one
//!   of the chain's own callbacks while it runs does not stop the callbacks already in
//!   the chain: it holds back those added after the run, until `unpause`.
//! - [`Deferred::cancel`] runs the canceller given at creation, else fails the chain with
//!   [`Cancelled`]; a Deferred waiting on another cancels that one.
//!   [`Deferred::add_timeout`] cancels after a delay on any [`ReactorTime`] clock and turns
//!   the failure into [`TimedOut`].
//! - Cancelling a [`DeferredList`] (or [`gather_results`]) cancels every member that
//!   has not fired; the list then fires with what the members did.
//! - A Deferred dropped while its chain ends in a failure logs it through `tracing`
//!   (target `torsion::defer`), with the error's Rust type, where the Deferred was
//!   created and where it was fired (Twisted's "first invoker"): no failure is lost
//!   silently. With no `tracing` subscriber set, the report goes to stderr.
//!
//! # Rust's types
//!
//! Twisted's maintainers say that, starting again, they would make `addCallback` return a
//! new Deferred, so a type checker can follow a chain as it changes type (twisted#11772).
//! torsion does that: [`add_callback`](Deferred::add_callback) consumes a `Deferred<T>`
//! and gives a `Deferred<U>`. Whoever fires the chain keeps the [`Resolver<T>`] for its
//! start, made with the Deferred by [`Deferred::new`]. Nobody ever downcasts a result.
//!
//! A callback returns `Result<U, Failure>` (any `std::error::Error` converts with `?`) or
//! a `Deferred<U>` to wait for. A `Deferred<T>` is awaitable (its output is
//! `Result<T, Failure>`), and [`ensure_deferred`] runs a future as a Deferred, resuming
//! it inside the `callback()` of what it awaits, as Twisted does: `async` code reads like
//! Twisted's `inlineCallbacks` and runs with no reactor, on a fake clock in tests.
//! [`ok`]`(value)` is `Ok(value)` with the error type fixed to `Failure`, for the
//! closures and `async` blocks where Rust would ask for `Ok::<_, Failure>`.
//!
//! Deferreds are single-threaded (`!Send`), as in Twisted: nothing on their path locks.
//! Work on another thread comes back through the reactor's thread pool or its
//! `ReactorHandle`, never by sending a Deferred:
//!
//! ```compile_fail
//! let (d, _resolver) = torsion::defer::Deferred::<u32>::new();
//! std::thread::spawn(move || drop(d)); // error: `Rc` cannot be sent between threads
//! ```

mod bridge;
mod chain;
mod ensure;
mod failure;
mod list;
mod ok;
mod report;
mod sync;

use std::fmt;
use std::marker::PhantomData;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::time::ReactorTime;
use chain::{Chain, Outcome, Step, StepKind, Value};

pub use bridge::{track_awaits, CancelHandle, DeferredFuture};
pub(crate) use ensure::Driver;
pub use ensure::{ensure_deferred, MAX_NESTED_RESUMES};
pub use failure::{AlreadyCalled, Cancelled, Failure, Message, Panicked, SendFailure, TimedOut};
pub use list::{
    gather_results, gather_results_first_error, DeferredList, FirstError, FirstSuccessList,
    ListResult,
};
pub use ok::ok;
pub(crate) use report::{blame, replace_blame, to_stderr_unobserved as report_unobserved, Blame};
pub use sync::{
    DeferredLock, DeferredQueue, DeferredSemaphore, NoTokens, QueueOverflow, QueueUnderflow,
    ReleasedTooOften,
};

/// A promise of a `T` or a [`Failure`], with a chain of callbacks (Twisted's `Deferred`).
///
/// This handle is the chain's tail: adding a callback consumes it and gives the handle
/// for the new tail, typed by what that callback returns. See the [module docs](self).
pub struct Deferred<T> {
    repr: Repr<T>,
}

/// A Deferred is either a chain that something will fire, or (made by [`succeed`],
/// [`fail`], or callbacks run on those) a result already known, held typed and inline:
/// no chain, no allocation, and callbacks added to it run at once.
enum Repr<T> {
    Fired {
        result: Result<T, Failure>,
        created: &'static Location<'static>,
    },
    Chain(Rc<Chain>),
    /// Moved out by a method that consumed the Deferred.
    Gone,
}

/// The handle that fires a Deferred: the typed start of its chain.
///
/// Clones fire the same Deferred; the second firing is [`AlreadyCalled`].
pub struct Resolver<T> {
    chain: Rc<Chain>,
    _takes: PhantomData<fn(T)>,
}

/// What a callback may return: `Result<U, Failure>` to go on with a `U` (or fail), or a
/// `Deferred<U>` to wait for.
pub trait IntoStep: 'static {
    /// The type the chain holds after the callback.
    type Output: 'static;
    #[doc(hidden)]
    fn into_step(self, spare: Option<Value>) -> Step;
    #[doc(hidden)]
    fn into_deferred(self, created: &'static Location<'static>) -> Deferred<Self::Output>;
}

impl<U: 'static> IntoStep for Result<U, Failure> {
    type Output = U;
    fn into_step(self, spare: Option<Value>) -> Step {
        Step(StepKind::Done(self.map(|u| match spare {
            Some(value) => value.put(u),
            None => Value::new(u),
        })))
    }
    fn into_deferred(self, created: &'static Location<'static>) -> Deferred<U> {
        Deferred {
            repr: Repr::Fired {
                result: self,
                created,
            },
        }
    }
}

impl<U: 'static> IntoStep for Deferred<U> {
    type Output = U;
    fn into_step(self, spare: Option<Value>) -> Step {
        match self.into_repr() {
            Repr::Chain(chain) => Step(StepKind::Wait(chain)),
            Repr::Fired { result, .. } => result.into_step(spare),
            Repr::Gone => Step(StepKind::Done(Err(gone()))),
        }
    }
    fn into_deferred(self, _created: &'static Location<'static>) -> Deferred<U> {
        self
    }
}

/// Runs a callback on a known result, turning a panic into a failure located where the
/// callback was added.
fn run_inline<R: IntoStep>(
    f: impl FnOnce() -> R,
    site: &'static Location<'static>,
    created: &'static Location<'static>,
) -> Deferred<R::Output> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.into_deferred(created),
        Err(payload) => Deferred {
            repr: Repr::Fired {
                result: Err(Failure::from_panic_at(payload, site)),
                created,
            },
        },
    }
}

/// Adds `link` to `chain` and gives the handle of the new tail.
fn chained<U>(
    chain: Rc<Chain>,
    site: &'static Location<'static>,
    link: impl FnOnce(Outcome) -> Step + 'static,
) -> Deferred<U> {
    chain.add(link, site);
    Deferred {
        repr: Repr::Chain(chain),
    }
}

/// Runs `f` on the value in a chain's box, reusing the box for what `f` returns.
fn call_with<T: 'static, R: IntoStep>(mut value: Value, f: impl FnOnce(T) -> R) -> Step {
    let t = value.take::<T>();
    f(t).into_step(Some(value))
}

/// Passes a result on unchanged (a failure by a callback, a value by an errback).
fn pass(outcome: Outcome) -> Step {
    Step(StepKind::Done(outcome))
}

/// The failure of a Deferred used after it was consumed: unreachable through the
/// public API (every consuming method takes `self`), reported rather than panicking.
fn gone() -> Failure {
    Failure::msg("torsion bug: Deferred used after it was consumed")
}

impl<T: 'static> Deferred<T> {
    /// A new, unfired Deferred and the resolver that fires it.
    #[track_caller]
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> (Deferred<T>, Resolver<T>) {
        Deferred::from_chain(Chain::new(Location::caller(), None))
    }

    /// Like [`new`](Deferred::new), with a canceller that [`cancel`](Deferred::cancel)
    /// runs before the chain fails with [`Cancelled`]. The canceller may fire the
    /// Deferred itself (with its own value or failure) through the resolver it is given.
    #[track_caller]
    pub fn with_canceller(
        canceller: impl FnOnce(&Resolver<T>) + 'static,
    ) -> (Deferred<T>, Resolver<T>) {
        Deferred::with_canceller_at(Location::caller(), canceller)
    }

    /// [`with_canceller`](Deferred::with_canceller), created at `site`.
    pub(crate) fn with_canceller_at(
        site: &'static Location<'static>,
        canceller: impl FnOnce(&Resolver<T>) + 'static,
    ) -> (Deferred<T>, Resolver<T>) {
        let canceller = Box::new(move |chain: &Rc<Chain>| {
            canceller(&Resolver {
                chain: chain.clone(),
                _takes: PhantomData,
            });
        });
        Deferred::from_chain(Chain::new(site, Some(canceller)))
    }

    fn from_chain(chain: Rc<Chain>) -> (Deferred<T>, Resolver<T>) {
        let resolver = Resolver {
            chain: chain.clone(),
            _takes: PhantomData,
        };
        (
            Deferred {
                repr: Repr::Chain(chain),
            },
            resolver,
        )
    }

    /// Takes the representation out; the emptied handle's drop does nothing.
    fn into_repr(self) -> Repr<T> {
        // Not dropped: its drop would only look at the `Gone` left behind.
        let mut this = std::mem::ManuallyDrop::new(self);
        std::mem::replace(&mut this.repr, Repr::Gone)
    }

    /// A known result, retyped: a failure passing by callbacks that will not run.
    fn fired<U>(result: Result<U, Failure>, created: &'static Location<'static>) -> Deferred<U> {
        Deferred {
            repr: Repr::Fired { result, created },
        }
    }

    /// Adds a callback; a failure passes by it untouched (Twisted's `addCallback`).
    #[track_caller]
    pub fn add_callback<R, F>(self, callback: F) -> Deferred<R::Output>
    where
        R: IntoStep,
        F: FnOnce(T) -> R + 'static,
    {
        let site = Location::caller();
        match self.into_repr() {
            Repr::Fired {
                result: Ok(t),
                created,
            } => run_inline(move || callback(t), site, created),
            Repr::Fired {
                result: Err(f),
                created,
            } => Self::fired(Err(f), created),
            Repr::Chain(chain) => chained(chain, site, move |outcome| match outcome {
                Ok(value) => call_with(value, callback),
                Err(failure) => pass(Err(failure)),
            }),
            Repr::Gone => Self::fired(Err(gone()), site),
        }
    }

    /// Adds an errback; a value passes by it untouched (Twisted's `addErrback`). Return
    /// `Ok` to recover, `Err` to keep failing.
    #[track_caller]
    pub fn add_errback<R, F>(self, errback: F) -> Deferred<T>
    where
        R: IntoStep<Output = T>,
        F: FnOnce(Failure) -> R + 'static,
    {
        let site = Location::caller();
        match self.into_repr() {
            Repr::Fired {
                result: Ok(t),
                created,
            } => Self::fired(Ok(t), created),
            Repr::Fired {
                result: Err(f),
                created,
            } => run_inline(move || errback(f), site, created),
            Repr::Chain(chain) => chained(chain, site, move |outcome| match outcome {
                Ok(value) => pass(Ok(value)),
                Err(failure) => errback(failure).into_step(None),
            }),
            Repr::Gone => Self::fired(Err(gone()), site),
        }
    }

    /// Adds a callback and an errback at the same level: exactly one of them runs, and
    /// the errback does not see a failure raised by the callback (Twisted's
    /// `addCallbacks`).
    #[track_caller]
    pub fn add_callbacks<R, E, F, G>(self, callback: F, errback: G) -> Deferred<R::Output>
    where
        R: IntoStep,
        E: IntoStep<Output = R::Output>,
        F: FnOnce(T) -> R + 'static,
        G: FnOnce(Failure) -> E + 'static,
    {
        let site = Location::caller();
        match self.into_repr() {
            Repr::Fired {
                result: Ok(t),
                created,
            } => run_inline(move || callback(t), site, created),
            Repr::Fired {
                result: Err(f),
                created,
            } => run_inline(move || errback(f), site, created),
            Repr::Chain(chain) => chained(chain, site, move |outcome| match outcome {
                Ok(value) => call_with(value, callback),
                Err(failure) => errback(failure).into_step(None),
            }),
            Repr::Gone => Self::fired(Err(gone()), site),
        }
    }

    /// Adds one function as both callback and errback (Twisted's `addBoth`); it sees
    /// `Ok(value)` or `Err(failure)`.
    #[track_caller]
    pub fn add_both<R, F>(self, f: F) -> Deferred<R::Output>
    where
        R: IntoStep,
        F: FnOnce(Result<T, Failure>) -> R + 'static,
    {
        let site = Location::caller();
        match self.into_repr() {
            Repr::Fired { result, created } => run_inline(move || f(result), site, created),
            Repr::Chain(chain) => chained(chain, site, move |outcome| match outcome {
                Ok(value) => call_with(value, |t: T| f(Ok(t))),
                Err(failure) => f(Err(failure)).into_step(None),
            }),
            Repr::Gone => Self::fired(Err(gone()), site),
        }
    }

    /// Fires `other` with this chain's result when it arrives (Twisted's
    /// `chainDeferred`); this chain then holds `()`.
    #[track_caller]
    pub fn chain_deferred(self, other: Resolver<T>) -> Deferred<()> {
        self.add_both(move |result| {
            // A resolver fired elsewhere already: Twisted raises AlreadyCalled here too.
            other.resolve(result).map_err(Failure::new)
        })
    }

    /// True once the Deferred has been fired (Twisted's `called`).
    pub fn called(&self) -> bool {
        match &self.repr {
            Repr::Chain(chain) => chain.called(),
            Repr::Fired { .. } | Repr::Gone => true,
        }
    }

    /// True while the chain is held by [`pause`](Deferred::pause) or waits on another
    /// Deferred.
    pub fn paused(&self) -> bool {
        match &self.repr {
            Repr::Chain(chain) => chain.paused(),
            Repr::Fired { .. } | Repr::Gone => false,
        }
    }

    /// Twisted's `paused` counter: pauses not yet undone, plus one while the chain waits
    /// on a Deferred a callback returned.
    pub fn pause_count(&self) -> u32 {
        match &self.repr {
            Repr::Chain(chain) => chain.pause_count(),
            Repr::Fired { .. } | Repr::Gone => 0,
        }
    }

    /// Stops running callbacks until as many [`unpause`](Deferred::unpause) calls
    /// (pauses nest). Called by one of this chain's own callbacks while the chain runs,
    /// it holds back only callbacks added after that run, as in Twisted: the ones
    /// already in the chain run on.
    pub fn pause(&mut self) {
        self.chain().pause();
    }

    /// Undoes one [`pause`](Deferred::pause); the chain runs on if it was fired.
    pub fn unpause(&mut self) {
        if let Repr::Chain(chain) = &self.repr {
            chain.unpause();
        }
    }

    /// Cancels the Deferred (Twisted's `cancel`). See the [module docs](self).
    #[track_caller]
    pub fn cancel(&self) {
        if let Repr::Chain(chain) = &self.repr {
            chain.cancel();
        }
    }

    /// A handle that cancels this Deferred later, from wherever it is kept, without
    /// holding the chain alive.
    pub fn canceller(&self) -> CancelHandle {
        match &self.repr {
            Repr::Chain(chain) => CancelHandle::new(chain),
            Repr::Fired { .. } | Repr::Gone => CancelHandle::none(),
        }
    }

    /// Cancels the Deferred if it has not fired `timeout` from now on `clock`, failing
    /// it with [`TimedOut`] (Twisted's `addTimeout`). A canceller that fires the Deferred
    /// with a value of its own wins: that value goes on.
    #[track_caller]
    pub fn add_timeout(self, timeout: Duration, clock: &dyn ReactorTime) -> Deferred<T> {
        let target = match &self.repr {
            Repr::Chain(chain) if !chain.called() || chain.paused() => Rc::downgrade(chain),
            _ => return self, // Already has its result: nothing to time out.
        };
        let fired_by_timer = Rc::new(std::cell::Cell::new(false));
        let timer = clock.call_later(
            timeout,
            Box::new({
                let fired_by_timer = fired_by_timer.clone();
                move || {
                    if let Some(chain) = target.upgrade() {
                        fired_by_timer.set(true);
                        chain.cancel();
                    }
                }
            }),
        );
        self.add_both(move |result: Result<T, Failure>| {
            // Cannot fail while it matters: a timer that already ran is not active.
            if timer.active() {
                let _ = timer.cancel();
            }
            match result {
                Err(f) if fired_by_timer.get() && f.check::<Cancelled>().is_some() => {
                    Err(Failure::new(TimedOut { after: timeout }))
                }
                other => other,
            }
        })
    }

    /// The result, if the Deferred has fired and nothing is left to run; else the
    /// Deferred back. Taking the result leaves the chain empty, so a failure taken
    /// here is handled (it will not be logged).
    pub fn try_result(self) -> Result<Result<T, Failure>, Deferred<T>> {
        match self.into_repr() {
            Repr::Fired { result, .. } => Ok(result),
            Repr::Chain(chain) => match chain.take_result() {
                Some(Ok(mut value)) => Ok(Ok(value.take::<T>())),
                Some(Err(failure)) => Ok(Err(failure)),
                None => Err(Deferred {
                    repr: Repr::Chain(chain),
                }),
            },
            Repr::Gone => Ok(Err(gone())),
        }
    }

    /// True when the Deferred has its result and nothing left to run: what
    /// [`try_result`](Deferred::try_result) would take (not paused, not waiting).
    pub fn has_result(&self) -> bool {
        match &self.repr {
            Repr::Chain(chain) => chain.has_result(),
            Repr::Fired { .. } => true,
            Repr::Gone => false,
        }
    }

    /// Where this Deferred was created.
    pub fn created(&self) -> &'static Location<'static> {
        match &self.repr {
            Repr::Chain(chain) => chain.created,
            Repr::Fired { created, .. } => created,
            Repr::Gone => Location::caller(),
        }
    }

    /// The chain, made from the known result if there was none yet.
    fn chain(&mut self) -> Rc<Chain> {
        let repr = std::mem::replace(&mut self.repr, Repr::Gone);
        let chain = match repr {
            Repr::Chain(chain) => chain,
            Repr::Fired { result, created } => Chain::fired(created, result.map(Value::new)),
            Repr::Gone => Chain::fired(Location::caller(), Err(gone())),
        };
        self.repr = Repr::Chain(chain.clone());
        chain
    }
}

impl<T> Drop for Deferred<T> {
    fn drop(&mut self) {
        if let Repr::Fired {
            result: Err(failure),
            created,
        } = &self.repr
        {
            chain::log_unhandled(failure, created, Some(created));
        }
    }
}

impl<T: 'static> Resolver<T> {
    /// Fires the Deferred with a value (Twisted's `callback`). The caller's location is
    /// kept as the chain's "first invoker", named if the chain ends unhandled.
    #[track_caller]
    pub fn callback(&self, value: T) -> Result<(), AlreadyCalled> {
        self.chain.fire(Ok(Value::new(value)), Location::caller())
    }

    /// Fires the Deferred with a failure (Twisted's `errback`); any error converts.
    #[track_caller]
    pub fn errback(&self, failure: impl Into<Failure>) -> Result<(), AlreadyCalled> {
        self.chain.fire(Err(failure.into()), Location::caller())
    }

    /// Fires with a value or a failure.
    #[track_caller]
    pub fn resolve(&self, result: Result<T, Failure>) -> Result<(), AlreadyCalled> {
        self.chain.fire(result.map(Value::new), Location::caller())
    }

    /// True once the Deferred has been fired.
    pub fn called(&self) -> bool {
        self.chain.called()
    }
}

impl<T> Clone for Resolver<T> {
    fn clone(&self) -> Self {
        Resolver {
            chain: self.chain.clone(),
            _takes: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Chain(chain) => fmt::Debug::fmt(&**chain, f),
            Repr::Fired { result, created } => f
                .debug_struct("Deferred")
                .field(
                    "state",
                    &if result.is_ok() {
                        "fired with a value"
                    } else {
                        "fired with a failure"
                    },
                )
                .field("created", &format_args!("{created}"))
                .finish(),
            Repr::Gone => f.write_str("Deferred(consumed)"),
        }
    }
}

impl<T> fmt::Debug for Resolver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Resolver").field(&*self.chain).finish()
    }
}

/// A Deferred already fired with `value` (Twisted's `succeed`).
#[track_caller]
pub fn succeed<T: 'static>(value: T) -> Deferred<T> {
    Deferred {
        repr: Repr::Fired {
            result: Ok(value),
            created: Location::caller(),
        },
    }
}

/// A Deferred already fired with a failure (Twisted's `fail`).
#[track_caller]
pub fn fail<T: 'static>(failure: impl Into<Failure>) -> Deferred<T> {
    Deferred {
        repr: Repr::Fired {
            result: Err(failure.into()),
            created: Location::caller(),
        },
    }
}

/// Calls `f` and wraps what it returns in a Deferred: a value, an error (or a panic) as a
/// failure, or the Deferred it returned (Twisted's `maybeDeferred`).
#[track_caller]
pub fn maybe_deferred<R, F>(f: F) -> Deferred<R::Output>
where
    R: IntoStep,
    F: FnOnce() -> R + 'static,
{
    succeed(()).add_callback(move |()| f())
}

#[cfg(test)]
mod exact_tests;
#[cfg(test)]
mod tests;
