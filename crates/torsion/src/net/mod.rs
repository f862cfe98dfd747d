//! Networking: protocols and transports over sockets (Twisted's `twisted.internet`
//! `protocol`, `tcp`, `udp`).
//!
//! ```
//! use std::net::SocketAddr;
//! use torsion::net::{listen_udp, DatagramProtocol, UdpPort, DEFAULT_MAX_PACKET_SIZE};
//!
//! /// Twisted's UDP Echo: every datagram goes back to its sender.
//! struct Echo { port: Option<UdpPort> }
//!
//! impl DatagramProtocol for Echo {
//!     fn start_protocol(&mut self, port: UdpPort) { self.port = Some(port) }
//!     fn datagram_received(&mut self, data: &[u8], from: SocketAddr) {
//!         if let Some(port) = &self.port { let _ = port.write(data, from); }
//!     }
//! }
//!
//! let reactor = torsion::Reactor::new().unwrap();
//! let echo = Echo { port: None };
//! let port = listen_udp(&reactor, 0, echo, "127.0.0.1", DEFAULT_MAX_PACKET_SIZE).unwrap();
//! assert_ne!(port.port(), 0);
//! port.stop_listening();
//! ```
//!
//! [`udp`] holds datagram ports: [`listen_udp`], connected UDP and multicast.

mod multicast;
pub mod udp;

pub use multicast::{listen_multicast, MulticastInterface};
pub use udp::{
    listen_udp, DatagramProtocol, UdpError, UdpPort, UdpStats, DEFAULT_MAX_PACKET_SIZE,
    MAX_PACKET_SIZE, READ_BUDGET,
};
