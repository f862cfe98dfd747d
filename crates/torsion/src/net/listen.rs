//! Listening sockets: the ports behind `StreamNetwork::listen_tcp` and
//! `StreamNetwork::listen_unix` on a [`Reactor`] (Twisted's `listenTCP`, `listenUNIX`),
//! [`adopt_stream_port`], the accept loop, and what it does when descriptors run out.
//!
//! **Fair accepting.** One readiness event accepts at most [`ACCEPT_LIMIT`] connections,
//! then re-arms and lets the loop serve the others: a burst of connections cannot hold
//! the loop.
//!
//! **Out of descriptors.** When `accept` fails with `EMFILE` or `ENFILE`, the waiting
//! connection would sit in the backlog, and the listener would be ready again at once:
//! a busy loop that serves no one. Each port keeps a reserve descriptor (`/dev/null`)
//! instead: it frees it, accepts the waiting connection, closes it at once (the peer sees
//! a prompt close, not a hang), and takes the reserve again. The episode is logged once;
//! the port serves again as soon as an `accept` succeeds. When even that fails, it
//! retries after [`STARVED_RETRY`], never in a busy loop.

use std::{
    cell::{Cell, RefCell},
    fs::File,
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    rc::{Rc, Weak},
    time::Duration,
};

use slab::Slab;
use socket2::{Domain, SockAddr, Socket, Type};

use super::{
    conn::Conn, error::Cause, network::PortBackend, Address, ListenError, ListeningPort,
    ProtocolFactory, TcpListenOptions, Transport, UnixListenOptions,
};
use crate::{
    defer::{succeed, Deferred, Resolver},
    reactor::{Interest, IoToken, Reactor},
    DelayedCall,
};

/// Connections accepted per readiness event before other work gets its turn.
pub const ACCEPT_LIMIT: usize = 64;
/// How long a port out of descriptors waits before it tries `accept` again, when it
/// could not even shed the waiting connection.
pub const STARVED_RETRY: Duration = Duration::from_millis(100);

/// A listening socket: the port behind a socket-backed [`ListeningPort`].
struct Port {
    reactor: Reactor,
    address: Address,
    factory: Rc<dyn ProtocolFactory>,
    listener: RefCell<Option<Listener>>,
    token: Cell<Option<IoToken>>,
    /// Freed to shed one connection when descriptors run out.
    reserve: RefCell<Option<File>>,
    /// In an out-of-descriptors episode (logged once).
    starved: Cell<bool>,
    retry: RefCell<Option<DelayedCall>>,
    connections: RefCell<Slab<Weak<Conn>>>,
    /// Waiting for the last connection to close (`lose_connections`).
    drained: RefCell<Vec<Resolver<()>>>,
    /// Connections accepted so far, for metrics.
    accepted: Cell<u64>,
    /// A Unix socket's path, removed when the port stops.
    unix_path: Option<PathBuf>,
    /// Run once when the port stops listening (an endpoint's lock file is removed).
    on_stop: RefCell<Vec<Box<dyn FnOnce()>>>,
}

enum Listener {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener),
}

/// Listens on `interface:port` (see [`super::StreamNetwork::listen_tcp`]).
pub(super) fn listen_tcp(
    reactor: &Reactor,
    port: u16,
    factory: Rc<dyn ProtocolFactory>,
    options: &TcpListenOptions,
) -> Result<ListeningPort, ListenError> {
    let ip = parse_interface(&options.interface)?;
    let requested = SocketAddr::new(ip, port);
    let fail = |source| ListenError::Io {
        address: Address::Tcp(requested),
        source,
    };
    let socket = Socket::new(Domain::for_address(requested), Type::STREAM, None).map_err(fail)?;
    // Restart without waiting for TIME_WAIT to pass, as every server does.
    socket.set_reuse_address(true).map_err(fail)?;
    socket.bind(&requested.into()).map_err(fail)?;
    socket.listen(backlog_int(options.backlog)).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    let bound = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .unwrap_or(requested);
    let listener = mio::net::TcpListener::from_std(socket.into());
    Port::start(
        reactor,
        Address::Tcp(bound),
        Listener::Tcp(listener),
        factory,
        None,
    )
}

/// Listens on the Unix socket `path` (see [`super::StreamNetwork::listen_unix`]).
pub(super) fn listen_unix(
    reactor: &Reactor,
    path: &Path,
    factory: Rc<dyn ProtocolFactory>,
    options: UnixListenOptions,
) -> Result<ListeningPort, ListenError> {
    let path = path.to_path_buf();
    let fail = |source| ListenError::Io {
        address: Address::Unix(Some(path.clone())),
        source,
    };
    let bound = || -> Result<Socket, ListenError> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(fail)?;
        socket
            .bind(&SockAddr::unix(&path).map_err(fail)?)
            .map_err(fail)?;
        let setup = || -> io::Result<()> {
            if let Some(mode) = options.mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            }
            socket.listen(backlog_int(options.backlog))?;
            socket.set_nonblocking(true)
        };
        if let Err(e) = setup() {
            let _ = std::fs::remove_file(&path);
            return Err(fail(e));
        }
        Ok(socket)
    };
    let socket = bound()?;
    let listener = mio::net::UnixListener::from_std(socket.into());
    let address = Address::Unix(Some(path.clone()));
    Port::start(
        reactor,
        address,
        Listener::Unix(listener),
        factory,
        Some(path),
    )
}

/// Serves connections on a socket that is already bound and listening, such as one
/// inherited from systemd (Twisted's `adoptStreamPort`). The socket must be a stream
/// socket that listens (IPv4, IPv6 or Unix); it is made non-blocking. A Unix socket's
/// path is left in place when the port stops: whoever made the socket owns the path.
///
/// # Errors
/// [`ListenError::NotAListener`] for any other descriptor, naming what it is.
pub fn adopt_stream_port(
    reactor: &Reactor,
    fd: OwnedFd,
    factory: Rc<dyn ProtocolFactory>,
) -> Result<ListeningPort, ListenError> {
    let socket = Socket::from(fd);
    let not = |problem| ListenError::NotAListener { problem };
    let io = |source| ListenError::Io {
        address: Address::Unix(None),
        source,
    };
    match socket.r#type() {
        Ok(kind) if kind == Type::STREAM => {}
        Ok(_) => return Err(not("not a stream socket")),
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => return Err(not("not a socket")),
        Err(e) => return Err(io(e)),
    }
    if !crate::sys::unix::is_listening(&socket).map_err(io)? {
        return Err(not("a stream socket that is not listening"));
    }
    let local = socket.local_addr().map_err(io)?;
    socket.set_nonblocking(true).map_err(io)?;
    let address = Address::from_sock_addr(&local);
    let listener = match local.as_socket() {
        Some(_) => Listener::Tcp(mio::net::TcpListener::from_std(socket.into())),
        None if local.is_unix() => Listener::Unix(mio::net::UnixListener::from_std(socket.into())),
        None => return Err(not("a socket of an unknown address family")),
    };
    Port::start(reactor, address, listener, factory, None)
}

impl PortBackend for Port {
    fn on_stop(&self, f: Box<dyn FnOnce()>) {
        match self.is_listening() {
            true => self.on_stop.borrow_mut().push(f),
            false => f(),
        }
    }

    fn address(&self) -> Address {
        self.address.clone()
    }

    fn stop_listening(&self) -> Deferred<()> {
        if let Some(token) = self.token.take() {
            let _ = self.reactor.deregister_fd(token);
        }
        if let Some(retry) = self.retry.borrow_mut().take() {
            let _ = retry.cancel();
        }
        let listener = self.listener.borrow_mut().take();
        if listener.is_some() {
            drop(listener);
            self.reserve.borrow_mut().take();
            if let Some(path) = &self.unix_path {
                let _ = std::fs::remove_file(path);
            }
            self.factory.stop_factory();
            let on_stop = std::mem::take(&mut *self.on_stop.borrow_mut());
            for f in on_stop {
                f();
            }
        }
        succeed(())
    }

    fn is_listening(&self) -> bool {
        self.listener.borrow().is_some()
    }

    fn accepted_count(&self) -> u64 {
        self.accepted.get()
    }

    fn connection_count(&self) -> usize {
        self.connections.borrow().len()
    }

    fn lose_connections(&self) -> Deferred<()> {
        let conns: Vec<Rc<Conn>> = self
            .connections
            .borrow()
            .iter()
            .filter_map(|(_, c)| c.upgrade())
            .collect();
        if conns.is_empty() {
            return succeed(());
        }
        let (d, resolver) = Deferred::new();
        self.drained.borrow_mut().push(resolver);
        for conn in conns {
            conn.lose_connection();
        }
        d
    }

    fn when_connections_closed(&self) -> Deferred<()> {
        if self.connections.borrow().is_empty() {
            return succeed(());
        }
        let (d, resolver) = Deferred::new();
        self.drained.borrow_mut().push(resolver);
        d
    }

    fn abort_connections(&self) {
        let conns: Vec<Rc<Conn>> = self
            .connections
            .borrow()
            .iter()
            .filter_map(|(_, c)| c.upgrade())
            .collect();
        for conn in conns {
            conn.abort_connection();
        }
    }
}

/// What shedding a connection achieved.
enum Shed {
    /// One connection was accepted and closed: try for more.
    One,
    /// The backlog is empty.
    Empty,
    /// No descriptor could be had, not even the reserve's.
    Stuck,
}

impl Port {
    fn start(
        reactor: &Reactor,
        address: Address,
        listener: Listener,
        factory: Rc<dyn ProtocolFactory>,
        unix_path: Option<PathBuf>,
    ) -> Result<ListeningPort, ListenError> {
        let port = Rc::new(Port {
            reactor: reactor.clone(),
            address,
            factory,
            listener: RefCell::new(Some(listener)),
            token: Cell::new(None),
            reserve: RefCell::new(File::open("/dev/null").ok()),
            starved: Cell::new(false),
            retry: RefCell::new(None),
            connections: RefCell::new(Slab::new()),
            drained: RefCell::new(Vec::new()),
            accepted: Cell::new(0),
            unix_path,
            on_stop: RefCell::new(Vec::new()),
        });
        let token = {
            let listener = port.listener.borrow();
            let handler = {
                let port = port.clone();
                move |_: &Reactor, _| port.accept_some()
            };
            // Invariant: the listener was stored just above.
            let fd = listener.as_ref().map(Listener::fd);
            reactor.register_fd(&fd.expect("listener present"), Interest::READABLE, handler)
        };
        let token = token.map_err(|source| ListenError::Io {
            address: port.address.clone(),
            source,
        })?;
        port.token.set(Some(token));
        port.factory.start_factory();
        Ok(ListeningPort::new(port))
    }

    /// Accepts up to [`ACCEPT_LIMIT`] waiting connections.
    fn accept_some(self: &Rc<Self>) {
        for _ in 0..ACCEPT_LIMIT {
            let accepted = match &*self.listener.borrow() {
                Some(listener) => listener.accept(),
                None => return,
            };
            match accepted {
                Ok((socket, peer)) => {
                    if self.starved.replace(false) {
                        tracing::info!(address = %self.address, "accept {} {}: descriptors available again", self.address.network(), self.address);
                    }
                    self.serve(socket, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if transient(&e) => {}
                Err(e) if out_of_descriptors(&e) => match self.shed_one(&e) {
                    Shed::One => {}
                    Shed::Empty => return,
                    Shed::Stuck => return self.retry_later(),
                },
                Err(e) => {
                    tracing::error!(address = %self.address, "accept {} {}: {}", self.address.network(), self.address, Cause(&e));
                    return self.retry_later();
                }
            }
        }
        // More may be waiting: be told again after the others had their turn.
        if let Some(token) = self.token.get() {
            let _ = self.reactor.reregister_fd(token, Interest::READABLE);
        }
    }

    /// Frees the reserve descriptor to accept one connection and close it at once.
    fn shed_one(&self, e: &io::Error) -> Shed {
        if !self.starved.replace(true) {
            tracing::warn!(
                address = %self.address,
                "accept {} {}: {}: closing new connections until descriptors are freed",
                self.address.network(),
                self.address,
                Cause(e),
            );
        }
        let Some(reserve) = self.reserve.borrow_mut().take() else {
            *self.reserve.borrow_mut() = File::open("/dev/null").ok();
            return Shed::Stuck;
        };
        drop(reserve);
        let accepted = match &*self.listener.borrow() {
            Some(listener) => listener.accept(),
            None => return Shed::Empty,
        };
        // Close the shed connection before retaking the reserve: it holds the one
        // descriptor the reserve gave up.
        let shed = match accepted {
            Ok((socket, _)) => {
                drop(socket);
                Shed::One
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Shed::Empty,
            Err(_) => Shed::Stuck,
        };
        *self.reserve.borrow_mut() = File::open("/dev/null").ok();
        shed
    }

    fn retry_later(self: &Rc<Self>) {
        let port = Rc::downgrade(self);
        let call = self.reactor.call_later(STARVED_RETRY, move || {
            if let Some(port) = port.upgrade() {
                port.retry.borrow_mut().take();
                if let Some(token) = port.token.get() {
                    let _ = port.reactor.reregister_fd(token, Interest::READABLE);
                }
            }
        });
        if let Some(old) = self.retry.borrow_mut().replace(call) {
            let _ = old.cancel();
        }
    }

    /// Builds a protocol for an accepted socket and starts its connection.
    fn serve(self: &Rc<Self>, socket: Socket, peer: Address) {
        self.accepted.set(self.accepted.get() + 1);
        let Some(protocol) = self.factory.build_protocol(&peer) else {
            return; // refused: dropping the socket closes it
        };
        let host = match (&self.address, socket.local_addr()) {
            (Address::Tcp(_), Ok(local)) => Address::from_sock_addr(&local),
            _ => self.address.clone(),
        };
        let key = self.connections.borrow_mut().insert(Weak::new());
        let me = Rc::downgrade(self);
        let on_close = Box::new(move |_: &super::CloseReason| {
            if let Some(port) = me.upgrade() {
                port.forget(key);
            }
        });
        let conn = Conn::start(&self.reactor, socket, host, peer, protocol, Some(on_close));
        if let Some(slot) = self.connections.borrow_mut().get_mut(key) {
            *slot = Rc::downgrade(&conn);
        }
    }

    fn forget(&self, key: usize) {
        let mut conns = self.connections.borrow_mut();
        conns.try_remove(key);
        if conns.is_empty() {
            drop(conns);
            let waiting = std::mem::take(&mut *self.drained.borrow_mut());
            for resolver in waiting {
                let _ = resolver.callback(());
            }
        }
    }
}

impl Listener {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) => l.as_fd(),
        }
    }

    /// Accepts one connection (non-blocking, close-on-exec) as a socket and its peer.
    fn accept(&self) -> io::Result<(Socket, Address)> {
        match self {
            Listener::Tcp(l) => {
                let (stream, peer) = l.accept()?;
                Ok((Socket::from(OwnedFd::from(stream)), Address::Tcp(peer)))
            }
            Listener::Unix(l) => {
                let (stream, peer) = l.accept()?;
                let path = peer.as_pathname().map(Path::to_path_buf);
                Ok((Socket::from(OwnedFd::from(stream)), Address::Unix(path)))
            }
        }
    }
}

fn parse_interface(interface: &str) -> Result<IpAddr, ListenError> {
    let trimmed = interface.trim_start_matches('[').trim_end_matches(']');
    if trimmed.is_empty() {
        return Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    trimmed.parse().map_err(|_| ListenError::BadInterface {
        interface: interface.to_owned(),
    })
}

fn backlog_int(backlog: u32) -> i32 {
    i32::try_from(backlog).unwrap_or(i32::MAX)
}

/// Errors after which the next `accept` may well succeed.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) || e.raw_os_error() == Some(libc::EPROTO)
}

fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
