//! Listening ports: [`listen_tcp`] and [`listen_unix`] (Twisted's `listenTCP`,
//! `listenUNIX`), the accept loop, and what it does when descriptors run out.
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
    fmt,
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

use super::{conn::Conn, error::Cause, Address, ListenError, ProtocolFactory, Transport};
use crate::{
    defer::{succeed, Deferred, Resolver},
    reactor::{Interest, IoToken, Reactor},
    DelayedCall,
};

/// The backlog [`listen_tcp`] callers usually pass (Twisted's default is 50, from a time
/// of smaller machines; Linux caps it at `net.core.somaxconn`).
pub const DEFAULT_BACKLOG: u32 = 1024;
/// Connections accepted per readiness event before other work gets its turn.
pub const ACCEPT_LIMIT: usize = 64;
/// How long a port out of descriptors waits before it tries `accept` again, when it
/// could not even shed the waiting connection.
pub const STARVED_RETRY: Duration = Duration::from_millis(100);

/// A port that accepts connections for a factory (Twisted's `IListeningPort`).
///
/// The reactor keeps it listening even if this handle is dropped;
/// [`stop_listening`](ListeningPort::stop_listening) stops it.
///
/// A port made by [`MemoryReactor`](crate::testing::MemoryReactor) has no socket: it
/// knows its address and whether it was stopped, and never has connections.
#[derive(Clone)]
pub struct ListeningPort {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Socket(Rc<Port>),
    /// The memory reactor's: an address and whether it still listens.
    Memory(Rc<(Address, Cell<bool>)>),
}

/// How [`listen_unix_with`] listens (Twisted's `listenUNIX` arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnixListenOptions {
    /// The socket file's permission bits (`None`: as the umask leaves them).
    pub mode: Option<u32>,
    /// The listen backlog.
    pub backlog: u32,
}

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

/// Listens on `interface:port` (`""` for every IPv4 interface, `"::"` for every IPv6 one,
/// and IPv4 too where the system maps it) and serves each connection with a protocol from
/// `factory`. Port 0 picks a free port: read it with [`ListeningPort::port`].
///
/// ```no_run
/// use torsion::{net::{factory_fn, listen_tcp, Protocol, DEFAULT_BACKLOG}, Reactor};
/// # struct Echo;
/// # impl Protocol for Echo { fn data_received(&mut self, _: &[u8]) {} }
/// let reactor = Reactor::new().unwrap();
/// let factory = factory_fn(|_| Some(Box::new(Echo) as Box<dyn Protocol>));
/// let port = listen_tcp(&reactor, 8080, factory, DEFAULT_BACKLOG, "127.0.0.1").unwrap();
/// println!("listening on {}", port.address());
/// reactor.run();
/// ```
///
/// # Errors
/// [`ListenError`]: the interface is not an IP address, or the system refused
/// (`listen tcp 127.0.0.1:80: permission denied`).
pub fn listen_tcp(
    reactor: &Reactor,
    port: u16,
    factory: impl ProtocolFactory,
    backlog: u32,
    interface: &str,
) -> Result<ListeningPort, ListenError> {
    listen_tcp_shared(reactor, port, Rc::new(factory), backlog, interface)
}

/// [`listen_tcp`] for a factory already shared (what `StreamNetwork` passes).
pub(crate) fn listen_tcp_shared(
    reactor: &Reactor,
    port: u16,
    factory: Rc<dyn ProtocolFactory>,
    backlog: u32,
    interface: &str,
) -> Result<ListeningPort, ListenError> {
    let ip = parse_interface(interface)?;
    let requested = SocketAddr::new(ip, port);
    let fail = |source| ListenError::Io {
        address: Address::Tcp(requested),
        source,
    };
    let socket = Socket::new(Domain::for_address(requested), Type::STREAM, None).map_err(fail)?;
    // Restart without waiting for TIME_WAIT to pass, as every server does.
    socket.set_reuse_address(true).map_err(fail)?;
    socket.bind(&requested.into()).map_err(fail)?;
    socket.listen(backlog_int(backlog)).map_err(fail)?;
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

/// Listens on the Unix socket `path` (which must not exist yet) and, when `mode` is
/// given, sets its permission bits (Twisted's `listenUNIX(..., mode=)`). The path is
/// removed when the port stops listening. [`listen_unix_with`] takes a backlog too.
///
/// # Errors
/// [`ListenError`]: `listen unix /run/app.sock: address in use`, ...
pub fn listen_unix(
    reactor: &Reactor,
    path: impl AsRef<Path>,
    factory: impl ProtocolFactory,
    mode: Option<u32>,
) -> Result<ListeningPort, ListenError> {
    let options = UnixListenOptions::default();
    let options = match mode {
        Some(mode) => options.mode(mode),
        None => options,
    };
    listen_unix_with(reactor, path, factory, options)
}

/// Listens on the Unix socket `path` with `options`: its mode and backlog.
///
/// ```no_run
/// use torsion::{net::{factory_fn, listen_unix_with, Protocol, UnixListenOptions}, Reactor};
/// # struct Echo;
/// # impl Protocol for Echo { fn data_received(&mut self, _: &[u8]) {} }
/// let reactor = Reactor::new().unwrap();
/// let factory = factory_fn(|_| Some(Box::new(Echo) as Box<dyn Protocol>));
/// let options = UnixListenOptions::default().mode(0o660).backlog(128);
/// let port = listen_unix_with(&reactor, "/tmp/echo.sock", factory, options).unwrap();
/// ```
///
/// A lock file for the socket (Twisted's `wantPID`, in Twisted's own format so Twisted
/// clients can check it) is the endpoint layer's: `unix:PATH:lockfile=1` through
/// `endpoints::server_from_string`.
///
/// # Errors
/// [`ListenError`]: `listen unix /run/app.sock: address in use`, ...
pub fn listen_unix_with(
    reactor: &Reactor,
    path: impl AsRef<Path>,
    factory: impl ProtocolFactory,
    options: UnixListenOptions,
) -> Result<ListeningPort, ListenError> {
    listen_unix_shared(reactor, path.as_ref(), Rc::new(factory), options)
}

/// [`listen_unix_with`] for a factory already shared.
pub(crate) fn listen_unix_shared(
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

impl UnixListenOptions {
    /// Sets the socket file's permission bits.
    pub fn mode(mut self, mode: u32) -> UnixListenOptions {
        self.mode = Some(mode);
        self
    }

    /// Sets the listen backlog.
    pub fn backlog(mut self, backlog: u32) -> UnixListenOptions {
        self.backlog = backlog;
        self
    }
}

impl Default for UnixListenOptions {
    /// No mode change, [`DEFAULT_BACKLOG`].
    fn default() -> UnixListenOptions {
        UnixListenOptions {
            mode: None,
            backlog: DEFAULT_BACKLOG,
        }
    }
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
    factory: impl ProtocolFactory,
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
    Port::start(reactor, address, listener, Rc::new(factory), None)
}

impl ListeningPort {
    /// Runs `f` once, when the port stops listening.
    pub(crate) fn on_stop(&self, f: impl FnOnce() + 'static) {
        match &self.repr {
            Repr::Socket(port) if self.is_listening() => {
                port.on_stop.borrow_mut().push(Box::new(f))
            }
            _ => f(),
        }
    }

    /// A port without a socket, for the memory reactor: it listens until stopped.
    pub(crate) fn in_memory(address: Address) -> ListeningPort {
        ListeningPort {
            repr: Repr::Memory(Rc::new((address, Cell::new(true)))),
        }
    }

    /// The TCP port listened on (the real one when 0 was asked for); 0 for Unix sockets.
    pub fn port(&self) -> u16 {
        self.address().port().unwrap_or(0)
    }

    /// The address listened on (Twisted's `getHost()`).
    pub fn address(&self) -> Address {
        match &self.repr {
            Repr::Socket(port) => port.address.clone(),
            Repr::Memory(memory) => memory.0.clone(),
        }
    }

    /// Stops accepting; connections already made go on (as in Twisted). The Deferred has
    /// fired when this returns: the socket is closed (a Unix socket's path removed, and
    /// an endpoint's lock file) and the factory stopped.
    pub fn stop_listening(&self) -> Deferred<()> {
        let port = match &self.repr {
            Repr::Socket(port) => port,
            Repr::Memory(memory) => {
                memory.1.set(false);
                return succeed(());
            }
        };
        if let Some(token) = port.token.take() {
            let _ = port.reactor.deregister_fd(token);
        }
        if let Some(retry) = port.retry.borrow_mut().take() {
            let _ = retry.cancel();
        }
        let listener = port.listener.borrow_mut().take();
        if listener.is_some() {
            drop(listener);
            port.reserve.borrow_mut().take();
            if let Some(path) = &port.unix_path {
                let _ = std::fs::remove_file(path);
            }
            port.factory.stop_factory();
            let on_stop = std::mem::take(&mut *port.on_stop.borrow_mut());
            for f in on_stop {
                f();
            }
        }
        succeed(())
    }

    /// Whether the port still accepts connections.
    pub fn is_listening(&self) -> bool {
        match &self.repr {
            Repr::Socket(port) => port.listener.borrow().is_some(),
            Repr::Memory(memory) => memory.1.get(),
        }
    }

    /// How many connections this port accepted since it started listening.
    pub fn accepted_count(&self) -> u64 {
        match &self.repr {
            Repr::Socket(port) => port.accepted.get(),
            Repr::Memory(_) => 0,
        }
    }

    /// How many connections accepted by this port are open.
    pub fn connection_count(&self) -> usize {
        match &self.repr {
            Repr::Socket(port) => port.connections.borrow().len(),
            Repr::Memory(_) => 0,
        }
    }

    /// Asks every open connection of this port to close after writing what it buffered
    /// (`lose_connection`); the Deferred fires once the last one is gone. With
    /// `stop_listening`, this is a graceful shutdown:
    /// return it from a `Before Shutdown` trigger.
    pub fn lose_connections(&self) -> Deferred<()> {
        let Repr::Socket(port) = &self.repr else {
            return succeed(());
        };
        let conns: Vec<Rc<Conn>> = port
            .connections
            .borrow()
            .iter()
            .filter_map(|(_, c)| c.upgrade())
            .collect();
        if conns.is_empty() {
            return succeed(());
        }
        let (d, resolver) = Deferred::new();
        port.drained.borrow_mut().push(resolver);
        for conn in conns {
            conn.lose_connection();
        }
        d
    }

    /// Fires once no connection accepted by this port is open (at once when none is),
    /// without asking any to close: what a graceful drain waits for while the
    /// protocols finish their work.
    pub fn when_connections_closed(&self) -> Deferred<()> {
        let Repr::Socket(port) = &self.repr else {
            return succeed(());
        };
        if port.connections.borrow().is_empty() {
            return succeed(());
        }
        let (d, resolver) = Deferred::new();
        port.drained.borrow_mut().push(resolver);
        d
    }

    /// Aborts every open connection of this port now, dropping what they buffered
    /// (`abort_connection`): the end of a drain that ran out of time.
    pub fn abort_connections(&self) {
        let Repr::Socket(port) = &self.repr else {
            return;
        };
        let conns: Vec<Rc<Conn>> = port
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

impl fmt::Debug for ListeningPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListeningPort")
            .field("address", &self.address())
            .field("listening", &self.is_listening())
            .field("connections", &self.connection_count())
            .finish()
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
        Ok(ListeningPort {
            repr: Repr::Socket(port),
        })
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
