//! The loop every framed protocol adapter runs in `data_received`
//! ([`LineProtocol`](super::LineProtocol), [`StringProtocol`](super::StringProtocol)),
//! over any [`FrameParser`].

use std::{ops::ControlFlow, rc::Rc};

use super::FrameParser;
use crate::net::Transport;

/// What a protocol adapter does with what its core hands out (see [`deliver`]).
pub(super) trait Deliver<P: FrameParser> {
    /// One frame arrived.
    fn frame(&mut self, frame: P::Frame<'_>);

    /// A frame of `len` bytes passed the limit; nothing more is parsed.
    fn too_long(&mut self, len: usize);

    /// Called after each frame, with the parser (to switch its mode, say).
    fn after_frame(&mut self, parser: &mut P) {
        let _ = parser;
    }
}

/// The adapters' `data_received`: feeds `data` to `parser` and hands each frame to `to`
/// until the parser wants more bytes or fails, or the transport is closing (Twisted stops
/// delivering frames then). A frame over the limit goes to [`Deliver::too_long`]; any
/// other error closes the connection, as Twisted's parse errors do.
pub(super) fn deliver<P: FrameParser>(
    parser: &mut P,
    transport: &Rc<dyn Transport>,
    data: &[u8],
    to: &mut impl Deliver<P>,
) {
    parser.feed(data);
    while step(parser, transport, to).is_continue() {}
}

/// One frame (or the end of what there is) from `parser` to `to`.
fn step<P: FrameParser>(
    parser: &mut P,
    transport: &Rc<dyn Transport>,
    to: &mut impl Deliver<P>,
) -> ControlFlow<()> {
    if transport.is_closing() {
        return ControlFlow::Break(());
    }
    match parser.next_frame() {
        Ok(Some(frame)) => to.frame(frame),
        Ok(None) => return ControlFlow::Break(()),
        Err(error) => {
            match P::too_long(&error) {
                Some((len, _)) => to.too_long(len),
                None => {
                    tracing::debug!(peer = %transport.peer(), "bad framing: {error}; closing");
                    transport.lose_connection();
                }
            }
            return ControlFlow::Break(());
        }
    }
    to.after_frame(parser);
    ControlFlow::Continue(())
}
