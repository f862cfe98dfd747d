//! One way to wrap a protocol or a factory (Twisted's `ProtocolWrapper` and
//! `WrappingFactory`): a [`ProtocolWrapper`] says only what it adds, and [`Wrapped`]
//! forwards every other [`Protocol`] call to the protocol inside.
//!
//! ```
//! use std::{cell::Cell, rc::Rc};
//! use torsion::net::{Protocol, ProtocolWrapper};
//! use torsion::protocols::wire::Echo;
//! use torsion::testing::StringTransport;
//!
//! /// Counts the bytes received; everything else goes to the wrapped protocol unchanged.
//! struct CountBytes(Rc<Cell<usize>>);
//! impl ProtocolWrapper for CountBytes {
//!     fn data_received(&mut self, inner: &mut dyn Protocol, data: &[u8]) {
//!         self.0.set(self.0.get() + data.len());
//!         inner.data_received(data);
//!     }
//! }
//!
//! let count = Rc::new(Cell::new(0));
//! let mut protocol = CountBytes(count.clone()).wrap(Echo::default());
//! let transport = StringTransport::new();
//! protocol.connection_made(transport.clone());
//! protocol.data_received(b"hello");
//! assert_eq!((count.get(), transport.value()), (5, b"hello".to_vec()));
//! ```
//!
//! Every hook of [`ProtocolWrapper`] defaults to forwarding, so a new method on
//! [`Protocol`] is forwarded by every wrapper at once. A wrapper may also stand between the
//! protocol and its connection, as TLS does: hand the inner protocol another
//! `Rc<dyn Transport>` in `connection_made` (one that encrypts what it writes) and pass it
//! other bytes in `data_received` (the decrypted ones). Policies (`protocols::policies`),
//! the endpoints' connection hooks and the memory reactor's connection tracking are all
//! wrappers of this kind.
//!
//! [`FactoryWrapper`] and [`WrappedFactory`] do the same for factories: a wrapper that
//! refuses connections, or wraps each protocol its factory builds, writes `build_protocol`
//! and inherits the rest.

use std::{cell::RefCell, fmt, rc::Rc};

use super::{Address, ClientFactory, CloseReason, Connector, Protocol, ProtocolFactory, Transport};
use crate::Failure;

/// What a wrapper adds around the protocol it wraps; each hook gets that protocol as
/// `inner` and, by default, forwards the call to it unchanged.
///
/// A hook decides when (and whether) the inner protocol hears the call: before what the
/// wrapper does, after it, or with other arguments (another transport, transformed
/// bytes). Put a wrapper around a protocol with [`wrap`](ProtocolWrapper::wrap).
pub trait ProtocolWrapper: 'static {
    /// The connection is up; the default hands `transport` to `inner`.
    fn connection_made(&mut self, inner: &mut dyn Protocol, transport: Rc<dyn Transport>) {
        inner.connection_made(transport);
    }

    /// Bytes arrived; the default hands them to `inner`.
    fn data_received(&mut self, inner: &mut dyn Protocol, data: &[u8]) {
        inner.data_received(data);
    }

    /// The connection is gone; the default tells `inner`.
    fn connection_lost(&mut self, inner: &mut dyn Protocol, reason: CloseReason) {
        inner.connection_lost(reason);
    }

    /// Whether the wrapped pair handles half-close; the default asks `inner`.
    fn handles_half_close(&self, inner: &dyn Protocol) -> bool {
        inner.handles_half_close()
    }

    /// The name a stall report gives the pair; the default names `inner`, the user's
    /// code, rather than the wrapper.
    fn type_name(&self, inner: &dyn Protocol) -> &'static str {
        inner.type_name()
    }

    /// The peer will send nothing more; the default tells `inner`.
    fn read_connection_lost(&mut self, inner: &mut dyn Protocol) {
        inner.read_connection_lost();
    }

    /// Our sending side is shut; the default tells `inner`.
    fn write_connection_lost(&mut self, inner: &mut dyn Protocol) {
        inner.write_connection_lost();
    }

    /// This wrapper around `inner`, as one [`Protocol`].
    fn wrap<P: Protocol>(self, inner: P) -> Wrapped<Self, P>
    where
        Self: Sized,
    {
        Wrapped {
            wrapper: self,
            inner,
        }
    }
}

/// A protocol inside a [`ProtocolWrapper`]: the [`Protocol`] the transport calls.
pub struct Wrapped<W, P = Box<dyn Protocol>> {
    wrapper: W,
    inner: P,
}

impl<W, P> Wrapped<W, P> {
    /// The wrapped protocol.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The wrapped protocol, mutably.
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// The wrapper.
    pub fn wrapper(&self) -> &W {
        &self.wrapper
    }

    /// The wrapper and the wrapped protocol, taken apart.
    pub fn into_parts(self) -> (W, P) {
        (self.wrapper, self.inner)
    }
}

impl<W: ProtocolWrapper, P: Protocol> Protocol for Wrapped<W, P> {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.wrapper.connection_made(&mut self.inner, transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.wrapper.data_received(&mut self.inner, data);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        self.wrapper.connection_lost(&mut self.inner, reason);
    }

    fn handles_half_close(&self) -> bool {
        self.wrapper.handles_half_close(&self.inner)
    }

    fn type_name(&self) -> &'static str {
        self.wrapper.type_name(&self.inner)
    }

    fn read_connection_lost(&mut self) {
        self.wrapper.read_connection_lost(&mut self.inner);
    }

    fn write_connection_lost(&mut self) {
        self.wrapper.write_connection_lost(&mut self.inner);
    }
}

impl<W: fmt::Debug, P> fmt::Debug for Wrapped<W, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wrapped")
            .field("wrapper", &self.wrapper)
            .finish_non_exhaustive()
    }
}

/// A boxed protocol is a protocol: `Wrapped<W>` wraps a `Box<dyn Protocol>` by default.
impl<P: Protocol + ?Sized> Protocol for Box<P> {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        (**self).connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        (**self).data_received(data);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        (**self).connection_lost(reason);
    }

    fn handles_half_close(&self) -> bool {
        (**self).handles_half_close()
    }

    fn type_name(&self) -> &'static str {
        (**self).type_name()
    }

    fn read_connection_lost(&mut self) {
        (**self).read_connection_lost();
    }

    fn write_connection_lost(&mut self) {
        (**self).write_connection_lost();
    }
}

/// A shared protocol serves a connection while whoever else holds the `Rc` keeps it
/// (Twisted's `connectProtocol`): each call borrows it mutably while it runs, so borrow
/// it only outside the connection's callbacks.
impl<P: Protocol> Protocol for Rc<RefCell<P>> {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.borrow_mut().connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.borrow_mut().data_received(data);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        self.borrow_mut().connection_lost(reason);
    }

    fn handles_half_close(&self) -> bool {
        self.borrow().handles_half_close()
    }

    fn type_name(&self) -> &'static str {
        // Asked before each call into the protocol: never panic if it is borrowed.
        self.try_borrow()
            .map_or(std::any::type_name::<P>(), |p| p.type_name())
    }

    fn read_connection_lost(&mut self) {
        self.borrow_mut().read_connection_lost();
    }

    fn write_connection_lost(&mut self) {
        self.borrow_mut().write_connection_lost();
    }
}

/// What a wrapper adds around the factory it wraps; each hook gets that factory as
/// `inner` and, by default, forwards the call to it unchanged.
///
/// The client hooks (a [`WrappedFactory`] is also a [`ClientFactory`]) hear about
/// connection attempts; they do nothing by default, since the wrapped factory need not
/// be a client factory. Put a wrapper around a factory with
/// [`wrap`](FactoryWrapper::wrap).
pub trait FactoryWrapper: 'static {
    /// A protocol for a connection from (or to) `addr`, or `None` to refuse it; the
    /// default asks `inner`. Wrap what `inner` builds here to wrap every protocol.
    fn build_protocol(
        &self,
        inner: &dyn ProtocolFactory,
        addr: &Address,
    ) -> Option<Box<dyn Protocol>> {
        inner.build_protocol(addr)
    }

    /// The factory is about to be used; the default tells `inner`.
    fn start_factory(&self, inner: &dyn ProtocolFactory) {
        inner.start_factory();
    }

    /// The factory will not be used any more; the default tells `inner`.
    fn stop_factory(&self, inner: &dyn ProtocolFactory) {
        inner.stop_factory();
    }

    /// A connection attempt began.
    fn started_connecting(&self, connector: &Connector) {
        let _ = connector;
    }

    /// The attempt failed.
    fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
        let _ = (connector, reason);
    }

    /// A made connection ended.
    fn client_connection_lost(&self, connector: &Connector, reason: &CloseReason) {
        let _ = (connector, reason);
    }

    /// This wrapper around `inner`, as one factory.
    fn wrap<F: ProtocolFactory>(self, inner: F) -> WrappedFactory<Self, F>
    where
        Self: Sized,
    {
        WrappedFactory {
            wrapper: self,
            inner,
        }
    }
}

/// A factory inside a [`FactoryWrapper`].
pub struct WrappedFactory<W, F = Rc<dyn ProtocolFactory>> {
    wrapper: W,
    inner: F,
}

impl<W, F> WrappedFactory<W, F> {
    /// The wrapped factory.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// The wrapper.
    pub fn wrapper(&self) -> &W {
        &self.wrapper
    }
}

impl<W: FactoryWrapper, F: ProtocolFactory> ProtocolFactory for WrappedFactory<W, F> {
    fn build_protocol(&self, addr: &Address) -> Option<Box<dyn Protocol>> {
        self.wrapper.build_protocol(&self.inner, addr)
    }

    fn start_factory(&self) {
        self.wrapper.start_factory(&self.inner);
    }

    fn stop_factory(&self) {
        self.wrapper.stop_factory(&self.inner);
    }
}

impl<W: FactoryWrapper, F: ProtocolFactory> ClientFactory for WrappedFactory<W, F> {
    fn started_connecting(&self, connector: &Connector) {
        self.wrapper.started_connecting(connector);
    }

    fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
        self.wrapper.client_connection_failed(connector, reason);
    }

    fn client_connection_lost(&self, connector: &Connector, reason: &CloseReason) {
        self.wrapper.client_connection_lost(connector, reason);
    }
}

impl<W: fmt::Debug, F> fmt::Debug for WrappedFactory<W, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedFactory")
            .field("wrapper", &self.wrapper)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "wrap_tests.rs"]
mod tests;
