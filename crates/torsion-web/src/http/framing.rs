//! How a message's body is delimited, and whether its connection persists: the framing
//! rules shared by request and response heads (RFC 9112 §6, §9.3).
//!
//! ```
//! use torsion_web::http::{Framing, Parsed, RequestParser};
//! let head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n";
//! let Ok(Parsed::Complete { value, .. }) = RequestParser::new().parse(head) else { panic!() };
//! assert_eq!(value.framing(), Framing::Length(5)); // repeated, all the same: accepted
//! ```
//!
//! Both parsers ([`RequestParser`](super::RequestParser),
//! [`ResponseParser`](super::ResponseParser)) read the fields that decide framing through one
//! crate-private reader; the strictness rules (`Content-Length` as `1*DIGIT` with checked
//! arithmetic, `Transfer-Encoding` exactly `chunked`, never both) are listed in
//! [`head`](super::head)'s docs. Fields are compared without case, one word at a time,
//! since this runs for every field of every head.

use super::head::HeadError;
use super::headers::{list_elements, trim_ows};
use super::Version;

/// How the body after a head is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: none announced, `Content-Length: 0`, or a response that has none (to HEAD,
    /// 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes, more than zero.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Everything until the peer closes the connection (responses only).
    UntilClose,
}

/// What the fields of a head say about framing and the connection.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub(crate) content_length: Option<u64>,
    /// `Transfer-Encoding` is present and valid: exactly `chunked`.
    pub(crate) chunked: bool,
    pub(crate) keep_alive: bool,
    pub(crate) expects_continue: bool,
    pub(crate) hosts: usize,
}

impl Facts {
    /// Reads the fields that decide framing and persistence, with the rules of the
    /// [module docs](self).
    #[inline(always)]
    pub(crate) fn read(
        fields: &[httparse::Header<'_>],
        version: Version,
    ) -> Result<Facts, HeadError> {
        let mut facts = Facts::default();
        let (mut close, mut keep_alive, mut te) = (false, false, false);
        for field in fields {
            let name = field.name.as_bytes();
            // Names of other lengths never match: the length picks the one name to compare.
            match name.len() {
                14 if is_name(name, b"content-length") => {
                    facts.content_length = content_length(field.value, facts.content_length)?;
                }
                17 if is_name(name, b"transfer-encoding") => te = true,
                10 if is_name(name, b"connection") => {
                    let (c, k) = connection_options(field.value);
                    close |= c;
                    keep_alive |= k;
                }
                6 if is_name(name, b"expect") => {
                    facts.expects_continue |=
                        trim_ows(field.value).eq_ignore_ascii_case(b"100-continue");
                }
                4 if is_name(name, b"host") => facts.hosts += 1,
                _ => {}
            }
        }
        if te {
            facts.chunked = chunked(fields, version, facts.content_length)?;
        }
        facts.keep_alive = !close && (version == Version::Http11 || keep_alive);
        Ok(facts)
    }
}

/// True if the `Transfer-Encoding` fields among `fields` make the body chunked, the only
/// way they may, given the version and any `Content-Length`.
#[inline(never)] // off the path of heads without one
fn chunked(
    fields: &[httparse::Header<'_>],
    version: Version,
    content_length: Option<u64>,
) -> Result<bool, HeadError> {
    if version == Version::Http10 {
        return Err(HeadError::TransferEncodingInHttp10);
    }
    if content_length.is_some() {
        return Err(HeadError::ContentLengthWithTransferEncoding);
    }
    check_transfer_encoding(
        fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case("transfer-encoding"))
            .map(|f| f.value),
    )?;
    Ok(true)
}

/// True if `name` is `lower` without ASCII case, as `eq_ignore_ascii_case` says, for a
/// `lower` of lowercase letters and other bytes that have no case. Setting bit 0x20 turns
/// a letter of either case into its lowercase and no other byte into a lowercase letter,
/// so each byte of `name` is compared with one OR, a word at a time once inlined.
#[inline(always)]
pub(crate) fn is_name<const N: usize>(name: &[u8], lower: &[u8; N]) -> bool {
    let Ok(name) = <&[u8; N]>::try_from(name) else {
        return false;
    };
    let mut differ = 0;
    for (&b, &l) in name.iter().zip(lower) {
        let fold = if l.is_ascii_lowercase() { 0x20 } else { 0 };
        differ |= (b | fold) ^ l;
    }
    differ == 0
}

/// The `Content-Length` after one more field's `value`, given the one read so far:
/// every element valid and the same number.
#[inline(never)] // off the path of heads without one
fn content_length(value: &[u8], known: Option<u64>) -> Result<Option<u64>, HeadError> {
    let mut known = known;
    for element in value.split(|&b| b == b',') {
        let n = parse_content_length(trim_ows(element))?;
        if known.is_some_and(|m| m != n) {
            return Err(HeadError::ConflictingContentLength);
        }
        known = Some(n);
    }
    Ok(known)
}

/// Whether a `Connection` value lists `close` and `keep-alive`.
#[inline(never)] // off the path of heads without one
fn connection_options(value: &[u8]) -> (bool, bool) {
    let (mut close, mut keep_alive) = (false, false);
    for option in list_elements(std::iter::once(value)) {
        close |= option.eq_ignore_ascii_case(b"close");
        keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
    }
    (close, keep_alive)
}

/// `1*DIGIT` (RFC 9110 §8.6) with checked arithmetic: no sign, no prefix, no whitespace,
/// nothing past `u64::MAX`.
pub(crate) fn parse_content_length(digits: &[u8]) -> Result<u64, HeadError> {
    if digits.is_empty() {
        return Err(HeadError::InvalidContentLength);
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return Err(HeadError::InvalidContentLength);
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(HeadError::InvalidContentLength)
    })
}

/// Accepts only a coding list whose one and only coding is a final `chunked`.
pub(crate) fn check_transfer_encoding<'a>(
    values: impl Iterator<Item = &'a [u8]>,
) -> Result<(), HeadError> {
    let (mut codings, mut last_is_chunked) = (0usize, false);
    for element in list_elements(values) {
        if last_is_chunked {
            return Err(HeadError::ChunkedNotLast); // something follows `chunked`
        }
        let (name, params) = match element.iter().position(|&b| b == b';') {
            Some(at) => (trim_ows(element.get(..at).unwrap_or_default()), true),
            None => (element, false),
        };
        codings += 1;
        if name.eq_ignore_ascii_case(b"chunked") {
            if params {
                return Err(HeadError::InvalidTransferEncoding);
            }
            last_is_chunked = true;
        }
    }
    match (codings, last_is_chunked) {
        (0, _) => Err(HeadError::InvalidTransferEncoding),
        (_, false) => Err(HeadError::ChunkedNotLast),
        (1, true) => Ok(()),
        (_, true) => Err(HeadError::UnsupportedTransferCoding),
    }
}
