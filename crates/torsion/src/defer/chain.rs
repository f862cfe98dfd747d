//! The untyped machinery under every `Deferred<T>`: a chain of links, its result, and
//! the loop that runs it.
//!
//! Values travel as boxed `Option<T>` ([`Value`]); the typed handles in `mod.rs`
//! guarantee that each link takes out the type the previous one put in, so no user ever
//! downcasts. Keeping this layer untyped keeps it one small loop.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::{Rc, Weak};

use super::failure::{AlreadyCalled, Cancelled, Failure};

/// Where a Deferred was created.
pub(crate) type Site = &'static Location<'static>;

/// A result travelling down a chain.
pub(crate) type Outcome = Result<Value, Failure>;

/// A boxed `Option<T>`: `take` leaves the box empty so that a link producing a value of
/// the same type can put it back without a new allocation.
#[doc(hidden)]
pub struct Value(Box<dyn Any>);

/// What a link produced: a result, or another chain to wait for.
#[doc(hidden)]
pub struct Step(pub(crate) StepKind);

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            StepKind::Done(Ok(_)) => f.write_str("Step(value)"),
            StepKind::Done(Err(failure)) => write!(f, "Step({failure:?})"),
            StepKind::Wait(chain) => write!(f, "Step(wait on {chain:?})"),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Value(..)")
    }
}

pub(crate) enum StepKind {
    Done(Outcome),
    Wait(Rc<Chain>),
}

enum Link {
    /// A callback/errback pair, and where it was added (reported if it panics).
    Call(Box<dyn FnOnce(Outcome) -> Step>, Site),
    /// Hand this chain's result to `outer`, which is waiting on this chain; always the
    /// last link, because the outer chain consumed this chain's tail handle.
    Continue(Rc<Chain>),
}

pub(crate) type Canceller = Box<dyn FnOnce(&Rc<Chain>)>;

/// One Deferred's chain. Every typed handle of one Deferred (`Deferred<T>` views made by
/// adding callbacks, `Resolver<T>`) shares one `Rc<Chain>`.
pub(crate) struct Chain {
    state: RefCell<State>,
    pub(crate) created: Site,
}

struct State {
    links: VecDeque<Link>,
    /// `None` before firing, while a link runs, and after the result was handed on.
    result: Option<Outcome>,
    called: bool,
    running: bool,
    paused: u32,
    /// Paused until `inner` fires (a callback returned an unfired Deferred).
    waiting: bool,
    inner: Weak<Chain>,
    canceller: Option<Canceller>,
    /// Where the chain was fired (Twisted's "first invoker"), for the unhandled report.
    fired_at: Option<Site>,
    /// Set by `cancel` without a canceller: the next firing is swallowed (Twisted's
    /// `_suppressAlreadyCalled`), so the code that would have fired need not know.
    suppress_already_called: bool,
}

impl Chain {
    pub(crate) fn new(created: Site, canceller: Option<Canceller>) -> Rc<Chain> {
        Rc::new(Chain {
            state: RefCell::new(State {
                links: VecDeque::new(),
                result: None,
                called: false,
                running: false,
                paused: 0,
                waiting: false,
                inner: Weak::new(),
                canceller,
                fired_at: None,
                suppress_already_called: false,
            }),
            created,
        })
    }

    /// A chain already fired with `outcome`.
    pub(crate) fn fired(created: Site, outcome: Outcome) -> Rc<Chain> {
        let chain = Chain::new(created, None);
        {
            let mut s = chain.state.borrow_mut();
            s.called = true;
            s.result = Some(outcome);
            s.fired_at = Some(created);
        }
        chain
    }

    pub(crate) fn called(&self) -> bool {
        self.state.borrow().called
    }

    pub(crate) fn paused(&self) -> bool {
        let s = self.state.borrow();
        s.paused > 0 || s.waiting
    }

    /// Twisted's `paused` counter: unmatched pauses, plus one while waiting on another
    /// chain (Twisted pauses the outer Deferred for that too).
    pub(crate) fn pause_count(&self) -> u32 {
        let s = self.state.borrow();
        s.paused + u32::from(s.waiting)
    }

    /// Fires the chain (Twisted's `callback`/`errback`) from `site`.
    pub(crate) fn fire(self: &Rc<Self>, outcome: Outcome, site: Site) -> Result<(), AlreadyCalled> {
        {
            let mut s = self.state.borrow_mut();
            if s.called {
                if s.suppress_already_called {
                    s.suppress_already_called = false;
                    return Ok(());
                }
                return Err(AlreadyCalled {
                    created: self.created,
                });
            }
            s.called = true;
            s.result = Some(outcome);
            s.fired_at = Some(site);
            // The canceller can no longer be needed; dropping it breaks cycles through
            // resolvers it may have captured.
            s.canceller = None;
        }
        run(self.clone());
        Ok(())
    }

    /// Adds a link. On a fired, idle chain it runs at once, without boxing.
    pub(crate) fn add<F>(self: &Rc<Self>, f: F, site: Site)
    where
        F: FnOnce(Outcome) -> Step + 'static,
    {
        let outcome = {
            let mut s = self.state.borrow_mut();
            if !s.called || s.running || s.paused > 0 || s.waiting || !s.links.is_empty() {
                if s.links.capacity() == 0 {
                    // Chains that get callbacks usually get several: grow once.
                    s.links.reserve(8);
                }
                s.links.push_back(Link::Call(Box::new(f), site));
                return;
            }
            let Some(outcome) = s.result.take() else {
                return; // Its result was handed to an outer chain: nothing can follow.
            };
            s.running = true;
            outcome
        };
        match guarded(f, outcome, site).0 {
            StepKind::Done(outcome) => run_from(self.clone(), outcome),
            StepKind::Wait(inner) => {
                if let Some(outcome) = self.wait_on(inner) {
                    run_from(self.clone(), outcome);
                }
            }
        }
    }

    pub(crate) fn pause(&self) {
        self.state.borrow_mut().paused += 1;
    }

    pub(crate) fn unpause(self: &Rc<Self>) {
        let resume = {
            let mut s = self.state.borrow_mut();
            s.paused = s.paused.saturating_sub(1);
            s.paused == 0 && s.called
        };
        if resume {
            run(self.clone());
        }
    }

    /// Twisted's `cancel`: runs the canceller of an unfired chain, then fails it with
    /// `Cancelled` if the canceller did not fire it; a chain waiting on an inner chain
    /// cancels the innermost one instead.
    #[track_caller]
    pub(crate) fn cancel(self: &Rc<Self>) {
        // Walk down, not recurse: chains waiting on chains may nest deeply.
        let mut target = self.clone();
        loop {
            let next = {
                let s = target.state.borrow();
                if !s.called {
                    break;
                }
                if !s.waiting {
                    return; // Fired and not waiting: nothing left to cancel.
                }
                s.inner.upgrade()
            };
            match next {
                Some(inner) => target = inner,
                None => return,
            }
        }
        let canceller = {
            let mut s = target.state.borrow_mut();
            let c = s.canceller.take();
            if c.is_none() {
                s.suppress_already_called = true;
            }
            c
        };
        if let Some(canceller) = canceller {
            canceller(&target);
        }
        if !target.called() {
            // Cannot fail: the chain was checked unfired just above.
            let _ = target.fire(Err(Failure::new(Cancelled)), Location::caller());
        }
    }

    /// True when `take_result` would give a result.
    pub(crate) fn has_result(&self) -> bool {
        let s = self.state.borrow();
        s.called
            && !s.running
            && s.paused == 0
            && !s.waiting
            && s.links.is_empty()
            && s.result.is_some()
    }

    /// Gives a canceller to a chain made without one (a list learns its members only
    /// after its chain exists).
    pub(crate) fn set_canceller(&self, canceller: Canceller) {
        let mut s = self.state.borrow_mut();
        if !s.called {
            s.canceller = Some(canceller);
        }
    }

    /// Takes the result of a fired chain that has nothing left to run, so that a chain
    /// waiting on it continues in the same loop instead of a nested call; also how tests
    /// and futures read a result synchronously.
    pub(crate) fn take_result(&self) -> Option<Outcome> {
        let mut s = self.state.borrow_mut();
        if s.called && !s.running && s.paused == 0 && !s.waiting && s.links.is_empty() {
            s.result.take()
        } else {
            None
        }
    }

    /// A link of this (running) chain returned `inner`: take its result if it has one,
    /// else park this chain until `inner` hands its result over (`None`).
    fn wait_on(self: &Rc<Self>, inner: Rc<Chain>) -> Option<Outcome> {
        if Rc::ptr_eq(&inner, self) {
            return Some(Err(Failure::msg(
                "a callback returned the Deferred it was added to",
            )));
        }
        if let Some(outcome) = inner.take_result() {
            return Some(outcome);
        }
        {
            let mut s = self.state.borrow_mut();
            s.running = false;
            s.waiting = true;
            s.inner = Rc::downgrade(&inner);
        }
        inner
            .state
            .borrow_mut()
            .links
            .push_back(Link::Continue(self.clone()));
        None
    }
}

/// Runs a fired chain's links, if it is free to run.
fn run(chain: Rc<Chain>) {
    let outcome = {
        let mut s = chain.state.borrow_mut();
        if s.running || s.paused > 0 || s.waiting || !s.called || s.links.is_empty() {
            return;
        }
        let Some(outcome) = s.result.take() else {
            return; // Its result was handed on: nothing can run.
        };
        s.running = true;
        outcome
    };
    run_from(chain, outcome);
}

/// Runs the links of `current`, which the caller marked running, starting with
/// `outcome`. The result stays in a local between links (one borrow per link). A
/// `Continue` link switches to the outer chain inside this same loop: this is the
/// trampoline that lets 100,000 nested Deferreds fire without growing the stack.
///
/// A pause made by one of the chain's own callbacks while it runs does not stop this
/// loop: as in Twisted's `_runCallbacks`, which looks at `paused` only before it starts
/// on a chain, the links already there (and any added meanwhile) run; the pause holds
/// back what is added after the run, until `unpause`.
fn run_from(mut current: Rc<Chain>, mut outcome: Outcome) {
    loop {
        let link = {
            let mut s = current.state.borrow_mut();
            match s.links.pop_front() {
                Some(link) => link,
                None => {
                    s.result = Some(outcome);
                    s.running = false;
                    return;
                }
            }
        };
        match link {
            Link::Call(f, site) => match guarded(f, outcome, site).0 {
                StepKind::Done(next) => outcome = next,
                StepKind::Wait(inner) => match current.wait_on(inner) {
                    Some(next) => outcome = next,
                    None => return,
                },
            },
            Link::Continue(outer) => {
                current.state.borrow_mut().running = false;
                {
                    let mut o = outer.state.borrow_mut();
                    o.waiting = false;
                    o.inner = Weak::new();
                    // The outer chain runs on here unless something else holds it.
                    if o.running || o.paused > 0 {
                        o.result = Some(outcome);
                        return;
                    }
                    o.running = true;
                }
                current = outer;
            }
        }
    }
}

/// Reports a failure that nobody handled: its type, where its Deferred was created and
/// fired (Twisted's "first invoker"), and where the failure was made. With no `tracing`
/// subscriber, the line goes to stderr (see [`super::report`]).
pub(crate) fn log_unhandled(failure: &Failure, created: Site, fired_at: Option<Site>) {
    let fired_at = fired_at.unwrap_or(created);
    tracing::error!(
        target: "torsion::defer",
        created = %created,
        fired_at = %fired_at,
        failure = %failure,
        error_type = failure.type_name(),
        failed_at = %failure.location(),
        "unhandled error in Deferred: {failure} ({}; Deferred created at {created}, \
         fired at {fired_at}, failed at {})",
        failure.type_name(),
        failure.location(),
    );
    super::report::to_stderr_unobserved(tracing::Level::ERROR, || {
        format!(
            "unhandled error in Deferred: {failure} ({}; Deferred created at {created}, \
             fired at {fired_at}, failed at {})",
            failure.type_name(),
            failure.location(),
        )
    });
}

/// Calls a link, turning a panic into a Failure that carries the panic's message and
/// the place where the panicking callback was added.
fn guarded<F: FnOnce(Outcome) -> Step>(f: F, outcome: Outcome, site: Site) -> Step {
    match panic::catch_unwind(AssertUnwindSafe(move || f(outcome))) {
        Ok(step) => step,
        Err(payload) => Step(StepKind::Done(Err(Failure::from_panic_at(payload, site)))),
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        let s = self.state.get_mut();
        if let Some(Err(failure)) = s.result.take() {
            log_unhandled(&failure, self.created, s.fired_at);
        }
        // Drop pending links iteratively: a long chain of Continue links would otherwise
        // recurse once per nested Deferred when the outermost is dropped.
        let mut nested: Vec<Link> = Vec::new();
        while let Some(link) = s.links.pop_front().or_else(|| nested.pop()) {
            if let Link::Continue(outer) = link {
                if let Ok(mut chain) = Rc::try_unwrap(outer) {
                    nested.extend(chain.state.get_mut().links.drain(..));
                    // `chain` drops here with no links left, so its drop cannot recurse.
                }
            }
        }
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        let state = match (&s.result, s.called) {
            (_, false) => "pending",
            (_, true) if s.waiting => "waiting on another Deferred",
            (Some(Ok(_)), true) => "fired with a value",
            (Some(Err(_)), true) => "fired with a failure",
            (None, true) => "fired, result handed on",
        };
        f.debug_struct("Deferred")
            .field("state", &state)
            .field("pending_callbacks", &s.links.len())
            .field("created", &format_args!("{}", self.created))
            .finish()
    }
}

impl Value {
    pub(crate) fn new<T: 'static>(value: T) -> Value {
        Value(Box::new(Some(value)))
    }

    /// Takes the value out. The typed handles guarantee `T`; a mismatch would be a bug in
    /// this module, and panics inside a guarded link (so it still becomes a Failure).
    pub(crate) fn take<T: 'static>(&mut self) -> T {
        match self.0.downcast_mut::<Option<T>>().and_then(Option::take) {
            Some(value) => value,
            None => panic!("torsion bug: Deferred value of unexpected type"),
        }
    }

    /// Puts `value` back, reusing the box when it held the same type.
    pub(crate) fn put<T: 'static>(mut self, value: T) -> Value {
        match self.0.downcast_mut::<Option<T>>() {
            Some(slot) => {
                *slot = Some(value);
                self
            }
            None => Value::new(value),
        }
    }
}
