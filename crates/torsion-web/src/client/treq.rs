//! A treq-like layer: `get`, `post`, `put`, `delete` and `head` returning Deferreds (and
//! awaitable), over any agent.
//!
//! ```no_run
//! use torsion::{defer::{gather_results, ok}, task::react};
//! use torsion_web::client::{get, Response};
//! react(|reactor| {
//!     let urls = ["http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b"];
//!     let statuses = urls.iter().map(|url| {
//!         get(reactor, url).add_callback(|response: Response| ok(response.status()))
//!     });
//!     gather_results(statuses).add_callback(|codes: Vec<u16>| {
//!         println!("{codes:?}");
//!         ok(())
//!     })
//! });
//! ```
//!
//! The free functions ([`get`], [`post`], ...) each use a one-shot, non-persistent agent
//! that follows redirects and undoes gzip, so nothing is left open behind them (like
//! Twisted's `Agent` with its default pool). For keep-alive, make an [`HttpClient`] once
//! and reuse it: [`HttpClient::new`] takes a persistent pooled agent with the same
//! layers, [`HttpClient::with_agent`] any [`Requester`].

use std::{fmt, rc::Rc};

use torsion::{defer::Deferred, Reactor};

use super::{Agent, Body, ContentDecoder, RedirectAgent, RequestHeaders, Requester, Response};

/// Requests by method name over one agent (treq's `HTTPClient`).
#[derive(Clone)]
pub struct HttpClient {
    agent: Rc<dyn Requester>,
}

impl HttpClient {
    /// A client over a persistent pooled [`Agent`] that follows redirects
    /// ([`RedirectAgent`]) and undoes gzip ([`ContentDecoder`]).
    pub fn new(reactor: &Reactor) -> HttpClient {
        HttpClient::with_agent(RedirectAgent::new(ContentDecoder::new(Agent::new(reactor))))
    }

    /// A client over `agent`.
    pub fn with_agent(agent: impl Requester + 'static) -> HttpClient {
        HttpClient {
            agent: Rc::new(agent),
        }
    }

    /// Any method, with headers and a body.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        headers: RequestHeaders,
        body: impl Into<Body>,
    ) -> Deferred<Response> {
        self.agent.request(method, url, headers, body.into())
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> Deferred<Response> {
        self.request("GET", url, RequestHeaders::new(), Body::Empty)
    }

    /// `HEAD url`.
    pub fn head(&self, url: &str) -> Deferred<Response> {
        self.request("HEAD", url, RequestHeaders::new(), Body::Empty)
    }

    /// `POST url` with `body`.
    pub fn post(&self, url: &str, body: impl Into<Body>) -> Deferred<Response> {
        self.request("POST", url, RequestHeaders::new(), body)
    }

    /// `PUT url` with `body`.
    pub fn put(&self, url: &str, body: impl Into<Body>) -> Deferred<Response> {
        self.request("PUT", url, RequestHeaders::new(), body)
    }

    /// `DELETE url`.
    pub fn delete(&self, url: &str) -> Deferred<Response> {
        self.request("DELETE", url, RequestHeaders::new(), Body::Empty)
    }
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpClient(..)")
    }
}

/// A client whose agent is used for one request and then dropped.
fn one_shot(reactor: &Reactor) -> HttpClient {
    let agent = Agent::builder(reactor).persistent(false).build();
    HttpClient::with_agent(RedirectAgent::new(ContentDecoder::new(agent)))
}

/// `GET url` (treq's `get`); see the [module docs](self).
pub fn get(reactor: &Reactor, url: &str) -> Deferred<Response> {
    one_shot(reactor).get(url)
}

/// `HEAD url`.
pub fn head(reactor: &Reactor, url: &str) -> Deferred<Response> {
    one_shot(reactor).head(url)
}

/// `POST url` with `body` (treq's `post`).
pub fn post(reactor: &Reactor, url: &str, body: impl Into<Body>) -> Deferred<Response> {
    one_shot(reactor).post(url, body)
}

/// `PUT url` with `body` (treq's `put`).
pub fn put(reactor: &Reactor, url: &str, body: impl Into<Body>) -> Deferred<Response> {
    one_shot(reactor).put(url, body)
}

/// `DELETE url` (treq's `delete`).
pub fn delete(reactor: &Reactor, url: &str) -> Deferred<Response> {
    one_shot(reactor).delete(url)
}
