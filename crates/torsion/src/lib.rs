//! torsion: an event-driven networking engine in the model of Python's Twisted.
//!
//! A [`Reactor`] waits for events and calls your code; [`Deferred`]s carry a value or a
//! [`Failure`] down a chain of callbacks with Twisted's rules and Rust's types, and can be
//! awaited, so Twisted's `inlineCallbacks` is plain `async` Rust.
//!
//! ```
//! use std::time::Duration;
//! use torsion::{defer::Deferred, Reactor};
//!
//! let reactor = Reactor::new().unwrap();
//! let (greeting, resolver) = Deferred::<&str>::new();
//! let stopper = reactor.clone();
//! greeting.add_callback(move |text| {
//!     println!("{text}");
//!     stopper.stop();
//!     Ok(())
//! });
//! reactor.call_later(Duration::from_millis(1), move || resolver.callback("hello").unwrap());
//! reactor.run();
//! ```
//!
//! # Layers
//!
//! Modules import only downward; `defer` and `time` know nothing of the reactor.
//!
//! ```text
//! application   Service trees and the Runner that starts, drains and stops them
//! endpoints     "tcp:8080:interface=127.0.0.1" parsed into typed descriptions (sans-IO)
//! protocols     framing cores (lines, length prefixes, netstrings) and their adapter;
//!               policies, the PROXY protocol, wire protocols, finger
//! net           Protocol, Transport, factories, the one protocol wrapper; TCP and Unix
//!               streams over a sans-IO stream state, UDP
//! process       child processes: spawn_process, ProcessProtocol, get_process_output
//! threads       the reactor's thread pool: defer_to_thread, blocking_call_from_thread
//! reactor       the loop: readiness backends, timers, system events, signals, wakeups, tasks
//! defer | time  Deferred, Failure, DeferredList, lock/semaphore/queue, await; timer heap
//! ```
//!
//! Beside them, [`task`] (LoopingCall, defer_later, Cooperator, the fake Clock) runs on
//! any clock through `time::ReactorTime`, and [`testing`] holds helpers for testing code
//! built on torsion without sockets or sleeps, including the clean-reactor check.

pub mod application;
pub mod defer;
pub mod endpoints;
pub mod net;
pub mod process;
pub mod protocols;
pub mod reactor;
mod sys;
pub mod task;
pub mod testing;
pub mod threads;
pub mod time;

pub use defer::{Deferred, Failure};
pub use reactor::{Reactor, ReactorHandle};
pub use time::DelayedCall;

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// The guide's Rust examples (docs/), compiled and run as doctests so that they stay true.
#[cfg(doctest)]
pub mod guide {
    /// docs/1-from-synchronous-to-reactor.md
    #[doc = include_str!("../../../docs/1-from-synchronous-to-reactor.md")]
    pub struct FromSynchronousToReactor;
    /// docs/2-deferreds.md
    #[doc = include_str!("../../../docs/2-deferreds.md")]
    pub struct Deferreds;
    /// docs/3-protocols.md
    #[doc = include_str!("../../../docs/3-protocols.md")]
    pub struct Protocols;
    /// docs/4-async-await.md
    #[doc = include_str!("../../../docs/4-async-await.md")]
    pub struct AsyncAwait;
    /// docs/5-blocking-work.md
    #[doc = include_str!("../../../docs/5-blocking-work.md")]
    pub struct BlockingWork;
}
