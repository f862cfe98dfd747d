//! Response heads read strictly on the client side (the parsing half of Twisted's
//! `HTTPClientParser`), with the body framing of RFC 9112 §6.3.
//!
//! ```
//! use torsion_web::http::{Framing, Parsed, ResponseParser};
//! let mut parser = ResponseParser::new();
//! let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
//! let Ok(Parsed::Complete { value: head, consumed }) = parser.parse(bytes, "GET") else { panic!() };
//! assert_eq!((head.status(), head.reason()), (200, "OK"));
//! assert_eq!(head.framing(), Framing::Length(2));
//! assert_eq!(&bytes[consumed..], b"hi");
//! // The same head answering HEAD has no body, whatever Content-Length says.
//! let Ok(Parsed::Complete { value: head, .. }) = parser.parse(bytes, "HEAD") else { panic!() };
//! assert_eq!((head.framing(), head.content_length()), (Framing::Empty, Some(2)));
//! ```
//!
//! The parser takes the request's method because the framing of a response depends on it
//! (RFC 9112 §6.3): a response to HEAD, a 1xx, 204 or 304 response, and a 2xx answer to
//! CONNECT (the tunnel that follows is not a body) have none; otherwise chunked, then
//! `Content-Length`, then everything until the server closes. A 1xx head is returned like
//! any other: the caller reads the next head for the final response.
//!
//! The line, field and limit rules are those of [`head`](super::head), with the same
//! [`HeadLimits`]: a server that sends a bare LF, a folded line or conflicting framing is
//! refused rather than guessed at. Two differences fit the client's side: a
//! `Transfer-Encoding` that does not end in `chunked` is refused too (RFC 9112 would read
//! until close, but we would hand the caller bytes in a coding we cannot undo), and there
//! is no `Host` rule.

use super::head::{diagnose, Facts, Framing, HeadError, HeadLimits, Scanner};
use super::headers::{Headers, Span};
use super::{Parsed, Version};

/// A response head: status line and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    headers: Headers,
    reason: Span,
    version: Version,
    status: u16,
    framing: Framing,
    content_length: Option<u64>,
    keep_alive: bool,
}

/// Reads response heads from the bytes of a connection; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct ResponseParser {
    limits: HeadLimits,
    scanner: Scanner,
}

impl ResponseHead {
    /// The status code, 100 to 999.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, possibly empty; only for people to read.
    pub fn reason(&self) -> &str {
        self.headers.text(self.reason)
    }

    /// HTTP/1.0 or HTTP/1.1.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// How the body is delimited.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The `Content-Length`, if one was sent (even when the response has no body).
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// True if the connection may carry another request after this response: HTTP/1.1
    /// unless `Connection: close`, HTTP/1.0 only with `keep-alive`, and never after a body
    /// that ends when the connection closes.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// True for an interim (1xx) response; the final one follows.
    pub fn is_interim(&self) -> bool {
        self.status < 200
    }
}

impl ResponseParser {
    /// A parser with the default [`HeadLimits`].
    pub fn new() -> Self {
        ResponseParser::default()
    }

    /// A parser with these limits.
    pub fn with_limits(limits: HeadLimits) -> Self {
        ResponseParser {
            limits,
            scanner: Scanner::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> HeadLimits {
        self.limits
    }

    /// Reads one response head from the start of `buf`, everything received since the
    /// last message ended, answering a request made with `method`. `Partial`: call again
    /// with more bytes appended.
    pub fn parse(&mut self, buf: &[u8], method: &str) -> Result<Parsed<ResponseHead>, HeadError> {
        let scanned = self.scanner.scan(buf, &self.limits);
        if !matches!(scanned, Ok(None)) {
            self.scanner = Scanner::default(); // the next call reads the next head
        }
        let Some(end) = scanned? else {
            return Ok(Parsed::Partial);
        };
        let head = buf.get(..end.len).unwrap_or_default(); // the scanner saw every byte of it
        let value = parse_response(head, end.fields, method, &self.limits)?;
        Ok(Parsed::Complete {
            value,
            consumed: end.len,
        })
    }
}

/// Parses a complete response head of at most `fields` fields.
fn parse_response(
    head: &[u8],
    fields: usize,
    method: &str,
    limits: &HeadLimits,
) -> Result<ResponseHead, HeadError> {
    let mut storage = [httparse::EMPTY_HEADER; 32];
    let mut heap = Vec::new();
    let slots: &mut [httparse::Header<'_>] = if fields <= storage.len() {
        &mut storage
    } else {
        heap.resize(fields, httparse::EMPTY_HEADER);
        &mut heap
    };
    let mut response = httparse::Response::new(slots);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::InvalidStatusLine),
        Err(error) => return Err(diagnose(head, error, false, limits)),
    }
    let (Some(minor), Some(status), Some(reason)) =
        (response.version, response.code, response.reason)
    else {
        return Err(HeadError::InvalidStatusLine);
    };
    // httparse reads any three digits; a status starts with 1-9 (RFC 9110 §15).
    if !(100..=999).contains(&status) || reason.bytes().any(|b| b.is_ascii_control() && b != b'\t')
    {
        return Err(HeadError::InvalidStatusLine);
    }
    let version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    let facts = Facts::read(response.headers, version)?;
    let no_body = method == "HEAD"
        || status < 200
        || status == 204
        || status == 304
        || (method == "CONNECT" && (200..300).contains(&status));
    let framing = if no_body {
        Framing::Empty
    } else if facts.chunked {
        Framing::Chunked
    } else {
        match facts.content_length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    let mut headers = Headers::with_capacity(head.len(), response.headers.len());
    let reason = headers.push_text(reason);
    for field in response.headers.iter() {
        headers.push(field.name, field.value);
    }
    Ok(ResponseHead {
        headers,
        reason,
        version,
        status,
        framing,
        content_length: facts.content_length,
        keep_alive: facts.keep_alive && framing != Framing::UntilClose,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds growing prefixes ending at each of `cuts`, then all of `input`, to a fresh
    /// parser; the first answer that is not `Partial`.
    fn feed(
        input: &[u8],
        method: &str,
        cuts: impl Iterator<Item = usize>,
    ) -> Option<Result<(ResponseHead, usize), HeadError>> {
        let mut parser = ResponseParser::new();
        for end in cuts.chain(std::iter::once(input.len())) {
            match parser.parse(&input[..end], method) {
                Ok(Parsed::Partial) => continue,
                Ok(Parsed::Complete { value, consumed }) => return Some(Ok((value, consumed))),
                Err(error) => return Some(Err(error)),
            }
        }
        None
    }

    /// Parses whole, split at every offset and one byte at a time; all must agree.
    fn parse(input: &[u8], method: &str) -> Result<ResponseHead, HeadError> {
        let whole = feed(input, method, std::iter::empty());
        for split in 1..input.len() {
            assert_eq!(
                feed(input, method, std::iter::once(split)),
                whole,
                "split {split}: {input:?}"
            );
        }
        assert_eq!(
            feed(input, method, 1..input.len()),
            whole,
            "byte at a time: {input:?}"
        );
        let (head, consumed) = whole.expect("a complete head")?;
        assert_eq!(consumed, input.len(), "{input:?}");
        Ok(head)
    }

    #[test]
    fn framing_follows_rfc_9112_section_6_3() {
        use Framing::*;
        let table: &[(&str, &str, Result<Framing, HeadError>)] = &[
            (
                "GET",
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                Ok(Length(5)),
            ),
            (
                "GET",
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                Ok(Empty),
            ),
            (
                "GET",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                Ok(Chunked),
            ),
            ("GET", "HTTP/1.1 200 OK\r\n\r\n", Ok(UntilClose)),
            ("GET", "HTTP/1.0 200 OK\r\n\r\n", Ok(UntilClose)),
            (
                "HEAD",
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                Ok(Empty),
            ),
            (
                "HEAD",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                Ok(Empty),
            ),
            ("GET", "HTTP/1.1 100 Continue\r\n\r\n", Ok(Empty)),
            ("GET", "HTTP/1.1 101 Switching Protocols\r\n\r\n", Ok(Empty)),
            ("GET", "HTTP/1.1 204 No Content\r\n\r\n", Ok(Empty)),
            (
                "GET",
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                Ok(Empty),
            ),
            ("CONNECT", "HTTP/1.1 200 OK\r\n\r\n", Ok(Empty)),
            (
                "CONNECT",
                "HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n",
                Ok(Length(3)),
            ),
            (
                "GET",
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                Err(HeadError::ConflictingContentLength),
            ),
            (
                "GET",
                "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
                Err(HeadError::InvalidContentLength),
            ),
            (
                "GET",
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(HeadError::ContentLengthWithTransferEncoding),
            ),
            (
                "GET",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                Err(HeadError::ChunkedNotLast),
            ),
            (
                "GET",
                "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(HeadError::TransferEncodingInHttp10),
            ),
        ];
        for (method, input, expected) in table {
            let got = parse(input.as_bytes(), method).map(|head| head.framing());
            assert_eq!(&got, expected, "{method} {input:?}");
        }
    }

    #[test]
    fn status_lines_are_checked() {
        type Row = (&'static str, Result<(u16, &'static str), HeadError>);
        let table: &[Row] = &[
            ("HTTP/1.1 200 OK\r\n\r\n", Ok((200, "OK"))),
            ("HTTP/1.1 404 \r\n\r\n", Ok((404, ""))),
            ("HTTP/1.1 404\r\n\r\n", Ok((404, ""))),
            (
                "HTTP/1.1 599 Whatever It Says\r\n\r\n",
                Ok((599, "Whatever It Says")),
            ),
            (
                "HTTP/1.1 099 Low\r\n\r\n",
                Err(HeadError::InvalidStatusLine),
            ),
            ("HTTP/1.1 20 OK\r\n\r\n", Err(HeadError::InvalidStatusLine)),
            (
                "HTTP/1.1 2000 OK\r\n\r\n",
                Err(HeadError::InvalidStatusLine),
            ),
            (
                "HTTP/1.1  200 OK\r\n\r\n",
                Err(HeadError::InvalidStatusLine),
            ),
            (
                "HTTP/2.0 200 OK\r\n\r\n",
                Err(HeadError::UnsupportedVersion),
            ),
            ("HTTX/1.1 200 OK\r\n\r\n", Err(HeadError::InvalidStatusLine)),
            (
                "HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
                Err(HeadError::WhitespaceBeforeColon),
            ),
            (
                "HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n",
                Err(HeadError::ObsoleteLineFolding),
            ),
            (
                "HTTP/1.1 200 OK\nX: y\r\n\r\n",
                Err(HeadError::BareLineFeed),
            ),
        ];
        for (input, expected) in table {
            let got = parse(input.as_bytes(), "GET").map(|h| (h.status(), h.reason().to_owned()));
            let expected = expected.map(|(s, r)| (s, r.to_owned()));
            assert_eq!(got, expected, "{input:?}");
        }
    }

    #[test]
    fn keep_alive_needs_a_delimited_body() {
        let table: &[(&str, bool)] = &[
            ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", true),
            (
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
                false,
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", false),
            ("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false),
            (
                "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n",
                true,
            ),
            ("HTTP/1.1 204 No Content\r\n\r\n", true),
        ];
        for (input, keep_alive) in table {
            assert_eq!(
                parse(input.as_bytes(), "GET").unwrap().keep_alive(),
                *keep_alive,
                "{input:?}"
            );
        }
    }

    #[test]
    fn interim_responses_are_returned_one_by_one() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let mut parser = ResponseParser::new();
        let Ok(Parsed::Complete { value, consumed }) = parser.parse(input, "POST") else {
            panic!("first head")
        };
        assert!(value.is_interim());
        let Ok(Parsed::Complete { value, .. }) = parser.parse(&input[consumed..], "POST") else {
            panic!("second head")
        };
        assert_eq!((value.status(), value.is_interim()), (200, false));
    }
}
