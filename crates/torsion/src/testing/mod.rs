//! Helpers for testing code built on torsion without sockets or sleeps (Twisted's
//! `proto_helpers` and trial's checks).
//!
//! ```
//! use torsion::defer::{fail, Deferred, Failure};
//! use torsion::testing::capture_logs;
//!
//! // A failure nobody handled is logged when its Deferred goes away.
//! let (_, logs) = capture_logs(|| {
//!     let d: Deferred<()> = fail(Failure::msg("boom"));
//!     drop(d);
//! });
//! assert!(logs.iter().any(|e| e.message.contains("unhandled error in Deferred: boom")));
//! ```

mod logs;
mod string_transport;

pub use logs::{capture_logs, CapturedEvent};
pub use string_transport::StringTransport;
