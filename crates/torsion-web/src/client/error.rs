//! Why a request failed: the errors the client puts in a [`Failure`](torsion::Failure).
//!
//! A failed request's Deferred carries one of these, a [`UrlError`](super::UrlError) for
//! a URL it could not fetch, a [`WriteError`] for a request refused before anything was
//! sent, or the `torsion::net` error of a connection that could not be made
//! ([`ConnectError`](torsion::net::ConnectError)). Errbacks tell them apart with
//! `failure.check::<RequestError>()`, never by their messages.

use std::{error::Error, fmt, time::Duration};

use crate::http::{BodyError, HeadError, WriteError};

/// A request that went wrong after it was accepted; see the [module docs](self).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The request refused to be written (CR or LF in the method, target or a header, a
    /// framing header given by hand): nothing was sent.
    InvalidRequest {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// What the writer refused.
        error: WriteError,
    },
    /// No whole response within the request timeout (connect, head and body).
    TimedOut {
        /// The URL.
        url: String,
        /// The timeout.
        after: Duration,
    },
    /// The server's response head broke the rules; the connection was closed.
    BadResponse {
        /// The URL.
        url: String,
        /// What the parser refused.
        error: HeadError,
    },
    /// The response body's framing was invalid or cut short; the connection was closed.
    BadBody {
        /// The URL.
        url: String,
        /// What the decoder refused.
        error: BodyError,
    },
    /// The connection closed before the response head arrived.
    ConnectionClosed {
        /// The URL.
        url: String,
    },
    /// The server sent bytes nobody asked for (before a request, or after a response
    /// ended); the connection was closed.
    UnexpectedData {
        /// The URL of the request the bytes followed.
        url: String,
    },
    /// The body is larger than the reader's limit; the connection was closed.
    BodyTooLarge {
        /// The limit, in bytes.
        max: u64,
    },
    /// The body's content coding (gzip) could not be undone.
    Decoding {
        /// What the decompressor said.
        message: String,
    },
    /// More redirects than the limit.
    TooManyRedirects {
        /// The last URL redirected from.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// A redirect status without a usable `Location`.
    BadRedirect {
        /// The URL that answered.
        url: String,
        /// The status.
        status: u16,
    },
    /// The body was asked for twice, or after the response was dropped.
    BodyAlreadyTaken,
    /// A response body is not valid JSON (`Response::json`).
    InvalidJson {
        /// What the parser said.
        message: String,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::InvalidRequest { method, url, error } => {
                write!(f, "request {method} {url}: refused to send: {error}")
            }
            RequestError::TimedOut { url, after } => {
                write!(f, "request {url}: timed out after {after:?}")
            }
            RequestError::BadResponse { url, error } => {
                write!(f, "request {url}: invalid response: {error}")
            }
            RequestError::BadBody { url, error } => {
                write!(f, "request {url}: invalid response body: {error}")
            }
            RequestError::ConnectionClosed { url } => {
                write!(f, "request {url}: connection closed before the response")
            }
            RequestError::UnexpectedData { url } => {
                write!(f, "request {url}: server sent data after the response")
            }
            RequestError::BodyTooLarge { max } => {
                write!(f, "response body too large: over {max} bytes")
            }
            RequestError::Decoding { message } => {
                write!(f, "response body: content decoding failed: {message}")
            }
            RequestError::TooManyRedirects { url, limit } => {
                write!(f, "request {url}: more than {limit} redirects")
            }
            RequestError::BadRedirect { url, status } => {
                write!(
                    f,
                    "request {url}: redirect {status} without a valid location"
                )
            }
            RequestError::BodyAlreadyTaken => f.write_str("response body already taken"),
            RequestError::InvalidJson { message } => {
                write!(f, "response body is not json: {message}")
            }
        }
    }
}

impl Error for RequestError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            RequestError::InvalidRequest { error, .. } => Some(error),
            RequestError::BadResponse { error, .. } => Some(error),
            RequestError::BadBody { error, .. } => Some(error),
            _ => None,
        }
    }
}
