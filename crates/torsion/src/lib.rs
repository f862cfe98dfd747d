//! torsion: an event-driven networking engine in the model of Python's Twisted.
//!
//! A reactor waits for events and calls your code; Deferreds carry a result (or a
//! [`Failure`]) down a chain of callbacks and errbacks.

pub mod defer;
pub mod protocols;

pub use defer::{Deferred, Failure};
