//! Checks shared by everything that writes a head or trailer: nothing invalid is sent.

use std::fmt;

use super::headers::{is_field_value, is_token};
use super::Version;

/// Why a writer refused a head or trailer; nothing of it was written.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// A field name that is not a token (empty, or with CR, LF, space, colon...).
    InvalidHeaderName {
        /// The name, lossily decoded.
        name: String,
    },
    /// A field value with CR, LF, NUL or another control byte (HTAB is allowed).
    InvalidHeaderValue {
        /// The field's name.
        name: String,
    },
    /// `Content-Length` or `Transfer-Encoding` given as a field: the writer frames the
    /// body itself from the framing it is told, so that the two can never disagree.
    FramingHeader {
        /// The field's name.
        name: String,
    },
    /// A method that is not a token.
    InvalidMethod,
    /// A request target that is empty or has bytes other than visible ASCII.
    InvalidTarget,
    /// A status outside 100..=999.
    InvalidStatus {
        /// The status given.
        status: u16,
    },
    /// A reason phrase with CR, LF or another control byte.
    InvalidReason,
    /// A body announced for a status that has none (1xx, 204; 304 takes only a length).
    BodyNotAllowed {
        /// The status given.
        status: u16,
    },
    /// Chunked framing in an HTTP/1.0 message, which knows no chunked coding.
    ChunkedInHttp10,
    /// An HTTP/1.1 request without `Host` (RFC 9112 §3.2).
    MissingHost,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::InvalidHeaderName { name } => {
                write!(f, "write header: invalid field name {name:?}")
            }
            WriteError::InvalidHeaderValue { name } => {
                write!(f, "write header {name}: control byte in value")
            }
            WriteError::FramingHeader { name } => {
                write!(f, "write header {name}: framing is set by the writer")
            }
            WriteError::InvalidMethod => f.write_str("write request: invalid method"),
            WriteError::InvalidTarget => f.write_str("write request: invalid target"),
            WriteError::InvalidStatus { status } => {
                write!(f, "write response: invalid status {status}")
            }
            WriteError::InvalidReason => f.write_str("write response: invalid reason phrase"),
            WriteError::BodyNotAllowed { status } => {
                write!(f, "write response: status {status} has no body")
            }
            WriteError::ChunkedInHttp10 => f.write_str("write head: chunked body in http/1.0"),
            WriteError::MissingHost => f.write_str("write request: http/1.1 without host"),
        }
    }
}

impl std::error::Error for WriteError {}

/// Appends `name: value\r\n` to `out` after checking both; framing fields are refused.
pub(crate) fn push_field(out: &mut Vec<u8>, name: &str, value: &[u8]) -> Result<(), WriteError> {
    check_response_field(name, value)?;
    push_checked_field(out, name, value);
    Ok(())
}

/// Checks a field a response head may carry: [`check_field`], and not a framing field.
pub(crate) fn check_response_field(name: &str, value: &[u8]) -> Result<(), WriteError> {
    check_field(name, value)?;
    if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding")
    {
        return Err(WriteError::FramingHeader {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Ends a head: the `Connection` field when `keep_alive` differs from the version's
/// default (RFC 9112 §9.3), then the blank line.
pub(crate) fn end_head(out: &mut Vec<u8>, version: Version, keep_alive: bool) {
    match (version, keep_alive) {
        (Version::Http11, false) => push_checked_field(out, "Connection", b"close"),
        (Version::Http10, true) => push_checked_field(out, "Connection", b"keep-alive"),
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `Content-Length: n\r\n` in one copy.
pub(crate) fn push_content_length(out: &mut Vec<u8>, mut n: u64) {
    const NAME: &[u8; 16] = b"Content-Length: ";
    // The name, at most 20 digits (u64::MAX), CRLF: the line is built from its end.
    let mut line = [0u8; 38];
    let mut at = 36;
    line[36..].copy_from_slice(b"\r\n"); // in bounds: 36 + 2 = 38
    loop {
        at -= 1; // at > 16 here: at most 20 digits are written below 36
        line[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    at -= NAME.len(); // at >= 16 before: 36 - 20
    line[at..at + NAME.len()].copy_from_slice(NAME);
    out.extend_from_slice(&line[at..]);
}

/// Checks a field: a token for a name, no control byte but HTAB in the value.
pub(crate) fn check_field(name: &str, value: &[u8]) -> Result<(), WriteError> {
    if !is_token(name.as_bytes()) {
        return Err(WriteError::InvalidHeaderName {
            name: name.to_owned(),
        });
    }
    if !is_field_value(value) {
        return Err(WriteError::InvalidHeaderValue {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Appends a field already checked (or written by us).
pub(crate) fn push_checked_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20]; // u64::MAX has 20 digits
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_lines_are_written_whole() {
        for n in [0, 7, 13, 10, 1_000_000, u64::MAX] {
            let mut out = b"x".to_vec();
            push_content_length(&mut out, n);
            assert_eq!(out, format!("xContent-Length: {n}\r\n").into_bytes());
        }
    }

    #[test]
    fn fields_with_cr_lf_or_controls_are_refused() {
        let table: &[(&str, &[u8], Result<(), WriteError>)] = &[
            ("X-Ok", b"a\tb c~\x80\xff", Ok(())),
            ("X-Ok", b"", Ok(())),
            (
                "X-Bad",
                b"a\r\nInjected: yes",
                Err(WriteError::InvalidHeaderValue {
                    name: "X-Bad".into(),
                }),
            ),
            (
                "X-Bad",
                b"a\rb",
                Err(WriteError::InvalidHeaderValue {
                    name: "X-Bad".into(),
                }),
            ),
            (
                "X-Bad",
                b"a\nb",
                Err(WriteError::InvalidHeaderValue {
                    name: "X-Bad".into(),
                }),
            ),
            (
                "X-Bad",
                b"a\0b",
                Err(WriteError::InvalidHeaderValue {
                    name: "X-Bad".into(),
                }),
            ),
            (
                "X-Bad",
                b"a\x7fb",
                Err(WriteError::InvalidHeaderValue {
                    name: "X-Bad".into(),
                }),
            ),
            (
                "X\r\nInjected",
                b"v",
                Err(WriteError::InvalidHeaderName {
                    name: "X\r\nInjected".into(),
                }),
            ),
            (
                "X Y",
                b"v",
                Err(WriteError::InvalidHeaderName { name: "X Y".into() }),
            ),
            (
                "X:",
                b"v",
                Err(WriteError::InvalidHeaderName { name: "X:".into() }),
            ),
            (
                "",
                b"v",
                Err(WriteError::InvalidHeaderName { name: "".into() }),
            ),
            (
                "Content-Length",
                b"5",
                Err(WriteError::FramingHeader {
                    name: "Content-Length".into(),
                }),
            ),
            (
                "transfer-encoding",
                b"chunked",
                Err(WriteError::FramingHeader {
                    name: "transfer-encoding".into(),
                }),
            ),
        ];
        for (name, value, expected) in table {
            let mut out = Vec::new();
            assert_eq!(
                &push_field(&mut out, name, value),
                expected,
                "{name:?} {value:?}"
            );
            if expected.is_err() {
                assert!(out.is_empty());
            }
        }
    }

    #[test]
    fn decimals_cover_the_range() {
        for n in [0, 7, 10, 4096, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
