//! [`ServerEndpoint`] and [`ClientEndpoint`]: what an endpoint string describes, as
//! Twisted's `serverFromString` and `clientFromString` read it, without any I/O.
//!
//! ```
//! use std::time::Duration;
//! use torsion::endpoints::ClientEndpoint;
//!
//! let client: ClientEndpoint = "unix:path=/run/app.sock:timeout=5".parse()?;
//! let ClientEndpoint::Unix { path, timeout, .. } = &client else { unreachable!() };
//! assert_eq!((path.to_str(), *timeout), (Some("/run/app.sock"), Duration::from_secs(5)));
//! assert_eq!(client.to_string(), "unix:/run/app.sock:timeout=5");
//! # Ok::<(), torsion::endpoints::EndpointError>(())
//! ```
//!
//! `Display` writes the shortest string Twisted also accepts (positional port, host or
//! path; keywords only for values that differ from the defaults), and parsing what it
//! writes gives the same value back.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::error::EndpointError;
use super::grammar::{self, bind, write_argument, write_keyword, Segment, Spec};
use super::values::{
    backlog, flag, invalid, number, octal_mode, timeout, write_backlog, write_timeout,
};

/// Where a server listens, as an endpoint string describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEndpoint {
    /// `tcp:PORT[:interface=ADDRESS][:backlog=N]` and `tcp6:...` (Twisted's
    /// `TCP4ServerEndpoint` and `TCP6ServerEndpoint`). `tcp6` only changes the default
    /// interface, from `0.0.0.0` to `::`; an IPv6 interface makes an IPv6 listener either way.
    Tcp {
        /// The port; 0 asks the system for any free one.
        port: u16,
        /// The address to bind to.
        interface: IpAddr,
        /// The listen queue's length (default [`DEFAULT_BACKLOG`]).
        backlog: u32,
    },
    /// `unix:PATH[:mode=OCTAL][:backlog=N][:lockfile=0|1]` (Twisted's `UNIXServerEndpoint`).
    Unix {
        /// The socket file's path.
        path: PathBuf,
        /// The socket file's permissions (default [`DEFAULT_UNIX_MODE`]).
        mode: u32,
        /// The listen queue's length (default [`DEFAULT_BACKLOG`]).
        backlog: u32,
        /// Whether to guard the path with a `PATH.lock` file holding our pid, so that a
        /// stale socket left by a dead process is replaced (Twisted's `wantPID`; default on).
        lockfile: bool,
    },
    /// `systemd:domain=INET|INET6|UNIX:index=N` or `...:name=NAME`: a listening socket
    /// inherited through systemd socket activation (see [`ListenFds`](super::ListenFds)).
    Systemd {
        /// The socket's address family.
        domain: Domain,
        /// Which inherited socket.
        socket: Inherited,
    },
    /// `ssl:...` or `tls:...`, kept as written until torsion has TLS;
    /// [`check_supported`](Self::check_supported) refuses it.
    Tls(TlsDescription),
}

/// Where a client connects, as an endpoint string describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEndpoint {
    /// `tcp:HOST:PORT[:timeout=SECONDS][:bindAddress=ADDRESS]`, or with `host=` and
    /// `port=` keywords (Twisted's `TCP4ClientEndpoint`; the host may be a name).
    Tcp {
        /// A host name or an IP address.
        host: String,
        /// The port, 1 to 65535.
        port: u16,
        /// How long one connection attempt may take (default [`DEFAULT_TIMEOUT`]).
        timeout: Duration,
        /// The local address to bind to before connecting; the local port is always
        /// chosen by the system, as in Twisted, whose strings cannot name one.
        bind_address: Option<String>,
    },
    /// `unix:PATH[:timeout=SECONDS][:lockfile=0|1]`, or with `path=` (Twisted's
    /// `UNIXClientEndpoint`).
    Unix {
        /// The socket file's path.
        path: PathBuf,
        /// How long the connection attempt may take (default [`DEFAULT_TIMEOUT`]).
        timeout: Duration,
        /// Whether to refuse the connection unless `PATH.lock` names a live process
        /// (Twisted's `checkPID`, written `lockfile=1`; default off).
        check_pid: bool,
    },
    /// `ssl:...` or `tls:...`, kept as written until torsion has TLS;
    /// [`check_supported`](Self::check_supported) refuses it.
    Tls(TlsDescription),
}

/// A systemd socket's address family, written as Python's `socket.AF_*` names without
/// the prefix, as Twisted reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    /// `INET`: IPv4.
    Inet,
    /// `INET6`: IPv6.
    Inet6,
    /// `UNIX`: a Unix socket.
    Unix,
}

/// Which of the sockets systemd passed: by position or by its `FileDescriptorName=`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Inherited {
    /// `index=N`: the N-th passed socket, counting from 0 (the descriptor `3 + N`).
    Index(usize),
    /// `name=NAME`: the socket named so in `LISTEN_FDNAMES`.
    Name(String),
}

/// An `ssl:` or `tls:` endpoint, its arguments kept as written (escapes removed) for the
/// TLS layer to interpret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsDescription {
    /// The type as written, lowercased: `ssl` or `tls`.
    pub prefix: TlsPrefix,
    /// The positional arguments, in order.
    pub arguments: Vec<String>,
    /// The `key=value` arguments, in order.
    pub keywords: Vec<(String, String)>,
}

/// The type an encrypted endpoint was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsPrefix {
    /// `ssl:` (Twisted's server and client `SSL4` endpoints).
    Ssl,
    /// `tls:` (Twisted's client `wrapClientTLS` over a `HostnameEndpoint`).
    Tls,
}

/// The default listen queue length for TCP and Unix servers: net's, 1024, as tokio's.
/// Twisted's is 50, which makes a burst of clients (the talks' 500 simultaneous insult
/// requests) wait a SYN retransmit, a whole second, for every connection past the 50th.
pub const DEFAULT_BACKLOG: u32 = crate::net::DEFAULT_BACKLOG;
/// Twisted's default permissions for a Unix server's socket file.
pub const DEFAULT_UNIX_MODE: u32 = 0o666;
/// Twisted's default time a client may take to connect.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const SERVER_TYPES: &str = "tcp, tcp6, unix, systemd";
const CLIENT_TYPES: &str = "tcp, unix";

impl ServerEndpoint {
    /// Parses a server endpoint string (also available as `str::parse`).
    pub fn parse(input: &str) -> Result<ServerEndpoint, EndpointError> {
        let split = grammar::split(input, SERVER_TYPES)?;
        match split.kind.to_ascii_lowercase().as_str() {
            "tcp" => tcp_server(input, split.segments, false),
            "tcp6" => tcp_server(input, split.segments, true),
            "unix" => unix_server(input, split.segments),
            "systemd" => systemd_server(input, split.segments),
            "ssl" => Ok(ServerEndpoint::Tls(tls(TlsPrefix::Ssl, split.segments))),
            "tls" => Ok(ServerEndpoint::Tls(tls(TlsPrefix::Tls, split.segments))),
            _ => Err(EndpointError::UnknownType {
                input: input.to_owned(),
                name: split.kind,
                expected: SERVER_TYPES,
            }),
        }
    }

    /// Refuses what torsion parses but cannot listen on yet (`ssl:`/`tls:`); the
    /// listener builders call it first.
    pub fn check_supported(&self) -> Result<(), EndpointError> {
        match self {
            ServerEndpoint::Tls(_) => Err(EndpointError::Unsupported {
                input: self.to_string(),
                what: "tls",
            }),
            _ => Ok(()),
        }
    }
}

impl ClientEndpoint {
    /// Parses a client endpoint string (also available as `str::parse`).
    pub fn parse(input: &str) -> Result<ClientEndpoint, EndpointError> {
        let split = grammar::split(input, CLIENT_TYPES)?;
        match split.kind.to_ascii_lowercase().as_str() {
            "tcp" => tcp_client(input, split.segments),
            "unix" => unix_client(input, split.segments),
            "ssl" => Ok(ClientEndpoint::Tls(tls(TlsPrefix::Ssl, split.segments))),
            "tls" => Ok(ClientEndpoint::Tls(tls(TlsPrefix::Tls, split.segments))),
            _ => Err(EndpointError::UnknownType {
                input: input.to_owned(),
                name: split.kind,
                expected: CLIENT_TYPES,
            }),
        }
    }

    /// Refuses what torsion parses but cannot connect to yet (`ssl:`/`tls:`); the
    /// connector builders call it first.
    pub fn check_supported(&self) -> Result<(), EndpointError> {
        match self {
            ClientEndpoint::Tls(_) => Err(EndpointError::Unsupported {
                input: self.to_string(),
                what: "tls",
            }),
            _ => Ok(()),
        }
    }
}

impl FromStr for ServerEndpoint {
    type Err = EndpointError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        ServerEndpoint::parse(input)
    }
}

impl FromStr for ClientEndpoint {
    type Err = EndpointError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        ClientEndpoint::parse(input)
    }
}

impl fmt::Display for ServerEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerEndpoint::Tcp {
                port,
                interface,
                backlog,
            } => {
                // Prefer the type whose default interface this is, so that `tcp6:80`
                // prints as written; any other IPv6 address also needs `tcp6`, which
                // (unlike Twisted's `tcp`) is the one that accepts it in other parsers.
                let default = match interface {
                    IpAddr::V4(_) => {
                        write!(f, "tcp:{port}")?;
                        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                    }
                    IpAddr::V6(_) => {
                        write!(f, "tcp6:{port}")?;
                        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                    }
                };
                if *interface != default {
                    write_keyword(f, "interface", &interface.to_string())?;
                }
                write_backlog(f, *backlog)
            }
            ServerEndpoint::Unix {
                path,
                mode,
                backlog,
                lockfile,
            } => {
                f.write_str("unix:")?;
                write_argument(f, &path.to_string_lossy())?;
                if *mode != DEFAULT_UNIX_MODE {
                    write!(f, ":mode={mode:o}")?;
                }
                write_backlog(f, *backlog)?;
                match lockfile {
                    true => Ok(()),
                    false => f.write_str(":lockfile=0"),
                }
            }
            ServerEndpoint::Systemd { domain, socket } => {
                let domain = match domain {
                    Domain::Inet => "INET",
                    Domain::Inet6 => "INET6",
                    Domain::Unix => "UNIX",
                };
                write!(f, "systemd:domain={domain}")?;
                match socket {
                    Inherited::Index(index) => write!(f, ":index={index}"),
                    Inherited::Name(name) => write_keyword(f, "name", name),
                }
            }
            ServerEndpoint::Tls(description) => description.fmt(f),
        }
    }
}

impl fmt::Display for ClientEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientEndpoint::Tcp {
                host,
                port,
                timeout,
                bind_address,
            } => {
                f.write_str("tcp:")?;
                write_argument(f, host)?;
                write!(f, ":{port}")?;
                write_timeout(f, *timeout)?;
                match bind_address {
                    Some(address) => write_keyword(f, "bindAddress", address),
                    None => Ok(()),
                }
            }
            ClientEndpoint::Unix {
                path,
                timeout,
                check_pid,
            } => {
                f.write_str("unix:")?;
                write_argument(f, &path.to_string_lossy())?;
                write_timeout(f, *timeout)?;
                match check_pid {
                    true => f.write_str(":lockfile=1"),
                    false => Ok(()),
                }
            }
            ClientEndpoint::Tls(description) => description.fmt(f),
        }
    }
}

impl fmt::Display for TlsDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.prefix {
            TlsPrefix::Ssl => "ssl",
            TlsPrefix::Tls => "tls",
        })?;
        for argument in &self.arguments {
            f.write_str(":")?;
            write_argument(f, argument)?;
        }
        for (key, value) in &self.keywords {
            write_keyword(f, key, value)?;
        }
        Ok(())
    }
}

const TCP: Spec = Spec {
    usage: "tcp:PORT[:interface=ADDRESS][:backlog=N]",
    params: &[&["port"], &["interface"], &["backlog"]],
};
const TCP6: Spec = Spec {
    usage: "tcp6:PORT[:interface=ADDRESS][:backlog=N]",
    params: TCP.params,
};
const UNIX_SERVER: Spec = Spec {
    usage: "unix:PATH[:mode=OCTAL][:backlog=N][:lockfile=0|1]",
    params: &[&["address", "path"], &["mode"], &["backlog"], &["lockfile"]],
};
const SYSTEMD: Spec = Spec {
    usage: "systemd:domain=INET|INET6|UNIX:index=N|name=NAME",
    params: &[&["domain"], &["index"], &["name"]],
};
const TCP_CLIENT: Spec = Spec {
    usage: "tcp:HOST:PORT[:timeout=SECONDS][:bindAddress=ADDRESS]",
    params: &[&["host"], &["port"], &["timeout"], &["bindAddress"]],
};
const UNIX_CLIENT: Spec = Spec {
    usage: "unix:PATH[:timeout=SECONDS][:lockfile=0|1]",
    params: &[&["path"], &["timeout"], &["lockfile"]],
};

fn tcp_server(
    input: &str,
    segments: Vec<Segment>,
    v6: bool,
) -> Result<ServerEndpoint, EndpointError> {
    // Twisted's positional orders differ: `tcp:PORT:INTERFACE:BACKLOG` but
    // `tcp6:PORT:BACKLOG:INTERFACE`.
    let (spec, positional): (&Spec, &[usize]) = match v6 {
        false => (&TCP, &[0, 1, 2]),
        true => (&TCP6, &[0, 2, 1]),
    };
    let mut bound = bind(input, spec, segments, positional)?;
    let port = required(input, spec, "port", bound.take(0))?;
    let port = number(input, "port", port, "a number from 0 to 65535")?;
    let interface = match bound.take(1) {
        // Twisted's own default for `tcp` is the empty string: all IPv4 interfaces.
        Some(text) if text.is_empty() && !v6 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(text) => match (text.parse::<IpAddr>(), v6) {
            (Ok(address @ IpAddr::V6(_)), _) | (Ok(address @ IpAddr::V4(_)), false) => address,
            (_, false) => return Err(invalid(input, "interface", text, "an IP address")),
            (_, true) => return Err(invalid(input, "interface", text, "an IPv6 address")),
        },
        None if v6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let backlog = backlog(input, bound.take(2))?;
    Ok(ServerEndpoint::Tcp {
        port,
        interface,
        backlog,
    })
}

fn unix_server(input: &str, segments: Vec<Segment>) -> Result<ServerEndpoint, EndpointError> {
    let mut bound = bind(input, &UNIX_SERVER, segments, &[0, 1, 2, 3])?;
    let path = required(input, &UNIX_SERVER, "path", bound.take(0))?;
    let mode = match bound.take(1) {
        Some(text) => octal_mode(&text)
            .ok_or_else(|| invalid(input, "mode", text, "an octal number from 0 to 7777"))?,
        None => DEFAULT_UNIX_MODE,
    };
    let backlog = backlog(input, bound.take(2))?;
    let lockfile = flag(input, "lockfile", bound.take(3))?.unwrap_or(true);
    Ok(ServerEndpoint::Unix {
        path: PathBuf::from(path),
        mode,
        backlog,
        lockfile,
    })
}

fn systemd_server(input: &str, segments: Vec<Segment>) -> Result<ServerEndpoint, EndpointError> {
    let mut bound = bind(input, &SYSTEMD, segments, &[0, 1, 2])?;
    let domain = required(input, &SYSTEMD, "domain", bound.take(0))?;
    let domain = match domain.to_ascii_uppercase().as_str() {
        "INET" => Domain::Inet,
        "INET6" => Domain::Inet6,
        "UNIX" => Domain::Unix,
        _ => return Err(invalid(input, "domain", domain, "INET, INET6 or UNIX")),
    };
    let socket = match (bound.take(1), bound.take(2)) {
        (Some(index), None) => Inherited::Index(number(input, "index", index, "a number")?),
        (None, Some(name)) if name.is_empty() => {
            return Err(invalid(input, "name", name, "a socket name"))
        }
        (None, Some(name)) => Inherited::Name(name),
        (Some(_), Some(_)) => {
            return Err(EndpointError::Conflict {
                input: input.to_owned(),
                first: "index",
                second: "name",
            })
        }
        (None, None) => return Err(missing(input, &SYSTEMD, "index or name")),
    };
    Ok(ServerEndpoint::Systemd { domain, socket })
}

fn tcp_client(input: &str, segments: Vec<Segment>) -> Result<ClientEndpoint, EndpointError> {
    // Twisted reads a lone positional argument as the port when the host came as a
    // keyword (`tcp:host=example.com:80`), and as the host otherwise.
    let host_keyword = segments
        .iter()
        .any(|segment| matches!(segment, Segment::Keyword(key, _) if key == "host"));
    let positionals = segments
        .iter()
        .filter(|segment| matches!(segment, Segment::Positional(_)))
        .count();
    let positional: &[usize] = match (host_keyword, positionals) {
        (true, 1) => &[1],
        _ => &[0, 1],
    };
    let mut bound = bind(input, &TCP_CLIENT, segments, positional)?;
    let host = required(input, &TCP_CLIENT, "host", bound.take(0))?;
    let port = required(input, &TCP_CLIENT, "port", bound.take(1))?;
    let port = match number::<u16>(input, "port", port, "a number from 1 to 65535")? {
        0 => {
            return Err(invalid(
                input,
                "port",
                "0".into(),
                "a number from 1 to 65535",
            ))
        }
        port => port,
    };
    let timeout = timeout(input, bound.take(2))?;
    let bind_address = match bound.take(3) {
        Some(address) if address.is_empty() => {
            return Err(invalid(
                input,
                "bindAddress",
                address,
                "a host name or an IP address",
            ))
        }
        other => other,
    };
    Ok(ClientEndpoint::Tcp {
        host,
        port,
        timeout,
        bind_address,
    })
}

fn unix_client(input: &str, segments: Vec<Segment>) -> Result<ClientEndpoint, EndpointError> {
    let mut bound = bind(input, &UNIX_CLIENT, segments, &[0])?;
    let path = required(input, &UNIX_CLIENT, "path", bound.take(0))?;
    let timeout = timeout(input, bound.take(1))?;
    let check_pid = flag(input, "lockfile", bound.take(2))?.unwrap_or(false);
    Ok(ClientEndpoint::Unix {
        path: PathBuf::from(path),
        timeout,
        check_pid,
    })
}

fn tls(prefix: TlsPrefix, segments: Vec<Segment>) -> TlsDescription {
    let mut description = TlsDescription {
        prefix,
        arguments: Vec::new(),
        keywords: Vec::new(),
    };
    for segment in segments {
        match segment {
            Segment::Positional(argument) => description.arguments.push(argument),
            Segment::Keyword(key, value) => description.keywords.push((key, value)),
        }
    }
    description
}

/// A required parameter's value; empty counts as missing (`unix:path=`).
fn required(
    input: &str,
    spec: &Spec,
    what: &'static str,
    value: Option<String>,
) -> Result<String, EndpointError> {
    match value {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(missing(input, spec, what)),
    }
}

fn missing(input: &str, spec: &Spec, what: &'static str) -> EndpointError {
    EndpointError::Missing {
        input: input.to_owned(),
        what,
        usage: spec.usage,
    }
}
