//! [`Address`]: where a connection's ends are (Twisted's `IPv4Address`, `IPv6Address`,
//! `UNIXAddress`).

use std::{fmt, net::SocketAddr, path::PathBuf};

use socket2::SockAddr;

/// One end of a connection, or the address a port listens on.
///
/// Its `Display` is the bare address (`127.0.0.1:8080`, `[::1]:8080`, `/run/app.sock`);
/// [`network`](Address::network) names the kind (`tcp`, `unix`) for messages such as
/// `listen tcp 127.0.0.1:80: permission denied`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A TCP end, IPv4 or IPv6.
    Tcp(SocketAddr),
    /// A Unix stream socket; `None` for an unnamed one (a connecting client's end).
    Unix(Option<PathBuf>),
}

impl Address {
    /// `"tcp"` or `"unix"`.
    pub fn network(&self) -> &'static str {
        match self {
            Address::Tcp(_) => "tcp",
            Address::Unix(_) => "unix",
        }
    }

    /// The TCP port, if this is a TCP address.
    pub fn port(&self) -> Option<u16> {
        match self {
            Address::Tcp(addr) => Some(addr.port()),
            Address::Unix(_) => None,
        }
    }

    /// The socket address, if this is a TCP address.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Address::Tcp(addr) => Some(*addr),
            Address::Unix(_) => None,
        }
    }

    /// Reads a system socket address; anything that is not IP is taken as a Unix one.
    pub(crate) fn from_sock_addr(addr: &SockAddr) -> Address {
        match addr.as_socket() {
            Some(ip) => Address::Tcp(ip),
            None => Address::Unix(addr.as_pathname().map(PathBuf::from)),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Address {
        Address::Tcp(addr)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(addr) => write!(f, "{addr}"),
            Address::Unix(Some(path)) => write!(f, "{}", path.display()),
            Address::Unix(None) => f.write_str("(unnamed)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_display_bare_and_name_their_network() {
        let v4 = Address::from("127.0.0.1:80".parse::<SocketAddr>().unwrap());
        let v6 = Address::from("[::1]:8080".parse::<SocketAddr>().unwrap());
        let unix = Address::Unix(Some("/run/app.sock".into()));
        assert_eq!(
            (v4.to_string(), v4.network(), v4.port()),
            ("127.0.0.1:80".to_owned(), "tcp", Some(80))
        );
        assert_eq!(v6.to_string(), "[::1]:8080");
        assert_eq!(
            (unix.to_string(), unix.network()),
            ("/run/app.sock".to_owned(), "unix")
        );
        assert_eq!(Address::Unix(None).to_string(), "(unnamed)");
    }
}
