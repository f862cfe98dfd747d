//! Frames that start with their length as a big-endian integer of 1, 2 or 4 bytes (the
//! sans-IO core of Twisted's `Int8StringReceiver`, `Int16StringReceiver` and
//! `Int32StringReceiver`), and the encoder that writes them.
//!
//! ```
//! use torsion::protocols::basic::{FrameParser, IntPrefixedParser, LengthPrefix};
//! let mut parser = IntPrefixedParser::new(LengthPrefix::U32);
//! parser.feed(b"\0\0\0\x02hi\0\0\0\x00");
//! assert_eq!(parser.next_frame(), Ok(Some(&b"hi"[..])));
//! assert_eq!(parser.next_frame(), Ok(Some(&b""[..])));
//! assert_eq!(parser.next_frame(), Ok(None));
//! assert_eq!(LengthPrefix::U16.encode(b"hi"), Ok(b"\0\x02hi".to_vec()));
//! ```
//!
//! A frame whose prefix announces more than [`max_length`](IntPrefixedParser::max_length)
//! bytes is rejected with [`IntPrefixedError::FrameTooLong`] as soon as the prefix is read,
//! before any of its body is buffered (Twisted's `lengthLimitExceeded`). The limit counts
//! the body, not the prefix; a body of exactly `max_length` bytes is accepted. Twisted's
//! `MAX_LENGTH` is 99999 for every prefix width, and so is [`DEFAULT_MAX_LENGTH`]; an 8-bit
//! prefix cannot announce more than 255 anyway.
//!
//! [`LengthPrefix::encode`] refuses a payload the prefix cannot express with
//! [`IntPrefixedError::PayloadTooLong`] (Twisted's `StringTooLongError`). It does not check
//! the receiver's `max_length`, which the sender cannot know.

use std::fmt;

use super::{FrameBuffer, FrameParser};

/// Twisted's `IntNStringReceiver.MAX_LENGTH`: the longest body accepted.
pub const DEFAULT_MAX_LENGTH: usize = 99_999;

/// The width of the length prefix; it is always big-endian (network order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LengthPrefix {
    /// One byte: bodies of up to 255 bytes (`Int8StringReceiver`).
    U8,
    /// Two bytes: bodies of up to 65535 bytes (`Int16StringReceiver`).
    U16,
    /// Four bytes: bodies of up to 4 GiB - 1 (`Int32StringReceiver`).
    U32,
}

/// Splits a byte stream into length-prefixed frames.
#[derive(Debug)]
pub struct IntPrefixedParser {
    buffer: FrameBuffer,
    prefix: LengthPrefix,
    max_length: usize,
    state: State,
}

/// Why a frame was rejected or could not be encoded.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntPrefixedError {
    /// A prefix announced a body longer than the parser's limit.
    FrameTooLong {
        /// The length the prefix announced.
        len: usize,
        /// The parser's [`max_length`](IntPrefixedParser::max_length).
        max: usize,
    },
    /// [`LengthPrefix::encode`] was given more bytes than its prefix can announce.
    PayloadTooLong {
        /// The payload's length.
        len: usize,
        /// The most the prefix can announce.
        max: usize,
    },
}

/// What the parser is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// The length prefix of the next frame.
    AwaitingPrefix,
    /// A body of `len` bytes, whose prefix is already consumed.
    InBody { len: usize },
    /// Nothing more: the input was rejected.
    Failed(IntPrefixedError),
}

impl LengthPrefix {
    /// How many bytes the prefix takes.
    pub const fn width(self) -> usize {
        match self {
            LengthPrefix::U8 => 1,
            LengthPrefix::U16 => 2,
            LengthPrefix::U32 => 4,
        }
    }

    /// The longest payload the prefix can announce.
    pub fn max_payload(self) -> usize {
        match self {
            LengthPrefix::U8 => u8::MAX.into(),
            LengthPrefix::U16 => u16::MAX.into(),
            LengthPrefix::U32 => usize::try_from(u32::MAX).unwrap_or(usize::MAX),
        }
    }

    /// `payload` with its length prefix in front (Twisted's `sendString`).
    pub fn encode(self, payload: &[u8]) -> Result<Vec<u8>, IntPrefixedError> {
        let mut out = Vec::with_capacity(self.width() + payload.len());
        self.encode_into(payload, &mut out)?;
        Ok(out)
    }

    /// Appends `payload` with its length prefix to `out`; on error `out` is left as it was.
    pub fn encode_into(self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), IntPrefixedError> {
        let too_long = || IntPrefixedError::PayloadTooLong {
            len: payload.len(),
            max: self.max_payload(),
        };
        match self {
            LengthPrefix::U8 => {
                let len = u8::try_from(payload.len()).map_err(|_| too_long())?;
                out.push(len);
            }
            LengthPrefix::U16 => {
                let len = u16::try_from(payload.len()).map_err(|_| too_long())?;
                out.extend_from_slice(&len.to_be_bytes());
            }
            LengthPrefix::U32 => {
                let len = u32::try_from(payload.len()).map_err(|_| too_long())?;
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        Ok(())
    }

    /// The length in a prefix of exactly [`width`](Self::width) bytes; `None` otherwise.
    fn decode(self, prefix: &[u8]) -> Option<usize> {
        let len = match self {
            LengthPrefix::U8 => u32::from(u8::from_be_bytes(prefix.try_into().ok()?)),
            LengthPrefix::U16 => u32::from(u16::from_be_bytes(prefix.try_into().ok()?)),
            LengthPrefix::U32 => u32::from_be_bytes(prefix.try_into().ok()?),
        };
        // On a 16-bit target a length that does not fit is too long anyway.
        Some(usize::try_from(len).unwrap_or(usize::MAX))
    }
}

impl IntPrefixedParser {
    /// A parser for `prefix`-sized lengths and bodies of at most [`DEFAULT_MAX_LENGTH`].
    pub fn new(prefix: LengthPrefix) -> Self {
        IntPrefixedParser {
            buffer: FrameBuffer::default(),
            prefix,
            max_length: DEFAULT_MAX_LENGTH,
            state: State::AwaitingPrefix,
        }
    }

    /// Bodies may be up to `max_length` bytes long, prefix not counted.
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        self.max_length = max_length;
        self
    }

    /// The width of the length prefix.
    pub fn prefix(&self) -> LengthPrefix {
        self.prefix
    }
}

impl FrameParser for IntPrefixedParser {
    type Frame<'a> = &'a [u8];
    type Error = IntPrefixedError;

    /// Takes the bytes of a read. Bytes fed after the parser failed are dropped.
    fn feed(&mut self, data: &[u8]) {
        if !matches!(self.state, State::Failed(_)) {
            self.buffer.extend(data);
        }
    }

    /// The next frame's body; `Ok(None)` when more bytes are needed. After an `Err`, every
    /// call returns the same error.
    fn next_frame(&mut self) -> Result<Option<&[u8]>, IntPrefixedError> {
        let len = match &self.state {
            State::Failed(error) => return Err(error.clone()),
            State::InBody { len } => *len,
            State::AwaitingPrefix => {
                let width = self.prefix.width();
                let Some(len) = self
                    .buffer
                    .pending()
                    .get(..width)
                    .and_then(|p| self.prefix.decode(p))
                else {
                    return Ok(None);
                };
                if len > self.max_length {
                    let error = IntPrefixedError::FrameTooLong {
                        len,
                        max: self.max_length,
                    };
                    self.buffer.clear();
                    self.state = State::Failed(error.clone());
                    return Err(error);
                }
                self.buffer.take(width);
                len
            }
        };
        if self.buffer.len() < len {
            self.state = State::InBody { len };
            return Ok(None);
        }
        self.state = State::AwaitingPrefix;
        Ok(Some(self.buffer.take(len)))
    }

    /// The bytes buffered and not yet handed out (a consumed prefix is not among them).
    fn buffered(&self) -> &[u8] {
        self.buffer.pending()
    }

    /// The longest body accepted.
    fn max_length(&self) -> usize {
        self.max_length
    }

    /// A partial prefix, or a body no longer than the limit.
    fn max_buffered(&self) -> usize {
        self.max_length.max(self.prefix.width())
    }

    fn too_long(error: &IntPrefixedError) -> Option<(usize, usize)> {
        match error {
            IntPrefixedError::FrameTooLong { len, max } => Some((*len, *max)),
            _ => None,
        }
    }
}

impl fmt::Display for IntPrefixedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntPrefixedError::FrameTooLong { len, max } => {
                write!(f, "frame too long: {len} bytes (max {max})")
            }
            IntPrefixedError::PayloadTooLong { len, max } => {
                write!(
                    f,
                    "payload too long for its length prefix: {len} bytes (max {max})"
                )
            }
        }
    }
}

impl std::error::Error for IntPrefixedError {}

#[cfg(test)]
mod tests {
    use super::super::frame::{check_frames as check, run};
    use super::*;

    const PREFIXES: [LengthPrefix; 3] = [LengthPrefix::U8, LengthPrefix::U16, LengthPrefix::U32];

    #[test]
    fn frames_table_gives_the_same_frames_for_every_cut() {
        type Row<'a> = (LengthPrefix, &'a [u8], &'a [&'a [u8]]);
        let table: &[Row] = &[
            (LengthPrefix::U8, b"", &[]),
            (LengthPrefix::U8, b"\x00", &[b""]),
            (LengthPrefix::U8, b"\x03abc\x01d\x05ef", &[b"abc", b"d"]),
            (LengthPrefix::U16, b"\x00\x02hi\x00\x00\x00", &[b"hi", b""]),
            (LengthPrefix::U16, b"\x01\x00", &[]),
            (
                LengthPrefix::U32,
                b"\0\0\0\x05hello\0\0\0\x01!",
                &[b"hello", b"!"],
            ),
            (LengthPrefix::U32, b"\0\0\0", &[]),
        ];
        for (prefix, input, frames) in table {
            check(|| IntPrefixedParser::new(*prefix), input, frames, None);
        }
    }

    #[test]
    fn limits_hold_at_max_minus_one_max_and_max_plus_one() {
        for prefix in PREFIXES {
            let make = || IntPrefixedParser::new(prefix).with_max_length(5);
            for len in [4, 5] {
                let body = vec![b'x'; len];
                check(make, &prefix.encode(&body).unwrap(), &[&body], None);
            }
            let over = prefix.encode(b"xxxxxx").unwrap();
            let error = IntPrefixedError::FrameTooLong { len: 6, max: 5 };
            check(make, &over, &[], Some(error));
        }
    }

    #[test]
    fn default_limit_is_99999_for_int32() {
        let make = || IntPrefixedParser::new(LengthPrefix::U32);
        let exact = LengthPrefix::U32.encode(&[7; DEFAULT_MAX_LENGTH]).unwrap();
        assert_eq!(
            run(make(), &[&exact], <[u8]>::to_vec).frames,
            [vec![7; DEFAULT_MAX_LENGTH]]
        );
        let error = IntPrefixedError::FrameTooLong {
            len: 100_000,
            max: 99_999,
        };
        assert_eq!(
            run(make(), &[b"\0\x01\x86\xa0"], <[u8]>::to_vec).error,
            Some(error)
        );
    }

    #[test]
    fn too_long_is_rejected_from_the_prefix_alone() {
        let mut parser = IntPrefixedParser::new(LengthPrefix::U32);
        parser.feed(b"\xff\xff\xff\xff");
        let error = IntPrefixedError::FrameTooLong {
            len: 4_294_967_295,
            max: DEFAULT_MAX_LENGTH,
        };
        assert_eq!(parser.next_frame(), Err(error.clone()));
        parser.feed(&[0; 1024]);
        assert_eq!(parser.buffered(), b"");
        assert_eq!(parser.next_frame(), Err(error));
    }

    #[test]
    fn frames_before_a_long_one_are_delivered() {
        let make = || IntPrefixedParser::new(LengthPrefix::U8).with_max_length(2);
        let error = IntPrefixedError::FrameTooLong { len: 3, max: 2 };
        check(make, b"\x01a\x03abc\x01b", &[b"a"], Some(error));
    }

    #[test]
    fn encode_round_trips_through_the_parser() {
        let payloads: [&[u8]; 4] = [b"", b"a", b"\0\xff\r\n", &[9; 255]];
        for prefix in PREFIXES {
            let wire: Vec<u8> = payloads
                .iter()
                .flat_map(|p| prefix.encode(p).unwrap())
                .collect();
            check(|| IntPrefixedParser::new(prefix), &wire, &payloads, None);
        }
    }

    #[test]
    fn encode_refuses_what_the_prefix_cannot_announce() {
        assert_eq!(LengthPrefix::U8.encode(&[0; 255]).unwrap().len(), 256);
        let error = IntPrefixedError::PayloadTooLong { len: 256, max: 255 };
        assert_eq!(LengthPrefix::U8.encode(&[0; 256]), Err(error));
        let mut out = b"kept".to_vec();
        let result = LengthPrefix::U16.encode_into(&[0; 65536], &mut out);
        let error = IntPrefixedError::PayloadTooLong {
            len: 65536,
            max: 65535,
        };
        assert_eq!(result, Err(error));
        assert_eq!(out, b"kept");
        assert_eq!(
            LengthPrefix::U16.encode(&[1; 65535]).unwrap()[..2],
            [0xff, 0xff]
        );
    }

    #[test]
    fn errors_read_as_style_says() {
        let error = IntPrefixedError::FrameTooLong {
            len: 100_000,
            max: 99_999,
        };
        assert_eq!(
            error.to_string(),
            "frame too long: 100000 bytes (max 99999)"
        );
        let error = IntPrefixedError::PayloadTooLong { len: 256, max: 255 };
        let text = "payload too long for its length prefix: 256 bytes (max 255)";
        assert_eq!(error.to_string(), text);
    }
}
