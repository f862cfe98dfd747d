//! [`UdpError`]: why a UDP operation failed (see [`udp`](super::udp)).

use std::{
    error::Error,
    fmt, io,
    net::{IpAddr, SocketAddr},
};

use super::{error::Cause, udp::MAX_PACKET_SIZE, MulticastInterface};

/// Why a UDP operation failed. Messages name the operation, the address and the cause:
/// `listen udp 127.0.0.1:53: permission denied`.
#[derive(Debug)]
#[non_exhaustive]
pub enum UdpError {
    /// The interface is not an IP address (`listen_udp` takes addresses, not names).
    BadInterface {
        /// What was given.
        interface: String,
    },
    /// `max_packet_size` is 0 or above [`MAX_PACKET_SIZE`].
    BadPacketSize {
        /// What was given.
        size: usize,
    },
    /// The system refused to open or bind the socket.
    Listen {
        /// The address asked for.
        address: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
    /// The port has stopped listening.
    NotListening {
        /// The address it listened on.
        host: SocketAddr,
    },
    /// `write` without an address on a port that is not connected.
    NotConnected {
        /// The port's address.
        host: SocketAddr,
    },
    /// `write` to an address other than the peer of a connected port.
    WrongPeer {
        /// The address given.
        to: SocketAddr,
        /// The peer the port is connected to.
        peer: SocketAddr,
    },
    /// The socket's send buffer was full: the datagram was dropped (see the module docs).
    Dropped {
        /// Where it was going.
        to: SocketAddr,
        /// Its length in bytes.
        len: usize,
    },
    /// The connected peer refused an earlier datagram (ICMP port unreachable).
    ConnectionRefused {
        /// The connected peer.
        peer: SocketAddr,
    },
    /// Sending failed (message too long, network unreachable, ...).
    Send {
        /// Where it was going.
        to: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
    /// `connect` failed.
    Connect {
        /// The peer asked for.
        to: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
    /// Setting or reading a socket option failed (`set multicast ttl`, ...).
    SocketOption {
        /// What was being done.
        op: &'static str,
        /// The port's address.
        host: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
    /// Joining or leaving a multicast group failed.
    Group {
        /// `"join"` or `"leave"`.
        op: &'static str,
        /// The group.
        group: IpAddr,
        /// The port's address.
        host: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
    /// An interface of the wrong kind for the group or socket: IPv4 multicast takes an
    /// interface address, IPv6 an interface index.
    InterfaceMismatch {
        /// The group (or the port's address, for `set_outgoing_interface`).
        address: IpAddr,
        /// The interface given.
        interface: MulticastInterface,
    },
}

impl UdpError {
    /// The system error, when the system refused.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            UdpError::Listen { source, .. }
            | UdpError::Send { source, .. }
            | UdpError::Connect { source, .. }
            | UdpError::SocketOption { source, .. }
            | UdpError::Group { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UdpError::BadInterface { interface } => {
                write!(
                    f,
                    "listen udp: interface {interface:?} is not an IP address"
                )
            }
            UdpError::BadPacketSize { size } => write!(
                f,
                "listen udp: max_packet_size {size} must be from 1 to {MAX_PACKET_SIZE}"
            ),
            UdpError::Listen { address, source } => {
                write!(f, "listen udp {address}: {}", Cause(source))
            }
            UdpError::NotListening { host } => write!(f, "udp {host}: not listening"),
            UdpError::NotConnected { host } => {
                write!(f, "send udp {host}: no address given and not connected")
            }
            UdpError::WrongPeer { to, peer } => {
                write!(f, "send udp {to}: the port is connected to {peer}")
            }
            UdpError::Dropped { to, len } => write!(
                f,
                "send udp {to}: send buffer full, {len}-byte datagram dropped"
            ),
            UdpError::ConnectionRefused { peer } => {
                write!(f, "send udp {peer}: connection refused")
            }
            UdpError::Send { to, source } => write!(f, "send udp {to}: {}", Cause(source)),
            UdpError::Connect { to, source } => {
                write!(f, "connect udp {to}: {}", Cause(source))
            }
            UdpError::SocketOption { op, host, source } => {
                write!(f, "{op} udp {host}: {}", Cause(source))
            }
            UdpError::Group {
                op,
                group,
                host,
                source,
            } => write!(f, "{op} group {group} on udp {host}: {}", Cause(source)),
            UdpError::InterfaceMismatch { address, interface } => {
                let wants = match address {
                    IpAddr::V4(_) => "an interface address",
                    IpAddr::V6(_) => "an interface index",
                };
                write!(f, "multicast {address}: needs {wants}, not {interface}")
            }
        }
    }
}

impl Error for UdpError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.io_error().map(|e| e as &(dyn Error + 'static))
    }
}
