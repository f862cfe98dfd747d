//! [`LineReceiver`]: a protocol that handles a connection one line at a time, over the
//! sans-IO [`LineParser`] (Twisted's `LineReceiver` and `LineOnlyReceiver`).
//!
//! ```
//! use torsion::net::Protocol;
//! use torsion::protocols::basic::{LineProtocol, LineReceiver, Lines};
//! use torsion::testing::StringTransport;
//!
//! /// Answers each line with its length.
//! struct Measure;
//! impl LineReceiver for Measure {
//!     fn line_received(&mut self, lines: &Lines, line: &[u8]) {
//!         lines.send_line(line.len().to_string().as_bytes());
//!     }
//! }
//!
//! let transport = StringTransport::new();
//! let mut protocol = LineProtocol::new(Measure);
//! protocol.connection_made(transport.clone());
//! for byte in b"hello\r\nyou\r\n" {
//!     protocol.data_received(&[*byte]); // byte by byte: same lines
//! }
//! assert_eq!(transport.value(), b"5\r\n3\r\n");
//! ```
//!
//! Twisted's `LineReceiver` is a class to subclass; here the user's type implements
//! [`LineReceiver`] and [`LineProtocol`] wraps it as a [`Protocol`](crate::net::Protocol).
//! The handler reaches
//! the connection through [`Lines`]: `send_line`, the transport, and the mode switches
//! [`set_raw_mode`](Lines::set_raw_mode) and [`set_line_mode`](Lines::set_line_mode),
//! which take effect between two frames, as in Twisted. A handler that never switches is
//! a `LineOnlyReceiver`.
//!
//! A line longer than the limit ([`DEFAULT_MAX_LINE_LENGTH`](super::DEFAULT_MAX_LINE_LENGTH) unless
//! [`with_max_length`](LineProtocol::with_max_length)) calls
//! [`line_length_exceeded`](LineReceiver::line_length_exceeded), which closes the
//! connection by default; the line is never buffered whole.

use std::{cell::RefCell, fmt, rc::Rc};

use super::{FrameHandler, Framed, LineError, LineFrame, LineParser};
use crate::net::{CloseReason, Transport};

/// What a line protocol does with its lines (Twisted's `LineReceiver` methods).
pub trait LineReceiver: 'static {
    /// The connection is up; keep `lines` (it is cheap to clone) to send later.
    fn connection_made(&mut self, lines: &Lines) {
        let _ = lines;
    }

    /// One line arrived, without its delimiter.
    fn line_received(&mut self, lines: &Lines, line: &[u8]);

    /// Bytes arrived in raw mode (after [`Lines::set_raw_mode`]).
    fn raw_data_received(&mut self, lines: &Lines, data: &[u8]) {
        let _ = (lines, data);
    }

    /// A line passed the limit: `len` bytes of it had arrived. The default closes the
    /// connection (Twisted's default); nothing more is parsed either way.
    fn line_length_exceeded(&mut self, lines: &Lines, len: usize) {
        let _ = len;
        lines.transport().lose_connection();
    }

    /// The connection is gone.
    fn connection_lost(&mut self, reason: CloseReason) {
        let _ = reason;
    }
}

/// The handle a [`LineReceiver`] uses to answer: clones share the connection.
#[derive(Clone)]
pub struct Lines {
    transport: Rc<dyn Transport>,
    delimiter: Rc<[u8]>,
    /// A mode switch asked for during a callback, applied before the next frame.
    switch: Rc<RefCell<Option<Switch>>>,
}

enum Switch {
    Raw,
    Line(Vec<u8>),
}

/// A [`LineReceiver`] as a [`Protocol`](crate::net::Protocol): the [`Framed`] adapter over
/// a [`LineParser`].
pub type LineProtocol<H> = Framed<H, LineParser>;

impl<H: LineReceiver> Framed<H, LineParser> {
    /// `\r\n`-delimited lines of at most
    /// [`DEFAULT_MAX_LINE_LENGTH`](super::DEFAULT_MAX_LINE_LENGTH) bytes.
    pub fn new(handler: H) -> LineProtocol<H> {
        Framed::over(handler, LineParser::new())
    }

    /// Lines of at most `max_length` bytes, delimiter not counted (Twisted's
    /// `MAX_LENGTH`).
    pub fn with_max_length(mut self, max_length: usize) -> LineProtocol<H> {
        self.parser = self.parser.with_max_length(max_length);
        self
    }

    /// Lines ended by `delimiter` (Twisted's `delimiter`).
    ///
    /// # Errors
    /// [`LineError::EmptyDelimiter`] for an empty one.
    pub fn with_delimiter(mut self, delimiter: &[u8]) -> Result<LineProtocol<H>, LineError> {
        self.parser = self.parser.with_delimiter(delimiter)?;
        Ok(self)
    }
}

impl<H: LineReceiver> FrameHandler<LineParser> for H {
    type Handle = Lines;

    fn handle(parser: &LineParser, transport: Rc<dyn Transport>) -> Lines {
        Lines {
            transport,
            delimiter: parser.delimiter().into(),
            switch: Rc::default(),
        }
    }

    fn transport(lines: &Lines) -> &Rc<dyn Transport> {
        &lines.transport
    }

    fn connection_made(&mut self, lines: &Lines) {
        LineReceiver::connection_made(self, lines);
    }

    fn frame(&mut self, lines: &Lines, frame: LineFrame<'_>) {
        match frame {
            LineFrame::Line(line) => self.line_received(lines, line),
            LineFrame::Raw(data) => self.raw_data_received(lines, data),
        }
    }

    fn too_long(&mut self, lines: &Lines, len: usize) {
        self.line_length_exceeded(lines, len);
    }

    fn between_frames(lines: &Lines, parser: &mut LineParser) {
        lines.apply_switch(parser);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        LineReceiver::connection_lost(self, reason);
    }
}

impl Lines {
    /// Writes `line` and the delimiter, in one write.
    pub fn send_line(&self, line: &[u8]) {
        self.transport.write_sequence(&[line, &self.delimiter]);
    }

    /// The connection's transport.
    pub fn transport(&self) -> &Rc<dyn Transport> {
        &self.transport
    }

    /// From the next frame on, hand bytes to `raw_data_received` (Twisted's
    /// `setRawMode`).
    pub fn set_raw_mode(&self) {
        *self.switch.borrow_mut() = Some(Switch::Raw);
    }

    /// Back to lines, starting with `extra`: the part of the last raw data that was not
    /// used (Twisted's `setLineMode(extra)`).
    pub fn set_line_mode(&self, extra: &[u8]) {
        *self.switch.borrow_mut() = Some(Switch::Line(extra.to_vec()));
    }

    /// Applies to `parser` the mode switch the handler asked for, if any.
    fn apply_switch(&self, parser: &mut LineParser) {
        match self.switch.borrow_mut().take() {
            Some(Switch::Raw) => parser.set_raw_mode(),
            Some(Switch::Line(extra)) => parser.set_line_mode(&extra),
            None => {}
        }
    }
}

impl fmt::Debug for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines")
            .field("delimiter", &self.delimiter)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Protocol;
    use crate::testing::StringTransport;

    /// Records lines; `SIZE n` switches to raw mode for n bytes.
    #[derive(Default)]
    struct Recorder {
        lines: Vec<Vec<u8>>,
        raw: Vec<u8>,
        want_raw: usize,
        exceeded: Option<usize>,
    }

    impl LineReceiver for Recorder {
        fn line_received(&mut self, lines: &Lines, line: &[u8]) {
            if let Some(n) = line.strip_prefix(b"SIZE ") {
                self.want_raw = std::str::from_utf8(n).unwrap().parse().unwrap();
                lines.set_raw_mode();
            }
            self.lines.push(line.to_vec());
        }

        fn raw_data_received(&mut self, lines: &Lines, data: &[u8]) {
            let take = self.want_raw.min(data.len());
            self.raw.extend_from_slice(&data[..take]);
            self.want_raw -= take;
            if self.want_raw == 0 {
                lines.set_line_mode(&data[take..]);
            }
        }

        fn line_length_exceeded(&mut self, lines: &Lines, len: usize) {
            self.exceeded = Some(len);
            lines.transport().lose_connection();
        }
    }

    fn run(input: &[u8], split: usize) -> (Recorder, Rc<StringTransport>) {
        let protocol = LineProtocol::new(Recorder::default()).with_max_length(8);
        protocol.feed_in_reads(input, split)
    }

    #[test]
    fn raw_mode_switches_between_frames_at_every_split() {
        let input = b"one\r\nSIZE 3\r\nabctwo\r\n";
        for split in 1..=input.len() {
            let (r, _) = run(input, split);
            assert_eq!(r.lines, [&b"one"[..], b"SIZE 3", b"two"], "split {split}");
            assert_eq!(r.raw, b"abc", "split {split}");
        }
    }

    #[test]
    fn a_line_past_the_limit_closes_the_connection() {
        let (r, transport) = run(b"12345678\r\n123456789\r\nlater\r\n", 100);
        assert_eq!(r.lines, [&b"12345678"[..]]);
        assert_eq!(r.exceeded, Some(9));
        assert!(transport.disconnecting());
    }

    #[test]
    fn send_line_appends_the_delimiter_in_one_write() {
        let transport = StringTransport::new();
        struct Hello;
        impl LineReceiver for Hello {
            fn connection_made(&mut self, lines: &Lines) {
                lines.send_line(b"hello");
            }
            fn line_received(&mut self, _: &Lines, _: &[u8]) {}
        }
        let mut protocol = LineProtocol::new(Hello).with_delimiter(b"\n").unwrap();
        protocol.connection_made(transport.clone());
        assert_eq!(transport.value(), b"hello\n");
        assert_eq!(transport.write_count(), 1);
    }
}
