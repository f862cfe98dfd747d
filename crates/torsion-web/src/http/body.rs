//! Message bodies unframed, whichever the framing, with a size limit (what Twisted's
//! `_IdentityTransferDecoder` and `_ChunkedTransferDecoder` do for `HTTPChannel`).
//!
//! ```
//! use torsion_web::http::{BodyDecoder, BodyError, Decoded, Framing};
//! let mut body = BodyDecoder::new(Framing::Length(5), 1024);
//! let wire = b"helloGET / HTTP/1.1\r\n";
//! assert_eq!(body.decode(wire), Ok(Decoded::Data { data: b"hello", consumed: 5 }));
//! assert_eq!(body.decode(&wire[5..]), Ok(Decoded::End { consumed: 0 })); // the rest is the next request
//!
//! // A body announced larger than the limit fails before a byte of it is read.
//! let mut body = BodyDecoder::new(Framing::Length(2048), 1024);
//! assert_eq!(body.decode(b""), Err(BodyError::TooLarge { max: 1024 }));
//! ```
//!
//! Data is handed out as slices of the input, never copied; `consumed` says how much of
//! the input to drop before the next call. [`Framing::UntilClose`] bodies end when the
//! caller says the connection closed ([`BodyDecoder::finish`]), which for the other
//! framings means the body was cut short. The limit counts body bytes, not framing: a
//! `Content-Length` over it fails at once (so a server can answer 413 without reading),
//! other bodies fail on the first data that would cross it.

use std::fmt;

use super::chunked::{ChunkedDecoder, ChunkedError, ChunkedLimits};
use super::head::Framing;
use super::Decoded;

/// The largest body accepted unless the server or client says otherwise: 10 MiB.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 10 * 1024 * 1024;

/// Decodes one body; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    max: u64,
    /// Body bytes handed out so far.
    received: u64,
}

/// Why a body was rejected or could not be completed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// The body is larger than the limit (413).
    TooLarge {
        /// The limit, in bytes.
        max: u64,
    },
    /// The chunked framing is invalid.
    Chunked(ChunkedError),
    /// The connection closed before the body ended.
    Truncated,
}

/// What the decoder waits for.
#[derive(Debug, Clone)]
enum State {
    /// `remaining` more bytes of a `Content-Length` body.
    AwaitingBytes { remaining: u64 },
    /// Chunked framing and data.
    Chunked(Box<ChunkedDecoder>),
    /// Bytes until the connection closes.
    AwaitingClose,
    /// Nothing: the body is over.
    Done,
    /// Nothing: the body was rejected.
    Failed(BodyError),
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing` (from the head), of at most `max` bytes,
    /// with the default [`ChunkedLimits`].
    pub fn new(framing: Framing, max: u64) -> Self {
        let state = match framing {
            Framing::Empty => State::Done,
            Framing::Length(n) if n > max => State::Failed(BodyError::TooLarge { max }),
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::AwaitingBytes { remaining: n },
            Framing::Chunked => State::Chunked(Box::default()),
            Framing::UntilClose => State::AwaitingClose,
        };
        BodyDecoder {
            state,
            max,
            received: 0,
        }
    }

    /// Uses these limits for a chunked body's framing.
    pub fn with_chunked_limits(mut self, limits: ChunkedLimits) -> Self {
        if let State::Chunked(decoder) = &mut self.state {
            **decoder = ChunkedDecoder::with_limits(limits);
        }
        self
    }

    /// Reads `buf` up to the next data, which it hands out without copying, or to the end
    /// of the body; the end is reported by a call of its own. After an error every call
    /// returns it again.
    pub fn decode<'a>(&mut self, buf: &'a [u8]) -> Result<Decoded<'a>, BodyError> {
        let decoded = match &mut self.state {
            State::Failed(error) => return Err(*error),
            State::Done => return Ok(Decoded::End { consumed: 0 }),
            State::AwaitingBytes { remaining } => {
                if buf.is_empty() {
                    return Ok(Decoded::Partial { consumed: 0 });
                }
                let take = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                *remaining -= take as u64; // take <= remaining
                if *remaining == 0 {
                    self.state = State::Done;
                }
                Decoded::Data {
                    data: buf.get(..take).unwrap_or_default(),
                    consumed: take,
                }
            }
            State::Chunked(decoder) => match decoder.decode(buf) {
                Ok(decoded) => decoded,
                Err(error) => return Err(self.fail(BodyError::Chunked(error))),
            },
            State::AwaitingClose if buf.is_empty() => return Ok(Decoded::Partial { consumed: 0 }),
            State::AwaitingClose => Decoded::Data {
                data: buf,
                consumed: buf.len(),
            },
        };
        if let Decoded::Data { data, .. } = decoded {
            self.received = self.received.saturating_add(data.len() as u64);
            if self.received > self.max {
                return Err(self.fail(BodyError::TooLarge { max: self.max }));
            }
        }
        Ok(decoded)
    }

    /// Tells the decoder the connection closed: the end of an until-close body, an error
    /// for any other body not yet over.
    pub fn finish(&mut self) -> Result<(), BodyError> {
        match &self.state {
            State::Done => Ok(()),
            State::AwaitingClose => {
                self.state = State::Done;
                Ok(())
            }
            State::Chunked(decoder) if decoder.is_done() => Ok(()),
            State::Failed(error) => Err(*error),
            State::AwaitingBytes { .. } | State::Chunked(_) => Err(self.fail(BodyError::Truncated)),
        }
    }

    /// True once the whole body has been read.
    pub fn is_done(&self) -> bool {
        match &self.state {
            State::Done => true,
            State::Chunked(decoder) => decoder.is_done(),
            _ => false,
        }
    }

    /// Body bytes handed out so far, framing not counted.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The trailer fields of a chunked body, once it is over; `None` for other framings.
    pub fn trailers(&self) -> Option<&super::Headers> {
        match &self.state {
            State::Chunked(decoder) => Some(decoder.trailers()),
            _ => None,
        }
    }

    /// Remembers `error` as the decoder's last word and returns it.
    fn fail(&mut self, error: BodyError) -> BodyError {
        self.state = State::Failed(error);
        error
    }
}

impl BodyError {
    /// The status a server answers with before closing the connection.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge { .. } => 413,
            BodyError::Chunked(error) => error.status(),
            BodyError::Truncated => 400,
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge { max } => write!(f, "body too large: over {max} bytes"),
            BodyError::Chunked(error) => fmt::Display::fmt(error, f),
            BodyError::Truncated => f.write_str("body cut short: connection closed"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::Chunked(error) => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` cut into pieces of `step` bytes (the rest kept for the next call, as
    /// a connection would) and returns the body, where it ended, or the error.
    fn run(
        framing: Framing,
        max: u64,
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, usize), BodyError> {
        let mut decoder = BodyDecoder::new(framing, max);
        let (mut body, mut start, mut end) = (Vec::new(), 0, 0);
        loop {
            end = (end + step).min(input.len());
            match decoder.decode(&input[start..end])? {
                Decoded::Data { data, consumed } => {
                    assert!(!data.is_empty());
                    body.extend_from_slice(data);
                    start += consumed;
                }
                Decoded::Partial { consumed } => {
                    start += consumed;
                    if end == input.len() {
                        decoder.finish()?;
                        return Ok((body, start));
                    }
                }
                Decoded::End { consumed } => return Ok((body, start + consumed)),
            }
        }
    }

    /// Feeds `input` in two pieces, split at `at`.
    fn run_split(
        framing: Framing,
        max: u64,
        input: &[u8],
        at: usize,
    ) -> Result<(Vec<u8>, usize), BodyError> {
        let mut decoder = BodyDecoder::new(framing, max);
        let (mut body, mut start) = (Vec::new(), 0);
        for end in [at, input.len()] {
            loop {
                match decoder.decode(&input[start..end])? {
                    Decoded::Data { data, consumed } => {
                        body.extend_from_slice(data);
                        start += consumed;
                    }
                    Decoded::Partial { consumed } => {
                        start += consumed;
                        break;
                    }
                    Decoded::End { consumed } => return Ok((body, start + consumed)),
                }
            }
        }
        decoder.finish()?;
        Ok((body, start))
    }

    /// The same result whole, split in two at every offset, and for every piece size down
    /// to one byte at a time.
    fn decode(framing: Framing, max: u64, input: &[u8]) -> Result<(Vec<u8>, usize), BodyError> {
        let whole = run(framing, max, input, input.len().max(1));
        for at in 1..input.len() {
            assert_eq!(
                run_split(framing, max, input, at),
                whole,
                "split at {at} of {input:?}"
            );
        }
        for step in 1..input.len() {
            assert_eq!(
                run(framing, max, input, step),
                whole,
                "step {step} of {input:?}"
            );
        }
        whole
    }

    #[test]
    fn each_framing_ends_where_it_should() {
        use Framing::*;
        type Row = (
            Framing,
            u64,
            &'static [u8],
            Result<(&'static [u8], usize), BodyError>,
        );
        let table: &[Row] = &[
            (Empty, 10, b"next", Ok((b"", 0))),
            (Length(4), 10, b"bodynext", Ok((b"body", 4))),
            (Length(4), 4, b"body", Ok((b"body", 4))),
            (Length(4), 3, b"body", Err(BodyError::TooLarge { max: 3 })),
            (Length(4), 10, b"bod", Err(BodyError::Truncated)),
            (
                Chunked,
                10,
                b"4\r\nbody\r\n0\r\n\r\nnext",
                Ok((b"body", 14)),
            ),
            (
                Chunked,
                10,
                b"2\r\nbo\r\n2;x=y\r\ndy\r\n0\r\n\r\n",
                Ok((b"body", 23)),
            ),
            (
                Chunked,
                4,
                b"2\r\nbo\r\n2\r\ndy\r\n0\r\n\r\n",
                Ok((b"body", 19)),
            ),
            (
                Chunked,
                3,
                b"2\r\nbo\r\n2\r\ndy\r\n0\r\n\r\n",
                Err(BodyError::TooLarge { max: 3 }),
            ),
            (Chunked, 10, b"4\r\nbody\r\n", Err(BodyError::Truncated)),
            (
                Chunked,
                10,
                b"4\r\nbodyX\r\n",
                Err(BodyError::Chunked(ChunkedError::MissingChunkEnd)),
            ),
            (UntilClose, 10, b"all of it", Ok((b"all of it", 9))),
            (UntilClose, 10, b"", Ok((b"", 0))),
            (
                UntilClose,
                8,
                b"all of it",
                Err(BodyError::TooLarge { max: 8 }),
            ),
        ];
        for (framing, max, input, expected) in table {
            let expected = expected.map(|(body, end)| (body.to_vec(), end));
            assert_eq!(
                decode(*framing, *max, input),
                expected,
                "{framing:?} {input:?}"
            );
        }
    }

    #[test]
    fn limits_hold_at_n_minus_one_n_and_n_plus_one() {
        for (len, max, ok) in [(99u64, 100, true), (100, 100, true), (101, 100, false)] {
            let body = vec![b'x'; len as usize];
            let got = decode(Framing::Length(len), max, &body).map(|(b, _)| b.len() as u64);
            assert_eq!(got.is_ok(), ok, "length {len}");
            let got = decode(Framing::UntilClose, max, &body).map(|(b, _)| b.len() as u64);
            assert_eq!(got.is_ok(), ok, "until close {len}");
            let mut chunked = Vec::new();
            super::super::encode_chunk(&body, &mut chunked);
            super::super::encode_last_chunk(&[], &mut chunked).unwrap();
            let got = decode(Framing::Chunked, max, &chunked).map(|(b, _)| b.len() as u64);
            assert_eq!(
                got,
                if ok {
                    Ok(len)
                } else {
                    Err(BodyError::TooLarge { max })
                }
            );
        }
    }

    #[test]
    fn statuses_map_from_errors() {
        assert_eq!(BodyError::TooLarge { max: 1 }.status(), 413);
        assert_eq!(
            BodyError::Chunked(ChunkedError::InvalidChunkSize).status(),
            400
        );
        assert_eq!(BodyError::Truncated.status(), 400);
        assert_eq!(
            BodyError::Chunked(ChunkedError::InvalidChunkSize).to_string(),
            "chunked body: invalid chunk size"
        );
    }
}
