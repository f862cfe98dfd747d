//! Response heads written into one buffer, checked before anything is sent (the writing
//! half of Twisted's `Request.write` for the head).
//!
//! ```
//! use torsion_web::http::{Framing, ResponseHeadWriter, Version, WriteError};
//! let mut out = Vec::new();
//! let mut head = ResponseHeadWriter::new(&mut out, Version::Http11, 404);
//! head.header("Content-Type", "text/html");
//! head.finish(Framing::Chunked, false).unwrap();
//! assert_eq!(
//!     out,
//!     b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\
//!       Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
//! );
//! // A value that would inject a field is refused, and nothing is left in `out`.
//! let mut head = ResponseHeadWriter::new(&mut out, Version::Http11, 302);
//! head.header("Location", "/next\r\nSet-Cookie: stolen=1");
//! assert!(matches!(head.finish(Framing::Empty, true), Err(WriteError::InvalidHeaderValue { .. })));
//! assert!(out.ends_with(b"Connection: close\r\n\r\n")); // only the first head remains
//! ```
//!
//! The status line, the fields, then the framing and connection fields and the blank line
//! go into the caller's `Vec` in one pass, so a response with a small body can leave in
//! one write. Fields are checked as they are added; the first error is kept and returned
//! by [`finish`](ResponseHeadWriter::finish), which then removes everything this writer
//! appended (so does dropping a writer without finishing it).
//!
//! The writer owns framing: `Content-Length` and `Transfer-Encoding` cannot be given as
//! fields, only as the [`Framing`] passed to `finish`, which writes (RFC 9112 §6, RFC 9110
//! §8.6):
//!
//! | framing | 1xx, 204 | 304 | any other status |
//! |---|---|---|---|
//! | `Empty` | nothing | nothing | `Content-Length: 0` |
//! | `Length(n)` | refused | `Content-Length: n` | `Content-Length: n` |
//! | `Chunked` | refused | refused | `Transfer-Encoding: chunked` (refused in HTTP/1.0) |
//! | `UntilClose` | refused | refused | nothing, and the connection closes |
//!
//! For a response to HEAD, pass the framing the GET response would have and send no body.
//! `keep_alive` adds `Connection: close` to an HTTP/1.1 response that ends its connection
//! and `Connection: keep-alive` to an HTTP/1.0 one that keeps it.

use std::time::{Duration, SystemTime};

use super::date::DateCache;
use super::head::Framing;
use super::headers::is_field_value;
use super::write::{end_head, push_checked_field, push_content_length, push_field, WriteError};

#[cfg(doc)]
use super::check_response_field;
use super::Version;

/// Writes one response head into a buffer; see the [module docs](self).
#[derive(Debug)]
pub struct ResponseHeadWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Where this head starts in `out`: everything after it goes if the head is refused.
    start: usize,
    version: Version,
    status: u16,
    /// The first thing refused; `finish` reports it.
    error: Option<WriteError>,
    finished: bool,
}

impl<'a> ResponseHeadWriter<'a> {
    /// Starts a head with `status` and its usual reason phrase (empty for codes without
    /// one) at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>, version: Version, status: u16) -> Self {
        let Some(line) = status_line(version, status) else {
            return ResponseHeadWriter::with_reason(out, version, status, reason_phrase(status));
        };
        let start = out.len();
        out.reserve(128);
        out.extend_from_slice(line);
        ResponseHeadWriter {
            out,
            start,
            version,
            status,
            error: None,
            finished: false,
        }
    }

    /// Starts a head with `status` and this reason phrase at the end of `out`.
    pub fn with_reason(out: &'a mut Vec<u8>, version: Version, status: u16, reason: &str) -> Self {
        let start = out.len();
        let mut error = None;
        if !(100..=999).contains(&status) {
            error = Some(WriteError::InvalidStatus { status });
        } else if !is_field_value(reason.as_bytes()) {
            error = Some(WriteError::InvalidReason);
        } else {
            out.reserve(128 + reason.len());
            out.extend_from_slice(version.as_str().as_bytes());
            out.push(b' ');
            // Three digits, 100..=999 as checked above.
            let digit = |n: u16| b'0' + (n % 10) as u8;
            out.extend_from_slice(&[digit(status / 100), digit(status / 10), digit(status), b' ']);
            out.extend_from_slice(reason.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        ResponseHeadWriter {
            out,
            start,
            version,
            status,
            error,
            finished: false,
        }
    }

    /// Adds a field, or records why it cannot be sent: a name that is not a token, a value
    /// with a control byte other than HTAB, or a framing field.
    pub fn header(&mut self, name: &str, value: impl AsRef<[u8]>) -> &mut Self {
        if self.error.is_none() {
            if let Err(error) = push_field(self.out, name, value.as_ref()) {
                self.error = Some(error);
            }
        }
        self
    }

    /// Adds a field the caller has already checked with [`check_response_field`].
    pub(crate) fn checked_header(&mut self, name: &str, value: &[u8]) -> &mut Self {
        if self.error.is_none() {
            push_checked_field(self.out, name, value);
        }
        self
    }

    /// Adds `Date` for `now`, formatted through `dates`.
    pub fn date(&mut self, dates: &mut DateCache, now: SystemTime) -> &mut Self {
        if self.error.is_none() {
            self.out.extend_from_slice(dates.field_line(now));
        }
        self
    }

    /// Adds `Date` from `dates`, which asks `wall` for the wall clock only when the
    /// monotonic `mono` says its second may be over ([`DateCache::field_line_at`]).
    pub(crate) fn date_at(
        &mut self,
        dates: &mut DateCache,
        mono: Duration,
        wall: impl FnOnce() -> SystemTime,
    ) -> &mut Self {
        if self.error.is_none() {
            self.out.extend_from_slice(dates.field_line_at(mono, wall));
        }
        self
    }

    /// Ends the head with the framing and connection fields and the blank line; on error
    /// nothing this writer appended stays in the buffer.
    pub fn finish(mut self, framing: Framing, keep_alive: bool) -> Result<(), WriteError> {
        if let Some(error) = self.error.take() {
            return Err(error); // dropping `self` removes the partial head
        }
        let status = self.status;
        let bodiless = status < 200 || status == 204;
        match framing {
            Framing::Empty if bodiless || status == 304 => {}
            Framing::Empty => push_checked_field(self.out, "Content-Length", b"0"),
            Framing::Length(_) | Framing::Chunked | Framing::UntilClose if bodiless => {
                return Err(WriteError::BodyNotAllowed { status });
            }
            Framing::Length(n) => push_content_length(self.out, n),
            Framing::Chunked | Framing::UntilClose if status == 304 => {
                return Err(WriteError::BodyNotAllowed { status });
            }
            Framing::Chunked if self.version == Version::Http10 => {
                return Err(WriteError::ChunkedInHttp10);
            }
            Framing::Chunked => push_checked_field(self.out, "Transfer-Encoding", b"chunked"),
            Framing::UntilClose => {}
        }
        let keep_alive = keep_alive && framing != Framing::UntilClose;
        end_head(self.out, self.version, keep_alive);
        self.finished = true;
        Ok(())
    }
}

impl Drop for ResponseHeadWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.out.truncate(self.start);
        }
    }
}

/// The whole status line for the statuses most responses carry, with their usual
/// reason phrase: one copy instead of a line assembled and checked piece by piece.
fn status_line(version: Version, status: u16) -> Option<&'static [u8]> {
    macro_rules! lines {
        ($($code:literal $reason:literal),* $(,)?) => {
            match (version, status) {
                $(
                    (Version::Http11, $code) => {
                        Some(concat!("HTTP/1.1 ", $code, " ", $reason, "\r\n").as_bytes())
                    }
                    (Version::Http10, $code) => {
                        Some(concat!("HTTP/1.0 ", $code, " ", $reason, "\r\n").as_bytes())
                    }
                )*
                _ => None,
            }
        };
    }
    lines!(
        200 "OK",
        204 "No Content",
        206 "Partial Content",
        301 "Moved Permanently",
        302 "Found",
        304 "Not Modified",
        400 "Bad Request",
        404 "Not Found",
        500 "Internal Server Error",
    )
}

/// The reason phrase RFC 9110 §15 gives `status`, or `""`.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::http::{Parsed, ResponseParser};

    fn write(
        version: Version,
        status: u16,
        fields: &[(&str, &str)],
        framing: Framing,
        keep_alive: bool,
    ) -> Result<String, WriteError> {
        let mut out = b"previous".to_vec();
        let mut head = ResponseHeadWriter::new(&mut out, version, status);
        for (name, value) in fields {
            head.header(name, value);
        }
        let result = head.finish(framing, keep_alive);
        let written = String::from_utf8(out[8..].to_vec()).unwrap();
        match result {
            Ok(()) => Ok(written),
            Err(error) => {
                assert_eq!(written, "", "a refused head leaves nothing");
                Err(error)
            }
        }
    }

    #[test]
    fn prebuilt_status_lines_match_the_assembled_ones() {
        for version in [Version::Http10, Version::Http11] {
            for status in 100..=999 {
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                let head = ResponseHeadWriter::new(&mut fast, version, status);
                head.finish(Framing::Empty, true).unwrap();
                let head = ResponseHeadWriter::with_reason(
                    &mut slow,
                    version,
                    status,
                    reason_phrase(status),
                );
                head.finish(Framing::Empty, true).unwrap();
                assert_eq!(fast, slow, "{version:?} {status}");
            }
        }
    }

    #[test]
    fn framing_and_connection_fields_follow_the_table() {
        use Framing::*;
        use Version::*;
        type Row = (
            Version,
            u16,
            Framing,
            bool,
            Result<&'static str, WriteError>,
        );
        let table: &[Row] = &[
            (
                Http11,
                200,
                Empty,
                true,
                Ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            ),
            (
                Http11,
                200,
                Length(5),
                true,
                Ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
            ),
            (
                Http11,
                200,
                Chunked,
                true,
                Ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ),
            (
                Http11,
                200,
                UntilClose,
                true,
                Ok("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"),
            ),
            (
                Http11,
                200,
                Length(5),
                false,
                Ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"),
            ),
            (
                Http10,
                200,
                Length(5),
                true,
                Ok("HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n"),
            ),
            (
                Http10,
                200,
                Length(5),
                false,
                Ok("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n"),
            ),
            (Http10, 200, UntilClose, true, Ok("HTTP/1.0 200 OK\r\n\r\n")),
            (Http10, 200, Chunked, true, Err(WriteError::ChunkedInHttp10)),
            (
                Http11,
                204,
                Empty,
                true,
                Ok("HTTP/1.1 204 No Content\r\n\r\n"),
            ),
            (
                Http11,
                204,
                Length(0),
                true,
                Err(WriteError::BodyNotAllowed { status: 204 }),
            ),
            (
                Http11,
                100,
                Empty,
                true,
                Ok("HTTP/1.1 100 Continue\r\n\r\n"),
            ),
            (
                Http11,
                101,
                Chunked,
                true,
                Err(WriteError::BodyNotAllowed { status: 101 }),
            ),
            (
                Http11,
                304,
                Empty,
                true,
                Ok("HTTP/1.1 304 Not Modified\r\n\r\n"),
            ),
            (
                Http11,
                304,
                Length(7),
                true,
                Ok("HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"),
            ),
            (
                Http11,
                304,
                Chunked,
                true,
                Err(WriteError::BodyNotAllowed { status: 304 }),
            ),
            (
                Http11,
                299,
                Length(1),
                true,
                Ok("HTTP/1.1 299 \r\nContent-Length: 1\r\n\r\n"),
            ),
            (
                Http11,
                99,
                Empty,
                true,
                Err(WriteError::InvalidStatus { status: 99 }),
            ),
            (
                Http11,
                1000,
                Empty,
                true,
                Err(WriteError::InvalidStatus { status: 1000 }),
            ),
        ];
        for (version, status, framing, keep_alive, expected) in table {
            let got = write(*version, *status, &[], *framing, *keep_alive);
            assert_eq!(
                got.as_deref().map_err(Clone::clone),
                *expected,
                "{version:?} {status} {framing:?}"
            );
        }
    }

    #[test]
    fn refused_fields_leave_nothing_behind() {
        let table: &[(&str, &str, WriteError)] = &[
            (
                "Location",
                "/a\r\nX: y",
                WriteError::InvalidHeaderValue {
                    name: "Location".into(),
                },
            ),
            (
                "X\nY",
                "v",
                WriteError::InvalidHeaderName {
                    name: "X\nY".into(),
                },
            ),
            (
                "Content-Length",
                "1",
                WriteError::FramingHeader {
                    name: "Content-Length".into(),
                },
            ),
        ];
        for (name, value, error) in table {
            let fields = [("A", "b"), (*name, *value), ("C", "d")];
            assert_eq!(
                write(Version::Http11, 200, &fields, Framing::Empty, true),
                Err(error.clone())
            );
        }
    }

    #[test]
    fn reasons_with_control_bytes_are_refused() {
        let mut out = Vec::new();
        let head = ResponseHeadWriter::with_reason(&mut out, Version::Http11, 200, "OK\r\nX: y");
        assert_eq!(
            head.finish(Framing::Empty, true),
            Err(WriteError::InvalidReason)
        );
        assert!(out.is_empty());
        let head = ResponseHeadWriter::with_reason(&mut out, Version::Http11, 200, "Fine\tby me");
        assert_eq!(head.finish(Framing::Empty, true), Ok(()));
        assert!(out.starts_with(b"HTTP/1.1 200 Fine\tby me\r\n"));
    }

    #[test]
    fn a_dropped_writer_takes_its_partial_head_away() {
        let mut out = b"kept".to_vec();
        let mut head = ResponseHeadWriter::new(&mut out, Version::Http11, 200);
        head.header("X", "y");
        drop(head);
        assert_eq!(out, b"kept");
    }

    #[test]
    fn written_heads_parse_back_to_what_was_written() {
        let mut out = Vec::new();
        let mut dates = DateCache::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut head = ResponseHeadWriter::new(&mut out, Version::Http11, 201);
        head.header("Location", "/items/7")
            .date(&mut dates, now)
            .header("X-Obs", b"\xe9t\xe9");
        head.finish(Framing::Length(3), true).unwrap();
        let Ok(Parsed::Complete { value, consumed }) = ResponseParser::new().parse(&out, "POST")
        else {
            panic!("{:?}", String::from_utf8_lossy(&out))
        };
        assert_eq!(consumed, out.len());
        assert_eq!((value.status(), value.reason()), (201, "Created"));
        assert_eq!(value.framing(), Framing::Length(3));
        assert_eq!(
            value.headers().get("date"),
            Some(&b"Tue, 14 Nov 2023 22:13:20 GMT"[..])
        );
        assert_eq!(value.headers().get("x-obs"), Some(&b"\xe9t\xe9"[..]));
    }
}
