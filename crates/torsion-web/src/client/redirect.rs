//! [`RedirectAgent`]: follows redirects up to a limit (Twisted's `RedirectAgent`, with the
//! method rules of browsers and its `BrowserLikeRedirectAgent`).
//!
//! ```
//! use torsion::Reactor;
//! use torsion_web::client::{Agent, RedirectAgent};
//! let reactor = Reactor::new().unwrap();
//! let agent = RedirectAgent::new(Agent::new(&reactor)).with_limit(5);
//! # let _ = agent;
//! ```
//!
//! | status | next request |
//! |---|---|
//! | 301, 302 | the same method, except POST, which becomes GET without its body |
//! | 303 | GET without a body (HEAD stays HEAD) |
//! | 307, 308 | the same method and body |
//!
//! `Location` is resolved against the URL that answered (RFC 3986). A redirect to
//! another origin (scheme, host or port) drops `Cookie`, `Authorization`,
//! `Proxy-Authorization` and a `Host` given by hand, so credentials never follow a
//! redirect to a server they were not meant for. A method changed to GET also loses
//! `Content-Type`. The body of each redirect response is discarded (its connection goes
//! back to the pool when short). More than [`limit`](RedirectAgent::with_limit) redirects
//! (default [`DEFAULT_REDIRECT_LIMIT`], Twisted's) fail with
//! [`RequestError::TooManyRedirects`]; a redirect without a usable `Location` with
//! [`RequestError::BadRedirect`].

use std::rc::Rc;

use torsion::defer::{fail, succeed, Deferred};
use torsion::Failure;

use super::{Body, RequestError, RequestHeaders, Requester, Response, Url};

/// Redirects followed before giving up, unless set otherwise (Twisted's `redirectLimit`).
pub const DEFAULT_REDIRECT_LIMIT: usize = 20;

/// Wraps an agent to follow redirects; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct RedirectAgent<A> {
    agent: Rc<A>,
    limit: usize,
}

impl<A: Requester + 'static> RedirectAgent<A> {
    /// Follows the redirects that `agent`'s responses ask for.
    pub fn new(agent: A) -> Self {
        RedirectAgent {
            agent: Rc::new(agent),
            limit: DEFAULT_REDIRECT_LIMIT,
        }
    }

    /// Follows at most `limit` redirects per request.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

impl<A: Requester + 'static> Requester for RedirectAgent<A> {
    fn request(
        &self,
        method: &str,
        url: &str,
        headers: RequestHeaders,
        body: Body,
    ) -> Deferred<Response> {
        let url: Url = match url.parse() {
            Ok(url) => url,
            Err(error) => return fail(Failure::new(error)),
        };
        let hops = Hops {
            limit: self.limit,
            done: 0,
        };
        follow(
            self.agent.clone(),
            hops,
            method.to_owned(),
            url,
            headers,
            body,
        )
    }
}

/// Redirects followed so far, and how many may be.
#[derive(Debug, Clone, Copy)]
struct Hops {
    limit: usize,
    done: usize,
}

/// Sends one request of the chain; follows its response if it redirects.
fn follow<A: Requester + 'static>(
    agent: Rc<A>,
    hops: Hops,
    method: String,
    url: Url,
    headers: RequestHeaders,
    body: Body,
) -> Deferred<Response> {
    let sent = agent.request(&method, &url.to_string(), headers.clone(), body.clone());
    sent.add_callback(move |response: Response| {
        let status = response.status();
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return succeed(response);
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|l| std::str::from_utf8(l).ok())
            .map(str::to_owned);
        let Some(location) = location else {
            let url = url.to_string();
            return fail(RequestError::BadRedirect { url, status });
        };
        if hops.done >= hops.limit {
            let (url, limit) = (url.to_string(), hops.limit);
            return fail(RequestError::TooManyRedirects { url, limit });
        }
        let next = match url.join(&location) {
            Ok(next) => next,
            Err(error) => return fail(Failure::new(error)),
        };
        let (mut method, mut headers, mut body) = (method, headers, body);
        let to_get = match status {
            303 => method != "HEAD",
            301 | 302 => method == "POST",
            _ => false,
        };
        if to_get {
            method = "GET".to_owned();
            body = Body::Empty;
            headers.remove("content-type");
        }
        if !url.same_origin(&next) {
            for name in ["cookie", "authorization", "proxy-authorization", "host"] {
                headers.remove(name);
            }
        }
        let hops = Hops {
            done: hops.done + 1,
            ..hops
        };
        // Follow once the redirect's body is read, so that its connection can carry
        // the next request.
        response
            .discard_body()
            .add_callback(move |()| follow(agent, hops, method, next, headers, body))
    })
}
