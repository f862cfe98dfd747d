//! Helpers for testing code built on torsion without sockets or sleeps (Twisted's
//! `proto_helpers` and trial's checks): log capture, the fake [`Clock`], the
//! clean-reactor check ([`check_clean`], [`assert_clean`]), the [`StringTransport`], the
//! [`LoopbackPump`], and the [`MemoryReactor`] that records listen and connect calls.
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

mod clean;
mod logs;
pub mod loopback;
pub mod memory_reactor;
pub mod string_transport;
mod watchdog;

pub use clean::{assert_clean, check_clean, Dirty};
pub use logs::{capture_logs, CapturedEvent};
pub use loopback::{End, LoopbackPump};
pub use memory_reactor::{MemoryReactor, TcpClient, TcpServer, UnixClient, UnixServer};
pub use string_transport::StringTransport;
pub use watchdog::run_with_watchdog;

/// The fake clock, here too because tests look for it here (Twisted's `task.Clock`).
pub use crate::task::Clock;
