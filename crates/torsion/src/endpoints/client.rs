//! Client endpoints: connect where a string says (Twisted's `clientFromString`,
//! `HostnameEndpoint`, `UNIXClientEndpoint`, `connectProtocol`).
//!
//! [`StreamClientEndpoint::connect`] fires with the connection's [`Transport`] once the
//! protocol's `connection_made` has run. Twisted fires with the protocol; a Rust caller
//! owns its protocol through the factory (shared state in `Rc`s), or hands a protocol to
//! [`connect_protocol`] and gets it back as `Rc<RefCell<P>>`.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::eyeballs::{interleave, race, DEFAULT_ATTEMPT_DELAY};
use super::wrap::{Once, Shared};
use super::{ClientEndpoint, EndpointError};
use crate::defer::{fail, CancelHandle, Deferred, Resolver};
use crate::net::{
    resolve_on_pool, Connector, Protocol, ProtocolFactory, StreamNetwork, TcpConnectOptions,
    Transport, UnixConnectOptions,
};
use crate::{Failure, Reactor};

/// Anything a client connects through (Twisted's `IStreamClientEndpoint`).
pub trait StreamClientEndpoint {
    /// Connects, serving the connection with a protocol from `factory`; fires with its
    /// transport after `connection_made`, or fails (a [`ClientError`], or `Cancelled`
    /// when the Deferred is cancelled, which abandons the attempt).
    fn connect(&self, factory: Rc<dyn ProtocolFactory>) -> Deferred<Rc<dyn Transport>>;
}

/// Resolves a host name to addresses, off the reactor thread: given the host and port.
pub type NameResolver = Rc<dyn Fn(&str, u16) -> Deferred<Vec<SocketAddr>>>;

/// Reads a client endpoint string and ties it to `reactor` (Twisted's `clientFromString`).
///
/// ```no_run
/// use torsion::{endpoints::client_from_string, net::factory_fn, protocols::wire::Echo, Reactor};
/// let reactor = Reactor::new().unwrap();
/// let endpoint = client_from_string(&reactor, "tcp:localhost:8000")?;
/// endpoint.connect(Echo::factory()).add_callback(|transport| {
///     transport.write(b"hello\n");
///     Ok(())
/// });
/// # Ok::<(), torsion::endpoints::EndpointError>(())
/// ```
///
/// # Errors
/// The string does not parse, or is an `ssl:`/`tls:` endpoint (not supported yet).
pub fn client_from_string(reactor: &Reactor, input: &str) -> Result<StreamClient, EndpointError> {
    let description = ClientEndpoint::parse(input)?;
    StreamClient::new(reactor, description)
}

/// Connects once through `endpoint` with `protocol`, and fires with the protocol itself
/// once connected (Twisted's `connectProtocol`). The connection's callbacks borrow it
/// mutably while they run; borrow it only outside them.
pub fn connect_protocol<P: Protocol>(
    endpoint: &dyn StreamClientEndpoint,
    protocol: P,
) -> Deferred<Rc<RefCell<P>>> {
    let shared = Rc::new(RefCell::new(protocol));
    let slot = RefCell::new(Some(shared.clone()));
    let factory = crate::net::factory_fn(move |_| {
        // One protocol, for the one connection the endpoint makes.
        let protocol = slot.borrow_mut().take()?;
        Some(Box::new(Shared(protocol)) as Box<dyn Protocol>)
    });
    endpoint
        .connect(Rc::new(factory))
        .add_callback(move |_| Ok(shared))
}

/// A client endpoint read from a string ([`client_from_string`]): TCP through a
/// [`HostnameEndpoint`], or a Unix socket.
#[derive(Debug)]
pub struct StreamClient {
    kind: ClientKind,
    description: ClientEndpoint,
}

#[derive(Debug)]
enum ClientKind {
    Tcp(HostnameEndpoint),
    Unix {
        reactor: Reactor,
        path: PathBuf,
        timeout: Duration,
        check_pid: bool,
    },
}

impl StreamClient {
    /// An endpoint for `description` on `reactor`.
    ///
    /// # Errors
    /// [`EndpointError::Unsupported`] for `ssl:`/`tls:`; [`EndpointError::InvalidValue`]
    /// when `bindAddress` is not an IP address.
    pub fn new(
        reactor: &Reactor,
        description: ClientEndpoint,
    ) -> Result<StreamClient, EndpointError> {
        description.check_supported()?;
        let kind = match &description {
            ClientEndpoint::Tcp {
                host,
                port,
                timeout,
                bind_address,
            } => {
                let bind = match bind_address {
                    None => None,
                    Some(text) => match text.parse::<IpAddr>() {
                        Ok(ip) => Some(ip),
                        Err(_) => {
                            return Err(EndpointError::InvalidValue {
                                input: description.to_string(),
                                key: "bindAddress",
                                value: text.clone(),
                                expected: "an IP address",
                            })
                        }
                    },
                };
                let endpoint = HostnameEndpoint::new(reactor, host, *port)
                    .with_timeout(*timeout)
                    .with_bind_address(bind);
                ClientKind::Tcp(endpoint)
            }
            ClientEndpoint::Unix {
                path,
                timeout,
                check_pid,
            } => ClientKind::Unix {
                reactor: reactor.clone(),
                path: path.clone(),
                timeout: *timeout,
                check_pid: *check_pid,
            },
            // Invariant: check_supported refused everything else above.
            _ => {
                return Err(EndpointError::Unsupported {
                    input: description.to_string(),
                    what: "this kind of",
                })
            }
        };
        Ok(StreamClient { kind, description })
    }

    /// Connects with a protocol from `factory` (see [`StreamClientEndpoint::connect`]).
    pub fn connect(&self, factory: impl ProtocolFactory) -> Deferred<Rc<dyn Transport>> {
        StreamClientEndpoint::connect(self, Rc::new(factory))
    }

    /// What this endpoint connects to.
    pub fn description(&self) -> &ClientEndpoint {
        &self.description
    }

    /// The TCP endpoint, to tune it (attempt delay, resolver); `None` for Unix sockets.
    pub fn hostname_endpoint(&mut self) -> Option<&mut HostnameEndpoint> {
        match &mut self.kind {
            ClientKind::Tcp(endpoint) => Some(endpoint),
            ClientKind::Unix { .. } => None,
        }
    }
}

impl StreamClientEndpoint for StreamClient {
    fn connect(&self, factory: Rc<dyn ProtocolFactory>) -> Deferred<Rc<dyn Transport>> {
        match &self.kind {
            ClientKind::Tcp(endpoint) => StreamClientEndpoint::connect(endpoint, factory),
            ClientKind::Unix {
                reactor,
                path,
                timeout,
                check_pid,
            } => {
                if *check_pid {
                    if let Err(error) = check_lock(path) {
                        return fail(error);
                    }
                }
                let path = path.clone();
                let options = UnixConnectOptions::default().timeout(*timeout);
                attempt(
                    move |once| reactor.connect_unix(&path, Rc::new(once), options),
                    factory,
                )
            }
        }
    }
}

/// Connects to a host name or address, trying every address it resolves to (Twisted's
/// `HostnameEndpoint`).
///
/// The name is resolved on the reactor's thread pool (`ToSocketAddrs`, the system
/// resolver), never on the loop; an IP address is used as is. The addresses are ordered
/// IPv6 and IPv4 alternately, starting with the family the resolver put first, then
/// raced: the next attempt starts [`with_attempt_delay`](Self::with_attempt_delay) after
/// the previous one (default 0.3 s, as Twisted) or as soon as it fails; the first to
/// connect wins and the others are abandoned. When every one fails, the failure is a
/// [`ClientError::Connect`] naming the host and each address with its reason. The timeout
/// bounds each attempt, as in Twisted.
pub struct HostnameEndpoint {
    reactor: Reactor,
    host: String,
    port: u16,
    /// Each attempt's limit; `None` leaves it to the system.
    timeout: Option<Duration>,
    bind_address: Option<IpAddr>,
    attempt_delay: Duration,
    resolver: NameResolver,
}

impl HostnameEndpoint {
    /// An endpoint for `host:port` (the host may be `[::1]`-bracketed), with Twisted's
    /// defaults: 30 s per attempt, 0.3 s between attempts, the system resolver.
    pub fn new(reactor: &Reactor, host: &str, port: u16) -> HostnameEndpoint {
        let pool = reactor.clone();
        HostnameEndpoint {
            reactor: reactor.clone(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            timeout: Some(super::DEFAULT_TIMEOUT),
            bind_address: None,
            attempt_delay: DEFAULT_ATTEMPT_DELAY,
            resolver: Rc::new(move |host, port| system_resolve(&pool, host, port)),
        }
    }

    /// How long each attempt may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// No limit of its own on each attempt: the system's connect timeout applies (for a
    /// caller that bounds the whole connection with a deadline of its own).
    pub fn without_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// The local address to bind to before connecting (port chosen by the system).
    pub fn with_bind_address(mut self, bind_address: Option<IpAddr>) -> Self {
        self.bind_address = bind_address;
        self
    }

    /// How long to wait after starting one attempt before starting the next.
    pub fn with_attempt_delay(mut self, delay: Duration) -> Self {
        self.attempt_delay = delay;
        self
    }

    /// Resolves names with `resolver` instead of the system resolver (tests, or a DNS
    /// client of your own).
    pub fn with_resolver(
        mut self,
        resolver: impl Fn(&str, u16) -> Deferred<Vec<SocketAddr>> + 'static,
    ) -> Self {
        self.resolver = Rc::new(resolver);
        self
    }

    /// Sets the attempt delay in place (see [`with_attempt_delay`](Self::with_attempt_delay)).
    pub fn set_attempt_delay(&mut self, delay: Duration) {
        self.attempt_delay = delay;
    }

    /// Sets the resolver in place (see [`with_resolver`](Self::with_resolver)).
    pub fn set_resolver(
        &mut self,
        resolver: impl Fn(&str, u16) -> Deferred<Vec<SocketAddr>> + 'static,
    ) {
        self.resolver = Rc::new(resolver);
    }

    /// Races the attempts over `addresses`.
    fn race(
        &self,
        addresses: Vec<SocketAddr>,
        factory: Rc<dyn ProtocolFactory>,
    ) -> Deferred<Rc<dyn Transport>> {
        let (reactor, timeout, bind) = (self.reactor.clone(), self.timeout, self.bind_address);
        let (host, port) = (self.host.clone(), self.port);
        race(
            Rc::new(self.reactor.clone()),
            interleave(&addresses),
            self.attempt_delay,
            move |address| {
                let options = TcpConnectOptions::default()
                    .timeout(timeout)
                    .bind_address(bind.map(|ip| SocketAddr::new(ip, 0)));
                let ip = address.ip().to_string();
                attempt(
                    |once| reactor.connect_tcp(&ip, address.port(), Rc::new(once), options),
                    factory.clone(),
                )
            },
            move |attempts| {
                Failure::new(ClientError::Connect {
                    host,
                    port,
                    attempts,
                })
            },
        )
    }
}

impl StreamClientEndpoint for HostnameEndpoint {
    fn connect(&self, factory: Rc<dyn ProtocolFactory>) -> Deferred<Rc<dyn Transport>> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return self.race(vec![SocketAddr::new(ip, self.port)], factory);
        }
        // Cancelling reaches whichever stage is under way: the lookup, then the race.
        let stage: Rc<RefCell<Option<CancelHandle>>> = Rc::default();
        let (d, resolver) = Deferred::with_canceller({
            let stage = stage.clone();
            move |_: &Resolver<Rc<dyn Transport>>| {
                let current = stage.borrow_mut().take();
                if let Some(current) = current {
                    current.cancel();
                }
            }
        });
        let lookup = (self.resolver)(&self.host, self.port);
        *stage.borrow_mut() = Some(lookup.canceller());
        let (host, port) = (self.host.clone(), self.port);
        let this = self.clone_settings();
        let _ = lookup
            .add_callbacks(
                move |addresses: Vec<SocketAddr>| {
                    if addresses.is_empty() {
                        let source = io::Error::new(io::ErrorKind::NotFound, "no addresses");
                        return fail(ClientError::Resolve { host, port, source });
                    }
                    let racing = this.race(addresses, factory);
                    *stage.borrow_mut() = Some(racing.canceller());
                    racing
                },
                |failure| fail(failure),
            )
            .add_both(move |result| {
                let _ = resolver.resolve(result);
                Ok::<(), Failure>(())
            });
        d
    }
}

impl HostnameEndpoint {
    fn clone_settings(&self) -> HostnameEndpoint {
        HostnameEndpoint {
            reactor: self.reactor.clone(),
            host: self.host.clone(),
            port: self.port,
            timeout: self.timeout,
            bind_address: self.bind_address,
            attempt_delay: self.attempt_delay,
            resolver: self.resolver.clone(),
        }
    }
}

impl fmt::Debug for HostnameEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostnameEndpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("timeout", &self.timeout)
            .field("attempt_delay", &self.attempt_delay)
            .finish()
    }
}

/// One connection attempt through a [`Connector`] that `start` makes for the given
/// factory; cancelling the Deferred stops the connector.
fn attempt(
    start: impl FnOnce(Once) -> Connector,
    factory: Rc<dyn ProtocolFactory>,
) -> Deferred<Rc<dyn Transport>> {
    let slot: Rc<RefCell<Option<Connector>>> = Rc::default();
    let (d, resolver) = Deferred::with_canceller({
        let slot = slot.clone();
        move |_: &Resolver<Rc<dyn Transport>>| {
            let connector = slot.borrow_mut().take();
            if let Some(connector) = connector {
                connector.stop_connecting();
            }
        }
    });
    // Never reports synchronously, so the slot is filled before anything fires.
    let connector = start(Once::new(factory, resolver));
    *slot.borrow_mut() = Some(connector);
    d.add_both(move |result| {
        // Done with the connector: a connected one lives on in its transport.
        slot.borrow_mut().take();
        result
    })
}

/// Resolves on the reactor's pool with the system resolver.
fn system_resolve(reactor: &Reactor, host: &str, port: u16) -> Deferred<Vec<SocketAddr>> {
    let (name, host) = (host.to_owned(), host.to_owned());
    resolve_on_pool(reactor, &name, port)
        .add_callback({
            let host = host.clone();
            move |found| {
                found.map_err(|source| Failure::new(ClientError::Resolve { host, port, source }))
            }
        })
        .add_errback(move |failure| {
            if failure.check::<ClientError>().is_some() {
                return Err(failure);
            }
            // The pool's own refusal: keep its words.
            let source = io::Error::other(failure.error_message());
            Err(Failure::new(ClientError::Resolve { host, port, source }))
        })
}

/// Twisted's `checkPID` for Unix clients: the server's `PATH.lock` must name a live process.
fn check_lock(path: &std::path::Path) -> Result<(), ClientError> {
    let lock = super::server::lock_path(path);
    let live = std::fs::read_link(&lock)
        .ok()
        .and_then(|target| target.to_str()?.parse::<i32>().ok())
        .is_some_and(crate::sys::unix::process_exists);
    match live {
        true => Ok(()),
        false => Err(ClientError::NotRunning { lock }),
    }
}

/// Why a client endpoint could not connect.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The host name did not resolve, or resolved to no address.
    Resolve {
        /// The name.
        host: String,
        /// The port asked for.
        port: u16,
        /// What the resolver said.
        source: io::Error,
    },
    /// Every address was tried and none connected.
    Connect {
        /// The host as given (a name or an address).
        host: String,
        /// The port.
        port: u16,
        /// Each address tried, in order, with why it failed (usually a
        /// [`ConnectError`](crate::net::ConnectError)).
        attempts: Vec<(SocketAddr, Failure)>,
    },
    /// A Unix client with `lockfile=1` found no live server behind `PATH.lock`.
    NotRunning {
        /// The lock file looked at.
        lock: PathBuf,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Resolve { host, port, source } => {
                write!(f, "resolve {host}:{port}: {source}")
            }
            ClientError::Connect {
                host,
                port,
                attempts,
            } => {
                write!(f, "connect {host}:{port}: ")?;
                match attempts.len() {
                    1 => {}
                    n => write!(f, "all {n} addresses failed: ")?,
                }
                for (at, (_, failure)) in attempts.iter().enumerate() {
                    let separator = if at == 0 { "" } else { "; " };
                    write!(f, "{separator}{}", failure.error_message())?;
                }
                Ok(())
            }
            ClientError::NotRunning { lock } => {
                write!(f, "connect unix: no live server holds {}", lock.display())
            }
        }
    }
}

impl Error for ClientError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ClientError::Resolve { source, .. } => Some(source),
            _ => None,
        }
    }
}
