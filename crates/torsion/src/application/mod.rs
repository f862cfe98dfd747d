//! Services: what a program starts, runs and stops as one tree (Twisted's
//! `twisted.application.service`), and the [`Runner`] that drives a tree the way
//! `twistd` and `torsiond` do.
//!
//! ```
//! use std::{cell::Cell, rc::Rc, time::Duration};
//! use torsion::application::{MultiService, Service, TimerService};
//! use torsion::task::Clock;
//!
//! let (clock, ticks) = (Clock::new(), Rc::new(Cell::new(0)));
//! let root = MultiService::new("root");
//! let t = ticks.clone();
//! let tick = move || t.set(t.get() + 1);
//! root.add(Rc::new(TimerService::new("ticker", &clock, Duration::from_secs(1), tick)))?;
//! root.privileged_start()?; // binds low ports, before privileges are dropped
//! root.start()?;
//! clock.advance(Duration::from_secs(1));
//! clock.advance(Duration::from_secs(1));
//! assert_eq!(ticks.get(), 3); // at start, then every second
//! let stopped = root.stop(); // a Deferred: fires once every child has stopped
//! assert!(stopped.try_result().is_ok());
//! assert!(!root.is_running());
//! # Ok::<(), torsion::Failure>(())
//! ```
//!
//! A [`Service`] has a name, a running flag, a privileged start (bind a port below 1024
//! while still root), a start, and a stop that returns a [`Deferred`] which fires once
//! the service's work is done: a listening service stops accepting at once, and its
//! Deferred fires when its connections have finished. [`Service::abort`] ends what is
//! left when a drain runs out of time.
//!
//! - [`MultiService`] starts its children in the order they were added and stops them in
//!   reverse; its stop fires when every child's has (Twisted's `MultiService`).
//! - [`ListenService`] listens on an endpoint string with a factory (Twisted's
//!   `StreamServerEndpointService`); [`ListenService::with_drain`] lets a protocol
//!   that knows "idle" and "in flight" (an HTTP site) finish gracefully.
//! - [`TimerService`] calls a function every interval (Twisted's `TimerService`).
//! - [`ClientService`](crate::endpoints::ClientService) keeps a connection up; it is a
//!   `Service` too.
//! - [`Runner`] runs a tree on a reactor: privileged start, a hook to drop privileges,
//!   start, then on the first SIGTERM/SIGINT a graceful stop bounded by a drain timeout,
//!   and an immediate one on the second. [`example`] holds what the examples of every
//!   crate share on top of it.

mod client;
pub mod daemon;
pub mod example;
mod listen;
mod multi;
mod runner;
mod timer;

use std::cell::Cell;

use crate::defer::{Deferred, Failure};
use crate::net::{Address, ListeningPort};

pub use listen::{listen_endpoint, ListenService};
pub use multi::MultiService;
pub use runner::{Runner, DEFAULT_DRAIN_TIMEOUT};
pub use timer::TimerService;

/// Something a program starts and stops (Twisted's `IService`).
///
/// Methods take `&self`: services are shared (`Rc<dyn Service>`) between their parent
/// and whoever else needs them, and keep their state in cells.
pub trait Service {
    /// The service's name, for logs and for finding it in a tree.
    fn name(&self) -> &str;

    /// Work that needs the privileges the process starts with (binding a port below
    /// 1024), done before they are dropped and before [`start`](Service::start).
    ///
    /// # Errors
    /// What kept the service from doing it; the program should not go on.
    fn privileged_start(&self) -> Result<(), Failure> {
        Ok(())
    }

    /// Starts the service. Starting a running service does nothing.
    ///
    /// # Errors
    /// What kept the service from starting.
    fn start(&self) -> Result<(), Failure>;

    /// Stops the service gracefully; the Deferred fires once it is done (its
    /// connections finished, its pending call returned). Stopping a stopped service
    /// fires at once.
    fn stop(&self) -> Deferred<()>;

    /// Ends whatever a [`stop`](Service::stop) still waits for, now (connections are
    /// aborted). The default does nothing.
    fn abort(&self) {}

    /// Whether the service runs (started and not stopped).
    fn is_running(&self) -> bool;

    /// The addresses the service listens on (none for most services).
    fn addresses(&self) -> Vec<Address> {
        Vec::new()
    }

    /// The ports the service listens on, and those it stopped whose connections may
    /// still drain: for metrics (open and accepted connections).
    fn ports(&self) -> Vec<ListeningPort> {
        Vec::new()
    }
}

/// The name and running flag most services keep (Twisted's `Service` base class).
#[derive(Debug, Default)]
pub struct ServiceState {
    name: String,
    running: Cell<bool>,
}

impl ServiceState {
    /// A stopped service's state named `name`.
    pub fn new(name: impl Into<String>) -> ServiceState {
        ServiceState {
            name: name.into(),
            running: Cell::new(false),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it runs.
    pub fn is_running(&self) -> bool {
        self.running.get()
    }

    /// Sets the running flag; returns the old one.
    pub fn set_running(&self, running: bool) -> bool {
        self.running.replace(running)
    }
}

#[cfg(test)]
mod tests;
