//! Protocols: framing, policies and small wire protocols (Twisted's `twisted.protocols`).
//!
//! ```
//! use torsion::protocols::basic::{FrameParser, LineFrame, LineParser};
//! let mut lines = LineParser::new();
//! lines.feed(b"finger alice\r\n");
//! assert_eq!(lines.next_frame(), Ok(Some(LineFrame::Line(&b"finger alice"[..]))));
//! ```
//!
//! - [`basic`]: the sans-IO framing cores (lines, length prefixes, netstrings) and their
//!   one `Protocol` adapter, [`basic::Framed`];
//! - [`policies`]: idle timeouts and connection limits, as protocol and factory wrappers;
//! - [`proxy`]: the PROXY protocol (v1 and v2) in front of any protocol (`haproxy:`);
//! - [`wire`]: echo, discard, chargen, daytime; [`finger`]: the talks' finger server.

pub mod basic;
pub mod finger;
pub mod policies;
pub mod proxy;
pub mod wire;
