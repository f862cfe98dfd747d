//! The HTTP/1.1 client: [`Agent`] with a connection pool, [`RedirectAgent`],
//! [`ContentDecoder`] for gzip, and a treq-like layer ([`get`], [`post`], [`HttpClient`])
//! (Twisted's `twisted.web.client` and treq).
//!
//! ```no_run
//! use torsion::{task::react, Failure};
//! use torsion_web::client::{get, Response};
//!
//! react(|reactor| {
//!     get(reactor, "http://127.0.0.1:8000/")
//!         .add_callback(|response: Response| {
//!             println!("Got response code {} from {}", response.status(), response.url());
//!             response.text()
//!         })
//!         .add_callback(|text: String| {
//!             println!("{text}");
//!             Ok::<_, Failure>(())
//!         })
//! });
//! ```
//!
//! Every request returns a `Deferred<Response>` that fires when the response head has
//! arrived; the body streams in after it ([`Response::body`], [`Response::text`],
//! [`Response::deliver_body`]). Deferreds are awaitable, so the same reads as
//! `inlineCallbacks` inside `reactor.ensure_deferred(async { .. })`:
//! `let text = get(&reactor, url).await?.text().await?;`.
//!
//! | piece | Twisted | what it adds |
//! |---|---|---|
//! | [`Agent`] | `Agent` + `HTTPConnectionPool` | per-host limit and queue, idle timeout, request timeout |
//! | [`RedirectAgent`] | `RedirectAgent` | browser method rules, credentials dropped across origins |
//! | [`ContentDecoder`] | `ContentDecoderAgent` + `GzipDecoder` | a decompressed-size limit |
//! | [`HttpClient`], [`get`], [`post`], ... | treq | |
//! | [`Response`] | `IResponse`, `readBody`, `deliverBody` | size limits, `text`, `json` (feature `json`) |
//!
//! Only `http://` for now: an `https://` URL fails with [`UrlError::HttpsNotSupported`]
//! ("https is not supported yet") until TLS lands. Failures carry typed errors:
//! [`UrlError`], [`RequestError`], [`WriteError`](crate::http::WriteError) for a request
//! refused before sending, and `torsion::net::ConnectError` for a connection that could
//! not be made.

mod agent;
mod connection;
mod decoder;
mod error;
mod redirect;
mod request;
mod response;
mod treq;
mod url;

pub use agent::{
    Agent, AgentBuilder, Requester, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS_PER_HOST, DEFAULT_REQUEST_TIMEOUT,
};
pub use decoder::{ContentDecoder, DEFAULT_MAX_DECODED_SIZE, FEED_SIZE};
pub use error::RequestError;
pub use redirect::{RedirectAgent, DEFAULT_REDIRECT_LIMIT};
pub use request::{Body, RequestHeaders};
pub use response::{BodyConsumer, Response, BODY_BUFFER_LIMIT, DISCARD_LIMIT};
pub use treq::{delete, get, head, post, put, HttpClient};
pub use url::{Url, UrlError};
