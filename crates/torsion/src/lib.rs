//! torsion: an event-driven networking engine in the model of Python's Twisted.
//!
//! A reactor waits for events and calls your code; Deferreds carry a result (or a
//! [`Failure`]) down a chain of callbacks and errbacks.

pub mod defer;
pub mod net;
pub mod reactor;
mod sys;
pub mod testing;
pub mod time;

pub use defer::{Deferred, Failure};
pub use reactor::{Reactor, ReactorHandle};
pub use time::DelayedCall;
