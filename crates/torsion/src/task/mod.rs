//! Helpers that schedule work in time: [`LoopingCall`], [`defer_later`], [`Cooperator`]
//! and the fake [`Clock`] to test them on (Twisted's `twisted.internet.task`).
//!
//! ```
//! use std::{cell::Cell, rc::Rc, time::Duration};
//! use torsion::task::{Clock, LoopingCall};
//! let (clock, ticks) = (Clock::new(), Rc::new(Cell::new(0)));
//! let call = LoopingCall::new(&clock, { let t = ticks.clone(); move || t.set(t.get() + 1) });
//! let done = call.start(Duration::from_secs(1), true); // now = true: first tick at once
//! clock.pump(&[Duration::from_secs(1); 3]);
//! assert_eq!(ticks.get(), 4);
//! call.stop().unwrap();
//! assert!(done.called());
//! ```
//!
//! Everything here except [`react`] is written against
//! [`ReactorTime`](crate::time::ReactorTime), the time interface
//! that both the [`Reactor`](crate::Reactor) and [`Clock`] implement, and never imports the
//! reactor: code built on these helpers runs on the real loop and is tested on the fake
//! clock without sleeping. [`react`] is the one item that needs a real reactor, since its
//! whole job is to run one; it lives in `task/react.rs`.
//!
//! Functions that these helpers call repeatedly (a `LoopingCall`'s function, a cooperative
//! iterator's steps) return any [`StepResult`]: `()`, a `Result<_, Failure>`, or a
//! `Deferred` to wait for before the next call.

mod clock;
mod cooperate;
mod later;
mod looping;
mod react;

pub use clock::Clock;
pub use cooperate::{
    cooperate, CooperativeTask, Cooperator, Slice, TaskError, TaskState, DEFAULT_SLICE,
};
pub use later::defer_later;
pub use looping::{LoopingCall, LoopingCallError};
pub use react::{react, react_with};

use crate::defer::ok;
use crate::defer::{fail, succeed, Deferred};
use crate::Failure;

/// What a repeated function or a cooperative step returns: nothing, a result, or a
/// Deferred to wait for. Values are ignored, as in Twisted; failures stop the repetition.
pub trait StepResult: 'static {
    /// This result as a Deferred of nothing.
    fn into_deferred(self) -> Deferred<()>;
}

impl StepResult for () {
    fn into_deferred(self) -> Deferred<()> {
        succeed(())
    }
}

impl<T: 'static> StepResult for Result<T, Failure> {
    #[track_caller]
    fn into_deferred(self) -> Deferred<()> {
        match self {
            Ok(_) => succeed(()),
            Err(failure) => fail(failure),
        }
    }
}

impl<T: 'static> StepResult for Deferred<T> {
    fn into_deferred(self) -> Deferred<()> {
        self.add_callback(|_| ok(()))
    }
}
