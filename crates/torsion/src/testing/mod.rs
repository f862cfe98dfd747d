//! Helpers for testing code built on torsion without sockets or sleeps (Twisted's
//! `proto_helpers` and trial's checks): log capture, the fake [`Clock`], the
//! clean-reactor check ([`check_clean`], [`assert_clean`]), the [`StringTransport`], the
//! [`LoopbackPump`], the [`MemoryReactor`] that records listen and connect calls,
//! `SynchronousTestCase`'s readers of Deferreds ([`success_result_of`],
//! [`failure_result_of`], [`assert_no_result`]), and [`run_test`], which runs a test
//! body returning a Deferred or a future as `trial` does (deadline, logged errors, clean
//! reactor).
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
mod results;
pub mod string_transport;
mod trial;
mod watchdog;

pub use clean::{assert_clean, check_clean, Dirty};
pub use logs::{capture_logs, CapturedEvent};
pub use loopback::{End, LoopbackPump};
pub use memory_reactor::{MemoryReactor, TcpClient, TcpServer, UnixClient, UnixServer};
pub use results::{assert_no_result, failure_result_of, success_result_of};
pub use string_transport::StringTransport;
pub use trial::{run_test, run_test_on};
pub use watchdog::run_with_watchdog;

/// The fake clock, here too because tests look for it here (Twisted's `task.Clock`).
pub use crate::task::Clock;
