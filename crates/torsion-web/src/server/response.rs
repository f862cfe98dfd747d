//! The response engine behind [`Request`]: response heads built in one thread-local
//! buffer and written with the body, body pieces framed as the connection decided.
//!
//! ```
//! use std::rc::Rc;
//! use torsion::{net::{ProtocolFactory, Transport}, testing::{Clock, StringTransport}};
//! use torsion_web::server::{FnResource, Render, Request, Site};
//!
//! let site = Site::new(Rc::new(FnResource::new(|request: &Request| {
//!     request.write(b"a streamed "); // the head goes first: chunked, no length known
//!     request.write(b"body");
//!     request.finish(); // the last chunk
//!     Render::Later
//! })), Clock::new());
//! let transport = StringTransport::new();
//! let mut connection = site.build_protocol(&transport.peer()).unwrap();
//! connection.connection_made(transport.clone());
//! connection.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
//! let response = String::from_utf8(transport.value()).unwrap();
//! assert!(response.ends_with("\r\n\r\nb\r\na streamed \r\n4\r\nbody\r\n0\r\n\r\n"));
//! # connection.connection_lost(torsion::net::CloseReason::Clean);
//! ```
//!
//! The connection's core ([`crate::http::server_conn`]) decides the framing and whether
//! the connection persists ([`ResponsePlan`]), counts and cuts the body, and says how
//! the response ends; this file turns the resource's status and fields into a head,
//! contains a refused head (a 500 instead, then a close), and logs the access line.
//!
//! # Constant fields are checked once per thread
//!
//! Every field is checked for CR, LF and other control bytes before it is sent. A
//! resource usually sets the same constant fields on every response
//! (`Content-Type: text/plain`, given as `&'static str`); [`CheckedStatics`] remembers
//! the last few such pairs it checked, by address and length, so each is checked once
//! per thread. That is sound because the text behind a `&'static` reference never
//! changes; a pair it does not remember is simply checked again. It is kept apart
//! here, small and documented, because checking every constant field on every response
//! would put a byte-by-byte pass back on the hot path.

use std::borrow::Cow;
use std::cell::RefCell;
use std::time::{Duration, SystemTime};

use torsion::net::Address;
use torsion::Failure;

use super::access_log::AccessLine;
use super::channel::{Channel, End};
use super::html::error_page;
use super::incoming_request::Request;
use crate::http::server_conn::{Ending, Finished, ResponsePlan};
use crate::http::{check_response_field, DateCache, ResponseHeadWriter};

/// A response body up to this size is copied behind its head for one `write`; a larger
/// one goes out with the head in one `writev` instead, uncopied.
const COPY_BODY_MAX: usize = 16 * 1024;

/// The response fields a resource sets, in order.
pub(crate) type ResponseFields = Vec<(Cow<'static, str>, Cow<'static, [u8]>)>;

/// The response as the resource builds it, until its head is written.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: ResponseFields,
    /// The length the resource announced for a streamed body.
    pub(crate) content_length: Option<u64>,
}

/// Where the response is, as the resource sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing written yet.
    Pending,
    /// The head is out; body pieces follow.
    Streaming,
    /// The response is complete.
    Finished,
    /// The client went away first.
    Lost,
}

thread_local! {
    /// One buffer and one `Date` cache for every connection of this thread: a response
    /// head is built here and written at once, so idle connections hold neither.
    static SCRATCH: RefCell<(Vec<u8>, HeadCache)> = RefCell::new((Vec::new(), HeadCache::default()));
}

impl Response {
    /// A 200 with no fields yet.
    pub(crate) fn new() -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            content_length: None,
        }
    }
}

impl Request {
    /// Sends the whole response with `body` (framed by its length) and finishes.
    pub(crate) fn respond(&self, body: &[u8]) {
        let inner = &self.inner;
        if inner.phase.get() != Phase::Pending {
            if inner.phase.get() == Phase::Streaming {
                tracing::warn!(
                    target: "torsion_web::server",
                    "{} {}: render returned a body after writing; body dropped",
                    self.method(),
                    self.uri()
                );
                self.finish_response();
            }
            return;
        }
        let Some(channel) = inner.channel.upgrade() else {
            return;
        };
        let Some(plan) = channel.plan_whole(self.status(), body.len()) else {
            return; // no response is awaited: the connection is going
        };
        let written = SCRATCH.with(|scratch| {
            let (out, heads) = &mut *scratch.borrow_mut();
            out.clear();
            if !self.write_head(out, heads, &channel, plan) {
                self.respond_internal_error(&channel, out, heads);
                return false;
            }
            // The plan sends the body, or none of it (HEAD, 204, 304).
            let body = body.get(..plan.body_len() as usize).unwrap_or_default();
            if body.len() > COPY_BODY_MAX {
                channel.write_sequence(&[out, body]);
            } else {
                out.extend_from_slice(body);
                channel.write(out);
            }
            shrink(out);
            true
        });
        inner.phase.set(Phase::Streaming);
        // Completed outside the scratch borrow: the channel may go on to render the next
        // request, which writes through the same buffer.
        self.complete(match written {
            true => End::Whole(plan),
            false => End::Streamed(Ending::Complete), // the 500 that replaced it
        });
    }

    /// Writes a piece of the body, the head first if it has not gone yet (what
    /// [`Request::write`] does).
    pub(crate) fn write_body(&self, data: &[u8]) {
        match self.inner.phase.get() {
            Phase::Finished | Phase::Lost => return,
            Phase::Pending => self.start_streaming(),
            Phase::Streaming => {}
        }
        if data.is_empty() {
            return;
        }
        let Some(channel) = self.inner.channel.upgrade() else {
            return;
        };
        if let Some(length) = channel.write_body(data) {
            tracing::warn!(
                target: "torsion_web::server",
                "{} {}: wrote past Content-Length {length}; excess dropped",
                self.method(),
                self.uri()
            );
        }
    }

    /// Ends the response (what [`Request::finish`] does).
    pub(crate) fn finish_response(&self) {
        match self.inner.phase.get() {
            Phase::Finished | Phase::Lost => {}
            Phase::Pending => {
                let length = self.inner.response.borrow().content_length;
                match length {
                    // The head announces the length; the body is short (or, for HEAD,
                    // the GET's length without the body): the core decides which.
                    Some(n) if n > 0 => {
                        self.start_streaming();
                        self.complete(End::Streamed(Ending::Complete));
                    }
                    _ => self.respond(&[]),
                }
            }
            Phase::Streaming => self.complete(End::Streamed(Ending::Complete)),
        }
    }

    /// Answers 500 if nothing was written yet; else closes the connection after what was
    /// sent, since the body can no longer be framed right.
    pub(crate) fn fail(&self, failure: &Failure) {
        tracing::error!(
            target: "torsion_web::server",
            "{} {}: {failure}",
            self.method(),
            self.uri()
        );
        match self.inner.phase.get() {
            Phase::Pending => {
                {
                    let mut response = self.inner.response.borrow_mut();
                    response.status = 500;
                    response.headers.clear();
                    response.content_length = None;
                }
                self.set_header("Content-Type", "text/html; charset=utf-8");
                let page = error_page(500, "Internal Server Error", "The server failed.");
                self.respond(page.as_bytes());
            }
            Phase::Streaming => self.complete(End::Streamed(Ending::Broken)),
            Phase::Finished | Phase::Lost => {}
        }
    }

    /// Writes the head for a streamed body and moves to `Streaming`.
    fn start_streaming(&self) {
        let Some(channel) = self.inner.channel.upgrade() else {
            return;
        };
        let length = self.inner.response.borrow().content_length;
        let Some(plan) = channel.plan_streamed(self.status(), length) else {
            return;
        };
        let refused = SCRATCH.with(|scratch| {
            let (out, heads) = &mut *scratch.borrow_mut();
            out.clear();
            let written = self.write_head(out, heads, &channel, plan);
            if written {
                channel.write(out);
                channel.start_response(plan);
                self.inner.phase.set(Phase::Streaming);
            } else {
                self.respond_internal_error(&channel, out, heads);
            }
            shrink(out);
            !written
        });
        if refused {
            // Completed outside the scratch borrow: the channel may go on to render
            // the next request, which writes through the same buffer.
            self.complete(End::Streamed(Ending::Complete));
        }
    }

    /// Builds the head into `out`; false (with `out` as it was) if a field was refused.
    fn write_head(
        &self,
        out: &mut Vec<u8>,
        heads: &mut HeadCache,
        channel: &Channel,
        plan: ResponsePlan,
    ) -> bool {
        let response = self.inner.response.borrow();
        let mut head = ResponseHeadWriter::new(out, self.version(), response.status);
        for (name, value) in &response.headers {
            match (name, value) {
                (Cow::Borrowed(name), Cow::Borrowed(value)) => {
                    if heads.checked.check(name, value) {
                        head.checked_header(name, value);
                    } else {
                        head.header(name, value); // refused: finish reports it
                    }
                }
                _ => {
                    head.header(name, value);
                }
            }
        }
        head.date_at(&mut heads.dates, channel.loop_time(), SystemTime::now);
        match head.finish(plan.framing(), plan.keep_alive()) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(
                    target: "torsion_web::server",
                    "{} {}: response head refused: {error}",
                    self.method(),
                    self.uri()
                );
                false
            }
        }
    }

    /// The resource's head was refused: send a plain 500 and close (the caller
    /// completes the request once `out` is no longer borrowed).
    fn respond_internal_error(&self, channel: &Channel, out: &mut Vec<u8>, heads: &mut HeadCache) {
        {
            let mut response = self.inner.response.borrow_mut();
            response.status = 500;
            response.headers.clear();
            response.headers.push((
                "Content-Type".into(),
                Cow::Borrowed(b"text/html; charset=utf-8"),
            ));
        }
        let page = error_page(500, "Internal Server Error", "The server failed.");
        out.clear();
        if let Some(plan) = channel.plan_whole(500, page.len()) {
            let plan = plan.closing();
            if self.write_head(out, heads, channel, plan) {
                let body = page.as_bytes();
                out.extend_from_slice(body.get(..plan.body_len() as usize).unwrap_or_default());
                channel.write(out);
                channel.start_response(plan);
            }
        }
        self.inner.phase.set(Phase::Streaming); // the caller completes
    }

    /// The response is complete: end it on the connection, log it, tell whoever waits,
    /// and let the connection go on.
    fn complete(&self, end: End) {
        if self.inner.phase.get() != Phase::Streaming {
            return;
        }
        self.inner.phase.set(Phase::Finished);
        super::count_status(self.status());
        let Some(channel) = self.inner.channel.upgrade() else {
            return self.completed(0, None);
        };
        let now = channel.loop_time();
        // Taken apart at once: the request and what follows go back to the channel once
        // the waiters heard, and moving them as a whole costs more than the rest.
        let Some(Finished {
            request,
            sent,
            short,
            next,
            ..
        }) = channel.end_response(end, now)
        else {
            return self.completed(0, Some(&channel));
        };
        if let Some((sent, length)) = short {
            tracing::warn!(
                target: "torsion_web::server",
                "{} {}: finished after {sent} of {length} bytes; closing",
                self.method(),
                self.uri()
            );
        }
        self.completed(sent, Some(&channel));
        channel.after_response(request, next, now);
    }

    /// Logs the finished response and tells whoever waits for it.
    #[inline(always)]
    fn completed(&self, sent: u64, channel: Option<&Channel>) {
        self.log_access(sent, channel);
        let waiting = std::mem::take(&mut *self.inner.waiting.borrow_mut());
        for resolver in waiting {
            let _ = resolver.callback(());
        }
    }

    fn log_access(&self, sent: u64, channel: Option<&Channel>) {
        // Formatting the client's address costs more than the rest of a small response:
        // only do it when a subscriber records the line.
        if !tracing::enabled!(target: "torsion_web::access", tracing::Level::INFO) {
            return;
        }
        // The wall time the head arrived: now, less how long ago that was on the site's
        // clock (read only for a line that is recorded).
        let ago = match channel {
            Some(channel) => channel.loop_time().saturating_sub(self.inner.received),
            None => Duration::ZERO,
        };
        let now = SystemTime::now();
        let received = now.checked_sub(ago).unwrap_or(now);
        let head = &self.inner.head;
        let response = self.inner.response.borrow();
        let client = match &self.inner.client {
            Address::Tcp(addr) => addr.ip().to_string(),
            other => other.to_string(),
        };
        tracing::info!(
            target: "torsion_web::access",
            "{}",
            AccessLine {
                client: &client,
                time: received,
                method: head.method(),
                target: head.target(),
                version: head.version().as_str(),
                status: response.status,
                bytes: sent,
                referer: head.headers().get("referer"),
                user_agent: head.headers().get("user-agent"),
            }
        );
    }
}

/// What writing response heads on this thread remembers between responses.
#[derive(Default)]
struct HeadCache {
    dates: DateCache,
    checked: CheckedStatics,
}

/// `&'static` response fields already checked, by address and length; see the
/// [module docs](self) for why that is sound.
#[derive(Default)]
struct CheckedStatics {
    /// (name address, name length, value address, value length).
    entries: [(usize, usize, usize, usize); 8],
    /// The entry replaced next, round robin.
    next: usize,
}

impl CheckedStatics {
    /// True if `name: value` may be sent, checking it only the first time it is seen.
    fn check(&mut self, name: &'static str, value: &'static [u8]) -> bool {
        let key = (
            name.as_ptr() as usize,
            name.len(),
            value.as_ptr() as usize,
            value.len(),
        );
        if self.entries.contains(&key) {
            return true;
        }
        if check_response_field(name, value).is_err() {
            return false;
        }
        if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = key;
        }
        self.next = (self.next + 1) % self.entries.len();
        true
    }
}

/// Keeps the shared scratch buffer from holding on to a large body.
fn shrink(out: &mut Vec<u8>) {
    if out.capacity() > 64 * 1024 {
        *out = Vec::new();
    }
}
