//! [`ProcessProtocol`]: what a child process's events call (Twisted's
//! `ProcessProtocol`), and [`ProcessExit`], how the child ended.

use std::fmt;

use super::ProcessTransport;

/// Receives a child process's output and the end of its pipes and of the process itself
/// (Twisted's `ProcessProtocol`). Every method has a default that does nothing, or that
/// routes a descriptor's event to the stdin/stdout/stderr method.
///
/// Methods are called on the reactor thread, one at a time, never from inside a
/// [`ProcessTransport`] method. In order: [`connection_made`](Self::connection_made) from
/// inside [`spawn_process`](super::spawn_process); then output and descriptor losses as
/// they happen; [`process_exited`](Self::process_exited) when the child was reaped; last,
/// [`process_ended`](Self::process_ended), once the child was reaped *and* every
/// descriptor is closed. After that the protocol is dropped.
pub trait ProcessProtocol {
    /// The child runs; `transport` writes to it, signals it and pauses its output.
    fn connection_made(&mut self, transport: ProcessTransport) {
        let _ = transport;
    }

    /// The child wrote `data` on its descriptor `child_fd` (1 for stdout, 2 for stderr, or
    /// another one of [`Command::child_fd`](super::Command::child_fd)'s). The default calls
    /// `out_received` or `err_received`, and drops data from other descriptors.
    fn child_data_received(&mut self, child_fd: i32, data: &[u8]) {
        match child_fd {
            1 => self.out_received(data),
            2 => self.err_received(data),
            _ => {}
        }
    }

    /// The child wrote to its stdout.
    fn out_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The child wrote to its stderr.
    fn err_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// Our end of the child's descriptor `child_fd` is closed: end of file on an output,
    /// or an input we closed, that broke (`EPIPE`) or whose reader exited. The default
    /// calls the stdin/stdout/stderr method.
    fn child_connection_lost(&mut self, child_fd: i32) {
        match child_fd {
            0 => self.in_connection_lost(),
            1 => self.out_connection_lost(),
            2 => self.err_connection_lost(),
            _ => {}
        }
    }

    /// The child's stdin is closed.
    fn in_connection_lost(&mut self) {}

    /// The child's stdout reached end of file.
    fn out_connection_lost(&mut self) {}

    /// The child's stderr reached end of file.
    fn err_connection_lost(&mut self) {}

    /// The child was reaped: it exited, or a signal ended it. Its pipes may still hold
    /// output (a grandchild may even keep them open).
    fn process_exited(&mut self, exit: ProcessExit) {
        let _ = exit;
    }

    /// The child was reaped and all its descriptors are closed: the last call.
    fn process_ended(&mut self, exit: ProcessExit) {
        let _ = exit;
    }
}

/// How a child process ended (Twisted's `ProcessDone` and `ProcessTerminated`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProcessExit {
    /// It exited with status 0 (`ProcessDone`).
    Clean,
    /// It exited with this non-zero status.
    Code(i32),
    /// A signal ended it.
    Signal {
        /// The signal's number.
        signal: i32,
        /// Whether it left a core dump.
        core_dumped: bool,
    },
    /// Someone else reaped it (a `waitpid(-1)` elsewhere in the program): its status is
    /// lost.
    Unknown,
}

impl ProcessExit {
    /// True for [`ProcessExit::Clean`].
    pub fn is_clean(self) -> bool {
        self == ProcessExit::Clean
    }

    /// The exit status, when the child exited (0 for `Clean`); `None` when a signal ended
    /// it or the status is unknown.
    pub fn code(self) -> Option<i32> {
        match self {
            ProcessExit::Clean => Some(0),
            ProcessExit::Code(code) => Some(code),
            _ => None,
        }
    }

    /// The signal that ended the child, if one did.
    pub fn signal(self) -> Option<i32> {
        match self {
            ProcessExit::Signal { signal, .. } => Some(signal),
            _ => None,
        }
    }
}

impl fmt::Display for ProcessExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessExit::Clean => f.write_str("process exited cleanly"),
            ProcessExit::Code(code) => write!(f, "process exited with status {code}"),
            ProcessExit::Signal {
                signal,
                core_dumped: true,
            } => write!(f, "process killed by signal {signal} (core dumped)"),
            ProcessExit::Signal { signal, .. } => write!(f, "process killed by signal {signal}"),
            ProcessExit::Unknown => f.write_str("process reaped elsewhere: exit status unknown"),
        }
    }
}
