//! Request heads written by the client into one buffer, checked before anything is sent
//! (the head that Twisted's `Agent` writes through its `Request._writeHeaders`).
//!
//! ```
//! use torsion_web::http::{RequestBody, RequestHeadWriter, Version, WriteError};
//! let mut out = Vec::new();
//! let mut head = RequestHeadWriter::new(&mut out, "POST", "/upload?x=1", Version::Http11);
//! head.header("Host", "example.com").header("Content-Type", "text/plain");
//! head.finish(RequestBody::Chunked, true).unwrap();
//! assert_eq!(
//!     out,
//!     b"POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\n\
//!       Transfer-Encoding: chunked\r\n\r\n"
//! );
//! // CR or LF in the method, target or a field refuses the head; `out` is left as it was.
//! let head = RequestHeadWriter::new(&mut out, "GET", "/a HTTP/1.1\r\nX: y", Version::Http11);
//! assert_eq!(head.finish(RequestBody::Empty, true), Err(WriteError::InvalidTarget));
//! ```
//!
//! A request's body is always framed explicitly, never left to the end of the connection:
//! [`RequestBody`] says how, and `Content-Length` and `Transfer-Encoding` cannot be given
//! as fields. An empty body writes `Content-Length: 0`, except for methods that define no
//! meaning for a body (GET, HEAD, DELETE, OPTIONS, TRACE, CONNECT), which send no framing
//! field at all (RFC 9110 §8.6). HTTP/1.1 requests must carry `Host`; `keep_alive` adds
//! `Connection: close` (HTTP/1.1) or `Connection: keep-alive` (HTTP/1.0) as needed. As with
//! [`ResponseHeadWriter`](super::ResponseHeadWriter), the first error is kept and returned
//! by `finish`, which then removes everything the writer appended.

use super::headers::is_token;
use super::write::{end_head, push_checked_field, push_decimal, push_field, WriteError};
use super::Version;

/// How the body of a request is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// No body.
    Empty,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// Chunks follow the head (HTTP/1.1 only), ended by the last chunk.
    Chunked,
}

/// Writes one request head into a buffer; see the [module docs](self).
#[derive(Debug)]
pub struct RequestHeadWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Where this head starts in `out`: everything after it goes if the head is refused.
    start: usize,
    version: Version,
    /// The method has a meaning for a body, so an empty one is announced.
    announce_empty: bool,
    has_host: bool,
    /// The first thing refused; `finish` reports it.
    error: Option<WriteError>,
    finished: bool,
}

impl<'a> RequestHeadWriter<'a> {
    /// Starts a head with this request line at the end of `out`. `target` is sent as
    /// given: an origin-form path and query (already percent-encoded), an absolute URI for
    /// a proxy, `host:port` for CONNECT or `*`.
    pub fn new(out: &'a mut Vec<u8>, method: &str, target: &str, version: Version) -> Self {
        let start = out.len();
        let mut error = None;
        if !is_token(method.as_bytes()) {
            error = Some(WriteError::InvalidMethod);
        } else if target.is_empty() || !target.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
            error = Some(WriteError::InvalidTarget);
        } else {
            out.reserve(128 + method.len() + target.len());
            out.extend_from_slice(method.as_bytes());
            out.push(b' ');
            out.extend_from_slice(target.as_bytes());
            out.push(b' ');
            out.extend_from_slice(version.as_str().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let bodiless = ["GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"].contains(&method);
        RequestHeadWriter {
            out,
            start,
            version,
            announce_empty: !bodiless,
            has_host: false,
            error,
            finished: false,
        }
    }

    /// Adds a field, or records why it cannot be sent: a name that is not a token, a value
    /// with a control byte other than HTAB, or a framing field.
    pub fn header(&mut self, name: &str, value: impl AsRef<[u8]>) -> &mut Self {
        if self.error.is_none() {
            match push_field(self.out, name, value.as_ref()) {
                Ok(()) => self.has_host |= name.eq_ignore_ascii_case("host"),
                Err(error) => self.error = Some(error),
            }
        }
        self
    }

    /// Ends the head with the framing and connection fields and the blank line; on error
    /// nothing this writer appended stays in the buffer.
    pub fn finish(mut self, body: RequestBody, keep_alive: bool) -> Result<(), WriteError> {
        if let Some(error) = self.error.take() {
            return Err(error); // dropping `self` removes the partial head
        }
        if self.version == Version::Http11 && !self.has_host {
            return Err(WriteError::MissingHost);
        }
        match body {
            RequestBody::Empty if !self.announce_empty => {}
            RequestBody::Empty => push_checked_field(self.out, "Content-Length", b"0"),
            RequestBody::Length(n) => {
                self.out.extend_from_slice(b"Content-Length: ");
                push_decimal(self.out, n);
                self.out.extend_from_slice(b"\r\n");
            }
            RequestBody::Chunked if self.version == Version::Http10 => {
                return Err(WriteError::ChunkedInHttp10);
            }
            RequestBody::Chunked => push_checked_field(self.out, "Transfer-Encoding", b"chunked"),
        }
        end_head(self.out, self.version, keep_alive);
        self.finished = true;
        Ok(())
    }
}

impl Drop for RequestHeadWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.out.truncate(self.start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Framing, Parsed, RequestParser};

    fn write(
        method: &str,
        target: &str,
        version: Version,
        fields: &[(&str, &[u8])],
        body: RequestBody,
        keep_alive: bool,
    ) -> Result<String, WriteError> {
        let mut out = b"previous".to_vec();
        let mut head = RequestHeadWriter::new(&mut out, method, target, version);
        for (name, value) in fields {
            head.header(name, value);
        }
        let result = head.finish(body, keep_alive);
        let written = String::from_utf8_lossy(&out[8..]).into_owned();
        match result {
            Ok(()) => Ok(written),
            Err(error) => {
                assert_eq!(written, "", "a refused head leaves nothing");
                Err(error)
            }
        }
    }

    const HOST: (&str, &[u8]) = ("Host", b"h");

    #[test]
    fn bodies_are_always_framed_explicitly() {
        use RequestBody::*;
        use Version::*;
        type Row = (
            &'static str,
            Version,
            RequestBody,
            bool,
            Result<&'static str, WriteError>,
        );
        let table: &[Row] = &[
            (
                "GET",
                Http11,
                Empty,
                true,
                Ok("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
            ),
            (
                "HEAD",
                Http11,
                Empty,
                true,
                Ok("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"),
            ),
            (
                "POST",
                Http11,
                Empty,
                true,
                Ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"),
            ),
            (
                "PUT",
                Http11,
                Length(3),
                true,
                Ok("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"),
            ),
            (
                "GET",
                Http11,
                Length(0),
                true,
                Ok("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"),
            ),
            (
                "POST",
                Http11,
                Chunked,
                true,
                Ok("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ),
            (
                "POST",
                Http10,
                Chunked,
                true,
                Err(WriteError::ChunkedInHttp10),
            ),
            (
                "GET",
                Http11,
                Empty,
                false,
                Ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
            ),
            (
                "GET",
                Http10,
                Empty,
                true,
                Ok("GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"),
            ),
            (
                "GET",
                Http10,
                Empty,
                false,
                Ok("GET / HTTP/1.0\r\nHost: h\r\n\r\n"),
            ),
        ];
        for (method, version, body, keep_alive, expected) in table {
            let got = write(method, "/", *version, &[HOST], *body, *keep_alive);
            assert_eq!(
                got.as_deref().map_err(Clone::clone),
                *expected,
                "{method} {version:?} {body:?}"
            );
        }
    }

    #[test]
    fn cr_lf_in_method_target_or_fields_is_refused() {
        type Row = (
            &'static str,
            &'static str,
            &'static [(&'static str, &'static [u8])],
            WriteError,
        );
        let table: &[Row] = &[
            ("GET\r\n", "/", &[HOST], WriteError::InvalidMethod),
            ("GE T", "/", &[HOST], WriteError::InvalidMethod),
            ("", "/", &[HOST], WriteError::InvalidMethod),
            ("GET", "/a\r\nX: y", &[HOST], WriteError::InvalidTarget),
            ("GET", "/a b", &[HOST], WriteError::InvalidTarget),
            ("GET", "/caf\u{e9}", &[HOST], WriteError::InvalidTarget),
            ("GET", "", &[HOST], WriteError::InvalidTarget),
            (
                "GET",
                "/",
                &[HOST, ("X", b"a\r\nb")],
                WriteError::InvalidHeaderValue { name: "X".into() },
            ),
            (
                "GET",
                "/",
                &[HOST, ("X\r\n", b"a")],
                WriteError::InvalidHeaderName {
                    name: "X\r\n".into(),
                },
            ),
            (
                "GET",
                "/",
                &[("Host", b"h\nx")],
                WriteError::InvalidHeaderValue {
                    name: "Host".into(),
                },
            ),
            (
                "GET",
                "/",
                &[HOST, ("Content-Length", b"1")],
                WriteError::FramingHeader {
                    name: "Content-Length".into(),
                },
            ),
            ("GET", "/", &[], WriteError::MissingHost),
        ];
        for (method, target, fields, error) in table {
            let got = write(
                method,
                target,
                Version::Http11,
                fields,
                RequestBody::Empty,
                true,
            );
            assert_eq!(got, Err(error.clone()), "{method:?} {target:?}");
        }
    }

    #[test]
    fn written_heads_parse_back() {
        let mut out = Vec::new();
        let mut head = RequestHeadWriter::new(&mut out, "PATCH", "/x?y=%20", Version::Http11);
        head.header("Host", "example.com:8080");
        head.finish(RequestBody::Length(12), true).unwrap();
        let Ok(Parsed::Complete { value, consumed }) = RequestParser::new().parse(&out) else {
            panic!()
        };
        assert_eq!(consumed, out.len());
        assert_eq!((value.method(), value.target()), ("PATCH", "/x?y=%20"));
        assert_eq!(value.framing(), Framing::Length(12));
    }
}
