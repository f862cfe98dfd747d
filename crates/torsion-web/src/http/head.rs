//! Request heads read strictly (the parsing half of Twisted's `HTTPChannel`), and the
//! framing rules shared with response heads.
//!
//! ```
//! use torsion_web::http::{Framing, Parsed, RequestParser, Version};
//! let mut parser = RequestParser::new();
//! let bytes = b"POST /echo HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello";
//! assert!(matches!(parser.parse(&bytes[..20]), Ok(Parsed::Partial))); // feed me more
//! let Ok(Parsed::Complete { value: head, consumed }) = parser.parse(bytes) else { panic!() };
//! assert_eq!((head.method(), head.target(), head.version()), ("POST", "/echo", Version::Http11));
//! assert_eq!(head.framing(), Framing::Length(5));
//! assert!(head.keep_alive());
//! assert_eq!(&bytes[consumed..], b"hello"); // the body starts right after the head
//! ```
//!
//! # Feeding the parser
//!
//! [`RequestParser::parse`] takes everything received since the last head ended. After
//! `Complete { consumed }`, drop those bytes and call again for the next pipelined
//! request; after an error, answer with [`HeadError::status`] and close: the rest of the
//! stream cannot be trusted.
//!
//! A head usually arrives whole, so the first call for a head hands the buffer straight to
//! `httparse` (which tokenizes the start line and fields). If that finds a complete head,
//! a few checks around each line end, not a pass over every byte, show whether the strict
//! scan below would accept it too (CRLF line ends only, the limits), and if so the head is
//! returned. Anything else (a partial head, an error, a failed check) falls back to that
//! scan over the same bytes: it looks at every byte, names the rule broken, and remembers
//! how far it has looked, so a head that arrives one byte at a time is scanned once (the
//! calls after the first skip the fast path), and it hands `httparse` only a complete
//! head. Both ways give the same answer for every input; the tests and the fuzz target
//! compare them.
//!
//! # Strictness
//!
//! Request smuggling lives in the leniencies that make two parsers frame the same bytes
//! differently, so the parser leaves none that touch framing (RFC 9112, and the history of
//! Twisted's and hyper's advisories):
//!
//! - Every line ends in CRLF. A bare LF or a CR not followed by LF anywhere in the head is
//!   400, never a line end (RFC 9112 §2.2 allows a bare LF; we do not). Empty lines
//!   before the request line are skipped (RFC 9112 §2.2) and count toward the head size.
//! - Obsolete line folding, whitespace before a field's colon, a field value with NUL or
//!   another control byte, a request target that is not ASCII or not in the form its
//!   method calls for (RFC 9112 §3.2), a missing or repeated `Host` in HTTP/1.1: 400.
//!   Versions other than HTTP/1.0 and HTTP/1.1: 505.
//! - `Content-Length` is `1*DIGIT`, read with checked arithmetic: `+5`, `-1`, `0x5`,
//!   `5 5`, an empty value or one past `u64::MAX` is 400. Repeated fields, or a comma
//!   list, are accepted when every element is valid and all say the same number (RFC 9110
//!   §8.6 allows this; `5, 5` is 5); differing values are 400.
//! - `Transfer-Encoding` must be exactly `chunked` (empty list elements are skipped, as
//!   RFC 9110 §5.6.1 asks, and names match without case): a list that does not end in one
//!   `chunked` (including `chunked, chunked`) or gives `chunked` parameters is 400; other
//!   codings before a final `chunked` are 501, as we decode none (RFC 9112 §6.1). Both
//!   `Transfer-Encoding` and `Content-Length`, or `Transfer-Encoding` in an HTTP/1.0
//!   message: 400.
//!
//! # Limits
//!
//! [`HeadLimits`] holds three, each checked as soon as the bytes received prove it broken,
//! so a peer that never ends its head cannot grow the buffer past it: the start line
//! (default [`DEFAULT_MAX_START_LINE`], CRLF not counted; 414 for a request), the whole
//! head (default [`DEFAULT_MAX_HEAD_SIZE`], every byte up to and including the blank
//! line; 431) and the number of fields (default [`DEFAULT_MAX_HEADERS`]; 431).

use std::fmt;
use std::mem::MaybeUninit;

use super::headers::{is_tchar, Headers, Span};
use super::{Parsed, Version};

pub(crate) use super::framing::Facts;
pub use super::framing::Framing;

mod scan;

use scan::scanner_accepts;
pub(crate) use scan::Scanner;

/// The longest start line (request line or status line) accepted, CRLF not counted.
pub const DEFAULT_MAX_START_LINE: usize = 8 * 1024;

/// The largest head accepted, from its first byte to the end of its blank line.
pub const DEFAULT_MAX_HEAD_SIZE: usize = 64 * 1024;

/// The most header fields accepted in one head (hyper's default too).
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// Field slots for `httparse` kept on the stack; a head with more takes the heap.
const STACK_FIELDS: usize = 32;

/// The most bytes of buffers a parser keeps from a recycled head (a connection holds
/// them while idle): a typical head fits, a huge one is freed.
pub(crate) const RECYCLE_MAX: usize = 2 * 1024;

/// Size limits for a head; see the [module docs](self) for how each is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    max_start_line: usize,
    max_head_size: usize,
    max_headers: usize,
}

/// A request head: request line and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    headers: Headers,
    method: Method,
    target: Span,
    version: Version,
    framing: Framing,
    content_length: Option<u64>,
    keep_alive: bool,
    expects_continue: bool,
}

/// Where a request head keeps its method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// A common one (see [`standard_method`]), which needs no copy.
    Standard(&'static str),
    /// Any other, in the head's buffer.
    Other(Span),
}

/// Reads request heads from the bytes of a connection; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct RequestParser {
    limits: HeadLimits,
    scanner: Scanner,
    /// The buffers of a head given back by [`recycle`](Self::recycle), for the next one.
    spare: Headers,
}

/// Why a head was rejected. [`status`](HeadError::status) is the response a server sends
/// before closing the connection.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// The request or status line is longer than the limit (414).
    StartLineTooLong {
        /// The limit, CRLF not counted.
        max: usize,
    },
    /// The head is larger than the limit (431).
    HeadTooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// The head has more fields than the limit (431).
    TooManyHeaders {
        /// The limit.
        max: usize,
    },
    /// A LF not preceded by CR (400).
    BareLineFeed,
    /// A CR not followed by LF, e.g. inside a field value (400).
    BareCarriageReturn,
    /// The request line is not `method SP request-target SP HTTP-version` (400).
    InvalidRequestLine,
    /// The request target is not ASCII, or not in a form its method allows (400).
    InvalidTarget,
    /// The status line is not `HTTP-version SP 3DIGIT SP reason` (502 for a proxy).
    InvalidStatusLine,
    /// A well-formed version other than HTTP/1.0 or HTTP/1.1 (505).
    UnsupportedVersion,
    /// A field name that is not a token, or a line without a colon (400).
    InvalidHeaderName,
    /// Whitespace between a field name and its colon (400, RFC 9112 §5.1).
    WhitespaceBeforeColon,
    /// A line starting with whitespace, continuing the field before (400, RFC 9112 §5.2).
    ObsoleteLineFolding,
    /// A field value with NUL or another control byte (400).
    InvalidHeaderValue,
    /// An HTTP/1.1 request without `Host` (400, RFC 9112 §3.2).
    MissingHost,
    /// More than one `Host` field (400).
    RepeatedHost,
    /// A `Content-Length` element that is not `1*DIGIT` or exceeds `u64::MAX` (400).
    InvalidContentLength,
    /// `Content-Length` values that differ (400).
    ConflictingContentLength,
    /// Both `Transfer-Encoding` and `Content-Length` (400).
    ContentLengthWithTransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 message (400, RFC 9112 §6.1).
    TransferEncodingInHttp10,
    /// `Transfer-Encoding` does not end in exactly one `chunked` (400).
    ChunkedNotLast,
    /// `Transfer-Encoding` with no coding, or `chunked` with parameters (400).
    InvalidTransferEncoding,
    /// A transfer coding other than `chunked` before the final `chunked` (501).
    UnsupportedTransferCoding,
}

impl HeadLimits {
    /// The defaults: [`DEFAULT_MAX_START_LINE`], [`DEFAULT_MAX_HEAD_SIZE`],
    /// [`DEFAULT_MAX_HEADERS`].
    pub fn new() -> Self {
        HeadLimits {
            max_start_line: DEFAULT_MAX_START_LINE,
            max_head_size: DEFAULT_MAX_HEAD_SIZE,
            max_headers: DEFAULT_MAX_HEADERS,
        }
    }

    /// Start lines may be `max` bytes long, CRLF not counted.
    pub fn with_max_start_line(mut self, max: usize) -> Self {
        self.max_start_line = max;
        self
    }

    /// Heads may be `max` bytes long, blank line included.
    pub fn with_max_head_size(mut self, max: usize) -> Self {
        self.max_head_size = max;
        self
    }

    /// Heads may have `max` fields.
    pub fn with_max_headers(mut self, max: usize) -> Self {
        self.max_headers = max;
        self
    }

    /// The longest start line accepted, CRLF not counted.
    pub fn max_start_line(&self) -> usize {
        self.max_start_line
    }

    /// The largest head accepted, blank line included.
    pub fn max_head_size(&self) -> usize {
        self.max_head_size
    }

    /// The most fields accepted.
    pub fn max_headers(&self) -> usize {
        self.max_headers
    }
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits::new()
    }
}

impl RequestHead {
    /// The method, case as sent (methods are case-sensitive: `get` is not `GET`).
    pub fn method(&self) -> &str {
        match self.method {
            Method::Standard(method) => method,
            Method::Other(span) => self.headers.text(span),
        }
    }

    /// The request target as sent: `/path?query`, an absolute URI, `host:port` for
    /// CONNECT, or `*` for OPTIONS.
    pub fn target(&self) -> &str {
        self.headers.text(self.target)
    }

    /// HTTP/1.0 or HTTP/1.1.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Takes the head's buffers, leaving it without method, target or fields.
    pub(crate) fn take_headers(&mut self) -> Headers {
        self.method = Method::Other(Span::default());
        self.target = Span::default();
        std::mem::take(&mut self.headers)
    }

    /// How the request body is delimited: never [`Framing::UntilClose`].
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The `Content-Length`, if one was sent.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// True if the connection may carry another request after this one: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive` (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// True for an HTTP/1.1 request with `Expect: 100-continue`: the client waits for an
    /// interim `100 Continue` before sending its body. HTTP/1.0 requests never expect it
    /// (RFC 9110 §10.1.1). Other expectations are ignored.
    pub fn expects_continue(&self) -> bool {
        self.expects_continue
    }

    /// True for a HEAD request, whose response has no body.
    pub fn is_head(&self) -> bool {
        self.method() == "HEAD"
    }
}

impl RequestParser {
    /// A parser with the default [`HeadLimits`].
    pub fn new() -> Self {
        RequestParser::default()
    }

    /// A parser with these limits.
    pub fn with_limits(limits: HeadLimits) -> Self {
        RequestParser {
            limits,
            scanner: Scanner::default(),
            spare: Headers::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> HeadLimits {
        self.limits
    }

    /// Takes back the buffers of a head the caller is done with
    /// ([`RequestHead::take_headers`]): the next head parsed reuses them instead of
    /// allocating (a keep-alive connection's usual case). Buffers grown past
    /// [`RECYCLE_MAX`] bytes are freed instead.
    pub(crate) fn recycle(&mut self, headers: Headers) {
        if headers.capacity() <= RECYCLE_MAX {
            self.spare = headers;
        }
    }

    /// Reads one request head from the start of `buf`, everything received since the last
    /// head ended. `Partial`: call again with more bytes appended.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Parsed<RequestHead>, HeadError> {
        // Only on the first look at a head: once the scanner has started, it goes on, so a
        // head that trickles in is still read once rather than re-parsed on every call.
        if self.scanner.is_unstarted() {
            if let Some(parsed) = self.parse_whole(buf) {
                return parsed;
            }
        }
        self.parse_scanning_first(buf)
    }

    /// What [`parse`](Self::parse) answers, found without its fast path: the scanner
    /// checks every byte first, then `httparse` reads the head it found. The reference
    /// the fast path is tested and fuzzed against; not for other use.
    #[doc(hidden)]
    pub fn parse_scanning_first(&mut self, buf: &[u8]) -> Result<Parsed<RequestHead>, HeadError> {
        let scanned = self.scanner.scan(buf, &self.limits);
        if !matches!(scanned, Ok(None)) {
            self.scanner = Scanner::default(); // the next call reads the next head
        }
        let Some(end) = scanned? else {
            return Ok(Parsed::Partial);
        };
        let head = buf.get(..end.len).unwrap_or_default(); // the scanner saw every byte of it
        let value = parse_request(head, end.fields, &self.limits, &mut self.spare)?;
        Ok(Parsed::Complete {
            value,
            consumed: end.len,
        })
    }

    /// The fast path: `httparse` reads `buf` first, and the head it finds is taken if the
    /// bytes around each line end show that the scanner would accept it too (see
    /// [`scanner_accepts`]). `None`: not shown, so the caller scans, which names the
    /// error or waits for more bytes exactly as without this path.
    fn parse_whole(&mut self, buf: &[u8]) -> Option<Result<Parsed<RequestHead>, HeadError>> {
        let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_FIELDS];
        // More fields than the limit is TooManyHeaders; more than the stack holds, the
        // scanning path, which counts them first.
        let slots = storage.get_mut(..self.limits.max_headers.min(STACK_FIELDS))?;
        let mut request = httparse::Request::new(&mut []);
        let Ok(httparse::Status::Complete(len)) = request.parse_with_uninit_headers(buf, slots)
        else {
            return None;
        };
        if !scanner_accepts(buf, len, &request, &self.limits) {
            return None;
        }
        let head = buf.get(..len)?;
        let value = match build_request(head, &request, &mut self.spare) {
            Ok(value) => value,
            Err(error) => return Some(Err(error)),
        };
        Some(Ok(Parsed::Complete {
            value,
            consumed: len,
        }))
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::StartLineTooLong { max } => {
                write!(f, "start line too long: over {max} bytes")
            }
            HeadError::HeadTooLarge { max } => write!(f, "head too large: over {max} bytes"),
            HeadError::TooManyHeaders { max } => {
                write!(f, "too many header fields: over {max}")
            }
            HeadError::BareLineFeed => f.write_str("line feed without carriage return"),
            HeadError::BareCarriageReturn => f.write_str("carriage return without line feed"),
            HeadError::InvalidRequestLine => f.write_str("invalid request line"),
            HeadError::InvalidTarget => f.write_str("invalid request target"),
            HeadError::InvalidStatusLine => f.write_str("invalid status line"),
            HeadError::UnsupportedVersion => f.write_str("http version not supported"),
            HeadError::InvalidHeaderName => f.write_str("invalid header field name"),
            HeadError::WhitespaceBeforeColon => {
                f.write_str("whitespace between header field name and colon")
            }
            HeadError::ObsoleteLineFolding => f.write_str("obsolete line folding in header"),
            HeadError::InvalidHeaderValue => f.write_str("invalid header field value"),
            HeadError::MissingHost => f.write_str("http/1.1 request without host"),
            HeadError::RepeatedHost => f.write_str("more than one host field"),
            HeadError::InvalidContentLength => f.write_str("invalid content-length"),
            HeadError::ConflictingContentLength => f.write_str("conflicting content-length"),
            HeadError::ContentLengthWithTransferEncoding => {
                f.write_str("both transfer-encoding and content-length")
            }
            HeadError::TransferEncodingInHttp10 => {
                f.write_str("transfer-encoding in an http/1.0 message")
            }
            HeadError::ChunkedNotLast => {
                f.write_str("transfer-encoding does not end in one chunked")
            }
            HeadError::InvalidTransferEncoding => f.write_str("invalid transfer-encoding"),
            HeadError::UnsupportedTransferCoding => f.write_str("unsupported transfer coding"),
        }
    }
}

impl std::error::Error for HeadError {}

impl HeadError {
    /// The status a server answers with before closing the connection.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::StartLineTooLong { .. } => 414,
            HeadError::HeadTooLarge { .. } | HeadError::TooManyHeaders { .. } => 431,
            HeadError::UnsupportedVersion => 505,
            HeadError::UnsupportedTransferCoding => 501,
            HeadError::InvalidStatusLine => 502,
            _ => 400,
        }
    }
}

/// Parses a complete request head of at most `fields` fields and checks what `httparse`
/// leaves to us.
fn parse_request(
    head: &[u8],
    fields: usize,
    limits: &HeadLimits,
    spare: &mut Headers,
) -> Result<RequestHead, HeadError> {
    // Slots httparse fills in; left uninitialized, which would otherwise cost more than
    // parsing a small head.
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_FIELDS];
    let mut heap = Vec::new();
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if fields <= storage.len() {
        &mut storage
    } else {
        heap.resize(fields, MaybeUninit::uninit());
        &mut heap
    };
    let mut request = httparse::Request::new(&mut []);
    match request.parse_with_uninit_headers(head, slots) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::InvalidRequestLine),
        Err(error) => return Err(diagnose(head, error, true, limits)),
    }
    build_request(head, &request, spare)
}

/// The head `httparse` read into `request` from `head`, with the checks it leaves to us;
/// its fields are copied into the buffers taken from `spare`.
#[inline(always)] // into both paths, so the head is built where it is returned
fn build_request(
    head: &[u8],
    request: &httparse::Request<'_, '_>,
    spare: &mut Headers,
) -> Result<RequestHead, HeadError> {
    let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version)
    else {
        return Err(HeadError::InvalidRequestLine);
    };
    let version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    if !valid_target(method, target) {
        return Err(HeadError::InvalidTarget);
    }
    let facts = Facts::read(request.headers, version)?;
    if version == Version::Http11 && facts.hosts == 0 {
        return Err(HeadError::MissingHost);
    }
    if facts.hosts > 1 {
        return Err(HeadError::RepeatedHost);
    }
    let framing = if facts.chunked {
        Framing::Chunked
    } else {
        match facts.content_length {
            Some(0) | None => Framing::Empty,
            Some(n) => Framing::Length(n),
        }
    };
    let mut headers = std::mem::take(spare);
    headers.clear_with_room(head.len(), request.headers.len());
    let method = match standard_method(method) {
        Some(method) => Method::Standard(method),
        None => Method::Other(headers.push_text(method)),
    };
    let target = headers.push_text(target);
    for field in request.headers.iter() {
        headers.push(field.name, field.value);
    }
    Ok(RequestHead {
        headers,
        method,
        target,
        version,
        framing,
        content_length: facts.content_length,
        keep_alive: facts.keep_alive,
        expects_continue: facts.expects_continue && version == Version::Http11,
    })
}

/// `method` as a static string if it is one of RFC 9110's (§9) or PATCH (RFC 5789), as
/// sent: methods are case-sensitive.
fn standard_method(method: &str) -> Option<&'static str> {
    Some(match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "PATCH" => "PATCH",
        _ => return None,
    })
}

/// True if `target` fits `method` (RFC 9112 §3.2): visible ASCII without `#`, and
/// authority-form for CONNECT, `*` only for OPTIONS, else origin-form or absolute-form.
#[inline(always)]
fn valid_target(method: &str, target: &str) -> bool {
    // Origin-form, the usual case, without a call.
    match target.as_bytes() {
        [b'/', path @ ..] if method != "CONNECT" => is_target_text(path),
        _ => valid_other_target(method, target),
    }
}

/// [`valid_target`] for any target.
#[inline(never)]
fn valid_other_target(method: &str, target: &str) -> bool {
    if target.is_empty() || !is_target_text(target.as_bytes()) {
        return false;
    }
    if method == "CONNECT" {
        // host ":" port, nothing else.
        return match target.rsplit_once(':') {
            Some((host, port)) => {
                !host.is_empty()
                    && !host.contains(['/', '?', '@'])
                    && !port.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit())
            }
            None => false,
        };
    }
    if target == "*" {
        return method == "OPTIONS";
    }
    if target.starts_with('/') {
        return true;
    }
    // absolute-form: scheme ":" hier-part; the scheme starts with a letter.
    match target.split_once(':') {
        Some((scheme, rest)) => {
            scheme
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                && !rest.is_empty()
        }
        None => false,
    }
}

/// True if every byte of `bytes` is visible ASCII but `#`: eight bytes at a time, a word
/// that may hold another byte being looked at byte by byte.
#[inline(always)]
fn is_target_text(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const BANGS: u64 = u64::from_le_bytes([b'!'; 8]);
    const DELS: u64 = u64::from_le_bytes([0x7f; 8]);
    const HASHES: u64 = u64::from_le_bytes([b'#'; 8]);
    let allowed = |b: u8| (b'!'..=b'~').contains(&b) && b != b'#';
    // Nonzero when some byte of `w` is zero (and only then).
    let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // Nonzero when some byte is below `!`, at or above DEL, or `#`.
        let suspect =
            (w.wrapping_sub(BANGS) & !w & HIGHS) | (w & HIGHS) | zero(w ^ DELS) | zero(w ^ HASHES);
        if suspect != 0 && !chunk.iter().copied().all(allowed) {
            return false;
        }
    }
    chunks.remainder().iter().copied().all(allowed)
}

/// Names the rule a complete head broke, from the kind of `httparse` error. `request`
/// says which start line to blame.
pub(crate) fn diagnose(
    head: &[u8],
    error: httparse::Error,
    request: bool,
    limits: &HeadLimits,
) -> HeadError {
    let bad_start = if request {
        HeadError::InvalidRequestLine
    } else {
        HeadError::InvalidStatusLine
    };
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start_line = lines.by_ref().find(|l| !l.is_empty()).unwrap_or_default();
    match error {
        httparse::Error::HeaderName => lines
            .take_while(|l| !l.is_empty())
            .find_map(field_line_error)
            .unwrap_or(HeadError::InvalidHeaderName),
        httparse::Error::HeaderValue => HeadError::InvalidHeaderValue,
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders {
            max: limits.max_headers,
        },
        httparse::Error::Version => {
            let version = if request {
                start_line.rsplit(|&b| b == b' ').next()
            } else {
                start_line.split(|&b| b == b' ').next()
            };
            match version {
                Some(&[b'H', b'T', b'T', b'P', b'/', major, b'.', minor])
                    if major.is_ascii_digit() && minor.is_ascii_digit() =>
                {
                    HeadError::UnsupportedVersion
                }
                _ => bad_start,
            }
        }
        httparse::Error::NewLine | httparse::Error::Status | httparse::Error::Token => bad_start,
    }
}

/// What is wrong with one field line, if anything `httparse` would call a bad name.
fn field_line_error(line: &[u8]) -> Option<HeadError> {
    if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Some(HeadError::ObsoleteLineFolding);
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Some(HeadError::InvalidHeaderName);
    };
    let name = line.get(..colon).unwrap_or_default();
    if name.last().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Some(HeadError::WhitespaceBeforeColon);
    }
    if name.is_empty() || !name.iter().copied().all(is_tchar) {
        return Some(HeadError::InvalidHeaderName);
    }
    None
}

#[cfg(test)]
mod fast_path_tests;
#[cfg(test)]
mod tests;
