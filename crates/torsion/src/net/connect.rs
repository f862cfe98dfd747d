//! Outgoing connections over sockets: what a [`Connector`] from `StreamNetwork::connect_tcp`
//! or `connect_unix` on a [`Reactor`] does (Twisted's `connectTCP`, `connectUNIX`).
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
    io,
    net::{IpAddr, SocketAddr, ToSocketAddrs},
    path::{Path, PathBuf},
    rc::{Rc, Weak},
    time::Duration,
};

use socket2::{Domain, SockAddr, Socket, Type};

use super::{
    conn::Conn, network::ConnectorBackend, Address, ClientFactory, CloseReason, ConnectError,
    Connector, TcpConnectOptions, Transport, UnixConnectOptions,
};
use crate::{
    defer::{CancelHandle, Deferred},
    reactor::{Interest, IoToken, Reactor},
    threads::defer_to_thread,
    DelayedCall, Failure,
};

/// A connection attempt over sockets: the implementation behind a [`Connector`] from
/// a [`Reactor`].
struct SocketConnector {
    reactor: Reactor,
    dest: Dest,
    factory: Rc<dyn ClientFactory>,
    options: TcpConnectOptions,
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

/// Connects to `host:port` (see [`super::StreamNetwork::connect_tcp`]).
pub(super) fn connect_tcp(
    reactor: &Reactor,
    host: &str,
    port: u16,
    factory: Rc<dyn ClientFactory>,
    options: TcpConnectOptions,
) -> Connector {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let dest = Dest::Tcp {
        host: host.to_owned(),
        port,
    };
    Connector::new(SocketConnector::start(reactor, dest, factory, options))
}

/// Connects to the Unix socket at `path` (see [`super::StreamNetwork::connect_unix`]).
pub(super) fn connect_unix(
    reactor: &Reactor,
    path: &Path,
    factory: Rc<dyn ClientFactory>,
    options: UnixConnectOptions,
) -> Connector {
    let dest = Dest::Unix(path.to_path_buf());
    let options = TcpConnectOptions {
        timeout: options.timeout,
        bind_address: None,
    };
    Connector::new(SocketConnector::start(reactor, dest, factory, options))
}

impl SocketConnector {
    fn start(
        reactor: &Reactor,
        dest: Dest,
        factory: Rc<dyn ClientFactory>,
        options: TcpConnectOptions,
    ) -> Rc<SocketConnector> {
        let attempt = Rc::new(SocketConnector {
            reactor: reactor.clone(),
            dest,
            factory,
            options,
            phase: RefCell::new(Phase::Idle),
            factory_started: Cell::new(false),
            starting: Cell::new(false),
            generation: Cell::new(0),
        });
        attempt.clone().connect();
        attempt
    }

    /// A handle on this attempt, for the factory's callbacks.
    fn handle(self: &Rc<Self>) -> Connector {
        Connector::new(self.clone())
    }

    /// Looks `host` up on the thread pool; [`resolved`](Self::resolved) goes on.
    fn resolve(self: &Rc<Self>, host: String, port: u16) {
        let generation = self.generation.get();
        let lookup = resolve_on_pool(&self.reactor, &host, port);
        let cancel = lookup.canceller();
        if let Phase::Connecting(attempt) = &mut *self.phase.borrow_mut() {
            attempt.stage = Stage::Resolving(cancel);
        }
        let me = self.clone();
        // A pool that refuses the job answers at once, inside `connect`: `fail` then
        // reports from the loop.
        let _ = lookup.add_both(move |answer| {
            me.resolved(generation, answer);
            Ok::<_, Failure>(())
        });
    }

    /// The lookup answered.
    fn resolved(
        self: &Rc<Self>,
        generation: u64,
        answer: Result<io::Result<Vec<SocketAddr>>, Failure>,
    ) {
        let current = generation == self.generation.get()
            && matches!(
                &*self.phase.borrow(),
                Phase::Connecting(Attempt {
                    stage: Stage::Resolving(_),
                    ..
                })
            );
        let Dest::Tcp { host, port } = &self.dest else {
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
    fn try_next(self: &Rc<Self>, next: Vec<Address>, mut tried: Vec<(Address, io::Error)>) {
        let mut next = next.into_iter();
        for address in next.by_ref() {
            match self.open(&address) {
                Ok((socket, token)) => {
                    if let Phase::Connecting(attempt) = &mut *self.phase.borrow_mut() {
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
                    let _ = self.reactor.deregister_fd(token);
                    return;
                }
                Err(e) => tried.push((address, e)),
            }
        }
        self.fail(self.exhausted(tried));
    }

    /// Creates a socket for `address`, starts the non-blocking connect and registers it.
    fn open(self: &Rc<Self>, address: &Address) -> io::Result<(Socket, IoToken)> {
        let (sock_addr, domain) = match address {
            Address::Tcp(addr) => (SockAddr::from(*addr), Domain::for_address(*addr)),
            Address::Unix(path) => {
                let path = path.as_deref().unwrap_or(Path::new(""));
                (SockAddr::unix(path)?, Domain::UNIX)
            }
        };
        let socket = Socket::new(domain, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        if let (Some(bind), Address::Tcp(_)) = (self.options.bind_address, address) {
            socket.bind(&bind.into())?;
        }
        match socket.connect(&sock_addr) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let me = self.clone();
        let token = self
            .reactor
            .register_fd(&socket, Interest::WRITABLE, move |_, _| me.on_writable())?;
        Ok((socket, token))
    }

    /// The connect in progress finished, one way or the other.
    fn on_writable(self: &Rc<Self>) {
        let trying = match &mut *self.phase.borrow_mut() {
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
        let _ = self.reactor.deregister_fd(token);
        let status = match socket.take_error() {
            Ok(None) => socket.peer_addr().map(|_| ()),
            Ok(Some(e)) | Err(e) => Err(e),
        };
        if let Err(e) = status {
            drop(socket);
            tried.push((address, e));
            return self.try_next(next.collect(), tried);
        }
        let Some(protocol) = self.factory.build_protocol(&address) else {
            return self.fail(ConnectError::Refused { address });
        };
        let timer = match std::mem::replace(&mut *self.phase.borrow_mut(), Phase::Idle) {
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
        *self.phase.borrow_mut() = Phase::Connected(Weak::new());
        let me = self.clone();
        let on_close = Box::new(move |reason: &CloseReason| me.lost(reason));
        let conn = Conn::start(
            &self.reactor,
            socket,
            host,
            address,
            protocol,
            Some(on_close),
        );
        let mut phase = self.phase.borrow_mut();
        if let Phase::Connected(weak) = &mut *phase {
            *weak = Rc::downgrade(&conn);
        }
    }

    /// The connect timeout passed.
    fn timed_out(self: &Rc<Self>, after: Duration) {
        let (current, tried) = match &mut *self.phase.borrow_mut() {
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
        let error = match &self.dest {
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
    fn exhausted(self: &Rc<Self>, mut tried: Vec<(Address, io::Error)>) -> ConnectError {
        match &self.dest {
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
    fn fail(self: &Rc<Self>, error: ConnectError) {
        if self.starting.get() {
            let me = self.clone();
            let report = self
                .reactor
                .call_later(Duration::ZERO, move || me.fail(error));
            let old = match &mut *self.phase.borrow_mut() {
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
        let phase = std::mem::replace(&mut *self.phase.borrow_mut(), Phase::Idle);
        let Phase::Connecting(attempt) = phase else {
            *self.phase.borrow_mut() = phase;
            return;
        };
        self.end(attempt);
        let failure = Failure::new(error);
        tracing::debug!("{failure}");
        self.factory
            .client_connection_failed(&self.handle(), failure);
        self.stop_factory_if_idle();
    }

    /// Lets go of what an attempt holds: its timer, lookup and socket.
    fn end(self: &Rc<Self>, attempt: Attempt) {
        // A new generation first: cancelling the lookup answers it at once.
        self.generation.set(self.generation.get() + 1);
        if let Some(timer) = attempt.timer {
            let _ = timer.cancel();
        }
        match attempt.stage {
            Stage::Failed => {}
            Stage::Resolving(cancel) => cancel.cancel(),
            Stage::Trying(trying) => {
                let _ = self.reactor.deregister_fd(trying.token);
            }
        }
    }

    fn lost(self: &Rc<Self>, reason: &CloseReason) {
        *self.phase.borrow_mut() = Phase::Idle;
        self.factory.client_connection_lost(&self.handle(), reason);
        self.stop_factory_if_idle();
    }

    fn stop_factory_if_idle(self: &Rc<Self>) {
        let idle = matches!(*self.phase.borrow(), Phase::Idle);
        if idle && self.factory_started.replace(false) {
            self.factory.stop_factory();
        }
    }
}

impl ConnectorBackend for SocketConnector {
    fn connect(self: Rc<Self>) {
        if !matches!(*self.phase.borrow(), Phase::Idle) {
            return;
        }
        if !self.factory_started.replace(true) {
            self.factory.start_factory();
        }
        self.factory.started_connecting(&self.handle());
        if !matches!(*self.phase.borrow(), Phase::Idle) {
            return; // `started_connecting` connected again (it should not, but may)
        }
        self.generation.set(self.generation.get() + 1);
        let timer = self.options.timeout.map(|after| {
            let me = self.clone();
            self.reactor.call_later(after, move || me.timed_out(after))
        });
        *self.phase.borrow_mut() = Phase::Connecting(Attempt {
            timer,
            stage: Stage::Failed,
        });
        let was_starting = self.starting.replace(true);
        match &self.dest {
            Dest::Tcp { host, port } => match host.parse::<IpAddr>() {
                Ok(ip) => self.try_next(vec![Address::Tcp(SocketAddr::new(ip, *port))], vec![]),
                Err(_) => self.resolve(host.clone(), *port),
            },
            Dest::Unix(path) => self.try_next(vec![Address::Unix(Some(path.clone()))], vec![]),
        }
        self.starting.set(was_starting);
    }

    fn stop_connecting(self: Rc<Self>) {
        if matches!(*self.phase.borrow(), Phase::Connecting(_)) {
            let address = self.destination();
            self.fail(ConnectError::Stopped { address });
        }
    }

    fn transport(&self) -> Option<Rc<dyn Transport>> {
        match &*self.phase.borrow() {
            Phase::Connected(conn) => conn.upgrade().map(|c| c as Rc<dyn Transport>),
            _ => None,
        }
    }

    fn destination(&self) -> Address {
        match &*self.phase.borrow() {
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
        match &self.dest {
            Dest::Tcp { host, port } => {
                let ip = host.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
                Address::Tcp(SocketAddr::new(ip, *port))
            }
            Dest::Unix(path) => Address::Unix(Some(path.clone())),
        }
    }

    fn phase(&self) -> &'static str {
        match &*self.phase.borrow() {
            Phase::Idle => "idle",
            Phase::Connecting(Attempt {
                stage: Stage::Resolving(_),
                ..
            }) => "resolving",
            Phase::Connecting(_) => "connecting",
            Phase::Connected(_) => "connected",
        }
    }
}

/// The system resolver's answer for `host:port`, in its order, looked up on the
/// reactor's thread pool, never on the loop. This is the crate's one name lookup:
/// `Connector` and the endpoints' `HostnameEndpoint` both come here.
pub(crate) fn resolve_on_pool(
    reactor: &Reactor,
    host: &str,
    port: u16,
) -> Deferred<io::Result<Vec<SocketAddr>>> {
    let host = host.to_owned();
    defer_to_thread(reactor, move || {
        let found = (host.as_str(), port).to_socket_addrs();
        Ok::<_, Infallible>(found.map(|addresses| addresses.collect()))
    })
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
    use crate::net::{factory_fn, Protocol, ProtocolFactory, StreamNetwork, TcpListenOptions};

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
        let options = TcpConnectOptions::default().timeout(Duration::from_secs(10));
        let dest = Dest::Tcp {
            host: "localhost".to_owned(),
            port: 1,
        };
        let attempt = SocketConnector::start(&reactor, dest, Rc::new(record), options);
        // The pool's own answer comes once the reactor runs: this one is first.
        let generation = attempt.generation.get();
        attempt.resolved(generation, Ok(Ok(addrs)));
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
        let none = factory_fn(|_| None);
        let options = TcpListenOptions::default().interface("127.0.0.1");
        let port = reactor.listen_tcp(0, Rc::new(none), options).unwrap();
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
