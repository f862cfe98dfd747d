//! [`StreamNetwork`]: listening and connecting over TCP and Unix stream sockets
//! (Twisted's `IReactorTCP` and `IReactorUNIX`), and the handles those calls return,
//! [`ListeningPort`] and [`Connector`].
//!
//! The trait's four methods are the one way to listen and connect: a [`Reactor`] does
//! it with sockets, a [`MemoryReactor`](crate::testing::MemoryReactor) records the calls
//! for a test. Code that takes a `&dyn StreamNetwork` (or `&impl StreamNetwork`) can be
//! handed either:
//!
//! ```no_run
//! use std::rc::Rc;
//! use torsion::net::{factory_fn, ListenError, ListeningPort, Protocol, StreamNetwork};
//! use torsion::net::TcpListenOptions;
//! # struct Echo;
//! # impl Protocol for Echo { fn data_received(&mut self, _: &[u8]) {} }
//!
//! fn serve(net: &dyn StreamNetwork, port: u16) -> Result<ListeningPort, ListenError> {
//!     let factory = factory_fn(|_| Some(Echo));
//!     net.listen_tcp(port, Rc::new(factory), TcpListenOptions::default().interface("127.0.0.1"))
//! }
//! let reactor = torsion::Reactor::new().unwrap();
//! serve(&reactor, 8080).unwrap(); // a real socket; in tests, `&MemoryReactor::new()`
//! ```
//!
//! **Why factories come as `Rc<dyn ...>`.** The trait stays object safe (a service can
//! keep a `Rc<dyn StreamNetwork>`), one form serves every implementation, and the memory
//! reactor hands back the very factory a test passed in (`Rc::ptr_eq`), as Twisted's
//! `tcpServers` do.
//!
//! **Why the handles are concrete types.** `ClientFactory` callbacks take `&Connector`,
//! whoever connects. Each handle is a thin `Rc` over an implementation the network
//! provides (a socket port or connector, or the memory reactor's records); code above
//! `net` cannot tell which, and `net` itself knows nothing of the test doubles.

use std::{fmt, path::Path, rc::Rc};

use super::{
    connect, listen, Address, ClientFactory, ListenError, ProtocolFactory, TcpConnectOptions,
    TcpListenOptions, Transport, UnixConnectOptions, UnixListenOptions,
};
use crate::{
    defer::{succeed, Deferred},
    reactor::Reactor,
};

/// Listening and connecting over stream sockets (Twisted's `IReactorTCP` and
/// `IReactorUNIX`): implemented by [`Reactor`] with sockets, and by
/// [`MemoryReactor`](crate::testing::MemoryReactor) with records.
///
/// Bring the trait into scope to call it on a reactor:
/// `reactor.listen_tcp(0, factory, TcpListenOptions::default())`.
pub trait StreamNetwork {
    /// Listens on `options.interface:port` and serves each connection with a protocol
    /// from `factory`. Port 0 picks a free port: read it with [`ListeningPort::port`].
    ///
    /// ```no_run
    /// use std::rc::Rc;
    /// use torsion::net::{factory_fn, Protocol, StreamNetwork, TcpListenOptions};
    /// # struct Echo;
    /// # impl Protocol for Echo { fn data_received(&mut self, _: &[u8]) {} }
    /// let reactor = torsion::Reactor::new().unwrap();
    /// let factory = Rc::new(factory_fn(|_| Some(Echo)));
    /// let options = TcpListenOptions::default().interface("127.0.0.1");
    /// let port = reactor.listen_tcp(8080, factory, options).unwrap();
    /// println!("listening on {}", port.address());
    /// reactor.run();
    /// ```
    ///
    /// # Errors
    /// [`ListenError`]: the interface is not an IP address, or the system refused
    /// (`listen tcp 127.0.0.1:80: permission denied`).
    fn listen_tcp(
        &self,
        port: u16,
        factory: Rc<dyn ProtocolFactory>,
        options: TcpListenOptions,
    ) -> Result<ListeningPort, ListenError>;

    /// Connects to `host:port` and serves the connection with a protocol from `factory`;
    /// `options.timeout` bounds the attempt (a [`ConnectError::TimedOut`] naming the
    /// address), `options.bind_address` picks our end.
    ///
    /// `host` may be an IP address (no lookup) or a name, resolved on the reactor's
    /// thread pool and tried address by address in the resolver's order (when all fail,
    /// [`ConnectError::AllFailed`] names each address and why); the timeout then covers
    /// the lookup and every attempt ([`ConnectError::HostTimedOut`]).
    ///
    /// Failures always reach `client_connection_failed` from the loop, never from
    /// inside this call.
    ///
    /// [`ConnectError::TimedOut`]: super::ConnectError::TimedOut
    /// [`ConnectError::AllFailed`]: super::ConnectError::AllFailed
    /// [`ConnectError::HostTimedOut`]: super::ConnectError::HostTimedOut
    fn connect_tcp(
        &self,
        host: &str,
        port: u16,
        factory: Rc<dyn ClientFactory>,
        options: TcpConnectOptions,
    ) -> Connector;

    /// Listens on the Unix socket `path` (which must not exist yet) with the options'
    /// mode and backlog (Twisted's `listenUNIX`). The path is removed when the port stops
    /// listening.
    ///
    /// ```no_run
    /// use std::{path::Path, rc::Rc};
    /// use torsion::net::{factory_fn, Protocol, StreamNetwork, UnixListenOptions};
    /// # struct Echo;
    /// # impl Protocol for Echo { fn data_received(&mut self, _: &[u8]) {} }
    /// let reactor = torsion::Reactor::new().unwrap();
    /// let factory = Rc::new(factory_fn(|_| Some(Echo)));
    /// let options = UnixListenOptions::default().mode(0o660).backlog(128);
    /// let port = reactor.listen_unix(Path::new("/tmp/echo.sock"), factory, options).unwrap();
    /// ```
    ///
    /// A lock file for the socket (Twisted's `wantPID`, in Twisted's own format so
    /// Twisted clients can check it) is the endpoint layer's: `unix:PATH:lockfile=1`
    /// through `endpoints::server_from_string`.
    ///
    /// # Errors
    /// [`ListenError`]: `listen unix /run/app.sock: address in use`, ...
    fn listen_unix(
        &self,
        path: &Path,
        factory: Rc<dyn ProtocolFactory>,
        options: UnixListenOptions,
    ) -> Result<ListeningPort, ListenError>;

    /// Connects to the Unix socket at `path` (Twisted's `connectUNIX`).
    fn connect_unix(
        &self,
        path: &Path,
        factory: Rc<dyn ClientFactory>,
        options: UnixConnectOptions,
    ) -> Connector;
}

impl StreamNetwork for Reactor {
    fn listen_tcp(
        &self,
        port: u16,
        factory: Rc<dyn ProtocolFactory>,
        options: TcpListenOptions,
    ) -> Result<ListeningPort, ListenError> {
        listen::listen_tcp(self, port, factory, &options)
    }

    fn connect_tcp(
        &self,
        host: &str,
        port: u16,
        factory: Rc<dyn ClientFactory>,
        options: TcpConnectOptions,
    ) -> Connector {
        connect::connect_tcp(self, host, port, factory, options)
    }

    fn listen_unix(
        &self,
        path: &Path,
        factory: Rc<dyn ProtocolFactory>,
        options: UnixListenOptions,
    ) -> Result<ListeningPort, ListenError> {
        listen::listen_unix(self, path, factory, options)
    }

    fn connect_unix(
        &self,
        path: &Path,
        factory: Rc<dyn ClientFactory>,
        options: UnixConnectOptions,
    ) -> Connector {
        connect::connect_unix(self, path, factory, options)
    }
}

/// A port that accepts connections for a factory (Twisted's `IListeningPort`).
///
/// A reactor keeps its ports listening even if this handle is dropped;
/// [`stop_listening`](ListeningPort::stop_listening) stops it. A port from a
/// [`MemoryReactor`](crate::testing::MemoryReactor) has no socket: it knows its address
/// and whether it was stopped, and never has connections.
#[derive(Clone)]
pub struct ListeningPort {
    port: Rc<dyn PortBackend>,
}

/// What a [`ListeningPort`] handle stands for: a listening socket (`listen.rs`) or the
/// memory reactor's record.
pub(crate) trait PortBackend {
    /// Runs `f` once, when the port stops listening (at once if it has stopped).
    fn on_stop(&self, f: Box<dyn FnOnce()>);
    fn address(&self) -> Address;
    fn stop_listening(&self) -> Deferred<()>;
    fn is_listening(&self) -> bool;
    fn connection_count(&self) -> usize;
    fn lose_connections(&self) -> Deferred<()>;
    /// Connections accepted since the port started listening (for metrics).
    fn accepted_count(&self) -> u64 {
        0
    }
    /// Fires once no connection of the port is open, asking none to close.
    fn when_connections_closed(&self) -> Deferred<()> {
        succeed(())
    }
    /// Aborts every open connection of the port.
    fn abort_connections(&self) {}
}

impl ListeningPort {
    /// A handle on `port`.
    pub(crate) fn new(port: Rc<dyn PortBackend>) -> ListeningPort {
        ListeningPort { port }
    }

    /// Runs `f` once, when the port stops listening.
    pub(crate) fn on_stop(&self, f: impl FnOnce() + 'static) {
        self.port.on_stop(Box::new(f));
    }

    /// The TCP port listened on (the real one when 0 was asked for); 0 for Unix sockets.
    pub fn port(&self) -> u16 {
        self.address().port().unwrap_or(0)
    }

    /// The address listened on (Twisted's `getHost()`).
    pub fn address(&self) -> Address {
        self.port.address()
    }

    /// Stops accepting; connections already made go on (as in Twisted). The Deferred has
    /// fired when this returns: the socket is closed (a Unix socket's path removed, and
    /// an endpoint's lock file) and the factory stopped.
    pub fn stop_listening(&self) -> Deferred<()> {
        self.port.stop_listening()
    }

    /// Whether the port still accepts connections.
    pub fn is_listening(&self) -> bool {
        self.port.is_listening()
    }

    /// How many connections accepted by this port are open.
    pub fn connection_count(&self) -> usize {
        self.port.connection_count()
    }

    /// Asks every open connection of this port to close after writing what it buffered
    /// (`lose_connection`); the Deferred fires once the last one is gone. With
    /// `stop_listening`, this is a graceful shutdown: return it from a `Before Shutdown`
    /// trigger.
    pub fn lose_connections(&self) -> Deferred<()> {
        self.port.lose_connections()
    }

    /// How many connections this port accepted since it started listening.
    pub fn accepted_count(&self) -> u64 {
        self.port.accepted_count()
    }

    /// Fires once no connection accepted by this port is open (at once when none is),
    /// without asking any to close: what a graceful drain waits for while the
    /// protocols finish their work.
    pub fn when_connections_closed(&self) -> Deferred<()> {
        self.port.when_connections_closed()
    }

    /// Aborts every open connection of this port now, dropping what they buffered
    /// (`abort_connection`): the end of a drain that ran out of time.
    pub fn abort_connections(&self) {
        self.port.abort_connections();
    }
}

impl fmt::Debug for ListeningPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListeningPort")
            .field("address", &self.address())
            .field("listening", &self.is_listening())
            .field("connections", &self.connection_count())
            .finish()
    }
}

/// Drives one outgoing connection (Twisted's `IConnector`): stop the attempt, drop the
/// connection, or connect again (a reconnecting factory calls
/// [`connect`](Connector::connect) from `client_connection_lost`).
///
/// A connector from a [`MemoryReactor`](crate::testing::MemoryReactor) has no socket:
/// the test decides when it connects or fails.
#[derive(Clone)]
pub struct Connector {
    attempt: Rc<dyn ConnectorBackend>,
}

/// What a [`Connector`] handle stands for: a socket connector (`connect.rs`) or the
/// memory reactor's record. The methods that may call the factory take `Rc<Self>`, so
/// the implementation can hand the factory a [`Connector`] on itself.
pub(crate) trait ConnectorBackend {
    fn connect(self: Rc<Self>);
    fn stop_connecting(self: Rc<Self>);
    fn transport(&self) -> Option<Rc<dyn Transport>>;
    fn destination(&self) -> Address;
    /// `idle`, `resolving`, `connecting` or `connected`, for `Debug`.
    fn phase(&self) -> &'static str;
}

impl Connector {
    /// A handle on `attempt`.
    pub(crate) fn new(attempt: Rc<dyn ConnectorBackend>) -> Connector {
        Connector { attempt }
    }

    /// Starts a new attempt; a no-op while connecting or connected.
    pub fn connect(&self) {
        self.attempt.clone().connect();
    }

    /// Abandons the attempt in progress; the factory hears
    /// [`ConnectError::Stopped`](super::ConnectError::Stopped).
    pub fn stop_connecting(&self) {
        self.attempt.clone().stop_connecting();
    }

    /// Stops connecting, or closes the connection (`lose_connection`).
    pub fn disconnect(&self) {
        self.stop_connecting();
        if let Some(transport) = self.transport() {
            transport.lose_connection();
        }
    }

    /// The connection's transport, while connected.
    pub fn transport(&self) -> Option<Rc<dyn Transport>> {
        self.attempt.transport()
    }

    /// Where this connector connects to. A host name shows as the address being tried or
    /// connected to; before it resolved, as the unspecified address `0.0.0.0` and the
    /// port.
    pub fn destination(&self) -> Address {
        self.attempt.destination()
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("destination", &self.destination())
            .field("phase", &self.attempt.phase())
            .finish()
    }
}
