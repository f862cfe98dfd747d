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
//!   that ends short ([`ServerConn::send_body`], [`ServerConn::finish_response`]).
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
use super::chunked::{chunk_header, ChunkHeader, ChunkedLimits};
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
}

/// What the connection awaits. Each deadline lives in the state it belongs to.
#[derive(Debug)]
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
        /// The body's framing and limit.
        decoder: BodyDecoder,
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

/// How a response is framed, decided by the connection ([`ServerConn::plan_whole`],
/// [`ServerConn::plan_streamed`]); only the connection makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePlan {
    framing: Framing,
    keep_alive: bool,
    body_len: u64,
}

/// How a piece of response body goes on the wire ([`ServerConn::send_body`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyWrite<'d> {
    /// Nothing: a HEAD request, a bodiless status, no response under way, or no bytes.
    Nothing,
    /// These bytes as they are.
    Raw(&'d [u8]),
    /// One chunk: its size line, then the bytes, then CRLF ([`crate::http::CHUNK_END`]).
    Chunk(ChunkHeader, &'d [u8]),
    /// Only these bytes fit the announced `length`: the rest is dropped, and the
    /// connection closes after the response.
    Clamped {
        /// The bytes that fit.
        data: &'d [u8],
        /// The announced length.
        length: u64,
    },
}

/// How a response ended ([`ServerConn::finish_response`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The application finished it.
    Complete,
    /// The application failed partway: the body cannot be framed right, so the
    /// connection closes after what was sent.
    Broken,
}

/// A finished response: what to write and what follows.
#[derive(Debug)]
pub struct Finished<R> {
    /// The request answered.
    pub request: R,
    /// Bytes to write to end the body ([`LAST_CHUNK`]), or none.
    pub last: &'static [u8],
    /// Body bytes sent (not counting chunk framing).
    pub sent: u64,
    /// The body ended before its announced length: `(sent, length)`.
    pub short: Option<(u64, u64)>,
    /// What the connection does now.
    pub next: Next,
}

/// What a connection does after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next request: resume the transport if `resume`, then step through what
    /// is buffered ([`ServerConn::take_buffered`]).
    ReadNext {
        /// Reading was paused and must resume.
        resume: bool,
    },
    /// Close the transport after what was written.
    Close,
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
        }
    }

    /// The transport is connected at `now`: the idle deadline starts.
    pub fn connection_made(&mut self, config: &ConnConfig, now: Duration) {
        if let State::Idle { until } = &mut self.state {
            *until = after(now, config.idle_timeout);
        }
    }

    /// What the connection awaits.
    pub fn state(&self) -> &State<R> {
        &self.state
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
            State::ReadingBody { until, .. } => *until = after(now, config.idle_timeout),
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
                        self.state = State::AwaitingResponse {
                            request,
                            head,
                            must_close: false,
                            paused: false,
                        };
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
                self.state = State::AwaitingRoute {
                    head: HeadFacts {
                        body: value.framing(),
                        version: value.version(),
                        keep_alive: value.keep_alive(),
                        expects_continue: value.expects_continue(),
                        is_head: value.is_head(),
                    },
                };
                (consumed, Action::Head(value))
            }
            Ok(Parsed::Partial) => {
                if let State::Idle { .. } = self.state {
                    let until = after(now, config.head_timeout);
                    self.state = State::ReadingHead { until };
                }
                (0, Action::Wait)
            }
            Err(error) => (0, self.reject(config, Rejection::Head(error), now)),
        }
    }

    /// The application routed the head just handed out, at `now`, to something that takes
    /// its `request`, with bodies up to `max_body` bytes.
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
                self.state = State::AwaitingResponse {
                    request,
                    head,
                    must_close: false,
                    paused: false,
                };
                Route::Respond
            }
            Framing::Length(n) if n > max_body => Route::TooLarge(request),
            framing => {
                let decoder =
                    BodyDecoder::new(framing, max_body).with_chunked_limits(config.chunked_limits);
                self.state = State::ReadingBody {
                    request,
                    head,
                    decoder,
                    until: after(now, config.idle_timeout),
                };
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
            self.state = State::AwaitingResponse {
                request,
                head,
                must_close: head.body != Framing::Empty,
                paused: false,
            };
        }
    }

    /// The framing of a response with a whole body of `len` bytes and this `status`;
    /// `None` if no response is awaited.
    #[inline]
    pub fn plan_whole(&self, status: u16, len: usize) -> Option<ResponsePlan> {
        let State::AwaitingResponse {
            head, must_close, ..
        } = &self.state
        else {
            return None;
        };
        let len = if bodiless(status) { 0 } else { len as u64 };
        Some(ResponsePlan {
            framing: match len {
                0 => Framing::Empty,
                n => Framing::Length(n),
            },
            keep_alive: head.keep_alive && !must_close,
            body_len: if head.is_head { 0 } else { len },
        })
    }

    /// The framing of a streamed response with this `status`, whose length the
    /// application announced or not; `None` if no response is awaited.
    pub fn plan_streamed(&self, status: u16, length: Option<u64>) -> Option<ResponsePlan> {
        let State::AwaitingResponse {
            head, must_close, ..
        } = &self.state
        else {
            return None;
        };
        let framing = match (bodiless(status), length, head.version) {
            (true, _, _) | (false, Some(0), _) => Framing::Empty,
            (false, Some(n), _) => Framing::Length(n),
            (false, None, Version::Http11) => Framing::Chunked,
            (false, None, Version::Http10) => Framing::UntilClose,
        };
        Some(ResponsePlan {
            framing,
            keep_alive: head.keep_alive && !must_close && framing != Framing::UntilClose,
            body_len: 0,
        })
    }

    /// The response head is written by [`ResponsePlan`] (and its `body_len` bytes of a
    /// whole body after it): the connection awaits the rest of the body.
    #[inline]
    pub fn start_response(&mut self, plan: ResponsePlan) {
        let old = std::mem::replace(&mut self.state, State::Closed);
        self.state = match old {
            State::AwaitingResponse {
                request,
                head,
                must_close,
                paused,
            } => State::Responding {
                request,
                head,
                framing: plan.framing,
                sent: plan.body_len,
                must_close: must_close || !plan.keep_alive,
                paused,
            },
            other => other,
        };
    }

    /// How `data`, the next piece of the response body, goes on the wire.
    pub fn send_body<'d>(&mut self, data: &'d [u8]) -> BodyWrite<'d> {
        let State::Responding {
            head,
            framing,
            sent,
            must_close,
            ..
        } = &mut self.state
        else {
            return BodyWrite::Nothing;
        };
        if data.is_empty() || head.is_head {
            return BodyWrite::Nothing;
        }
        match *framing {
            Framing::Empty => BodyWrite::Nothing,
            Framing::Length(length) => {
                let room = length.saturating_sub(*sent);
                if (data.len() as u64) <= room {
                    *sent += data.len() as u64;
                    return BodyWrite::Raw(data);
                }
                *must_close = true;
                // room < data.len(), so it is a usize and in range.
                let data = data.get(..room as usize).unwrap_or_default();
                *sent += data.len() as u64;
                BodyWrite::Clamped { data, length }
            }
            Framing::Chunked => {
                *sent += data.len() as u64;
                match std::num::NonZeroUsize::new(data.len()) {
                    Some(len) => BodyWrite::Chunk(chunk_header(len), data),
                    None => BodyWrite::Nothing, // empty: returned above
                }
            }
            Framing::UntilClose => {
                *sent += data.len() as u64;
                BodyWrite::Raw(data)
            }
        }
    }

    /// The response ended at `now`: what to write last and what follows (the next head,
    /// or a close); `None` if no response was under way.
    #[inline]
    pub fn finish_response(
        &mut self,
        config: &ConnConfig,
        ending: Ending,
        now: Duration,
    ) -> Option<Finished<R>> {
        let old = std::mem::replace(&mut self.state, State::Closed);
        let State::Responding {
            request,
            head,
            framing,
            sent,
            mut must_close,
            paused,
        } = old
        else {
            self.state = old;
            return None;
        };
        let (mut last, mut short) = (&[][..], None);
        match (ending, framing) {
            (Ending::Broken, _) => must_close = true,
            (Ending::Complete, _) if head.is_head => {}
            (Ending::Complete, Framing::Chunked) => last = LAST_CHUNK,
            (Ending::Complete, Framing::Length(n)) if sent < n => {
                must_close = true;
                short = Some((sent, n));
            }
            (Ending::Complete, Framing::UntilClose) => must_close = true,
            (Ending::Complete, _) => {}
        }
        let next = if head.keep_alive && !must_close {
            self.state = State::Idle {
                until: after(now, config.idle_timeout),
            };
            Next::ReadNext { resume: paused }
        } else {
            self.close(config, now);
            Next::Close
        };
        Some(Finished {
            request,
            last,
            sent,
            short,
            next,
        })
    }

    /// When the adapter's timer should fire, if it must be (re)armed: the current
    /// deadline, when no timer is armed or the armed one fires after it. A deadline
    /// moved later needs no new timer: the armed one fires first and the connection asks
    /// again.
    #[inline]
    pub fn timer_wanted(&mut self) -> Option<Duration> {
        let at = self.deadline()?;
        if self.timer_at.is_some_and(|fires| fires <= at) {
            return None;
        }
        self.timer_at = Some(at);
        Some(at)
    }

    /// The adapter's timer fired at `now`: what the deadline that passed calls for
    /// ([`Action::Wait`] if none did; ask [`ServerConn::timer_wanted`] again).
    pub fn timer_fired(&mut self, config: &ConnConfig, now: Duration) -> Action<'static> {
        self.timer_at = None;
        if !self.deadline().is_some_and(|at| at <= now) {
            return Action::Wait;
        }
        match self.state {
            State::Idle { .. } => {
                self.close(config, now);
                Action::Close
            }
            State::ReadingHead { .. } => self.reject(config, Rejection::HeadTimeout, now),
            State::ReadingBody { .. } => self.reject(config, Rejection::BodyStalled, now),
            State::Closing { .. } => {
                self.state = State::Closing { until: None };
                Action::Abort
            }
            _ => Action::Wait,
        }
    }

    /// The transport is gone: the request in flight, if any, to tell.
    pub fn connection_lost(&mut self) -> Option<R> {
        self.buf = Vec::new();
        self.timer_at = None;
        match std::mem::replace(&mut self.state, State::Closed) {
            State::ReadingBody { request, .. }
            | State::AwaitingResponse { request, .. }
            | State::Responding { request, .. } => Some(request),
            _ => None,
        }
    }

    /// The current deadline, from the state.
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
        self.state = State::Closing {
            until: after(now, config.abort_timeout),
        };
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

impl ResponsePlan {
    /// How the body is framed.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Whether the head lets the connection persist (else it says `Connection: close`).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// How many bytes of a whole body go after the head (none for HEAD and bodiless
    /// statuses; always none for a streamed response).
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// The same framing, on a connection that closes after it (for a 500 that replaces
    /// a refused head).
    pub fn closing(self) -> ResponsePlan {
        ResponsePlan {
            keep_alive: false,
            ..self
        }
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

/// True for a status whose response has no body (RFC 9110 §6.4.1): 1xx, 204, 304.
pub fn bodiless(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

/// `now + timeout`, if there is a timeout.
#[inline]
fn after(now: Duration, timeout: Option<Duration>) -> Option<Duration> {
    timeout.map(|t| now.saturating_add(t))
}

#[cfg(test)]
mod tests;
