//! Protocols: framing, policies and small wire protocols (Twisted's `twisted.protocols`).
//!
//! ```
//! use torsion::protocols::basic::{FrameParser, LineFrame, LineParser};
//! let mut lines = LineParser::new();
//! lines.feed(b"finger alice\r\n");
//! assert_eq!(lines.next_frame(), Ok(Some(LineFrame::Line(&b"finger alice"[..]))));
//! ```
//!
//! Only [`basic`] exists so far: the sans-IO framing cores that the `Protocol` adapters
//! (`LineReceiver`, `NetstringReceiver`, `Int32StringReceiver`, ...) will wrap once the
//! reactor's `Protocol` and `Transport` traits land.

pub mod basic;
pub mod policies;
pub mod proxy;
pub mod wire;
