//! One HTTP connection (Twisted's `HTTPChannel`): the adapter between the sans-IO
//! connection core ([`ServerConn`]) and `torsion::net`, the site's clock and the
//! resources.
//!
//! The core keeps every rule of the connection (heads in order, body framing, keep-alive,
//! pipelining, the deadlines, response framing); this file only executes what it
//! returns. Bytes read are stepped through in one loop: a head is routed to its
//! resource and rendered at once, body bytes go into the request, a rejection becomes
//! an error page and a close. A response that ends later (a Deferred, a streamed body)
//! reports to the core through the response engine ([`super::response`]) and the loop
//! runs again over the bytes that waited. One timer serves the core's deadlines, armed
//! only when the core asks for an earlier one, with times from the loop time
//! ([`ReactorTime::loop_time`](torsion::time::ReactorTime::loop_time)): a busy keep-alive
//! connection costs no timer and no clock read per request.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use torsion::defer::ok;
use torsion::net::{Address, CloseReason, Producer, Protocol, Transport};
use torsion::{DelayedCall, Failure};

use super::html::error_page;
use super::incoming_request::Request;
use super::path::{decode_segment, raw_segments};
use super::resource::{
    allow_value, answer_options, error_render, method_allowed, not_found, Render, Resource,
};
use super::SiteInner;
use crate::http::server_conn::{
    Action, BodyWrite, Ending, Finished, Flow, Input, Next, Rejection, ResponsePlan, Route,
    ServerConn,
};
use crate::http::{
    DateCache, Framing, Headers, RequestHead, ResponseHeadWriter, Version, CHUNK_END,
};

/// The protocol a [`Site`](super::Site) builds for each connection.
pub(crate) struct HttpChannel {
    channel: Rc<Channel>,
}

/// One connection, shared with its requests (they hold it weakly).
pub(crate) struct Channel {
    site: Rc<SiteInner>,
    /// Dropped on `connection_lost`: the transport owns this channel's protocol.
    transport: RefCell<Option<Rc<dyn Transport>>>,
    peer: RefCell<Option<Address>>,
    core: RefCell<ServerConn<Exchange>>,
    /// The timer for the core's deadlines, while one is armed.
    timer: RefCell<Option<DelayedCall>>,
    /// The last request answered, kept to serve the next head without an allocation.
    spare: RefCell<Spare>,
}

/// The request in flight, as the core holds it.
pub(crate) struct Exchange {
    request: Request,
    /// The resource that renders the request once its body is read; taken then.
    resource: Option<Rc<dyn Resource>>,
}

/// How a response ends ([`Channel::end_response`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum End {
    /// A whole response went out in one write, by this plan.
    Whole(ResponsePlan),
    /// A started response ended.
    Streamed(Ending),
}

/// The last request answered on a keep-alive connection.
enum Spare {
    /// None (a new connection, or it was let go).
    Empty,
    /// Answered; maybe still held by the resource or a callback.
    Finished(Request),
    /// Held by no one else and emptied: ready for the next head.
    Reclaimed(Request),
}

impl HttpChannel {
    pub(crate) fn new(site: Rc<SiteInner>) -> HttpChannel {
        let core = ServerConn::new(&site.conn);
        HttpChannel {
            channel: Rc::new(Channel {
                site,
                transport: RefCell::new(None),
                peer: RefCell::new(None),
                core: RefCell::new(core),
                timer: RefCell::new(None),
                spare: RefCell::new(Spare::Empty),
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
        let now = channel.loop_time();
        channel
            .core
            .borrow_mut()
            .connection_made(&channel.site.conn, now);
        channel.arm_timer(now);
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
        let now = self.loop_time();
        let config = &self.site.conn;
        let input = self.core.borrow_mut().bytes_read(config, data, now);
        match input {
            Input::Ignore => {}
            Input::Direct => {
                let used = self.run(data, now);
                let rest = data.get(used..).unwrap_or_default();
                let mut core = self.core.borrow_mut();
                let (flow, wanted) = (core.unread(config, rest), core.timer_wanted());
                drop(core);
                self.flow(flow, wanted, now);
            }
            Input::Buffered(buf) => {
                let used = self.run(&buf, now);
                self.unread(buf, used, now);
            }
        }
    }

    /// Gives the core back a buffer the step loop used `used` bytes of.
    fn unread(self: &Rc<Self>, buf: Vec<u8>, used: usize, now: Duration) {
        let mut core = self.core.borrow_mut();
        let flow = core.unread_buffer(&self.site.conn, buf, used);
        let wanted = core.timer_wanted();
        drop(core);
        self.flow(flow, wanted, now);
    }

    /// Steps the core through `input` and does what it says; returns the bytes used.
    fn run(self: &Rc<Self>, input: &[u8], now: Duration) -> usize {
        let config = &self.site.conn;
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            if !rest.is_empty() {
                // Before the next head is parsed, so that it reuses the last one's buffers.
                self.reclaim_finished();
            }
            let (used, action) = self.core.borrow_mut().step(config, rest, now);
            pos += used;
            match action {
                Action::Wait => break,
                Action::Head(head) => {
                    self.head_received(head, now);
                    if pos == input.len() {
                        // Nothing left to step through: only after body bytes can a step
                        // on no input say something (that the body ended).
                        break;
                    }
                }
                Action::Body(data) => {
                    if let Some(exchange) = self.core.borrow().request() {
                        exchange.request.push_body(data);
                    }
                }
                Action::BodyEnd => {
                    self.body_ended();
                    if pos == input.len() {
                        break;
                    }
                }
                Action::Reject(why) => {
                    self.reject(why);
                    break;
                }
                Action::Close | Action::Abort => {
                    self.execute(action);
                    break;
                }
            }
        }
        // The last response's request is usually free now: keep it for the next head
        // rather than its buffers waiting with it.
        self.reclaim_finished();
        pos
    }

    /// A head arrived: find its resource, answer what the head alone decides (404, 405,
    /// 413), then render now or read the body first.
    #[inline]
    fn head_received(self: &Rc<Self>, head: RequestHead, now: Duration) {
        let spare = std::mem::replace(&mut *self.spare.borrow_mut(), Spare::Empty);
        let request = match spare {
            Spare::Reclaimed(request) => request.renew(head, now),
            spare => {
                drop(spare);
                let peer = self.peer.borrow().clone().unwrap_or(Address::Unix(None));
                Request::new(head, peer, Rc::downgrade(self), now)
            }
        };
        let walked = catch_unwind(AssertUnwindSafe(|| self.walk(&request)));
        let resource = match walked {
            Ok(Some(resource)) => resource,
            Ok(None) => return self.answer_early(&request, not_found(&request)),
            Err(panic) => {
                self.answer_now(&request);
                return request.fail(&Failure::from_panic(panic));
            }
        };
        let allowed = resource.allowed_methods();
        if request.method() == "OPTIONS" && !allowed.contains(&"OPTIONS") {
            // RFC 9110 §9.3.7, for `OPTIONS /path` and `OPTIONS *` alike: what this
            // resource (the root, for `*`) allows, with no body.
            answer_options(&request, allowed);
            return self.answer_early(&request, Render::from(""));
        }
        if !method_allowed(allowed, request.method()) {
            request.set_header("Allow", allow_value(allowed));
            let render = error_render(&request, 405, "Method Not Allowed", "Method not allowed.");
            return self.answer_early(&request, render);
        }
        let max = resource
            .max_body_size()
            .unwrap_or(self.site.config.max_body_size);
        let has_body = request.has_body();
        let exchange = Exchange {
            request: request.clone(),
            resource: has_body.then(|| resource.clone()),
        };
        let route = self
            .core
            .borrow_mut()
            .accept(&self.site.conn, exchange, max, now);
        match route {
            Route::Respond => self.dispatch(request, resource),
            Route::ReadBody { interim } => {
                if let Some(interim) = interim {
                    self.write(interim);
                }
            }
            Route::TooLarge(exchange) => {
                drop(exchange);
                let detail = format!("The body is larger than {max} bytes.");
                let render = error_render(&request, 413, "Content Too Large", &detail);
                self.answer_early(&request, render);
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

    /// The core awaits `request`'s response, decided from its head alone.
    fn answer_now(&self, request: &Request) {
        let exchange = Exchange {
            request: request.clone(),
            resource: None,
        };
        self.core.borrow_mut().answer_now(exchange);
    }

    /// Sends a response decided from the head alone; a body the client may be sending is
    /// left unread, so the connection closes after it.
    fn answer_early(&self, request: &Request, render: Render) {
        self.answer_now(request);
        if let Render::Body(body) = render {
            request.respond(&body.0);
        }
    }

    /// The body of the request in flight was read: render it.
    fn body_ended(self: &Rc<Self>) {
        let taken = {
            let mut core = self.core.borrow_mut();
            core.request_mut().and_then(|exchange| {
                let resource = exchange.resource.take()?;
                Some((exchange.request.clone(), resource))
            })
        };
        if let Some((request, resource)) = taken {
            self.dispatch(request, resource);
        }
    }

    /// Renders `request` and sends what `render` returned, now or when it arrives.
    fn dispatch(self: &Rc<Self>, request: Request, resource: Rc<dyn Resource>) {
        match catch_unwind(AssertUnwindSafe(|| resource.render(&request))) {
            Ok(Render::Body(body)) => request.respond(&body.0),
            Ok(Render::Later) => {}
            Ok(Render::Deferred(body)) => {
                let failed = request.clone();
                let _ = body
                    .add_callback(move |body| {
                        request.respond(&body.0);
                        ok(())
                    })
                    .add_errback(move |failure| {
                        failed.fail(&failure);
                        ok(())
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
        if let Ok(mut core) = self.core.try_borrow_mut() {
            core.parser_mut().recycle(headers);
        }
    }

    /// Takes the last request back for the next head if no one else holds it any more
    /// (the usual case): no allocation per request on a keep-alive connection.
    #[inline]
    fn reclaim_finished(&self) {
        if matches!(*self.spare.borrow(), Spare::Finished(_)) {
            self.reclaim();
        }
    }

    /// [`Channel::reclaim_finished`]'s work, once per request.
    #[inline(never)]
    fn reclaim(&self) {
        let mut spare = self.spare.borrow_mut();
        let Spare::Finished(request) = &mut *spare else {
            return;
        };
        match request.reclaim() {
            Some(headers) => {
                if let Spare::Finished(request) = std::mem::replace(&mut *spare, Spare::Empty) {
                    *spare = Spare::Reclaimed(request);
                }
                drop(spare);
                self.recycle(headers);
            }
            None => {
                // Still shared: let it go; its last holder's drop recycles its buffers.
                let shared = std::mem::replace(&mut *spare, Spare::Empty);
                drop(spare);
                drop(shared);
            }
        }
    }

    /// The site clock's time as of the loop's last look at it: cheap, for deadlines and
    /// the time a request arrived.
    #[inline]
    pub(crate) fn loop_time(&self) -> Duration {
        self.site.clock.loop_time()
    }

    /// How a whole response of `len` bytes with `status` is framed; `None` if no
    /// response is awaited.
    #[inline]
    pub(crate) fn plan_whole(&self, status: u16, len: usize) -> Option<ResponsePlan> {
        self.drain_if_draining();
        self.core.borrow().plan_whole(status, len)
    }

    /// How a streamed response is framed; `None` if no response is awaited.
    pub(crate) fn plan_streamed(&self, status: u16, length: Option<u64>) -> Option<ResponsePlan> {
        self.drain_if_draining();
        self.core.borrow().plan_streamed(status, length)
    }

    /// The head (and any whole body) of `plan` is written.
    #[inline]
    pub(crate) fn start_response(&self, plan: ResponsePlan) {
        self.core.borrow_mut().start_response(plan);
    }

    /// Writes a piece of the response body as the core frames it; the announced length
    /// if the core cut it there.
    pub(crate) fn write_body(&self, data: &[u8]) -> Option<u64> {
        let framed = self.core.borrow_mut().send_body(data);
        match framed {
            BodyWrite::Nothing => None,
            BodyWrite::Raw(data) => {
                self.write(data);
                None
            }
            BodyWrite::Chunk(header, data) => {
                self.write_sequence(&[header.as_bytes(), data, CHUNK_END]);
                None
            }
            BodyWrite::Clamped { data, length } => {
                if !data.is_empty() {
                    self.write(data);
                }
                Some(length)
            }
        }
    }

    /// Ends the response on the core and writes what ends its body; the caller hands
    /// the result to [`Channel::after_response`] once it has told its waiters.
    #[inline]
    pub(crate) fn end_response(&self, end: End, now: Duration) -> Option<Finished<Exchange>> {
        let config = &self.site.conn;
        let finished = match end {
            End::Whole(plan) => self.core.borrow_mut().respond_whole(config, plan, now),
            End::Streamed(ending) => self.core.borrow_mut().finish_response(config, ending, now),
        }?;
        if !finished.last.is_empty() {
            self.write(finished.last);
        }
        Some(finished)
    }

    /// Goes on after a response: closes, or reads what waited behind it.
    #[inline]
    pub(crate) fn after_response(self: &Rc<Self>, exchange: Exchange, next: Next, now: Duration) {
        match next {
            Next::Close => {
                drop(exchange);
                self.lose_connection();
                self.arm_timer(now);
            }
            Next::ReadNext { resume } => {
                let older = std::mem::replace(
                    &mut *self.spare.borrow_mut(),
                    Spare::Finished(exchange.request),
                );
                drop(older);
                if resume {
                    if let Some(transport) = &*self.transport.borrow() {
                        transport.resume_producing();
                    }
                }
                // Inside a step loop the loop holds the buffer and this finds nothing:
                // the loop goes on by itself.
                let mut core = self.core.borrow_mut();
                let (buffered, wanted) = (core.take_buffered(), core.timer_wanted());
                drop(core);
                if let Some(at) = wanted {
                    self.schedule(at, now);
                }
                if let Some(buf) = buffered {
                    let used = self.run(&buf, now);
                    self.unread(buf, used, now);
                }
            }
        }
    }

    /// Answers a rejected input with its status and a page naming the cause, and closes:
    /// the rest of the stream cannot be trusted.
    fn reject(&self, why: Rejection) {
        let status = why.status();
        tracing::debug!(target: "torsion_web::server", "rejected with {status}: {why}");
        let title = crate::http::response_head_writer::reason_phrase(status);
        let page = error_page(status, title, &why.to_string());
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
        self.lose_connection();
    }

    /// Does what a timer action says.
    fn execute(&self, action: Action<'_>) {
        match action {
            Action::Reject(why) => self.reject(why),
            Action::Close => {
                tracing::debug!(target: "torsion_web::server", "idle timeout: closing");
                self.lose_connection();
            }
            Action::Abort => {
                tracing::debug!(target: "torsion_web::server", "close did not complete: aborting");
                if let Some(transport) = &*self.transport.borrow() {
                    transport.abort_connection();
                }
            }
            Action::Wait | Action::Head(_) | Action::Body(_) | Action::BodyEnd => {}
        }
    }

    fn connection_lost(self: &Rc<Self>) {
        let in_flight = self.core.borrow_mut().connection_lost();
        if let Some(exchange) = in_flight {
            exchange.request.connection_lost();
        }
        if let Some(timer) = self.timer.borrow_mut().take() {
            let _ = timer.cancel();
        }
        let spare = std::mem::replace(&mut *self.spare.borrow_mut(), Spare::Empty);
        drop(spare);
        self.transport.borrow_mut().take();
    }

    fn lose_connection(&self) {
        if let Some(transport) = &*self.transport.borrow() {
            transport.lose_connection();
        }
    }

    /// Pauses the transport if the core says so, and arms the timer it asks for.
    #[inline]
    fn flow(self: &Rc<Self>, flow: Flow, wanted: Option<Duration>, now: Duration) {
        if flow == Flow::Pause {
            if let Some(transport) = &*self.transport.borrow() {
                transport.pause_producing();
            }
        }
        if let Some(at) = wanted {
            self.schedule(at, now);
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

    /// Arms the timer if the core asks for an earlier one than is armed.
    #[inline]
    fn arm_timer(self: &Rc<Self>, now: Duration) {
        let wanted = self.core.borrow_mut().timer_wanted();
        if let Some(at) = wanted {
            self.schedule(at, now);
        }
    }

    /// Replaces the timer with one at `at` (the core asks rarely: a busy connection's
    /// deadlines only move later).
    #[cold]
    #[inline(never)]
    fn schedule(self: &Rc<Self>, at: Duration, now: Duration) {
        if let Some(old) = self.timer.borrow_mut().take() {
            let _ = old.cancel();
        }
        let weak = Rc::downgrade(self);
        let call = self.site.clock.call_later(
            at.saturating_sub(now),
            Box::new(move || {
                if let Some(channel) = weak.upgrade() {
                    channel.timer_fired();
                }
            }),
        );
        *self.timer.borrow_mut() = Some(call);
    }

    /// While the site drains, every response is the connection's last
    /// ([`Site::drain`](super::Site::drain)): one flag read per response otherwise.
    #[inline]
    fn drain_if_draining(&self) {
        if self.site.drain.is_draining() {
            let now = self.loop_time();
            self.core.borrow_mut().drain(&self.site.conn, now);
        }
    }

    /// The site starts draining: an idle connection closes now, a busy one after its
    /// response.
    pub(crate) fn close_if_idle(self: &Rc<Self>) {
        let now = self.loop_time();
        let closed = self.core.borrow_mut().drain(&self.site.conn, now);
        if closed {
            tracing::debug!(target: "torsion_web::server", "draining: closing an idle connection");
            self.lose_connection();
            self.arm_timer(now);
        }
    }

    fn timer_fired(self: &Rc<Self>) {
        let now = self.loop_time();
        let action = self.core.borrow_mut().timer_fired(&self.site.conn, now);
        self.execute(action);
        self.arm_timer(now);
    }
}
