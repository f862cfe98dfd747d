//! One request and its response, as a resource sees them (Twisted's
//! `twisted.web.server.Request`).
//!
//! ```
//! use torsion_web::server::{Render, Request, Resource};
//!
//! /// Streams its answer in pieces, as Twisted's `NOT_DONE_YET` resources do.
//! struct Countdown;
//! impl Resource for Countdown {
//!     fn render(&self, request: &Request) -> Render {
//!         let from: u32 = request.arg("from").and_then(|n| n.parse().ok()).unwrap_or(3);
//!         request.set_header("Content-Type", "text/plain");
//!         for n in (1..=from).rev() {
//!             request.write(format!("{n}\n").as_bytes()); // chunked: no length known
//!         }
//!         request.finish();
//!         Render::Later
//!     }
//! }
//! ```
//!
//! A `Request` is a cheap handle (clones share one request): keep one in a callback to
//! answer later. The response head goes out with the first [`write`](Request::write)
//! (or with the whole body a resource returns), framed with `Content-Length` when the
//! resource set it ([`set_content_length`](Request::set_content_length)), else chunked
//! (HTTP/1.1) or until the connection closes (HTTP/1.0). A head with a small body leaves
//! in one write.
//!
//! Once the client is gone, [`notify_finish`](Request::notify_finish) fails with
//! [`ClientDisconnected`], and writes are dropped: nothing is written after.

use std::borrow::Cow;
use std::cell::{Cell, Ref, RefCell};
use std::error::Error;
use std::fmt;
use std::num::NonZeroUsize;
use std::rc::{Rc, Weak};
use std::time::{Duration, SystemTime};

use torsion::defer::{fail, succeed, Resolver};
use torsion::net::{Address, Producer};
use torsion::{Deferred, Failure};

use super::access_log::AccessLine;
use super::channel::Channel;
use super::html::{error_page, escape};
use super::path::{decode_segment, query_args, raw_segments, split_target};
use crate::http::{
    check_response_field, chunk_header, DateCache, Framing, Headers, RequestHead,
    ResponseHeadWriter, Version, CHUNK_END,
};

/// A response body up to this size is copied behind its head for one `write`; a larger
/// one goes out with the head in one `writev` instead, uncopied.
const COPY_BODY_MAX: usize = 16 * 1024;

/// The response fields a resource sets, in order.
pub(crate) type ResponseFields = Vec<(Cow<'static, str>, Cow<'static, [u8]>)>;

/// A request being answered; see the [module docs](self).
#[derive(Clone)]
pub struct Request {
    inner: Rc<Inner>,
}

/// The client went away before the response was finished: what
/// [`Request::notify_finish`] fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientDisconnected;

impl fmt::Display for ClientDisconnected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("client disconnected before the response was finished")
    }
}

impl Error for ClientDisconnected {}

struct Inner {
    head: RequestHead,
    /// The end of the path in the target (where `?` or the target ends).
    path: (usize, usize),
    client: Address,
    /// When the head arrived, on the site's clock ([`Channel::loop_time`]).
    received: Duration,
    channel: Weak<Channel>,
    /// How many segments of the path the walk to the resource consumed.
    prepath_len: Cell<usize>,
    body: RefCell<Vec<u8>>,
    response: RefCell<Response>,
    phase: Cell<Phase>,
    /// Set when the connection must close after this response: a body left unread, a
    /// framing broken by the resource, a response sent until close.
    must_close: Cell<bool>,
    waiting: RefCell<Vec<Resolver<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Give the head's buffers to the next request on the connection.
        if let Some(channel) = self.channel.upgrade() {
            channel.recycle(self.head.take_headers());
        }
    }
}

impl Inner {
    /// Empties a finished request for reuse, keeping small buffers; returns its head's.
    fn clear(&mut self) -> Headers {
        let response = self.response.get_mut();
        response.headers.clear();
        if response.headers.capacity() > SPARE_FIELDS_MAX {
            response.headers = Vec::new();
        }
        // A body buffer is not kept: an idle connection holds none.
        *self.body.get_mut() = Vec::new();
        self.waiting.get_mut().clear();
        self.head.take_headers()
    }

    /// Starts a cleared request over for `head`.
    #[inline]
    fn reset(&mut self, head: RequestHead, received: Duration) {
        self.path = path_span(&head);
        self.head = head;
        self.received = received;
        self.prepath_len.set(0);
        let response = self.response.get_mut();
        response.status = 200;
        response.content_length = None;
        response.framing = Framing::Empty;
        response.sent = 0;
        self.phase.set(Phase::Pending);
        self.must_close.set(false);
    }
}

/// The most response fields a reused request keeps room for.
const SPARE_FIELDS_MAX: usize = 16;

/// Where the path lies in `head`'s target.
fn path_span(head: &RequestHead) -> (usize, usize) {
    let target = head.target();
    let (path, _) = split_target(target);
    let start = path.as_ptr() as usize - target.as_ptr() as usize;
    (start, start + path.len())
}

/// The response as the resource builds it.
struct Response {
    status: u16,
    headers: ResponseFields,
    content_length: Option<u64>,
    framing: Framing,
    /// Body bytes written (not counting chunk framing).
    sent: u64,
}

/// Where the response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
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

impl Request {
    /// A request for `head`, served on `channel`, whose head arrived at `received` on the
    /// site's clock.
    pub(crate) fn new(
        head: RequestHead,
        client: Address,
        channel: Weak<Channel>,
        received: Duration,
    ) -> Request {
        Request {
            inner: Rc::new(Inner {
                path: path_span(&head),
                head,
                client,
                received,
                channel,
                prepath_len: Cell::new(0),
                body: RefCell::new(Vec::new()),
                response: RefCell::new(Response {
                    status: 200,
                    headers: Vec::new(),
                    content_length: None,
                    framing: Framing::Empty,
                    sent: 0,
                }),
                phase: Cell::new(Phase::Pending),
                must_close: Cell::new(false),
                waiting: RefCell::new(Vec::new()),
            }),
        }
    }

    /// Empties a finished request for the next one on its connection and returns its
    /// head's buffers for the parser; `None` (and nothing changed) while someone else
    /// holds it.
    pub(crate) fn reclaim(&mut self) -> Option<Headers> {
        Rc::get_mut(&mut self.inner).map(Inner::clear)
    }

    /// A [reclaimed](Self::reclaim) request started over for `head`: one allocation
    /// less per request on a keep-alive connection.
    #[inline]
    pub(crate) fn renew(mut self, head: RequestHead, received: Duration) -> Request {
        match Rc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.reset(head, received);
                self
            }
            // Not reclaimed after all: start afresh.
            None => Request::new(
                head,
                self.inner.client.clone(),
                self.inner.channel.clone(),
                received,
            ),
        }
    }

    /// The method (`GET`, `POST`, ...), case as sent.
    pub fn method(&self) -> &str {
        self.inner.head.method()
    }

    /// The request target as sent (`/path?query`).
    pub fn uri(&self) -> &str {
        self.inner.head.target()
    }

    /// The path of the target, still percent-encoded (`/a%20b`).
    pub fn path(&self) -> &str {
        let (start, end) = self.inner.path;
        self.uri().get(start..end).unwrap_or("/")
    }

    /// The query string after `?`, if any, still encoded.
    pub fn query(&self) -> Option<&str> {
        split_target(self.uri()).1
    }

    /// The query arguments, decoded, in order (Twisted's `request.args`).
    pub fn args(&self) -> Vec<(String, String)> {
        self.query().map(query_args).unwrap_or_default()
    }

    /// The first query argument named `name`, decoded.
    pub fn arg(&self, name: &str) -> Option<String> {
        self.args()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The path segments the walk from the root consumed, decoded.
    pub fn prepath(&self) -> Vec<String> {
        let taken = self.inner.prepath_len.get();
        raw_segments(self.path())
            .take(taken)
            .map(decode_segment)
            .collect()
    }

    /// The path segments left below the resource rendering, decoded (what a leaf such
    /// as [`File`](super::File) serves).
    pub fn postpath(&self) -> Vec<String> {
        let taken = self.inner.prepath_len.get();
        raw_segments(self.path())
            .skip(taken)
            .map(decode_segment)
            .collect()
    }

    /// HTTP/1.0 or HTTP/1.1.
    pub fn version(&self) -> Version {
        self.inner.head.version()
    }

    /// The request's header fields.
    pub fn headers(&self) -> &Headers {
        self.inner.head.headers()
    }

    /// The first field named `name` (without case), as bytes.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.inner.head.headers().get(name)
    }

    /// The request body, read whole before `render` runs (Twisted's `request.content`).
    pub fn body(&self) -> Ref<'_, [u8]> {
        Ref::map(self.inner.body.borrow(), Vec::as_slice)
    }

    /// Takes the body out, leaving it empty.
    pub fn take_body(&self) -> Vec<u8> {
        std::mem::take(&mut *self.inner.body.borrow_mut())
    }

    /// The client's address (Twisted's `getClientAddress`).
    pub fn client(&self) -> &Address {
        &self.inner.client
    }

    /// The status set so far (200 unless changed).
    pub fn status(&self) -> u16 {
        self.inner.response.borrow().status
    }

    /// Sets the response status (Twisted's `setResponseCode`); ignored once the head is
    /// out.
    pub fn set_status(&self, status: u16) {
        if self.inner.phase.get() == Phase::Pending && (100..=999).contains(&status) {
            self.inner.response.borrow_mut().status = status;
        }
    }

    /// Sets a response field, replacing any of that name (Twisted's `setHeader`).
    /// `Content-Length` sets [`set_content_length`](Request::set_content_length);
    /// other framing fields and values with CR, LF or NUL are refused when the head is
    /// written: the response becomes a 500 and the field is never sent.
    pub fn set_header(&self, name: impl Into<Cow<'static, str>>, value: impl Into<HeaderValue>) {
        let (name, value) = (name.into(), value.into().0);
        if name.eq_ignore_ascii_case("content-length") {
            if let Some(n) = parse_decimal(&value) {
                self.set_content_length(n);
            }
            return;
        }
        let mut response = self.inner.response.borrow_mut();
        response
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        response.headers.push((name, value));
    }

    /// Adds a response field, keeping others of the same name (Twisted's `addHeader`).
    pub fn add_header(&self, name: impl Into<Cow<'static, str>>, value: impl Into<HeaderValue>) {
        let mut response = self.inner.response.borrow_mut();
        response.headers.push((name.into(), value.into().0));
    }

    /// The response field named `name` set so far.
    pub fn response_header(&self, name: &str) -> Option<Vec<u8>> {
        let response = self.inner.response.borrow();
        response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_vec())
    }

    /// Frames the streamed body with `Content-Length: length` instead of chunks.
    pub fn set_content_length(&self, length: u64) {
        if self.inner.phase.get() == Phase::Pending {
            self.inner.response.borrow_mut().content_length = Some(length);
        }
    }

    /// Answers with a redirect to `url` (302 unless a 3xx status was set), with a small
    /// page linking to it, the URL escaped (Twisted's `redirectTo`).
    pub fn redirect(&self, url: &str) -> super::Render {
        if !(300..400).contains(&self.status()) {
            self.set_status(302);
        }
        self.set_header("Location", url.to_owned());
        self.set_header("Content-Type", "text/html; charset=utf-8");
        let url = escape(url);
        super::Render::from(format!(
            "<html>\n  <head><meta http-equiv=\"refresh\" content=\"0;URL={url}\"></head>\n  \
             <body><a href=\"{url}\">click here</a></body>\n</html>\n"
        ))
    }

    /// True for a HEAD request: its response has no body (writes are dropped).
    pub fn is_head(&self) -> bool {
        self.inner.head.is_head()
    }

    /// True once the response is complete.
    pub fn is_finished(&self) -> bool {
        self.inner.phase.get() == Phase::Finished
    }

    /// True once the client went away before the response was complete.
    pub fn is_disconnected(&self) -> bool {
        self.inner.phase.get() == Phase::Lost
    }

    /// Fires when the response is complete, or fails with [`ClientDisconnected`] when the
    /// client goes away first (Twisted's `notifyFinish`).
    pub fn notify_finish(&self) -> Deferred<()> {
        match self.inner.phase.get() {
            Phase::Finished => succeed(()),
            Phase::Lost => fail(ClientDisconnected),
            Phase::Pending | Phase::Streaming => {
                let (deferred, resolver) = Deferred::new();
                self.inner.waiting.borrow_mut().push(resolver);
                deferred
            }
        }
    }

    /// Writes a piece of the body, sending the head first if it has not gone yet.
    /// Dropped after [`finish`](Request::finish), after the client went away, and for a
    /// HEAD request.
    pub fn write(&self, data: &[u8]) {
        match self.inner.phase.get() {
            Phase::Finished | Phase::Lost => return,
            Phase::Pending => self.start_streaming(),
            Phase::Streaming => {}
        }
        if data.is_empty() || self.is_head() {
            return;
        }
        let Some(channel) = self.inner.channel.upgrade() else {
            return;
        };
        let data = self.clamp_to_length(data);
        let Some(len) = NonZeroUsize::new(data.len()) else {
            return;
        };
        let framing = self.inner.response.borrow().framing;
        match framing {
            Framing::Chunked => {
                let header = chunk_header(len);
                channel.write_sequence(&[header.as_bytes(), data, CHUNK_END]);
            }
            Framing::Empty => return, // a status without a body (204, 304)
            Framing::Length(_) | Framing::UntilClose => channel.write(data),
        }
        self.inner.response.borrow_mut().sent += data.len() as u64;
    }

    /// Ends the response (Twisted's `finish`): the last chunk, or the whole response if
    /// nothing was written. Does nothing the second time or after the client left.
    pub fn finish(&self) {
        match self.inner.phase.get() {
            Phase::Finished | Phase::Lost => {}
            Phase::Pending => {
                let length = self.inner.response.borrow().content_length;
                match length {
                    // A HEAD response announcing the GET's length, without the body.
                    Some(n) if n > 0 && self.is_head() => {
                        self.start_streaming();
                        self.complete();
                    }
                    Some(n) if n > 0 => {
                        self.start_streaming();
                        self.finish(); // the body is short: close
                    }
                    _ => self.respond(&[]),
                }
            }
            Phase::Streaming => {
                let (framing, sent) = {
                    let response = self.inner.response.borrow();
                    (response.framing, response.sent)
                };
                match framing {
                    Framing::Chunked if !self.is_head() => {
                        if let Some(channel) = self.inner.channel.upgrade() {
                            channel.write(b"0\r\n\r\n");
                        }
                    }
                    Framing::Length(n) if sent < n && !self.is_head() => {
                        tracing::warn!(
                            target: "torsion_web::server",
                            "{} {}: finished after {sent} of {n} bytes; closing",
                            self.method(),
                            self.uri()
                        );
                        self.inner.must_close.set(true);
                    }
                    Framing::UntilClose => self.inner.must_close.set(true),
                    _ => {}
                }
                self.complete();
            }
        }
    }

    /// Registers a producer on the connection that feeds this response (Twisted's
    /// `registerProducer`): a pull producer is asked for more each time the write buffer
    /// drains, so a large file is sent with flat memory.
    pub fn register_producer(&self, producer: Producer) {
        if let Some(channel) = self.inner.channel.upgrade() {
            channel.register_producer(producer);
        }
    }

    /// Forgets the producer registered for this response.
    pub fn unregister_producer(&self) {
        if let Some(channel) = self.inner.channel.upgrade() {
            channel.unregister_producer();
        }
    }

    /// Sends the whole response with `body` (framed by its length) and finishes.
    pub(crate) fn respond(&self, body: &[u8]) {
        if self.inner.phase.get() != Phase::Pending {
            if self.inner.phase.get() == Phase::Streaming {
                tracing::warn!(
                    target: "torsion_web::server",
                    "{} {}: render returned a body after writing; body dropped",
                    self.method(),
                    self.uri()
                );
                self.finish();
            }
            return;
        }
        let Some(channel) = self.inner.channel.upgrade() else {
            return;
        };
        let status = self.status();
        let bodiless = status < 200 || status == 204 || status == 304;
        let body = if bodiless { &[][..] } else { body };
        let framing = match body.len() {
            0 => Framing::Empty,
            n => Framing::Length(n as u64),
        };
        let keep_alive = self.keep_alive(&channel);
        SCRATCH.with(|scratch| {
            let (out, heads) = &mut *scratch.borrow_mut();
            out.clear();
            if !self.write_head(out, heads, &channel, framing, keep_alive) {
                return self.respond_internal_error(&channel, out, heads);
            }
            let send_body = !self.is_head() && !body.is_empty();
            if send_body && body.len() > COPY_BODY_MAX {
                channel.write_sequence(&[out, body]);
            } else {
                if send_body {
                    out.extend_from_slice(body);
                }
                channel.write(out);
            }
            if send_body {
                self.inner.response.borrow_mut().sent = body.len() as u64;
            }
            shrink(out);
        });
        self.inner.phase.set(Phase::Streaming);
        self.complete();
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
            Phase::Streaming => {
                self.inner.must_close.set(true);
                self.complete();
            }
            Phase::Finished | Phase::Lost => {}
        }
    }

    /// The client went away: fail whoever waits for the finish.
    pub(crate) fn connection_lost(&self) {
        if matches!(self.inner.phase.get(), Phase::Pending | Phase::Streaming) {
            self.inner.phase.set(Phase::Lost);
            let waiting = std::mem::take(&mut *self.inner.waiting.borrow_mut());
            for resolver in waiting {
                let _ = resolver.errback(ClientDisconnected);
            }
        }
    }

    /// Marks the connection to close after this response if the request has a body:
    /// it is answered before the body is read, so the stream cannot be trusted after.
    pub(crate) fn close_after_if_body(&self) {
        if self.inner.head.framing() != Framing::Empty {
            self.inner.must_close.set(true);
        }
    }

    /// Records that the walk consumed one more segment.
    pub(crate) fn advance_prepath(&self) {
        self.inner.prepath_len.set(self.inner.prepath_len.get() + 1);
    }

    /// Appends body bytes as they are read.
    pub(crate) fn push_body(&self, data: &[u8]) {
        self.inner.body.borrow_mut().extend_from_slice(data);
    }

    /// The parsed head.
    pub(crate) fn head(&self) -> &RequestHead {
        &self.inner.head
    }

    /// Whether the connection stays open after this response.
    fn keep_alive(&self, channel: &Channel) -> bool {
        self.inner.head.keep_alive() && !self.inner.must_close.get() && channel.may_keep_alive()
    }

    /// Writes the head for a streamed body and moves to `Streaming`.
    fn start_streaming(&self) {
        let Some(channel) = self.inner.channel.upgrade() else {
            return;
        };
        let status = self.status();
        let bodiless = status < 200 || status == 204 || status == 304;
        let length = self.inner.response.borrow().content_length;
        let framing = match (bodiless, length, self.version()) {
            (true, _, _) | (false, Some(0), _) => Framing::Empty,
            (false, Some(n), _) => Framing::Length(n),
            (false, None, Version::Http11) => Framing::Chunked,
            (false, None, Version::Http10) => {
                self.inner.must_close.set(true);
                Framing::UntilClose
            }
        };
        let keep_alive = self.keep_alive(&channel);
        let refused = SCRATCH.with(|scratch| {
            let (out, heads) = &mut *scratch.borrow_mut();
            out.clear();
            let written = self.write_head(out, heads, &channel, framing, keep_alive);
            if written {
                channel.write(out);
                self.inner.response.borrow_mut().framing = framing;
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
            self.complete();
        }
    }

    /// Builds the head into `out`; false (with `out` as it was) if a field was refused.
    fn write_head(
        &self,
        out: &mut Vec<u8>,
        heads: &mut HeadCache,
        channel: &Channel,
        framing: Framing,
        keep_alive: bool,
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
        match head.finish(framing, keep_alive) {
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
        self.inner.must_close.set(true);
        let page = error_page(500, "Internal Server Error", "The server failed.");
        out.clear();
        let framing = Framing::Length(page.len() as u64);
        if self.write_head(out, heads, channel, framing, false) {
            if !self.is_head() {
                out.extend_from_slice(page.as_bytes());
            }
            channel.write(out);
        }
        self.inner.phase.set(Phase::Streaming); // the caller completes
    }

    /// `data` cut to what a `Content-Length` still allows (the rest is dropped, logged,
    /// and the connection closes after the response).
    fn clamp_to_length<'d>(&self, data: &'d [u8]) -> &'d [u8] {
        let response = self.inner.response.borrow();
        let Framing::Length(n) = response.framing else {
            return data;
        };
        let room = n.saturating_sub(response.sent);
        if (data.len() as u64) <= room {
            return data;
        }
        tracing::warn!(
            target: "torsion_web::server",
            "{} {}: wrote past Content-Length {n}; excess dropped",
            self.method(),
            self.uri()
        );
        self.inner.must_close.set(true);
        data.get(..room as usize).unwrap_or(data) // room < data.len(), a usize
    }

    /// The response is complete: log it, tell whoever waits, and let the channel go on.
    fn complete(&self) {
        if self.inner.phase.get() != Phase::Streaming {
            return;
        }
        self.inner.phase.set(Phase::Finished);
        super::count_status(self.status());
        self.log_access();
        let waiting = std::mem::take(&mut *self.inner.waiting.borrow_mut());
        for resolver in waiting {
            let _ = resolver.callback(());
        }
        if let Some(channel) = self.inner.channel.upgrade() {
            let keep_alive = self.keep_alive(&channel);
            channel.request_finished(keep_alive);
        }
    }

    fn log_access(&self) {
        // Formatting the client's address costs more than the rest of a small response:
        // only do it when a subscriber records the line.
        if !tracing::enabled!(target: "torsion_web::access", tracing::Level::INFO) {
            return;
        }
        // The wall time the head arrived: now, less how long ago that was on the site's
        // clock (read only for a line that is recorded).
        let ago = match self.inner.channel.upgrade() {
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
                bytes: response.sent,
                referer: head.headers().get("referer"),
                user_agent: head.headers().get("user-agent"),
            }
        );
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method())
            .field("uri", &self.uri())
            .field("client", &self.inner.client)
            .field("phase", &self.inner.phase.get())
            .finish()
    }
}

/// A response field value: borrowed for `'static` text, owned otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderValue(pub Cow<'static, [u8]>);

impl From<&'static str> for HeaderValue {
    fn from(text: &'static str) -> HeaderValue {
        HeaderValue(Cow::Borrowed(text.as_bytes()))
    }
}

impl From<String> for HeaderValue {
    fn from(text: String) -> HeaderValue {
        HeaderValue(Cow::Owned(text.into_bytes()))
    }
}

impl From<&'static [u8]> for HeaderValue {
    fn from(bytes: &'static [u8]) -> HeaderValue {
        HeaderValue(Cow::Borrowed(bytes))
    }
}

impl From<Vec<u8>> for HeaderValue {
    fn from(bytes: Vec<u8>) -> HeaderValue {
        HeaderValue(Cow::Owned(bytes))
    }
}

/// `1*DIGIT` as a u64 with checked arithmetic, else `None`.
fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// What writing response heads on this thread remembers between responses.
#[derive(Default)]
struct HeadCache {
    dates: DateCache,
    checked: CheckedStatics,
}

/// `&'static` response fields already checked, by address and length. The text behind a
/// `&'static str` never changes, so a resource that sets the same constant fields on
/// every response (`Content-Type: text/plain`) has them checked once per thread.
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
