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
use std::rc::{Rc, Weak};
use std::time::Duration;

use torsion::defer::{fail, succeed, Resolver};
use torsion::net::{Address, Producer};
use torsion::Deferred;

use super::channel::Channel;
use super::html::escape;
use super::path::{decode_segment, query_args, raw_segments, split_target};
use super::response::{Phase, Response};
use crate::http::{Headers, RequestHead, Version};

/// A request being answered; see the [module docs](self).
#[derive(Clone)]
pub struct Request {
    pub(super) inner: Rc<Inner>,
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

/// What clones of a [`Request`] share. The response engine (`server/response.rs`)
/// reads and moves the response's fields and phase.
pub(super) struct Inner {
    pub(super) head: RequestHead,
    /// The end of the path in the target (where `?` or the target ends).
    path: (usize, usize),
    pub(super) client: Address,
    /// When the head arrived, on the site's clock ([`Channel::loop_time`]).
    pub(super) received: Duration,
    pub(super) channel: Weak<Channel>,
    /// How many segments of the path the walk to the resource consumed.
    prepath_len: Cell<usize>,
    body: RefCell<Vec<u8>>,
    pub(super) response: RefCell<Response>,
    pub(super) phase: Cell<Phase>,
    /// Who waits for the response to end ([`Request::notify_finish`]).
    pub(super) waiting: RefCell<Vec<Resolver<()>>>,
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
        self.phase.set(Phase::Pending);
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
                response: RefCell::new(Response::new()),
                phase: Cell::new(Phase::Pending),
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
        self.write_body(data);
    }
    /// Ends the response (Twisted's `finish`): the last chunk, or the whole response if
    /// nothing was written. Does nothing the second time or after the client left.
    pub fn finish(&self) {
        self.finish_response();
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

    /// True if the head announces a body (read or not).
    pub(crate) fn has_body(&self) -> bool {
        self.inner.head.framing() != crate::http::Framing::Empty
    }

    /// Records that the walk consumed one more segment.
    pub(crate) fn advance_prepath(&self) {
        self.inner.prepath_len.set(self.inner.prepath_len.get() + 1);
    }

    /// Appends body bytes as they are read.
    pub(crate) fn push_body(&self, data: &[u8]) {
        self.inner.body.borrow_mut().extend_from_slice(data);
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
