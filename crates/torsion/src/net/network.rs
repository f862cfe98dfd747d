//! [`StreamNetwork`]: listening and connecting over TCP and Unix stream sockets as a
//! trait (Twisted's `IReactorTCP` and `IReactorUNIX`), so code that opens ports and
//! connections can be handed a [`MemoryReactor`](crate::testing::MemoryReactor) in its
//! tests instead of a [`Reactor`].
//!
//! The free functions ([`listen_tcp`](super::listen_tcp), [`connect_tcp`](super::connect_tcp),
//! ...) stay the paved path; take a `&dyn StreamNetwork` (or `&impl StreamNetwork`) where
//! a test should be able to watch the calls:
//!
//! ```no_run
//! use std::rc::Rc;
//! use torsion::net::{factory_fn, ListenError, ListeningPort, Protocol, StreamNetwork};
//! # struct Echo;
//! # impl Protocol for Echo { fn data_received(&mut self, _: &[u8]) {} }
//!
//! fn serve(net: &dyn StreamNetwork, port: u16) -> Result<ListeningPort, ListenError> {
//!     let factory = factory_fn(|_| Some(Echo));
//!     net.listen_tcp(port, Rc::new(factory), 50, "127.0.0.1")
//! }
//! let reactor = torsion::Reactor::new().unwrap();
//! serve(&reactor, 8080).unwrap(); // a real socket; in tests, `&MemoryReactor::new()`
//! ```
//!
//! **Why factories come as `Rc<dyn ...>`.** The trait stays object safe (a service can
//! keep a `Rc<dyn StreamNetwork>`), and the memory reactor hands back the very factory a
//! test passed in (`Rc::ptr_eq`), as Twisted's `tcpServers` do.
//!
//! **Why the return types are the concrete [`ListeningPort`] and [`Connector`].**
//! `ClientFactory` callbacks already take `&Connector`, so a fake connector has to be a
//! `Connector`; both types carry a socket-backed or an in-memory state inside, and code
//! that uses them cannot tell which. No trait objects, no associated types, no change for
//! the callers of the free functions.

use std::{net::SocketAddr, path::Path, rc::Rc, time::Duration};

use super::{
    connect::{connect_tcp_shared, connect_unix_shared},
    listen::{listen_tcp_shared, listen_unix_shared},
    ClientFactory, Connector, ListenError, ListeningPort, ProtocolFactory, UnixListenOptions,
};
use crate::reactor::Reactor;

/// Listening and connecting over stream sockets (Twisted's `IReactorTCP` and
/// `IReactorUNIX`): implemented by [`Reactor`] with sockets, and by
/// [`MemoryReactor`](crate::testing::MemoryReactor) with records.
pub trait StreamNetwork {
    /// Listens on `interface:port` (see [`listen_tcp`](super::listen_tcp)).
    ///
    /// # Errors
    /// [`ListenError`] when the interface is not an address or the system refused.
    fn listen_tcp(
        &self,
        port: u16,
        factory: Rc<dyn ProtocolFactory>,
        backlog: u32,
        interface: &str,
    ) -> Result<ListeningPort, ListenError>;

    /// Connects to `host:port` (see [`connect_tcp`](super::connect_tcp)).
    fn connect_tcp(
        &self,
        host: &str,
        port: u16,
        factory: Rc<dyn ClientFactory>,
        timeout: Option<Duration>,
        bind_address: Option<SocketAddr>,
    ) -> Connector;

    /// Listens on the Unix socket `path` (see [`listen_unix_with`](super::listen_unix_with)).
    ///
    /// # Errors
    /// [`ListenError`] when the system refused or a live process holds the lock.
    fn listen_unix(
        &self,
        path: &Path,
        factory: Rc<dyn ProtocolFactory>,
        options: UnixListenOptions,
    ) -> Result<ListeningPort, ListenError>;

    /// Connects to the Unix socket at `path` (see [`connect_unix`](super::connect_unix)).
    fn connect_unix(
        &self,
        path: &Path,
        factory: Rc<dyn ClientFactory>,
        timeout: Option<Duration>,
    ) -> Connector;
}

impl StreamNetwork for Reactor {
    fn listen_tcp(
        &self,
        port: u16,
        factory: Rc<dyn ProtocolFactory>,
        backlog: u32,
        interface: &str,
    ) -> Result<ListeningPort, ListenError> {
        listen_tcp_shared(self, port, factory, backlog, interface)
    }

    fn connect_tcp(
        &self,
        host: &str,
        port: u16,
        factory: Rc<dyn ClientFactory>,
        timeout: Option<Duration>,
        bind_address: Option<SocketAddr>,
    ) -> Connector {
        connect_tcp_shared(self, host, port, factory, timeout, bind_address)
    }

    fn listen_unix(
        &self,
        path: &Path,
        factory: Rc<dyn ProtocolFactory>,
        options: UnixListenOptions,
    ) -> Result<ListeningPort, ListenError> {
        listen_unix_shared(self, path, factory, options)
    }

    fn connect_unix(
        &self,
        path: &Path,
        factory: Rc<dyn ClientFactory>,
        timeout: Option<Duration>,
    ) -> Connector {
        connect_unix_shared(self, path, factory, timeout)
    }
}
