//! Outgoing connections: [`connect_tcp`] and [`connect_unix`] (Twisted's `connectTCP`,
//! `connectUNIX`) and the [`Connector`] that drives an attempt.
//!
//! An attempt never reports synchronously: even a connection refused at once reaches
//! `client_connection_failed` from the loop, as in Twisted, so code after
//! `connect_tcp` runs before any callback.
//!
//! **Names.** `connect_tcp` takes an IP address (`127.0.0.1`, `::1`) without any lookup.
//! Any other host is resolved with the system resolver (`getaddrinfo`) on the reactor's
//! thread pool ([`ThreadPool::of`](crate::threads::ThreadPool::of)), never on the loop.
//! The addresses come back in the resolver's order (IPv6 and IPv4 as the system ranks
//! them, RFC 6724) and are tried one after the other until one connects; each failure is
//! kept, and when all fail, [`ConnectError::AllFailed`] names the host and every address
//! tried with its error. The timeout covers the lookup and every attempt
//! ([`ConnectError::HostTimedOut`]); `stop_connecting` during the lookup abandons it (a
//! lookup already running on a pool thread finishes there, and its answer is dropped).
//! Racing IPv6 against IPv4 (happy eyeballs, RFC 8305) is the endpoints layer's job.

use std::{
    cell::{Cell, RefCell},
    convert::Infallible,
    fmt, io,
    net::{IpAddr, SocketAddr, ToSocketAddrs},
    path::{Path, PathBuf},
    rc::{Rc, Weak},
    time::Duration,
};

use socket2::{Domain, SockAddr, Socket, Type};

use super::{conn::Conn, Address, ClientFactory, CloseReason, ConnectError, Transport};
use crate::defer::ok;
use crate::{
    defer::CancelHandle,
    reactor::{Interest, IoToken, Reactor},
    threads::defer_to_thread,
    DelayedCall, Failure,
};

/// Drives one outgoing connection (Twisted's `IConnector`): stop the attempt, drop the
/// connection, or connect again (a reconnecting factory calls [`connect`](Connector::connect)
/// from `client_connection_lost`).
///
/// A connector made by [`MemoryReactor`](crate::testing::MemoryReactor) has no socket:
/// the test decides when it connects or fails.
#[derive(Clone)]
pub struct Connector {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Socket(Rc<Inner>),
    /// A connector without a socket, driven by a test (`testing::MemoryReactor`).
    Memory(Rc<dyn ConnectorBackend>),
}

/// What a connector that is not backed by a socket does; the memory reactor's
/// connectors implement it. `connector` is the handle the factory is to be given.
pub(crate) trait ConnectorBackend {
    fn connect(&self, connector: &Connector);
    fn stop_connecting(&self, connector: &Connector);
    fn transport(&self) -> Option<Rc<dyn Transport>>;
    fn destination(&self) -> Address;
    fn state(&self) -> &'static str;
}

struct Inner {
    reactor: Reactor,
    dest: Dest,
    factory: Rc<dyn ClientFactory>,
    timeout: Option<Duration>,
    bind: Option<SocketAddr>,
    phase: RefCell<Phase>,
    factory_started: Cell<bool>,
    /// Inside `connect`: failures found now are reported from the loop instead.
    starting: Cell<bool>,
    /// Counts attempts, so a lookup that answers after its attempt ended is ignored.
    generation: Cell<u64>,
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
    /// The connect timeout (covering the lookup and every address), or the zero-delay
    /// call that reports a failure found inside `connect`.
    timer: Option<DelayedCall>,
    stage: Stage,
}

enum Stage {
    /// Failed; `timer` reports it from the loop.
    Failed,
    /// The host name is being resolved on the thread pool.
    Resolving(CancelHandle),
    /// A socket is connecting to one address.
    Trying(Trying),
}

struct Trying {
    socket: Socket,
    address: Address,
    token: IoToken,
    /// The addresses left to try, in the resolver's order.
    next: std::vec::IntoIter<Address>,
    /// The addresses tried so far, and why each failed.
    tried: Vec<(Address, io::Error)>,
}

/// Connects to `host:port` and serves the connection with a protocol from `factory`;
/// `timeout` bounds the attempt (a [`ConnectError::TimedOut`] naming the address),
/// `bind_address` picks our end.
///
/// `host` may be an IP address (no lookup) or a name, resolved on the reactor's thread
/// pool and tried address by address in the resolver's order (when all fail,
/// [`ConnectError::AllFailed`] names each address and why); the timeout then covers the
/// lookup and every attempt ([`ConnectError::HostTimedOut`]).
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
    connect_tcp_shared(reactor, host, port, Rc::new(factory), timeout, bind_address)
}

/// Connects to the Unix socket at `path`.
pub fn connect_unix(
    reactor: &Reactor,
    path: impl AsRef<Path>,
    factory: impl ClientFactory,
    timeout: Option<Duration>,
) -> Connector {
    connect_unix_shared(reactor, path.as_ref(), Rc::new(factory), timeout)
}

/// [`connect_tcp`] for a factory already shared (what `StreamNetwork` passes).
pub(crate) fn connect_tcp_shared(
    reactor: &Reactor,
    host: &str,
    port: u16,
    factory: Rc<dyn ClientFactory>,
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
    Connector::start(reactor, dest, factory, timeout, bind_address)
}

/// [`connect_unix`] for a factory already shared.
pub(crate) fn connect_unix_shared(
    reactor: &Reactor,
    path: &Path,
    factory: Rc<dyn ClientFactory>,
    timeout: Option<Duration>,
) -> Connector {
    Connector::start(
        reactor,
        Dest::Unix(path.to_path_buf()),
        factory,
        timeout,
        None,
    )
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
            repr: Repr::Socket(Rc::new(Inner {
                reactor: reactor.clone(),
                dest,
                factory,
                timeout,
                bind,
                phase: RefCell::new(Phase::Idle),
                factory_started: Cell::new(false),
                starting: Cell::new(false),
                generation: Cell::new(0),
            })),
        };
        connector.connect();
        connector
    }

    /// A connector driven by `backend` instead of a socket (the memory reactor's).
    pub(crate) fn from_backend(backend: Rc<dyn ConnectorBackend>) -> Connector {
        Connector {
            repr: Repr::Memory(backend),
        }
    }

    /// Starts a new attempt; a no-op while connecting or connected.
    pub fn connect(&self) {
        let inner = match &self.repr {
            Repr::Socket(inner) => inner,
            Repr::Memory(backend) => return backend.connect(self),
        };
        if !matches!(*inner.phase.borrow(), Phase::Idle) {
            return;
        }
        if !inner.factory_started.replace(true) {
            inner.factory.start_factory();
        }
        inner.factory.started_connecting(self);
        if !matches!(*inner.phase.borrow(), Phase::Idle) {
            return; // `started_connecting` connected again (it should not, but may)
        }
        inner.generation.set(inner.generation.get() + 1);
        let timer = inner.timeout.map(|after| {
            let me = self.clone();
            inner.reactor.call_later(after, move || me.timed_out(after))
        });
        *inner.phase.borrow_mut() = Phase::Connecting(Attempt {
            timer,
            stage: Stage::Failed,
        });
        let was_starting = inner.starting.replace(true);
        match &inner.dest {
            Dest::Tcp { host, port } => match host.parse::<IpAddr>() {
                Ok(ip) => self.try_next(vec![Address::Tcp(SocketAddr::new(ip, *port))], vec![]),
                Err(_) => self.resolve(host.clone(), *port),
            },
            Dest::Unix(path) => self.try_next(vec![Address::Unix(Some(path.clone()))], vec![]),
        }
        inner.starting.set(was_starting);
    }

    /// Abandons the attempt in progress; the factory hears
    /// [`ConnectError::Stopped`].
    pub fn stop_connecting(&self) {
        let inner = match &self.repr {
            Repr::Socket(inner) => inner,
            Repr::Memory(backend) => return backend.stop_connecting(self),
        };
        if matches!(*inner.phase.borrow(), Phase::Connecting(_)) {
            let address = self.destination();
            self.fail(ConnectError::Stopped { address });
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
        let inner = match &self.repr {
            Repr::Socket(inner) => inner,
            Repr::Memory(backend) => return backend.transport(),
        };
        match &*inner.phase.borrow() {
            Phase::Connected(conn) => conn.upgrade().map(|c| c as Rc<dyn Transport>),
            _ => None,
        }
    }

    /// Where this connector connects to. A host name shows as the address being tried or
    /// connected to; before it resolved, as the unspecified address `0.0.0.0` and the
    /// port.
    pub fn destination(&self) -> Address {
        let inner = match &self.repr {
            Repr::Socket(inner) => inner,
            Repr::Memory(backend) => return backend.destination(),
        };
        match &*inner.phase.borrow() {
            Phase::Connecting(Attempt {
                stage: Stage::Trying(trying),
                ..
            }) => return trying.address.clone(),
            Phase::Connected(conn) => {
                if let Some(conn) = conn.upgrade() {
                    return conn.peer();
                }
            }
            _ => {}
        }
        match &inner.dest {
            Dest::Tcp { host, port } => {
                let ip = host.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
                Address::Tcp(SocketAddr::new(ip, *port))
            }
            Dest::Unix(path) => Address::Unix(Some(path.clone())),
        }
    }

    /// The socket connector's state. Only called on socket connectors.
    fn inner(&self) -> &Rc<Inner> {
        match &self.repr {
            Repr::Socket(inner) => inner,
            // Invariant: only the socket connector's own methods, reached through
            // `Repr::Socket`, schedule the calls that lead here.
            Repr::Memory(_) => unreachable!("a memory connector has no socket state"),
        }
    }

    /// Looks `host` up on the thread pool; [`resolved`](Self::resolved) goes on.
    fn resolve(&self, host: String, port: u16) {
        let inner = self.inner();
        let generation = inner.generation.get();
        let lookup = defer_to_thread(&inner.reactor, move || {
            Ok::<_, Infallible>(lookup(&host, port))
        });
        let cancel = lookup.canceller();
        if let Phase::Connecting(attempt) = &mut *inner.phase.borrow_mut() {
            attempt.stage = Stage::Resolving(cancel);
        }
        let me = self.clone();
        // A pool that refuses the job answers at once, inside `connect`: `fail` then
        // reports from the loop.
        let _ = lookup.add_both(move |answer| {
            me.resolved(generation, answer);
            ok(())
        });
    }

    /// The lookup answered.
    fn resolved(&self, generation: u64, answer: Result<io::Result<Vec<SocketAddr>>, Failure>) {
        let inner = self.inner();
        let current = generation == inner.generation.get()
            && matches!(
                &*inner.phase.borrow(),
                Phase::Connecting(Attempt {
                    stage: Stage::Resolving(_),
                    ..
                })
            );
        let Dest::Tcp { host, port } = &inner.dest else {
            return;
        };
        if !current {
            return; // stopped, timed out, or a later attempt
        }
        let resolve_error = |source| ConnectError::Resolve {
            host: host.clone(),
            port: *port,
            source,
        };
        match answer {
            Ok(Ok(addrs)) if !addrs.is_empty() => {
                self.try_next(addrs.into_iter().map(Address::Tcp).collect(), vec![]);
            }
            Ok(Ok(_)) => self.fail(resolve_error(io::Error::new(
                io::ErrorKind::NotFound,
                "no addresses",
            ))),
            Ok(Err(source)) => self.fail(resolve_error(source)),
            // The pool refused the job (shutting down, queue full) or it panicked.
            Err(failure) => self.fail(resolve_error(io::Error::other(failure.error_message()))),
        }
    }

    /// Starts connecting to the first of `next` that gets as far as a pending connect;
    /// when none does, the attempt fails with everything `tried`.
    fn try_next(&self, next: Vec<Address>, mut tried: Vec<(Address, io::Error)>) {
        let inner = self.inner();
        let mut next = next.into_iter();
        for address in next.by_ref() {
            match self.open(&address) {
                Ok((socket, token)) => {
                    if let Phase::Connecting(attempt) = &mut *inner.phase.borrow_mut() {
                        attempt.stage = Stage::Trying(Trying {
                            socket,
                            address,
                            token,
                            next,
                            tried,
                        });
                        return;
                    }
                    // Invariant: only a connecting phase tries addresses; let go of the
                    // socket if that ever breaks.
                    let _ = inner.reactor.deregister_fd(token);
                    return;
                }
                Err(e) => tried.push((address, e)),
            }
        }
        self.fail(self.exhausted(tried));
    }

    /// Creates a socket for `address`, starts the non-blocking connect and registers it.
    fn open(&self, address: &Address) -> io::Result<(Socket, IoToken)> {
        let inner = self.inner();
        let (sock_addr, domain) = match address {
            Address::Tcp(addr) => (SockAddr::from(*addr), Domain::for_address(*addr)),
            Address::Unix(path) => {
                let path = path.as_deref().unwrap_or(Path::new(""));
                (SockAddr::unix(path)?, Domain::UNIX)
            }
        };
        let socket = Socket::new(domain, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        if let (Some(bind), Address::Tcp(_)) = (inner.bind, address) {
            socket.bind(&bind.into())?;
        }
        match socket.connect(&sock_addr) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let me = self.clone();
        let token = inner
            .reactor
            .register_fd(&socket, Interest::WRITABLE, move |_, _| me.on_writable())?;
        Ok((socket, token))
    }

    /// The connect in progress finished, one way or the other.
    fn on_writable(&self) {
        let inner = self.inner();
        let trying = match &mut *inner.phase.borrow_mut() {
            Phase::Connecting(attempt) => {
                match std::mem::replace(&mut attempt.stage, Stage::Failed) {
                    Stage::Trying(trying) => trying,
                    other => {
                        attempt.stage = other;
                        return;
                    }
                }
            }
            _ => return,
        };
        let Trying {
            socket,
            address,
            token,
            next,
            mut tried,
        } = trying;
        let _ = inner.reactor.deregister_fd(token);
        let status = match socket.take_error() {
            Ok(None) => socket.peer_addr().map(|_| ()),
            Ok(Some(e)) | Err(e) => Err(e),
        };
        if let Err(e) = status {
            drop(socket);
            tried.push((address, e));
            return self.try_next(next.collect(), tried);
        }
        let Some(protocol) = inner.factory.build_protocol(&address) else {
            return self.fail(ConnectError::Refused { address });
        };
        let timer = match std::mem::replace(&mut *inner.phase.borrow_mut(), Phase::Idle) {
            Phase::Connecting(attempt) => attempt.timer,
            _ => None,
        };
        if let Some(timer) = timer {
            let _ = timer.cancel();
        }
        let host = match socket.local_addr() {
            Ok(local) => Address::from_sock_addr(&local),
            Err(_) => Address::Unix(None),
        };
        // Connected before connection_made runs, so `transport()` works inside it.
        *inner.phase.borrow_mut() = Phase::Connected(Weak::new());
        let me = self.clone();
        let on_close = Box::new(move |reason: &CloseReason| me.lost(reason));
        let conn = Conn::start(
            &inner.reactor,
            socket,
            host,
            address,
            protocol,
            Some(on_close),
        );
        let mut phase = inner.phase.borrow_mut();
        if let Phase::Connected(weak) = &mut *phase {
            *weak = Rc::downgrade(&conn);
        }
    }

    /// The connect timeout passed.
    fn timed_out(&self, after: Duration) {
        let inner = self.inner();
        let (current, tried) = match &mut *inner.phase.borrow_mut() {
            Phase::Connecting(attempt) => {
                attempt.timer = None; // it is running now
                match &mut attempt.stage {
                    Stage::Trying(trying) => (
                        Some(trying.address.clone()),
                        std::mem::take(&mut trying.tried),
                    ),
                    _ => (None, Vec::new()),
                }
            }
            _ => return,
        };
        let error = match &inner.dest {
            Dest::Tcp { host, port } if host.parse::<IpAddr>().is_err() => {
                let mut tried = sock_addrs(tried);
                if let Some(Address::Tcp(addr)) = current {
                    let cut = io::Error::new(io::ErrorKind::TimedOut, "timed out");
                    tried.push((addr, cut));
                }
                ConnectError::HostTimedOut {
                    host: host.clone(),
                    port: *port,
                    after,
                    tried,
                }
            }
            _ => ConnectError::TimedOut {
                address: current.unwrap_or_else(|| self.destination()),
                after,
            },
        };
        self.fail(error);
    }

    /// The error for an attempt in which every address failed.
    fn exhausted(&self, mut tried: Vec<(Address, io::Error)>) -> ConnectError {
        let inner = self.inner();
        match &inner.dest {
            Dest::Tcp { host, port } if host.parse::<IpAddr>().is_err() => {
                ConnectError::AllFailed {
                    host: host.clone(),
                    port: *port,
                    tried: sock_addrs(tried),
                }
            }
            _ => match tried.pop() {
                Some((address, source)) => ConnectError::Io { address, source },
                // Invariant: a literal address or a path is one address, tried once.
                None => ConnectError::Stopped {
                    address: self.destination(),
                },
            },
        }
    }

    /// Ends the attempt in progress with `error`; inside `connect`, from the loop.
    fn fail(&self, error: ConnectError) {
        let inner = self.inner();
        if inner.starting.get() {
            let me = self.clone();
            let report = inner
                .reactor
                .call_later(Duration::ZERO, move || me.fail(error));
            let old = match &mut *inner.phase.borrow_mut() {
                Phase::Connecting(attempt) => Some(std::mem::replace(
                    attempt,
                    Attempt {
                        timer: Some(report),
                        stage: Stage::Failed,
                    },
                )),
                _ => None,
            };
            if let Some(old) = old {
                self.end(old);
            }
            return;
        }
        let phase = std::mem::replace(&mut *inner.phase.borrow_mut(), Phase::Idle);
        let Phase::Connecting(attempt) = phase else {
            *inner.phase.borrow_mut() = phase;
            return;
        };
        self.end(attempt);
        let failure = Failure::new(error);
        tracing::debug!("{failure}");
        inner.factory.client_connection_failed(self, failure);
        self.stop_factory_if_idle();
    }

    /// Lets go of what an attempt holds: its timer, lookup and socket.
    fn end(&self, attempt: Attempt) {
        let inner = self.inner();
        // A new generation first: cancelling the lookup answers it at once.
        inner.generation.set(inner.generation.get() + 1);
        if let Some(timer) = attempt.timer {
            let _ = timer.cancel();
        }
        match attempt.stage {
            Stage::Failed => {}
            Stage::Resolving(cancel) => cancel.cancel(),
            Stage::Trying(trying) => {
                let _ = inner.reactor.deregister_fd(trying.token);
            }
        }
    }

    fn lost(&self, reason: &CloseReason) {
        let inner = self.inner();
        *inner.phase.borrow_mut() = Phase::Idle;
        inner.factory.client_connection_lost(self, reason);
        self.stop_factory_if_idle();
    }

    fn stop_factory_if_idle(&self) {
        let inner = self.inner();
        let idle = matches!(*inner.phase.borrow(), Phase::Idle);
        if idle && inner.factory_started.replace(false) {
            inner.factory.stop_factory();
        }
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &self.repr {
            Repr::Memory(backend) => backend.state(),
            Repr::Socket(inner) => match &*inner.phase.borrow() {
                Phase::Idle => "idle",
                Phase::Connecting(Attempt {
                    stage: Stage::Resolving(_),
                    ..
                }) => "resolving",
                Phase::Connecting(_) => "connecting",
                Phase::Connected(_) => "connected",
            },
        };
        f.debug_struct("Connector")
            .field("destination", &self.destination())
            .field("phase", &phase)
            .finish()
    }
}

/// The system resolver's answer for `host:port`, in its order (runs on a pool thread).
fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

/// The TCP addresses of `tried` (a host name only resolves to TCP addresses).
fn sock_addrs(tried: Vec<(Address, io::Error)>) -> Vec<(SocketAddr, io::Error)> {
    tried
        .into_iter()
        .filter_map(|(address, e)| address.socket_addr().map(|a| (a, e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{factory_fn, listen_tcp, Protocol, ProtocolFactory, DEFAULT_BACKLOG};

    /// Keeps where protocols were built and why attempts failed; stops the reactor at
    /// the first of either.
    struct Record {
        reactor: Reactor,
        built: Rc<RefCell<Vec<Address>>>,
        failed: Rc<RefCell<Vec<Failure>>>,
    }

    impl ProtocolFactory for Record {
        fn build_protocol(&self, addr: &Address) -> Option<Box<dyn Protocol>> {
            self.built.borrow_mut().push(addr.clone());
            self.reactor.stop();
            struct Quiet;
            impl Protocol for Quiet {
                fn connection_made(&mut self, t: Rc<dyn Transport>) {
                    t.abort_connection();
                }
                fn data_received(&mut self, _: &[u8]) {}
            }
            Some(Box::new(Quiet))
        }
    }

    impl ClientFactory for Record {
        fn client_connection_failed(&self, _: &Connector, reason: Failure) {
            self.failed.borrow_mut().push(reason);
            self.reactor.stop();
        }
    }

    /// Connects to `localhost` as if it had resolved to `addrs`, in that order.
    fn connect_as_resolved(addrs: Vec<SocketAddr>) -> (Vec<Address>, Vec<Failure>) {
        let reactor = Reactor::builder()
            .install_signal_handlers(false)
            .build()
            .unwrap();
        let (built, failed) = (Rc::default(), Rc::default());
        let record = Record {
            reactor: reactor.clone(),
            built: Rc::clone(&built),
            failed: Rc::clone(&failed),
        };
        let timeout = Some(Duration::from_secs(10));
        let connector =
            connect_tcp_shared(&reactor, "localhost", 1, Rc::new(record), timeout, None);
        // The pool's own answer comes once the reactor runs: this one is first.
        let generation = connector.inner().generation.get();
        connector.resolved(generation, Ok(Ok(addrs)));
        reactor.run();
        let (built, failed) = (built.take(), failed.take());
        (built, failed)
    }

    fn closed_port() -> SocketAddr {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        closed.local_addr().unwrap()
    }

    #[test]
    fn the_next_address_is_tried_when_one_fails() {
        let reactor = Reactor::builder()
            .install_signal_handlers(false)
            .build()
            .unwrap();
        let none = factory_fn(|_| None::<Box<dyn Protocol>>);
        let port = listen_tcp(&reactor, 0, none, DEFAULT_BACKLOG, "127.0.0.1").unwrap();
        let open = port.address().socket_addr().unwrap();
        let (built, failed) = connect_as_resolved(vec![closed_port(), open]);
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(built, vec![Address::Tcp(open)]);
        port.stop_listening();
    }

    #[test]
    fn when_every_address_fails_each_is_named_in_order() {
        let (a, b) = (closed_port(), closed_port());
        let (built, failed) = connect_as_resolved(vec![a, b]);
        assert!(built.is_empty());
        let [failure] = &failed[..] else {
            panic!("one failure: {failed:?}")
        };
        let Some(ConnectError::AllFailed { host, tried, .. }) = failure.check::<ConnectError>()
        else {
            panic!("not AllFailed: {failure}")
        };
        assert_eq!(host, "localhost");
        let order: Vec<SocketAddr> = tried.iter().map(|(a, _)| *a).collect();
        assert_eq!(order, vec![a, b]);
        assert!(tried
            .iter()
            .all(|(_, e)| e.kind() == io::ErrorKind::ConnectionRefused));
    }
}
