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
//! # Several URLs at once
//!
//! The talks' treq demo: one Deferred per URL, combined with `gather_results`, which fires
//! once every fetch has (the same code is in the README, beside treq's):
//!
//! ```no_run
//! use torsion::{defer::gather_results, task::react, Deferred, Failure, Reactor};
//! use torsion_web::client::{get, Response};
//!
//! fn get_url(reactor: &Reactor, url: &str) -> Deferred<()> {
//!     let url = url.to_owned();
//!     println!("Getting URL {url}");
//!     get(reactor, &url)
//!         .add_callback(move |resp: Response| {
//!             println!("Got response code {} from {url}", resp.status());
//!             Ok::<_, Failure>(())
//!         })
//!         .add_errback(|failure: Failure| {
//!             println!("Something failed: {}", failure.error_message());
//!             Ok(())
//!         })
//! }
//!
//! react(|reactor| {
//!     let urls = ["http://example.com/", "http://example.org/", "http://example.net/"];
//!     gather_results(urls.map(|url| get_url(reactor, url))).add_callback(|_| Ok::<_, Failure>(()))
//! });
//! ```
//!
//! Deferreds are awaitable, so the `inlineCallbacks` version is plain `async` Rust:
//!
//! ```no_run
//! use torsion::{Failure, Reactor};
//! use torsion_web::client::get;
//!
//! async fn get_url(reactor: Reactor, url: String) -> Result<(), Failure> {
//!     println!("Getting URL {url}");
//!     match get(&reactor, &url).await {
//!         Ok(resp) => println!("Got response code {} from {url}", resp.status()),
//!         Err(e) => println!("Something failed: {e}"),
//!     }
//!     Ok(())
//! }
//! # let reactor = Reactor::new().unwrap();
//! let done = reactor.ensure_deferred(get_url(reactor.clone(), "http://example.com/".into()));
//! # let _ = done;
//! ```
//!
//! # The pieces
//!
//! Every request returns a `Deferred<Response>` that fires when the response head has
//! arrived; the body streams in after it ([`Response::body`], [`Response::text`],
//! [`Response::deliver_body`]).
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

pub mod agent;
mod connection;
pub mod cookies;
pub mod decoder;
pub mod error;
pub mod outgoing;
pub mod redirect;
pub mod response;
pub mod treq;
pub mod url;

pub use agent::{
    Agent, AgentBuilder, Requester, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS_PER_HOST, DEFAULT_REQUEST_TIMEOUT,
};
pub use cookies::{
    Cookie, CookieAgent, CookieError, CookieJar, MAX_COOKIES, MAX_COOKIES_PER_DOMAIN,
    MAX_COOKIE_SIZE,
};
pub use decoder::{ContentDecoder, DEFAULT_MAX_DECODED_SIZE, FEED_SIZE};
pub use error::RequestError;
pub use outgoing::{Body, RequestHeaders};
pub use redirect::{RedirectAgent, DEFAULT_REDIRECT_LIMIT};
pub use response::{BodyConsumer, Response, BODY_BUFFER_LIMIT, DISCARD_LIMIT};
pub use treq::{delete, get, head, post, put, HttpClient};
pub use url::{Url, UrlError};
