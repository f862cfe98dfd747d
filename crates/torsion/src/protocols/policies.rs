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
    net::{Address, CloseReason, Protocol, ProtocolFactory, Transport},
    time::ReactorTime,
    DelayedCall,
};

/// Aborts the connection after `timeout` without incoming data (Twisted's `TimeoutMixin`
/// with its default `timeoutConnection`, which aborts).
pub struct TimeoutProtocol<P> {
    inner: P,
    clock: Rc<dyn ReactorTime>,
    timeout: Duration,
    timer: Option<DelayedCall>,
}

impl<P: Protocol> TimeoutProtocol<P> {
    /// Wraps `inner`, timing it on `clock` (a `Reactor`, or a `task::Clock` in tests).
    pub fn new<C: ReactorTime + Clone + 'static>(inner: P, clock: &C, timeout: Duration) -> Self {
        TimeoutProtocol {
            inner,
            clock: Rc::new(clock.clone()),
            timeout,
            timer: None,
        }
    }

    /// The wrapped protocol.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    fn reset(&mut self) {
        if let Some(timer) = &self.timer {
            if timer.active() {
                let _ = timer.reset(self.timeout);
            }
        }
    }
}

impl<P: Protocol> Protocol for TimeoutProtocol<P> {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let abort = transport.clone();
        let timeout = self.timeout;
        self.timer = Some(self.clock.call_later(
            self.timeout,
            Box::new(move || {
                tracing::debug!(peer = %abort.peer(), "connection idle for {timeout:?}: aborting");
                abort.abort_connection();
            }),
        ));
        self.inner.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.reset();
        self.inner.data_received(data);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        if let Some(timer) = self.timer.take() {
            if timer.active() {
                let _ = timer.cancel();
            }
        }
        self.inner.connection_lost(reason);
    }

    fn handles_half_close(&self) -> bool {
        self.inner.handles_half_close()
    }

    fn read_connection_lost(&mut self) {
        self.inner.read_connection_lost();
    }

    fn write_connection_lost(&mut self) {
        self.inner.write_connection_lost();
    }
}

impl<P> fmt::Debug for TimeoutProtocol<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutProtocol")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A factory that refuses connections past `max` open at once (they are closed as soon
/// as accepted), and otherwise builds with `inner`.
pub struct LimitConnections<F> {
    inner: F,
    max: usize,
    open: Rc<Cell<usize>>,
}

impl<F: ProtocolFactory> LimitConnections<F> {
    /// At most `max` connections from `inner` at once.
    pub fn new(inner: F, max: usize) -> Self {
        LimitConnections {
            inner,
            max,
            open: Rc::new(Cell::new(0)),
        }
    }

    /// How many connections are open now.
    pub fn open(&self) -> usize {
        self.open.get()
    }
}

impl<F: ProtocolFactory> ProtocolFactory for LimitConnections<F> {
    fn build_protocol(&self, addr: &Address) -> Option<Box<dyn Protocol>> {
        if self.open.get() >= self.max {
            tracing::debug!(peer = %addr, "{} connections open (max {}): refused", self.open.get(), self.max);
            return None;
        }
        let inner = self.inner.build_protocol(addr)?;
        self.open.set(self.open.get() + 1);
        Some(Box::new(Counted {
            inner,
            open: self.open.clone(),
        }))
    }

    fn start_factory(&self) {
        self.inner.start_factory();
    }

    fn stop_factory(&self) {
        self.inner.stop_factory();
    }
}

impl<F> fmt::Debug for LimitConnections<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitConnections")
            .field("max", &self.max)
            .field("open", &self.open.get())
            .finish_non_exhaustive()
    }
}

/// A protocol counted by a [`LimitConnections`]; uncounted when its connection ends.
struct Counted {
    inner: Box<dyn Protocol>,
    open: Rc<Cell<usize>>,
}

impl Protocol for Counted {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.inner.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.inner.data_received(data);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        self.open.set(self.open.get().saturating_sub(1));
        self.inner.connection_lost(reason);
    }

    fn handles_half_close(&self) -> bool {
        self.inner.handles_half_close()
    }

    fn read_connection_lost(&mut self) {
        self.inner.read_connection_lost();
    }

    fn write_connection_lost(&mut self) {
        self.inner.write_connection_lost();
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
