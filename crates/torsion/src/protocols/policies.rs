//! Policies that wrap any protocol or factory (Twisted's `twisted.protocols.policies`):
//! an idle timeout per connection ([`TimeoutProtocol`], Twisted's `TimeoutMixin`) and a
//! cap on simultaneous connections per factory ([`LimitConnections`], Twisted's
//! `LimitTotalConnectionsFactory`).
//!
//! ```
//! use std::time::Duration;
//! use torsion::net::Protocol;
//! use torsion::protocols::{policies::TimeoutProtocol, wire::Echo};
//! use torsion::task::Clock;
//! use torsion::testing::StringTransport;
//!
//! let clock = Clock::new();
//! let mut protocol = TimeoutProtocol::new(Echo::default(), &clock, Duration::from_secs(30));
//! let transport = StringTransport::new();
//! protocol.connection_made(transport.clone());
//! clock.advance(Duration::from_secs(20));
//! protocol.data_received(b"still here"); // activity restarts the countdown
//! clock.advance(Duration::from_secs(20));
//! assert!(!transport.aborted());
//! clock.advance(Duration::from_secs(10));
//! assert!(transport.aborted()); // 30 s without a byte
//! ```

use std::{cell::Cell, fmt, rc::Rc, time::Duration};

use crate::{
    net::{
        Address, CloseReason, FactoryWrapper, Protocol, ProtocolFactory, ProtocolWrapper,
        Transport, Wrapped, WrappedFactory,
    },
    time::ReactorTime,
    DelayedCall,
};

/// A protocol that aborts its connection after `timeout` without incoming data
/// (Twisted's `TimeoutMixin` with its default `timeoutConnection`, which aborts).
pub type TimeoutProtocol<P> = Wrapped<IdleTimeout, P>;

/// The [`ProtocolWrapper`] behind a [`TimeoutProtocol`]: the clock, the timeout and the
/// armed timer.
pub struct IdleTimeout {
    clock: Rc<dyn ReactorTime>,
    timeout: Duration,
    timer: Option<DelayedCall>,
}

impl IdleTimeout {
    /// A timeout of `timeout` on `clock` (a `Reactor`, or a `task::Clock` in tests).
    pub fn new<C: ReactorTime + Clone + 'static>(clock: &C, timeout: Duration) -> Self {
        IdleTimeout {
            clock: Rc::new(clock.clone()),
            timeout,
            timer: None,
        }
    }

    fn reset(&mut self) {
        if let Some(timer) = &self.timer {
            if timer.active() {
                let _ = timer.reset(self.timeout);
            }
        }
    }
}

impl<P: Protocol> TimeoutProtocol<P> {
    /// Wraps `inner`, timing it on `clock` (a `Reactor`, or a `task::Clock` in tests).
    pub fn new<C: ReactorTime + Clone + 'static>(inner: P, clock: &C, timeout: Duration) -> Self {
        IdleTimeout::new(clock, timeout).wrap(inner)
    }
}

impl ProtocolWrapper for IdleTimeout {
    fn connection_made(&mut self, inner: &mut dyn Protocol, transport: Rc<dyn Transport>) {
        let abort = transport.clone();
        let timeout = self.timeout;
        self.timer = Some(self.clock.call_later(
            self.timeout,
            Box::new(move || {
                tracing::debug!(peer = %abort.peer(), "connection idle for {timeout:?}: aborting");
                abort.abort_connection();
            }),
        ));
        inner.connection_made(transport);
    }

    fn data_received(&mut self, inner: &mut dyn Protocol, data: &[u8]) {
        self.reset();
        inner.data_received(data);
    }

    fn connection_lost(&mut self, inner: &mut dyn Protocol, reason: CloseReason) {
        if let Some(timer) = self.timer.take() {
            if timer.active() {
                let _ = timer.cancel();
            }
        }
        inner.connection_lost(reason);
    }
}

impl fmt::Debug for IdleTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleTimeout")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A factory that refuses connections past `max` open at once (they are closed as soon
/// as accepted), and otherwise builds with `inner` (Twisted's
/// `LimitTotalConnectionsFactory`).
pub type LimitConnections<F> = WrappedFactory<ConnectionLimit, F>;

/// The [`FactoryWrapper`] behind a [`LimitConnections`]: the cap and the open count.
#[derive(Debug)]
pub struct ConnectionLimit {
    max: usize,
    open: Rc<Cell<usize>>,
}

impl ConnectionLimit {
    /// At most `max` connections at once.
    pub fn new(max: usize) -> Self {
        ConnectionLimit {
            max,
            open: Rc::new(Cell::new(0)),
        }
    }

    /// How many connections are open now.
    pub fn open(&self) -> usize {
        self.open.get()
    }
}

impl<F: ProtocolFactory> LimitConnections<F> {
    /// At most `max` connections from `inner` at once.
    pub fn new(inner: F, max: usize) -> Self {
        ConnectionLimit::new(max).wrap(inner)
    }

    /// How many connections are open now.
    pub fn open(&self) -> usize {
        self.wrapper().open()
    }
}

impl FactoryWrapper for ConnectionLimit {
    fn build_protocol(
        &self,
        inner: &dyn ProtocolFactory,
        addr: &Address,
    ) -> Option<Box<dyn Protocol>> {
        if self.open.get() >= self.max {
            tracing::debug!(peer = %addr, "{} connections open (max {}): refused", self.open.get(), self.max);
            return None;
        }
        let protocol = inner.build_protocol(addr)?;
        self.open.set(self.open.get() + 1);
        let counted = Counted {
            open: self.open.clone(),
        };
        Some(Box::new(counted.wrap(protocol)))
    }
}

/// Counts a protocol in its [`ConnectionLimit`]; uncounts it when its connection ends.
struct Counted {
    open: Rc<Cell<usize>>,
}

impl ProtocolWrapper for Counted {
    fn connection_lost(&mut self, inner: &mut dyn Protocol, reason: CloseReason) {
        self.open.set(self.open.get().saturating_sub(1));
        inner.connection_lost(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{protocols::wire::Echo, task::Clock, testing::StringTransport};

    #[test]
    fn the_timer_is_cancelled_when_the_connection_ends() {
        let clock = Clock::new();
        let mut protocol = TimeoutProtocol::new(Echo::default(), &clock, Duration::from_secs(5));
        protocol.connection_made(StringTransport::new());
        protocol.connection_lost(CloseReason::Clean);
        assert_eq!(clock.advance(Duration::from_secs(10)), 0);
    }

    #[test]
    fn the_cap_refuses_past_max_and_frees_a_slot_on_close() {
        let factory = LimitConnections::new(Echo::factory(), 2);
        let addr = Address::Unix(None);
        let mut first = factory.build_protocol(&addr).unwrap();
        let _second = factory.build_protocol(&addr).unwrap();
        assert!(factory.build_protocol(&addr).is_none());
        first.connection_lost(CloseReason::Clean);
        assert_eq!(factory.open(), 1);
        assert!(factory.build_protocol(&addr).is_some());
    }
}
