//! The HTTP/1.1 server: a [`Site`] serves a tree of [`Resource`]s over torsion
//! connections (Twisted's `twisted.web.server` and `twisted.web.resource`).
//!
//! ```
//! use std::rc::Rc;
//! use torsion::{net::{ProtocolFactory, Transport}, testing::{Clock, StringTransport}};
//! use torsion_web::server::{FnResource, Render, Request, Site, Tree};
//!
//! let root = Tree::new();
//! root.put_child("hello", Rc::new(FnResource::new(|request: &Request| {
//!     request.set_header("Content-Type", "text/plain");
//!     Render::from("Hello, world!")
//! })));
//! let site = Site::new(root, Clock::new()); // a reactor in real life
//!
//! // A real server: reactor.listen_tcp(8080, Rc::new(site), TcpListenOptions::default()).
//! let transport = StringTransport::new();
//! let mut connection = site.build_protocol(&transport.peer()).unwrap();
//! connection.connection_made(transport.clone());
//! connection.data_received(b"GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n");
//! let response = String::from_utf8(transport.value()).unwrap();
//! assert!(response.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: "));
//! assert!(response.ends_with("Content-Length: 13\r\n\r\nHello, world!"));
//! # connection.connection_lost(torsion::net::CloseReason::Clean);
//! ```
//!
//! # What the server does for you
//!
//! - **Framing** per RFC 9112: `Content-Length` for a body rendered whole, chunked for a
//!   streamed one (until close for HTTP/1.0), none for HEAD, 204 and 304; `Date` on
//!   every response; `Connection: close` when the connection ends. The head and a small
//!   body leave in one write.
//! - **Keep-alive and pipelining**: one request at a time per connection; pipelined
//!   requests wait, so responses go out in request order even when an earlier one is
//!   slow. Reading pauses when more than [`ServerConfig::max_pipelined`] bytes wait.
//! - **`Expect: 100-continue`**: `100 Continue` goes out only once the head has found
//!   a resource that accepts the method and the announced length; otherwise the final
//!   status is sent at once and the connection closes, the body unread.
//! - **Limits**, each with its status and the connection closed after it (defaults in
//!   [`ServerConfig`]): request line 414, head size and field count 431, body 413,
//!   chunk-size line, chunk extensions and trailers 400, unknown transfer codings 501,
//!   other versions 505, and every framing ambiguity that request smuggling lives on 400
//!   (see [`crate::http::head`]).
//! - **Timeouts**: a deadline for the whole request head, the idle timeout between
//!   requests (and between pieces of a body), and an abort timeout for a close that does
//!   not complete (see `ServerConfig`).
//! - **Failures contained**: a resource that panics, or whose Deferred fails, gets a
//!   500 for that request only (the connection closes only if part of the response was
//!   already sent). Pages the server writes escape everything taken from the request.
//! - **Access log** in the Combined Log Format, through `tracing` (target
//!   `torsion_web::access`, INFO); see [`access_log`].

pub mod access_log;
mod channel;
mod drain;
pub mod file;
pub mod html;
pub mod incoming_request;
pub mod path;
pub mod resource;
mod response;
pub mod router;

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use torsion::net::{Address, Protocol, ProtocolFactory};
use torsion::time::ReactorTime;

use crate::http::server_conn::ConnConfig;
use crate::http::{ChunkedLimits, HeadLimits, DEFAULT_MAX_BODY_SIZE};
use channel::HttpChannel;
use drain::Drain;

pub use file::File;
pub use incoming_request::{ClientDisconnected, HeaderValue, Request};
pub use resource::{not_found, Body, FnResource, Render, Resource, Tree};
pub use router::{Handler, HttpError, IntoRender, Lookup, ParamError, Params, RouteError, Router};

/// How long a request head may take, from its first byte to its blank line.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection may sit idle between requests (or between pieces of a body).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a close the server asked for may take before the connection is aborted
/// (Twisted's `abortTimeout`).
pub const DEFAULT_ABORT_TIMEOUT: Duration = Duration::from_secs(15);
/// How many received bytes may wait behind an unfinished response before reading pauses.
pub const DEFAULT_MAX_PIPELINED: usize = 64 * 1024;

/// The server's limits and timeouts; [`Default`] gives the documented defaults.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Request line (default 8 KiB: 414), head size (64 KiB: 431), field count (100:
    /// 431); see [`HeadLimits`].
    pub head_limits: HeadLimits,
    /// Chunk-size line (4 KiB), extensions per body (16 KiB), trailer section (16 KiB,
    /// 32 fields): 400 past them; see [`ChunkedLimits`].
    pub chunked_limits: ChunkedLimits,
    /// The largest body a resource accepts unless it says otherwise
    /// ([`Resource::max_body_size`]): 413 past it. Default 10 MiB.
    pub max_body_size: u64,
    /// [`DEFAULT_HEAD_TIMEOUT`]; a head not complete by then gets 408 and a close.
    /// `None`: no deadline.
    pub head_timeout: Option<Duration>,
    /// [`DEFAULT_IDLE_TIMEOUT`]; an idle connection is closed, a stalled body gets 408.
    pub idle_timeout: Option<Duration>,
    /// [`DEFAULT_ABORT_TIMEOUT`]; a close not done by then is aborted.
    pub abort_timeout: Option<Duration>,
    /// [`DEFAULT_MAX_PIPELINED`] bytes.
    pub max_pipelined: usize,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            head_limits: HeadLimits::default(),
            chunked_limits: ChunkedLimits::default(),
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            head_timeout: Some(DEFAULT_HEAD_TIMEOUT),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            abort_timeout: Some(DEFAULT_ABORT_TIMEOUT),
            max_pipelined: DEFAULT_MAX_PIPELINED,
        }
    }
}

/// Serves a resource tree over HTTP/1.1 (Twisted's `server.Site`): a
/// [`ProtocolFactory`] to give `listen_tcp` or `listen_unix`. Clones share one site.
#[derive(Clone)]
pub struct Site {
    inner: Rc<SiteInner>,
}

/// What every connection of a site shares.
pub(crate) struct SiteInner {
    pub(crate) root: Rc<dyn Resource>,
    pub(crate) config: ServerConfig,
    /// What the connection core needs of `config`, derived once.
    pub(crate) conn: ConnConfig,
    /// The clock for the timeouts: the reactor, or a fake `Clock` in tests.
    pub(crate) clock: Rc<dyn ReactorTime>,
    /// Open connections and the draining flag ([`Site::drain`]).
    pub(crate) drain: Drain,
}

impl Site {
    /// A site serving `root`, with the default [`ServerConfig`], timing out on `clock`
    /// (the reactor).
    pub fn new(root: Rc<dyn Resource>, clock: impl ReactorTime + 'static) -> Site {
        Site::with_config(root, clock, ServerConfig::default())
    }

    /// A site with these limits and timeouts.
    pub fn with_config(
        root: Rc<dyn Resource>,
        clock: impl ReactorTime + 'static,
        config: ServerConfig,
    ) -> Site {
        Site {
            inner: Rc::new(SiteInner {
                root,
                conn: ConnConfig::new(
                    config.head_timeout,
                    config.idle_timeout,
                    config.abort_timeout,
                )
                .with_head_limits(config.head_limits)
                .with_chunked_limits(config.chunked_limits)
                .with_max_pipelined(config.max_pipelined),
                config,
                clock: Rc::new(clock),
                drain: Drain::default(),
            }),
        }
    }

    /// The limits and timeouts in force.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Starts a graceful drain (stop listening first): idle keep-alive connections
    /// close now; a connection with a request in flight finishes it (a file sent by a
    /// producer included), answers with `Connection: close` when its head is not out
    /// yet, and closes after the response. New connections are served the same way:
    /// one request, then close. Wait for the listening port's connections to close
    /// (`ListeningPort::when_connections_closed`), as `torsion::application`'s
    /// `ListenService::with_drain` does.
    pub fn drain(&self) {
        self.inner.drain.start();
    }

    /// Whether [`drain`](Site::drain) was called.
    pub fn is_draining(&self) -> bool {
        self.inner.drain.is_draining()
    }
}

thread_local! {
    /// Responses completed on this thread (one reactor per thread), by status class.
    static STATUS_CLASSES: [Cell<u64>; 5] = const {
        [Cell::new(0), Cell::new(0), Cell::new(0), Cell::new(0), Cell::new(0)]
    };
}

/// Counts a completed response (a thread-local increment: no lock, no atomic).
pub(crate) fn count_status(status: u16) {
    let class = usize::from(status / 100).clamp(1, 5) - 1;
    STATUS_CLASSES.with(|classes| classes[class].set(classes[class].get() + 1));
}

/// Responses completed by every site on this thread (its reactor), by status class:
/// `[1xx, 2xx, 3xx, 4xx, 5xx]`. For metrics.
pub fn responses_by_status_class() -> [u64; 5] {
    STATUS_CLASSES.with(|classes| classes.each_ref().map(Cell::get))
}

impl ProtocolFactory for Site {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        let channel = HttpChannel::new(self.inner.clone());
        self.inner.drain.add(channel.shared());
        Some(Box::new(channel))
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}
