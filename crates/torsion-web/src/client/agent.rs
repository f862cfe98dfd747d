//! [`Agent`]: requests over a pool of persistent connections (Twisted's `Agent` with an
//! `HTTPConnectionPool`), with a request timeout Twisted's lacks.
//!
//! ```no_run
//! use torsion::{task::react, Failure};
//! use torsion_web::client::{Agent, Body, RequestHeaders, Response};
//! react(|reactor| {
//!     let agent = Agent::new(reactor);
//!     agent
//!         .request("GET", "http://127.0.0.1:8080/", RequestHeaders::new(), Body::Empty)
//!         .add_callback(|response: Response| {
//!             println!("{}", response.status());
//!             response.body()
//!         })
//!         .add_callback(|body: Vec<u8>| {
//!             println!("{} bytes", body.len());
//!             Ok::<_, Failure>(())
//!         })
//! });
//! ```
//!
//! # The pool
//!
//! Connections are kept per `host:port`. A request takes an idle connection if there is
//! one, else opens a new one while fewer than
//! [`max_connections_per_host`](AgentBuilder::max_connections_per_host) are open (idle,
//! busy or connecting), else waits in a queue, first come first served, for a connection
//! to come back or close. A connection comes back to the pool once its response body has
//! been read to its end and the response allowed keep-alive; it then waits
//! [`idle_timeout`](AgentBuilder::idle_timeout) for the next request and closes.
//! [`Agent::close_cached_connections`] closes the idle ones at once (do it at the end of a
//! test). An idempotent request that finds its reused connection closed by the server
//! before any byte of answer is sent once more on a new one, as Twisted does.
//!
//! A non-persistent agent ([`AgentBuilder::persistent`]) sends `Connection: close` and
//! uses each connection once (Twisted's default pool).
//!
//! # Before anything is sent
//!
//! The URL is parsed ([`UrlError`](super::UrlError); `https` is refused until TLS
//! lands) and the whole request is written into one buffer, which refuses CR or LF in the
//! method, target or any header and frames every body. A refused request fails its
//! Deferred before any connection is opened.
//!
//! # Time
//!
//! [`request_timeout`](AgentBuilder::request_timeout) (default
//! [`DEFAULT_REQUEST_TIMEOUT`]) covers everything: waiting in the queue, resolving,
//! connecting, the head and the body. When it passes, the request's Deferred (or its body,
//! if the head came) fails with [`RequestError::TimedOut`] and the connection is closed.
//! Cancelling the request's Deferred does the same with `Cancelled`.
//!
//! # Connecting
//!
//! Connections are made by a `torsion::endpoints::HostnameEndpoint`, the project's one
//! name-lookup and happy-eyeballs path: a host name is resolved on the reactor's thread
//! pool, never on the loop (an IP literal is used as is), and its addresses are raced,
//! IPv6 and IPv4 alternately, a new attempt every 0.3 s or as soon as one fails;
//! [`connect_timeout`](AgentBuilder::connect_timeout) bounds each attempt. A connection
//! that could not be made fails the request with a `torsion::net::ConnectError`:
//! `Resolve` for a name that did not resolve, the attempt's own error when there was one
//! address, `AllFailed` when there were several.

use std::{
    cell::{Cell, RefCell},
    collections::{HashMap, VecDeque},
    fmt,
    rc::{Rc, Weak},
    time::Duration,
};

use torsion::{
    defer::{fail, gather_results, Deferred, Resolver},
    endpoints::HostnameEndpoint,
    DelayedCall, Failure, Reactor,
};

use super::{
    connection::{Conn, HostKey, Pool, Served},
    outgoing::encode_request,
    response::BodyChannel,
    Body, RequestError, RequestHeaders, Response, Url,
};
use crate::http::{ClientExchange, ExchangeConfig, DEFAULT_CLIENT_IDLE_TIMEOUT};

/// Connections open at once to one `host:port` unless set otherwise.
pub const DEFAULT_MAX_CONNECTIONS_PER_HOST: usize = 32;
/// How long an idle pooled connection waits for a request before closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = DEFAULT_CLIENT_IDLE_TIMEOUT;
/// How long a request may take, from the call to the body's end.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a connection attempt may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Anything that makes requests (Twisted's `IAgent`): [`Agent`], and the agents that wrap
/// one ([`RedirectAgent`](super::RedirectAgent), [`ContentDecoder`](super::ContentDecoder)).
pub trait Requester {
    /// Sends `method url` with these headers and body; fires with the response once its
    /// head has arrived.
    fn request(
        &self,
        method: &str,
        url: &str,
        headers: RequestHeaders,
        body: Body,
    ) -> Deferred<Response>;
}

/// Makes HTTP requests over a pool of connections; see the [module docs](self).
#[derive(Clone)]
pub struct Agent {
    inner: Rc<AgentInner>,
}

/// Settings for an [`Agent`]; start with [`Agent::builder`].
#[derive(Debug, Clone)]
pub struct AgentBuilder {
    reactor: Reactor,
    config: Config,
}

#[derive(Debug, Clone)]
struct Config {
    persistent: bool,
    max_per_host: usize,
    idle_timeout: Duration,
    request_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
}

struct AgentInner {
    reactor: Reactor,
    config: Config,
    hosts: RefCell<HashMap<HostKey, Host>>,
}

/// The pool of one `host:port`.
#[derive(Default)]
struct Host {
    /// Connections open or being opened, idle ones included.
    open: usize,
    /// Idle connections, the most recently used last.
    idle: Vec<Rc<Conn>>,
    /// Requests waiting for a connection.
    queue: VecDeque<Rc<Exchange>>,
}

/// One request on its way: queued, connecting, sent, reading its body, or done.
struct Exchange {
    /// Held until done, so that a request outlives an agent dropped meanwhile.
    agent: RefCell<Option<Rc<AgentInner>>>,
    method: String,
    url: Url,
    /// The whole request as it goes on the wire (moved to the connection when it cannot
    /// be needed again).
    bytes: RefCell<Vec<u8>>,
    resolver: Resolver<Response>,
    phase: RefCell<Phase>,
    /// The request timeout, and when it ends on the reactor's clock.
    timeout: Option<(Duration, Duration)>,
    /// Runs out the timeout while no connection carries the request (queued,
    /// connecting); once sent, the connection's core keeps the deadline.
    timer: RefCell<Option<DelayedCall>>,
    retried: Cell<bool>,
}

enum Phase {
    Queued,
    Connecting(Rc<Conn>),
    Sent(Rc<Conn>),
    Body(Rc<BodyChannel>, Rc<Conn>),
    Done,
}

impl Agent {
    /// An agent with a persistent pool and the default limits.
    pub fn new(reactor: &Reactor) -> Agent {
        Agent::builder(reactor).build()
    }

    /// Settings to change before building an agent.
    pub fn builder(reactor: &Reactor) -> AgentBuilder {
        AgentBuilder {
            reactor: reactor.clone(),
            config: Config {
                persistent: true,
                max_per_host: DEFAULT_MAX_CONNECTIONS_PER_HOST,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
                connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            },
        }
    }

    /// Sends a request; see [`Requester::request`].
    #[track_caller]
    pub fn request(
        &self,
        method: &str,
        url: &str,
        headers: RequestHeaders,
        body: Body,
    ) -> Deferred<Response> {
        let url: Url = match url.parse() {
            Ok(url) => url,
            Err(error) => return fail(Failure::new(error)),
        };
        let keep_alive = self.inner.config.persistent;
        let bytes = match encode_request(method, &url, &headers, &body, keep_alive) {
            Ok(bytes) => bytes,
            Err(error) => {
                let url = url.to_string();
                let method = method.to_owned();
                return fail(RequestError::InvalidRequest { method, url, error });
            }
        };
        let slot: Rc<RefCell<Weak<Exchange>>> = Rc::default();
        let (deferred, resolver) = Deferred::with_canceller({
            let slot = slot.clone();
            move |_: &Resolver<Response>| {
                if let Some(exchange) = slot.borrow().upgrade() {
                    exchange.fail(Failure::new(torsion::defer::Cancelled));
                }
            }
        });
        let reactor = &self.inner.reactor;
        let timeout = self
            .inner
            .config
            .request_timeout
            .map(|after| (after, reactor.loop_time().saturating_add(after)));
        let exchange = Rc::new(Exchange {
            agent: RefCell::new(Some(self.inner.clone())),
            method: method.to_owned(),
            url,
            bytes: RefCell::new(bytes),
            resolver,
            phase: RefCell::new(Phase::Queued),
            timeout,
            timer: RefCell::default(),
            retried: Cell::new(false),
        });
        *slot.borrow_mut() = Rc::downgrade(&exchange);
        exchange.arm_timer(reactor);
        self.inner.submit(exchange);
        deferred
    }

    /// Closes every idle pooled connection; fires once they are all closed (Twisted's
    /// `HTTPConnectionPool.closeCachedConnections`). Busy ones finish their request.
    pub fn close_cached_connections(&self) -> Deferred<()> {
        let idle: Vec<Rc<Conn>> = self
            .inner
            .hosts
            .borrow_mut()
            .values_mut()
            .flat_map(|host| std::mem::take(&mut host.idle))
            .collect();
        let closed: Vec<Deferred<()>> = idle.iter().map(|conn| conn.when_closed()).collect();
        for conn in &idle {
            conn.lose_connection();
        }
        gather_results(closed).add_callback(|_| Ok::<_, Failure>(()))
    }

    /// Connections open or being opened to `host:port` (idle ones included).
    pub fn open_connections(&self, host: &str, port: u16) -> usize {
        let key = (host.to_ascii_lowercase(), port);
        self.inner.hosts.borrow().get(&key).map_or(0, |h| h.open)
    }

    /// Idle pooled connections to `host:port`.
    pub fn idle_connections(&self, host: &str, port: u16) -> usize {
        let key = (host.to_ascii_lowercase(), port);
        self.inner
            .hosts
            .borrow()
            .get(&key)
            .map_or(0, |h| h.idle.len())
    }

    /// The reactor this agent runs on.
    pub fn reactor(&self) -> &Reactor {
        &self.inner.reactor
    }
}

impl Requester for Agent {
    fn request(
        &self,
        method: &str,
        url: &str,
        headers: RequestHeaders,
        body: Body,
    ) -> Deferred<Response> {
        Agent::request(self, method, url, headers, body)
    }
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AgentBuilder {
    /// Keep connections open for more requests (true, the default) or send
    /// `Connection: close` and use each connection once.
    pub fn persistent(mut self, persistent: bool) -> Self {
        self.config.persistent = persistent;
        self
    }

    /// At most `max` connections open at once to one `host:port` (at least 1); more
    /// requests wait in a queue. Default [`DEFAULT_MAX_CONNECTIONS_PER_HOST`].
    pub fn max_connections_per_host(mut self, max: usize) -> Self {
        self.config.max_per_host = max.max(1);
        self
    }

    /// How long an idle connection stays in the pool. Default [`DEFAULT_IDLE_TIMEOUT`].
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// How long a request may take from the call to the end of its body, or `None` for
    /// no limit. Default [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// How long a connection attempt may take, or `None` for the system's limit.
    /// Default [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The agent.
    pub fn build(self) -> Agent {
        Agent {
            inner: Rc::new(AgentInner {
                reactor: self.reactor,
                config: self.config,
                hosts: RefCell::default(),
            }),
        }
    }
}

impl AgentInner {
    /// Gives `exchange` an idle connection, a new one, or a place in the queue.
    fn submit(self: &Rc<Self>, exchange: Rc<Exchange>) {
        let key = exchange.key();
        let mut hosts = self.hosts.borrow_mut();
        let host = hosts.entry(key.clone()).or_default();
        while let Some(conn) = host.idle.pop() {
            if conn.is_usable() {
                drop(hosts);
                return exchange.send_on(&conn);
            }
        }
        if host.open < self.config.max_per_host {
            host.open += 1;
            drop(hosts);
            return self.open_connection(exchange);
        }
        host.queue.push_back(exchange);
    }

    /// Opens a connection for `exchange` through a `HostnameEndpoint`.
    fn open_connection(self: &Rc<Self>, exchange: Rc<Exchange>) {
        let (host, port) = exchange.key();
        let config = ExchangeConfig {
            persistent: self.config.persistent,
            idle_timeout: self.config.idle_timeout,
            ..ExchangeConfig::default()
        };
        let pool: Weak<dyn Pool> = Rc::downgrade(self) as Weak<AgentInner>;
        let conn = Conn::new(pool, (host.clone(), port), self.reactor.clone(), config);
        conn.set_current(Some(exchange.clone()));
        *exchange.phase.borrow_mut() = Phase::Connecting(conn.clone());
        let endpoint = HostnameEndpoint::new(&self.reactor, &host, port);
        let endpoint = match self.config.connect_timeout {
            Some(timeout) => endpoint.with_timeout(timeout),
            None => endpoint.without_timeout(),
        };
        conn.connect(&endpoint);
    }

    /// Takes a queued request out of its queue.
    fn dequeue(&self, exchange: &Rc<Exchange>) {
        if let Some(host) = self.hosts.borrow_mut().get_mut(&exchange.key()) {
            host.queue.retain(|e| !Rc::ptr_eq(e, exchange));
        }
    }
}

impl Pool for AgentInner {
    fn connection_ready(self: Rc<Self>, conn: &Rc<Conn>) {
        match conn.current() {
            Some(exchange) => exchange.send_on_new(conn),
            None => self.release(conn),
        }
    }

    /// The next queued request gets the connection, else it waits idle (its core keeps
    /// the idle deadline).
    fn release(self: Rc<Self>, conn: &Rc<Conn>) {
        let mut hosts = self.hosts.borrow_mut();
        let Some(host) = hosts.get_mut(&conn.key) else {
            drop(hosts);
            return conn.lose_connection();
        };
        if let Some(exchange) = host.queue.pop_front() {
            drop(hosts);
            return exchange.send_on(conn);
        }
        host.idle.push(conn.clone());
        drop(hosts);
        conn.pooled();
    }

    fn connection_closed(self: Rc<Self>, conn: &Rc<Conn>) {
        let mut hosts = self.hosts.borrow_mut();
        let Some(host) = hosts.get_mut(&conn.key) else {
            return;
        };
        host.idle.retain(|c| !Rc::ptr_eq(c, conn));
        host.open = host.open.saturating_sub(1);
        let next = host.queue.pop_front();
        if let Some(exchange) = next {
            host.open += 1;
            drop(hosts);
            return self.open_connection(exchange);
        }
        if host.open == 0 {
            hosts.remove(&conn.key);
        }
    }
}

impl Drop for AgentInner {
    fn drop(&mut self) {
        // Nobody can use the idle connections any more: close them now, not at their
        // idle timeout.
        for host in self.hosts.get_mut().values_mut() {
            for conn in host.idle.drain(..) {
                conn.lose_connection();
            }
        }
    }
}

impl Exchange {
    fn key(&self) -> HostKey {
        (self.url.host().to_owned(), self.url.port())
    }

    /// Runs out the request timeout while no connection carries the request: from the
    /// call, and again after a retry puts it back in the queue.
    fn arm_timer(self: &Rc<Self>, reactor: &Reactor) {
        let Some((_, deadline)) = self.timeout else {
            return;
        };
        let delay = deadline.saturating_sub(reactor.loop_time());
        let weak = Rc::downgrade(self);
        let timer = reactor.call_later(delay, move || {
            if let Some(exchange) = weak.upgrade() {
                exchange.timer.borrow_mut().take();
                exchange.fail(exchange.timed_out_failure());
            }
        });
        if let Some(old) = self.timer.borrow_mut().replace(timer) {
            let _ = old.cancel();
        }
    }

    fn stop_timer(&self) {
        if let Some(timer) = self.timer.borrow_mut().take() {
            let _ = timer.cancel();
        }
    }

    fn timed_out_failure(&self) -> Failure {
        let url = self.url.to_string();
        let after = self.timeout.map_or(Duration::ZERO, |(after, _)| after);
        Failure::new(RequestError::TimedOut { url, after })
    }

    /// Writes the request on `conn`, which it now owns until its response ends; the
    /// connection keeps the request's deadline from here.
    fn send_on(self: &Rc<Self>, conn: &Rc<Conn>) {
        self.stop_timer();
        *self.phase.borrow_mut() = Phase::Sent(conn.clone());
        // Kept only if a retry may need it: on a reused connection, the first time.
        let retry_possible =
            conn.is_reused() && !self.retried.get() && ClientExchange::is_idempotent(&self.method);
        let bytes = match retry_possible {
            true => self.bytes.borrow().clone(),
            false => std::mem::take(&mut *self.bytes.borrow_mut()),
        };
        let deadline = self.timeout.map(|(_, deadline)| deadline);
        conn.send(self.clone(), &self.method, bytes, deadline);
    }

    /// Sends the request again, once, after its reused connection closed unanswered.
    fn retry(self: &Rc<Self>) {
        self.retried.set(true);
        let agent = self.agent.borrow().clone();
        match agent {
            Some(agent) => {
                *self.phase.borrow_mut() = Phase::Queued;
                self.arm_timer(&agent.reactor);
                agent.submit(self.clone());
            }
            None => self.fail(Failure::msg("agent gone")),
        }
    }

    /// Ends the request with `failure`, wherever it is: out of the queue, its connection
    /// attempt stopped or its connection closed; the Deferred (or, once the head came,
    /// the body) fails.
    fn fail(self: &Rc<Self>, failure: Failure) {
        let phase = std::mem::replace(&mut *self.phase.borrow_mut(), Phase::Done);
        let agent = self.agent.borrow_mut().take();
        self.stop_timer();
        match phase {
            Phase::Done => {}
            Phase::Queued => {
                if let Some(agent) = agent {
                    agent.dequeue(self);
                }
                let _ = self.resolver.errback(failure);
            }
            Phase::Connecting(conn) | Phase::Sent(conn) => {
                conn.set_current(None);
                let _ = self.resolver.errback(failure);
                conn.abort();
            }
            Phase::Body(channel, conn) => {
                conn.set_current(None);
                conn.abort();
                channel.finish(Err(failure));
            }
        }
    }
}

impl Served for Exchange {
    fn url(&self) -> &Url {
        &self.url
    }

    fn send_on_new(self: Rc<Self>, conn: &Rc<Conn>) {
        self.send_on(conn);
    }

    fn responded(&self, response: Response, channel: Rc<BodyChannel>) {
        let conn = match &*self.phase.borrow() {
            Phase::Sent(conn) => conn.clone(),
            _ => return, // failed meanwhile (timed out, cancelled): nobody waits
        };
        *self.phase.borrow_mut() = Phase::Body(channel, conn);
        let _ = self.resolver.callback(response);
    }

    fn complete(&self) {
        *self.phase.borrow_mut() = Phase::Done;
        self.agent.borrow_mut().take();
        self.stop_timer();
    }

    fn failed(self: Rc<Self>, failure: Failure) {
        self.fail(failure);
    }

    fn timed_out(self: Rc<Self>) {
        self.fail(self.timed_out_failure());
    }

    fn retry_once(self: Rc<Self>) -> bool {
        if self.retried.get() {
            return false;
        }
        self.retry();
        true
    }
}
