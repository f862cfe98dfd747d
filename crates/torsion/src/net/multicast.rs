//! Multicast on UDP ports (Twisted's `listenMulticast`, `joinGroup`, `leaveGroup`,
//! `setTTL`, `setLoopbackMode`, `setOutgoingInterface`).
//!
//! ```
//! use std::net::{Ipv4Addr, SocketAddr};
//! use torsion::net::{listen_multicast, DatagramProtocol, DEFAULT_MAX_PACKET_SIZE};
//! # struct Quiet;
//! # impl DatagramProtocol for Quiet { fn datagram_received(&mut self, _: &[u8], _: SocketAddr) {} }
//! let reactor = torsion::Reactor::new().unwrap();
//! let max = DEFAULT_MAX_PACKET_SIZE;
//! // Bound to the group's address: only the group's datagrams arrive.
//! let port = listen_multicast(&reactor, 0, Quiet, "239.255.42.1", max, true).unwrap();
//! port.set_ttl(1).unwrap();
//! port.set_loopback_mode(true).unwrap();
//! assert_eq!(port.ttl().unwrap(), 1);
//! // Joining needs a multicast route: on 127.0.0.1 it works on most Linux machines.
//! let group = Ipv4Addr::new(239, 255, 42, 1);
//! if port.join_group(group.into(), Ipv4Addr::LOCALHOST).is_ok() {
//!     port.leave_group(group.into(), Ipv4Addr::LOCALHOST).unwrap();
//! }
//! port.stop_listening();
//! ```
//!
//! IPv4 names an interface by its address, IPv6 by its index ([`MulticastInterface`]);
//! [`MulticastInterface::Default`] lets the system choose by its routes. The TTL
//! (IPv6's hop limit) and loopback mode apply to what the port sends; a group joined by
//! the port applies to what it receives. The system's defaults are Twisted's: TTL 1,
//! loopback on.
//! To receive only a group's datagrams, listen on the group's address (Linux delivers a
//! group's datagrams to every socket bound to the wildcard address and that port).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr},
};

use socket2::SockRef;

use super::udp::{open, DatagramProtocol, UdpError, UdpPort};
use crate::reactor::Reactor;

/// The interface a group is joined on, or multicast is sent from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MulticastInterface {
    /// Whichever the system's routes pick.
    #[default]
    Default,
    /// An IPv4 interface, by one of its addresses (`127.0.0.1` for loopback).
    Address(Ipv4Addr),
    /// An interface by its index (IPv6: `if_nametoindex`, `ip link` shows it).
    Index(u32),
}

/// Listens on a UDP port meant for multicast (Twisted's `listenMulticast`): as
/// [`listen_udp`](super::listen_udp), and with `listen_multiple` other sockets (in this
/// process or others) may bind the same port (`SO_REUSEADDR` and `SO_REUSEPORT`), so
/// that each receives the group's datagrams.
///
/// # Errors
/// As [`listen_udp`](super::listen_udp).
pub fn listen_multicast(
    reactor: &Reactor,
    port: u16,
    protocol: impl DatagramProtocol,
    interface: &str,
    max_packet_size: usize,
    listen_multiple: bool,
) -> Result<UdpPort, UdpError> {
    open(
        reactor,
        port,
        protocol,
        interface,
        max_packet_size,
        listen_multiple,
    )
}

impl UdpPort {
    /// Joins the multicast `group` on `interface` (an `Ipv4Addr` for an IPv4 group, a
    /// `u32` index for an IPv6 one, or [`MulticastInterface::Default`]).
    ///
    /// # Errors
    /// [`UdpError::Group`] with the system's error (`no such device` when no interface
    /// takes multicast), [`UdpError::InterfaceMismatch`], [`UdpError::NotListening`].
    pub fn join_group(
        &self,
        group: IpAddr,
        interface: impl Into<MulticastInterface>,
    ) -> Result<(), UdpError> {
        self.membership("join", group, interface.into())
    }

    /// Leaves a group joined with [`join_group`](UdpPort::join_group).
    ///
    /// # Errors
    /// As [`join_group`](UdpPort::join_group).
    pub fn leave_group(
        &self,
        group: IpAddr,
        interface: impl Into<MulticastInterface>,
    ) -> Result<(), UdpError> {
        self.membership("leave", group, interface.into())
    }

    /// Sets the TTL of multicast datagrams sent (IPv6: the hop limit); 1 keeps them on
    /// the local network.
    ///
    /// # Errors
    /// [`UdpError::SocketOption`] (a TTL above 255), [`UdpError::NotListening`].
    pub fn set_ttl(&self, ttl: u32) -> Result<(), UdpError> {
        let v4 = self.host().is_ipv4();
        self.option("set multicast ttl", |s| match v4 {
            true => s.set_multicast_ttl_v4(ttl),
            false => s.set_multicast_hops_v6(ttl),
        })
    }

    /// The TTL of multicast datagrams sent.
    ///
    /// # Errors
    /// [`UdpError::SocketOption`], [`UdpError::NotListening`].
    pub fn ttl(&self) -> Result<u32, UdpError> {
        let v4 = self.host().is_ipv4();
        self.option("get multicast ttl", |s| match v4 {
            true => s.multicast_ttl_v4(),
            false => s.multicast_hops_v6(),
        })
    }

    /// Whether multicast datagrams sent come back to this host's sockets in the group
    /// (this one included).
    ///
    /// # Errors
    /// [`UdpError::SocketOption`], [`UdpError::NotListening`].
    pub fn set_loopback_mode(&self, on: bool) -> Result<(), UdpError> {
        let v4 = self.host().is_ipv4();
        self.option("set multicast loopback", |s| match v4 {
            true => s.set_multicast_loop_v4(on),
            false => s.set_multicast_loop_v6(on),
        })
    }

    /// Whether multicast datagrams sent come back to this host.
    ///
    /// # Errors
    /// [`UdpError::SocketOption`], [`UdpError::NotListening`].
    pub fn loopback_mode(&self) -> Result<bool, UdpError> {
        let v4 = self.host().is_ipv4();
        self.option("get multicast loopback", |s| match v4 {
            true => s.multicast_loop_v4(),
            false => s.multicast_loop_v6(),
        })
    }

    /// The interface multicast datagrams are sent from (an address for an IPv4 port, an
    /// index for an IPv6 one).
    ///
    /// # Errors
    /// [`UdpError::InterfaceMismatch`], [`UdpError::SocketOption`],
    /// [`UdpError::NotListening`].
    pub fn set_outgoing_interface(
        &self,
        interface: impl Into<MulticastInterface>,
    ) -> Result<(), UdpError> {
        let interface = interface.into();
        let op = "set multicast interface";
        match (self.host().ip(), interface) {
            (IpAddr::V4(_), MulticastInterface::Default) => {
                self.option(op, |s| s.set_multicast_if_v4(&Ipv4Addr::UNSPECIFIED))
            }
            (IpAddr::V4(_), MulticastInterface::Address(a)) => {
                self.option(op, |s| s.set_multicast_if_v4(&a))
            }
            (IpAddr::V6(_), MulticastInterface::Default) => {
                self.option(op, |s| s.set_multicast_if_v6(0))
            }
            (IpAddr::V6(_), MulticastInterface::Index(index)) => {
                self.option(op, |s| s.set_multicast_if_v6(index))
            }
            (address, interface) => Err(UdpError::InterfaceMismatch { address, interface }),
        }
    }

    fn membership(
        &self,
        op: &'static str,
        group: IpAddr,
        interface: MulticastInterface,
    ) -> Result<(), UdpError> {
        let join = op == "join";
        let v4_interface = match interface {
            MulticastInterface::Default => Some(Ipv4Addr::UNSPECIFIED),
            MulticastInterface::Address(a) => Some(a),
            MulticastInterface::Index(_) => None,
        };
        let v6_index = match interface {
            MulticastInterface::Default => Some(0),
            MulticastInterface::Index(i) => Some(i),
            MulticastInterface::Address(_) => None,
        };
        let done = match (group, v4_interface, v6_index) {
            (IpAddr::V4(g), Some(i), _) => self.with_socket(|s| match join {
                true => SockRef::from(s).join_multicast_v4(&g, &i),
                false => SockRef::from(s).leave_multicast_v4(&g, &i),
            })?,
            (IpAddr::V6(g), _, Some(i)) => self.with_socket(|s| match join {
                true => SockRef::from(s).join_multicast_v6(&g, i),
                false => SockRef::from(s).leave_multicast_v6(&g, i),
            })?,
            _ => {
                return Err(UdpError::InterfaceMismatch {
                    address: group,
                    interface,
                })
            }
        };
        done.map_err(|source| UdpError::Group {
            op,
            group,
            host: self.host(),
            source,
        })
    }

    fn option<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(SockRef<'_>) -> std::io::Result<T>,
    ) -> Result<T, UdpError> {
        let host = self.host();
        self.with_socket(|s| f(SockRef::from(s)))?
            .map_err(|source| UdpError::SocketOption { op, host, source })
    }
}

impl From<Ipv4Addr> for MulticastInterface {
    fn from(address: Ipv4Addr) -> MulticastInterface {
        MulticastInterface::Address(address)
    }
}

impl From<u32> for MulticastInterface {
    fn from(index: u32) -> MulticastInterface {
        MulticastInterface::Index(index)
    }
}

impl fmt::Display for MulticastInterface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MulticastInterface::Default => f.write_str("the default interface"),
            MulticastInterface::Address(address) => write!(f, "interface {address}"),
            MulticastInterface::Index(index) => write!(f, "interface index {index}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv6Addr, SocketAddr};

    use super::*;
    use crate::net::DEFAULT_MAX_PACKET_SIZE;

    struct Quiet;
    impl DatagramProtocol for Quiet {
        fn datagram_received(&mut self, _: &[u8], _: SocketAddr) {}
    }

    #[test]
    fn an_interface_of_the_wrong_kind_is_refused_by_name() {
        let reactor = Reactor::builder()
            .install_signal_handlers(false)
            .build()
            .unwrap();
        let max = DEFAULT_MAX_PACKET_SIZE;
        let port = listen_multicast(&reactor, 0, Quiet, "127.0.0.1", max, false).unwrap();
        let v6_group = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x4242));
        let err = port.join_group(v6_group, Ipv4Addr::LOCALHOST).unwrap_err();
        assert_eq!(
            err.to_string(),
            "multicast ff02::4242: needs an interface index, not interface 127.0.0.1"
        );
        let v4_group = IpAddr::V4(Ipv4Addr::new(239, 255, 42, 1));
        let err = port.leave_group(v4_group, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "multicast 239.255.42.1: needs an interface address, not interface index 1"
        );
        let err = port.set_outgoing_interface(3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "multicast 127.0.0.1: needs an interface address, not interface index 3"
        );
        let err = port.set_ttl(256).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("set multicast ttl udp {}: ", port.host())),
            "{err}"
        );
        port.stop_listening();
        let err = port.set_ttl(1).unwrap_err();
        assert!(matches!(err, UdpError::NotListening { .. }), "{err:?}");
        crate::testing::assert_clean(&reactor);
    }
}
