//! [`FrameParser`]: the one shape of every framing core ([`LineParser`](super::LineParser),
//! [`IntPrefixedParser`](super::IntPrefixedParser), [`NetstringParser`](super::NetstringParser)),
//! so that code driving a core (the protocol adapters, the tests, the fuzz targets) is
//! written once.
//!
//! ```
//! use torsion::protocols::basic::{FrameParser, LengthPrefix, IntPrefixedParser, NetstringParser};
//!
//! /// Every frame in `reads`, whatever the framing.
//! fn frames<P>(mut parser: P, reads: &[&[u8]]) -> Result<Vec<Vec<u8>>, P::Error>
//! where
//!     P: for<'a> FrameParser<Frame<'a> = &'a [u8]> + 'static,
//! {
//!     let mut frames = Vec::new();
//!     for read in reads {
//!         parser.feed(read);
//!         while let Some(frame) = parser.next_frame()? {
//!             frames.push(frame.to_vec());
//!         }
//!     }
//!     Ok(frames)
//! }
//!
//! assert_eq!(frames(NetstringParser::new(), &[b"2:hi,0", b":,"]), Ok(vec![b"hi".to_vec(), vec![]]));
//! let prefixed = IntPrefixedParser::new(LengthPrefix::U8);
//! assert_eq!(frames(prefixed, &[b"\x02h", b"i"]), Ok(vec![b"hi".to_vec()]));
//! ```

#[cfg(test)]
use std::fmt;

/// A sans-IO framing core: [`feed`](FrameParser::feed) it the bytes of each read, then
/// call [`next_frame`](FrameParser::next_frame) until it returns `Ok(None)`.
///
/// An `Err` means the peer sent something that must be rejected; the parser then stays
/// failed (every later `next_frame` returns the same error, `feed` drops its bytes).
pub trait FrameParser {
    /// What `next_frame` hands out, borrowed from the parser's buffer.
    type Frame<'a>
    where
        Self: 'a;

    /// Why the parser rejected its input.
    type Error: std::error::Error + Clone + PartialEq + 'static;

    /// Takes the bytes of a read.
    fn feed(&mut self, data: &[u8]);

    /// The next frame; `Ok(None)` when more bytes are needed.
    fn next_frame(&mut self) -> Result<Option<Self::Frame<'_>>, Self::Error>;

    /// The bytes buffered and not yet handed out.
    fn buffered(&self) -> &[u8];

    /// The longest frame accepted.
    fn max_length(&self) -> usize;

    /// The most bytes the parser holds once `next_frame` returned `Ok(None)`: what one
    /// connection costs at most, whatever the peer sends.
    fn max_buffered(&self) -> usize;

    /// For an error that says a frame is over the limit: the frame's length (as far as
    /// it was seen or announced) and the limit. `None` for other errors.
    fn too_long(error: &Self::Error) -> Option<(usize, usize)>;
}

/// Every frame and the error, if any, that a parser gives for one cut of an input.
#[cfg(test)]
#[derive(Debug, PartialEq)]
pub(super) struct Run<E> {
    pub(super) frames: Vec<Vec<u8>>,
    pub(super) error: Option<E>,
}

#[cfg(test)]
impl<E: fmt::Debug> Run<E> {
    /// The frames and error a test expects.
    pub(super) fn expect(frames: &[&[u8]], error: Option<E>) -> Run<E> {
        let frames = frames.iter().map(|frame| frame.to_vec()).collect();
        Run { frames, error }
    }
}

/// Feeds `chunks` one read at a time, draining frames after each (copied by `own`).
/// Checks on the way that a too-long error names a length over the parser's limit and
/// that a failed parser holds nothing.
#[cfg(test)]
pub(super) fn run<P: FrameParser>(
    mut parser: P,
    chunks: &[&[u8]],
    own: impl Fn(P::Frame<'_>) -> Vec<u8>,
) -> Run<P::Error> {
    let mut frames = Vec::new();
    for chunk in chunks {
        parser.feed(chunk);
        let error = loop {
            match parser.next_frame() {
                Ok(Some(frame)) => frames.push(own(frame)),
                Ok(None) => break None,
                Err(error) => break Some(error),
            }
        };
        if let Some(error) = error {
            if let Some((len, max)) = P::too_long(&error) {
                assert!(len > max, "rejected {len} bytes under max {max}");
                assert_eq!(max, parser.max_length());
            }
            assert_eq!(parser.buffered(), b"", "a failed parser keeps nothing");
            return Run {
                frames,
                error: Some(error),
            };
        }
    }
    Run {
        frames,
        error: None,
    }
}

/// Runs `input` cut in every way ([`chunkings`](super::chunkings): whole, split at every
/// offset, one byte at a time) and checks that each cut gives `expected`. `same` maps an
/// error to what every cut agrees on (some errors say how much had arrived).
#[cfg(test)]
pub(super) fn check_every_cut<P: FrameParser>(
    make: impl Fn() -> P,
    input: &[u8],
    expected: &Run<P::Error>,
    own: impl Fn(P::Frame<'_>) -> Vec<u8> + Copy,
    same: impl Fn(P::Error) -> P::Error,
) where
    P::Error: fmt::Debug,
{
    for chunks in super::chunkings(input) {
        let mut got = run(make(), &chunks, own);
        got.error = got.error.map(&same);
        assert_eq!(&got, expected, "input {input:?} cut {chunks:?}");
    }
}

/// [`check_every_cut`] for the cores whose frames are plain byte slices, whose errors
/// every cut agrees on.
#[cfg(test)]
pub(super) fn check_frames<P>(
    make: impl Fn() -> P,
    input: &[u8],
    frames: &[&[u8]],
    error: Option<P::Error>,
) where
    P: for<'a> FrameParser<Frame<'a> = &'a [u8]> + 'static,
    P::Error: fmt::Debug,
{
    let expected = Run::expect(frames, error);
    check_every_cut(make, input, &expected, <[u8]>::to_vec, |error| error);
}

#[cfg(test)]
mod tests {
    use super::super::{chunkings, IntPrefixedParser, LengthPrefix, LineParser, NetstringParser};
    use super::*;

    /// Feeds every cut of `input` to a fresh parser and checks that, each time it asks for
    /// more bytes, it holds no more than it promises.
    fn stays_bounded<P: FrameParser>(make: impl Fn() -> P, input: &[u8]) {
        for chunks in chunkings(input) {
            let mut parser = make();
            for chunk in &chunks {
                parser.feed(chunk);
                while let Ok(Some(_)) = parser.next_frame() {}
                let (held, bound) = (parser.buffered().len(), parser.max_buffered());
                assert!(
                    held <= bound,
                    "{held} bytes held, bound {bound}, cut {chunks:?}"
                );
            }
        }
    }

    #[test]
    fn every_core_holds_at_most_max_buffered_bytes() {
        let line = || LineParser::new().with_max_length(4);
        stays_bounded(line, b"ab\r\nabcd\r\nabcd\r");
        stays_bounded(line, b"abcdefgh\r\n");
        let prefixed = || IntPrefixedParser::new(LengthPrefix::U16).with_max_length(4);
        stays_bounded(prefixed, b"\0\x04abcd\0\x03ab");
        stays_bounded(prefixed, b"\0\x05abcde");
        let netstring = || NetstringParser::new().with_max_length(4);
        stays_bounded(netstring, b"4:abcd,3:ab");
        stays_bounded(netstring, b"5:abcde,");
    }

    #[test]
    fn too_long_reads_the_limit_errors_of_every_core() {
        use super::super::{IntPrefixedError, LineError, NetstringError};
        let line = LineError::LineTooLong { len: 9, max: 8 };
        assert_eq!(LineParser::too_long(&line), Some((9, 8)));
        assert_eq!(LineParser::too_long(&LineError::EmptyDelimiter), None);
        let prefixed = IntPrefixedError::FrameTooLong { len: 7, max: 5 };
        assert_eq!(IntPrefixedParser::too_long(&prefixed), Some((7, 5)));
        let netstring = NetstringError::FrameTooLong { len: 11, max: 10 };
        assert_eq!(NetstringParser::too_long(&netstring), Some((11, 10)));
        assert_eq!(
            NetstringParser::too_long(&NetstringError::LeadingZero),
            None
        );
    }
}
