//! How [`StreamNetwork`](super::StreamNetwork) listens and connects: one options struct
//! per call (Twisted's keyword arguments `backlog=`, `interface=`, `timeout=`,
//! `bindAddress=`, `mode=`), each with defaults and a setter per field.
//!
//! ```
//! use std::time::Duration;
//! use torsion::net::{TcpConnectOptions, TcpListenOptions, DEFAULT_BACKLOG};
//!
//! let listen = TcpListenOptions::default().interface("127.0.0.1");
//! assert_eq!((listen.backlog, listen.interface.as_str()), (DEFAULT_BACKLOG, "127.0.0.1"));
//! let connect = TcpConnectOptions::default().timeout(Duration::from_secs(30));
//! assert_eq!((connect.timeout, connect.bind_address), (Some(Duration::from_secs(30)), None));
//! ```

use std::{net::SocketAddr, time::Duration};

/// The backlog the listen options default to (Twisted's default is 50, from a time of
/// smaller machines; Linux caps it at `net.core.somaxconn`).
pub const DEFAULT_BACKLOG: u32 = 1024;

/// How [`StreamNetwork::listen_tcp`](super::StreamNetwork::listen_tcp) listens
/// (Twisted's `listenTCP(port, factory, backlog=, interface=)`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpListenOptions {
    /// The listen backlog.
    pub backlog: u32,
    /// The interface's IP address: `""` (the default) for every IPv4 interface, `"::"`
    /// for every IPv6 one (and IPv4 too where the system maps it). Names are refused:
    /// [`ListenError::BadInterface`](super::ListenError::BadInterface).
    pub interface: String,
}

/// How [`StreamNetwork::connect_tcp`](super::StreamNetwork::connect_tcp) connects
/// (Twisted's `connectTCP(host, port, factory, timeout=, bindAddress=)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpConnectOptions {
    /// How long the attempt may take, name lookup included (`None`, the default: as
    /// long as the system tries).
    pub timeout: Option<Duration>,
    /// Our end's address (`None`, the default: the system picks).
    pub bind_address: Option<SocketAddr>,
}

/// How [`StreamNetwork::listen_unix`](super::StreamNetwork::listen_unix) listens
/// (Twisted's `listenUNIX(path, factory, backlog=, mode=)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnixListenOptions {
    /// The socket file's permission bits (`None`: as the umask leaves them).
    pub mode: Option<u32>,
    /// The listen backlog.
    pub backlog: u32,
}

/// How [`StreamNetwork::connect_unix`](super::StreamNetwork::connect_unix) connects
/// (Twisted's `connectUNIX(address, factory, timeout=)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnixConnectOptions {
    /// How long the attempt may take (`None`, the default: as long as the system tries).
    pub timeout: Option<Duration>,
}

impl TcpListenOptions {
    /// Sets the listen backlog.
    pub fn backlog(mut self, backlog: u32) -> TcpListenOptions {
        self.backlog = backlog;
        self
    }

    /// Sets the interface to listen on (an IP address, `[`brackets`]` allowed).
    pub fn interface(mut self, interface: impl Into<String>) -> TcpListenOptions {
        self.interface = interface.into();
        self
    }
}

impl Default for TcpListenOptions {
    /// Every IPv4 interface, [`DEFAULT_BACKLOG`].
    fn default() -> TcpListenOptions {
        TcpListenOptions {
            backlog: DEFAULT_BACKLOG,
            interface: String::new(),
        }
    }
}

impl TcpConnectOptions {
    /// Bounds the attempt, name lookup included (a `Duration`, or an `Option` of one:
    /// `None` lifts the bound).
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> TcpConnectOptions {
        self.timeout = timeout.into();
        self
    }

    /// Binds our end to `address` before connecting (port 0: the system picks one;
    /// `None`: the system picks the address too).
    pub fn bind_address(mut self, address: impl Into<Option<SocketAddr>>) -> TcpConnectOptions {
        self.bind_address = address.into();
        self
    }
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

impl UnixConnectOptions {
    /// Bounds the attempt (a `Duration`, or an `Option` of one).
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> UnixConnectOptions {
        self.timeout = timeout.into();
        self
    }
}
