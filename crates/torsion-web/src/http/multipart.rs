//! `multipart/form-data` bodies (RFC 7578 over RFC 2046's multipart syntax), read as a
//! stream: part heads and part bytes come out as events while the body is still
//! arriving, so a file upload is never held whole.
//!
//! ```
//! use torsion_web::http::{boundary_of, MultipartEvent, MultipartParser, MultipartStep};
//!
//! let boundary = boundary_of(b"multipart/form-data; boundary=xyz").unwrap();
//! let body = b"--xyz\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n\
//!              --xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
//!              Content-Type: text/plain\r\n\r\nfile body\r\n--xyz--\r\n";
//! let mut parser = MultipartParser::new(&boundary);
//! let mut rest = &body[..];
//! let mut seen = Vec::new();
//! loop {
//!     match parser.step(rest).unwrap() {
//!         MultipartStep::Event { event, consumed } => {
//!             match event {
//!                 MultipartEvent::Part(part) => seen.push(format!("part {}", part.name)),
//!                 MultipartEvent::Data(data) => seen.push(String::from_utf8_lossy(data).into()),
//!                 MultipartEvent::PartEnd => seen.push("end of part".into()),
//!                 MultipartEvent::End => break,
//!             }
//!             rest = &rest[consumed..];
//!         }
//!         MultipartStep::NeedMore { consumed } => rest = &rest[consumed..], // feed more here
//!     }
//! }
//! assert_eq!(seen, ["part title", "Hello", "end of part", "part file", "file body", "end of part"]);
//! ```
//!
//! The parser is strict where a lax reading could mislead: every part needs a
//! `Content-Disposition: form-data` with a `name`; part heads are read by `httparse`,
//! within [`MultipartLimits`]; a body that ends before its close
//! delimiter is [`MultipartError::Truncated`] (from [`MultipartParser::finish`]). A
//! preamble before the first delimiter and an epilogue after the last are skipped, as
//! RFC 2046 asks. Data events borrow from the input; the parser keeps no body bytes, only
//! a part head while it is incomplete, up to its limit.

use std::fmt;

/// The most bytes one part head may take (its fields and the blank line).
pub const DEFAULT_MAX_PART_HEAD: usize = 8 * 1024;
/// The most parts one body may have.
pub const DEFAULT_MAX_PARTS: usize = 1000;
/// The most bytes of preamble skipped before the first delimiter.
pub const DEFAULT_MAX_PREAMBLE: usize = 8 * 1024;

/// The limits a [`MultipartParser`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartLimits {
    /// See [`DEFAULT_MAX_PART_HEAD`].
    pub max_part_head: usize,
    /// See [`DEFAULT_MAX_PARTS`].
    pub max_parts: usize,
    /// See [`DEFAULT_MAX_PREAMBLE`].
    pub max_preamble: usize,
}

impl Default for MultipartLimits {
    fn default() -> Self {
        MultipartLimits {
            max_part_head: DEFAULT_MAX_PART_HEAD,
            max_parts: DEFAULT_MAX_PARTS,
            max_preamble: DEFAULT_MAX_PREAMBLE,
        }
    }
}

/// One part's head: the form field it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHead {
    /// The field's name (`Content-Disposition`'s `name`).
    pub name: String,
    /// The file's name, for a file field (`filename`), as sent: never use it as a path.
    pub filename: Option<String>,
    /// The part's `Content-Type`, if it had one (`text/plain` is the default).
    pub content_type: Option<String>,
}

/// What the parser found.
#[derive(Debug, PartialEq, Eq)]
pub enum MultipartEvent<'a> {
    /// A part begins.
    Part(PartHead),
    /// Bytes of the current part's body, in order.
    Data(&'a [u8]),
    /// The current part's body ended.
    PartEnd,
    /// The close delimiter: no more parts.
    End,
}

/// What one [`MultipartParser::step`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum MultipartStep<'a> {
    /// An event, read from the first `consumed` bytes.
    Event {
        /// What was found.
        event: MultipartEvent<'a>,
        /// How many input bytes it took.
        consumed: usize,
    },
    /// Nothing more can be said until more bytes come; the first `consumed` were used
    /// (skipped preamble): pass the rest again with what follows.
    NeedMore {
        /// How many input bytes were used.
        consumed: usize,
    },
}

/// Why a body is not valid `multipart/form-data`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    /// More preamble than [`MultipartLimits::max_preamble`] before the first delimiter.
    NoDelimiter {
        /// The limit.
        max: usize,
    },
    /// A delimiter followed by something other than `--`, spaces and CRLF.
    BadDelimiter,
    /// A part head longer than [`MultipartLimits::max_part_head`].
    PartHeadTooLarge {
        /// The limit.
        max: usize,
    },
    /// A part head that is not `name: value` lines ending in CRLF.
    BadPartHead,
    /// A part without `Content-Disposition: form-data; name=...`.
    MissingName,
    /// More parts than [`MultipartLimits::max_parts`].
    TooManyParts {
        /// The limit.
        max: usize,
    },
    /// The body ended before its close delimiter.
    Truncated,
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultipartError::NoDelimiter { max } => {
                write!(f, "multipart body: no delimiter in the first {max} bytes")
            }
            MultipartError::BadDelimiter => {
                f.write_str("multipart body: a delimiter line holds more than the boundary")
            }
            MultipartError::PartHeadTooLarge { max } => {
                write!(f, "multipart body: part head too long (max {max} bytes)")
            }
            MultipartError::BadPartHead => f.write_str("multipart body: malformed part head"),
            MultipartError::MissingName => {
                f.write_str("multipart body: part without content-disposition form-data name")
            }
            MultipartError::TooManyParts { max } => {
                write!(f, "multipart body: too many parts (max {max})")
            }
            MultipartError::Truncated => {
                f.write_str("multipart body: truncated before its close delimiter")
            }
        }
    }
}

impl std::error::Error for MultipartError {}

impl MultipartError {
    /// The status a server answers with: 413 for a limit, else 400.
    pub fn status(&self) -> u16 {
        match self {
            MultipartError::PartHeadTooLarge { .. } | MultipartError::TooManyParts { .. } => 413,
            _ => 400,
        }
    }
}

/// Reads a `multipart/form-data` body as a stream; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct MultipartParser {
    /// `\r\n--boundary`: what ends a part's body. The first delimiter may lack the CRLF.
    delimiter: Vec<u8>,
    state: State,
    limits: MultipartLimits,
    parts: usize,
    /// Preamble bytes skipped so far.
    skipped: usize,
    /// Nothing was read yet: the body may open with its delimiter, without a CRLF.
    at_start: bool,
}

/// What one state's step did.
enum Inner<'a> {
    /// Moved to another state after this many bytes: go on.
    Advance(usize),
    /// Found an event in this many bytes.
    Event(MultipartEvent<'a>, usize),
    /// Used this many bytes; needs more input.
    More(usize),
}

/// What the parser awaits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The first delimiter, through the preamble.
    Preamble,
    /// What follows a delimiter: `--` or padding and CRLF.
    AfterDelimiter,
    /// A part head.
    PartHead,
    /// Body bytes of a part, up to the next delimiter.
    Body,
    /// The close delimiter was read; the rest is epilogue.
    Done,
}

impl MultipartParser {
    /// A parser for parts separated by `boundary` (from [`boundary_of`]).
    pub fn new(boundary: &str) -> MultipartParser {
        MultipartParser::with_limits(boundary, MultipartLimits::default())
    }

    /// A parser with other limits.
    pub fn with_limits(boundary: &str, limits: MultipartLimits) -> MultipartParser {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        MultipartParser {
            delimiter,
            state: State::Preamble,
            limits,
            parts: 0,
            skipped: 0,
            at_start: true,
        }
    }

    /// Reads what it can from `input`: one event, or how much it used before it needs
    /// more. Call again with the rest of the input after an event.
    ///
    /// # Errors
    /// [`MultipartError`]: the body is not valid, or passed a limit. The parser should not
    /// be used after an error.
    pub fn step<'a>(&mut self, input: &'a [u8]) -> Result<MultipartStep<'a>, MultipartError> {
        let mut used = 0;
        loop {
            let rest = input.get(used..).unwrap_or_default();
            let next = match self.state {
                State::Preamble => self.preamble(rest)?,
                State::AfterDelimiter => self.after_delimiter(rest)?,
                State::PartHead => self.part_head(rest)?,
                State::Body => self.body(rest),
                State::Done => Inner::More(rest.len()), // epilogue: ignored
            };
            match next {
                Inner::Advance(n) => used += n,
                Inner::Event(event, n) => {
                    return Ok(MultipartStep::Event {
                        event,
                        consumed: used + n,
                    })
                }
                Inner::More(n) => return Ok(MultipartStep::NeedMore { consumed: used + n }),
            }
        }
    }

    /// The body ended: `Ok` only if the close delimiter was read.
    ///
    /// # Errors
    /// [`MultipartError::Truncated`] otherwise.
    pub fn finish(&self) -> Result<(), MultipartError> {
        match self.state {
            State::Done => Ok(()),
            _ => Err(MultipartError::Truncated),
        }
    }

    /// True once the close delimiter was read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn preamble<'a>(&mut self, input: &'a [u8]) -> Result<Inner<'a>, MultipartError> {
        if self.at_start {
            // Invariant: the delimiter starts with the 2-byte CRLF.
            let dash_boundary = &self.delimiter[2..];
            if input.len() < dash_boundary.len() && dash_boundary.starts_with(input) {
                return Ok(Inner::More(0));
            }
            if input.starts_with(dash_boundary) {
                self.state = State::AfterDelimiter;
                return Ok(Inner::Advance(dash_boundary.len()));
            }
            self.at_start = false; // a preamble: only CRLF + dash-boundary ends it now
        }
        let (found, keep) = find(input, &self.delimiter);
        // Counted alike however the body is cut: bytes that may start the delimiter are
        // counted only once they turn out not to.
        let (preamble, next) = match found {
            Some(at) => (at, None),
            None => (input.len() - keep, Some(input.len() - keep)),
        };
        self.skipped += preamble;
        if self.skipped > self.limits.max_preamble {
            return Err(MultipartError::NoDelimiter {
                max: self.limits.max_preamble,
            });
        }
        match next {
            None => {
                self.state = State::AfterDelimiter;
                Ok(Inner::Advance(preamble + self.delimiter.len()))
            }
            Some(skip) => Ok(Inner::More(skip)),
        }
    }

    fn after_delimiter<'a>(&mut self, input: &'a [u8]) -> Result<Inner<'a>, MultipartError> {
        if input.len() < 2 {
            return Ok(Inner::More(0));
        }
        if input.starts_with(b"--") {
            self.state = State::Done;
            return Ok(Inner::Event(MultipartEvent::End, 2));
        }
        // Transport padding (spaces and tabs), then CRLF.
        let padding = input
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if padding > 64 {
            return Err(MultipartError::BadDelimiter);
        }
        let rest = input.get(padding..).unwrap_or_default();
        if rest.len() < 2 {
            return Ok(Inner::More(0));
        }
        if !rest.starts_with(b"\r\n") {
            return Err(MultipartError::BadDelimiter);
        }
        self.parts += 1;
        if self.parts > self.limits.max_parts {
            return Err(MultipartError::TooManyParts {
                max: self.limits.max_parts,
            });
        }
        self.state = State::PartHead;
        Ok(Inner::Advance(padding + 2))
    }

    fn part_head<'a>(&mut self, input: &'a [u8]) -> Result<Inner<'a>, MultipartError> {
        let max = self.limits.max_part_head;
        let window = input.get(..max.min(input.len())).unwrap_or(input);
        // A head with no fields is just the blank line.
        if window.starts_with(b"\r\n") {
            return Err(MultipartError::MissingName);
        }
        let mut fields = [httparse::EMPTY_HEADER; 16];
        match httparse::parse_headers(window, &mut fields) {
            Ok(httparse::Status::Complete((consumed, fields))) => {
                let head = part_head(fields)?;
                self.state = State::Body;
                Ok(Inner::Event(MultipartEvent::Part(head), consumed))
            }
            Ok(httparse::Status::Partial) if window.len() < max => Ok(Inner::More(0)),
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                Err(MultipartError::PartHeadTooLarge { max })
            }
            Err(_) => Err(MultipartError::BadPartHead),
        }
    }

    fn body<'a>(&mut self, input: &'a [u8]) -> Inner<'a> {
        let (found, keep) = find(input, &self.delimiter);
        match found {
            Some(0) => {
                self.state = State::AfterDelimiter;
                Inner::Event(MultipartEvent::PartEnd, self.delimiter.len())
            }
            Some(at) => Inner::Event(
                MultipartEvent::Data(input.get(..at).unwrap_or_default()),
                at,
            ),
            None => match input.len() - keep {
                0 => Inner::More(0),
                safe => Inner::Event(
                    MultipartEvent::Data(input.get(..safe).unwrap_or_default()),
                    safe,
                ),
            },
        }
    }
}

/// Where `needle` first starts in `haystack`; else how many bytes at its end could be the
/// start of it (to keep for the next call).
fn find(haystack: &[u8], needle: &[u8]) -> (Option<usize>, usize) {
    let Some(&first) = needle.first() else {
        return (Some(0), 0);
    };
    let mut from = 0;
    while let Some(offset) = haystack
        .get(from..)
        .and_then(|h| h.iter().position(|&b| b == first))
    {
        let at = from + offset;
        let rest = haystack.get(at..).unwrap_or_default();
        if rest.len() >= needle.len() {
            if rest.starts_with(needle) {
                return (Some(at), 0);
            }
        } else if needle.starts_with(rest) {
            return (None, rest.len());
        }
        from = at + 1;
    }
    (None, 0)
}

/// The form field a part head names.
fn part_head(fields: &[httparse::Header<'_>]) -> Result<PartHead, MultipartError> {
    let mut head = PartHead {
        name: String::new(),
        filename: None,
        content_type: None,
    };
    let mut named = false;
    for field in fields {
        let value = std::str::from_utf8(field.value).map_err(|_| MultipartError::BadPartHead)?;
        if field.name.eq_ignore_ascii_case("content-disposition") {
            let mut params = value.split(';');
            let kind = params.next().unwrap_or_default().trim();
            if !kind.eq_ignore_ascii_case("form-data") {
                return Err(MultipartError::MissingName);
            }
            for param in params {
                let Some((key, raw)) = param.split_once('=') else {
                    continue;
                };
                let text = unquote(raw.trim());
                match key.trim().to_ascii_lowercase().as_str() {
                    "name" => {
                        head.name = text;
                        named = true;
                    }
                    "filename" => head.filename = Some(text),
                    _ => {}
                }
            }
        } else if field.name.eq_ignore_ascii_case("content-type") {
            head.content_type = Some(value.trim().to_owned());
        }
    }
    if named {
        Ok(head)
    } else {
        Err(MultipartError::MissingName)
    }
}

/// A parameter value: a quoted string (with `\"` escapes) or a token.
fn unquote(raw: &str) -> String {
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return raw.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            other => out.push(other),
        }
    }
    out
}

/// The boundary of a `multipart/form-data` content type: `None` for another type or a
/// boundary RFC 2046 does not allow (1 to 70 characters of its set).
pub fn boundary_of(content_type: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(content_type).ok()?;
    let mut params = text.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = params.find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| unquote(value.trim()))
    })?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "'()+_,-./:=? ".contains(c);
    let valid = (1..=70).contains(&boundary.len())
        && boundary.chars().all(allowed)
        && !boundary.ends_with(' ');
    valid.then_some(boundary)
}

/// One field of a form read whole ([`parse_form_data`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// Its head.
    pub head: PartHead,
    /// Its body.
    pub data: Vec<u8>,
}

/// Reads a whole `multipart/form-data` body at once (for bodies already in memory).
///
/// # Errors
/// The first [`MultipartError`] found, [`MultipartError::Truncated`] if the body ends
/// before its close delimiter.
pub fn parse_form_data(body: &[u8], boundary: &str) -> Result<Vec<FormPart>, MultipartError> {
    let mut parser = MultipartParser::new(boundary);
    let mut parts: Vec<FormPart> = Vec::new();
    let mut rest = body;
    loop {
        match parser.step(rest)? {
            MultipartStep::Event { event, consumed } => {
                match event {
                    MultipartEvent::Part(head) => parts.push(FormPart {
                        head,
                        data: Vec::new(),
                    }),
                    MultipartEvent::Data(data) => {
                        if let Some(part) = parts.last_mut() {
                            part.data.extend_from_slice(data);
                        }
                    }
                    MultipartEvent::PartEnd => {}
                    MultipartEvent::End => return Ok(parts),
                }
                rest = rest.get(consumed..).unwrap_or_default();
            }
            MultipartStep::NeedMore { consumed } => {
                if consumed == 0 || rest.is_empty() {
                    parser.finish()?;
                    return Ok(parts);
                }
                rest = rest.get(consumed..).unwrap_or_default();
            }
        }
    }
}

#[cfg(test)]
mod tests;
