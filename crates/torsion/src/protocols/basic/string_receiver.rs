//! [`StringReceiver`]: a protocol that handles a connection one frame at a time, over the
//! length-prefixed and netstring cores (Twisted's `Int8StringReceiver`,
//! `Int16StringReceiver`, `Int32StringReceiver` and `NetstringReceiver`).
//!
//! ```
//! use torsion::net::Protocol;
//! use torsion::protocols::basic::{LengthPrefix, StringProtocol, StringReceiver, Strings};
//! use torsion::testing::StringTransport;
//!
//! /// Sends every frame back reversed.
//! struct Reverse;
//! impl StringReceiver for Reverse {
//!     fn string_received(&mut self, strings: &Strings, frame: &[u8]) {
//!         let reversed: Vec<u8> = frame.iter().rev().copied().collect();
//!         strings.send_string(&reversed);
//!     }
//! }
//!
//! let transport = StringTransport::new();
//! let mut protocol = StringProtocol::int_prefixed(Reverse, LengthPrefix::U32);
//! protocol.connection_made(transport.clone());
//! protocol.data_received(b"\0\0\0\x03abc");
//! assert_eq!(transport.value(), b"\0\0\0\x03cba");
//!
//! let transport = StringTransport::new();
//! let mut protocol = StringProtocol::netstring(Reverse);
//! protocol.connection_made(transport.clone());
//! protocol.data_received(b"3:abc,");
//! assert_eq!(transport.value(), b"3:cba,");
//! ```
//!
//! A frame announced past the limit calls
//! [`length_limit_exceeded`](StringReceiver::length_limit_exceeded) (which closes the
//! connection by default) before its body arrives; a malformed netstring closes the
//! connection, as Twisted's `NetstringParseError` does.

use std::{fmt, rc::Rc};

use self::sealed::Encoding;
use super::{
    FrameHandler, FrameParser, Framed, IntPrefixedError, IntPrefixedParser, LengthPrefix,
    NetstringParser,
};
use crate::net::{CloseReason, Transport};

/// What a framed protocol does with its frames.
pub trait StringReceiver: 'static {
    /// The connection is up; keep `strings` (cheap to clone) to send later.
    fn connection_made(&mut self, strings: &Strings) {
        let _ = strings;
    }

    /// One frame arrived.
    fn string_received(&mut self, strings: &Strings, frame: &[u8]);

    /// A frame of `len` bytes was announced, past the limit. The default closes the
    /// connection; nothing more is parsed either way.
    fn length_limit_exceeded(&mut self, strings: &Strings, len: usize) {
        let _ = len;
        strings.transport().lose_connection();
    }

    /// The connection is gone.
    fn connection_lost(&mut self, reason: CloseReason) {
        let _ = reason;
    }
}

/// A core whose frames a [`StringReceiver`] handles: [`IntPrefixedParser`] or
/// [`NetstringParser`] (sealed: the [`Strings`] handle must know how to write its frames).
pub trait StringCore:
    sealed::Encodes + for<'a> FrameParser<Frame<'a> = &'a [u8]> + 'static
{
}

impl StringCore for IntPrefixedParser {}

impl StringCore for NetstringParser {}

mod sealed {
    use super::{IntPrefixedParser, LengthPrefix, NetstringParser};

    /// How a [`StringCore`](super::StringCore)'s frames are written.
    pub trait Encodes {
        fn encoding(&self) -> Encoding;
    }

    /// How frames are written on the wire.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Encoding {
        Prefixed(LengthPrefix),
        Netstring,
    }

    impl Encodes for IntPrefixedParser {
        fn encoding(&self) -> Encoding {
            Encoding::Prefixed(self.prefix())
        }
    }

    impl Encodes for NetstringParser {
        fn encoding(&self) -> Encoding {
            Encoding::Netstring
        }
    }
}

/// The handle a [`StringReceiver`] sends frames with; clones share the connection.
#[derive(Clone)]
pub struct Strings {
    transport: Rc<dyn Transport>,
    encoding: Encoding,
}

impl Strings {
    /// Writes `frame` with its framing, in one write. A frame too long for a length
    /// prefix is not sent: it is logged and the connection closed (Twisted raises).
    pub fn send_string(&self, frame: &[u8]) {
        match self.encoding {
            Encoding::Prefixed(prefix) => {
                let len = frame.len();
                let header = match prefix {
                    LengthPrefix::U8 => u8::try_from(len).map(|n| vec![n]).ok(),
                    LengthPrefix::U16 => u16::try_from(len).map(|n| n.to_be_bytes().to_vec()).ok(),
                    LengthPrefix::U32 => u32::try_from(len).map(|n| n.to_be_bytes().to_vec()).ok(),
                };
                match header {
                    Some(header) => self.transport.write_sequence(&[&header, frame]),
                    None => {
                        let error = IntPrefixedError::PayloadTooLong {
                            len,
                            max: prefix.max_payload(),
                        };
                        tracing::error!("send_string: {error:?}; closing the connection");
                        self.transport.lose_connection();
                    }
                }
            }
            Encoding::Netstring => {
                let prefix = format!("{}:", frame.len());
                self.transport
                    .write_sequence(&[prefix.as_bytes(), frame, b","]);
            }
        }
    }

    /// The connection's transport.
    pub fn transport(&self) -> &Rc<dyn Transport> {
        &self.transport
    }
}

impl fmt::Debug for Strings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Strings")
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

/// A [`StringReceiver`] as a [`Protocol`](crate::net::Protocol): the [`Framed`] adapter
/// over a length-prefix ([`int_prefixed`](StringProtocol::int_prefixed)) or netstring
/// ([`netstring`](StringProtocol::netstring)) core.
pub type StringProtocol<H, P = IntPrefixedParser> = Framed<H, P>;

impl<H: StringReceiver> Framed<H, IntPrefixedParser> {
    /// Frames with a big-endian length prefix of `prefix`'s width, bodies of at most
    /// `int_prefixed::DEFAULT_MAX_LENGTH` bytes (Twisted's `IntNStringReceiver`).
    pub fn int_prefixed(handler: H, prefix: LengthPrefix) -> Self {
        Framed::over(handler, IntPrefixedParser::new(prefix))
    }

    /// Frames of at most `max_length` bytes (Twisted's `MAX_LENGTH`).
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        self.parser = self.parser.with_max_length(max_length);
        self
    }
}

impl<H: StringReceiver> Framed<H, NetstringParser> {
    /// Netstrings (`3:abc,`), of at most `netstring::DEFAULT_MAX_LENGTH` bytes
    /// (Twisted's `NetstringReceiver`).
    pub fn netstring(handler: H) -> Self {
        Framed::over(handler, NetstringParser::new())
    }

    /// Frames of at most `max_length` bytes (Twisted's `MAX_LENGTH`).
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        self.parser = self.parser.with_max_length(max_length);
        self
    }
}

impl<H: StringReceiver, P: StringCore> FrameHandler<P> for H {
    type Handle = Strings;

    fn handle(parser: &P, transport: Rc<dyn Transport>) -> Strings {
        let encoding = parser.encoding();
        Strings {
            transport,
            encoding,
        }
    }

    fn transport(strings: &Strings) -> &Rc<dyn Transport> {
        &strings.transport
    }

    fn connection_made(&mut self, strings: &Strings) {
        StringReceiver::connection_made(self, strings);
    }

    fn frame(&mut self, strings: &Strings, frame: &[u8]) {
        self.string_received(strings, frame);
    }

    fn too_long(&mut self, strings: &Strings, len: usize) {
        self.length_limit_exceeded(strings, len);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        StringReceiver::connection_lost(self, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Protocol;
    use crate::testing::StringTransport;

    #[derive(Default)]
    struct Collect {
        frames: Vec<Vec<u8>>,
        exceeded: Option<usize>,
    }

    impl StringReceiver for Collect {
        fn string_received(&mut self, _: &Strings, frame: &[u8]) {
            self.frames.push(frame.to_vec());
        }
        fn length_limit_exceeded(&mut self, strings: &Strings, len: usize) {
            self.exceeded = Some(len);
            strings.transport().lose_connection();
        }
    }

    fn feed<P: StringCore>(
        protocol: StringProtocol<Collect, P>,
        input: &[u8],
        split: usize,
    ) -> (Collect, Rc<StringTransport>) {
        protocol.feed_in_reads(input, split)
    }

    #[test]
    fn every_split_gives_the_same_frames() {
        let input = b"\x00\x02hi\x00\x00\x00\x05there";
        for split in 1..=input.len() {
            let p = StringProtocol::int_prefixed(Collect::default(), LengthPrefix::U16);
            let (c, _) = feed(p, input, split);
            assert_eq!(c.frames, [&b"hi"[..], b"", b"there"], "split {split}");
        }
        let input = b"2:hi,0:,5:there,";
        for split in 1..=input.len() {
            let (c, _) = feed(StringProtocol::netstring(Collect::default()), input, split);
            assert_eq!(c.frames, [&b"hi"[..], b"", b"there"], "split {split}");
        }
    }

    #[test]
    fn limits_and_malformed_input_close_the_connection() {
        let p =
            StringProtocol::int_prefixed(Collect::default(), LengthPrefix::U8).with_max_length(3);
        let (c, t) = feed(p, b"\x03abc\x04abcd", 100);
        assert_eq!((c.frames.len(), c.exceeded), (1, Some(4)));
        assert!(t.disconnecting());
        let (c, t) = feed(StringProtocol::netstring(Collect::default()), b"x:", 100);
        assert!(c.frames.is_empty() && t.disconnecting());
    }

    /// What `send_string(b"ok")` writes, and in how many writes.
    fn sent<P: StringCore>(mut protocol: StringProtocol<Collect, P>) -> (Vec<u8>, usize) {
        let transport = StringTransport::new();
        protocol.connection_made(transport.clone());
        protocol.handle.as_ref().unwrap().send_string(b"ok");
        (transport.value(), transport.write_count())
    }

    #[test]
    fn send_string_frames_each_encoding() {
        let prefixed = |prefix| StringProtocol::int_prefixed(Collect::default(), prefix);
        assert_eq!(sent(prefixed(LengthPrefix::U8)), (b"\x02ok".to_vec(), 1));
        assert_eq!(sent(prefixed(LengthPrefix::U16)), (b"\0\x02ok".to_vec(), 1));
        let netstring = StringProtocol::netstring(Collect::default());
        assert_eq!(sent(netstring), (b"2:ok,".to_vec(), 1));
    }
}
