//! The chunked transfer coding (RFC 9112 §7.1): a byte-at-a-time decoder that never
//! buffers data, and the encoder's pieces (Twisted's `_ChunkedTransferDecoder` and
//! `toChunk`).
//!
//! ```
//! use torsion_web::http::{encode_chunk, encode_last_chunk, ChunkedDecoder, Decoded};
//! let mut wire = Vec::new();
//! encode_chunk(b"hello", &mut wire);
//! encode_chunk(b"", &mut wire); // writes nothing: an empty chunk would end the body
//! encode_last_chunk(&[("Checksum", b"abc")], &mut wire).unwrap();
//! assert_eq!(wire, b"5\r\nhello\r\n0\r\nChecksum: abc\r\n\r\n");
//!
//! let mut decoder = ChunkedDecoder::new();
//! assert_eq!(decoder.decode(&wire), Ok(Decoded::Data { data: b"hello", consumed: 8 }));
//! assert_eq!(decoder.decode(&wire[8..]), Ok(Decoded::End { consumed: wire.len() - 8 }));
//! assert_eq!(decoder.trailers().get("checksum"), Some(&b"abc"[..]));
//! ```
//!
//! # Strictness
//!
//! A chunk size is `1*HEXDIG` read with checked arithmetic: a sign, a `0x` prefix, leading
//! whitespace, an empty size or one past `u64::MAX` is an error (hyper's CVE-2021-32714
//! was an overflow here). Whitespace after the size is allowed only before a `;` that
//! starts extensions (RFC 9112 §7.1.1 BWS). Extensions are skipped, not interpreted; they
//! may hold HTAB, visible ASCII and obs-text, and a bare LF or CR in them, as anywhere in
//! the framing, is an error rather than a line end. Chunk data must be followed by exactly
//! CRLF. Trailer fields are checked by `httparse` and kept apart in
//! [`trailers`](ChunkedDecoder::trailers), never merged into the head's fields (RFC 9110
//! §6.5.1).
//!
//! # Limits
//!
//! [`ChunkedLimits`] bounds what the decoder must look at without handing out data: each
//! size line, digits and extensions, CRLF not counted (default
//! [`DEFAULT_MAX_SIZE_LINE`]); all the extension bytes of one body (default
//! [`DEFAULT_MAX_EXTENSIONS`]), so tiny chunks with long extensions cannot keep a server
//! busy for free; the trailer section, its lines and their CRLFs but not the final blank
//! line ([`DEFAULT_MAX_TRAILER_SIZE`]); and the number of trailer fields
//! ([`DEFAULT_MAX_TRAILERS`]). The body size itself is the [`BodyDecoder`]'s limit.
//!
//! [`BodyDecoder`]: super::BodyDecoder

use std::fmt;
use std::num::NonZeroUsize;

use super::headers::{is_field_value_byte, Headers};
use super::write::{check_field, push_checked_field, WriteError};
use super::Decoded;

/// The longest chunk-size line (size and extensions), CRLF not counted.
pub const DEFAULT_MAX_SIZE_LINE: usize = 4096;

/// The most chunk-extension bytes in one body (hyper's limit too).
pub const DEFAULT_MAX_EXTENSIONS: usize = 16 * 1024;

/// The largest trailer section: its lines with their CRLFs, final blank line not counted.
pub const DEFAULT_MAX_TRAILER_SIZE: usize = 16 * 1024;

/// The most trailer fields in one body.
pub const DEFAULT_MAX_TRAILERS: usize = 32;

/// What ends a chunk's data; send it after the data that followed a [`chunk_header`].
pub const CHUNK_END: &[u8] = b"\r\n";

/// Limits on the framing of one chunked body; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkedLimits {
    max_size_line: usize,
    max_extensions: usize,
    max_trailer_size: usize,
    max_trailers: usize,
}

/// Decodes one chunked body; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    limits: ChunkedLimits,
    state: State,
    /// Extension bytes seen in this body so far (`;` included).
    extensions: usize,
    /// The trailer section as received, its CRLFs included.
    trailer: Vec<u8>,
    /// Trailer lines ended so far.
    trailer_lines: usize,
    trailers: Headers,
}

/// Why a chunked body was rejected; the connection cannot be trusted after it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedError {
    /// A chunk size that is not `1*HEXDIG` (a sign, `0x`, whitespace, nothing).
    InvalidChunkSize,
    /// A chunk size past `u64::MAX`.
    ChunkSizeOverflow,
    /// A chunk-size line longer than the limit.
    SizeLineTooLong {
        /// The limit, CRLF not counted.
        max: usize,
    },
    /// More chunk-extension bytes in the body than the limit.
    ExtensionsTooLarge {
        /// The limit.
        max: usize,
    },
    /// A control byte in a chunk extension.
    InvalidExtension,
    /// A LF not preceded by CR in a size line or trailer.
    BareLineFeed,
    /// A CR not followed by LF in a size line or trailer.
    BareCarriageReturn,
    /// Chunk data not followed by CRLF: the chunk is longer than its size said.
    MissingChunkEnd,
    /// A trailer section larger than the limit.
    TrailersTooLarge {
        /// The limit, final blank line not counted.
        max: usize,
    },
    /// More trailer fields than the limit.
    TooManyTrailers {
        /// The limit.
        max: usize,
    },
    /// A trailer line that is not a valid field.
    InvalidTrailer,
}

/// What the decoder waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a size; `line` bytes of its line so far (0: no digit yet).
    AwaitingSize { size: u64, line: usize },
    /// After whitespace that followed the size: more whitespace, or `;`.
    AwaitingExtension { size: u64, line: usize },
    /// Extension bytes, up to the CR.
    InExtension { size: u64, line: usize },
    /// The LF ending a size line.
    AwaitingSizeLf { size: u64 },
    /// Chunk data, `remaining` bytes of it.
    InData { remaining: u64 },
    /// The CR after chunk data.
    AwaitingDataCr,
    /// The LF after chunk data.
    AwaitingDataLf,
    /// A trailer line, or the blank line that ends the body.
    AwaitingTrailer,
    /// The rest of a trailer line.
    InTrailer,
    /// The LF ending a trailer line.
    AwaitingTrailerLf,
    /// The LF of the final blank line.
    AwaitingEndLf,
    /// Nothing: the body is over.
    Done,
    /// Nothing: the body was rejected.
    Failed(ChunkedError),
}

/// A chunk's size line, `HEX\r\n`, ready to send before the chunk's data.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    bytes: [u8; 18], // 16 hex digits and CRLF
    len: usize,
}

impl ChunkedLimits {
    /// The defaults: [`DEFAULT_MAX_SIZE_LINE`], [`DEFAULT_MAX_EXTENSIONS`],
    /// [`DEFAULT_MAX_TRAILER_SIZE`], [`DEFAULT_MAX_TRAILERS`].
    pub fn new() -> Self {
        ChunkedLimits {
            max_size_line: DEFAULT_MAX_SIZE_LINE,
            max_extensions: DEFAULT_MAX_EXTENSIONS,
            max_trailer_size: DEFAULT_MAX_TRAILER_SIZE,
            max_trailers: DEFAULT_MAX_TRAILERS,
        }
    }

    /// Size lines may be `max` bytes long, CRLF not counted.
    pub fn with_max_size_line(mut self, max: usize) -> Self {
        self.max_size_line = max;
        self
    }

    /// A body may carry `max` bytes of chunk extensions.
    pub fn with_max_extensions(mut self, max: usize) -> Self {
        self.max_extensions = max;
        self
    }

    /// The trailer section may be `max` bytes long, final blank line not counted.
    pub fn with_max_trailer_size(mut self, max: usize) -> Self {
        self.max_trailer_size = max;
        self
    }

    /// A body may end with `max` trailer fields.
    pub fn with_max_trailers(mut self, max: usize) -> Self {
        self.max_trailers = max;
        self
    }
}

impl Default for ChunkedLimits {
    fn default() -> Self {
        ChunkedLimits::new()
    }
}

impl ChunkedDecoder {
    /// A decoder with the default [`ChunkedLimits`].
    pub fn new() -> Self {
        ChunkedDecoder::with_limits(ChunkedLimits::new())
    }

    /// A decoder with these limits.
    pub fn with_limits(limits: ChunkedLimits) -> Self {
        ChunkedDecoder {
            limits,
            state: State::AwaitingSize { size: 0, line: 0 },
            extensions: 0,
            trailer: Vec::new(),
            trailer_lines: 0,
            trailers: Headers::new(),
        }
    }

    /// Reads framing from `buf` up to the next data, which it hands out without copying,
    /// or to the end of the body. Bytes after the end are left alone. After an error every
    /// call returns it again.
    pub fn decode<'a>(&mut self, buf: &'a [u8]) -> Result<Decoded<'a>, ChunkedError> {
        let mut at = 0;
        loop {
            match self.state {
                State::Failed(error) => return Err(error),
                State::Done => return Ok(Decoded::End { consumed: at }),
                State::InData { remaining } => {
                    let rest = buf.get(at..).unwrap_or_default();
                    if rest.is_empty() {
                        return Ok(Decoded::Partial { consumed: at });
                    }
                    let take = usize::try_from(remaining).map_or(rest.len(), |r| r.min(rest.len()));
                    let left = remaining - take as u64; // take <= remaining
                    self.state = if left == 0 {
                        State::AwaitingDataCr
                    } else {
                        State::InData { remaining: left }
                    };
                    return Ok(Decoded::Data {
                        data: rest.get(..take).unwrap_or_default(),
                        consumed: at + take,
                    });
                }
                _ => {
                    let Some(&byte) = buf.get(at) else {
                        return Ok(Decoded::Partial { consumed: at });
                    };
                    at += 1;
                    if let Err(error) = self.step(byte) {
                        self.state = State::Failed(error);
                        return Err(error);
                    }
                }
            }
        }
    }

    /// True once the last chunk and trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The trailer fields, once the body is over; empty before.
    pub fn trailers(&self) -> &Headers {
        &self.trailers
    }

    /// Moves one framing byte through the state machine.
    fn step(&mut self, b: u8) -> Result<(), ChunkedError> {
        self.state = match self.state {
            State::AwaitingSize { size, line } => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    let digit = u64::from(char::from(b).to_digit(16).unwrap_or(0));
                    let size = size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(digit))
                        .ok_or(ChunkedError::ChunkSizeOverflow)?;
                    State::AwaitingSize {
                        size,
                        line: self.size_line(line)?,
                    }
                }
                _ if line == 0 => return Err(ChunkedError::InvalidChunkSize),
                b' ' | b'\t' => State::AwaitingExtension {
                    size,
                    line: self.size_line(line)?,
                },
                b';' => self.extension_byte(size, line)?,
                b'\r' => State::AwaitingSizeLf { size },
                b'\n' => return Err(ChunkedError::BareLineFeed),
                _ => return Err(ChunkedError::InvalidChunkSize),
            },
            State::AwaitingExtension { size, line } => match b {
                b' ' | b'\t' => State::AwaitingExtension {
                    size,
                    line: self.size_line(line)?,
                },
                b';' => self.extension_byte(size, line)?,
                b'\n' => return Err(ChunkedError::BareLineFeed),
                _ => return Err(ChunkedError::InvalidChunkSize),
            },
            State::InExtension { size, line } => match b {
                b'\r' => State::AwaitingSizeLf { size },
                b'\n' => return Err(ChunkedError::BareLineFeed),
                _ if is_field_value_byte(b) => self.extension_byte(size, line)?,
                _ => return Err(ChunkedError::InvalidExtension),
            },
            State::AwaitingSizeLf { size } => match b {
                b'\n' if size == 0 => State::AwaitingTrailer,
                b'\n' => State::InData { remaining: size },
                _ => return Err(ChunkedError::BareCarriageReturn),
            },
            State::AwaitingDataCr => match b {
                b'\r' => State::AwaitingDataLf,
                _ => return Err(ChunkedError::MissingChunkEnd),
            },
            State::AwaitingDataLf => match b {
                b'\n' => State::AwaitingSize { size: 0, line: 0 },
                _ => return Err(ChunkedError::MissingChunkEnd),
            },
            State::AwaitingTrailer => match b {
                b'\r' => State::AwaitingEndLf,
                _ => self.trailer_byte(b)?,
            },
            State::InTrailer => match b {
                b'\r' => State::AwaitingTrailerLf,
                _ => self.trailer_byte(b)?,
            },
            State::AwaitingTrailerLf => match b {
                b'\n' => {
                    self.trailer_lines += 1;
                    if self.trailer_lines > self.limits.max_trailers {
                        return Err(ChunkedError::TooManyTrailers {
                            max: self.limits.max_trailers,
                        });
                    }
                    self.trailer.extend_from_slice(b"\r\n");
                    State::AwaitingTrailer
                }
                _ => return Err(ChunkedError::BareCarriageReturn),
            },
            State::AwaitingEndLf => match b {
                b'\n' => {
                    self.parse_trailers()?;
                    State::Done
                }
                _ => return Err(ChunkedError::BareCarriageReturn),
            },
            // `decode` handles these without calling `step`.
            State::InData { .. } | State::Done | State::Failed(_) => self.state,
        };
        Ok(())
    }

    /// The size line one byte longer, or the limit it breaks.
    fn size_line(&self, line: usize) -> Result<usize, ChunkedError> {
        if line + 1 > self.limits.max_size_line {
            return Err(ChunkedError::SizeLineTooLong {
                max: self.limits.max_size_line,
            });
        }
        Ok(line + 1)
    }

    /// Counts one extension byte against both limits.
    fn extension_byte(&mut self, size: u64, line: usize) -> Result<State, ChunkedError> {
        let line = self.size_line(line)?;
        self.extensions += 1;
        if self.extensions > self.limits.max_extensions {
            return Err(ChunkedError::ExtensionsTooLarge {
                max: self.limits.max_extensions,
            });
        }
        Ok(State::InExtension { size, line })
    }

    /// Keeps one byte of a trailer line, if the line can still end within the limit.
    fn trailer_byte(&mut self, b: u8) -> Result<State, ChunkedError> {
        if b == b'\n' {
            return Err(ChunkedError::BareLineFeed);
        }
        if self.trailer.len() + 1 + CHUNK_END.len() > self.limits.max_trailer_size {
            return Err(ChunkedError::TrailersTooLarge {
                max: self.limits.max_trailer_size,
            });
        }
        self.trailer.push(b);
        Ok(State::InTrailer)
    }

    /// Checks the trailer section with `httparse` and keeps its fields.
    fn parse_trailers(&mut self) -> Result<(), ChunkedError> {
        if self.trailer.is_empty() {
            return Ok(());
        }
        self.trailer.extend_from_slice(b"\r\n");
        let mut slots = vec![httparse::EMPTY_HEADER; self.trailer_lines];
        match httparse::parse_headers(&self.trailer, &mut slots) {
            Ok(httparse::Status::Complete((_, fields))) => {
                let mut trailers = Headers::with_capacity(self.trailer.len(), fields.len());
                for field in fields {
                    trailers.push(field.name, field.value);
                }
                self.trailers = trailers;
                self.trailer = Vec::new();
                Ok(())
            }
            _ => Err(ChunkedError::InvalidTrailer),
        }
    }
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedError {
    /// The status a server answers with before closing the connection.
    pub fn status(&self) -> u16 {
        match self {
            ChunkedError::TrailersTooLarge { .. } | ChunkedError::TooManyTrailers { .. } => 431,
            _ => 400,
        }
    }
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkedError::InvalidChunkSize => f.write_str("chunked body: invalid chunk size"),
            ChunkedError::ChunkSizeOverflow => f.write_str("chunked body: chunk size overflows"),
            ChunkedError::SizeLineTooLong { max } => {
                write!(f, "chunked body: size line too long: over {max} bytes")
            }
            ChunkedError::ExtensionsTooLarge { max } => {
                write!(f, "chunked body: extensions too large: over {max} bytes")
            }
            ChunkedError::InvalidExtension => {
                f.write_str("chunked body: control byte in chunk extension")
            }
            ChunkedError::BareLineFeed => {
                f.write_str("chunked body: line feed without carriage return")
            }
            ChunkedError::BareCarriageReturn => {
                f.write_str("chunked body: carriage return without line feed")
            }
            ChunkedError::MissingChunkEnd => {
                f.write_str("chunked body: chunk data not followed by crlf")
            }
            ChunkedError::TrailersTooLarge { max } => {
                write!(f, "chunked body: trailers too large: over {max} bytes")
            }
            ChunkedError::TooManyTrailers { max } => {
                write!(f, "chunked body: too many trailer fields: over {max}")
            }
            ChunkedError::InvalidTrailer => f.write_str("chunked body: invalid trailer field"),
        }
    }
}

impl std::error::Error for ChunkedError {}

impl ChunkHeader {
    /// The bytes to send.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl AsRef<[u8]> for ChunkHeader {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for ChunkHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChunkHeader({:?})",
            String::from_utf8_lossy(self.as_bytes())
        )
    }
}

/// The size line for a chunk of `len` bytes, for a vectored write of header, data and
/// [`CHUNK_END`] without copying the data. `len` is never zero: a zero-size chunk is the
/// last chunk, which [`encode_last_chunk`] writes.
pub fn chunk_header(len: NonZeroUsize) -> ChunkHeader {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut n = len.get() as u64;
    let mut count = 0;
    while n > 0 {
        digits[count] = HEX[(n & 0xf) as usize]; // count < 16: a u64 has 16 nibbles
        n >>= 4;
        count += 1;
    }
    let mut bytes = [0u8; 18];
    for (slot, digit) in bytes.iter_mut().zip(digits[..count].iter().rev()) {
        *slot = *digit;
    }
    bytes[count..count + 2].copy_from_slice(b"\r\n");
    ChunkHeader {
        bytes,
        len: count + 2,
    }
}

/// Appends `data` as one chunk; empty `data` appends nothing (it would end the body).
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if let Some(len) = NonZeroUsize::new(data.len()) {
        let header = chunk_header(len);
        out.reserve(header.len + data.len() + CHUNK_END.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(CHUNK_END);
    }
}

/// Appends the last chunk, `trailers` and the final blank line. Every trailer is checked
/// first (a token for a name, no control byte but HTAB in a value); on error nothing is
/// appended.
pub fn encode_last_chunk(trailers: &[(&str, &[u8])], out: &mut Vec<u8>) -> Result<(), WriteError> {
    for (name, value) in trailers {
        check_field(name, value)?;
    }
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers {
        push_checked_field(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

#[cfg(test)]
mod tests;
