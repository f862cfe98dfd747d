//! Split a byte stream into delimited lines, with a raw mode in between (the sans-IO core
//! of Twisted's `LineReceiver` and `LineOnlyReceiver`).
//!
//! ```
//! use torsion::protocols::basic::{FrameParser, LineFrame, LineParser};
//! let mut parser = LineParser::new(); // "\r\n", at most 16384 bytes a line
//! parser.feed(b"SIZE 3\r\nabcQUIT\r");
//! assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Line(&b"SIZE 3"[..]))));
//! parser.set_raw_mode(); // the next bytes are a body, not lines
//! assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Raw(&b"abcQUIT\r"[..]))));
//! parser.set_line_mode(b"QUIT\r"); // give back what the body did not use
//! parser.feed(b"\n");
//! assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Line(&b"QUIT"[..]))));
//! ```
//!
//! # Limits
//!
//! As in Twisted, [`max_length`](FrameParser::max_length) counts the line without its
//! delimiter: a line of exactly `max_length` bytes is accepted, one more byte is
//! [`LineError::LineTooLong`]. A line is rejected as soon as the bytes buffered without a
//! delimiter prove it too long, not when its delimiter finally comes, so a peer that never
//! sends one cannot grow the buffer. Bytes that could be the start of a delimiter are not
//! counted yet: a line of exactly `max_length` bytes whose `\r` and `\n` arrive in two reads
//! is accepted (Twisted's `LineOnlyReceiver` rejects that one; its `LineReceiver` accepts
//! it, and so do we). After the error, `len` is the part of the line that had arrived: it
//! depends on where the reads ended, `max` does not.
//!
//! # Modes
//!
//! In line mode, [`next_frame`](FrameParser::next_frame) returns one [`LineFrame::Line`] at
//! a time; in raw mode, it returns everything buffered as one [`LineFrame::Raw`]. Switching
//! between two frames re-reads the buffered bytes in the new mode, as Twisted's
//! `setRawMode` and `setLineMode(extra)` do. A parser that never switches is a
//! `LineOnlyReceiver`.

use std::fmt;

use super::{FrameBuffer, FrameParser};

/// Twisted's `LineReceiver.MAX_LENGTH`: the longest line accepted, delimiter not counted.
pub const DEFAULT_MAX_LINE_LENGTH: usize = 16384;

/// Twisted's `LineReceiver.delimiter`.
pub const DEFAULT_DELIMITER: &[u8] = b"\r\n";

/// Splits a byte stream into lines (line mode) or passes it through (raw mode).
#[derive(Debug)]
pub struct LineParser {
    buffer: FrameBuffer,
    delimiter: Vec<u8>,
    max_length: usize,
    state: State,
}

/// What [`next_frame`](FrameParser::next_frame) hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFrame<'a> {
    /// One line, without its delimiter (line mode).
    Line(&'a [u8]),
    /// Every byte buffered so far, never empty (raw mode).
    Raw(&'a [u8]),
}

/// Why a [`LineParser`] rejected its input or its configuration.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// A line is longer than the limit (Twisted's `lineLengthExceeded`). `len` counts the
    /// bytes of the line that had arrived when it was rejected, at least `max + 1`.
    LineTooLong {
        /// Bytes of the line seen so far, delimiter not counted.
        len: usize,
        /// The parser's [`max_length`](FrameParser::max_length).
        max: usize,
    },
    /// [`LineParser::with_delimiter`] was given an empty delimiter, which would split
    /// between every two bytes.
    EmptyDelimiter,
}

/// What the parser is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// A delimiter. The first `scanned` pending bytes are known not to start one.
    AwaitingLine { scanned: usize },
    /// Any bytes at all: raw mode.
    Raw,
    /// Nothing more: the input was rejected.
    Failed(LineError),
}

impl LineParser {
    /// A parser for `\r\n`-delimited lines of at most [`DEFAULT_MAX_LINE_LENGTH`] bytes.
    pub fn new() -> Self {
        LineParser {
            buffer: FrameBuffer::default(),
            delimiter: DEFAULT_DELIMITER.to_vec(),
            max_length: DEFAULT_MAX_LINE_LENGTH,
            state: State::AwaitingLine { scanned: 0 },
        }
    }

    /// Lines end with `delimiter` instead (Twisted's `delimiter` attribute, e.g. `b"\n"`).
    /// Fails with [`LineError::EmptyDelimiter`] if it is empty.
    pub fn with_delimiter(mut self, delimiter: &[u8]) -> Result<Self, LineError> {
        if delimiter.is_empty() {
            return Err(LineError::EmptyDelimiter);
        }
        self.delimiter = delimiter.to_vec();
        Ok(self)
    }

    /// Lines may be up to `max_length` bytes long, delimiter not counted.
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        self.max_length = max_length;
        self
    }

    /// The bytes that end a line.
    pub fn delimiter(&self) -> &[u8] {
        &self.delimiter
    }

    /// True in raw mode.
    pub fn is_raw_mode(&self) -> bool {
        self.state == State::Raw
    }

    /// Hands out the buffered bytes, and those fed later, as [`LineFrame::Raw`] from the
    /// next [`next_frame`](FrameParser::next_frame) on (Twisted's `setRawMode`).
    pub fn set_raw_mode(&mut self) {
        if !matches!(self.state, State::Failed(_)) {
            self.state = State::Raw;
        }
    }

    /// Splits the buffered bytes into lines again, starting with `extra` (Twisted's
    /// `setLineMode(extra)`): pass back the part of the last raw frame that was not used.
    /// `extra` goes in front of any bytes still buffered, because it arrived before them.
    pub fn set_line_mode(&mut self, extra: &[u8]) {
        if !matches!(self.state, State::Failed(_)) {
            self.buffer.unread(extra);
            self.state = State::AwaitingLine { scanned: 0 };
        }
    }

    /// Removes and returns the buffered bytes (Twisted's `clearLineBuffer`).
    pub fn clear_line_buffer(&mut self) -> Vec<u8> {
        self.buffer.take_all()
    }

    /// Fails the parser: drop the buffer, remember the error.
    fn fail(&mut self, len: usize) -> LineError {
        let error = LineError::LineTooLong {
            len,
            max: self.max_length,
        };
        self.buffer.clear();
        self.state = State::Failed(error.clone());
        error
    }
}

impl Default for LineParser {
    fn default() -> Self {
        LineParser::new()
    }
}

impl FrameParser for LineParser {
    type Frame<'a> = LineFrame<'a>;
    type Error = LineError;

    /// Takes the bytes of a read. Bytes fed after the parser failed are dropped.
    fn feed(&mut self, data: &[u8]) {
        if !matches!(self.state, State::Failed(_)) {
            self.buffer.extend(data);
        }
    }

    /// The next line (line mode) or everything buffered (raw mode); `Ok(None)` when more
    /// bytes are needed. After an `Err`, every call returns the same error.
    fn next_frame(&mut self) -> Result<Option<LineFrame<'_>>, LineError> {
        let scanned = match &self.state {
            State::Failed(error) => return Err(error.clone()),
            State::Raw if self.buffer.len() == 0 => return Ok(None),
            State::Raw => {
                let all = self.buffer.len();
                return Ok(Some(LineFrame::Raw(self.buffer.take(all))));
            }
            State::AwaitingLine { scanned } => *scanned,
        };
        let pending = self.buffer.pending();
        match find(pending, &self.delimiter, scanned) {
            Some(len) if len > self.max_length => Err(self.fail(len)),
            Some(len) => {
                self.state = State::AwaitingLine { scanned: 0 };
                let frame = self.buffer.take(len.saturating_add(self.delimiter.len()));
                Ok(Some(LineFrame::Line(frame.get(..len).unwrap_or_default())))
            }
            None => {
                // The tail may be the first bytes of a delimiter: they are not the line's.
                // No underflow: `pending` ends with those bytes, so it is at least as long.
                let len = pending.len() - partial_delimiter(pending, &self.delimiter);
                if len > self.max_length {
                    return Err(self.fail(len));
                }
                // A delimiter can only start in the last `delimiter.len() - 1` bytes (the
                // delimiter is never empty: `with_delimiter` refuses that).
                let scanned = pending.len().saturating_sub(self.delimiter.len() - 1);
                self.state = State::AwaitingLine { scanned };
                Ok(None)
            }
        }
    }

    /// The bytes buffered and not yet handed out.
    fn buffered(&self) -> &[u8] {
        self.buffer.pending()
    }

    /// The longest line accepted, delimiter not counted.
    fn max_length(&self) -> usize {
        self.max_length
    }

    /// A line and the start of a delimiter (raw mode hands out everything it holds).
    fn max_buffered(&self) -> usize {
        self.max_length + self.delimiter.len().saturating_sub(1)
    }

    fn too_long(error: &LineError) -> Option<(usize, usize)> {
        match error {
            LineError::LineTooLong { len, max } => Some((*len, *max)),
            LineError::EmptyDelimiter => None,
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::LineTooLong { len, max } => {
                write!(f, "line too long: {len} bytes (max {max})")
            }
            LineError::EmptyDelimiter => f.write_str("line delimiter is empty"),
        }
    }
}

impl std::error::Error for LineError {}

/// Index of the first `delimiter` in `haystack`, searching from `from` on.
fn find(haystack: &[u8], delimiter: &[u8], from: usize) -> Option<usize> {
    let (&first, rest) = delimiter.split_first()?;
    let mut at = from;
    loop {
        let tail = haystack.get(at..)?;
        let hit = at + tail.iter().position(|&b| b == first)?;
        if haystack.get(hit + 1..)?.starts_with(rest) {
            return Some(hit);
        }
        at = hit + 1;
    }
}

/// Length of the longest proper prefix of `delimiter` that `pending` ends with.
fn partial_delimiter(pending: &[u8], delimiter: &[u8]) -> usize {
    (1..delimiter.len())
        .rev()
        .find(|&k| {
            delimiter
                .get(..k)
                .is_some_and(|head| pending.ends_with(head))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::chunkings;
    use super::super::frame::{check_every_cut, run, Run};
    use super::*;

    /// A line, copied; a parser that never switches hands out no raw frame.
    fn own(frame: LineFrame<'_>) -> Vec<u8> {
        match frame {
            LineFrame::Line(line) => line.to_vec(),
            LineFrame::Raw(raw) => panic!("raw frame {raw:?} in line mode"),
        }
    }

    /// The error with `len` zeroed: it depends on where the reads ended.
    fn same(error: LineError) -> LineError {
        match error {
            LineError::LineTooLong { max, .. } => LineError::LineTooLong { len: 0, max },
            other => other,
        }
    }

    /// Runs `input` cut in every way and checks each cut gives the expected lines.
    fn check(make: impl Fn() -> LineParser, input: &[u8], lines: &[&[u8]], too_long: bool) {
        let max = make().max_length();
        let error = too_long.then_some(LineError::LineTooLong { len: 0, max });
        check_every_cut(make, input, &Run::expect(lines, error), own, same);
    }

    #[test]
    fn lines_table_gives_the_same_lines_for_every_cut() {
        let table: &[(&[u8], &[&[u8]])] = &[
            (b"", &[]),
            (b"\r\n", &[b""]),
            (b"one\r\ntwo\r\n", &[b"one", b"two"]),
            (b"one\r\ntwo", &[b"one"]),
            (b"a\rb\nc\r\n", &[b"a\rb\nc"]),
            (b"\r\r\n\n\r\n", &[b"\r", b"\n"]),
            (b"x\r\n\r\n\r\ny", &[b"x", b"", b""]),
        ];
        for (input, lines) in table {
            check(LineParser::new, input, lines, false);
        }
    }

    #[test]
    fn other_delimiters_split_the_same_for_every_cut() {
        let newline = || LineParser::new().with_delimiter(b"\n").unwrap();
        check(newline, b"a\nb\r\n\n", &[b"a", b"b\r", b""], false);
        // A delimiter that overlaps itself: "aab" must be found inside "aaab".
        let overlap = || LineParser::new().with_delimiter(b"aab").unwrap();
        check(overlap, b"xaaabyaab", &[b"xa", b"y"], false);
        check(overlap, b"aaaaaaab", &[b"aaaaa"], false);
    }

    #[test]
    fn limits_hold_at_max_minus_one_max_and_max_plus_one() {
        let make = || LineParser::new().with_max_length(8);
        let under = [b"1234567".as_slice(), b"\r\n"].concat();
        let exact = [b"12345678".as_slice(), b"\r\n"].concat();
        let over = [b"123456789".as_slice(), b"\r\n"].concat();
        check(make, &under, &[b"1234567"], false);
        check(make, &exact, &[b"12345678"], false);
        check(make, &over, &[], true);
        // Lines before the long one are still delivered.
        check(make, b"ok\r\n123456789\r\nlost\r\n", &[b"ok"], true);
    }

    #[test]
    fn default_limit_is_16384_without_the_delimiter() {
        let exact = [vec![b'x'; DEFAULT_MAX_LINE_LENGTH], b"\r\n".to_vec()].concat();
        let outcome = run(LineParser::new(), &[&exact], own);
        assert_eq!(outcome.frames, [vec![b'x'; DEFAULT_MAX_LINE_LENGTH]]);
        let over = [vec![b'x'; DEFAULT_MAX_LINE_LENGTH + 1], b"\r\n".to_vec()].concat();
        let error = LineError::LineTooLong {
            len: 0,
            max: DEFAULT_MAX_LINE_LENGTH,
        };
        assert_eq!(
            run(LineParser::new(), &[&over], own).error.map(same),
            Some(error)
        );
    }

    #[test]
    fn line_of_max_length_with_cr_and_lf_in_two_reads_is_accepted() {
        let mut parser = LineParser::new().with_max_length(4);
        parser.feed(b"abcd\r");
        assert_eq!(parser.next_frame(), Ok(None));
        parser.feed(b"\n");
        assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Line(&b"abcd"[..]))));
    }

    #[test]
    fn line_is_rejected_before_its_delimiter_arrives() {
        let mut parser = LineParser::new().with_max_length(4);
        parser.feed(b"abcd");
        assert_eq!(parser.next_frame(), Ok(None));
        parser.feed(b"e");
        let error = LineError::LineTooLong { len: 5, max: 4 };
        assert_eq!(parser.next_frame(), Err(error.clone()));
        // The parser stays failed and holds nothing more.
        parser.feed(b"\r\nmore\r\n");
        assert_eq!(parser.buffered(), b"");
        assert_eq!(parser.next_frame(), Err(error));
    }

    #[test]
    fn cr_at_the_limit_then_other_bytes_is_too_long() {
        let mut parser = LineParser::new().with_max_length(4);
        parser.feed(b"abcd\r");
        assert_eq!(parser.next_frame(), Ok(None));
        parser.feed(b"x");
        let error = LineError::LineTooLong { len: 6, max: 4 };
        assert_eq!(parser.next_frame(), Err(error));
    }

    #[test]
    fn raw_mode_hands_out_the_rest_of_the_buffer() {
        let mut parser = LineParser::new();
        parser.feed(b"head\r\nbody\r\nmore");
        assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Line(&b"head"[..]))));
        parser.set_raw_mode();
        assert!(parser.is_raw_mode());
        assert_eq!(
            parser.next_frame(),
            Ok(Some(LineFrame::Raw(&b"body\r\nmore"[..])))
        );
        assert_eq!(parser.next_frame(), Ok(None));
        parser.feed(b"x");
        assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Raw(&b"x"[..]))));
    }

    #[test]
    fn raw_mode_is_not_limited() {
        let mut parser = LineParser::new().with_max_length(2);
        parser.set_raw_mode();
        parser.feed(b"longer than two");
        let frame = parser.next_frame();
        assert_eq!(frame, Ok(Some(LineFrame::Raw(&b"longer than two"[..]))));
    }

    #[test]
    fn line_mode_again_rereads_extra_then_the_buffer() {
        let mut parser = LineParser::new();
        parser.feed(b"SIZE\r\n12");
        assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Line(&b"SIZE"[..]))));
        parser.set_raw_mode();
        assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Raw(&b"12"[..]))));
        parser.feed(b"\nnext\r\n");
        // The body was "1"; "2\r" came before the bytes fed since.
        parser.set_line_mode(b"2\r");
        assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Line(&b"2"[..]))));
        assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Line(&b"next"[..]))));
        assert_eq!(parser.next_frame(), Ok(None));
    }

    #[test]
    fn switching_mid_buffer_for_every_cut_gives_the_same_frames() {
        // "RAW n" lines announce an n-byte body, as a protocol built on this parser would.
        let input = b"a\r\nRAW 5\r\nxy\r\nzb\r\nRAW 0\r\nRAW 2\r\n\r\n\r\nc\r";
        let expected: Vec<Vec<u8>> = [&b"a"[..], b"xy\r\nz", b"b", b"", b"\r\n", b""]
            .iter()
            .map(|f| f.to_vec())
            .collect();
        for chunks in chunkings(input) {
            assert_eq!(switching_protocol(&chunks), expected, "cut {chunks:?}");
        }
    }

    /// Lines, and bodies of the length the line before announced.
    fn switching_protocol(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut parser = LineParser::new();
        let mut frames = Vec::new();
        let mut body: Option<(usize, Vec<u8>)> = None;
        for chunk in chunks {
            parser.feed(chunk);
            loop {
                // A zero-length body is complete before any raw byte comes.
                if let Some((0, done)) = body.take_if(|(want, _)| *want == 0) {
                    frames.push(done);
                    parser.set_line_mode(b"");
                }
                match parser.next_frame().unwrap() {
                    None => break,
                    Some(LineFrame::Line(line)) => match line.strip_prefix(b"RAW ") {
                        Some(n) => {
                            let n = std::str::from_utf8(n).unwrap().parse().unwrap();
                            body = Some((n, Vec::new()));
                            parser.set_raw_mode();
                        }
                        None => frames.push(line.to_vec()),
                    },
                    Some(LineFrame::Raw(raw)) => {
                        let (want, got) = body.as_mut().unwrap();
                        let used = (*want).min(raw.len());
                        got.extend_from_slice(&raw[..used]);
                        *want -= used;
                        if *want == 0 {
                            let extra = raw[used..].to_vec();
                            frames.push(body.take().unwrap().1);
                            parser.set_line_mode(&extra);
                        }
                    }
                }
            }
        }
        frames
    }

    #[test]
    fn clear_line_buffer_returns_the_unread_bytes() {
        let mut parser = LineParser::new();
        parser.feed(b"one\r\ntw");
        assert_eq!(parser.next_frame(), Ok(Some(LineFrame::Line(&b"one"[..]))));
        assert_eq!(parser.clear_line_buffer(), b"tw");
        assert_eq!(parser.next_frame(), Ok(None));
    }

    #[test]
    fn empty_delimiter_is_refused() {
        let error = LineParser::new().with_delimiter(b"").unwrap_err();
        assert_eq!(error, LineError::EmptyDelimiter);
        assert_eq!(error.to_string(), "line delimiter is empty");
    }

    #[test]
    fn errors_read_as_style_says() {
        let error = LineError::LineTooLong {
            len: 70012,
            max: 65536,
        };
        assert_eq!(error.to_string(), "line too long: 70012 bytes (max 65536)");
    }
}
