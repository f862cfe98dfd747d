//! Outgoing connections: [`connect_tcp`] and [`connect_unix`] (Twisted's `connectTCP`,
//! `connectUNIX`) and the [`Connector`] that drives an attempt.
//!
//! An attempt never reports synchronously: even a connection refused at once reaches
//! `client_connection_failed` from the loop, as in Twisted, so code after
//! `connect_tcp` runs before any callback.
//!
//! **Names.** `connect_tcp` takes an IP address (`127.0.0.1`, `::1`) without any lookup.
//! Any other host is resolved with the system resolver (`ToSocketAddrs`), which blocks
//! the loop while it runs; `localhost` is fast, a remote name may not be.
//! FIXME(issue 5): resolve names on the thread pool once `task`/`threads` land.

use std::{
    cell::{Cell, RefCell},
    fmt, io,
    net::{IpAddr, SocketAddr, ToSocketAddrs},
    path::{Path, PathBuf},
    rc::{Rc, Weak},
    time::Duration,
};

use socket2::{Domain, SockAddr, Socket, Type};

use super::{conn::Conn, Address, ClientFactory, CloseReason, ConnectError, Transport};
use crate::{
    reactor::{Interest, IoToken, Reactor},
    DelayedCall, Failure,
};

/// Drives one outgoing connection (Twisted's `IConnector`): stop the attempt, drop the
/// connection, or connect again (a reconnecting factory calls [`connect`](Connector::connect)
/// from `client_connection_lost`).
#[derive(Clone)]
pub struct Connector {
    inner: Rc<Inner>,
}

struct Inner {
    reactor: Reactor,
    dest: Dest,
    factory: Rc<dyn ClientFactory>,
    timeout: Option<Duration>,
    bind: Option<SocketAddr>,
    phase: RefCell<Phase>,
    factory_started: Cell<bool>,
}

enum Dest {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

enum Phase {
    Idle,
    Connecting(Attempt),
    Connected(Weak<Conn>),
}

struct Attempt {
    /// `None` for an attempt that failed before it had a socket (reported next turn).
    socket: Option<Socket>,
    address: Address,
    token: Option<IoToken>,
    timer: Option<DelayedCall>,
}

/// Connects to `host:port` and serves the connection with a protocol from `factory`;
/// `timeout` bounds the attempt (a [`ConnectError::TimedOut`] naming the address),
/// `bind_address` picks our end.
///
/// `host` may be an IP address (no lookup) or a name, resolved with the system resolver
/// (`ToSocketAddrs`), which blocks the loop while it runs: `localhost` is fast, a remote
/// name may not be. FIXME(issue 5): resolve names on the thread pool.
///
/// Failures always reach `client_connection_failed` from the loop, never from inside
/// this call.
pub fn connect_tcp(
    reactor: &Reactor,
    host: &str,
    port: u16,
    factory: impl ClientFactory,
    timeout: Option<Duration>,
    bind_address: Option<SocketAddr>,
) -> Connector {
    let dest = Dest::Tcp {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
    };
    Connector::start(reactor, dest, Rc::new(factory), timeout, bind_address)
}

/// Connects to the Unix socket at `path`.
pub fn connect_unix(
    reactor: &Reactor,
    path: impl AsRef<Path>,
    factory: impl ClientFactory,
    timeout: Option<Duration>,
) -> Connector {
    let dest = Dest::Unix(path.as_ref().to_path_buf());
    Connector::start(reactor, dest, Rc::new(factory), timeout, None)
}

impl Connector {
    fn start(
        reactor: &Reactor,
        dest: Dest,
        factory: Rc<dyn ClientFactory>,
        timeout: Option<Duration>,
        bind: Option<SocketAddr>,
    ) -> Connector {
        let connector = Connector {
            inner: Rc::new(Inner {
                reactor: reactor.clone(),
                dest,
                factory,
                timeout,
                bind,
                phase: RefCell::new(Phase::Idle),
                factory_started: Cell::new(false),
            }),
        };
        connector.connect();
        connector
    }

    /// Starts a new attempt; a no-op while connecting or connected.
    pub fn connect(&self) {
        if !matches!(*self.inner.phase.borrow(), Phase::Idle) {
            return;
        }
        let inner = &self.inner;
        if !inner.factory_started.replace(true) {
            inner.factory.start_factory();
        }
        inner.factory.started_connecting(self);
        match self.begin() {
            Ok(attempt) => *inner.phase.borrow_mut() = Phase::Connecting(attempt),
            Err(error) => {
                // Report from the loop, never from inside `connect`.
                let me = self.clone();
                *inner.phase.borrow_mut() = Phase::Connecting(Attempt {
                    socket: None,
                    address: self.destination(),
                    token: None,
                    timer: Some(inner.reactor.call_later(Duration::ZERO, move || {
                        me.fail(Failure::new(error));
                    })),
                });
            }
        }
    }

    /// Abandons the attempt in progress; the factory hears
    /// [`ConnectError::Stopped`].
    pub fn stop_connecting(&self) {
        if matches!(*self.inner.phase.borrow(), Phase::Connecting(_)) {
            let address = self.destination();
            self.fail(Failure::new(ConnectError::Stopped { address }));
        }
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
        match &*self.inner.phase.borrow() {
            Phase::Connected(conn) => conn.upgrade().map(|c| c as Rc<dyn Transport>),
            _ => None,
        }
    }

    /// Where this connector connects to (an unresolved host shows as its name and port,
    /// resolved ones as the address).
    pub fn destination(&self) -> Address {
        match &self.inner.dest {
            Dest::Tcp { host, port } => match host.parse::<IpAddr>() {
                Ok(ip) => Address::Tcp(SocketAddr::new(ip, *port)),
                Err(_) => Address::Tcp(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), *port)),
            },
            Dest::Unix(path) => Address::Unix(Some(path.clone())),
        }
    }

    /// Resolves, creates the socket and starts the non-blocking connect.
    fn begin(&self) -> Result<Attempt, ConnectError> {
        let inner = &self.inner;
        let (address, sock_addr, domain) = match &inner.dest {
            Dest::Tcp { host, port } => {
                let addr = resolve(host, *port)?;
                (
                    Address::Tcp(addr),
                    SockAddr::from(addr),
                    Domain::for_address(addr),
                )
            }
            Dest::Unix(path) => {
                let address = Address::Unix(Some(path.clone()));
                let fail = |source| ConnectError::Io {
                    address: address.clone(),
                    source,
                };
                (
                    address.clone(),
                    SockAddr::unix(path).map_err(fail)?,
                    Domain::UNIX,
                )
            }
        };
        let fail = |source| ConnectError::Io {
            address: address.clone(),
            source,
        };
        let socket = Socket::new(domain, Type::STREAM, None).map_err(fail)?;
        socket.set_nonblocking(true).map_err(fail)?;
        if let Some(bind) = inner.bind {
            socket.bind(&bind.into()).map_err(fail)?;
        }
        match socket.connect(&sock_addr) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(fail(e)),
        }
        let me = self.clone();
        let token = inner
            .reactor
            .register_fd(&socket, Interest::WRITABLE, move |_, _| me.on_writable())
            .map_err(fail)?;
        let timer = inner.timeout.map(|after| {
            let me = self.clone();
            let address = address.clone();
            inner.reactor.call_later(after, move || {
                me.fail(Failure::new(ConnectError::TimedOut { address, after }));
            })
        });
        Ok(Attempt {
            socket: Some(socket),
            address,
            token: Some(token),
            timer,
        })
    }

    /// The connect finished, one way or the other.
    fn on_writable(&self) {
        let attempt = match std::mem::replace(&mut *self.inner.phase.borrow_mut(), Phase::Idle) {
            Phase::Connecting(attempt) => attempt,
            other => {
                *self.inner.phase.borrow_mut() = other;
                return;
            }
        };
        let Attempt {
            socket,
            address,
            token,
            timer,
        } = attempt;
        if let Some(token) = token {
            let _ = self.inner.reactor.deregister_fd(token);
        }
        if let Some(timer) = timer {
            let _ = timer.cancel();
        }
        let Some(socket) = socket else {
            return;
        };
        let status = match socket.take_error() {
            Ok(None) => socket.peer_addr().map(|_| ()),
            Ok(Some(e)) | Err(e) => Err(e),
        };
        if let Err(source) = status {
            return self.report_failure(Failure::new(ConnectError::Io { address, source }));
        }
        let Some(protocol) = self.inner.factory.build_protocol(&address) else {
            return self.report_failure(Failure::new(ConnectError::Refused { address }));
        };
        let host = match socket.local_addr() {
            Ok(local) => Address::from_sock_addr(&local),
            Err(_) => Address::Unix(None),
        };
        // Connected before connection_made runs, so `transport()` works inside it.
        *self.inner.phase.borrow_mut() = Phase::Connected(Weak::new());
        let me = self.clone();
        let on_close = Box::new(move |reason: &CloseReason| me.lost(reason));
        let conn = Conn::start(
            &self.inner.reactor,
            socket,
            host,
            address,
            protocol,
            Some(on_close),
        );
        let mut phase = self.inner.phase.borrow_mut();
        if let Phase::Connected(weak) = &mut *phase {
            *weak = Rc::downgrade(&conn);
        }
    }

    /// Ends the attempt in progress with `failure`.
    fn fail(&self, failure: Failure) {
        let phase = std::mem::replace(&mut *self.inner.phase.borrow_mut(), Phase::Idle);
        let Phase::Connecting(attempt) = phase else {
            *self.inner.phase.borrow_mut() = phase;
            return;
        };
        if let Some(token) = attempt.token {
            let _ = self.inner.reactor.deregister_fd(token);
        }
        if let Some(timer) = attempt.timer {
            let _ = timer.cancel();
        }
        drop(attempt.socket);
        self.report_failure(failure);
    }

    fn report_failure(&self, failure: Failure) {
        tracing::debug!("{failure}");
        self.inner.factory.client_connection_failed(self, failure);
        self.stop_factory_if_idle();
    }

    fn lost(&self, reason: &CloseReason) {
        *self.inner.phase.borrow_mut() = Phase::Idle;
        self.inner.factory.client_connection_lost(self, reason);
        self.stop_factory_if_idle();
    }

    fn stop_factory_if_idle(&self) {
        let idle = matches!(*self.inner.phase.borrow(), Phase::Idle);
        if idle && self.inner.factory_started.replace(false) {
            self.inner.factory.stop_factory();
        }
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &*self.inner.phase.borrow() {
            Phase::Idle => "idle",
            Phase::Connecting(_) => "connecting",
            Phase::Connected(_) => "connected",
        };
        f.debug_struct("Connector")
            .field("destination", &self.destination())
            .field("phase", &phase)
            .finish()
    }
}

/// An IP literal as is; any other name through the system resolver (blocking).
fn resolve(host: &str, port: u16) -> Result<SocketAddr, ConnectError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let fail = |source| ConnectError::Resolve {
        host: host.to_owned(),
        port,
        source,
    };
    let mut addrs = (host, port).to_socket_addrs().map_err(fail)?;
    addrs
        .next()
        .ok_or_else(|| fail(io::Error::new(io::ErrorKind::NotFound, "no addresses")))
}
