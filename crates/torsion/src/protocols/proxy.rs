//! The PROXY protocol (HAProxy's, v1 text and v2 binary): a load balancer in front
//! sends the client's real address first, and the server's protocols see that address
//! as the transport's peer (Twisted's `haproxy:` endpoint wrapper).
//!
//! ```
//! use torsion::protocols::proxy::{parse_header, ProxyHeader, DEFAULT_MAX_HEADER};
//! let bytes = b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nGET / HTTP/1.1\r\n";
//! let (header, consumed) = parse_header(bytes, DEFAULT_MAX_HEADER).unwrap().unwrap();
//! assert_eq!(header.source, Some("192.0.2.7:56324".parse().unwrap()));
//! assert_eq!(&bytes[consumed..], b"GET / HTTP/1.1\r\n");
//! ```
//!
//! Parsing is strict: a header that does not follow the specification, is longer than
//! its limit, or does not arrive within the deadline closes the connection, and the
//! reason is logged (target `torsion::proxy`, WARN) with the load balancer's address.
//! A `LOCAL` (v2) or `UNKNOWN` (v1) header, the load balancer's own health check,
//! keeps the real peer.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use crate::net::{
    Address, CloseReason, Producer, ProducerAlreadyRegistered, Protocol, ProtocolFactory,
    Transport, WriteLimits,
};
use crate::time::ReactorTime;
use crate::DelayedCall;

/// The longest header accepted: v1's 107 bytes, or v2's 16 plus an address block and
/// TLVs of at most this much in all.
pub const DEFAULT_MAX_HEADER: usize = 1024;
/// How long a connection may take to send its header.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The v1 header's limit, from the specification (`PROXY UNKNOWN` with the longest
/// addresses and the CRLF).
const V1_MAX: usize = 107;
/// The v2 header's first 12 bytes.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// What a header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeader {
    /// The client's address; `None` for `LOCAL`/`UNKNOWN` (use the connection's own).
    pub source: Option<SocketAddr>,
    /// The address the client connected to; `None` as `source`.
    pub destination: Option<SocketAddr>,
}

/// Why a header was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyError {
    /// The first bytes are neither `PROXY ` nor the v2 signature.
    NotProxy,
    /// A v1 line that breaks the grammar; says which part.
    BadV1(&'static str),
    /// A v2 header that breaks the format; says which part.
    BadV2(&'static str),
    /// Longer than the limit.
    TooLong {
        /// The header's length, or the bytes seen without its end.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::NotProxy => {
                f.write_str("proxy header: missing (no PROXY line or v2 signature)")
            }
            ProxyError::BadV1(what) => write!(f, "proxy header v1: bad {what}"),
            ProxyError::BadV2(what) => write!(f, "proxy header v2: bad {what}"),
            ProxyError::TooLong { len, max } => {
                write!(f, "proxy header too long: {len} bytes (max {max})")
            }
        }
    }
}

impl std::error::Error for ProxyError {}

/// Reads a header from the start of `buf`: `Ok(None)` when more bytes are needed,
/// `Ok(Some((header, consumed)))` when it is complete.
///
/// # Errors
/// [`ProxyError`] as soon as the bytes seen cannot start a valid header.
pub fn parse_header(buf: &[u8], max: usize) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if first == b'P' {
        return parse_v1(buf, max.min(V1_MAX));
    }
    if first == b'\r' {
        return parse_v2(buf, max);
    }
    Err(ProxyError::NotProxy)
}

fn parse_v1(buf: &[u8], max: usize) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let prefix = b"PROXY ";
    let seen = buf.len().min(prefix.len());
    if buf[..seen] != prefix[..seen] {
        return Err(ProxyError::NotProxy);
    }
    let Some(cr) = buf.iter().position(|&b| b == b'\r') else {
        if buf.len() >= max {
            return Err(ProxyError::TooLong {
                len: buf.len(),
                max,
            });
        }
        if buf.contains(&b'\n') {
            return Err(ProxyError::BadV1("line end (LF without CR)"));
        }
        return Ok(None);
    };
    let consumed = cr + 2;
    if consumed > max {
        return Err(ProxyError::TooLong { len: consumed, max });
    }
    match buf.get(cr + 1) {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(_) => return Err(ProxyError::BadV1("line end (CR without LF)")),
    }
    let line =
        std::str::from_utf8(&buf[prefix.len()..cr]).map_err(|_| ProxyError::BadV1("bytes"))?;
    let parts: Vec<&str> = line.split(' ').collect();
    let family = parts.first().copied().unwrap_or_default();
    if family == "UNKNOWN" {
        let header = ProxyHeader {
            source: None,
            destination: None,
        };
        return Ok(Some((header, consumed)));
    }
    let [family, src, dst, sport, dport] = parts[..] else {
        return Err(ProxyError::BadV1("field count"));
    };
    let (src, dst): (IpAddr, IpAddr) = match family {
        "TCP4" => (
            IpAddr::V4(
                src.parse()
                    .map_err(|_| ProxyError::BadV1("source address"))?,
            ),
            IpAddr::V4(
                dst.parse()
                    .map_err(|_| ProxyError::BadV1("destination address"))?,
            ),
        ),
        "TCP6" => (
            IpAddr::V6(
                src.parse()
                    .map_err(|_| ProxyError::BadV1("source address"))?,
            ),
            IpAddr::V6(
                dst.parse()
                    .map_err(|_| ProxyError::BadV1("destination address"))?,
            ),
        ),
        _ => return Err(ProxyError::BadV1("protocol (TCP4, TCP6 or UNKNOWN)")),
    };
    let header = ProxyHeader {
        source: Some(SocketAddr::new(src, v1_port(sport, "source port")?)),
        destination: Some(SocketAddr::new(dst, v1_port(dport, "destination port")?)),
    };
    Ok(Some((header, consumed)))
}

/// A v1 port: decimal, no sign, no leading zero.
fn v1_port(text: &str, what: &'static str) -> Result<u16, ProxyError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return Err(ProxyError::BadV1(what));
    }
    text.parse().map_err(|_| ProxyError::BadV1(what))
}

fn parse_v2(buf: &[u8], max: usize) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let seen = buf.len().min(V2_SIGNATURE.len());
    if buf[..seen] != V2_SIGNATURE[..seen] {
        return Err(ProxyError::NotProxy);
    }
    let Some(fixed) = buf.get(..16) else {
        return Ok(None);
    };
    let (version, command) = (fixed[12] >> 4, fixed[12] & 0x0f);
    if version != 2 {
        return Err(ProxyError::BadV2("version"));
    }
    let (family, transport) = (fixed[13] >> 4, fixed[13] & 0x0f);
    let len = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    let total = 16 + len;
    if total > max {
        return Err(ProxyError::TooLong { len: total, max });
    }
    let Some(block) = buf.get(16..total) else {
        return Ok(None);
    };
    let local = ProxyHeader {
        source: None,
        destination: None,
    };
    match command {
        0 => return Ok(Some((local, total))), // LOCAL: addresses, if any, are ignored
        1 => {}
        _ => return Err(ProxyError::BadV2("command")),
    }
    if transport != 1 && !(family == 0 && transport == 0) {
        // Only STREAM is served here; UNSPEC/UNSPEC says "unknown", as v1's UNKNOWN.
        return Err(ProxyError::BadV2("transport (STREAM expected)"));
    }
    let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
    let (source, destination) = match family {
        0 => return Ok(Some((local, total))),
        1 if block.len() >= 12 => {
            let ip =
                |at: usize| Ipv4Addr::new(block[at], block[at + 1], block[at + 2], block[at + 3]);
            (
                SocketAddr::new(IpAddr::V4(ip(0)), port(8)),
                SocketAddr::new(IpAddr::V4(ip(4)), port(10)),
            )
        }
        2 if block.len() >= 36 => {
            let ip = |at: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&block[at..at + 16]);
                Ipv6Addr::from(octets)
            };
            (
                SocketAddr::new(IpAddr::V6(ip(0)), port(32)),
                SocketAddr::new(IpAddr::V6(ip(16)), port(34)),
            )
        }
        1 | 2 => return Err(ProxyError::BadV2("address block length")),
        _ => return Err(ProxyError::BadV2("address family (INET or INET6 expected)")),
    };
    let header = ProxyHeader {
        source: Some(source),
        destination: Some(destination),
    };
    Ok(Some((header, total)))
}

/// Wraps a factory so that each connection first reads a PROXY header; the wrapped
/// protocol is built, and sees its transport's `peer()`, with the client's address.
pub struct ProxyFactory {
    inner: Rc<dyn ProtocolFactory>,
    clock: Rc<dyn ReactorTime>,
    max: usize,
    timeout: Duration,
}

impl ProxyFactory {
    /// Wraps `inner`, with the default limit and deadline, timed on `clock`.
    pub fn new(inner: Rc<dyn ProtocolFactory>, clock: impl ReactorTime + 'static) -> ProxyFactory {
        ProxyFactory {
            inner,
            clock: Rc::new(clock),
            max: DEFAULT_MAX_HEADER,
            timeout: DEFAULT_HEADER_TIMEOUT,
        }
    }

    /// Another header size limit.
    pub fn with_max_header(mut self, max: usize) -> ProxyFactory {
        self.max = max;
        self
    }

    /// Another deadline for the header.
    pub fn with_timeout(mut self, timeout: Duration) -> ProxyFactory {
        self.timeout = timeout;
        self
    }
}

impl ProtocolFactory for ProxyFactory {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(ProxyProtocol {
            inner: self.inner.clone(),
            clock: self.clock.clone(),
            max: self.max,
            timeout: self.timeout,
            state: Rc::new(RefCell::new(State::AwaitingHeader {
                buf: Vec::new(),
                transport: None,
                deadline: None,
            })),
        }))
    }

    fn start_factory(&self) {
        self.inner.start_factory();
    }

    fn stop_factory(&self) {
        self.inner.stop_factory();
    }
}

impl fmt::Debug for ProxyFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyFactory")
            .field("max", &self.max)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

struct ProxyProtocol {
    inner: Rc<dyn ProtocolFactory>,
    clock: Rc<dyn ReactorTime>,
    max: usize,
    timeout: Duration,
    state: Rc<RefCell<State>>,
}

enum State {
    AwaitingHeader {
        buf: Vec<u8>,
        transport: Option<Rc<dyn Transport>>,
        deadline: Option<DelayedCall>,
    },
    Relaying(Box<dyn Protocol>),
    Refused,
}

impl Protocol for ProxyProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let weak = Rc::downgrade(&self.state);
        let timeout = self.timeout;
        let call = self.clock.call_later(
            timeout,
            Box::new(move || {
                let Some(state) = weak.upgrade() else {
                    return;
                };
                let old = std::mem::replace(&mut *state.borrow_mut(), State::Refused);
                if let State::AwaitingHeader {
                    transport: Some(t), ..
                } = old
                {
                    tracing::warn!(target: "torsion::proxy", "proxy header from {}: none within {timeout:?}: closing", t.peer());
                    t.abort_connection();
                }
            }),
        );
        if let State::AwaitingHeader {
            transport: slot,
            deadline,
            ..
        } = &mut *self.state.borrow_mut()
        {
            *slot = Some(transport);
            *deadline = Some(call);
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        let mut state = self.state.borrow_mut();
        let (header, rest, transport) = match &mut *state {
            State::Relaying(protocol) => return protocol.data_received(data),
            State::Refused => return,
            State::AwaitingHeader { buf, transport, .. } => {
                let Some(transport) = transport.clone() else {
                    return;
                };
                // Bounded: the parser refuses a header past `max`, so `buf` holds at
                // most that plus one read.
                buf.extend_from_slice(data);
                match parse_header(buf, self.max) {
                    Ok(None) => return,
                    Err(error) => {
                        drop(state);
                        return self.refuse(&transport, &error);
                    }
                    Ok(Some((header, consumed))) => (header, buf.split_off(consumed), transport),
                }
            }
        };
        let old = std::mem::replace(&mut *state, State::Refused);
        drop(state);
        if let State::AwaitingHeader {
            deadline: Some(call),
            ..
        } = old
        {
            let _ = call.cancel();
        }
        let peer = match header.source {
            Some(source) => Address::Tcp(source),
            None => transport.peer(),
        };
        tracing::debug!(target: "torsion::proxy", "proxy header from {}: client {peer}", transport.peer());
        let Some(mut protocol) = self.inner.build_protocol(&peer) else {
            transport.lose_connection();
            return;
        };
        let wrapped: Rc<dyn Transport> = Rc::new(PeerTransport {
            inner: transport,
            peer,
        });
        protocol.connection_made(wrapped);
        if !rest.is_empty() {
            protocol.data_received(&rest);
        }
        *self.state.borrow_mut() = State::Relaying(protocol);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        let old = std::mem::replace(&mut *self.state.borrow_mut(), State::Refused);
        match old {
            State::Relaying(mut protocol) => protocol.connection_lost(reason),
            State::AwaitingHeader { deadline, .. } => {
                if let Some(call) = deadline {
                    let _ = call.cancel();
                }
            }
            State::Refused => {}
        }
    }
}

impl ProxyProtocol {
    fn refuse(&self, transport: &Rc<dyn Transport>, error: &ProxyError) {
        tracing::warn!(target: "torsion::proxy", "proxy header from {}: {error}: closing", transport.peer());
        let old = std::mem::replace(&mut *self.state.borrow_mut(), State::Refused);
        if let State::AwaitingHeader {
            deadline: Some(call),
            ..
        } = old
        {
            let _ = call.cancel();
        }
        transport.abort_connection();
    }
}

/// The real transport, with the client's address as its peer.
struct PeerTransport {
    inner: Rc<dyn Transport>,
    peer: Address,
}

impl Transport for PeerTransport {
    fn write(&self, data: &[u8]) {
        self.inner.write(data);
    }
    fn write_sequence(&self, data: &[&[u8]]) {
        self.inner.write_sequence(data);
    }
    fn lose_connection(&self) {
        self.inner.lose_connection();
    }
    fn abort_connection(&self) {
        self.inner.abort_connection();
    }
    fn lose_write_connection(&self) {
        self.inner.lose_write_connection();
    }
    fn peer(&self) -> Address {
        self.peer.clone()
    }
    fn host(&self) -> Address {
        self.inner.host()
    }
    fn pause_producing(&self) {
        self.inner.pause_producing();
    }
    fn resume_producing(&self) {
        self.inner.resume_producing();
    }
    fn stop_producing(&self) {
        self.inner.stop_producing();
    }
    fn register_producer(&self, producer: Producer) -> Result<(), ProducerAlreadyRegistered> {
        self.inner.register_producer(producer)
    }
    fn unregister_producer(&self) {
        self.inner.unregister_producer();
    }
    fn set_write_limits(&self, limits: WriteLimits) {
        self.inner.set_write_limits(limits);
    }
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
    fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }
    fn set_keep_alive(&self, enabled: bool) -> io::Result<()> {
        self.inner.set_keep_alive(enabled)
    }
    fn set_no_delay(&self, enabled: bool) -> io::Result<()> {
        self.inner.set_no_delay(enabled)
    }
}

#[cfg(test)]
mod tests;
