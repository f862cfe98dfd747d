//! One HTTP/1.1 client connection (Twisted's `HTTP11ClientProtocol`): writes a request,
//! reads its response head with [`ResponseParser`], hands the body to the response through
//! [`BodyDecoder`], then goes back to its pool or closes.
//!
//! A connection carries one request at a time (no pipelining, as in Twisted). It is
//! reused only when the response allowed it (`keep_alive`), its body ended on its framing
//! (not on close), nothing followed the body, and the agent is persistent. Bytes that
//! arrive while no request is outstanding close it.

use std::{
    cell::{Cell, RefCell},
    collections::VecDeque,
    net::SocketAddr,
    rc::{Rc, Weak},
};

use torsion::{
    defer::{CancelHandle, Deferred, Resolver},
    net::{Address, ClientFactory, CloseReason, Connector, Protocol, ProtocolFactory, Transport},
    DelayedCall, Failure,
};

use super::{
    agent::{AgentInner, Exchange, HostKey},
    response::{BodyChannel, BodySource},
    RequestError, Response,
};
use crate::http::{BodyDecoder, Decoded, Parsed, ResponseParser};

/// A pooled connection, shared by its protocol, its pool and the exchange it serves.
pub(crate) struct Conn {
    pub(crate) agent: Weak<AgentInner>,
    pub(crate) key: HostKey,
    transport: RefCell<Option<Rc<dyn Transport>>>,
    connector: RefCell<Option<Connector>>,
    /// The name lookup in progress, to cancel it.
    resolving: RefCell<Option<CancelHandle>>,
    /// Addresses left to try after the one being connected to.
    addrs: RefCell<VecDeque<SocketAddr>>,
    /// The exchange this connection serves or is being made for.
    current: RefCell<Option<Rc<Exchange>>>,
    idle_timer: RefCell<Option<DelayedCall>>,
    /// Responses completed on this connection: above 0 it is a reused one.
    served: Cell<u32>,
    closed: Cell<bool>,
    /// Fired when the connection is gone (`Agent::close_cached_connections`).
    on_closed: RefCell<Vec<Resolver<()>>>,
}

impl Conn {
    pub(crate) fn new(agent: Weak<AgentInner>, key: HostKey) -> Rc<Conn> {
        Rc::new(Conn {
            agent,
            key,
            transport: RefCell::default(),
            connector: RefCell::default(),
            resolving: RefCell::default(),
            addrs: RefCell::default(),
            current: RefCell::default(),
            idle_timer: RefCell::default(),
            served: Cell::new(0),
            closed: Cell::new(false),
            on_closed: RefCell::default(),
        })
    }

    pub(crate) fn current(&self) -> Option<Rc<Exchange>> {
        self.current.borrow().clone()
    }

    pub(crate) fn set_current(&self, exchange: Option<Rc<Exchange>>) {
        *self.current.borrow_mut() = exchange;
    }

    pub(crate) fn is_reused(&self) -> bool {
        self.served.get() > 0
    }

    /// True while connected and not closing.
    pub(crate) fn is_usable(&self) -> bool {
        !self.closed.get()
            && self
                .transport
                .borrow()
                .as_ref()
                .is_some_and(|t| !t.is_closing())
    }

    pub(crate) fn write(&self, bytes: &[u8]) {
        if let Some(transport) = self.transport() {
            transport.write(bytes);
        }
    }

    pub(crate) fn set_idle_timer(&self, timer: Option<DelayedCall>) {
        if let Some(old) = std::mem::replace(&mut *self.idle_timer.borrow_mut(), timer) {
            let _ = old.cancel();
        }
    }

    /// Closes after what was written (an idle connection, a response that ends it).
    pub(crate) fn lose_connection(&self) {
        self.set_idle_timer(None);
        if let Some(transport) = self.transport() {
            transport.lose_connection();
        }
    }

    /// Closes at once and stops any lookup or connect in progress.
    pub(crate) fn abort(&self) {
        self.set_idle_timer(None);
        let lookup = self.resolving.borrow_mut().take();
        if let Some(lookup) = lookup {
            lookup.cancel(); // its errback reports the failure
        }
        let connector = self.connector.borrow().clone();
        if let Some(transport) = self.transport() {
            transport.abort_connection();
        } else if let Some(connector) = connector {
            connector.stop_connecting();
        }
    }

    /// A Deferred that fires once the connection is gone.
    pub(crate) fn when_closed(&self) -> Deferred<()> {
        let (deferred, resolver) = Deferred::new();
        if self.closed.get() {
            let _ = resolver.callback(());
        } else {
            self.on_closed.borrow_mut().push(resolver);
        }
        deferred
    }

    pub(crate) fn set_resolving(&self, lookup: Option<CancelHandle>) {
        *self.resolving.borrow_mut() = lookup;
    }

    /// Connects to the first of `addrs`, keeping the rest for a failure.
    pub(crate) fn connect_to(self: &Rc<Self>, addrs: Vec<SocketAddr>) {
        *self.addrs.borrow_mut() = addrs.into();
        self.connect_next(None);
    }

    /// Tries the next address; with none left, fails with `failure`.
    fn connect_next(self: &Rc<Self>, failure: Option<Failure>) {
        let next = self.addrs.borrow_mut().pop_front();
        let (Some(addr), Some(agent)) = (next, self.agent.upgrade()) else {
            let failure = failure.unwrap_or_else(|| Failure::msg("no address to connect to"));
            return self.connect_failed(failure);
        };
        let connector = torsion::net::StreamNetwork::connect_tcp(
            agent.reactor(),
            &addr.ip().to_string(),
            addr.port(),
            Rc::new(ConnFactory { conn: self.clone() }),
            torsion::net::TcpConnectOptions::default().timeout(agent.config().connect_timeout),
        );
        *self.connector.borrow_mut() = Some(connector);
    }

    /// The connection could not be made: its exchange fails, its pool slot frees.
    pub(crate) fn connect_failed(self: &Rc<Self>, failure: Failure) {
        let exchange = self.current.borrow_mut().take();
        if let Some(exchange) = exchange {
            exchange.fail(failure);
        }
        self.closed_now();
    }

    /// Marks the connection gone and tells the pool and the waiters.
    fn closed_now(self: &Rc<Self>) {
        if self.closed.replace(true) {
            return;
        }
        self.set_idle_timer(None);
        *self.transport.borrow_mut() = None;
        *self.connector.borrow_mut() = None; // the connector holds a factory holding us
        *self.resolving.borrow_mut() = None;
        if let Some(agent) = self.agent.upgrade() {
            agent.connection_closed(self);
        }
        for resolver in std::mem::take(&mut *self.on_closed.borrow_mut()) {
            let _ = resolver.callback(());
        }
    }

    fn transport(&self) -> Option<Rc<dyn Transport>> {
        self.transport.borrow().clone()
    }
}

impl BodySource for Conn {
    fn pause(&self) {
        if let Some(transport) = self.transport() {
            transport.pause_producing();
        }
    }

    fn resume(&self) {
        if let Some(transport) = self.transport() {
            transport.resume_producing();
        }
    }

    fn abort(&self) {
        if let Some(transport) = self.transport() {
            transport.abort_connection();
        }
    }
}

/// Builds the protocol of one connection and hears how connecting went.
struct ConnFactory {
    conn: Rc<Conn>,
}

impl ProtocolFactory for ConnFactory {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(ClientProtocol {
            conn: self.conn.clone(),
            buf: Vec::new(),
            read: Read::head(),
        }))
    }
}

impl ClientFactory for ConnFactory {
    fn client_connection_failed(&self, _: &Connector, reason: Failure) {
        let wanted = self.conn.current.borrow().is_some();
        if wanted && !self.conn.addrs.borrow().is_empty() {
            self.conn.connect_next(Some(reason));
        } else {
            self.conn.connect_failed(reason);
        }
    }
}

/// What the protocol reads next.
enum Read {
    /// A response head; `received` once any byte of it came.
    Head {
        parser: ResponseParser,
        received: bool,
    },
    /// The body of the response being delivered.
    Body {
        decoder: BodyDecoder,
        channel: Rc<BodyChannel>,
        keep_alive: bool,
    },
}

impl Read {
    fn head() -> Read {
        Read::Head {
            parser: ResponseParser::new(),
            received: false,
        }
    }
}

/// The protocol on a client connection; see the [module docs](self).
struct ClientProtocol {
    conn: Rc<Conn>,
    /// Bytes received and not yet parsed.
    buf: Vec<u8>,
    read: Read,
}

impl Protocol for ClientProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        *self.conn.transport.borrow_mut() = Some(transport);
        *self.conn.connector.borrow_mut() = None;
        match self.conn.agent.upgrade() {
            Some(agent) => agent.connection_ready(&self.conn),
            None => self.conn.lose_connection(),
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        if !self.conn.is_usable() {
            return;
        }
        self.buf.extend_from_slice(data);
        while self.step() {}
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        let conn = self.conn.clone();
        let current = conn.current.borrow_mut().take();
        match std::mem::replace(&mut self.read, Read::head()) {
            Read::Head { received, .. } => {
                if let Some(exchange) = current {
                    conn.closed_now();
                    // A reused connection the server closed before answering: Twisted
                    // (and every browser) sends an idempotent request again, once.
                    if conn.is_reused() && !received && exchange.may_retry() {
                        exchange.retry();
                    } else {
                        let url = exchange.url().to_string();
                        let failure = match reason {
                            CloseReason::Lost(failure) => failure,
                            CloseReason::Clean => {
                                Failure::new(RequestError::ConnectionClosed { url })
                            }
                        };
                        exchange.fail(failure);
                    }
                }
            }
            Read::Body {
                mut decoder,
                channel,
                ..
            } => {
                let result = decoder.finish().map_err(|error| {
                    let url = current.as_ref().map(|e| e.url().to_string());
                    Failure::new(RequestError::BadBody {
                        url: url.unwrap_or_default(),
                        error,
                    })
                });
                if let Some(exchange) = current {
                    exchange.complete();
                }
                channel.finish(result);
            }
        }
        conn.closed_now();
    }
}

impl ClientProtocol {
    /// Reads one thing (a head, a piece of body, the body's end) from `buf`; false when
    /// more bytes are needed or the connection is done.
    fn step(&mut self) -> bool {
        match &mut self.read {
            Read::Head { parser, received } => {
                if self.buf.is_empty() {
                    return false;
                }
                let Some(exchange) = self.conn.current() else {
                    tracing::debug!("http client: server sent data while no request was out");
                    self.conn.abort();
                    return false;
                };
                *received = true;
                match parser.parse(&self.buf, exchange.method()) {
                    Ok(Parsed::Partial) => false,
                    Ok(Parsed::Complete {
                        value: head,
                        consumed,
                    }) => {
                        self.buf.drain(..consumed);
                        if head.is_interim() {
                            return true; // 100 Continue and friends: the final one follows
                        }
                        let source: Rc<dyn BodySource> = self.conn.clone();
                        let channel = BodyChannel::new(source);
                        self.read = Read::Body {
                            decoder: BodyDecoder::new(head.framing(), u64::MAX),
                            channel: channel.clone(),
                            keep_alive: head.keep_alive(),
                        };
                        let response = Response::new(
                            head.status(),
                            head.reason().to_owned(),
                            head.version(),
                            head.headers().clone(),
                            exchange.url().clone(),
                            channel.clone(),
                        );
                        exchange.responded(response, channel);
                        self.conn.is_usable()
                    }
                    Err(error) => {
                        let url = exchange.url().to_string();
                        exchange.fail(Failure::new(RequestError::BadResponse { url, error }));
                        self.conn.abort();
                        false
                    }
                }
            }
            Read::Body {
                decoder,
                channel,
                keep_alive,
            } => match decoder.decode(&self.buf) {
                Ok(Decoded::Data { data, consumed }) => {
                    channel.push(data);
                    self.buf.drain(..consumed);
                    self.conn.is_usable()
                }
                Ok(Decoded::Partial { consumed }) => {
                    self.buf.drain(..consumed);
                    false
                }
                Ok(Decoded::End { consumed }) => {
                    self.buf.drain(..consumed);
                    let channel = channel.clone();
                    let keep_alive = *keep_alive;
                    self.read = Read::head();
                    self.body_ended(channel, keep_alive);
                    false
                }
                Err(error) => {
                    let channel = channel.clone();
                    let url = self.conn.current().map(|e| e.url().to_string());
                    let exchange = self.conn.current.borrow_mut().take();
                    if let Some(exchange) = exchange {
                        exchange.complete();
                    }
                    self.conn.abort();
                    channel.finish(Err(Failure::new(RequestError::BadBody {
                        url: url.unwrap_or_default(),
                        error,
                    })));
                    false
                }
            },
        }
    }

    /// The body ended on its framing: the connection goes back to the pool (before the
    /// body's reader hears, so that a request it makes can reuse it) or closes.
    fn body_ended(&mut self, channel: Rc<BodyChannel>, keep_alive: bool) {
        let conn = self.conn.clone();
        let exchange = conn.current.borrow_mut().take();
        conn.served.set(conn.served.get() + 1);
        if let Some(exchange) = &exchange {
            exchange.complete();
        }
        let leftover = !self.buf.is_empty();
        if leftover {
            tracing::debug!("http client: server sent data after the response; closing");
            self.buf.clear();
            conn.abort();
        }
        let agent = conn.agent.upgrade();
        match agent {
            Some(agent) if keep_alive && !leftover && agent.config().persistent => {
                if conn.is_usable() {
                    agent.release(&conn);
                }
            }
            _ => conn.lose_connection(),
        }
        channel.finish(Ok(()));
    }
}
