//! Becoming a daemon and dropping privileges (what `twistd` does before it runs the
//! application), for `torsiond` and programs like it.
//!
//! ```no_run
//! use torsion::application::daemon;
//! // Before any reactor or thread exists: the parent waits for the daemon's word.
//! let daemon = daemon::daemonize()?;
//! // ... open the log, write the pid file, listen ...
//! daemon.ready(); // now the parent exits 0
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use crate::sys::unix;

/// The daemon's end of the line back to the process that started it.
pub struct Daemonized {
    report: Option<UnixStream>,
}

/// Forks twice and detaches from the terminal (a new session, standard input and
/// output on `/dev/null`), as `twistd` does. Returns only in the daemon; the starting
/// process waits until the daemon calls [`Daemonized::ready`] (then exits 0) or
/// [`Daemonized::failed`] or ends (then prints why and exits 1).
///
/// Call it while the process has one thread: before a reactor, a thread pool or a
/// background logging thread exists. Standard error stays open until
/// [`Daemonized::ready`], so that start-up errors still reach the terminal.
///
/// # Errors
/// A `fork`, `setsid` or `/dev/null` failure (in the starting process, before it forked
/// anything, or in the daemon).
pub fn daemonize() -> io::Result<Daemonized> {
    let (mut parent_end, daemon_end) = UnixStream::pair()?;
    if unix::fork()?.is_some() {
        drop(daemon_end);
        let mut word = String::new();
        let read = parent_end.read_to_string(&mut word);
        match (read, word.strip_prefix("ok")) {
            (Ok(_), Some(_)) => std::process::exit(0),
            (Ok(_), None) if !word.is_empty() => eprintln!("{word}"),
            _ => eprintln!("daemon: exited before it was ready"),
        }
        std::process::exit(1);
    }
    drop(parent_end);
    unix::setsid()?;
    // The second fork: the session leader exits, so the daemon can never acquire a
    // controlling terminal again.
    if unix::fork()?.is_some() {
        std::process::exit(0);
    }
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    unix::redirect(&null, 0)?;
    unix::redirect(&null, 1)?;
    Ok(Daemonized {
        report: Some(daemon_end),
    })
}

impl Daemonized {
    /// Started: the starting process exits 0; standard error moves to `/dev/null`.
    pub fn ready(mut self) {
        self.send("ok");
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            let _ = unix::redirect(&null, 2);
        }
    }

    /// Could not start: the starting process prints `why` and exits 1.
    pub fn failed(mut self, why: &str) {
        self.send(why);
    }

    fn send(&mut self, word: &str) {
        if let Some(mut report) = self.report.take() {
            let _ = report.write_all(word.as_bytes());
        }
    }
}

impl fmt::Debug for Daemonized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Daemonized")
            .field("reported", &self.report.is_none())
            .finish()
    }
}

/// Switches to group `gid` (alone) and user `uid`, for those given: after the
/// privileged start, before the start ([`Runner::after_privileged_start`]).
///
/// # Errors
/// The system refused, as `switch to uid 1000 gid 1000: operation not permitted`.
///
/// [`Runner::after_privileged_start`]: super::Runner::after_privileged_start
pub fn switch_user(uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    unix::switch_ids(uid, gid).map_err(|e| {
        let who = match (uid, gid) {
            (Some(u), Some(g)) => format!("uid {u} gid {g}"),
            (Some(u), None) => format!("uid {u}"),
            (None, Some(g)) => format!("gid {g}"),
            (None, None) => String::from("nobody"),
        };
        io::Error::new(e.kind(), format!("switch to {who}: {e}"))
    })
}

/// Whether process `pid` exists (a pid file's process still runs), as Twisted's
/// `checkPID` asks.
pub fn process_exists(pid: i32) -> bool {
    unix::process_exists(pid)
}
