//! Networking: protocols, transports and factories over TCP and Unix stream sockets,
//! and datagram ports (Twisted's `twisted.internet` `protocol`, `tcp`, `unix`, `udp`).
//!
//! ```
//! use std::rc::Rc;
//! use torsion::net::{Protocol, Transport};
//! use torsion::testing::StringTransport;
//!
//! /// Twisted's Echo: every byte received goes back.
//! #[derive(Default)]
//! struct Echo { transport: Option<Rc<dyn Transport>> }
//!
//! impl Protocol for Echo {
//!     fn connection_made(&mut self, transport: Rc<dyn Transport>) {
//!         self.transport = Some(transport);
//!     }
//!     fn data_received(&mut self, data: &[u8]) {
//!         if let Some(t) = &self.transport { t.write(data) }
//!     }
//! }
//!
//! let transport = StringTransport::new();
//! let mut echo = Echo::default();
//! echo.connection_made(transport.clone());
//! echo.data_received(b"hello");
//! assert_eq!(transport.value(), b"hello");
//! ```
//!
//! The [`StreamNetwork`] trait is how to listen and connect: on a
//! [`Reactor`](crate::Reactor), [`listen_tcp`](StreamNetwork::listen_tcp) serves each
//! accepted connection with a protocol its [`ProtocolFactory`] builds, and
//! [`connect_tcp`](StreamNetwork::connect_tcp) makes one connection for a
//! [`ClientFactory`]; [`listen_unix`](StreamNetwork::listen_unix) and
//! [`connect_unix`](StreamNetwork::connect_unix) do the same for Unix sockets. Each takes
//! an options struct ([`TcpListenOptions`], [`TcpConnectOptions`], [`UnixListenOptions`],
//! [`UnixConnectOptions`]) with defaults. In tests, a
//! [`MemoryReactor`](crate::testing::MemoryReactor) takes the same calls and records them.
//! [`udp`] holds datagram ports: [`listen_udp`], connected UDP and multicast.
//!
//! # What a transport promises
//!
//! - **Safe from callbacks.** A protocol calls its transport from inside its own
//!   methods; the transport never calls the protocol back from a transport method. What a
//!   call starts (closing, telling the protocol) happens when the callback returns.
//! - **Writes never block, nothing is lost on close.** A write goes to the socket at
//!   once; what the socket did not take is buffered and sent as it drains.
//!   `write(n bytes); lose_connection()` delivers exactly those bytes, then FIN. When the
//!   peer closes its sending side and the protocol does not handle half-close
//!   ([`Protocol::handles_half_close`]), the buffered replies are sent before closing
//!   (Twisted drops them).
//! - **Bounded memory.** A registered [`Producer`] is paused above the high water mark
//!   and resumed at the low one ([`WriteLimits`]); the buffer never passes its hard
//!   limit (the connection is closed with [`ConnectionLost::WriteBufferFull`] instead).
//!   Reads pause with [`Transport::pause_producing`].
//! - **Cheap and fair.** One read buffer per reactor thread, lent to the connection
//!   being read; idle connections hold none. A connection reads at most 256 KiB per
//!   turn; a port accepts at most [`ACCEPT_LIMIT`] connections per turn, and survives
//!   running out of descriptors (see [`ACCEPT_LIMIT`] and [`STARVED_RETRY`]).
//! - **Contained failures.** A protocol method that panics closes its connection alone:
//!   `connection_lost` gets [`CloseReason::Lost`] with the panic, and it is logged.
//!
//! TCP connections have `TCP_NODELAY` on ([`Transport::set_no_delay`] turns it off);
//! keep-alive is off until [`Transport::set_keep_alive`].

mod address;
mod buffer;
mod conn;
mod connect;
mod error;
mod listen;
mod multicast;
mod network;
mod options;
mod protocol;
mod reentry;
pub mod stream;
mod stream_state;
mod transport;
pub mod udp;
mod udp_error;
mod wrap;

pub use address::Address;
pub(crate) use buffer::{with_read_buffer, WriteBuffer, READ_BUFFER_SIZE};
pub(crate) use connect::resolve_on_pool;
pub use error::{ConnectError, ConnectionLost, ListenError};
pub use listen::{adopt_stream_port, ACCEPT_LIMIT, STARVED_RETRY};
pub use multicast::{listen_multicast, MulticastInterface};
pub use network::{Connector, ListeningPort, StreamNetwork};
pub(crate) use network::{ConnectorBackend, PortBackend};
pub use options::{
    TcpConnectOptions, TcpListenOptions, UnixConnectOptions, UnixListenOptions, DEFAULT_BACKLOG,
};
pub use protocol::{factory_fn, ClientFactory, CloseReason, FnFactory, Protocol, ProtocolFactory};
pub(crate) use reentry::Reentry;
pub use transport::{
    Producer, ProducerAlreadyRegistered, PullProducer, PushProducer, Transport, WriteLimits,
    DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER, DEFAULT_MAX_WRITE_BUFFER,
};
pub use udp::{
    listen_udp, DatagramProtocol, UdpError, UdpPort, UdpStats, DEFAULT_MAX_PACKET_SIZE,
    MAX_PACKET_SIZE, READ_BUDGET,
};
pub use wrap::{FactoryWrapper, ProtocolWrapper, Wrapped, WrappedFactory};
