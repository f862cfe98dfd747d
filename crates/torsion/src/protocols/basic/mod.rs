//! Framing cores: split a byte stream into lines, netstrings or length-prefixed frames
//! (Twisted's `twisted.protocols.basic`), with no sockets and no reactor.
//!
//! ```
//! use torsion::protocols::basic::{FrameParser, IntPrefixedParser, LengthPrefix};
//! let mut frames = IntPrefixedParser::new(LengthPrefix::U16);
//! let wire = LengthPrefix::U16.encode(b"hello").unwrap();
//! frames.feed(&wire[..3]); // a read can end anywhere
//! assert_eq!(frames.next_frame(), Ok(None));
//! frames.feed(&wire[3..]);
//! assert_eq!(frames.next_frame(), Ok(Some(&b"hello"[..])));
//! ```
//!
//! | Twisted | core here | limit (default) | overrun error |
//! |---|---|---|---|
//! | `LineReceiver`, `LineOnlyReceiver` | [`LineParser`] | [`DEFAULT_MAX_LINE_LENGTH`] | [`LineError::LineTooLong`] |
//! | `Int8StringReceiver`, `Int16StringReceiver`, `Int32StringReceiver` | [`IntPrefixedParser`] | [`int_prefixed::DEFAULT_MAX_LENGTH`] | [`IntPrefixedError::FrameTooLong`] |
//! | `NetstringReceiver` | [`NetstringParser`] | [`netstring::DEFAULT_MAX_LENGTH`] | [`NetstringError::FrameTooLong`] |
//!
//! # One shape for every core
//!
//! Each core is driven the same way, the [`FrameParser`] trait: [`feed`](FrameParser::feed)
//! it the bytes of a read, then call `next_frame` until it returns `Ok(None)` ("feed me
//! more"). `Err` means the peer sent
//! something that must be rejected; the core then stays failed (every later `next_frame`
//! returns the same error and `feed` drops its bytes), so memory stays bounded and the
//! caller closes the connection, as Twisted's `lineLengthExceeded` does by default.
//!
//! Parsing is lazy, one frame per `next_frame` call. That is what makes
//! [`LineParser::set_raw_mode`] and [`LineParser::set_line_mode`] work between two frames:
//! the bytes still buffered are read in whatever mode is set when they are asked for.
//!
//! # Memory
//!
//! A core owns one buffer that it reuses: consumed bytes are only skipped, and the buffer is
//! compacted (the unread tail moved to the front) on the next `feed`, which copies at most one
//! unfinished frame per read. Frames are returned as slices borrowed from that buffer, so
//! the steady state allocates nothing and copies each byte once; a caller that needs to keep
//! a frame copies it (`to_vec`). Limits are checked as soon as the bytes that break them are
//! buffered, so a core never holds more than its limit plus one read.

mod frame;
mod framed;
pub mod int_prefixed;
pub mod line;
pub mod line_receiver;
pub mod netstring;
pub mod string_receiver;

pub use frame::FrameParser;
pub use framed::{FrameHandler, Framed};
pub use int_prefixed::{IntPrefixedError, IntPrefixedParser, LengthPrefix};
pub use line::{LineError, LineFrame, LineParser, DEFAULT_MAX_LINE_LENGTH};
pub use line_receiver::{LineProtocol, LineReceiver, Lines};
pub use netstring::{encode_netstring, encode_netstring_into, NetstringError, NetstringParser};
pub use string_receiver::{StringCore, StringProtocol, StringReceiver, Strings};

/// The bytes fed to a core and not yet handed out as frames.
///
/// `bytes[..start]` is already consumed: it is kept until the next [`extend`](Self::extend)
/// so that frames can be borrowed from the buffer without copying.
#[derive(Debug, Default)]
struct FrameBuffer {
    bytes: Vec<u8>,
    /// Index of the first unconsumed byte; always `<= bytes.len()`.
    start: usize,
}

impl FrameBuffer {
    /// Appends `data`, first dropping the consumed prefix (lazy compaction).
    fn extend(&mut self, data: &[u8]) {
        if self.start > 0 {
            // Only the unfinished tail moves, and it moves once per read.
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        self.bytes.extend_from_slice(data);
    }

    /// The unconsumed bytes.
    fn pending(&self) -> &[u8] {
        self.bytes.get(self.start..).unwrap_or_default()
    }

    /// How many unconsumed bytes there are.
    fn len(&self) -> usize {
        self.bytes.len().saturating_sub(self.start)
    }

    /// Consumes the next `n` bytes (or all there are) and returns them.
    fn take(&mut self, n: usize) -> &[u8] {
        let begin = self.start;
        let end = begin.saturating_add(n).min(self.bytes.len());
        self.start = end;
        self.bytes.get(begin..end).unwrap_or_default()
    }

    /// Puts `extra` back in front of the unconsumed bytes.
    fn unread(&mut self, extra: &[u8]) {
        match self.start.checked_sub(extra.len()) {
            // The consumed prefix is dead space: reuse it and move nothing.
            Some(at) => {
                if let Some(slot) = self.bytes.get_mut(at..self.start) {
                    slot.copy_from_slice(extra);
                    self.start = at;
                }
            }
            None => {
                self.bytes
                    .splice(self.start..self.start, extra.iter().copied());
            }
        }
    }

    /// Removes and returns every unconsumed byte.
    fn take_all(&mut self) -> Vec<u8> {
        let rest = self.pending().to_vec();
        self.bytes.clear();
        self.start = 0;
        rest
    }

    /// Drops everything, keeping the capacity for reuse.
    fn clear(&mut self) {
        self.bytes.clear();
        self.start = 0;
    }
}

/// The ways the tests cut one input into reads: whole, split in two at every offset, and
/// one byte at a time.
#[cfg(test)]
fn chunkings(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all = vec![vec![input]];
    for at in 0..=input.len() {
        let (head, tail) = input.split_at(at);
        all.push(vec![head, tail]);
    }
    all.push(input.chunks(1).collect());
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumed_bytes_are_dropped_on_the_next_extend() {
        let mut buffer = FrameBuffer::default();
        buffer.extend(b"abcdef");
        assert_eq!(buffer.take(4), b"abcd");
        assert_eq!(buffer.pending(), b"ef");
        buffer.extend(b"gh");
        assert_eq!(buffer.start, 0);
        assert_eq!(buffer.bytes, b"efgh");
    }

    #[test]
    fn take_past_the_end_returns_what_there_is() {
        let mut buffer = FrameBuffer::default();
        buffer.extend(b"ab");
        assert_eq!(buffer.take(usize::MAX), b"ab");
        assert_eq!(buffer.len(), 0);
        assert_eq!(buffer.take(1), b"");
    }

    #[test]
    fn unread_reuses_the_consumed_prefix_or_inserts() {
        let mut buffer = FrameBuffer::default();
        buffer.extend(b"xxxxtail");
        buffer.take(4);
        buffer.unread(b"ab");
        assert_eq!(buffer.pending(), b"abtail");
        buffer.unread(b"0123456789");
        assert_eq!(buffer.pending(), b"0123456789abtail");
        assert_eq!(buffer.take_all(), b"0123456789abtail");
        assert_eq!(buffer.len(), 0);
    }

    #[test]
    fn chunkings_cover_whole_every_split_and_bytes() {
        let cuts = chunkings(b"abc");
        assert_eq!(cuts.len(), 1 + 4 + 1);
        for cut in cuts {
            assert_eq!(cut.concat(), b"abc");
        }
    }
}
