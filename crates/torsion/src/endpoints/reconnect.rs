//! [`ReconnectingClientFactory`]: a client factory that connects again, with growing
//! delays, whenever its connection fails or is lost (Twisted's
//! `protocol.ReconnectingClientFactory`).
//!
//! ```
//! use std::time::Duration;
//! use torsion::endpoints::{Backoff, ReconnectingClientFactory};
//! use torsion::net::{factory_fn, Protocol};
//! use torsion::task::Clock;
//! # struct Quiet;
//! # impl Protocol for Quiet { fn data_received(&mut self, _: &[u8]) {} }
//!
//! let clock = Clock::new(); // the reactor in real code
//! let backoff = Backoff::seeded(1).with_jitter(0.0).with_max_retries(Some(5));
//! let factory = factory_fn(|_| Some(Box::new(Quiet) as Box<dyn Protocol>));
//! let reconnecting = ReconnectingClientFactory::new(&clock, factory, backoff);
//! // reactor.connect_tcp("127.0.0.1", 8000, reconnecting.clone(), TcpConnectOptions::default());
//! reconnecting.stop_trying(); // later: give up and stop any attempt under way
//! # let _ = Duration::ZERO;
//! ```
//!
//! After a failed or lost connection it tells the wrapped factory first, then asks its
//! [`Backoff`] for the delay and calls [`Connector::connect`] when it passes, on the
//! clock it was given. Unlike Twisted, where a subclass must call `resetDelay` itself, a
//! connection that is made resets the delay (the wrapped factory built its protocol).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use super::{Backoff, RandomSource, SplitMix64};
use crate::net::{Address, ClientFactory, CloseReason, Connector, Protocol, ProtocolFactory};
use crate::time::{DelayedCall, ReactorTime};
use crate::Failure;

/// Wraps a [`ClientFactory`] and reconnects its [`Connector`] after each failure or loss,
/// waiting what its [`Backoff`] says. Clones share one state: give a clone to
/// `connect_tcp` and keep one to call [`stop_trying`](Self::stop_trying).
pub struct ReconnectingClientFactory<R: RandomSource = SplitMix64> {
    inner: Rc<Inner<R>>,
}

struct Inner<R> {
    clock: Rc<dyn ReactorTime>,
    factory: Rc<dyn ClientFactory>,
    backoff: RefCell<Backoff<R>>,
    /// The pending reconnection (Twisted's `callID`).
    retry: RefCell<Option<DelayedCall>>,
    /// The connector last heard from, to stop it in `stop_trying`.
    connector: RefCell<Option<Connector>>,
}

impl<R: RandomSource + 'static> ReconnectingClientFactory<R> {
    /// Wraps `factory`; retries are timed on `clock` (the reactor, or a `task::Clock` in
    /// tests) with the delays `backoff` gives.
    pub fn new(
        clock: &(impl ReactorTime + Clone + 'static),
        factory: impl ClientFactory,
        backoff: Backoff<R>,
    ) -> Self {
        ReconnectingClientFactory {
            inner: Rc::new(Inner {
                clock: Rc::new(clock.clone()),
                factory: Rc::new(factory),
                backoff: RefCell::new(backoff),
                retry: RefCell::new(None),
                connector: RefCell::new(None),
            }),
        }
    }

    /// Stops reconnecting: cancels a pending retry and stops an attempt under way (a
    /// connection that is up stays up, and is not replaced when it ends).
    pub fn stop_trying(&self) {
        if let Some(retry) = self.inner.retry.borrow_mut().take() {
            let _ = retry.cancel();
        }
        self.inner.backoff.borrow_mut().stop_trying();
        let connector = self.inner.connector.borrow().clone();
        if let Some(connector) = connector {
            connector.stop_connecting();
        }
    }

    /// Starts the delays over, and trying again after `stop_trying` (Twisted's
    /// `resetDelay`); done for you when a connection is made.
    pub fn reset_delay(&self) {
        self.inner.backoff.borrow_mut().reset_delay();
    }

    /// How many retries since the last reset.
    pub fn retries(&self) -> u32 {
        self.inner.backoff.borrow().retries()
    }

    /// Whether a reconnection is scheduled.
    pub fn is_waiting(&self) -> bool {
        self.inner
            .retry
            .borrow()
            .as_ref()
            .is_some_and(DelayedCall::active)
    }

    /// Schedules the next attempt, or gives up (Twisted's `retry`).
    fn retry(&self, connector: &Connector) {
        *self.inner.connector.borrow_mut() = Some(connector.clone());
        let delay = self.inner.backoff.borrow_mut().next_delay();
        let Some(delay) = delay else {
            let retries = self.inner.backoff.borrow().retries();
            tracing::info!(
                "abandoning {} after {} retries",
                connector.destination(),
                retries.saturating_sub(1)
            );
            return;
        };
        tracing::info!("reconnecting to {} in {delay:?}", connector.destination());
        let connector = connector.clone();
        let call = self
            .inner
            .clock
            .call_later(delay, Box::new(move || connector.connect()));
        if let Some(old) = self.inner.retry.borrow_mut().replace(call) {
            let _ = old.cancel();
        }
    }
}

impl<R: RandomSource + 'static> ProtocolFactory for ReconnectingClientFactory<R> {
    fn build_protocol(&self, addr: &Address) -> Option<Box<dyn Protocol>> {
        let protocol = self.inner.factory.build_protocol(addr)?;
        // Connected: the next loss starts from the initial delay again.
        self.reset_delay();
        Some(protocol)
    }

    fn start_factory(&self) {
        self.inner.factory.start_factory();
    }

    fn stop_factory(&self) {
        self.inner.factory.stop_factory();
    }
}

impl<R: RandomSource + 'static> ClientFactory for ReconnectingClientFactory<R> {
    fn started_connecting(&self, connector: &Connector) {
        *self.inner.connector.borrow_mut() = Some(connector.clone());
        self.inner.factory.started_connecting(connector);
    }

    fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
        self.inner
            .factory
            .client_connection_failed(connector, reason);
        self.retry(connector);
    }

    fn client_connection_lost(&self, connector: &Connector, reason: &CloseReason) {
        self.inner.factory.client_connection_lost(connector, reason);
        self.retry(connector);
    }
}

impl<R: RandomSource> Clone for ReconnectingClientFactory<R> {
    fn clone(&self) -> Self {
        ReconnectingClientFactory {
            inner: self.inner.clone(),
        }
    }
}

impl<R: RandomSource> fmt::Debug for ReconnectingClientFactory<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backoff = self.inner.backoff.borrow();
        f.debug_struct("ReconnectingClientFactory")
            .field("retries", &backoff.retries())
            .field("delay", &backoff.current_delay())
            .finish()
    }
}
