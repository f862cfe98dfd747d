//! One HTTP connection: requests read one at a time and answered in order (Twisted's
//! `HTTPChannel`), over the sans-IO parsers of [`crate::http`].
//!
//! The connection is a small state machine ([`State`]): it waits for a head, reads the
//! body (if any) into the request, renders, and waits for the response to finish before
//! it reads the next pipelined head, so responses always go out in request order. Bytes
//! that arrive meanwhile are kept, and reading pauses once more than
//! [`ServerConfig::max_pipelined`] of them wait.
//!
//! One timer per connection enforces its deadline, whichever applies: the idle timeout
//! between requests, the head deadline from a head's first byte to its end (a client
//! sending a byte a second cannot stretch it), the idle timeout again between pieces of
//! a body, and the abort timeout once the server has asked to close. Moving a deadline
//! later only stores it; the timer checks when it fires and sleeps again if needed, so a
//! busy keep-alive connection costs no timer and no clock read per request (deadlines are
//! taken from the loop time, [`ReactorTime::loop_time`](torsion::time::ReactorTime::loop_time)).

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use torsion::net::{Address, CloseReason, Producer, Protocol, Transport};
use torsion::{DelayedCall, Failure};

use super::html::error_page;
use super::path::{decode_segment, raw_segments};
use super::request::Request;
use super::resource::{allow_value, error_render, method_allowed, not_found, Render, Resource};
use super::SiteInner;
use crate::http::{
    BodyDecoder, DateCache, Decoded, Framing, Headers, Parsed, RequestHead, RequestParser,
    ResponseHeadWriter, Version,
};

/// The protocol a [`Site`](super::Site) builds for each connection.
pub(crate) struct HttpChannel {
    channel: Rc<Channel>,
}

/// The state of one connection, shared with its requests (they hold it weakly).
pub(crate) struct Channel {
    site: Rc<SiteInner>,
    /// Dropped on `connection_lost`: the transport owns this channel's protocol.
    transport: RefCell<Option<Rc<dyn Transport>>>,
    peer: RefCell<Option<Address>>,
    parser: RefCell<RequestParser>,
    /// Received bytes not yet consumed: a partial head or body, or pipelined requests
    /// waiting for the current response. Empty (no allocation) when idle.
    buf: RefCell<Vec<u8>>,
    state: RefCell<State>,
    /// Inside [`Channel::run`]: a request finishing now is picked up by that loop.
    processing: Cell<bool>,
    /// Reading is paused because too many pipelined bytes wait.
    paused: Cell<bool>,
    timer: RefCell<Option<DelayedCall>>,
    /// When `timer` fires, while it is pending.
    timer_at: Cell<Option<Duration>>,
    /// When the current deadline falls, and what it is.
    deadline: Cell<Option<(Duration, Deadline)>>,
    /// The last request, once its response is complete: it may still be shared until
    /// it is reclaimed, emptied, for the next head ([`Channel::reclaim_finished`]).
    last: RefCell<Option<Request>>,
    /// `last` is reclaimed: no one else holds it, and it is empty.
    last_reclaimed: Cell<bool>,
}

/// What the connection waits for.
enum State {
    /// A request head (between requests, or partway through one).
    AwaitingHead,
    /// The body of `request`, for `resource`.
    ReadingBody {
        request: Request,
        resource: Rc<dyn Resource>,
        decoder: BodyDecoder,
    },
    /// The response to `request`.
    Responding(Request),
    /// The close the server asked for.
    Closing,
    /// Nothing: the connection is gone.
    Closed,
}

/// Which limit the connection's timer enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    Idle,
    Head,
    Body,
    Abort,
}

/// What one step of [`Channel::run`] did with the input.
enum Next {
    /// Consumed this many bytes; step again.
    Continue(usize),
    /// Consumed this many bytes; wait for more input or for the response.
    Stop(usize),
}

impl HttpChannel {
    pub(crate) fn new(site: Rc<SiteInner>) -> HttpChannel {
        let parser = RequestParser::with_limits(site.config.head_limits);
        HttpChannel {
            channel: Rc::new(Channel {
                site,
                transport: RefCell::new(None),
                peer: RefCell::new(None),
                parser: RefCell::new(parser),
                buf: RefCell::new(Vec::new()),
                state: RefCell::new(State::AwaitingHead),
                processing: Cell::new(false),
                paused: Cell::new(false),
                timer: RefCell::new(None),
                timer_at: Cell::new(None),
                deadline: Cell::new(None),
                last: RefCell::new(None),
                last_reclaimed: Cell::new(false),
            }),
        }
    }
}

impl HttpChannel {
    /// The connection's state, for the site's drain registry.
    pub(crate) fn shared(&self) -> &Rc<Channel> {
        &self.channel
    }
}

impl Protocol for HttpChannel {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let channel = &self.channel;
        *channel.peer.borrow_mut() = Some(transport.peer());
        *channel.transport.borrow_mut() = Some(transport);
        channel.set_deadline(Deadline::Idle, channel.site.config.idle_timeout);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.channel.data_received(data);
    }

    fn connection_lost(&mut self, _: CloseReason) {
        self.channel.connection_lost();
    }
}

impl Channel {
    fn data_received(self: &Rc<Self>, data: &[u8]) {
        if matches!(&*self.state.borrow(), State::Closing | State::Closed) {
            return;
        }
        if let Some((_, Deadline::Body)) = self.deadline.get() {
            self.set_deadline(Deadline::Body, self.site.config.idle_timeout);
        }
        let mut buf = std::mem::take(&mut *self.buf.borrow_mut());
        if buf.is_empty() {
            // The common case: parse straight from the read buffer, copy only a rest.
            let consumed = self.run(data);
            buf.extend_from_slice(data.get(consumed..).unwrap_or_default());
        } else {
            buf.extend_from_slice(data);
            let consumed = self.run(&buf);
            buf.drain(..consumed.min(buf.len()));
        }
        self.keep(buf);
    }

    /// Stores unconsumed input back, or drops it if the connection is closing; pauses
    /// reading when too much waits behind a response.
    fn keep(self: &Rc<Self>, buf: Vec<u8>) {
        let responding = match &*self.state.borrow() {
            State::Closing | State::Closed => return,
            State::Responding(_) => true,
            _ => false,
        };
        if responding && buf.len() > self.site.config.max_pipelined && !self.paused.get() {
            self.paused.set(true);
            if let Some(transport) = &*self.transport.borrow() {
                transport.pause_producing();
            }
        }
        if !buf.is_empty() {
            *self.buf.borrow_mut() = buf;
        }
    }

    /// Reads as many requests from `input` as the state allows; returns the bytes used.
    fn run(self: &Rc<Self>, input: &[u8]) -> usize {
        let was_processing = self.processing.replace(true);
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            let next = match &*self.state.borrow() {
                State::AwaitingHead => None,
                State::ReadingBody { .. } => Some(()),
                State::Responding(_) | State::Closing | State::Closed => break,
            };
            let next = match next {
                None => self.read_head(rest),
                Some(()) => self.read_body(rest),
            };
            match next {
                Next::Continue(n) => pos += n,
                Next::Stop(n) => {
                    pos += n;
                    break;
                }
            }
        }
        self.processing.set(was_processing);
        if !was_processing {
            // The last response's request is usually free now: keep it for the next head
            // rather than its buffers waiting with it.
            self.reclaim_finished();
        }
        pos
    }

    #[inline]
    fn read_head(self: &Rc<Self>, rest: &[u8]) -> Next {
        if rest.is_empty() {
            return Next::Stop(0);
        }
        self.reclaim_finished();
        let parsed = self.parser.borrow_mut().parse(rest);
        match parsed {
            Ok(Parsed::Complete { value, consumed }) => {
                self.head_received(value);
                Next::Continue(consumed)
            }
            Ok(Parsed::Partial) => {
                if !matches!(self.deadline.get(), Some((_, Deadline::Head))) {
                    self.set_deadline(Deadline::Head, self.site.config.head_timeout);
                }
                Next::Stop(0)
            }
            Err(error) => {
                self.reject(error.status(), &error.to_string());
                Next::Stop(0)
            }
        }
    }

    fn read_body(self: &Rc<Self>, rest: &[u8]) -> Next {
        let mut state = self.state.borrow_mut();
        let State::ReadingBody {
            request, decoder, ..
        } = &mut *state
        else {
            return Next::Stop(0);
        };
        match decoder.decode(rest) {
            Ok(Decoded::Data { data, consumed }) => {
                request.push_body(data);
                Next::Continue(consumed)
            }
            Ok(Decoded::Partial { consumed }) => Next::Stop(consumed),
            Ok(Decoded::End { consumed }) => {
                let State::ReadingBody {
                    request, resource, ..
                } = std::mem::replace(&mut *state, State::Closing)
                else {
                    return Next::Stop(0); // matched just above
                };
                drop(state);
                self.deadline.set(None);
                self.dispatch(request, resource);
                Next::Continue(consumed)
            }
            Err(error) => {
                drop(state);
                self.reject(error.status(), &error.to_string());
                Next::Stop(0)
            }
        }
    }

    /// A head arrived: find its resource, answer what the head alone decides (404, 405,
    /// 413), then render now or read the body first.
    #[inline]
    fn head_received(self: &Rc<Self>, head: RequestHead) {
        self.deadline.set(None);
        let received = self.loop_time();
        let reclaimed = self.last_reclaimed.replace(false);
        let last = self.last.borrow_mut().take();
        let request = match last {
            Some(request) if reclaimed => request.renew(head, received),
            _ => {
                let peer = self.peer.borrow().clone().unwrap_or(Address::Unix(None));
                Request::new(head, peer, Rc::downgrade(self), received)
            }
        };
        let walked = catch_unwind(AssertUnwindSafe(|| self.walk(&request)));
        let resource = match walked {
            Ok(Some(resource)) => resource,
            Ok(None) => return self.answer_early(&request, not_found(&request)),
            Err(panic) => {
                *self.state.borrow_mut() = State::Responding(request.clone());
                request.close_after_if_body();
                return request.fail(&Failure::from_panic(panic));
            }
        };
        let allowed = resource.allowed_methods();
        if !method_allowed(allowed, request.method()) {
            request.set_header("Allow", allow_value(allowed));
            let render = error_render(&request, 405, "Method Not Allowed", "Method not allowed.");
            return self.answer_early(&request, render);
        }
        let max = resource
            .max_body_size()
            .unwrap_or(self.site.config.max_body_size);
        let framing = request.head().framing();
        match framing {
            Framing::Empty => self.dispatch(request, resource),
            Framing::Length(n) if n > max => {
                let detail = format!("The body is larger than {max} bytes.");
                let render = error_render(&request, 413, "Content Too Large", &detail);
                self.answer_early(&request, render);
            }
            _ => {
                if request.head().expects_continue() {
                    self.write(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                let decoder = BodyDecoder::new(framing, max)
                    .with_chunked_limits(self.site.config.chunked_limits);
                *self.state.borrow_mut() = State::ReadingBody {
                    request,
                    resource,
                    decoder,
                };
                self.set_deadline(Deadline::Body, self.site.config.idle_timeout);
            }
        }
    }

    /// Walks the path from the root to the resource that renders it.
    fn walk(&self, request: &Request) -> Option<Rc<dyn Resource>> {
        let mut resource = self.site.root.clone();
        // A leaf ends the walk before the next segment is even split off.
        let mut segments = raw_segments(request.path());
        while !resource.is_leaf() {
            let Some(raw) = segments.next() else {
                break;
            };
            request.advance_prepath();
            resource = resource.get_child(&decode_segment(raw), request)?;
        }
        Some(resource)
    }

    /// Sends a response decided from the head alone; a body the client may be sending is
    /// left unread, so the connection closes after it.
    fn answer_early(self: &Rc<Self>, request: &Request, render: Render) {
        request.close_after_if_body();
        *self.state.borrow_mut() = State::Responding(request.clone());
        if let Render::Body(body) = render {
            request.respond(&body.0);
        }
    }

    /// Renders `request` and sends what `render` returned, now or when it arrives.
    fn dispatch(self: &Rc<Self>, request: Request, resource: Rc<dyn Resource>) {
        *self.state.borrow_mut() = State::Responding(request.clone());
        match catch_unwind(AssertUnwindSafe(|| resource.render(&request))) {
            Ok(Render::Body(body)) => request.respond(&body.0),
            Ok(Render::Later) => {}
            Ok(Render::Deferred(body)) => {
                let failed = request.clone();
                let _ = body
                    .add_callback(move |body| {
                        request.respond(&body.0);
                        Ok::<(), Failure>(())
                    })
                    .add_errback(move |failure| {
                        failed.fail(&failure);
                        Ok::<(), Failure>(())
                    });
            }
            Err(panic) => request.fail(&Failure::from_panic(panic)),
        }
    }

    /// A request is dropped: keep its head's buffers for the next one on this connection.
    pub(crate) fn recycle(&self, headers: Headers) {
        if headers.capacity() == 0 {
            return; // a reclaimed request's: the parser already has them
        }
        if let Ok(mut parser) = self.parser.try_borrow_mut() {
            parser.recycle(headers);
        }
    }

    /// Takes the last request back for the next head if no one else holds it any more
    /// (the usual case): no allocation per request on a keep-alive connection.
    fn reclaim_finished(&self) {
        if self.last_reclaimed.get() {
            return;
        }
        let mut last = self.last.borrow_mut();
        let Some(request) = last.as_mut() else {
            return;
        };
        match request.reclaim() {
            Some(headers) => {
                drop(last);
                self.last_reclaimed.set(true);
                self.recycle(headers);
            }
            None => {
                // Still shared: let it go; its last holder's drop recycles its buffers.
                let shared = last.take();
                drop(last);
                drop(shared);
            }
        }
    }

    /// The site clock's time as of the loop's last look at it: cheap, for deadlines and
    /// the time a request arrived.
    pub(crate) fn loop_time(&self) -> Duration {
        self.site.clock.loop_time()
    }

    /// The current response is complete: read the next request, or close.
    pub(crate) fn request_finished(self: &Rc<Self>, keep_alive: bool) {
        if !matches!(&*self.state.borrow(), State::Responding(_)) {
            return;
        }
        if !keep_alive || self.site.drain.is_draining() {
            return self.close();
        }
        let old = std::mem::replace(&mut *self.state.borrow_mut(), State::AwaitingHead);
        if let State::Responding(request) = old {
            let older = self.last.borrow_mut().replace(request);
            self.last_reclaimed.set(false);
            drop(older);
        }
        self.set_deadline(Deadline::Idle, self.site.config.idle_timeout);
        if !self.processing.get() {
            self.resume();
        }
    }

    /// Reads what waited behind a response that finished outside [`Channel::run`].
    fn resume(self: &Rc<Self>) {
        if self.paused.replace(false) {
            if let Some(transport) = &*self.transport.borrow() {
                transport.resume_producing();
            }
        }
        let mut buf = std::mem::take(&mut *self.buf.borrow_mut());
        if buf.is_empty() {
            return;
        }
        let consumed = self.run(&buf);
        buf.drain(..consumed.min(buf.len()));
        self.keep(buf);
    }

    /// Answers `status` to a request that cannot be read on (bad head or body, timeout)
    /// and closes: the rest of the stream cannot be trusted.
    fn reject(self: &Rc<Self>, status: u16, why: &str) {
        tracing::debug!(target: "torsion_web::server", "rejected with {status}: {why}");
        let old = std::mem::replace(&mut *self.state.borrow_mut(), State::Closing);
        if let State::Responding(request) = old {
            // A response is under way; there is no room for another one.
            request.connection_lost();
            return self.close();
        }
        let title = crate::http::response::reason_phrase(status);
        let page = error_page(status, title, why);
        let mut out = Vec::with_capacity(256 + page.len());
        let mut head = ResponseHeadWriter::new(&mut out, Version::Http11, status);
        head.header("Content-Type", "text/html; charset=utf-8");
        head.date(&mut DateCache::new(), SystemTime::now());
        if head
            .finish(Framing::Length(page.len() as u64), false)
            .is_ok()
        {
            out.extend_from_slice(page.as_bytes());
            self.write(&out);
        }
        self.close();
    }

    /// Closes after what was written, with the abort timeout as a backstop.
    fn close(self: &Rc<Self>) {
        *self.state.borrow_mut() = State::Closing;
        *self.buf.borrow_mut() = Vec::new();
        if let Some(transport) = &*self.transport.borrow() {
            transport.lose_connection();
        }
        self.set_deadline(Deadline::Abort, self.site.config.abort_timeout);
    }

    fn connection_lost(self: &Rc<Self>) {
        let old = std::mem::replace(&mut *self.state.borrow_mut(), State::Closed);
        if let State::Responding(request) | State::ReadingBody { request, .. } = old {
            request.connection_lost();
        }
        self.deadline.set(None);
        self.timer_at.set(None);
        if let Some(timer) = self.timer.borrow_mut().take() {
            let _ = timer.cancel();
        }
        *self.buf.borrow_mut() = Vec::new();
        let last = self.last.borrow_mut().take();
        drop(last);
        self.transport.borrow_mut().take();
    }

    /// True unless the connection is closing or the site draining.
    pub(crate) fn may_keep_alive(&self) -> bool {
        !matches!(&*self.state.borrow(), State::Closing | State::Closed)
            && !self.site.drain.is_draining()
    }

    /// The site drains: closes now if idle (waiting for a head, nothing of it received).
    pub(crate) fn close_if_idle(self: &Rc<Self>) {
        let idle = matches!(&*self.state.borrow(), State::AwaitingHead)
            && self.buf.borrow().is_empty()
            && !self.processing.get();
        if idle {
            tracing::debug!(target: "torsion_web::server", "draining: closing an idle connection");
            self.close();
        }
    }

    pub(crate) fn write(&self, data: &[u8]) {
        if let Some(transport) = &*self.transport.borrow() {
            transport.write(data);
        }
    }

    pub(crate) fn write_sequence(&self, data: &[&[u8]]) {
        if let Some(transport) = &*self.transport.borrow() {
            transport.write_sequence(data);
        }
    }

    pub(crate) fn register_producer(&self, producer: Producer) {
        if let Some(transport) = &*self.transport.borrow() {
            if transport.register_producer(producer).is_err() {
                tracing::warn!(target: "torsion_web::server", "a producer is already registered");
            }
        }
    }

    pub(crate) fn unregister_producer(&self) {
        if let Some(transport) = &*self.transport.borrow() {
            transport.unregister_producer();
        }
    }

    /// Sets the deadline `after` from now (none when `after` is `None`). The timer is
    /// rescheduled only when it would fire too late.
    fn set_deadline(self: &Rc<Self>, kind: Deadline, after: Option<Duration>) {
        let Some(after) = after else {
            self.deadline.set(None);
            return;
        };
        let now = self.loop_time();
        let at = now.saturating_add(after);
        self.deadline.set(Some((at, kind)));
        if self.timer_at.get().is_some_and(|fires| fires <= at) {
            return; // it fires first, sees the later deadline, and sleeps again
        }
        self.schedule(after);
    }

    fn schedule(self: &Rc<Self>, delay: Duration) {
        if let Some(old) = self.timer.borrow_mut().take() {
            let _ = old.cancel();
        }
        let weak = Rc::downgrade(self);
        let call = self.site.clock.call_later(
            delay,
            Box::new(move || {
                if let Some(channel) = weak.upgrade() {
                    channel.timer_at.set(None);
                    channel.deadline_reached();
                }
            }),
        );
        self.timer_at.set(Some(call.time()));
        *self.timer.borrow_mut() = Some(call);
    }

    fn deadline_reached(self: &Rc<Self>) {
        let Some((at, kind)) = self.deadline.get() else {
            return;
        };
        let now = self.loop_time();
        if now < at {
            return self.schedule(at - now);
        }
        self.deadline.set(None);
        match kind {
            Deadline::Idle => {
                tracing::debug!(target: "torsion_web::server", "idle timeout: closing");
                self.close();
            }
            Deadline::Head => self.reject(408, "The request head took too long."),
            Deadline::Body => self.reject(408, "The request body stalled."),
            Deadline::Abort => {
                tracing::debug!(target: "torsion_web::server", "close did not complete: aborting");
                if let Some(transport) = &*self.transport.borrow() {
                    transport.abort_connection();
                }
            }
        }
    }
}
