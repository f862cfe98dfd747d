//! [`Protocol`], [`ProtocolFactory`] and [`ClientFactory`]: what turns bytes on a
//! connection into method calls (Twisted's `IProtocol`, `IHalfCloseableProtocol`,
//! `IProtocolFactory`, `ClientFactory`).

use std::{any::Any, fmt, marker::PhantomData, rc::Rc};

use super::{Address, Connector, Transport};
use crate::Failure;

/// How a connection ended, handed to [`Protocol::connection_lost`].
#[derive(Clone, Debug)]
pub enum CloseReason {
    /// Closed cleanly: either side closed and nothing failed (Twisted's `ConnectionDone`).
    Clean,
    /// The connection failed: reset, a failed write, an abort, a callback that panicked.
    /// The failure usually carries a [`ConnectionLost`](super::ConnectionLost).
    Lost(Failure),
}

impl CloseReason {
    /// True for a clean close.
    pub fn is_clean(&self) -> bool {
        matches!(self, CloseReason::Clean)
    }

    /// The failure, for a lost connection.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            CloseReason::Clean => None,
            CloseReason::Lost(failure) => Some(failure),
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Clean => f.write_str("connection closed cleanly"),
            CloseReason::Lost(failure) => write!(f, "connection lost: {failure}"),
        }
    }
}

/// The code that handles one connection (Twisted's `Protocol`).
///
/// The transport calls it, one method at a time, never while another of its methods runs:
/// `connection_made` first, then `data_received` for each chunk read (chunks are not
/// messages: framing is the protocol's job, see `protocols::basic`), then
/// `connection_lost` exactly once. Calling the transport from any of these is safe.
///
/// A method that panics closes this connection alone: the transport calls
/// `connection_lost` with the panic as a [`CloseReason::Lost`] and logs it.
pub trait Protocol: 'static {
    /// The protocol's Rust type name, which a stall report names as the code that held
    /// the loop. The default is right; a wrapper may name what it wraps.
    fn type_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// The connection is up; keep the transport to write to it.
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let _ = transport;
    }

    /// Bytes arrived. They are only borrowed: copy what must outlive the call.
    fn data_received(&mut self, data: &[u8]);

    /// The connection is gone; no other method is called after this one.
    fn connection_lost(&mut self, reason: CloseReason) {
        let _ = reason;
    }

    /// Whether this protocol handles half-close itself (Twisted's
    /// `IHalfCloseableProtocol`). When false (the default) and the peer closes its
    /// sending side, the transport writes out everything already buffered and then
    /// closes: no reply written before the peer's end of file is lost.
    fn handles_half_close(&self) -> bool {
        false
    }

    /// The peer will send nothing more (only called when
    /// [`handles_half_close`](Protocol::handles_half_close)); the protocol may still
    /// write, then calls `lose_connection`.
    fn read_connection_lost(&mut self) {}

    /// Our sending side is shut (after `lose_write_connection` and the buffer drained);
    /// only called when [`handles_half_close`](Protocol::handles_half_close).
    fn write_connection_lost(&mut self) {}
}

/// Builds a [`Protocol`] for each connection (Twisted's `Factory`).
///
/// Factories are shared (`&self`): keep state that protocols share in `Rc`s the
/// protocols clone. A listening port calls `start_factory` when it starts listening and
/// `stop_factory` when it stops (Twisted counts ports to call them once; torsion calls
/// them per port, so a factory shared by two ports hears each).
pub trait ProtocolFactory: 'static {
    /// A protocol for a connection from (or to) `addr`, or `None` to refuse it: the
    /// connection is closed at once.
    fn build_protocol(&self, addr: &Address) -> Option<Box<dyn Protocol>>;

    /// The factory is about to be used.
    fn start_factory(&self) {}

    /// The factory will not be used any more.
    fn stop_factory(&self) {}
}

/// A factory for outgoing connections (Twisted's `ClientFactory`): it also hears why a
/// connection attempt failed and when a made connection ended, with the
/// [`Connector`] to try again.
pub trait ClientFactory: ProtocolFactory {
    /// A connection attempt began.
    fn started_connecting(&self, connector: &Connector) {
        let _ = connector;
    }

    /// The attempt failed (refused, timed out, stopped); `reason` usually carries a
    /// [`ConnectError`](super::ConnectError).
    fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
        let _ = (connector, reason);
    }

    /// A made connection ended, after its protocol's `connection_lost`.
    fn client_connection_lost(&self, connector: &Connector, reason: &CloseReason) {
        let _ = (connector, reason);
    }
}

/// A factory made of a closure; see [`factory_fn`].
pub struct FnFactory<F, P = Box<dyn Protocol>> {
    build: F,
    /// The protocol type the closure builds (only a type: `fn() -> P` owns no `P`).
    protocol: PhantomData<fn() -> P>,
}

/// A factory that calls `build` for each connection; `build` returns the protocol, or
/// `None` to refuse the connection (Twisted's `buildProtocol` returning `None`):
///
/// ```
/// use torsion::net::{factory_fn, Protocol, ProtocolFactory};
/// struct Discard;
/// impl Protocol for Discard {
///     fn data_received(&mut self, _: &[u8]) {}
/// }
/// let factory = factory_fn(|_addr| Some(Discard));
/// # assert!(factory.build_protocol(&torsion::net::Address::Unix(None)).is_some());
/// ```
///
/// A closure that builds protocols of several types returns `Option<Box<dyn Protocol>>`
/// (a boxed protocol is a protocol too, and is not boxed a second time).
pub fn factory_fn<F, P>(build: F) -> FnFactory<F, P>
where
    F: Fn(&Address) -> Option<P> + 'static,
    P: Protocol,
{
    FnFactory {
        build,
        protocol: PhantomData,
    }
}

impl<F, P> ProtocolFactory for FnFactory<F, P>
where
    F: Fn(&Address) -> Option<P> + 'static,
    P: Protocol,
{
    fn build_protocol(&self, addr: &Address) -> Option<Box<dyn Protocol>> {
        (self.build)(addr).and_then(box_once)
    }
}

impl<F, P> ClientFactory for FnFactory<F, P>
where
    F: Fn(&Address) -> Option<P> + 'static,
    P: Protocol,
{
}

impl<F, P> fmt::Debug for FnFactory<F, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnFactory(..)")
    }
}

/// `protocol` as a `Box<dyn Protocol>`, boxing it only if it is not one already.
fn box_once<P: Protocol>(protocol: P) -> Option<Box<dyn Protocol>> {
    let mut slot = Some(protocol);
    // A type test, decided at compile time for each `P`.
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<Box<dyn Protocol>>>() {
        Some(boxed) => boxed.take(),
        None => slot.map(|protocol| Box::new(protocol) as Box<dyn Protocol>),
    }
}

impl<T: ProtocolFactory + ?Sized> ProtocolFactory for Rc<T> {
    fn build_protocol(&self, addr: &Address) -> Option<Box<dyn Protocol>> {
        (**self).build_protocol(addr)
    }

    fn start_factory(&self) {
        (**self).start_factory();
    }

    fn stop_factory(&self) {
        (**self).stop_factory();
    }
}

impl<T: ClientFactory + ?Sized> ClientFactory for Rc<T> {
    fn started_connecting(&self, connector: &Connector) {
        (**self).started_connecting(connector);
    }

    fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
        (**self).client_connection_failed(connector, reason);
    }

    fn client_connection_lost(&self, connector: &Connector, reason: &CloseReason) {
        (**self).client_connection_lost(connector, reason);
    }
}
