//! One HTTP/1.1 client connection (Twisted's `HTTP11ClientProtocol`): the adapter between
//! the sans-IO [`ClientExchange`] and a `torsion::net` transport opened through a
//! `HostnameEndpoint`.
//!
//! The rules (one request at a time, 1xx skipped, framing, reuse, the retry signal, the
//! request and idle deadlines) are the core's; this module moves bytes and events in and
//! carries out the [`ClientAction`]s that come back: it writes, fires the response,
//! feeds its [`BodyChannel`], arms the connection's one timer, and closes.
//!
//! A [`Conn`] is shared by the pool that owns it and by its protocol. It knows that pool
//! and the request it serves only through the [`Pool`] and [`Served`] traits, which the
//! agent implements: this module imports nothing of the agent, and the agent builds on it.

use std::{
    cell::{Cell, RefCell},
    io,
    rc::{Rc, Weak},
    time::Duration,
};

use torsion::{
    defer::{CancelHandle, Deferred, Resolver},
    endpoints::{ClientError, HostnameEndpoint, StreamClientEndpoint},
    net::{Address, CloseReason, ConnectError, Protocol, ProtocolFactory, Transport},
    DelayedCall, Failure, Reactor,
};

use super::{
    response::{BodyChannel, BodySource},
    RequestError, Response, Url,
};
use crate::http::{ClientAction, ClientExchange, ExchangeConfig, ExchangeError, Received};

/// `(host, port)`, the host lower-cased as the URL parser leaves it.
pub(crate) type HostKey = (String, u16);

/// What a connection tells the pool that owns it (the agent).
pub(crate) trait Pool {
    /// The connection is up: it serves the request it was opened for, or (if that one
    /// went away meanwhile) the next in the queue.
    fn connection_ready(self: Rc<Self>, conn: &Rc<Conn>);
    /// A response ended and the connection may carry another request.
    fn release(self: Rc<Self>, conn: &Rc<Conn>);
    /// The connection closed, or never opened: its slot is free.
    fn connection_closed(self: Rc<Self>, conn: &Rc<Conn>);
}

/// The request a connection serves, as the connection sees it (the agent's exchange).
pub(crate) trait Served {
    /// The URL asked for.
    fn url(&self) -> &Url;
    /// The connection made for this request is up: send the request on it.
    fn send_on_new(self: Rc<Self>, conn: &Rc<Conn>);
    /// The head arrived: the request's Deferred fires with `response`.
    fn responded(&self, response: Response, channel: Rc<BodyChannel>);
    /// The response is over (its body ended, whole or not): stop the clock.
    fn complete(&self);
    /// The request failed, before its head or in its body.
    fn failed(self: Rc<Self>, failure: Failure);
    /// The request's deadline passed.
    fn timed_out(self: Rc<Self>);
    /// Sends the request again on a new connection, unless it was already; false if not.
    fn retry_once(self: Rc<Self>) -> bool;
}

/// A pooled connection: its core, its transport once connected, and the request it
/// serves; see the [module docs](self).
pub(crate) struct Conn {
    pool: Weak<dyn Pool>,
    pub(crate) key: HostKey,
    reactor: Reactor,
    core: RefCell<ClientExchange>,
    /// The name lookup and connection attempts under way, to cancel them.
    connecting: RefCell<Option<CancelHandle>>,
    transport: RefCell<Option<Rc<dyn Transport>>>,
    /// The request this connection serves or is being made for.
    current: RefCell<Option<Rc<dyn Served>>>,
    /// The body of the response under way, from its head to its end.
    body: RefCell<Option<Rc<BodyChannel>>>,
    /// The one timer, for the core's deadline (the request's, or the idle timeout).
    timer: RefCell<Option<DelayedCall>>,
    closed: Cell<bool>,
    /// Fired when the connection is gone (`Agent::close_cached_connections`).
    on_closed: RefCell<Vec<Resolver<()>>>,
}

impl Conn {
    pub(crate) fn new(
        pool: Weak<dyn Pool>,
        key: HostKey,
        reactor: Reactor,
        config: ExchangeConfig,
    ) -> Rc<Conn> {
        Rc::new(Conn {
            pool,
            key,
            reactor,
            core: RefCell::new(ClientExchange::new(config)),
            connecting: RefCell::default(),
            transport: RefCell::default(),
            current: RefCell::default(),
            body: RefCell::default(),
            timer: RefCell::default(),
            closed: Cell::new(false),
            on_closed: RefCell::default(),
        })
    }

    /// Connects through `endpoint` (name lookup on the thread pool, then the attempt
    /// race); the pool hears `connection_ready`, or the request fails with a
    /// `ConnectError` ([`connect_failure`] says which).
    pub(crate) fn connect(self: &Rc<Self>, endpoint: &HostnameEndpoint) {
        let factory: Rc<dyn ProtocolFactory> = Rc::new(ConnFactory { conn: self.clone() });
        let connecting = StreamClientEndpoint::connect(endpoint, factory);
        // Stored before the callbacks are added, which take it back even if the attempt
        // already ended.
        *self.connecting.borrow_mut() = Some(connecting.canceller());
        let (made, failed) = (self.clone(), self.clone());
        let _ = connecting.add_callbacks(
            move |_| {
                made.connecting.borrow_mut().take();
                made.connected();
                Ok::<_, Failure>(())
            },
            move |failure| {
                failed.connecting.borrow_mut().take();
                failed.connect_failed(connect_failure(failure));
                Ok::<_, Failure>(())
            },
        );
    }

    pub(crate) fn current(&self) -> Option<Rc<dyn Served>> {
        self.current.borrow().clone()
    }

    pub(crate) fn set_current(&self, exchange: Option<Rc<dyn Served>>) {
        *self.current.borrow_mut() = exchange;
    }

    /// True once a response was read to its end on this connection.
    pub(crate) fn is_reused(&self) -> bool {
        self.core.borrow().is_reused()
    }

    /// True while connected, idle, and not closing: it can take a request.
    pub(crate) fn is_usable(&self) -> bool {
        self.core.borrow().is_idle() && self.is_open()
    }

    /// Sends `request` (the whole request, for `method`, due before `deadline`) for
    /// `exchange`, which owns the connection until its response ends.
    pub(crate) fn send(
        self: &Rc<Self>,
        exchange: Rc<dyn Served>,
        method: &str,
        request: Vec<u8>,
        deadline: Option<Duration>,
    ) {
        self.set_current(Some(exchange.clone()));
        let sent = self
            .core
            .borrow_mut()
            .send_request(method, request, deadline);
        if let Err(error) = sent {
            self.set_current(None);
            let failure = failure(error, exchange.url(), None);
            return exchange.failed(failure);
        }
        self.run_actions(None);
    }

    /// The connection waits in its pool: it closes after the idle timeout unless a
    /// request comes (a connection idle since its last response already counts).
    pub(crate) fn pooled(self: &Rc<Self>) {
        let now = self.reactor.loop_time();
        self.core.borrow_mut().pooled(now);
        self.run_actions(None);
    }

    /// Closes after what was written (an idle connection, a pool shutting down).
    pub(crate) fn lose_connection(self: &Rc<Self>) {
        self.core.borrow_mut().close();
        self.run_actions(None);
        if let Some(transport) = self.transport() {
            transport.lose_connection();
        }
    }

    /// Closes at once and stops any lookup or connection attempt in progress.
    pub(crate) fn abort(self: &Rc<Self>) {
        let connecting = self.connecting.borrow_mut().take();
        if let Some(connecting) = connecting {
            connecting.cancel(); // its errback reports the failure
        }
        self.core.borrow_mut().close();
        self.run_actions(None);
        // Whoever aborts ends the body (the exchange fails it); the channel, which holds
        // this connection as its source, is not kept here any longer.
        self.body.borrow_mut().take();
        if let Some(transport) = self.transport() {
            transport.abort_connection();
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

    /// The connection is up and its protocol attached.
    fn connected(self: &Rc<Self>) {
        if self.closed.get() {
            return;
        }
        match self.pool.upgrade() {
            Some(pool) => pool.connection_ready(self),
            None => self.lose_connection(),
        }
    }

    /// The connection could not be made: its request fails, its pool slot frees.
    fn connect_failed(self: &Rc<Self>, failure: Failure) {
        let exchange = self.current.borrow_mut().take();
        if let Some(exchange) = exchange {
            exchange.failed(failure);
        }
        self.closed_now();
    }

    /// Carries out what the core asks, in order, until it asks nothing. `lost` is why
    /// the connection went, when it went with a failure.
    fn run_actions(self: &Rc<Self>, lost: Option<&Failure>) {
        loop {
            // Taken in a statement of its own: no borrow of the core is held while an
            // action runs, since actions run user code that may send the next request.
            let action = self.core.borrow_mut().poll_action();
            let Some(action) = action else {
                return;
            };
            match action {
                ClientAction::Write(bytes) => {
                    if let Some(transport) = self.transport() {
                        transport.write(&bytes);
                    }
                }
                ClientAction::ArmDeadline(at) => self.arm(at),
                ClientAction::Head(head) => {
                    let Some(exchange) = self.current() else {
                        continue; // failed meanwhile: the core was closed with it
                    };
                    let source: Rc<dyn BodySource> = self.clone();
                    let channel = BodyChannel::new(source);
                    *self.body.borrow_mut() = Some(channel.clone());
                    let response = Response::new(
                        head.status(),
                        head.reason().to_owned(),
                        head.version(),
                        head.headers().clone(),
                        exchange.url().clone(),
                        channel.clone(),
                    );
                    exchange.responded(response, channel);
                }
                ClientAction::BodyEnd { reusable } => self.body_ended(reusable),
                ClientAction::Fail(error) => {
                    self.body.borrow_mut().take();
                    let exchange = self.current.borrow_mut().take();
                    match (exchange, error) {
                        (None, error) => {
                            tracing::debug!("http client: closing a connection: {error}");
                        }
                        (Some(exchange), ExchangeError::TimedOut) => exchange.timed_out(),
                        (Some(exchange), error) => {
                            let failure = failure(error, exchange.url(), lost);
                            exchange.failed(failure);
                        }
                    }
                }
                ClientAction::Retry => {
                    let exchange = self.current.borrow_mut().take();
                    if let Some(exchange) = exchange {
                        // A reused connection the server closed before answering: Twisted
                        // (and every browser) sends an idempotent request again, once.
                        if !exchange.clone().retry_once() {
                            let error = ExchangeError::ClosedBeforeHead;
                            let failure = failure(error, exchange.url(), lost);
                            exchange.failed(failure);
                        }
                    }
                }
                ClientAction::Close { abort } => {
                    if let Some(transport) = self.transport() {
                        match abort {
                            true => transport.abort_connection(),
                            false => transport.lose_connection(),
                        }
                    }
                }
            }
        }
    }

    /// The body ended whole: the connection goes back to the pool (before the body's
    /// reader hears, so that a request it makes can reuse it) or is closing already.
    fn body_ended(self: &Rc<Self>, reusable: bool) {
        let exchange = self.current.borrow_mut().take();
        let channel = self.body.borrow_mut().take();
        if let Some(exchange) = &exchange {
            exchange.complete();
        }
        if reusable && self.is_usable() {
            match self.pool.upgrade() {
                Some(pool) => pool.release(self),
                None => self.lose_connection(),
            }
        }
        if let Some(channel) = channel {
            channel.finish(Ok(()));
        }
    }

    /// Arms the one timer for `at`, or stops it.
    fn arm(self: &Rc<Self>, at: Option<Duration>) {
        if let Some(old) = self.timer.borrow_mut().take() {
            let _ = old.cancel();
        }
        let Some(at) = at else {
            return;
        };
        let delay = at.saturating_sub(self.reactor.loop_time());
        let weak = Rc::downgrade(self);
        let timer = self.reactor.call_later(delay, move || {
            if let Some(conn) = weak.upgrade() {
                conn.timer.borrow_mut().take();
                let now = conn.reactor.seconds();
                conn.core.borrow_mut().deadline_passed(now);
                conn.run_actions(None);
            }
        });
        *self.timer.borrow_mut() = Some(timer);
    }

    /// Marks the connection gone and tells the pool and the waiters.
    fn closed_now(self: &Rc<Self>) {
        if self.closed.replace(true) {
            return;
        }
        self.core.borrow_mut().close();
        if let Some(timer) = self.timer.borrow_mut().take() {
            let _ = timer.cancel();
        }
        *self.transport.borrow_mut() = None;
        *self.connecting.borrow_mut() = None;
        if let Some(pool) = self.pool.upgrade() {
            pool.connection_closed(self);
        }
        for resolver in std::mem::take(&mut *self.on_closed.borrow_mut()) {
            let _ = resolver.callback(());
        }
    }

    /// True while connected and not closing.
    fn is_open(&self) -> bool {
        !self.closed.get()
            && self
                .transport
                .borrow()
                .as_ref()
                .is_some_and(|t| !t.is_closing())
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
        // The core hears the end from `connection_lost`, which fails the body cut short
        // and completes its request.
        if let Some(transport) = self.transport() {
            transport.abort_connection();
        }
    }
}

/// The failure a request gets for `error`; `lost` is why the connection went, if it
/// went with a failure.
fn failure(error: ExchangeError, url: &Url, lost: Option<&Failure>) -> Failure {
    let url = url.to_string();
    Failure::new(match error {
        ExchangeError::BadHead(error) => RequestError::BadResponse { url, error },
        ExchangeError::BadBody(error) => RequestError::BadBody { url, error },
        ExchangeError::UnexpectedData => RequestError::UnexpectedData { url },
        ExchangeError::ClosedBeforeHead => match lost {
            Some(failure) => return failure.clone(),
            None => RequestError::ConnectionClosed { url },
        },
        // Busy, Closed (a request given to a connection that could not take it), and
        // TimedOut (the exchange's own error, with its timeout) end the same way here.
        _ => RequestError::ConnectionClosed { url },
    })
}

/// The endpoint's failure as the client reports it (a `torsion::net::ConnectError`): an
/// unresolved name as `Resolve`, one address that failed as its own error, several as
/// `AllFailed`.
fn connect_failure(failure: Failure) -> Failure {
    let Some(error) = failure.check::<ClientError>() else {
        return failure; // cancelled, or the pool's own error
    };
    match error {
        ClientError::Resolve { host, port, source } => Failure::new(ConnectError::Resolve {
            host: host.clone(),
            port: *port,
            source: io::Error::new(source.kind(), source.to_string()),
        }),
        ClientError::Connect {
            host,
            port,
            attempts,
        } => match attempts.as_slice() {
            [(_, only)] => only.clone(),
            _ => Failure::new(ConnectError::AllFailed {
                host: host.clone(),
                port: *port,
                tried: attempts
                    .iter()
                    .map(|(address, failure)| (*address, io_error(failure)))
                    .collect(),
            }),
        },
        _ => failure.clone(),
    }
}

/// What the system said about one failed attempt, as an `io::Error`.
fn io_error(failure: &Failure) -> io::Error {
    let kind = match failure.check::<ConnectError>() {
        Some(ConnectError::Io { source, .. }) => source.kind(),
        Some(ConnectError::TimedOut { .. }) => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, failure.error_message())
}

/// Builds the protocol of each connection attempt.
struct ConnFactory {
    conn: Rc<Conn>,
}

impl ProtocolFactory for ConnFactory {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(ClientProtocol {
            conn: self.conn.clone(),
            buf: Vec::new(),
            attached: false,
        }))
    }
}

/// The protocol on a client connection: bytes in to the core, in the order they come.
struct ClientProtocol {
    conn: Rc<Conn>,
    /// Bytes received and not yet consumed by the core.
    buf: Vec<u8>,
    /// False for a connection that came too late (an attempt that lost the race, or a
    /// request gone meanwhile): it was aborted, and nothing of it reaches the `Conn`.
    attached: bool,
}

impl Protocol for ClientProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let taken = self.conn.transport.borrow().is_some();
        if taken || self.conn.closed.get() {
            transport.abort_connection();
            return;
        }
        self.attached = true;
        *self.conn.transport.borrow_mut() = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if !self.attached || !self.conn.is_open() {
            return;
        }
        self.buf.extend_from_slice(data);
        let now = self.conn.reactor.loop_time();
        loop {
            let received = self.conn.core.borrow_mut().read(now, &self.buf);
            match received {
                Received::Data { data, consumed } => {
                    let channel = self.conn.body.borrow().clone();
                    if let Some(channel) = channel {
                        channel.push(data);
                    }
                    self.buf.drain(..consumed);
                    if !self.conn.is_open() {
                        return; // the body's reader refused it, or the request went
                    }
                }
                Received::Actions { consumed } => {
                    self.buf.drain(..consumed);
                    self.conn.run_actions(None);
                }
                Received::Wait { consumed } => {
                    self.buf.drain(..consumed);
                    if self.buf.is_empty() && self.conn.core.borrow().is_idle() {
                        self.buf = Vec::new(); // idle connections hold no read buffer
                    }
                    return;
                }
            }
        }
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        if !self.attached {
            return;
        }
        self.buf = Vec::new();
        let conn = self.conn.clone();
        conn.core.borrow_mut().connection_lost();
        // The slot frees first, so that a request retried or made by the body's reader
        // finds it free.
        conn.closed_now();
        let lost = match reason {
            CloseReason::Lost(failure) => Some(failure),
            CloseReason::Clean => None,
        };
        conn.run_actions(lost.as_ref());
    }
}

#[cfg(test)]
mod tests;
