//! UDP ports: a [`DatagramProtocol`] fed the datagrams that arrive on a port (Twisted's
//! `listenUDP`, `DatagramProtocol`, connected UDP and multicast).
//!
//! ```
//! use std::{cell::RefCell, net::SocketAddr, rc::Rc};
//! use torsion::net::{listen_udp, DatagramProtocol, UdpPort, DEFAULT_MAX_PACKET_SIZE};
//! use torsion::Reactor;
//!
//! struct Echo(Option<UdpPort>);
//! impl DatagramProtocol for Echo {
//!     fn start_protocol(&mut self, port: UdpPort) { self.0 = Some(port) }
//!     fn datagram_received(&mut self, data: &[u8], from: SocketAddr) {
//!         let _ = self.0.as_ref().map(|port| port.write(data, from));
//!     }
//! }
//!
//! /// Says hello once and stops the reactor when the echo comes back.
//! struct Hello(SocketAddr, Reactor, Rc<RefCell<Vec<u8>>>);
//! impl DatagramProtocol for Hello {
//!     fn start_protocol(&mut self, port: UdpPort) { port.write(b"hello", self.0).unwrap() }
//!     fn datagram_received(&mut self, data: &[u8], _from: SocketAddr) {
//!         self.2.borrow_mut().extend_from_slice(data);
//!         self.1.stop();
//!     }
//! }
//!
//! let reactor = Reactor::new().unwrap();
//! let max = DEFAULT_MAX_PACKET_SIZE;
//! let server = listen_udp(&reactor, 0, Echo(None), "127.0.0.1", max).unwrap();
//! let got = Rc::new(RefCell::new(Vec::new()));
//! let hello = Hello(server.host(), reactor.clone(), got.clone());
//! let client = listen_udp(&reactor, 0, hello, "127.0.0.1", max).unwrap();
//! reactor.run();
//! assert_eq!(&*got.borrow(), b"hello");
//! server.stop_listening();
//! client.stop_listening();
//! ```
//!
//! A port listens from [`listen_udp`] until [`UdpPort::stop_listening`]; the reactor keeps
//! it alive meanwhile, even when every handle is dropped. The [`UdpPort`] handed to
//! [`DatagramProtocol::start_protocol`] is the protocol's transport, as in Twisted.
//!
//! # What a port promises
//!
//! - **Fair reads.** A readiness event reads at most [`READ_BUDGET`] datagrams, then the
//!   port asks to be told again and lets the loop serve others: a flood on one port
//!   cannot hold the loop.
//! - **One buffer, bounded datagrams.** Each port owns one receive buffer of
//!   `max_packet_size` bytes (plus one, see below), lent to `datagram_received`; the
//!   steady state allocates nothing.
//! - **Too-long datagrams are dropped, never delivered cut.** The kernel silently truncates
//!   a datagram longer than the buffer. The port reads into `max_packet_size + 1` bytes:
//!   a datagram that fills them was longer than `max_packet_size` (a datagram of exactly
//!   `max_packet_size` bytes is delivered whole). It is dropped with a warning naming
//!   the sender, and counted in [`UdpStats::truncated`]. Twisted delivers the cut
//!   datagram as if whole; a protocol parsing it would see a lie. The warning is logged
//!   for the 1st, 2nd, 4th, 8th, ... such datagram, so a peer cannot flood the log.
//! - **Writes never block: a full socket buffer drops the datagram.** UDP may lose any
//!   datagram anyway, so queueing it would only add latency and memory. When the socket
//!   pushes back (`WouldBlock`), [`UdpPort::write`] returns [`UdpError::Dropped`] and the
//!   drop is counted in [`UdpStats::dropped_writes`]; nothing is buffered.
//! - **Contained failures.** A protocol method that panics is caught and logged; the port
//!   goes on with the next datagram (a UDP port has no connection to close).
//! - **Connected UDP.** After [`UdpPort::connect`] the kernel only delivers datagrams from
//!   that peer, and `write(data, None)` sends to it. An ICMP "port unreachable" comes back
//!   as `ECONNREFUSED`: the read side calls [`DatagramProtocol::connection_refused`]; if a
//!   write meets the refusal first, the write returns [`UdpError::ConnectionRefused`]
//!   instead (each refusal is reported once, and never by calling the protocol from inside
//!   one of its own calls to the port).
//!
//! Multicast (join and leave groups, TTL, loopback, outgoing interface) is on
//! [`UdpPort`] too: see [`MulticastInterface`].

use std::{
    cell::{Cell, RefCell},
    fmt, io,
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket},
    panic::{catch_unwind, AssertUnwindSafe},
    rc::Rc,
};

use socket2::{Domain, Socket, Type};

use super::error::Cause;
pub use super::multicast::MulticastInterface;
pub use super::udp_error::UdpError;
use crate::{
    defer::{succeed, Deferred, Resolver},
    reactor::{guard::panic_message, Interest, IoToken, Reactor},
};

/// The receive buffer a port gets unless told otherwise (Twisted's `maxPacketSize`).
pub const DEFAULT_MAX_PACKET_SIZE: usize = 8192;
/// The largest `max_packet_size` accepted: the largest UDP payload IPv6 can carry
/// without jumbograms, rounded up to 64 KiB.
pub const MAX_PACKET_SIZE: usize = 65536;
/// Datagrams read per readiness event before the port lets other work run.
pub const READ_BUDGET: usize = 256;

/// The code that handles the datagrams of one port (Twisted's `DatagramProtocol`).
///
/// The port calls it one method at a time, never while another of its methods runs:
/// `start_protocol` first, then `datagram_received` and `connection_refused` as things
/// arrive, then `stop_protocol` exactly once. Calling the port from any of them is safe.
pub trait DatagramProtocol: 'static {
    /// The port listens; keep it to write (it is a cheap handle).
    fn start_protocol(&mut self, port: UdpPort) {
        let _ = port;
    }

    /// The port stopped listening; no other method is called after this one.
    fn stop_protocol(&mut self) {}

    /// A datagram arrived from `from`. It is only borrowed: copy what must outlive the
    /// call.
    fn datagram_received(&mut self, data: &[u8], from: SocketAddr);

    /// The connected peer refused a datagram (an ICMP port unreachable came back); only
    /// happens after [`UdpPort::connect`].
    fn connection_refused(&mut self) {}
}

/// A listening UDP port, and the transport of its protocol (Twisted's `udp.Port`).
///
/// A cheap, clonable handle. The reactor keeps the port listening even if every handle
/// is dropped; [`stop_listening`](UdpPort::stop_listening) stops it.
#[derive(Clone)]
pub struct UdpPort {
    inner: Rc<Port>,
}

/// What a port counted since it started listening.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UdpStats {
    /// Datagrams handed to `datagram_received`.
    pub received: u64,
    /// Datagrams dropped because they were longer than `max_packet_size`.
    pub truncated: u64,
    /// Writes dropped because the socket's send buffer was full.
    pub dropped_writes: u64,
}

/// Where a port is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Listening,
    /// `stop_listening` was called while a protocol method ran: `stop_protocol` and the
    /// waiting Deferreds follow when it returns.
    Stopping,
    Stopped,
}

struct Port {
    reactor: Reactor,
    host: SocketAddr,
    max_packet_size: usize,
    /// `None` once the port stopped listening: dropping it closes the socket.
    socket: RefCell<Option<UdpSocket>>,
    token: Cell<Option<IoToken>>,
    /// `None` once `stop_protocol` was called.
    protocol: RefCell<Option<Box<dyn DatagramProtocol>>>,
    peer: Cell<Option<SocketAddr>>,
    /// `max_packet_size + 1` bytes: the extra byte tells a too-long datagram.
    buffer: RefCell<Vec<u8>>,
    stats: Cell<UdpStats>,
    /// [`READ_BUDGET`], lowered by unit tests to reach the re-arm path.
    read_budget: Cell<usize>,
    state: Cell<State>,
    /// Fired once the port has stopped.
    stop_waiters: RefCell<Vec<Resolver<()>>>,
}

/// Listens for datagrams on `interface:port` (`""` for every IPv4 interface, `"::"` for
/// every IPv6 one) and hands them to `protocol`, which gets the port in
/// [`start_protocol`](DatagramProtocol::start_protocol) before this returns. Port 0
/// picks a free port: read it with [`UdpPort::port`]. Datagrams longer than
/// `max_packet_size` are dropped (see the module docs).
///
/// # Errors
/// [`UdpError::BadInterface`], [`UdpError::BadPacketSize`], or [`UdpError::Listen`] when
/// the system refused (`listen udp 127.0.0.1:53: permission denied`).
pub fn listen_udp(
    reactor: &Reactor,
    port: u16,
    protocol: impl DatagramProtocol,
    interface: &str,
    max_packet_size: usize,
) -> Result<UdpPort, UdpError> {
    open(reactor, port, protocol, interface, max_packet_size, false)
}

/// Binds and registers a port; `share` sets `SO_REUSEADDR` and `SO_REUSEPORT`, so that
/// several sockets can listen to one multicast port.
pub(super) fn open(
    reactor: &Reactor,
    port: u16,
    protocol: impl DatagramProtocol,
    interface: &str,
    max_packet_size: usize,
    share: bool,
) -> Result<UdpPort, UdpError> {
    if max_packet_size == 0 || max_packet_size > MAX_PACKET_SIZE {
        return Err(UdpError::BadPacketSize {
            size: max_packet_size,
        });
    }
    let ip = parse_interface(interface)?;
    let requested = SocketAddr::new(ip, port);
    let fail = |source| UdpError::Listen {
        address: requested,
        source,
    };
    let socket = Socket::new(Domain::for_address(requested), Type::DGRAM, None).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    if share {
        socket.set_reuse_address(true).map_err(fail)?;
        socket.set_reuse_port(true).map_err(fail)?;
    }
    socket.bind(&requested.into()).map_err(fail)?;
    let socket = UdpSocket::from(socket);
    let host = socket.local_addr().map_err(fail)?;
    let inner = Rc::new(Port {
        reactor: reactor.clone(),
        host,
        max_packet_size,
        socket: RefCell::new(None),
        token: Cell::new(None),
        protocol: RefCell::new(Some(Box::new(protocol))),
        peer: Cell::new(None),
        buffer: RefCell::new(vec![0; max_packet_size + 1]),
        stats: Cell::default(),
        read_budget: Cell::new(READ_BUDGET),
        state: Cell::new(State::Listening),
        stop_waiters: RefCell::default(),
    });
    let handler = {
        let inner = inner.clone();
        move |_: &Reactor, _| inner.read_ready()
    };
    let token = reactor
        .register_fd(&socket, Interest::READABLE, handler)
        .map_err(fail)?;
    inner.token.set(Some(token));
    *inner.socket.borrow_mut() = Some(socket);
    let port = UdpPort { inner };
    let started = port.clone();
    port.inner
        .call_protocol("start_protocol", move |p| p.start_protocol(started));
    Ok(port)
}

impl UdpPort {
    /// Sends one datagram: to `to`, or (with `None`) to the peer of a connected port,
    /// as Twisted's `write(datagram, addr=None)`. A `SocketAddr` converts:
    /// `port.write(b"ping", addr)`.
    ///
    /// # Errors
    /// [`UdpError::Dropped`] when the send buffer was full (the datagram is lost; nothing
    /// is queued), [`UdpError::ConnectionRefused`] when the connected peer refused an
    /// earlier datagram, [`UdpError::NotConnected`], [`UdpError::WrongPeer`],
    /// [`UdpError::NotListening`], or [`UdpError::Send`] with the system's error.
    pub fn write(&self, data: &[u8], to: impl Into<Option<SocketAddr>>) -> Result<(), UdpError> {
        let inner = &self.inner;
        let socket = inner.socket.borrow();
        let Some(socket) = socket.as_ref() else {
            return Err(UdpError::NotListening { host: inner.host });
        };
        let (to, sent) = match (inner.peer.get(), to.into()) {
            (Some(peer), None) => (peer, retry(|| socket.send(data))),
            (Some(peer), Some(to)) if to == peer => (peer, retry(|| socket.send(data))),
            (Some(peer), Some(to)) => return Err(UdpError::WrongPeer { to, peer }),
            (None, Some(to)) => (to, retry(|| socket.send_to(data, to))),
            (None, None) => return Err(UdpError::NotConnected { host: inner.host }),
        };
        inner.finish_send(sent.map(drop), to, data.len())
    }

    /// Connects the port to `peer` (connected UDP): only `peer`'s datagrams arrive, and
    /// `write(data, None)` sends to it. Connecting again changes the peer (Twisted refuses
    /// to reconnect; the system does not).
    ///
    /// # Errors
    /// [`UdpError::Connect`] with the system's error, or [`UdpError::NotListening`].
    pub fn connect(&self, peer: SocketAddr) -> Result<(), UdpError> {
        let inner = &self.inner;
        let socket = inner.socket.borrow();
        let Some(socket) = socket.as_ref() else {
            return Err(UdpError::NotListening { host: inner.host });
        };
        socket
            .connect(peer)
            .map_err(|source| UdpError::Connect { to: peer, source })?;
        inner.peer.set(Some(peer));
        Ok(())
    }

    /// Stops listening: closes the socket, calls
    /// [`stop_protocol`](DatagramProtocol::stop_protocol) (once the protocol method
    /// running now, if any, returns) and fires the Deferred. Stopping a stopped port
    /// gives a fired Deferred.
    pub fn stop_listening(&self) -> Deferred<()> {
        let inner = &self.inner;
        match inner.state.get() {
            State::Stopped => return succeed(()),
            State::Stopping => {}
            State::Listening => {
                inner.state.set(State::Stopping);
                if let Some(token) = inner.token.take() {
                    if let Err(e) = inner.reactor.deregister_fd(token) {
                        tracing::warn!("stop udp {}: {e}", inner.host);
                    }
                }
                // Deregistered first: the descriptor must not close while registered.
                drop(inner.socket.borrow_mut().take());
            }
        }
        let (stopped, resolver) = Deferred::new();
        inner.stop_waiters.borrow_mut().push(resolver);
        // Inside a protocol method the protocol is borrowed: `call_protocol` finishes the
        // stop when that method returns.
        if inner.protocol.try_borrow_mut().is_ok() {
            inner.finish_stop();
        }
        stopped
    }

    /// The address the port is bound to, with the port the system picked for port 0
    /// (Twisted's `getHost()`).
    pub fn host(&self) -> SocketAddr {
        self.inner.host
    }

    /// The port number the port is bound to.
    pub fn port(&self) -> u16 {
        self.inner.host.port()
    }

    /// The peer of a connected port.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.inner.peer.get()
    }

    /// The size of the receive buffer: longer datagrams are dropped.
    pub fn max_packet_size(&self) -> usize {
        self.inner.max_packet_size
    }

    /// True until [`stop_listening`](UdpPort::stop_listening).
    pub fn is_listening(&self) -> bool {
        self.inner.state.get() == State::Listening
    }

    /// What the port counted so far.
    pub fn stats(&self) -> UdpStats {
        self.inner.stats.get()
    }

    /// Runs `f` on the socket (for the multicast options); the outer error says the
    /// port stopped, the inner one is the system's.
    pub(super) fn with_socket<T>(
        &self,
        f: impl FnOnce(&UdpSocket) -> io::Result<T>,
    ) -> Result<io::Result<T>, UdpError> {
        let inner = &self.inner;
        match inner.socket.borrow().as_ref() {
            Some(socket) => Ok(f(socket)),
            None => Err(UdpError::NotListening { host: inner.host }),
        }
    }
}

impl Port {
    /// Reads until `WouldBlock` (the reactor's edge contract) or the budget runs out.
    fn read_ready(&self) {
        for _ in 0..self.read_budget.get() {
            if self.state.get() != State::Listening {
                return;
            }
            let mut buffer = self.buffer.borrow_mut();
            let received = match self.socket.borrow().as_ref() {
                Some(socket) => socket.recv_from(&mut buffer),
                None => return,
            };
            match received {
                Ok((len, from)) if len > self.max_packet_size => self.drop_truncated(from),
                Ok((len, from)) => {
                    self.count(|s| s.received += 1);
                    // The protocol cannot reach the buffer: holding it across the call is safe.
                    let data = &buffer[..len];
                    self.call_protocol("datagram_received", |p| p.datagram_received(data, from));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.call_protocol("connection_refused", |p| p.connection_refused());
                }
                Err(e) => {
                    // A persistent error would make the port spin: wait for the next event.
                    tracing::warn!("read udp {}: {}", self.host, Cause(&e));
                    return;
                }
            }
        }
        // Budget spent with data perhaps left: ask to be told again, after the others.
        if let Some(token) = self.token.get() {
            if let Err(e) = self.reactor.reregister_fd(token, Interest::READABLE) {
                tracing::warn!("read udp {}: rearm: {e}", self.host);
            }
        }
    }

    fn drop_truncated(&self, from: SocketAddr) {
        self.count(|s| s.truncated += 1);
        let dropped = self.stats.get().truncated;
        if dropped.is_power_of_two() {
            tracing::warn!(
                "udp {}: dropped a datagram from {from} longer than max_packet_size {} \
                 ({dropped} so far)",
                self.host,
                self.max_packet_size,
            );
        }
    }

    /// Turns the outcome of a send into what `write` returns, counting drops.
    fn finish_send(
        &self,
        sent: io::Result<()>,
        to: SocketAddr,
        len: usize,
    ) -> Result<(), UdpError> {
        match sent {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.count(|s| s.dropped_writes += 1);
                Err(UdpError::Dropped { to, len })
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                Err(UdpError::ConnectionRefused { peer: to })
            }
            Err(source) => Err(UdpError::Send { to, source }),
        }
    }

    /// Calls the protocol, containing a panic, then finishes a stop that was asked for
    /// meanwhile.
    fn call_protocol(&self, method: &str, f: impl FnOnce(&mut dyn DatagramProtocol)) {
        {
            let Ok(mut slot) = self.protocol.try_borrow_mut() else {
                // Only the port calls its protocol, and never from inside a call.
                return;
            };
            let Some(protocol) = slot.as_mut() else {
                return;
            };
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(protocol.as_mut()))) {
                tracing::error!(
                    "udp {}: {method} panicked: {}",
                    self.host,
                    panic_message(payload.as_ref())
                );
            }
        }
        if self.state.get() == State::Stopping {
            self.finish_stop();
        }
    }

    /// Tells the protocol the port stopped, then fires the waiting Deferreds.
    fn finish_stop(&self) {
        self.state.set(State::Stopped);
        let protocol = self.protocol.borrow_mut().take();
        if let Some(mut protocol) = protocol {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| protocol.stop_protocol())) {
                tracing::error!(
                    "udp {}: stop_protocol panicked: {}",
                    self.host,
                    panic_message(payload.as_ref())
                );
            }
        }
        let waiters = std::mem::take(&mut *self.stop_waiters.borrow_mut());
        for waiter in waiters {
            // Each resolver is fired here and nowhere else.
            let _ = waiter.callback(());
        }
    }

    fn count(&self, f: impl FnOnce(&mut UdpStats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }
}

impl fmt::Debug for UdpPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("UdpPort")
            .field("host", &inner.host)
            .field("peer", &inner.peer.get())
            .field("state", &inner.state.get())
            .field("max_packet_size", &inner.max_packet_size)
            .field("stats", &inner.stats.get())
            .finish()
    }
}

/// `""` is every IPv4 interface, as in Twisted.
fn parse_interface(interface: &str) -> Result<IpAddr, UdpError> {
    if interface.is_empty() {
        return Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    interface.parse().map_err(|_| UdpError::BadInterface {
        interface: interface.to_owned(),
    })
}

/// Repeats a system call interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

#[cfg(test)]
#[path = "udp_tests.rs"]
mod tests;
