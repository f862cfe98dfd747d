//! One HTTP/1.1 client connection's exchanges without a socket (the state half of
//! Twisted's `HTTP11ClientProtocol`): a request out, its response head and body in, and
//! whether the connection may carry the next request.
//!
//! ```
//! use std::time::Duration;
//! use torsion_web::http::{ClientAction, ClientExchange, ExchangeConfig, Received};
//!
//! let mut conn = ClientExchange::new(ExchangeConfig::default());
//! let (deadline, now) = (Duration::from_secs(30), Duration::from_secs(1));
//! let request = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n".to_vec();
//! conn.send_request("GET", request, Some(deadline)).unwrap();
//! assert!(matches!(conn.poll_action(), Some(ClientAction::Write(_))));
//! assert_eq!(conn.poll_action(), Some(ClientAction::ArmDeadline(Some(deadline))));
//!
//! let mut wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".to_vec();
//! let Received::Actions { consumed } = conn.read(now, &wire) else { panic!() };
//! wire.drain(..consumed);
//! assert!(matches!(conn.poll_action(), Some(ClientAction::Head(head)) if head.status() == 200));
//! assert_eq!(conn.read(now, &wire), Received::Data { data: b"hi", consumed: 2 });
//! wire.drain(..2);
//! assert_eq!(conn.read(now, &wire), Received::Actions { consumed: 0 });
//! // The body ended on its framing with keep-alive: the connection waits, idle, for the
//! // next request until the idle timeout.
//! let idle_until = now + ExchangeConfig::default().idle_timeout;
//! assert_eq!(conn.poll_action(), Some(ClientAction::ArmDeadline(Some(idle_until))));
//! assert_eq!(conn.poll_action(), Some(ClientAction::BodyEnd { reusable: true }));
//! assert!(conn.is_idle() && conn.is_reused());
//! ```
//!
//! [`ClientExchange`] owns no socket, reactor or clock. Its caller (the Agent's
//! connection) tells it what happened: a request to send
//! ([`send_request`](ClientExchange::send_request)), bytes read
//! ([`read`](ClientExchange::read), given everything received and not yet consumed), the
//! connection's end ([`connection_lost`](ClientExchange::connection_lost)), a deadline
//! ([`deadline_passed`](ClientExchange::deadline_passed), with the time), that it keeps
//! the connection idle in a pool ([`pooled`](ClientExchange::pooled)), or that it closes
//! the connection itself ([`close`](ClientExchange::close)). It answers with body bytes
//! borrowed from the input ([`Received::Data`]) and with [`ClientAction`]s taken from
//! [`poll_action`](ClientExchange::poll_action), in order.
//!
//! The rules it keeps:
//!
//! - One request at a time (no pipelining, as in Twisted); a request is accepted only
//!   while the connection is idle.
//! - Response heads are read with [`ResponseParser`]; interim (1xx) heads are skipped; the
//!   body's framing follows RFC 9112 §6.3 (none after HEAD, 204 or 304; chunked,
//!   `Content-Length`, or until the server closes) and is read with [`BodyDecoder`].
//! - The connection is reusable only after a body that ended on its framing (not on
//!   close), in a response that allowed keep-alive, with no bytes after it, on a
//!   persistent configuration. Otherwise it closes: gracefully after a response that
//!   said so, at once after bad framing, a timeout, or bytes nobody asked for.
//! - A reused connection the server closed before any byte of the answer to an
//!   idempotent request gives [`ClientAction::Retry`]: the request may be sent once more
//!   on a new connection (the server may have closed it while the request was on its way).
//! - One deadline at a time ([`ClientAction::ArmDeadline`]): the request's while one is
//!   out, the idle timeout while the connection waits in a pool.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use super::body::{BodyDecoder, BodyError};
use super::head::{HeadError, HeadLimits};
use super::response_head::{ResponseHead, ResponseParser};
use super::Decoded;
use super::Parsed;

/// How long an idle connection waits for the next request unless set otherwise.
pub const DEFAULT_CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Methods whose request may be sent again when a reused connection closed unanswered
/// (RFC 9110 §9.2.2).
const IDEMPOTENT: [&str; 6] = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"];

/// The settings of one client connection.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeConfig {
    /// Keep the connection for more requests when responses allow it (true), or use it
    /// once.
    pub persistent: bool,
    /// How long the connection waits, idle, for the next request before it closes.
    pub idle_timeout: Duration,
    /// Limits on response heads.
    pub head_limits: HeadLimits,
    /// The largest response body read; `u64::MAX` (the default) leaves the limit to
    /// whoever reads the body.
    pub max_body: u64,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            persistent: true,
            idle_timeout: DEFAULT_CLIENT_IDLE_TIMEOUT,
            head_limits: HeadLimits::default(),
            max_body: u64::MAX,
        }
    }
}

/// One client connection's exchanges, as a state machine; see the [module docs](self).
#[derive(Debug)]
pub struct ClientExchange {
    config: ExchangeConfig,
    state: State,
    /// Responses read to the end of their framing on this connection: above 0, the
    /// connection is a reused one.
    served: u32,
    /// The deadline last announced with `ArmDeadline`.
    deadline: Option<Duration>,
    /// What the caller must do, in order; at most a few, as the caller drains it after
    /// every event.
    actions: VecDeque<ClientAction>,
}

/// What the connection waits for.
#[derive(Debug)]
enum State {
    /// A request to send: a new connection, or one back in the pool.
    Idle,
    /// The head of the response to the request sent.
    AwaitingHead {
        parser: ResponseParser,
        /// The request's method, which decides the response's framing.
        method: String,
        /// A byte of the answer arrived (after which the request is never sent again).
        received: bool,
    },
    /// The rest of the response's body.
    ReadingBody {
        decoder: BodyDecoder,
        keep_alive: bool,
    },
    /// Nothing: the connection is closed or closing.
    Closed,
}

/// What the caller must do, from [`ClientExchange::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAction {
    /// Write these bytes: the request.
    Write(Vec<u8>),
    /// The final response head arrived (interim 1xx heads are skipped); its body follows
    /// as [`Received::Data`] and ends with [`BodyEnd`](ClientAction::BodyEnd) or a failure.
    Head(ResponseHead),
    /// The body is over, whole. `reusable`: the connection may carry the next request
    /// (else a [`Close`](ClientAction::Close) follows, or the connection is already gone).
    BodyEnd {
        /// True if the connection goes back to its pool.
        reusable: bool,
    },
    /// The exchange under way failed: before its head (the request fails) or in its body.
    /// With no exchange under way, it says why the connection closes.
    Fail(ExchangeError),
    /// The server closed this reused connection before any byte of the answer to an
    /// idempotent request: send the request again, once, on a new connection.
    Retry,
    /// Close the connection: after what was written, or at once (`abort`).
    Close {
        /// True to drop anything not yet written.
        abort: bool,
    },
    /// Call [`deadline_passed`](ClientExchange::deadline_passed) at this time (on the
    /// scale of the times given), replacing any earlier deadline; `None`: no deadline.
    ArmDeadline(Option<Duration>),
}

/// What [`ClientExchange::read`] made of the input. Drop `consumed` bytes from the front of
/// the input before the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received<'a> {
    /// Body bytes of the response under way, borrowed from the input (never empty).
    Data {
        /// The bytes.
        data: &'a [u8],
        /// Input used up to the end of `data`.
        consumed: usize,
    },
    /// Something happened (a head, the body's end, a failure): take the actions from
    /// [`poll_action`](ClientExchange::poll_action), then call again.
    Actions {
        /// Input used.
        consumed: usize,
    },
    /// Nothing more can be made of the input: call again when more bytes arrive.
    Wait {
        /// Input used (framing, or interim heads).
        consumed: usize,
    },
}

/// Why an exchange failed or a request was not taken.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeError {
    /// A request was given while another is under way.
    Busy,
    /// A request was given to a closed connection.
    Closed,
    /// The response head broke the rules.
    BadHead(HeadError),
    /// The response body's framing was invalid, over the limit, or cut short.
    BadBody(BodyError),
    /// The connection closed before the response head arrived.
    ClosedBeforeHead,
    /// The server sent bytes while no request was out, or after a response ended.
    UnexpectedData,
    /// The request's deadline passed before its response ended.
    TimedOut,
}

impl ClientExchange {
    /// A new connection, idle, with these settings.
    pub fn new(config: ExchangeConfig) -> Self {
        ClientExchange {
            config,
            state: State::Idle,
            served: 0,
            deadline: None,
            actions: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ExchangeConfig {
        &self.config
    }

    /// True while the connection waits for a request.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// True once the connection is closed or closing.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// True once a response was read to its end on this connection.
    pub fn is_reused(&self) -> bool {
        self.served > 0
    }

    /// True for a method whose request may be sent again after a reused connection
    /// closed before answering (RFC 9110 §9.2.2).
    pub fn is_idempotent(method: &str) -> bool {
        IDEMPOTENT.contains(&method)
    }

    /// The deadline in force, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// Sends `request` (a whole request written by the caller, for `method`), which must
    /// be answered before `deadline`. Queues [`ClientAction::Write`] and the deadline.
    ///
    /// # Errors
    /// [`ExchangeError::Busy`] while another request is under way,
    /// [`ExchangeError::Closed`] once the connection is closed; nothing is queued.
    pub fn send_request(
        &mut self,
        method: &str,
        request: Vec<u8>,
        deadline: Option<Duration>,
    ) -> Result<(), ExchangeError> {
        match self.state {
            State::Idle => {}
            State::Closed => return Err(ExchangeError::Closed),
            State::AwaitingHead { .. } | State::ReadingBody { .. } => {
                return Err(ExchangeError::Busy)
            }
        }
        self.state = State::AwaitingHead {
            parser: ResponseParser::with_limits(self.config.head_limits),
            method: method.to_owned(),
            received: false,
        };
        self.actions.push_back(ClientAction::Write(request));
        self.arm(deadline);
        Ok(())
    }

    /// Reads `buf`, everything received and not yet consumed, at time `now`; see
    /// [`Received`].
    pub fn read<'a>(&mut self, now: Duration, buf: &'a [u8]) -> Received<'a> {
        match &mut self.state {
            State::Closed => Received::Wait {
                consumed: buf.len(), // nobody wants what arrives after the end
            },
            State::Idle if buf.is_empty() => Received::Wait { consumed: 0 },
            State::Idle => {
                self.fail(ExchangeError::UnexpectedData);
                Received::Actions {
                    consumed: buf.len(),
                }
            }
            State::AwaitingHead { .. } => self.read_head(buf),
            State::ReadingBody {
                decoder,
                keep_alive,
            } => match decoder.decode(buf) {
                Ok(Decoded::Data { data, consumed }) => Received::Data { data, consumed },
                Ok(Decoded::Partial { consumed }) => Received::Wait { consumed },
                Ok(Decoded::End { consumed }) => {
                    let keep_alive = *keep_alive;
                    let leftover = buf.len() > consumed;
                    self.body_ended(now, keep_alive, leftover);
                    Received::Actions {
                        consumed: buf.len(), // anything left over is dropped with the connection
                    }
                }
                Err(error) => {
                    self.fail(ExchangeError::BadBody(error));
                    Received::Actions {
                        consumed: buf.len(),
                    }
                }
            },
        }
    }

    /// The connection ended (the server closed it, or it was lost): ends an until-close
    /// body, fails an exchange cut short, or asks for a [`Retry`](ClientAction::Retry).
    pub fn connection_lost(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Closed);
        self.arm(None);
        match state {
            State::Idle | State::Closed => {}
            State::AwaitingHead {
                method, received, ..
            } => {
                let idempotent = ClientExchange::is_idempotent(&method);
                if self.is_reused() && !received && idempotent {
                    self.actions.push_back(ClientAction::Retry);
                } else {
                    let error = ExchangeError::ClosedBeforeHead;
                    self.actions.push_back(ClientAction::Fail(error));
                }
            }
            State::ReadingBody { mut decoder, .. } => match decoder.finish() {
                Ok(()) => {
                    let end = ClientAction::BodyEnd { reusable: false };
                    self.actions.push_back(end);
                }
                Err(error) => {
                    let error = ExchangeError::BadBody(error);
                    self.actions.push_back(ClientAction::Fail(error));
                }
            },
        }
    }

    /// The deadline armed last may have passed: at `now`, an exchange under way fails
    /// with [`ExchangeError::TimedOut`] and the connection is aborted; an idle one closes.
    /// Before the deadline, it is armed again.
    pub fn deadline_passed(&mut self, now: Duration) {
        let Some(at) = self.deadline else {
            return;
        };
        if now < at {
            self.actions.push_back(ClientAction::ArmDeadline(Some(at)));
            return;
        }
        match self.state {
            State::Closed => self.arm(None),
            State::Idle => {
                self.state = State::Closed;
                self.arm(None);
                self.actions.push_back(ClientAction::Close { abort: false });
            }
            State::AwaitingHead { .. } | State::ReadingBody { .. } => {
                self.fail(ExchangeError::TimedOut)
            }
        }
    }

    /// The connection waits in a pool: an idle one with no deadline yet (a new connection
    /// whose request went away) gets the idle timeout from `now`. One that went idle at
    /// the end of a response keeps the deadline it got then.
    pub fn pooled(&mut self, now: Duration) {
        if matches!(self.state, State::Idle) && self.deadline.is_none() {
            self.arm(Some(now.saturating_add(self.config.idle_timeout)));
        }
    }

    /// The caller closes the connection itself (a cancelled request, a pool shutting
    /// down): nothing more is read or sent, and the deadline is dropped.
    pub fn close(&mut self) {
        self.state = State::Closed;
        self.arm(None);
    }

    /// The next thing to do, in order; `None` when there is nothing.
    pub fn poll_action(&mut self) -> Option<ClientAction> {
        self.actions.pop_front()
    }

    /// Reads heads from `buf` until the final one, skipping interim (1xx) heads.
    fn read_head<'a>(&mut self, buf: &'a [u8]) -> Received<'a> {
        let State::AwaitingHead {
            parser,
            method,
            received,
        } = &mut self.state
        else {
            return Received::Wait { consumed: 0 };
        };
        let mut at = 0;
        loop {
            let rest = buf.get(at..).unwrap_or_default();
            if rest.is_empty() {
                return Received::Wait { consumed: at };
            }
            *received = true;
            match parser.parse(rest, method) {
                Ok(Parsed::Partial) => return Received::Wait { consumed: at },
                Ok(Parsed::Complete { value, consumed }) => {
                    at += consumed;
                    if value.is_interim() {
                        continue; // 100 Continue and friends: the final head follows
                    }
                    let decoder = BodyDecoder::new(value.framing(), self.config.max_body);
                    self.state = State::ReadingBody {
                        decoder,
                        keep_alive: value.keep_alive(),
                    };
                    self.actions.push_back(ClientAction::Head(value));
                    return Received::Actions { consumed: at };
                }
                Err(error) => {
                    self.fail(ExchangeError::BadHead(error));
                    return Received::Actions {
                        consumed: buf.len(),
                    };
                }
            }
        }
    }

    /// The body ended on its framing: back to idle, or closed.
    fn body_ended(&mut self, now: Duration, keep_alive: bool, leftover: bool) {
        self.served = self.served.saturating_add(1);
        let reusable = keep_alive && self.config.persistent && !leftover;
        if reusable {
            self.state = State::Idle;
            // Armed before the body's end is told, so that a request sent when the caller
            // hears it replaces this deadline rather than being replaced by it.
            self.arm(Some(now.saturating_add(self.config.idle_timeout)));
        } else {
            self.state = State::Closed;
            self.arm(None);
        }
        self.actions.push_back(ClientAction::BodyEnd { reusable });
        if leftover {
            let error = ExchangeError::UnexpectedData;
            self.actions.push_back(ClientAction::Fail(error));
            self.actions.push_back(ClientAction::Close { abort: true });
        } else if !reusable {
            self.actions.push_back(ClientAction::Close { abort: false });
        }
    }

    /// Fails the exchange (or the idle connection) with `error` and aborts.
    fn fail(&mut self, error: ExchangeError) {
        self.state = State::Closed;
        self.arm(None);
        self.actions.push_back(ClientAction::Fail(error));
        self.actions.push_back(ClientAction::Close { abort: true });
    }

    /// Announces `deadline` unless it is the one in force.
    fn arm(&mut self, deadline: Option<Duration>) {
        if self.deadline != deadline {
            self.deadline = deadline;
            self.actions.push_back(ClientAction::ArmDeadline(deadline));
        }
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Busy => f.write_str("send request: another request is under way"),
            ExchangeError::Closed => f.write_str("send request: connection closed"),
            ExchangeError::BadHead(error) => write!(f, "invalid response: {error}"),
            ExchangeError::BadBody(error) => write!(f, "invalid response body: {error}"),
            ExchangeError::ClosedBeforeHead => f.write_str("connection closed before the response"),
            ExchangeError::UnexpectedData => {
                f.write_str("server sent data while no response was expected")
            }
            ExchangeError::TimedOut => f.write_str("response timed out"),
        }
    }
}

impl std::error::Error for ExchangeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExchangeError::BadHead(error) => Some(error),
            ExchangeError::BadBody(error) => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
