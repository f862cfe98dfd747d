//! The response half of [`ServerConn`]: how a response is framed, how its body goes on
//! the wire, and what follows its end.

use std::time::Duration;

use super::{ConnConfig, ServerConn, State, LAST_CHUNK};
use crate::http::chunked::{chunk_header, ChunkHeader};
use crate::http::framing::Framing;
use crate::http::Version;

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
        self.set_state(match old {
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
        });
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
            self.set_state(old);
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
        let next = self.next(config, head.keep_alive && !must_close, paused, now);
        Some(Finished {
            request,
            last,
            sent,
            short,
            next,
        })
    }

    /// A whole response went out by `plan` (planned by [`ServerConn::plan_whole`]): its
    /// head and `body_len` bytes, in one write. It is complete at once, so this is
    /// [`ServerConn::start_response`] and [`ServerConn::finish_response`] in one step,
    /// the common case's; `None` if no response was awaited.
    #[inline]
    pub fn respond_whole(
        &mut self,
        config: &ConnConfig,
        plan: ResponsePlan,
        now: Duration,
    ) -> Option<Finished<R>> {
        let old = std::mem::replace(&mut self.state, State::Closed);
        let State::AwaitingResponse {
            request,
            head,
            must_close,
            paused,
        } = old
        else {
            self.set_state(old);
            return None;
        };
        let keep_alive = head.keep_alive && !must_close && plan.keep_alive;
        let next = self.next(config, keep_alive, paused, now);
        Some(Finished {
            request,
            last: &[],
            sent: plan.body_len,
            short: None,
            next,
        })
    }

    /// After a response at `now`: the next head (the idle deadline starts), or a close.
    #[inline(always)]
    fn next(&mut self, config: &ConnConfig, keep_alive: bool, paused: bool, now: Duration) -> Next {
        if keep_alive {
            let until = self.deadline_after(now, config.idle_timeout);
            self.set_state(State::Idle { until });
            Next::ReadNext { resume: paused }
        } else {
            self.close(config, now);
            Next::Close
        }
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

/// True for a status whose response has no body (RFC 9110 §6.4.1): 1xx, 204, 304.
pub fn bodiless(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}
