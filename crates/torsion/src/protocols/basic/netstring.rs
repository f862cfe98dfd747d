//! Netstrings, `len:payload,` with `len` in decimal (the sans-IO core of Twisted's
//! `NetstringReceiver`), and the encoder that writes them.
//!
//! ```
//! use torsion::protocols::basic::{encode_netstring, FrameParser, NetstringError, NetstringParser};
//! let mut parser = NetstringParser::new();
//! parser.feed(&encode_netstring(b"hello")); // b"5:hello,"
//! parser.feed(b"0:,");
//! assert_eq!(parser.next_frame(), Ok(Some(&b"hello"[..])));
//! assert_eq!(parser.next_frame(), Ok(Some(&b""[..])));
//! parser.feed(b"007:");
//! assert_eq!(parser.next_frame(), Err(NetstringError::LeadingZero));
//! ```
//!
//! Twisted's rules, each with its own [`NetstringError`]: the length is `0` or digits that
//! do not start with `0` ([`LeadingZero`](NetstringError::LeadingZero)); anything else
//! before the colon is [`InvalidLength`](NetstringError::InvalidLength), an empty length
//! included; the payload must be followed by a comma
//! ([`MissingComma`](NetstringError::MissingComma)). A length above
//! [`max_length`](NetstringParser::max_length) is
//! [`FrameTooLong`](NetstringError::FrameTooLong) as soon as its digits pass the limit,
//! before the colon and before any of the payload is buffered, so a peer sending endless
//! digits is cut off after a few. A payload of exactly `max_length` bytes is accepted.
//!
//! The length is read digit by digit, so every error is the same wherever the reads end.

use std::fmt;

use super::{FrameBuffer, FrameParser};

/// Twisted's `NetstringReceiver.MAX_LENGTH`: the longest payload accepted.
pub const DEFAULT_MAX_LENGTH: usize = 99_999;

/// Splits a byte stream into netstring payloads.
#[derive(Debug)]
pub struct NetstringParser {
    buffer: FrameBuffer,
    max_length: usize,
    state: State,
}

/// Why a netstring was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetstringError {
    /// The length has a digit after a leading `0`, as in `01:a,`.
    LeadingZero,
    /// A byte that is neither a digit nor the colon after at least one digit.
    InvalidLength {
        /// The byte found.
        byte: u8,
    },
    /// The length is above the parser's limit.
    FrameTooLong {
        /// The length, or its first digits when they already passed `max`.
        len: usize,
        /// The parser's [`max_length`](NetstringParser::max_length).
        max: usize,
    },
    /// The byte after the payload is not a comma.
    MissingComma {
        /// The byte found instead.
        byte: u8,
    },
}

/// What the parser is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// More digits of the length, or its colon; `len` holds the `digits` read so far.
    AwaitingLength { len: usize, digits: usize },
    /// A payload of `len` bytes and its comma; the length and colon are consumed.
    InPayload { len: usize },
    /// Nothing more: the input was rejected.
    Failed(NetstringError),
}

/// How reading the length ended.
enum Length {
    /// Digits and colon read: the payload comes next.
    Complete(usize),
    /// The buffer ended within the length.
    Partial { len: usize, digits: usize },
    /// The length broke a rule.
    Invalid(NetstringError),
}

impl NetstringParser {
    /// A parser for payloads of at most [`DEFAULT_MAX_LENGTH`] bytes.
    pub fn new() -> Self {
        NetstringParser {
            buffer: FrameBuffer::default(),
            max_length: DEFAULT_MAX_LENGTH,
            state: State::AwaitingLength { len: 0, digits: 0 },
        }
    }

    /// Payloads may be up to `max_length` bytes long.
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        self.max_length = max_length;
        self
    }

    /// Fails the parser: drop the buffer, remember the error.
    fn fail(&mut self, error: NetstringError) -> NetstringError {
        self.buffer.clear();
        self.state = State::Failed(error.clone());
        error
    }
}

/// `payload` as a netstring (Twisted's `NetstringReceiver.sendString`).
pub fn encode_netstring(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 22);
    encode_netstring_into(payload, &mut out);
    out
}

/// Appends `payload` as a netstring to `out`.
pub fn encode_netstring_into(payload: &[u8], out: &mut Vec<u8>) {
    // usize::MAX has 20 decimal digits; write them backwards from the end.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = payload.len();
    for slot in digits.iter_mut().rev() {
        // `rest % 10 < 10`, so the cast keeps every bit.
        *slot = b'0' + (rest % 10) as u8;
        start -= 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
    out.push(b':');
    out.extend_from_slice(payload);
    out.push(b',');
}

impl Default for NetstringParser {
    fn default() -> Self {
        NetstringParser::new()
    }
}

impl FrameParser for NetstringParser {
    type Frame<'a> = &'a [u8];
    type Error = NetstringError;

    /// Takes the bytes of a read. Bytes fed after the parser failed are dropped.
    fn feed(&mut self, data: &[u8]) {
        if !matches!(self.state, State::Failed(_)) {
            self.buffer.extend(data);
        }
    }

    /// The next payload; `Ok(None)` when more bytes are needed. After an `Err`, every call
    /// returns the same error.
    fn next_frame(&mut self) -> Result<Option<&[u8]>, NetstringError> {
        let len = match self.state {
            State::Failed(ref error) => return Err(error.clone()),
            State::InPayload { len } => len,
            State::AwaitingLength { len, digits } => {
                let (used, length) =
                    read_length(self.buffer.pending(), len, digits, self.max_length);
                match length {
                    Length::Invalid(error) => return Err(self.fail(error)),
                    Length::Partial { len, digits } => {
                        self.buffer.take(used);
                        self.state = State::AwaitingLength { len, digits };
                        return Ok(None);
                    }
                    Length::Complete(len) => {
                        self.buffer.take(used);
                        len
                    }
                }
            }
        };
        // The payload, then its comma at index `len`.
        let Some(&after) = self.buffer.pending().get(len) else {
            self.state = State::InPayload { len };
            return Ok(None);
        };
        if after != b',' {
            return Err(self.fail(NetstringError::MissingComma { byte: after }));
        }
        self.state = State::AwaitingLength { len: 0, digits: 0 };
        let frame = self.buffer.take(len.saturating_add(1));
        Ok(Some(frame.get(..len).unwrap_or_default()))
    }

    /// The bytes buffered and not yet handed out (consumed length digits are not among them).
    fn buffered(&self) -> &[u8] {
        self.buffer.pending()
    }

    /// The longest payload accepted.
    fn max_length(&self) -> usize {
        self.max_length
    }

    /// Length digits are consumed as they come: only a payload waits.
    fn max_buffered(&self) -> usize {
        self.max_length
    }

    fn too_long(error: &NetstringError) -> Option<(usize, usize)> {
        match error {
            NetstringError::FrameTooLong { len, max } => Some((*len, *max)),
            _ => None,
        }
    }
}

impl fmt::Display for NetstringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetstringError::LeadingZero => f.write_str("netstring length has a leading zero"),
            NetstringError::InvalidLength { byte } => {
                write!(f, "netstring length: unexpected byte 0x{byte:02x}")
            }
            NetstringError::FrameTooLong { len, max } => {
                write!(f, "netstring too long: {len} bytes (max {max})")
            }
            NetstringError::MissingComma { byte } => {
                write!(f, "netstring not ended by a comma: found 0x{byte:02x}")
            }
        }
    }
}

impl std::error::Error for NetstringError {}

/// Reads length digits from `bytes`, going on from `len` (`digits` digits read before).
/// Returns how many bytes it consumed and how the length ended.
fn read_length(bytes: &[u8], mut len: usize, mut digits: usize, max: usize) -> (usize, Length) {
    for (at, &byte) in bytes.iter().enumerate() {
        let digit = match byte {
            b':' if digits > 0 => return (at + 1, Length::Complete(len)),
            b'0'..=b'9' if digits == 1 && len == 0 => {
                return (at, Length::Invalid(NetstringError::LeadingZero))
            }
            b'0'..=b'9' => usize::from(byte - b'0'),
            _ => return (at, Length::Invalid(NetstringError::InvalidLength { byte })),
        };
        match len.checked_mul(10).and_then(|l| l.checked_add(digit)) {
            Some(next) if next <= max => len = next,
            next => {
                let len = next.unwrap_or(usize::MAX);
                return (
                    at,
                    Length::Invalid(NetstringError::FrameTooLong { len, max }),
                );
            }
        }
        digits += 1;
    }
    (bytes.len(), Length::Partial { len, digits })
}

#[cfg(test)]
mod tests {
    use super::super::frame::{check_frames as check, run};
    use super::*;

    #[test]
    fn valid_table_gives_the_same_payloads_for_every_cut() {
        let table: &[(&[u8], &[&[u8]])] = &[
            (b"", &[]),
            (b"0:,", &[b""]),
            (b"5:hello,", &[b"hello"]),
            (b"3:a,b,0:,1:,,", &[b"a,b", b"", b","]),
            (b"12:hello world!,5:hel", &[b"hello world!"]),
            (b"10:", &[]),
            (b"3:ab", &[]),
            (b"1", &[]),
            (b"0", &[]),
        ];
        for (input, frames) in table {
            check(NetstringParser::new, input, frames, None);
        }
    }

    #[test]
    fn invalid_table_gives_the_same_error_for_every_cut() {
        use NetstringError::*;
        type Row<'a> = (&'a [u8], &'a [&'a [u8]], NetstringError);
        let table: &[Row] = &[
            (b"00:,", &[], LeadingZero),
            (b"0:,01:a,", &[b""], LeadingZero),
            (b":,", &[], InvalidLength { byte: b':' }),
            (b"a:,", &[], InvalidLength { byte: b'a' }),
            (b"-1:a,", &[], InvalidLength { byte: b'-' }),
            (b" 1:a,", &[], InvalidLength { byte: b' ' }),
            (b"1 :a,", &[], InvalidLength { byte: b' ' }),
            (b"3:abc;", &[], MissingComma { byte: b';' }),
            (b"1:a,2:abc,", &[b"a"], MissingComma { byte: b'c' }),
        ];
        for (input, frames, error) in table {
            check(NetstringParser::new, input, frames, Some(error.clone()));
        }
    }

    #[test]
    fn limits_hold_at_max_minus_one_max_and_max_plus_one() {
        let make = || NetstringParser::new().with_max_length(10);
        check(make, b"9:123456789,", &[b"123456789"], None);
        check(make, b"10:1234567890,", &[b"1234567890"], None);
        let error = NetstringError::FrameTooLong { len: 11, max: 10 };
        check(make, b"11:12345678901,", &[], Some(error));
    }

    #[test]
    fn default_limit_is_99999() {
        let exact = encode_netstring(&[b'x'; DEFAULT_MAX_LENGTH]);
        assert_eq!(
            run(NetstringParser::new(), &[&exact], <[u8]>::to_vec)
                .frames
                .len(),
            1
        );
        let error = NetstringError::FrameTooLong {
            len: 100_000,
            max: 99_999,
        };
        assert_eq!(
            run(NetstringParser::new(), &[b"100000:"], <[u8]>::to_vec).error,
            Some(error)
        );
    }

    #[test]
    fn too_long_is_rejected_from_its_first_digits() {
        let mut parser = NetstringParser::new().with_max_length(50);
        parser.feed(b"9999999999999999999999999999");
        let error = NetstringError::FrameTooLong { len: 99, max: 50 };
        assert_eq!(parser.next_frame(), Err(error.clone()));
        parser.feed(b":x,");
        assert_eq!(parser.buffered(), b"");
        assert_eq!(parser.next_frame(), Err(error));
    }

    #[test]
    fn length_that_overflows_usize_is_too_long() {
        let mut parser = NetstringParser::new().with_max_length(usize::MAX);
        parser.feed(b"99999999999999999999999:");
        let error = NetstringError::FrameTooLong {
            len: usize::MAX,
            max: usize::MAX,
        };
        assert_eq!(parser.next_frame(), Err(error));
    }

    #[test]
    fn encode_round_trips_through_the_parser() {
        let payloads: [&[u8]; 5] = [b"", b"a", b"1:a,", b"\0\xff\r\n", &[9; 1000]];
        assert_eq!(encode_netstring(b"hello"), b"5:hello,");
        assert_eq!(encode_netstring(b""), b"0:,");
        assert_eq!(encode_netstring(&[0; 1000])[..5], *b"1000:");
        let mut wire = Vec::new();
        for payload in payloads {
            encode_netstring_into(payload, &mut wire);
        }
        check(NetstringParser::new, &wire, &payloads, None);
    }

    #[test]
    fn errors_read_as_style_says() {
        use NetstringError::*;
        let cases = [
            (LeadingZero, "netstring length has a leading zero"),
            (
                InvalidLength { byte: b'a' },
                "netstring length: unexpected byte 0x61",
            ),
            (
                FrameTooLong { len: 100, max: 99 },
                "netstring too long: 100 bytes (max 99)",
            ),
            (
                MissingComma { byte: b';' },
                "netstring not ended by a comma: found 0x3b",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
