//! [`Framed`]: the one adapter from a framing core ([`FrameParser`]) to a [`Protocol`],
//! behind [`LineProtocol`](super::LineProtocol) and [`StringProtocol`](super::StringProtocol).
//!
//! A [`FrameHandler`] says what the handle a handler answers through is, and where each
//! frame goes; [`Framed`] does the rest, once for every framing: it feeds each read to the
//! core, hands out frames until the core wants more bytes or the transport is closing
//! (Twisted stops delivering frames then), reports a frame over the limit, and closes the
//! connection on any other framing error, as Twisted's parse errors do.

use std::{fmt, rc::Rc};

use super::FrameParser;
use crate::net::{CloseReason, Protocol, Transport};

/// What a framed protocol's handler does with what its core `P` parses (the methods of
/// Twisted's `LineReceiver` or `NetstringReceiver`, seen from the adapter).
///
/// Every [`LineReceiver`](super::LineReceiver) is one over a [`LineParser`](super::LineParser),
/// and every [`StringReceiver`](super::StringReceiver) one over each
/// [`StringCore`](super::StringCore).
pub trait FrameHandler<P: FrameParser>: 'static {
    /// What the handler answers through (`Lines`, `Strings`): cheap to clone.
    type Handle: Clone;

    /// The handle for a connection on `transport`, framed as `parser` frames.
    fn handle(parser: &P, transport: Rc<dyn Transport>) -> Self::Handle;

    /// The connection's transport.
    fn transport(handle: &Self::Handle) -> &Rc<dyn Transport>;

    /// The connection is up.
    fn connection_made(&mut self, handle: &Self::Handle);

    /// One frame arrived.
    fn frame(&mut self, handle: &Self::Handle, frame: P::Frame<'_>);

    /// A frame of `len` bytes passed the limit; nothing more is parsed.
    fn too_long(&mut self, handle: &Self::Handle, len: usize);

    /// Runs after `connection_made` and after each frame, with the core: where a mode
    /// switch the handler asked for takes effect.
    fn between_frames(handle: &Self::Handle, parser: &mut P) {
        let _ = (handle, parser);
    }

    /// The connection is gone.
    fn connection_lost(&mut self, reason: CloseReason);
}

/// A [`FrameHandler`] over its core `P`, as a [`Protocol`].
pub struct Framed<H: FrameHandler<P>, P: FrameParser> {
    pub(super) handler: H,
    /// The core; the framings' builders (`with_max_length`, ...) configure it.
    pub(super) parser: P,
    /// What the handler answers through, between `connection_made` and `connection_lost`.
    pub(super) handle: Option<H::Handle>,
}

impl<H: FrameHandler<P>, P: FrameParser> Framed<H, P> {
    /// `handler` over `parser`, not connected yet.
    pub(super) fn over(handler: H, parser: P) -> Self {
        Framed {
            handler,
            parser,
            handle: None,
        }
    }

    /// The wrapped handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Hands out frames until the core wants more bytes, fails, or the transport closes.
    fn deliver(&mut self, handle: &H::Handle) {
        let error = loop {
            if H::transport(handle).is_closing() {
                return;
            }
            match self.parser.next_frame() {
                Ok(Some(frame)) => self.handler.frame(handle, frame),
                Ok(None) => return,
                Err(error) => break error,
            }
            H::between_frames(handle, &mut self.parser);
        };
        match P::too_long(&error) {
            Some((len, _)) => self.handler.too_long(handle, len),
            None => {
                let transport = H::transport(handle);
                tracing::debug!(peer = %transport.peer(), "bad framing: {error}; closing");
                transport.lose_connection();
            }
        }
    }
}

impl<H: FrameHandler<P>, P: FrameParser + 'static> Protocol for Framed<H, P> {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let handle = H::handle(&self.parser, transport);
        self.handler.connection_made(&handle);
        H::between_frames(&handle, &mut self.parser);
        self.handle = Some(handle);
    }

    fn data_received(&mut self, data: &[u8]) {
        let Some(handle) = self.handle.clone() else {
            return;
        };
        self.parser.feed(data);
        self.deliver(&handle);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        self.handle = None;
        self.handler.connection_lost(reason);
    }
}

impl<H: FrameHandler<P>, P: FrameParser + fmt::Debug> fmt::Debug for Framed<H, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Framed")
            .field("parser", &self.parser)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
impl<H: FrameHandler<P>, P: FrameParser + 'static> Framed<H, P> {
    /// Connects to a new string transport and feeds `input` in reads of `split` bytes (at
    /// least one); gives back the handler and the transport.
    pub(super) fn feed_in_reads(
        mut self,
        input: &[u8],
        split: usize,
    ) -> (H, Rc<crate::testing::StringTransport>) {
        let transport = crate::testing::StringTransport::new();
        self.connection_made(transport.clone());
        for read in input.chunks(split.max(1)) {
            self.data_received(read);
        }
        (self.handler, transport)
    }
}
