//! [`MemoryReactor`]: a [`StreamNetwork`] that opens no sockets and records every listen
//! and connect call (Twisted's `proto_helpers.MemoryReactor`), so code that calls
//! `listen_tcp` or `connect_tcp` is tested without a network.
//!
//! ```
//! use std::{cell::RefCell, rc::Rc, time::Duration};
//! use torsion::net::{ClientFactory, CloseReason, Connector, Protocol, ProtocolFactory};
//! use torsion::net::{Address, StreamNetwork, TcpConnectOptions, Transport};
//! use torsion::testing::{MemoryReactor, StringTransport};
//!
//! /// The code under test: asks a finger server about `user`, keeps the answer.
//! struct Finger { user: &'static str, answer: Rc<RefCell<Vec<u8>>> }
//! struct Query { user: &'static str, answer: Rc<RefCell<Vec<u8>>> }
//! impl Protocol for Query {
//!     fn connection_made(&mut self, t: Rc<dyn Transport>) {
//!         t.write_sequence(&[self.user.as_bytes(), b"\r\n"]);
//!     }
//!     fn data_received(&mut self, data: &[u8]) {
//!         self.answer.borrow_mut().extend_from_slice(data);
//!     }
//! }
//! impl ProtocolFactory for Finger {
//!     fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
//!         Some(Box::new(Query { user: self.user, answer: self.answer.clone() }))
//!     }
//! }
//! impl ClientFactory for Finger {}
//!
//! fn finger(net: &dyn StreamNetwork, host: &str, finger: Rc<Finger>) -> Connector {
//!     net.connect_tcp(host, 79, finger, TcpConnectOptions::default().timeout(Duration::from_secs(30)))
//! }
//!
//! let memory = MemoryReactor::new();
//! let answer = Rc::new(RefCell::new(Vec::new()));
//! finger(&memory, "example.com", Rc::new(Finger { user: "moshez", answer: answer.clone() }));
//!
//! // The call was recorded...
//! let client = &memory.tcp_clients()[0];
//! assert_eq!((client.host.as_str(), client.port), ("example.com", 79));
//! assert_eq!(client.options.timeout, Some(Duration::from_secs(30)));
//! // ...and the test plays the network: connect the factory's protocol to a transport.
//! let transport = StringTransport::new();
//! let mut query = client.connect(transport.clone()).expect("the factory built a protocol");
//! assert_eq!(transport.value(), b"moshez\r\n");
//! query.data_received(b"Login: moshez\r\n");
//! query.connection_lost(CloseReason::Clean); // the factory hears client_connection_lost
//! assert_eq!(*answer.borrow(), b"Login: moshez\r\n");
//! ```
//!
//! # What is recorded, what the test drives
//!
//! Each call is kept, in order, with its arguments and the handle it returned:
//! [`tcp_servers`](MemoryReactor::tcp_servers), [`tcp_clients`](MemoryReactor::tcp_clients),
//! [`unix_servers`](MemoryReactor::unix_servers) and
//! [`unix_clients`](MemoryReactor::unix_clients), as Twisted's lists. The factory is the
//! very `Rc` passed in (`Rc::ptr_eq` holds).
//!
//! - A listen returns a [`ListeningPort`] without a socket: it reports the address asked
//!   for (port 0 stays 0), has no connections, and stops listening on
//!   `stop_listening`. To play an incoming connection, call the recorded factory's
//!   `build_protocol` and connect the protocol to a [`StringTransport`](super::StringTransport) or a
//!   [`LoopbackPump`](super::LoopbackPump).
//! - A connect returns a [`Connector`] without a socket, and the factory hears
//!   `started_connecting` at once (as in Twisted). The connector stays connecting until
//!   the test calls [`connect`](TcpClient::connect) (builds the protocol for the
//!   destination and calls `connection_made`; `None` when the factory refuses, which it
//!   hears as `client_connection_failed`), [`build_protocol`](TcpClient::build_protocol)
//!   (the same, without `connection_made`: for a `LoopbackPump`) or
//!   [`fail`](TcpClient::fail) (`client_connection_failed` with the test's reason). The
//!   protocol handed out tells the connector about `connection_made` and
//!   `connection_lost`, so the factory hears `client_connection_lost`, and a factory that
//!   reconnects from there moves the connector back to connecting
//!   ([`attempts`](TcpClient::attempts) counts). `stop_connecting` works as on a socket
//!   connector: the factory hears [`ConnectError::Stopped`].
//!
//! Nothing else is called: no `start_factory`/`stop_factory` (Twisted's does not either),
//! no timers (a timeout is recorded, never applied), no name lookups.

use std::{
    cell::{Cell, RefCell},
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    rc::Rc,
};

use crate::{
    net::{
        Address, ClientFactory, CloseReason, ConnectError, Connector, ConnectorBackend,
        ListenError, ListeningPort, PortBackend, Protocol, ProtocolFactory, StreamNetwork,
        TcpConnectOptions, TcpListenOptions, Transport, UnixConnectOptions, UnixListenOptions,
    },
    Deferred, Failure,
};

/// Records listen and connect calls instead of opening sockets; see the
/// [module docs](self).
#[derive(Default)]
pub struct MemoryReactor {
    records: RefCell<Records>,
}

#[derive(Default)]
struct Records {
    tcp_servers: Vec<TcpServer>,
    tcp_clients: Vec<TcpClient>,
    unix_servers: Vec<UnixServer>,
    unix_clients: Vec<UnixClient>,
}

/// A recorded [`StreamNetwork::listen_tcp`] call (Twisted's `tcpServers` entry).
#[derive(Clone)]
#[non_exhaustive]
pub struct TcpServer {
    /// The port asked for.
    pub port: u16,
    /// The factory passed in.
    pub factory: Rc<dyn ProtocolFactory>,
    /// Backlog and interface asked for.
    pub options: TcpListenOptions,
    /// The port handed back.
    pub listening: ListeningPort,
}

/// A recorded [`StreamNetwork::listen_unix`] call (Twisted's `unixServers` entry).
#[derive(Clone)]
#[non_exhaustive]
pub struct UnixServer {
    /// The socket path asked for.
    pub path: PathBuf,
    /// The factory passed in.
    pub factory: Rc<dyn ProtocolFactory>,
    /// Mode and backlog asked for.
    pub options: UnixListenOptions,
    /// The port handed back.
    pub listening: ListeningPort,
}

/// A recorded [`StreamNetwork::connect_tcp`] call (Twisted's `tcpClients` entry), and the
/// means to play its outcome.
#[derive(Clone)]
#[non_exhaustive]
pub struct TcpClient {
    /// The host asked for, as given.
    pub host: String,
    /// The port asked for.
    pub port: u16,
    /// The factory passed in.
    pub factory: Rc<dyn ClientFactory>,
    /// Timeout (never applied) and local address asked for.
    pub options: TcpConnectOptions,
    /// The connector handed back (the one the factory's callbacks get).
    pub connector: Connector,
    attempt: Rc<FakeConnector>,
}

/// A recorded [`StreamNetwork::connect_unix`] call (Twisted's `unixClients` entry), and
/// the means to play its outcome.
#[derive(Clone)]
#[non_exhaustive]
pub struct UnixClient {
    /// The socket path asked for.
    pub path: PathBuf,
    /// The factory passed in.
    pub factory: Rc<dyn ClientFactory>,
    /// Timeout asked for (never applied).
    pub options: UnixConnectOptions,
    /// The connector handed back (the one the factory's callbacks get).
    pub connector: Connector,
    attempt: Rc<FakeConnector>,
}

/// The state behind a memory [`ListeningPort`]: an address, whether it still listens,
/// and what to run when it stops.
struct MemoryPort {
    address: Address,
    listening: Cell<bool>,
    on_stop: RefCell<Vec<Box<dyn FnOnce()>>>,
}

/// The state behind a memory [`Connector`].
struct FakeConnector {
    factory: Rc<dyn ClientFactory>,
    destination: Address,
    state: RefCell<State>,
    attempts: Cell<usize>,
}

enum State {
    Idle,
    Connecting,
    Connected(Rc<dyn Transport>),
}

/// A protocol handed to the test: tells its connector what happens to it.
struct Tracked {
    inner: Box<dyn Protocol>,
    attempt: Rc<FakeConnector>,
    connector: Connector,
}

impl MemoryReactor {
    /// A memory reactor with nothing recorded.
    pub fn new() -> MemoryReactor {
        MemoryReactor::default()
    }

    /// Every `listen_tcp` call so far, in order.
    pub fn tcp_servers(&self) -> Vec<TcpServer> {
        self.records.borrow().tcp_servers.clone()
    }

    /// Every `connect_tcp` call so far, in order.
    pub fn tcp_clients(&self) -> Vec<TcpClient> {
        self.records.borrow().tcp_clients.clone()
    }

    /// Every `listen_unix` call so far, in order.
    pub fn unix_servers(&self) -> Vec<UnixServer> {
        self.records.borrow().unix_servers.clone()
    }

    /// Every `connect_unix` call so far, in order.
    pub fn unix_clients(&self) -> Vec<UnixClient> {
        self.records.borrow().unix_clients.clone()
    }
}

impl StreamNetwork for MemoryReactor {
    /// Records the call; refuses an interface that is not an IP address, as a reactor
    /// does.
    fn listen_tcp(
        &self,
        port: u16,
        factory: Rc<dyn ProtocolFactory>,
        options: TcpListenOptions,
    ) -> Result<ListeningPort, ListenError> {
        let interface = options.interface.as_str();
        let trimmed = interface.trim_start_matches('[').trim_end_matches(']');
        let ip = match trimmed {
            "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            _ => trimmed.parse().map_err(|_| ListenError::BadInterface {
                interface: interface.to_owned(),
            })?,
        };
        let listening = MemoryPort::start(Address::Tcp(SocketAddr::new(ip, port)));
        self.records.borrow_mut().tcp_servers.push(TcpServer {
            port,
            factory,
            options,
            listening: listening.clone(),
        });
        Ok(listening)
    }

    fn connect_tcp(
        &self,
        host: &str,
        port: u16,
        factory: Rc<dyn ClientFactory>,
        options: TcpConnectOptions,
    ) -> Connector {
        let trimmed = host.trim_start_matches('[').trim_end_matches(']');
        // As a socket connector shows a name it has not resolved.
        let ip = trimmed.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let destination = Address::Tcp(SocketAddr::new(ip, port));
        let (connector, attempt) = FakeConnector::start(factory.clone(), destination);
        self.records.borrow_mut().tcp_clients.push(TcpClient {
            host: host.to_owned(),
            port,
            factory,
            options,
            connector: connector.clone(),
            attempt,
        });
        connector
    }

    /// Records the call; the path is not touched (no lock file either).
    fn listen_unix(
        &self,
        path: &Path,
        factory: Rc<dyn ProtocolFactory>,
        options: UnixListenOptions,
    ) -> Result<ListeningPort, ListenError> {
        let listening = MemoryPort::start(Address::Unix(Some(path.to_path_buf())));
        self.records.borrow_mut().unix_servers.push(UnixServer {
            path: path.to_path_buf(),
            factory,
            options,
            listening: listening.clone(),
        });
        Ok(listening)
    }

    fn connect_unix(
        &self,
        path: &Path,
        factory: Rc<dyn ClientFactory>,
        options: UnixConnectOptions,
    ) -> Connector {
        let destination = Address::Unix(Some(path.to_path_buf()));
        let (connector, attempt) = FakeConnector::start(factory.clone(), destination);
        self.records.borrow_mut().unix_clients.push(UnixClient {
            path: path.to_path_buf(),
            factory,
            options,
            connector: connector.clone(),
            attempt,
        });
        connector
    }
}

/// The methods that play a recorded connect's outcome, shared by both records.
macro_rules! drive_methods {
    () => {
        /// Connects: builds the factory's protocol for the destination and calls its
        /// `connection_made` with `transport` (a [`StringTransport`](super::StringTransport),
        /// usually). `None` when the factory refuses (it hears
        /// `client_connection_failed` with [`ConnectError::Refused`]) or the connector is
        /// not connecting.
        ///
        /// The protocol returned is the test's to drive (`data_received`,
        /// `connection_lost`); its `connection_lost` reaches the factory as
        /// `client_connection_lost`.
        pub fn connect(&self, transport: Rc<dyn Transport>) -> Option<Box<dyn Protocol>> {
            let mut protocol = self.build_protocol()?;
            protocol.connection_made(transport);
            Some(protocol)
        }

        /// [`connect`](Self::connect) without `connection_made`: for a
        /// [`LoopbackPump`](super::LoopbackPump), which makes the connection itself.
        pub fn build_protocol(&self) -> Option<Box<dyn Protocol>> {
            self.attempt.build_protocol(&self.connector)
        }

        /// Fails the attempt: the factory hears `client_connection_failed` with `reason`
        /// (Twisted's tests call `clientConnectionFailed` by hand). Does nothing unless
        /// the connector is connecting; returns whether the factory was told.
        pub fn fail(&self, reason: Failure) -> bool {
            self.attempt.fail(&self.connector, reason)
        }

        /// How many attempts the connector made: 1, plus one per `connect()` after a
        /// failure or a lost connection.
        pub fn attempts(&self) -> usize {
            self.attempt.attempts.get()
        }

        /// The connector is waiting for the test to connect or fail it.
        pub fn is_connecting(&self) -> bool {
            matches!(*self.attempt.state.borrow(), State::Connecting)
        }

        /// A protocol from [`connect`](Self::connect) is connected and has not been told
        /// `connection_lost`.
        pub fn is_connected(&self) -> bool {
            matches!(*self.attempt.state.borrow(), State::Connected(_))
        }
    };
}

impl TcpClient {
    drive_methods!();
}

impl UnixClient {
    drive_methods!();
}

impl MemoryPort {
    /// A port that listens on `address` until stopped.
    fn start(address: Address) -> ListeningPort {
        ListeningPort::new(Rc::new(MemoryPort {
            address,
            listening: Cell::new(true),
            on_stop: RefCell::new(Vec::new()),
        }))
    }
}

impl PortBackend for MemoryPort {
    fn on_stop(&self, f: Box<dyn FnOnce()>) {
        match self.listening.get() {
            true => self.on_stop.borrow_mut().push(f),
            false => f(),
        }
    }

    fn address(&self) -> Address {
        self.address.clone()
    }

    fn stop_listening(&self) -> Deferred<()> {
        if self.listening.replace(false) {
            let on_stop = std::mem::take(&mut *self.on_stop.borrow_mut());
            for f in on_stop {
                f();
            }
        }
        crate::defer::succeed(())
    }

    fn is_listening(&self) -> bool {
        self.listening.get()
    }

    fn connection_count(&self) -> usize {
        0
    }

    fn lose_connections(&self) -> Deferred<()> {
        crate::defer::succeed(())
    }
}

impl FakeConnector {
    fn start(factory: Rc<dyn ClientFactory>, destination: Address) -> (Connector, Rc<Self>) {
        let attempt = Rc::new(FakeConnector {
            factory,
            destination,
            state: RefCell::new(State::Idle),
            attempts: Cell::new(0),
        });
        let connector = Connector::new(attempt.clone());
        connector.connect();
        (connector, attempt)
    }

    fn build_protocol(self: &Rc<Self>, connector: &Connector) -> Option<Box<dyn Protocol>> {
        if !matches!(*self.state.borrow(), State::Connecting) {
            return None;
        }
        let Some(inner) = self.factory.build_protocol(&self.destination) else {
            let address = self.destination.clone();
            self.fail(connector, Failure::new(ConnectError::Refused { address }));
            return None;
        };
        Some(Box::new(Tracked {
            inner,
            attempt: self.clone(),
            connector: connector.clone(),
        }))
    }

    fn fail(&self, connector: &Connector, reason: Failure) -> bool {
        if !matches!(*self.state.borrow(), State::Connecting) {
            return false;
        }
        *self.state.borrow_mut() = State::Idle;
        self.factory.client_connection_failed(connector, reason);
        true
    }
}

impl ConnectorBackend for FakeConnector {
    fn connect(self: Rc<Self>) {
        if !matches!(*self.state.borrow(), State::Idle) {
            return;
        }
        *self.state.borrow_mut() = State::Connecting;
        self.attempts.set(self.attempts.get() + 1);
        self.factory
            .started_connecting(&Connector::new(self.clone()));
    }

    fn stop_connecting(self: Rc<Self>) {
        let address = self.destination.clone();
        let connector = Connector::new(self.clone());
        self.fail(&connector, Failure::new(ConnectError::Stopped { address }));
    }

    fn transport(&self) -> Option<Rc<dyn Transport>> {
        match &*self.state.borrow() {
            State::Connected(transport) => Some(transport.clone()),
            _ => None,
        }
    }

    fn destination(&self) -> Address {
        self.destination.clone()
    }

    fn phase(&self) -> &'static str {
        match &*self.state.borrow() {
            State::Idle => "idle",
            State::Connecting => "connecting",
            State::Connected(_) => "connected",
        }
    }
}

impl Protocol for Tracked {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        *self.attempt.state.borrow_mut() = State::Connected(transport.clone());
        self.inner.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.inner.data_received(data);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        self.inner.connection_lost(reason.clone());
        if matches!(*self.attempt.state.borrow(), State::Connected(_)) {
            *self.attempt.state.borrow_mut() = State::Idle;
            let factory = self.attempt.factory.clone();
            factory.client_connection_lost(&self.connector, &reason);
        }
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

impl fmt::Debug for MemoryReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let records = self.records.borrow();
        f.debug_struct("MemoryReactor")
            .field("tcp_servers", &records.tcp_servers)
            .field("tcp_clients", &records.tcp_clients)
            .field("unix_servers", &records.unix_servers)
            .field("unix_clients", &records.unix_clients)
            .finish()
    }
}

impl fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServer")
            .field("port", &self.port)
            .field("options", &self.options)
            .field("listening", &self.listening)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UnixServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixServer")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("listening", &self.listening)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TcpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpClient")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("options", &self.options)
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UnixClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixClient")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        net::factory_fn,
        protocols::wire::Echo,
        testing::{LoopbackPump, StringTransport},
    };

    /// A client factory that counts what it hears, says "hi" on connect, keeps what
    /// comes back, and reconnects after a failure while `retries` lasts.
    #[derive(Default)]
    struct Counting {
        started: Cell<usize>,
        failed: RefCell<Vec<Failure>>,
        lost: Cell<usize>,
        retries: Cell<usize>,
        refuse: Cell<bool>,
        got: Rc<RefCell<Vec<u8>>>,
    }

    struct Hi(Rc<RefCell<Vec<u8>>>);

    impl Protocol for Hi {
        fn connection_made(&mut self, t: Rc<dyn Transport>) {
            t.write(b"hi");
        }
        fn data_received(&mut self, data: &[u8]) {
            self.0.borrow_mut().extend_from_slice(data);
        }
    }

    impl ProtocolFactory for Counting {
        fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
            match self.refuse.get() {
                true => None,
                false => Some(Box::new(Hi(self.got.clone()))),
            }
        }
    }

    impl ClientFactory for Counting {
        fn started_connecting(&self, _: &Connector) {
            self.started.set(self.started.get() + 1);
        }
        fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
            self.failed.borrow_mut().push(reason);
            if self.retries.get() > 0 {
                self.retries.set(self.retries.get() - 1);
                connector.connect();
            }
        }
        fn client_connection_lost(&self, _: &Connector, _: &CloseReason) {
            self.lost.set(self.lost.get() + 1);
        }
    }

    fn discard() -> Rc<dyn ProtocolFactory> {
        Rc::new(factory_fn(|_| {
            Some(Box::new(Echo::default()) as Box<dyn Protocol>)
        }))
    }

    #[test]
    fn listens_are_recorded_with_their_arguments_and_the_same_factory() {
        let memory = MemoryReactor::new();
        let net: &dyn StreamNetwork = &memory;
        let factory = discard();
        let options = TcpListenOptions::default().backlog(50).interface("::1");
        let port = net.listen_tcp(0, factory.clone(), options).unwrap();
        assert_eq!(port.address().to_string(), "[::1]:0");
        let options = UnixListenOptions::default().mode(0o600).backlog(7);
        let path = Path::new("/nonexistent/app.sock");
        let unix = net.listen_unix(path, discard(), options).unwrap();
        assert!(!path.exists(), "nothing touched the file system");

        let [tcp] = &memory.tcp_servers()[..] else {
            panic!("one tcp server")
        };
        assert_eq!(
            (
                tcp.port,
                tcp.options.backlog,
                tcp.options.interface.as_str()
            ),
            (0, 50, "::1")
        );
        assert!(Rc::ptr_eq(&tcp.factory, &factory));
        let [server] = &memory.unix_servers()[..] else {
            panic!("one unix server")
        };
        assert_eq!((server.path.as_path(), server.options), (path, options));
        assert_eq!(unix.address(), Address::Unix(Some(path.into())));

        assert!(tcp.listening.is_listening());
        port.stop_listening();
        assert!(!tcp.listening.is_listening(), "the record shares the port");
        assert_eq!(tcp.listening.connection_count(), 0);
    }

    #[test]
    fn a_memory_port_runs_its_stop_hooks_once_when_it_stops() {
        let memory = MemoryReactor::new();
        let port = memory
            .listen_tcp(0, discard(), TcpListenOptions::default())
            .unwrap();
        let stops = Rc::new(Cell::new(0));
        let counter = stops.clone();
        port.on_stop(move || counter.set(counter.get() + 1));
        assert_eq!(stops.get(), 0, "not before the port stops");
        port.stop_listening();
        port.stop_listening();
        assert_eq!(stops.get(), 1);
        let counter = stops.clone();
        port.on_stop(move || counter.set(counter.get() + 1));
        assert_eq!(stops.get(), 2, "a stopped port runs a late hook at once");
    }

    #[test]
    fn a_bad_interface_is_refused_and_not_recorded() {
        let memory = MemoryReactor::new();
        let err = memory
            .listen_tcp(
                80,
                discard(),
                TcpListenOptions::default().interface("localhost"),
            )
            .unwrap_err();
        assert!(matches!(err, ListenError::BadInterface { .. }));
        assert!(memory.tcp_servers().is_empty());
    }

    #[test]
    fn a_connect_waits_for_the_test_then_connects_and_loses() {
        let memory = MemoryReactor::new();
        let factory = Rc::new(Counting::default());
        let bind = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        let timeout = Some(Duration::from_secs(3));
        let options = TcpConnectOptions::default()
            .timeout(timeout)
            .bind_address(bind);
        let connector = memory.connect_tcp("10.1.2.3", 79, factory.clone(), options);
        assert_eq!(factory.started.get(), 1, "started_connecting at once");
        let client = memory.tcp_clients()[0].clone();
        assert_eq!(
            (
                client.host.as_str(),
                client.port,
                client.options.timeout,
                client.options.bind_address
            ),
            ("10.1.2.3", 79, timeout, bind)
        );
        assert!(client.is_connecting());
        assert_eq!(connector.destination().to_string(), "10.1.2.3:79");
        assert!(format!("{connector:?}").contains("connecting"));

        let transport = StringTransport::new();
        let mut protocol = client.connect(transport.clone()).unwrap();
        assert_eq!(transport.value(), b"hi");
        assert!(client.is_connected());
        assert!(connector.transport().is_some());
        protocol.data_received(b"hello");
        assert_eq!(*factory.got.borrow(), b"hello");

        connector.disconnect();
        assert!(transport.disconnecting(), "disconnect loses the connection");
        protocol.connection_lost(CloseReason::Clean);
        assert_eq!(factory.lost.get(), 1);
        assert!(!client.is_connected() && !client.is_connecting());
        assert!(factory.failed.borrow().is_empty());
    }

    #[test]
    fn failures_are_the_tests_and_reconnects_count_as_attempts() {
        let memory = MemoryReactor::new();
        let factory = Rc::new(Counting::default());
        factory.retries.set(1);
        let path = Path::new("/run/app.sock");
        memory.connect_unix(path, factory.clone(), UnixConnectOptions::default());
        let client = memory.unix_clients()[0].clone();
        assert_eq!(client.path, path);
        assert!(client.fail(Failure::msg("connection refused")));
        assert_eq!(client.attempts(), 2, "the factory connected again");
        assert_eq!(factory.started.get(), 2);
        assert!(client.is_connecting());

        client.connector.stop_connecting();
        let failed = factory.failed.borrow();
        assert_eq!(failed.len(), 2);
        assert!(matches!(
            failed[1].check::<ConnectError>(),
            Some(ConnectError::Stopped { .. })
        ));
        assert!(!client.fail(Failure::msg("too late")), "not connecting");
    }

    #[test]
    fn a_refusing_factory_hears_refused() {
        let memory = MemoryReactor::new();
        let factory = Rc::new(Counting::default());
        factory.refuse.set(true);
        memory.connect_tcp(
            "example.com",
            80,
            factory.clone(),
            TcpConnectOptions::default(),
        );
        let client = &memory.tcp_clients()[0];
        assert!(client.connect(StringTransport::new()).is_none());
        let failed = factory.failed.borrow();
        assert!(matches!(
            failed[0].check::<ConnectError>(),
            Some(ConnectError::Refused { .. })
        ));
    }

    #[test]
    fn a_recorded_client_talks_to_a_server_through_a_loopback_pump() {
        let memory = MemoryReactor::new();
        let factory = Rc::new(Counting::default());
        memory.connect_tcp("::1", 7, factory.clone(), TcpConnectOptions::default());
        let client = memory.tcp_clients()[0].build_protocol().unwrap();
        let pump = LoopbackPump::connect(Box::new(Echo::default()), client);
        pump.flush();
        assert_eq!(*factory.got.borrow(), b"hi");
        pump.client().lose_connection();
        pump.flush();
        assert!(pump.is_closed());
        assert_eq!(factory.lost.get(), 1, "the factory heard the connection go");
    }
}
