//! A response: status, headers, and a body that streams in after the head (Twisted's
//! `IResponse`, `readBody` and `deliverBody`).
//!
//! ```
//! # use torsion::defer::{ok, Deferred};
//! # use torsion_web::client::Response;
//! fn print_page(response: Deferred<Response>) -> Deferred<()> {
//!     response
//!         .add_callback(|response: Response| {
//!             println!("{} {}", response.status(), response.url());
//!             response.text() // the whole body, up to DEFAULT_MAX_BODY_SIZE
//!         })
//!         .add_callback(|text: String| {
//!             println!("{text}");
//!             ok(())
//!         })
//! }
//! ```
//!
//! The Deferred of a request fires with the [`Response`] as soon as its head has arrived;
//! the body follows. Read it whole ([`body`](Response::body), [`text`](Response::text),
//! `json` with the `json` feature) with a size limit, or take it chunk by chunk
//! ([`deliver_body`](Response::deliver_body), or any [`BodyConsumer`]). Until one of these
//! is called the client keeps what arrives, and stops reading the connection once
//! [`BODY_BUFFER_LIMIT`] bytes wait, so a body nobody reads holds bounded memory.
//!
//! Dropping a response without taking its body discards the rest of it, so a connection
//! can still be reused after a short body; past [`DISCARD_LIMIT`] more bytes the
//! connection is closed instead.

use std::{cell::RefCell, fmt, rc::Rc};

use torsion::defer::ok;
use torsion::{
    defer::{Deferred, Resolver},
    Failure,
};

use super::{RequestError, Url};
use crate::http::{Headers, Version, DEFAULT_MAX_BODY_SIZE};

/// Body bytes kept for a response whose body nobody has asked for yet, past which the
/// client stops reading its connection until someone does.
pub const BODY_BUFFER_LIMIT: usize = 64 * 1024;

/// Body bytes read and thrown away after a response is dropped unread, past which the
/// connection is closed instead.
pub const DISCARD_LIMIT: u64 = 64 * 1024;

/// An HTTP response whose head has arrived; see the [module docs](self).
pub struct Response {
    status: u16,
    reason: String,
    version: Version,
    headers: Headers,
    url: Url,
    body: Rc<BodyChannel>,
    /// Consumers that wrap the one the body is finally given to (content decoders).
    wrappers: Vec<Wrapper>,
    /// The body was handed to a consumer.
    taken: bool,
}

/// Receives a response body as it arrives (Twisted's protocol given to `deliverBody`).
pub trait BodyConsumer {
    /// Body bytes, in order. An error stops the body: the connection is closed and
    /// [`end`](BodyConsumer::end) gets that error.
    fn data(&mut self, data: &[u8]) -> Result<(), Failure>;

    /// The body is over: `Ok` when it arrived whole, else why not. Called exactly once.
    fn end(self: Box<Self>, result: Result<(), Failure>);
}

/// Turns the consumer a body is given to into the one that receives it first.
type Wrapper = Box<dyn FnOnce(Box<dyn BodyConsumer>) -> Box<dyn BodyConsumer>>;

/// What the body is read from: the connection, paused, resumed or closed by the body's
/// reader.
pub(crate) trait BodySource {
    /// Stop reading: nobody takes the bytes yet.
    fn pause(&self);
    /// Read again.
    fn resume(&self);
    /// The reader refused the body: close the connection, never reuse it.
    fn abort(&self);
}

/// The body's way from the connection to its consumer.
pub(crate) struct BodyChannel {
    state: RefCell<ChannelState>,
    source: Rc<dyn BodySource>,
}

#[derive(Default)]
struct ChannelState {
    /// What arrived before a consumer was attached.
    buffered: Vec<u8>,
    /// How the body ended, if it has and the consumer has not heard it yet.
    ended: Option<Result<(), Failure>>,
    /// The consumer, while attached and not running.
    consumer: Option<Box<dyn BodyConsumer>>,
    attached: bool,
    /// The consumer heard `end`: nothing more goes anywhere.
    closed: bool,
    paused: bool,
}

impl Response {
    pub(crate) fn new(
        status: u16,
        reason: String,
        version: Version,
        headers: Headers,
        url: Url,
        body: Rc<BodyChannel>,
    ) -> Response {
        Response {
            status,
            reason,
            version,
            headers,
            url,
            body,
            wrappers: Vec::new(),
            taken: false,
        }
    }

    /// The status code (Twisted's `code`).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase (Twisted's `phrase`), only for people to read.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The version the server answered with.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The URL this response answers (after redirects, the last one).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The whole body, failing with [`RequestError::BodyTooLarge`] past
    /// [`DEFAULT_MAX_BODY_SIZE`] (Twisted's `readBody`, with the limit it lacks).
    pub fn body(self) -> Deferred<Vec<u8>> {
        self.body_with_limit(DEFAULT_MAX_BODY_SIZE)
    }

    /// The whole body, failing with [`RequestError::BodyTooLarge`] past `max` bytes (after
    /// content decoding); the connection is then closed.
    pub fn body_with_limit(self, max: u64) -> Deferred<Vec<u8>> {
        let (deferred, resolver) = Deferred::new();
        self.deliver_to(Box::new(Collect {
            bytes: Vec::new(),
            max,
            resolver,
        }));
        deferred
    }

    /// The whole body as text (treq's `text`): decoded as the `charset` of
    /// `Content-Type` says for ISO-8859-1 and US-ASCII, else as UTF-8 with invalid bytes
    /// replaced. Limited as [`body`](Response::body).
    pub fn text(self) -> Deferred<String> {
        let latin1 = self
            .headers
            .get("content-type")
            .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase())
            .and_then(|v| {
                v.split(';')
                    .filter_map(|p| p.trim().strip_prefix("charset=").map(str::to_owned))
                    .next()
            })
            .is_some_and(|charset| {
                let charset = charset.trim_matches('"');
                ["iso-8859-1", "latin1", "latin-1", "us-ascii"].contains(&charset)
            });
        self.body().add_callback(move |bytes: Vec<u8>| {
            ok(if latin1 {
                bytes.iter().map(|&b| char::from(b)).collect()
            } else {
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            })
        })
    }

    /// The whole body parsed as JSON (treq's `json`), limited as [`body`](Response::body);
    /// fails with [`RequestError::InvalidJson`]. Needs the `json` feature.
    #[cfg(feature = "json")]
    pub fn json(self) -> Deferred<serde_json::Value> {
        self.body().add_callback(|bytes: Vec<u8>| {
            serde_json::from_slice(&bytes).map_err(|e| {
                Failure::new(RequestError::InvalidJson {
                    message: e.to_string(),
                })
            })
        })
    }

    /// Calls `on_data` with each piece of the body as it arrives; the Deferred fires when
    /// the body is over, or fails with why not. An `Err` from `on_data` stops the body
    /// and closes the connection.
    pub fn deliver_body(
        self,
        on_data: impl FnMut(&[u8]) -> Result<(), Failure> + 'static,
    ) -> Deferred<()> {
        let (deferred, resolver) = Deferred::new();
        self.deliver_to(Box::new(Callback {
            on_data,
            on_end: move |result| {
                let _ = resolver.resolve(result);
            },
        }));
        deferred
    }

    /// Reads the body and throws it away; fires (always with `()`) once it is over, so
    /// that a request made after it can reuse the connection. Past [`DISCARD_LIMIT`]
    /// bytes the connection is closed instead. Dropping a response does the same without
    /// telling anyone.
    pub fn discard_body(self) -> Deferred<()> {
        let (deferred, resolver) = Deferred::new();
        self.deliver_to(Box::new(Discard {
            left: DISCARD_LIMIT,
            resolver: Some(resolver),
        }));
        deferred
    }

    /// Gives the body to `consumer` (Twisted's `deliverBody`): what arrived already at
    /// once, the rest as it comes.
    pub fn deliver_to(mut self, consumer: Box<dyn BodyConsumer>) {
        self.taken = true;
        let mut consumer = consumer;
        // The first wrapper added is nearest the wire: wrap from the innermost out.
        for wrap in std::mem::take(&mut self.wrappers).into_iter().rev() {
            consumer = wrap(consumer);
        }
        self.body.attach(consumer);
    }

    /// Makes `wrap` stand between the body and whatever consumer it is given to later:
    /// how a content decoder undoes a coding. A wrapper added earlier (by an agent nearer
    /// the connection) sees the bytes first.
    pub fn wrap_body(
        &mut self,
        wrap: impl FnOnce(Box<dyn BodyConsumer>) -> Box<dyn BodyConsumer> + 'static,
    ) {
        self.wrappers.push(Box::new(wrap));
    }

    /// Replaces the header fields (a decoder removes `Content-Encoding` and
    /// `Content-Length`, which describe the coded body).
    pub(crate) fn set_headers(&mut self, headers: Headers) {
        self.headers = headers;
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        if !self.taken {
            self.body.attach(Box::new(Discard {
                left: DISCARD_LIMIT,
                resolver: None,
            }));
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url.to_string())
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl BodyChannel {
    pub(crate) fn new(source: Rc<dyn BodySource>) -> Rc<BodyChannel> {
        Rc::new(BodyChannel {
            state: RefCell::default(),
            source,
        })
    }

    /// Bytes from the connection.
    pub(crate) fn push(&self, data: &[u8]) {
        let mut state = self.state.borrow_mut();
        if state.closed {
            return;
        }
        let Some(mut consumer) = state.consumer.take() else {
            if !state.attached {
                state.buffered.extend_from_slice(data);
                if state.buffered.len() >= BODY_BUFFER_LIMIT && !state.paused {
                    state.paused = true;
                    drop(state);
                    self.source.pause();
                }
            }
            return;
        };
        drop(state); // the consumer is user code: it may do anything, this included
        let outcome = consumer.data(data);
        self.after_delivery(consumer, outcome);
    }

    /// The body ended, whole (`Ok`) or not.
    pub(crate) fn finish(&self, result: Result<(), Failure>) {
        let mut state = self.state.borrow_mut();
        if state.closed || state.ended.is_some() {
            return;
        }
        match state.consumer.take() {
            Some(consumer) => {
                state.closed = true;
                drop(state);
                consumer.end(result);
            }
            // Not attached yet, or the consumer is running: it hears this afterwards.
            None => state.ended = Some(result),
        }
    }

    fn attach(&self, mut consumer: Box<dyn BodyConsumer>) {
        let mut state = self.state.borrow_mut();
        if state.attached {
            drop(state);
            consumer.end(Err(Failure::new(RequestError::BodyAlreadyTaken)));
            return;
        }
        state.attached = true;
        let buffered = std::mem::take(&mut state.buffered);
        let resume = std::mem::replace(&mut state.paused, false);
        drop(state);
        let outcome = if buffered.is_empty() {
            Ok(())
        } else {
            consumer.data(&buffered)
        };
        let still_reading = outcome.is_ok();
        self.after_delivery(consumer, outcome);
        if resume && still_reading {
            self.source.resume();
        }
    }

    /// Puts the consumer back after it ran, or ends it: with its own error (closing the
    /// connection), or with an end that arrived meanwhile.
    fn after_delivery(&self, consumer: Box<dyn BodyConsumer>, outcome: Result<(), Failure>) {
        let mut state = self.state.borrow_mut();
        if let Err(failure) = outcome {
            state.closed = true;
            let body_over = state.ended.take().is_some();
            drop(state);
            if !body_over {
                self.source.abort();
            }
            consumer.end(Err(failure));
            return;
        }
        match state.ended.take() {
            Some(result) => {
                state.closed = true;
                drop(state);
                consumer.end(result);
            }
            None => state.consumer = Some(consumer),
        }
    }
}

/// Collects the body up to a limit (`Response::body`).
struct Collect {
    bytes: Vec<u8>,
    max: u64,
    resolver: Resolver<Vec<u8>>,
}

impl BodyConsumer for Collect {
    fn data(&mut self, data: &[u8]) -> Result<(), Failure> {
        if (self.bytes.len() + data.len()) as u64 > self.max {
            return Err(Failure::new(RequestError::BodyTooLarge { max: self.max }));
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    fn end(self: Box<Self>, result: Result<(), Failure>) {
        let Collect {
            bytes, resolver, ..
        } = *self;
        let _ = resolver.resolve(result.map(|()| bytes));
    }
}

/// Calls closures (`Response::deliver_body`).
struct Callback<D, E> {
    on_data: D,
    on_end: E,
}

impl<D, E> BodyConsumer for Callback<D, E>
where
    D: FnMut(&[u8]) -> Result<(), Failure>,
    E: FnOnce(Result<(), Failure>),
{
    fn data(&mut self, data: &[u8]) -> Result<(), Failure> {
        (self.on_data)(data)
    }

    fn end(self: Box<Self>, result: Result<(), Failure>) {
        (self.on_end)(result);
    }
}

/// Reads and drops the body of a response dropped unread, up to a limit.
struct Discard {
    left: u64,
    /// Told when the body is over (whole, refused or failed).
    resolver: Option<Resolver<()>>,
}

impl BodyConsumer for Discard {
    fn data(&mut self, data: &[u8]) -> Result<(), Failure> {
        match self.left.checked_sub(data.len() as u64) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(Failure::new(RequestError::BodyTooLarge {
                max: DISCARD_LIMIT,
            })),
        }
    }

    fn end(self: Box<Self>, _: Result<(), Failure>) {
        if let Some(resolver) = self.resolver {
            let _ = resolver.callback(());
        }
    }
}
