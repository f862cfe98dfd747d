//! Waiting on many Deferreds: [`DeferredList`] and [`gather_results`].
//!
//! ```
//! use torsion::defer::{gather_results, succeed, Deferred};
//!
//! let (later, resolver) = Deferred::new();
//! let all = gather_results(vec![succeed(1), later, succeed(3)]);
//! assert!(!all.called());
//! resolver.callback(2).unwrap();
//! assert_eq!(all.try_result().ok().unwrap().ok(), Some(vec![1, 2, 3]));
//! ```

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;

use super::{Deferred, Failure, Repr, Resolver};

/// Waits for a list of Deferreds (Twisted's `DeferredList`).
///
/// Its Deferred fires with one `Result` per input, in the order given: Twisted's list of
/// `(success, result)` pairs, typed. Options, as in Twisted:
/// [`fire_on_one_errback`](DeferredList::fire_on_one_errback) fails at the first failure
/// with a [`FirstError`]; [`consume_errors`](DeferredList::consume_errors) stops failures
/// from staying in their own chains (where, unhandled, they are logged);
/// [`fire_on_one_callback`](DeferredList::fire_on_one_callback) fires at the first success.
/// An empty list fires at once with an empty vector.
///
/// Cancelling the list's Deferred cancels every member that has not fired, in order, as
/// Twisted's `DeferredList.cancel` does; the list then fires with what the members did
/// (their `Cancelled` failures, or what their cancellers fired). One difference: when
/// the members' cancellation leaves the list unfired (a member paused by its own code),
/// Twisted leaves the list waiting; torsion fails it with `Cancelled`, as it does any
/// Deferred whose canceller did not fire it.
pub struct DeferredList<T> {
    deferreds: Vec<Deferred<T>>,
    fire_on_one_errback: bool,
    consume_errors: bool,
    created: &'static Location<'static>,
}

/// A [`DeferredList`] that fires at its first success
/// ([`DeferredList::fire_on_one_callback`]).
#[derive(Debug)]
pub struct FirstSuccessList<T> {
    list: DeferredList<T>,
}

/// What a [`FirstSuccessList`] fires with.
#[derive(Debug)]
pub enum ListResult<T> {
    /// The first Deferred to succeed: its value and its index in the list (Twisted's
    /// `(result, index)`).
    First {
        /// The value it fired with.
        value: T,
        /// Its position in the list.
        index: usize,
    },
    /// None succeeded: every result, in order (Twisted then fires with the whole list).
    All(Vec<Result<T, Failure>>),
}

/// The first failure of a list that fires on one errback (Twisted's `FirstError`).
#[derive(Debug, Clone)]
pub struct FirstError {
    /// The position of the failed Deferred in the list.
    pub index: usize,
    /// Its failure.
    pub failure: Failure,
}

struct State<T> {
    results: Vec<Option<Result<T, Failure>>>,
    finished: usize,
    resolver: Resolver<ListResult<T>>,
    /// The list decided its result (it fires once).
    decided: bool,
    fire_on_one_callback: bool,
    fire_on_one_errback: bool,
}

/// What a finished input makes the list do, decided under the borrow and done after it.
enum Fire<T> {
    Nothing,
    First(T, usize),
    Failed(usize, Failure),
    All(Vec<Result<T, Failure>>),
}

impl<T: 'static> DeferredList<T> {
    /// A list over `deferreds`, with Twisted's default options (all off).
    #[track_caller]
    pub fn new(deferreds: impl IntoIterator<Item = Deferred<T>>) -> DeferredList<T> {
        DeferredList {
            deferreds: deferreds.into_iter().collect(),
            fire_on_one_errback: false,
            consume_errors: false,
            created: Location::caller(),
        }
    }

    /// Fail at the first failure, with a [`FirstError`] naming its index.
    pub fn fire_on_one_errback(mut self) -> Self {
        self.fire_on_one_errback = true;
        self
    }

    /// Take failures out of their own chains, so they are not logged as unhandled.
    pub fn consume_errors(mut self) -> Self {
        self.consume_errors = true;
        self
    }

    /// Fire at the first success instead, with its value and index.
    pub fn fire_on_one_callback(self) -> FirstSuccessList<T> {
        FirstSuccessList { list: self }
    }

    /// The Deferred of the whole list: every result, in order.
    pub fn into_deferred(self) -> Deferred<Vec<Result<T, Failure>>> {
        self.start(false).add_callback(|result| match result {
            ListResult::All(results) => Ok(results),
            // Only a FirstSuccessList fires with First; this list never does.
            ListResult::First { .. } => Err(Failure::msg(
                "torsion bug: DeferredList fired with one result",
            )),
        })
    }

    fn start(self, fire_on_one_callback: bool) -> Deferred<ListResult<T>> {
        let (deferred, resolver) = Deferred::from_chain(super::Chain::new(self.created, None));
        let count = self.deferreds.len();
        if count == 0 && !fire_on_one_callback {
            // Twisted fires an empty list at once (and never, with fireOnOneCallback).
            let _ = resolver.callback(ListResult::All(Vec::new()));
            return deferred;
        }
        let state = Rc::new(RefCell::new(State {
            results: (0..count).map(|_| None).collect(),
            finished: 0,
            resolver,
            decided: false,
            fire_on_one_callback,
            fire_on_one_errback: self.fire_on_one_errback,
        }));
        let consume_errors = self.consume_errors;
        // Members still waiting, for the list's canceller (Twisted's DeferredList.cancel
        // cancels every member that has not fired).
        let mut unfired = Vec::new();
        for (index, d) in self.deferreds.into_iter().enumerate() {
            // An input that already has its result is recorded at once, without a callback.
            let d = match d.try_result() {
                Ok(result) => {
                    if let (Err(failure), false) = (&result, consume_errors) {
                        // Taken out of its chain but not consumed: report it as the
                        // chain would have when dropped.
                        super::chain::log_unhandled(failure, failure.location(), None);
                    }
                    let fire = state.borrow_mut().record(index, result);
                    fire.fire(&state);
                    continue;
                }
                Err(d) => d,
            };
            unfired.push(d.canceller());
            let state = state.clone();
            d.add_both(move |result: Result<T, Failure>| {
                let left_in_chain = match &result {
                    Err(failure) if !consume_errors => Err(failure.clone()),
                    _ => Ok(()),
                };
                let fire = state.borrow_mut().record(index, result);
                fire.fire(&state);
                left_in_chain
            });
        }
        if !unfired.is_empty() {
            if let Repr::Chain(chain) = &deferred.repr {
                // The members' failures (Cancelled, or what their cancellers fired) decide
                // the list's result, as each would have: cancelling fires the list with
                // what its members did.
                chain.set_canceller(Box::new(move |_| {
                    for member in &unfired {
                        member.cancel();
                    }
                }));
            }
        }
        deferred
    }
}

impl<T: 'static> FirstSuccessList<T> {
    /// See [`DeferredList::fire_on_one_errback`].
    pub fn fire_on_one_errback(self) -> Self {
        FirstSuccessList {
            list: self.list.fire_on_one_errback(),
        }
    }

    /// See [`DeferredList::consume_errors`].
    pub fn consume_errors(self) -> Self {
        FirstSuccessList {
            list: self.list.consume_errors(),
        }
    }

    /// The Deferred of the list: the first success, or every result if none succeeded.
    pub fn into_deferred(self) -> Deferred<ListResult<T>> {
        self.list.start(true)
    }
}

impl<T: 'static> Fire<T> {
    /// Fires the list's Deferred if the last input decided so: outside the state's
    /// borrow, because the list's callbacks may touch the inputs.
    fn fire(self, state: &RefCell<State<T>>) {
        if let Fire::Nothing = self {
            return;
        }
        let resolver = state.borrow().resolver.clone();
        // Cannot fail: `record` decides the list's result once.
        let _ = match self {
            Fire::Nothing => Ok(()),
            Fire::First(value, index) => resolver.callback(ListResult::First { value, index }),
            Fire::Failed(index, failure) => resolver.errback(FirstError { index, failure }),
            Fire::All(results) => resolver.callback(ListResult::All(results)),
        };
    }
}

impl<T: 'static> State<T> {
    fn record(&mut self, index: usize, result: Result<T, Failure>) -> Fire<T> {
        self.finished += 1;
        if self.decided {
            // Already fired: keep nothing, the list's result is gone.
            return Fire::Nothing;
        }
        let result = match result {
            Ok(value) if self.fire_on_one_callback => {
                self.decided = true;
                return Fire::First(value, index);
            }
            Err(failure) if self.fire_on_one_errback => {
                self.decided = true;
                return Fire::Failed(index, failure);
            }
            other => other,
        };
        if let Some(slot) = self.results.get_mut(index) {
            *slot = Some(result);
        }
        if self.finished < self.results.len() {
            return Fire::Nothing;
        }
        self.decided = true;
        // Every slot is filled: each input records exactly once, at its own index.
        Fire::All(self.results.drain(..).flatten().collect())
    }
}

/// Waits for every Deferred and fires with their values in order; fails with the first
/// failure, consuming the others (Twisted's `gatherResults` with `consumeErrors=True`
/// and `unwrapFirstError=True`: the failure is the input's own, so errbacks `check` its
/// real type). [`gather_results_first_error`] is Twisted's default shape, failing with a
/// [`FirstError`] that names the index.
///
/// Cancelling it cancels every input that has not fired; it then fails with the first
/// input's failure ([`Cancelled`](super::Cancelled), unless that input's canceller
/// fired something else).
#[track_caller]
pub fn gather_results<T: 'static>(
    deferreds: impl IntoIterator<Item = Deferred<T>>,
) -> Deferred<Vec<T>> {
    DeferredList::new(deferreds)
        .fire_on_one_errback()
        .consume_errors()
        .into_deferred()
        .add_callbacks(
            |results: Vec<Result<T, Failure>>| {
                results.into_iter().collect::<Result<Vec<T>, Failure>>()
            },
            |failure: Failure| match failure.check::<FirstError>() {
                Some(first) => Err(first.failure.clone()),
                None => Err(failure),
            },
        )
}

/// Waits for every Deferred and fires with their values in order, or fails at the first
/// failure with a [`FirstError`] naming its index (Twisted's
/// `gatherResults(deferreds, consumeErrors)`: a [`DeferredList`] with
/// `fire_on_one_errback`, whose results are unwrapped). With `consume_errors` false, as
/// Twisted's default, each failure also stays in its own Deferred, where, unhandled, it is
/// logged.
///
/// ```
/// use torsion::defer::{gather_results_first_error, Deferred, FirstError};
///
/// let (a, _a) = Deferred::<u32>::new();
/// let (b, _b) = Deferred::<u32>::new();
/// let all = gather_results_first_error(vec![a, b], true);
/// all.cancel(); // cancels both; the first one's Cancelled decides
/// let failure = all.try_result().ok().unwrap().unwrap_err();
/// let first = failure.check::<FirstError>().unwrap();
/// assert_eq!(first.index, 0);
/// assert!(first.failure.check::<torsion::defer::Cancelled>().is_some());
/// ```
#[track_caller]
pub fn gather_results_first_error<T: 'static>(
    deferreds: impl IntoIterator<Item = Deferred<T>>,
    consume_errors: bool,
) -> Deferred<Vec<T>> {
    let list = DeferredList::new(deferreds).fire_on_one_errback();
    let list = if consume_errors {
        list.consume_errors()
    } else {
        list
    };
    list.into_deferred()
        .add_callback(|results: Vec<Result<T, Failure>>| {
            results.into_iter().collect::<Result<Vec<T>, Failure>>()
        })
}

impl<T> fmt::Debug for DeferredList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredList")
            .field("deferreds", &self.deferreds.len())
            .field("fire_on_one_errback", &self.fire_on_one_errback)
            .field("consume_errors", &self.consume_errors)
            .finish()
    }
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deferred {} in the list failed first: {}",
            self.index, self.failure
        )
    }
}

impl Error for FirstError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.failure.error())
    }
}
