//! The client's outgoing request: what it carries besides its method and URL, header
//! fields ([`RequestHeaders`]) and a body ([`Body`]), and how they become the bytes sent
//! (one buffer, checked whole before anything leaves).
//!
//! ```
//! use torsion_web::client::{Body, RequestHeaders};
//! let headers = RequestHeaders::new().with("Accept", "text/plain").with("X-Trace", "1");
//! assert_eq!(headers.get("accept"), Some(&b"text/plain"[..]));
//! let body = Body::from("name=value");
//! assert_eq!(body.len(), Some(10));
//! ```
//!
//! A body is always framed: bytes with `Content-Length`, a [`Body::chunked`] list with
//! `Transfer-Encoding: chunked`; `Content-Length` and `Transfer-Encoding` cannot be set
//! by hand. The client adds `Host` from the URL unless one is given.

use crate::http::{
    encode_chunk, encode_last_chunk, RequestBody, RequestHeadWriter, Version, WriteError,
};

use super::Url;

/// Header fields of a request, in order, repeats allowed (Twisted's `Headers`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHeaders {
    fields: Vec<(String, Vec<u8>)>,
}

/// The body of a request (what Twisted's `IBodyProducer` gives, held in memory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// These bytes, sent with `Content-Length`.
    Bytes(Vec<u8>),
    /// These chunks, sent with `Transfer-Encoding: chunked` (empty chunks are skipped).
    Chunked(Vec<Vec<u8>>),
}

impl RequestHeaders {
    /// No fields.
    pub fn new() -> Self {
        RequestHeaders::default()
    }

    /// Adds a field and gives the set back, for building in one expression.
    pub fn with(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.add(name, value);
        self
    }

    /// Adds a field (checked when the request is written, not here).
    pub fn add(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.fields.push((name.to_owned(), value.as_ref().to_vec()));
    }

    /// Removes every field named `name` (compared without case).
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of `name` (compared without case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// True if a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> FromIterator<(N, V)> for RequestHeaders {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut headers = RequestHeaders::new();
        for (name, value) in iter {
            headers.add(name.as_ref(), value);
        }
        headers
    }
}

impl Body {
    /// A body sent in chunks, for a length not known up front.
    pub fn chunked(chunks: impl IntoIterator<Item = Vec<u8>>) -> Body {
        Body::Chunked(chunks.into_iter().collect())
    }

    /// The length sent as `Content-Length`, if the body has one.
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(bytes) => Some(bytes.len() as u64),
            Body::Chunked(_) => None,
        }
    }

    /// True for [`Body::Empty`].
    pub fn is_empty(&self) -> bool {
        matches!(self, Body::Empty)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::Bytes(bytes)
    }
}

impl From<&[u8]> for Body {
    fn from(bytes: &[u8]) -> Body {
        Body::Bytes(bytes.to_vec())
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Body {
        Body::Bytes(text.as_bytes().to_vec())
    }
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::Bytes(text.into_bytes())
    }
}

/// The whole request, head and body, as it goes on the wire; or why it must not.
pub(crate) fn encode_request(
    method: &str,
    url: &Url,
    headers: &RequestHeaders,
    body: &Body,
    keep_alive: bool,
) -> Result<Vec<u8>, WriteError> {
    let mut out = Vec::new();
    let mut head = RequestHeadWriter::new(&mut out, method, url.target(), Version::Http11);
    if !headers.contains("host") {
        head.header("Host", url.authority());
    }
    for (name, value) in headers.iter() {
        head.header(name, value);
    }
    let framing = match body {
        Body::Empty => RequestBody::Empty,
        Body::Bytes(bytes) => RequestBody::Length(bytes.len() as u64),
        Body::Chunked(_) => RequestBody::Chunked,
    };
    head.finish(framing, keep_alive)?;
    match body {
        Body::Empty => {}
        Body::Bytes(bytes) => out.extend_from_slice(bytes),
        Body::Chunked(chunks) => {
            for chunk in chunks.iter().filter(|c| !c.is_empty()) {
                encode_chunk(chunk, &mut out);
            }
            encode_last_chunk(&[], &mut out)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(method: &str, headers: RequestHeaders, body: Body) -> Result<String, WriteError> {
        let url: Url = "http://h.example:8080/p?q".parse().unwrap();
        encode_request(method, &url, &headers, &body, true)
            .map(|bytes| String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn every_body_is_framed() {
        assert_eq!(
            encode("GET", RequestHeaders::new(), Body::Empty).unwrap(),
            "GET /p?q HTTP/1.1\r\nHost: h.example:8080\r\n\r\n"
        );
        assert_eq!(
            encode("POST", RequestHeaders::new(), Body::Empty).unwrap(),
            "POST /p?q HTTP/1.1\r\nHost: h.example:8080\r\nContent-Length: 0\r\n\r\n"
        );
        assert_eq!(
            encode("PUT", RequestHeaders::new(), Body::from("hi")).unwrap(),
            "PUT /p?q HTTP/1.1\r\nHost: h.example:8080\r\nContent-Length: 2\r\n\r\nhi"
        );
        assert_eq!(
            encode(
                "POST",
                RequestHeaders::new(),
                Body::chunked([b"ab".to_vec(), vec![]])
            )
            .unwrap(),
            "POST /p?q HTTP/1.1\r\nHost: h.example:8080\r\nTransfer-Encoding: chunked\r\n\r\n\
             2\r\nab\r\n0\r\n\r\n"
        );
    }

    #[test]
    fn a_given_host_wins_and_framing_headers_are_refused() {
        let headers = RequestHeaders::new().with("host", "other");
        assert!(encode("GET", headers, Body::Empty)
            .unwrap()
            .starts_with("GET /p?q HTTP/1.1\r\nhost: other\r\n"));
        let headers = RequestHeaders::new().with("Content-Length", "5");
        assert!(matches!(
            encode("POST", headers, Body::from("hello")),
            Err(WriteError::FramingHeader { .. })
        ));
    }

    #[test]
    fn cr_and_lf_are_refused_everywhere() {
        assert_eq!(
            encode("GET\r\nX", RequestHeaders::new(), Body::Empty),
            Err(WriteError::InvalidMethod)
        );
        let headers = RequestHeaders::new().with("X-A", "1\r\nX-B: 2");
        assert!(matches!(
            encode("GET", headers, Body::Empty),
            Err(WriteError::InvalidHeaderValue { .. })
        ));
        let headers = RequestHeaders::new().with("X-A\n", "1");
        assert!(matches!(
            encode("GET", headers, Body::Empty),
            Err(WriteError::InvalidHeaderName { .. })
        ));
    }
}
