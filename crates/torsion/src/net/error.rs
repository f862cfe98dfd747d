//! The errors of the net layer. Each names the operation, the address and the cause, in
//! lowercase: `listen tcp 127.0.0.1:80: permission denied`,
//! `connect tcp 10.0.0.1:80: timed out after 2s`, `read tcp 127.0.0.1:5000: connection
//! reset by peer`. The system error stays reachable as `source()`.

use std::{error::Error, fmt, io, net::SocketAddr, time::Duration};

use super::Address;

/// A port could not listen.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenError {
    /// The interface is not an IP address (`listen_tcp` takes addresses, not names).
    BadInterface {
        /// What was given.
        interface: String,
    },
    /// The system refused (address in use, permission denied, ...).
    Io {
        /// The address the port was to listen on.
        address: Address,
        /// What the system said.
        source: io::Error,
    },
    /// A descriptor handed to `adopt_stream_port` is not a listening stream socket.
    NotAListener {
        /// What it is instead (`not a socket`, `not a stream socket`, ...).
        problem: &'static str,
    },
}

/// A connection attempt failed (handed to `ClientFactory::client_connection_failed`).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host name did not resolve to any address.
    Resolve {
        /// The host and port asked for.
        host: String,
        /// The port asked for.
        port: u16,
        /// What the resolver said.
        source: io::Error,
    },
    /// No answer within the timeout.
    TimedOut {
        /// The address being connected to.
        address: Address,
        /// The timeout that passed.
        after: Duration,
    },
    /// The system refused (connection refused, network unreachable, ...).
    Io {
        /// The address being connected to.
        address: Address,
        /// What the system said.
        source: io::Error,
    },
    /// The factory built no protocol for the connection.
    Refused {
        /// The address connected to.
        address: Address,
    },
    /// `Connector::stop_connecting` was called.
    Stopped {
        /// The address being connected to.
        address: Address,
    },
    /// A host name resolved, and every address it resolved to was tried, in order,
    /// and failed.
    AllFailed {
        /// The host name asked for.
        host: String,
        /// The port asked for.
        port: u16,
        /// Each address tried, in order, with what the system said.
        tried: Vec<(SocketAddr, io::Error)>,
    },
    /// The timeout passed while connecting to a host name: while resolving it (`tried`
    /// is empty) or while trying its addresses (the last in `tried` is the one cut
    /// short, with an `io::ErrorKind::TimedOut` error).
    HostTimedOut {
        /// The host name asked for.
        host: String,
        /// The port asked for.
        port: u16,
        /// The timeout that passed.
        after: Duration,
        /// Each address tried, in order, with why it failed.
        tried: Vec<(SocketAddr, io::Error)>,
    },
}

/// Why a connection that was up went down, when it was not a clean close: the failure
/// inside [`CloseReason::Lost`](super::CloseReason::Lost) is one of these, or the panic
/// of a protocol callback.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionLost {
    /// A read, write or shutdown failed (reset by peer, broken pipe, ...).
    Io {
        /// `"read"`, `"write"` or `"shutdown"`.
        op: &'static str,
        /// The peer's address.
        peer: Address,
        /// What the system said.
        source: io::Error,
    },
    /// `abort_connection` was called: buffered data was dropped and the peer reset.
    Aborted,
    /// A write would have grown the write buffer past its hard limit.
    WriteBufferFull {
        /// Bytes the buffer would have held.
        wanted: usize,
        /// The limit (`WriteLimits::max`).
        limit: usize,
    },
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenError::BadInterface { interface } => {
                write!(
                    f,
                    "listen tcp: interface {interface:?} is not an IP address"
                )
            }
            ListenError::Io { address, source } => {
                write!(
                    f,
                    "listen {} {address}: {}",
                    address.network(),
                    Cause(source)
                )
            }
            ListenError::NotAListener { problem } => {
                write!(f, "adopt listening socket: {problem}")
            }
        }
    }
}

impl Error for ListenError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ListenError::Io { source, .. } => Some(source),
            ListenError::BadInterface { .. } | ListenError::NotAListener { .. } => None,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Resolve { host, port, source } => {
                write!(f, "resolve {host}:{port}: {}", Cause(source))
            }
            ConnectError::TimedOut { address, after } => {
                let net = address.network();
                write!(f, "connect {net} {address}: timed out after {after:?}")
            }
            ConnectError::Io { address, source } => {
                write!(
                    f,
                    "connect {} {address}: {}",
                    address.network(),
                    Cause(source)
                )
            }
            ConnectError::Refused { address } => {
                let net = address.network();
                write!(f, "connect {net} {address}: the factory built no protocol")
            }
            ConnectError::Stopped { address } => {
                write!(f, "connect {} {address}: stopped", address.network())
            }
            ConnectError::AllFailed { host, port, tried } => {
                write!(f, "connect tcp {host}:{port}: tried ")?;
                write_tried(f, tried)
            }
            ConnectError::HostTimedOut {
                host,
                port,
                after,
                tried,
            } => {
                write!(f, "connect tcp {host}:{port}: timed out after {after:?}")?;
                if tried.is_empty() {
                    return f.write_str(" resolving the name");
                }
                f.write_str("; tried ")?;
                write_tried(f, tried)
            }
        }
    }
}

impl Error for ConnectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.io_error().map(|e| e as &(dyn Error + 'static))
    }
}

impl ConnectError {
    /// The system error, if the system refused (to check for `ConnectionRefused`); for
    /// [`AllFailed`](ConnectError::AllFailed), the last address's.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            ConnectError::Resolve { source, .. } | ConnectError::Io { source, .. } => Some(source),
            ConnectError::AllFailed { tried, .. } => tried.last().map(|(_, e)| e),
            _ => None,
        }
    }

    /// Whether the connect timeout ended the attempt.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ConnectError::TimedOut { .. } | ConnectError::HostTimedOut { .. }
        )
    }
}

impl fmt::Display for ConnectionLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionLost::Io { op, peer, source } => {
                write!(f, "{op} {} {peer}: {}", peer.network(), Cause(source))
            }
            ConnectionLost::Aborted => f.write_str("connection aborted"),
            ConnectionLost::WriteBufferFull { wanted, limit } => write!(
                f,
                "write buffer full: {wanted} bytes would be buffered (max {limit})"
            ),
        }
    }
}

impl Error for ConnectionLost {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ConnectionLost::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl ConnectionLost {
    /// The system error, if a system call failed.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            ConnectionLost::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Shows a system error the way our messages want it: lowercase, without
/// ` (os error N)` (`permission denied`, not `Permission denied (os error 13)`).
/// Every net error (TCP, Unix, UDP) formats its system error through this one.
pub(crate) struct Cause<'a>(pub(crate) &'a io::Error);

impl fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        let text = text
            .find(" (os error ")
            .map_or(&text[..], |end| &text[..end]);
        let mut chars = text.chars();
        if let Some(first) = chars.next() {
            write!(f, "{}", first.to_lowercase())?;
        }
        f.write_str(chars.as_str())
    }
}

/// `[::1]:80 (connection refused), 127.0.0.1:80 (timed out)`.
fn write_tried(f: &mut fmt::Formatter<'_>, tried: &[(SocketAddr, io::Error)]) -> fmt::Result {
    for (i, (address, e)) in tried.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        write!(f, "{sep}{address} ({})", Cause(e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_operation_address_and_cause() {
        let address = Address::Tcp("127.0.0.1:80".parse().unwrap());
        let err = ListenError::Io {
            address: address.clone(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(
            err.to_string(),
            "listen tcp 127.0.0.1:80: permission denied"
        );
        let err = ConnectError::TimedOut {
            address: address.clone(),
            after: Duration::from_secs(2),
        };
        assert_eq!(
            err.to_string(),
            "connect tcp 127.0.0.1:80: timed out after 2s"
        );
        let err = ConnectionLost::Io {
            op: "read",
            peer: address,
            source: io::Error::from_raw_os_error(libc::ECONNRESET),
        };
        assert_eq!(
            err.to_string(),
            "read tcp 127.0.0.1:80: connection reset by peer"
        );
        assert!(err.source().is_some());
    }

    #[test]
    fn host_errors_name_the_host_and_every_address_tried() {
        let refused = || io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let err = ConnectError::AllFailed {
            host: "localhost".into(),
            port: 9,
            tried: vec![
                ("[::1]:9".parse().unwrap(), refused()),
                ("127.0.0.1:9".parse().unwrap(), refused()),
            ],
        };
        assert_eq!(
            err.to_string(),
            "connect tcp localhost:9: tried [::1]:9 (connection refused), \
             127.0.0.1:9 (connection refused)"
        );
        assert_eq!(
            err.io_error().map(io::Error::kind),
            Some(io::ErrorKind::ConnectionRefused)
        );
        let err = ConnectError::HostTimedOut {
            host: "example.invalid".into(),
            port: 80,
            after: Duration::from_secs(2),
            tried: vec![],
        };
        assert_eq!(
            err.to_string(),
            "connect tcp example.invalid:80: timed out after 2s resolving the name"
        );
        assert!(err.is_timeout());
        let err = ConnectError::HostTimedOut {
            host: "localhost".into(),
            port: 80,
            after: Duration::from_secs(2),
            tried: vec![
                ("[::1]:80".parse().unwrap(), refused()),
                (
                    "127.0.0.1:80".parse().unwrap(),
                    io::Error::new(io::ErrorKind::TimedOut, "timed out"),
                ),
            ],
        };
        assert_eq!(
            err.to_string(),
            "connect tcp localhost:80: timed out after 2s; tried [::1]:80 \
             (connection refused), 127.0.0.1:80 (timed out)"
        );
    }

    #[test]
    fn causes_keep_custom_messages() {
        let e = io::Error::other("Odd thing");
        assert_eq!(Cause(&e).to_string(), "odd thing");
    }
}
