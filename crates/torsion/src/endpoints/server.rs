//! Server endpoints: listen where a string says (Twisted's `serverFromString` and its
//! `TCP4ServerEndpoint`, `TCP6ServerEndpoint`, `UNIXServerEndpoint`, systemd endpoint).

use std::error::Error;
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use socket2::Socket;

use super::{ActivationError, Domain, EndpointError, ListenFds, ServerEndpoint};
use crate::defer::{fail, succeed, Deferred};
use crate::net::{
    adopt_stream_port, ListenError, ListeningPort, ProtocolFactory, StreamNetwork,
    TcpListenOptions, UnixListenOptions,
};
use crate::protocols::proxy::ProxyFactory;
use crate::sys::unix::{dup_inherited, process_exists};
use crate::Reactor;

/// Anything a server listens through (Twisted's `IStreamServerEndpoint`).
pub trait StreamServerEndpoint {
    /// Starts listening, serving each connection with a protocol from `factory`; fires
    /// with the port, or fails with a [`ServerError`] naming the endpoint.
    fn listen(&self, factory: Rc<dyn ProtocolFactory>) -> Deferred<ListeningPort>;
}

/// Reads a server endpoint string and ties it to `reactor` (Twisted's `serverFromString`).
///
/// ```no_run
/// use torsion::{endpoints::server_from_string, protocols::wire::Echo, Reactor};
/// let reactor = Reactor::new().unwrap();
/// let endpoint = server_from_string(&reactor, "tcp:0:interface=127.0.0.1")?;
/// let port = endpoint.listen(Echo::factory()).try_result().ok().unwrap().ok().unwrap();
/// assert_ne!(port.port(), 0);
/// port.stop_listening();
/// # Ok::<(), torsion::endpoints::EndpointError>(())
/// ```
///
/// A `haproxy:` prefix (`haproxy:tcp:8080`) reads a PROXY protocol header (v1 or v2)
/// first on each connection, and the protocols see the client's address as their peer
/// (see [`crate::protocols::proxy`]).
///
/// # Errors
/// The string does not parse, or is an `ssl:`/`tls:` endpoint (not supported yet).
pub fn server_from_string(reactor: &Reactor, input: &str) -> Result<StreamServer, EndpointError> {
    if let Some(inner) = input.strip_prefix(HAPROXY_PREFIX) {
        let mut server = StreamServer::new(reactor, ServerEndpoint::parse(inner)?)?;
        server.proxy_header = true;
        return Ok(server);
    }
    StreamServer::new(reactor, ServerEndpoint::parse(input)?)
}

/// The prefix that makes a server endpoint read a PROXY protocol header first.
pub const HAPROXY_PREFIX: &str = "haproxy:";

/// Checks a server endpoint string as [`server_from_string`] reads it, `haproxy:`
/// prefix included, without listening.
///
/// # Errors
/// As [`server_from_string`].
pub fn check_server_string(input: &str) -> Result<(), EndpointError> {
    let inner = input.strip_prefix(HAPROXY_PREFIX).unwrap_or(input);
    ServerEndpoint::parse(inner)?.check_supported()
}

/// A server endpoint read from a string ([`server_from_string`]).
///
/// Listening happens at once (the Deferred has fired when `listen` returns); it is a
/// Deferred so that endpoints which must wait (TLS certificates, say) share the API.
#[derive(Debug, Clone)]
pub struct StreamServer {
    reactor: Reactor,
    description: ServerEndpoint,
    listen_fds: Option<ListenFds>,
    /// `haproxy:`: each connection starts with a PROXY protocol header.
    proxy_header: bool,
}

impl StreamServer {
    /// An endpoint for `description` on `reactor`.
    ///
    /// # Errors
    /// [`EndpointError::Unsupported`] for `ssl:`/`tls:`.
    pub fn new(
        reactor: &Reactor,
        description: ServerEndpoint,
    ) -> Result<StreamServer, EndpointError> {
        description.check_supported()?;
        Ok(StreamServer {
            reactor: reactor.clone(),
            description,
            listen_fds: None,
            proxy_header: false,
        })
    }

    /// Takes `systemd:` sockets from `fds` instead of this process's environment.
    pub fn with_listen_fds(mut self, fds: ListenFds) -> StreamServer {
        self.listen_fds = Some(fds);
        self
    }

    /// What this endpoint listens on.
    pub fn description(&self) -> &ServerEndpoint {
        &self.description
    }

    /// Listens with `factory` (see [`StreamServerEndpoint::listen`]).
    pub fn listen(&self, factory: impl ProtocolFactory) -> Deferred<ListeningPort> {
        StreamServerEndpoint::listen(self, Rc::new(factory))
    }

    fn listen_now(&self, factory: Rc<dyn ProtocolFactory>) -> Result<ListeningPort, ServerCause> {
        match &self.description {
            ServerEndpoint::Tcp {
                port,
                interface,
                backlog,
            } => {
                let options = TcpListenOptions::default()
                    .backlog(*backlog)
                    .interface(interface.to_string());
                Ok(self.reactor.listen_tcp(*port, factory, options)?)
            }
            ServerEndpoint::Unix {
                path,
                mode,
                backlog,
                lockfile,
            } => {
                let lock = match lockfile {
                    true => Some(UnixLock::acquire(path)?),
                    false => None,
                };
                let options = UnixListenOptions::default().mode(*mode).backlog(*backlog);
                let port = self.reactor.listen_unix(path, factory, options)?;
                if let Some(lock) = lock {
                    port.on_stop(move || drop(lock));
                }
                Ok(port)
            }
            ServerEndpoint::Systemd { domain, socket } => {
                let fds = match &self.listen_fds {
                    Some(fds) => fds.clone(),
                    None => ListenFds::from_process()?,
                };
                let fd = fds.select(socket)?;
                let owned = dup_inherited(fd).map_err(|source| ServerCause::Inherited {
                    fd,
                    problem: InheritedProblem::Unusable(source),
                })?;
                check_family(fd, &owned, *domain)?;
                adopt_stream_port(&self.reactor, owned, factory).map_err(|e| match e {
                    ListenError::NotAListener { problem } => ServerCause::Inherited {
                        fd,
                        problem: InheritedProblem::NotAListener(problem),
                    },
                    other => ServerCause::Listen(other),
                })
            }
            // Invariant: `new` refused every other kind (TLS) with check_supported.
            ServerEndpoint::Tls(_) => Err(ServerCause::Unsupported),
        }
    }
}

impl StreamServerEndpoint for StreamServer {
    fn listen(&self, factory: Rc<dyn ProtocolFactory>) -> Deferred<ListeningPort> {
        let factory: Rc<dyn ProtocolFactory> = match self.proxy_header {
            true => Rc::new(ProxyFactory::new(factory, self.reactor.clone())),
            false => factory,
        };
        match self.listen_now(factory) {
            Ok(port) => succeed(port),
            Err(cause) => fail(ServerError {
                endpoint: self.description.to_string(),
                cause,
            }),
        }
    }
}

/// Checks that the inherited socket is of the family the endpoint string names.
fn check_family(fd: i32, owned: &OwnedFd, domain: Domain) -> Result<(), ServerCause> {
    let socket = Socket::from(owned.try_clone().map_err(|source| ServerCause::Inherited {
        fd,
        problem: InheritedProblem::Unusable(source),
    })?);
    let found = match socket.local_addr() {
        Ok(addr) if addr.is_ipv4() => Some(Domain::Inet),
        Ok(addr) if addr.is_ipv6() => Some(Domain::Inet6),
        Ok(addr) if addr.is_unix() => Some(Domain::Unix),
        Ok(_) => None,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => {
            return Err(ServerCause::Inherited {
                fd,
                problem: InheritedProblem::NotAListener("not a socket"),
            })
        }
        Err(source) => {
            return Err(ServerCause::Inherited {
                fd,
                problem: InheritedProblem::Unusable(source),
            })
        }
    };
    match found == Some(domain) {
        true => Ok(()),
        false => Err(ServerCause::Inherited {
            fd,
            problem: InheritedProblem::WrongFamily {
                expected: domain,
                found,
            },
        }),
    }
}

/// A server endpoint could not listen; the message starts with the endpoint string.
#[derive(Debug)]
pub struct ServerError {
    /// The endpoint, as a string.
    pub endpoint: String,
    /// Why.
    pub cause: ServerCause,
}

/// Why a server endpoint could not listen.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerCause {
    /// The system refused to listen.
    Listen(ListenError),
    /// The systemd environment does not hold the socket asked for.
    Activation(ActivationError),
    /// The inherited descriptor is not what the string says.
    Inherited {
        /// The descriptor.
        fd: i32,
        /// What is wrong with it.
        problem: InheritedProblem,
    },
    /// A live process holds the Unix socket's lock file (Twisted's "Cannot acquire lock").
    Locked {
        /// The lock file.
        lock: PathBuf,
        /// The process that holds it.
        pid: i32,
    },
    /// The lock file could not be made or read.
    Lock {
        /// The lock file.
        lock: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// This kind of endpoint cannot listen yet (TLS).
    Unsupported,
}

/// What is wrong with an inherited descriptor.
#[derive(Debug)]
#[non_exhaustive]
pub enum InheritedProblem {
    /// It is not open, or cannot be duplicated.
    Unusable(io::Error),
    /// It is not a listening stream socket.
    NotAListener(&'static str),
    /// Its address family is not the one the string names.
    WrongFamily {
        /// The family in the string.
        expected: Domain,
        /// The socket's (`None`: neither IP nor Unix).
        found: Option<Domain>,
    },
}

impl From<ListenError> for ServerCause {
    fn from(error: ListenError) -> ServerCause {
        ServerCause::Listen(error)
    }
}

impl From<ActivationError> for ServerCause {
    fn from(error: ActivationError) -> ServerCause {
        ServerCause::Activation(error)
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.endpoint)?;
        match &self.cause {
            ServerCause::Listen(error) => write!(f, "{error}"),
            ServerCause::Activation(error) => write!(f, "socket activation: {error}"),
            ServerCause::Inherited { fd, problem } => {
                write!(f, "inherited descriptor {fd}: ")?;
                match problem {
                    InheritedProblem::Unusable(source) => write!(f, "{source}"),
                    InheritedProblem::NotAListener(what) => f.write_str(what),
                    InheritedProblem::WrongFamily { expected, found } => write!(
                        f,
                        "address family is {}, expected {}",
                        domain_name(*found),
                        domain_name(Some(*expected))
                    ),
                }
            }
            ServerCause::Locked { lock, pid } => {
                write!(f, "{} is held by live process {pid}", lock.display())
            }
            ServerCause::Lock { lock, source } => {
                write!(f, "lock {}: {source}", lock.display())
            }
            ServerCause::Unsupported => f.write_str("not supported yet"),
        }
    }
}

fn domain_name(domain: Option<Domain>) -> &'static str {
    match domain {
        Some(Domain::Inet) => "INET",
        Some(Domain::Inet6) => "INET6",
        Some(Domain::Unix) => "UNIX",
        None => "neither INET nor UNIX",
    }
}

impl Error for ServerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.cause {
            ServerCause::Listen(error) => Some(error),
            ServerCause::Activation(error) => Some(error),
            ServerCause::Lock { source, .. } => Some(source),
            ServerCause::Inherited {
                problem: InheritedProblem::Unusable(source),
                ..
            } => Some(source),
            _ => None,
        }
    }
}

/// `PATH.lock`, the lock file beside a Unix socket.
pub(crate) fn lock_path(path: &Path) -> PathBuf {
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    PathBuf::from(lock)
}

/// A Unix socket's lock file (Twisted's `FilesystemLock`, used by `listenUNIX(wantPID=1)`):
/// a symbolic link named `PATH.lock` whose target is our pid. A lock whose process is
/// gone is stale: it is broken, and the socket file that process left is removed, so a
/// server that crashed can restart. Removed when the port stops.
#[derive(Debug)]
struct UnixLock {
    lock: PathBuf,
}

impl UnixLock {
    fn acquire(path: &Path) -> Result<UnixLock, ServerCause> {
        let lock = lock_path(path);
        let failed = |source| ServerCause::Lock {
            lock: lock.clone(),
            source,
        };
        let pid = std::process::id().to_string();
        // Two tries: the second after breaking a stale lock.
        for _ in 0..2 {
            match std::os::unix::fs::symlink(&pid, &lock) {
                Ok(()) => return Ok(UnixLock { lock }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(failed(e)),
            }
            let holder = std::fs::read_link(&lock)
                .ok()
                .and_then(|target| target.to_str()?.parse::<i32>().ok());
            match holder {
                Some(pid) if process_exists(pid) => {
                    return Err(ServerCause::Locked { lock, pid });
                }
                _ => {
                    std::fs::remove_file(&lock).map_err(failed)?;
                    match std::fs::remove_file(path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(failed(e)),
                    }
                }
            }
        }
        let busy = io::Error::new(io::ErrorKind::AlreadyExists, "taken by another process");
        Err(failed(busy))
    }
}

impl Drop for UnixLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lock);
    }
}
