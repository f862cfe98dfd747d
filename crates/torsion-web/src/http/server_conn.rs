//! One HTTP/1 server connection as a plain state machine (the rules of Twisted's
//! `HTTPChannel`, without its transport): bytes and application events in, actions out.
//!
//! ```
//! use std::time::Duration;
//! use torsion_web::http::server_conn::{Action, ConnConfig, Ending, Route, ServerConn};
//!
//! let config = ConnConfig::default();
//! let mut conn = ServerConn::<&str>::new(&config);
//! let now = Duration::ZERO;
//! let wire = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
//! // Bytes in: the connection hands out the head ...
//! let (used, Action::Head(head)) = conn.step(&config, wire, now) else { panic!() };
//! assert_eq!((used, head.target()), (wire.len(), "/"));
//! // ... the application routes it (no body here) and answers ...
//! assert!(matches!(conn.accept(&config, "request 1", u64::MAX, now), Route::Respond));
//! let plan = conn.plan_whole(200, 5).unwrap();
//! assert!(plan.keep_alive());
//! conn.start_response(plan);
//! // ... and the connection waits for the next head, with the idle deadline armed.
//! let done = conn.finish_response(&config, Ending::Complete, now).unwrap();
//! assert_eq!(done.request, "request 1");
//! assert_eq!(conn.timer_wanted(), Some(config.idle_timeout.unwrap()));
//! ```
//!
//! The connection owns no socket, reactor or clock: the time comes in as an argument (the
//! site clock's loop time), and its adapter (`server::Channel`) executes what it returns:
//! writes, pauses, closes, and one timer. `R` is whatever the application keeps for the
//! request in flight (the server's `Request`; a number in the fuzz target): the connection
//! holds it while the request is read and answered, and hands it back when the response
//! ends or the connection is lost.
//!
//! # The rules it keeps
//!
//! - **One request at a time, responses in request order.** A head is read only in
//!   [`State::Idle`] or [`State::ReadingHead`]; bytes that arrive while a response is
//!   awaited are left for the adapter to keep ([`ServerConn::unread`]), and reading pauses
//!   once more than [`ConnConfig::max_pipelined`] of them wait.
//! - **Bodies** are read with a [`BodyDecoder`] once the application accepts them
//!   ([`ServerConn::accept`]); `Expect: 100-continue` is answered only then. A response
//!   decided before the body is read closes the connection after it: the stream cannot
//!   be trusted past an unread body.
//! - **Response framing** ([`ServerConn::plan_whole`], [`ServerConn::plan_streamed`]):
//!   `Content-Length` for a whole body or a length the application announced, chunked
//!   otherwise on HTTP/1.1, until close on HTTP/1.0; no body for HEAD, 1xx, 204 and 304.
//!   Writes past a `Content-Length` are cut and close the connection, as does a body
//!   that ends short ([`ServerConn::send_body`], [`ServerConn::finish_response`]). A
//!   whole body written with its head, the common case, starts and ends in one call
//!   ([`ServerConn::respond_whole`]).
//! - **Four deadlines**, one at a time, each a field of the state it belongs to: idle
//!   between requests and between pieces of a body, the whole head from its first byte,
//!   and the abort timeout once the server asked to close. Moving a deadline later only
//!   stores it: [`ServerConn::timer_wanted`] asks for a timer only when the armed one
//!   would fire too late, and [`ServerConn::timer_fired`] sees whether the deadline
//!   really passed.
//! - **Bad input** gets its status ([`Action::Reject`]), then the connection closes.

use std::fmt;
use std::time::Duration;

use super::body::{BodyDecoder, BodyError};
use super::chunked::ChunkedLimits;
use super::framing::Framing;
use super::head::{HeadError, HeadLimits, RequestHead, RequestParser};
use super::{Decoded, Parsed, Version};

/// The interim response that invites the body of an `Expect: 100-continue` request.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The last chunk of a chunked body, with no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A connection's limits and timeouts (what `server::ServerConfig` sets), passed to each
/// call that needs them so that a connection holds no copy.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnConfig {
    /// The request head's limits.
    pub head_limits: HeadLimits,
    /// The chunked body's limits.
    pub chunked_limits: ChunkedLimits,
    /// From a head's first byte to its end; `None`: no deadline.
    pub head_timeout: Option<Duration>,
    /// Between requests, and between pieces of a body; `None`: no deadline.
    pub idle_timeout: Option<Duration>,
    /// From the server's close to an abort; `None`: no deadline.
    pub abort_timeout: Option<Duration>,
    /// How many received bytes may wait behind a response before reading pauses.
    pub max_pipelined: usize,
}

impl ConnConfig {
    /// A configuration with these timeouts and the default limits.
    pub fn new(
        head_timeout: Option<Duration>,
        idle_timeout: Option<Duration>,
        abort_timeout: Option<Duration>,
    ) -> ConnConfig {
        ConnConfig {
            head_timeout,
            idle_timeout,
            abort_timeout,
            ..ConnConfig::default()
        }
    }

    /// With these head limits.
    pub fn with_head_limits(mut self, limits: HeadLimits) -> ConnConfig {
        self.head_limits = limits;
        self
    }

    /// With these chunked body limits.
    pub fn with_chunked_limits(mut self, limits: ChunkedLimits) -> ConnConfig {
        self.chunked_limits = limits;
        self
    }

    /// With this many bytes allowed to wait behind a response.
    pub fn with_max_pipelined(mut self, max: usize) -> ConnConfig {
        self.max_pipelined = max;
        self
    }
}

impl Default for ConnConfig {
    /// The server's defaults: 30 s head, 60 s idle, 15 s abort, 64 KiB pipelined.
    fn default() -> ConnConfig {
        ConnConfig {
            head_limits: HeadLimits::default(),
            chunked_limits: ChunkedLimits::default(),
            head_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(60)),
            abort_timeout: Some(Duration::from_secs(15)),
            max_pipelined: 64 * 1024,
        }
    }
}

/// One connection's state machine; see the [module docs](self).
pub struct ServerConn<R> {
    parser: RequestParser,
    /// Received bytes not yet used: a partial head or body framing, or pipelined requests
    /// behind a response. Empty (no allocation) when idle; lent to the adapter while it
    /// steps through it ([`ServerConn::bytes_read`]).
    buf: Vec<u8>,
    state: State<R>,
    /// When the adapter's timer fires, while one is armed.
    timer_at: Option<Duration>,
    /// A timer the adapter must arm ([`ServerConn::timer_wanted`]): a deadline was set
    /// before the armed timer fires, or with none armed.
    arm: Option<Duration>,
}

/// What the connection awaits. Each deadline lives in the state it belongs to.
///
/// `repr(u8)`: an explicit tag makes every `match` on the state one byte compare, where
/// the niche layout the compiler would pick costs a dozen instructions to decode.
#[derive(Debug)]
#[repr(u8)]
pub enum State<R> {
    /// The first byte of the next head; the connection closes at `until` (idle timeout).
    Idle {
        /// The idle deadline.
        until: Option<Duration>,
    },
    /// The rest of a head; 408 at `until` (head timeout, from its first byte).
    ReadingHead {
        /// The head deadline.
        until: Option<Duration>,
    },
    /// The application's word on a head just handed out: read its body or answer now.
    AwaitingRoute {
        /// What the head said.
        head: HeadFacts,
    },
    /// More of `request`'s body; 408 at `until` (idle timeout, moved on every read).
    ReadingBody {
        /// The application's request.
        request: R,
        /// What the head said.
        head: HeadFacts,
        /// The body's framing and limit (boxed: it is large, and a state moves on every
        /// transition).
        decoder: Box<BodyDecoder>,
        /// The stall deadline.
        until: Option<Duration>,
    },
    /// The response head for `request`.
    AwaitingResponse {
        /// The application's request.
        request: R,
        /// What the head said.
        head: HeadFacts,
        /// The connection closes after this response.
        must_close: bool,
        /// Reading is paused: too many pipelined bytes wait.
        paused: bool,
    },
    /// The rest of `request`'s response body, and its end.
    Responding {
        /// The application's request.
        request: R,
        /// What the head said.
        head: HeadFacts,
        /// How the response body is framed.
        framing: Framing,
        /// Body bytes sent (not counting chunk framing).
        sent: u64,
        /// The connection closes after this response.
        must_close: bool,
        /// Reading is paused: too many pipelined bytes wait.
        paused: bool,
    },
    /// The transport's close, which the server asked for; aborted at `until`.
    Closing {
        /// The abort deadline.
        until: Option<Duration>,
    },
    /// Nothing: the connection is gone.
    Closed,
}

/// What a request head said that the connection still needs once the head is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadFacts {
    /// The request body still to read ([`Framing::Empty`] once read).
    pub body: Framing,
    /// The request's version: the response's.
    pub version: Version,
    /// The client allows the connection to persist.
    pub keep_alive: bool,
    /// `Expect: 100-continue` (HTTP/1.1 only).
    pub expects_continue: bool,
    /// A HEAD request: its response has no body.
    pub is_head: bool,
}

/// What the adapter does next, from [`ServerConn::step`] or [`ServerConn::timer_fired`].
#[derive(Debug)]
pub enum Action<'a> {
    /// Nothing more for now: wait for bytes, the application or the timer.
    Wait,
    /// A request head: route it, then call [`ServerConn::accept`] or
    /// [`ServerConn::answer_now`] before stepping again.
    Head(RequestHead),
    /// Body bytes of the request in flight (borrowed from the input).
    Body(&'a [u8]),
    /// The request's body ended: render it ([`ServerConn::request_mut`]); the connection
    /// awaits the response.
    BodyEnd,
    /// The input cannot be read on: answer `status` with a page naming the cause, then
    /// close the transport. The connection is already closing.
    Reject(Rejection),
    /// Close the transport (the idle timeout passed).
    Close,
    /// Abort the transport (a close did not complete in time).
    Abort,
}

/// Why the connection rejected its input, and with which status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A bad head.
    Head(HeadError),
    /// A bad body.
    Body(BodyError),
    /// The head did not end before its deadline (408).
    HeadTimeout,
    /// The body stalled past the idle timeout (408).
    BodyStalled,
}

/// What bytes just read are to the adapter.
#[derive(Debug)]
pub enum Input {
    /// Closing or closed: drop them.
    Ignore,
    /// Nothing was buffered: step through the bytes as they are, then give back the rest
    /// with [`ServerConn::unread`].
    Direct,
    /// Earlier bytes were buffered: step through this buffer (the new bytes appended),
    /// then give it back with [`ServerConn::unread_buffer`].
    Buffered(Vec<u8>),
}

/// Whether the transport should stop reading, after bytes were left unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading (or keep it paused).
    Read,
    /// Pause reading: too many pipelined bytes wait behind a response.
    Pause,
}

/// What the application decided for a head's body ([`ServerConn::accept`]).
#[derive(Debug)]
pub enum Route<R> {
    /// No body: render now; the connection awaits the response.
    Respond,
    /// The body will be read: write `interim` first (`100 Continue`) if any, then step.
    ReadBody {
        /// The interim response to write, for `Expect: 100-continue`.
        interim: Option<&'static [u8]>,
    },
    /// The announced length is over the limit: answer 413 with
    /// [`ServerConn::answer_now`]; here is the request back.
    TooLarge(R),
}

impl<R> ServerConn<R> {
    /// A new connection, awaiting its first head; [`ServerConn::connection_made`] starts its
    /// idle deadline.
    pub fn new(config: &ConnConfig) -> ServerConn<R> {
        ServerConn {
            parser: RequestParser::with_limits(config.head_limits),
            buf: Vec::new(),
            state: State::Idle { until: None },
            timer_at: None,
            arm: None,
        }
    }

    /// The transport is connected at `now`: the idle deadline starts.
    pub fn connection_made(&mut self, config: &ConnConfig, now: Duration) {
        let deadline = self.deadline_after(now, config.idle_timeout);
        if let State::Idle { until } = &mut self.state {
            *until = deadline;
        }
    }

    /// What the connection awaits.
    pub fn state(&self) -> &State<R> {
        &self.state
    }

    /// How many received bytes wait to be read (a partial head or pipelined requests).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The request in flight, if any.
    pub fn request(&self) -> Option<&R> {
        match &self.state {
            State::ReadingBody { request, .. }
            | State::AwaitingResponse { request, .. }
            | State::Responding { request, .. } => Some(request),
            _ => None,
        }
    }

    /// The request in flight, to change (the adapter takes what it keeps in it).
    pub fn request_mut(&mut self) -> Option<&mut R> {
        match &mut self.state {
            State::ReadingBody { request, .. }
            | State::AwaitingResponse { request, .. }
            | State::Responding { request, .. } => Some(request),
            _ => None,
        }
    }

    /// The parser, for the adapter to give a finished head's buffers back to
    /// ([`RequestParser::recycle`]).
    pub(crate) fn parser_mut(&mut self) -> &mut RequestParser {
        &mut self.parser
    }

    /// `data` was read at `now`: says how to step through it. A body's stall deadline
    /// moves on every read.
    #[inline]
    pub fn bytes_read(&mut self, config: &ConnConfig, data: &[u8], now: Duration) -> Input {
        match &mut self.state {
            State::Closing { .. } | State::Closed => return Input::Ignore,
            State::ReadingBody { until, .. } => {
                // Later than before: the armed timer fires first and sees it.
                *until = after(now, config.idle_timeout);
            }
            _ => {}
        }
        if self.buf.is_empty() {
            // The common case: parse straight from the read buffer, copy only a rest.
            Input::Direct
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            buf.extend_from_slice(data);
            Input::Buffered(buf)
        }
    }

    /// The buffered bytes, to step through after a response ended outside a step loop
    /// ([`Next::ReadNext`]); `None` when nothing waits, or while a step loop holds them.
    #[inline]
    pub fn take_buffered(&mut self) -> Option<Vec<u8>> {
        if self.buf.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.buf))
        }
    }

    /// Keeps `rest`, the bytes a [`Input::Direct`] step loop left.
    #[inline]
    pub fn unread(&mut self, config: &ConnConfig, rest: &[u8]) -> Flow {
        if rest.is_empty() {
            return Flow::Read;
        }
        if matches!(self.state, State::Closing { .. } | State::Closed) {
            return Flow::Read;
        }
        self.buf.extend_from_slice(rest);
        self.pipelined(config)
    }

    /// Gives back a buffer from [`Input::Buffered`] or [`ServerConn::take_buffered`],
    /// of which the step loop used the first `used` bytes.
    pub fn unread_buffer(&mut self, config: &ConnConfig, mut buf: Vec<u8>, used: usize) -> Flow {
        if matches!(self.state, State::Closing { .. } | State::Closed) {
            return Flow::Read;
        }
        buf.drain(..used.min(buf.len()));
        if buf.is_empty() {
            return Flow::Read;
        }
        self.buf = buf;
        self.pipelined(config)
    }

    /// Pauses reading if too many bytes wait behind a response.
    fn pipelined(&mut self, config: &ConnConfig) -> Flow {
        let waiting = self.buf.len();
        match &mut self.state {
            State::AwaitingResponse { paused, .. } | State::Responding { paused, .. }
                if !*paused && waiting > config.max_pipelined =>
            {
                *paused = true;
                Flow::Pause
            }
            _ => Flow::Read,
        }
    }

    /// Reads the next thing from `input` (the bytes not used yet) at `now`: returns how
    /// many bytes it used and what to do. Call again with the rest until
    /// [`Action::Wait`] (or a [`Action::Reject`]).
    #[inline]
    pub fn step<'a>(
        &mut self,
        config: &ConnConfig,
        input: &'a [u8],
        now: Duration,
    ) -> (usize, Action<'a>) {
        match &mut self.state {
            State::Idle { .. } | State::ReadingHead { .. } => self.read_head(config, input, now),
            State::ReadingBody { decoder, .. } => match decoder.decode(input) {
                Ok(Decoded::Data { data, consumed }) => (consumed, Action::Body(data)),
                Ok(Decoded::Partial { consumed }) => (consumed, Action::Wait),
                Ok(Decoded::End { consumed }) => {
                    let old = std::mem::replace(&mut self.state, State::Closed);
                    if let State::ReadingBody { request, head, .. } = old {
                        let head = HeadFacts {
                            body: Framing::Empty,
                            ..head
                        };
                        self.set_state(State::AwaitingResponse {
                            request,
                            head,
                            must_close: false,
                            paused: false,
                        });
                    }
                    (consumed, Action::BodyEnd)
                }
                Err(error) => (0, self.reject(config, Rejection::Body(error), now)),
            },
            State::AwaitingRoute { .. }
            | State::AwaitingResponse { .. }
            | State::Responding { .. }
            | State::Closing { .. }
            | State::Closed => (0, Action::Wait),
        }
    }

    #[inline]
    fn read_head<'a>(
        &mut self,
        config: &ConnConfig,
        input: &'a [u8],
        now: Duration,
    ) -> (usize, Action<'a>) {
        if input.is_empty() {
            return (0, Action::Wait);
        }
        match self.parser.parse(input) {
            Ok(Parsed::Complete { value, consumed }) => {
                self.set_state(State::AwaitingRoute {
                    head: HeadFacts {
                        body: value.framing(),
                        version: value.version(),
                        keep_alive: value.keep_alive(),
                        expects_continue: value.expects_continue(),
                        is_head: value.is_head(),
                    },
                });
                (consumed, Action::Head(value))
            }
            Ok(Parsed::Partial) => {
                if let State::Idle { .. } = self.state {
                    let until = self.deadline_after(now, config.head_timeout);
                    self.set_state(State::ReadingHead { until });
                }
                (0, Action::Wait)
            }
            Err(error) => (0, self.reject(config, Rejection::Head(error), now)),
        }
    }

    /// The application routed the head just handed out, at `now`, to something that takes
    /// its `request`, with bodies up to `max_body` bytes.
    #[inline]
    pub fn accept(
        &mut self,
        config: &ConnConfig,
        request: R,
        max_body: u64,
        now: Duration,
    ) -> Route<R> {
        let State::AwaitingRoute { head } = self.state else {
            return Route::TooLarge(request); // no head awaits a route: nothing to read
        };
        match head.body {
            Framing::Empty => {
                self.set_state(State::AwaitingResponse {
                    request,
                    head,
                    must_close: false,
                    paused: false,
                });
                Route::Respond
            }
            Framing::Length(n) if n > max_body => Route::TooLarge(request),
            framing => {
                let decoder = Box::new(
                    BodyDecoder::new(framing, max_body).with_chunked_limits(config.chunked_limits),
                );
                let until = self.deadline_after(now, config.idle_timeout);
                self.set_state(State::ReadingBody {
                    request,
                    head,
                    decoder,
                    until,
                });
                Route::ReadBody {
                    interim: head.expects_continue.then_some(CONTINUE),
                }
            }
        }
    }

    /// The application answers `request` from its head alone (a 404, 405 or 413): a body
    /// left unread closes the connection after the response.
    pub fn answer_now(&mut self, request: R) {
        if let State::AwaitingRoute { head } = self.state {
            self.set_state(State::AwaitingResponse {
                request,
                head,
                must_close: head.body != Framing::Empty,
                paused: false,
            });
        }
    }

    /// When the adapter's timer should fire, if it must be (re)armed: the current
    /// deadline, when no timer is armed or the armed one fires after it. A deadline
    /// moved later needs no new timer: the armed one fires first and the connection asks
    /// again.
    #[inline(always)]
    pub fn timer_wanted(&mut self) -> Option<Duration> {
        self.arm.take()
    }

    /// The adapter's timer fired at `now`: what the deadline that passed calls for
    /// ([`Action::Wait`] if none did; ask [`ServerConn::timer_wanted`] again).
    pub fn timer_fired(&mut self, config: &ConnConfig, now: Duration) -> Action<'static> {
        self.timer_at = None;
        match self.deadline() {
            None => return Action::Wait,
            Some(at) if now < at => {
                // Moved later since the timer was armed: sleep again.
                self.deadline_after(at, Some(Duration::ZERO));
                return Action::Wait;
            }
            Some(_) => {}
        }
        match self.state {
            State::Idle { .. } => {
                self.close(config, now);
                Action::Close
            }
            State::ReadingHead { .. } => self.reject(config, Rejection::HeadTimeout, now),
            State::ReadingBody { .. } => self.reject(config, Rejection::BodyStalled, now),
            State::Closing { .. } => {
                self.set_state(State::Closing { until: None });
                Action::Abort
            }
            _ => Action::Wait,
        }
    }

    /// A graceful drain (the server is shutting down): an idle connection with nothing
    /// received closes now (`true`: the adapter closes its transport); one awaiting or
    /// sending a response closes after it. A head or body under way is answered first:
    /// the adapter calls this again when it plans that response.
    pub fn drain(&mut self, config: &ConnConfig, now: Duration) -> bool {
        match &mut self.state {
            State::Idle { .. } if self.buf.is_empty() => {
                self.close(config, now);
                true
            }
            State::AwaitingResponse { must_close, .. } | State::Responding { must_close, .. } => {
                *must_close = true;
                false
            }
            _ => false,
        }
    }

    /// The transport is gone: the request in flight, if any, to tell.
    pub fn connection_lost(&mut self) -> Option<R> {
        self.buf = Vec::new();
        self.timer_at = None;
        self.arm = None;
        match std::mem::replace(&mut self.state, State::Closed) {
            State::ReadingBody { request, .. }
            | State::AwaitingResponse { request, .. }
            | State::Responding { request, .. } => Some(request),
            _ => None,
        }
    }

    /// Moves to `new`. A state that holds no request has nothing to drop, so it is
    /// forgotten rather than dropped: the compiler cannot see which state is replaced,
    /// and the whole enum's drop glue is an out-of-line call on every transition of the
    /// hot path.
    #[inline(always)]
    fn set_state(&mut self, new: State<R>) {
        let old = std::mem::replace(&mut self.state, new);
        match old {
            State::ReadingBody { .. }
            | State::AwaitingResponse { .. }
            | State::Responding { .. } => drop(old),
            State::Idle { .. }
            | State::ReadingHead { .. }
            | State::AwaitingRoute { .. }
            | State::Closing { .. }
            | State::Closed => std::mem::forget(old),
        }
    }

    /// `now + timeout`, if there is a timeout, as a new deadline: asks for a timer if
    /// the armed one would fire later (or none is armed).
    #[inline(always)]
    fn deadline_after(&mut self, now: Duration, timeout: Option<Duration>) -> Option<Duration> {
        let at = after(now, timeout)?;
        if self.timer_at.is_none_or(|fires| fires > at) {
            self.timer_at = Some(at);
            self.arm = Some(at);
        }
        Some(at)
    }

    /// The current deadline, from the state.
    #[inline]
    fn deadline(&self) -> Option<Duration> {
        match self.state {
            State::Idle { until }
            | State::ReadingHead { until }
            | State::ReadingBody { until, .. }
            | State::Closing { until } => until,
            _ => None,
        }
    }

    /// Rejects the input: closing, with the cause for the adapter to answer.
    fn reject(&mut self, config: &ConnConfig, why: Rejection, now: Duration) -> Action<'static> {
        self.close(config, now);
        Action::Reject(why)
    }

    /// Closing from `now`: unread bytes are dropped, the abort deadline starts.
    fn close(&mut self, config: &ConnConfig, now: Duration) {
        self.buf = Vec::new();
        let until = self.deadline_after(now, config.abort_timeout);
        self.set_state(State::Closing { until });
    }
}

impl<R> fmt::Debug for ServerConn<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Idle { .. } => "Idle",
            State::ReadingHead { .. } => "ReadingHead",
            State::AwaitingRoute { .. } => "AwaitingRoute",
            State::ReadingBody { .. } => "ReadingBody",
            State::AwaitingResponse { .. } => "AwaitingResponse",
            State::Responding { .. } => "Responding",
            State::Closing { .. } => "Closing",
            State::Closed => "Closed",
        };
        f.debug_struct("ServerConn")
            .field("state", &state)
            .field("buffered", &self.buf.len())
            .field("timer_at", &self.timer_at)
            .finish_non_exhaustive()
    }
}

impl Rejection {
    /// The status that answers it.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Head(error) => error.status(),
            Rejection::Body(error) => error.status(),
            Rejection::HeadTimeout | Rejection::BodyStalled => 408,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Head(error) => error.fmt(f),
            Rejection::Body(error) => error.fmt(f),
            Rejection::HeadTimeout => f.write_str("The request head took too long."),
            Rejection::BodyStalled => f.write_str("The request body stalled."),
        }
    }
}

/// `now + timeout`, if there is a timeout.
#[inline]
fn after(now: Duration, timeout: Option<Duration>) -> Option<Duration> {
    timeout.map(|t| now.saturating_add(t))
}

mod response;

pub use response::{bodiless, BodyWrite, Ending, Finished, Next, ResponsePlan};

#[cfg(test)]
mod tests;
