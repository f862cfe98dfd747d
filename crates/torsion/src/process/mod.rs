//! Child processes served by the reactor (Twisted's `spawnProcess`, `ProcessProtocol` and
//! `twisted.internet.utils`): the other way, beside threads, to push blocking work aside.
//!
//! ```
//! use torsion::process::{get_process_output_and_value, Command};
//! use torsion::Reactor;
//! let reactor = Reactor::builder().install_signal_handlers(false).build().unwrap();
//! let d = get_process_output_and_value(&reactor, Command::new("sh").args(["-c", "echo hi; exit 3"]))
//!     .add_both({
//!         let reactor = reactor.clone();
//!         move |result| { reactor.stop(); result }
//!     });
//! reactor.run();
//! let output = d.try_result().ok().unwrap().unwrap();
//! assert_eq!(output.stdout, b"hi\n");
//! assert_eq!(output.exit.code(), Some(3));
//! assert!(torsion::testing::check_clean(&reactor).is_ok());
//! ```
//!
//! [`spawn_process`] starts a [`Command`] and connects it to a [`ProcessProtocol`]: the
//! child's stdin, stdout and stderr (and any other descriptor, as Twisted's `childFDs`)
//! are non-blocking pipes the reactor serves, or one pseudo-terminal
//! ([`Command::use_pty`]). The protocol writes through its [`ProcessTransport`], closes
//! descriptors, sends signals by name or number, and pauses the child's output: a child
//! that floods its stdout while reading is paused blocks in `write`, memory stays flat.
//!
//! # Starting
//!
//! The program is looked up in the child's `PATH` first. The child is started with
//! `posix_spawn` (the C library's cheap vfork-style spawn) or, when it needs a directory,
//! ids or a terminal, with fork and exec, the child reporting a failure through a
//! close-on-exec pipe. Either way a program that cannot run is an error of `spawn_process` (or a
//! failed Deferred of the helpers), never a child that exits 127: `spawn nosuchprog: No
//! such file or directory` ([`SpawnError`]). The child's signal mask is cleared and
//! SIGPIPE restored to its default, as a shell does.
//!
//! # Reaping
//!
//! Each child is reaped exactly once, promptly, by the reactor that started it: through a
//! pidfd registered like any descriptor (Linux 5.3+), or else through SIGCHLD and
//! `waitpid(pid, WNOHANG)` for each of its own children. Never `waitpid(-1)`: children
//! started another way (`std::process`) keep their exit status for their own `wait`.
//! [`Command::reaper`] or the `TORSION_PROCESS_REAPER=sigchld` environment variable
//! ([`REAPER_ENV`]) forces the SIGCHLD path. SIGCHLD reaping needs the reactor to run
//! (signals are delivered by the loop).
//!
//! # Writes never raise SIGPIPE
//!
//! Writing to a child that closed its input, or exited, gives `EPIPE` whatever the host
//! program did with SIGPIPE: the write runs with SIGPIPE blocked on the reactor thread,
//! and a raised one is taken back. The protocol hears `child_connection_lost(0)`.

mod command;
mod error;
mod protocol;
mod reap;
mod transport;
mod utils;

use std::{
    fs::File,
    io,
    os::fd::{AsFd, OwnedFd},
    rc::Rc,
};

use crate::{
    reactor::Reactor,
    sys::process::{
        self as sys, fork_exec, openpty, pipe, set_nonblocking, ChildSetup, ChildStage,
        ForkExecError,
    },
};

pub use command::{ChildFd, Command, Reaper, REAPER_ENV};
pub use error::{OutputError, SignalError, SpawnError};
pub use protocol::{ProcessExit, ProcessProtocol};
pub use transport::{ProcessTransport, SignalName, READ_BUDGET};
pub use utils::{
    get_process_output, get_process_output_and_value, get_process_value, ProcessOutput,
    DEFAULT_MAX_OUTPUT,
};

use transport::{Pipe, Process};

/// Starts `command` as a child process connected to `protocol` (Twisted's
/// `reactor.spawnProcess`). The protocol's `connection_made` runs before this returns.
///
/// # Errors
/// [`SpawnError`] when the program is not found, cannot be executed, or its descriptors,
/// directory or ids could not be set up; nothing was started then and the protocol was
/// not called.
pub fn spawn_process(
    reactor: &Reactor,
    protocol: Box<dyn ProcessProtocol>,
    command: &Command,
) -> Result<ProcessTransport, SpawnError> {
    let program = command.program();
    let strings = command.c_strings().map_err(|what| SpawnError::NulByte {
        program: program.clone(),
        what,
    })?;
    // A bare name in an unchanged PATH is looked up by posix_spawnp itself, as std does;
    // otherwise here, before the fork.
    let search = command.is_simple() && command.searches_parent_path();
    let path = if search {
        std::path::PathBuf::from(command.program())
    } else {
        match command.resolve() {
            Some(path) => path,
            None => {
                return Err(SpawnError::Exec {
                    program,
                    source: io::Error::from_raw_os_error(libc::ENOENT),
                })
            }
        }
    };
    let setup_err = |op: &str, source| SpawnError::Setup {
        program: program.clone(),
        op: op.to_owned(),
        source,
    };
    let (pipes, fds) = descriptors(command).map_err(|(op, e)| setup_err(op, e))?;
    let path = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
        .map_err(|_| SpawnError::NulByte {
            program: program.clone(),
            what: "program path",
        })?;
    let (uid, gid) = command.ids();
    let setup = ChildSetup {
        path,
        args: strings.args,
        env: strings.env,
        cwd: strings.cwd,
        fds,
        uid,
        gid,
        controlling_tty: command.pty(),
        search,
    };
    let pid = fork_exec(&setup).map_err(|e| fork_error(&program, command, e))?;
    // Close the child's ends of the pipes: only the child holds them now.
    drop(setup);
    let process = Process::start(reactor, pid, program.clone(), pipes, protocol);
    let weak = Rc::downgrade(&process);
    let watched = reap::watch(
        reactor,
        pid,
        command.chosen_reaper(),
        Box::new(move |exit| {
            if let Some(process) = weak.upgrade() {
                process.exited(exit);
            }
        }),
    );
    if let Err(e) = watched {
        // Without a way to hear its exit, the child would run unobserved: end it now.
        tracing::error!(target: "torsion::process", pid, "watch child {program} for its exit: {e}; killing it");
        let _ = sys::kill(pid, libc::SIGKILL);
        let exit = match sys::wait_blocking(pid) {
            Ok(Some(status)) => reap::exit_of(status),
            _ => ProcessExit::Unknown,
        };
        process.exited(exit);
    }
    Ok(ProcessTransport::new(process))
}

/// Our ends (as pipes for the transport) and the child's ends (with their numbers).
type Descriptors = (Vec<Pipe>, Vec<(Rc<OwnedFd>, i32)>);

fn descriptors(command: &Command) -> Result<Descriptors, (&'static str, io::Error)> {
    let mut pipes = Vec::new();
    let mut fds = Vec::new();
    if command.pty() {
        let (master, slave) = openpty().map_err(|e| ("open pty", e))?;
        set_nonblocking(master.as_fd()).map_err(|e| ("open pty", e))?;
        let slave = Rc::new(slave);
        for n in 0..3 {
            fds.push((slave.clone(), n));
        }
        pipes.push(Pipe::pty(File::from(master)));
        return Ok((pipes, fds));
    }
    for (&child_fd, kind) in command.descriptors() {
        match kind {
            ChildFd::Write => {
                let (theirs, ours) = pipe().map_err(|e| ("create pipe", e))?;
                set_nonblocking(ours.as_fd()).map_err(|e| ("create pipe", e))?;
                pipes.push(Pipe::writer(child_fd, File::from(ours)));
                fds.push((Rc::new(theirs), child_fd));
            }
            ChildFd::Read => {
                let (ours, theirs) = pipe().map_err(|e| ("create pipe", e))?;
                set_nonblocking(ours.as_fd()).map_err(|e| ("create pipe", e))?;
                pipes.push(Pipe::reader(child_fd, File::from(ours)));
                fds.push((Rc::new(theirs), child_fd));
            }
            ChildFd::Inherit(fd) => fds.push((fd.clone(), child_fd)),
            ChildFd::Closed => {}
        }
    }
    Ok((pipes, fds))
}

fn fork_error(program: &str, command: &Command, e: ForkExecError) -> SpawnError {
    let (uid, gid) = command.ids();
    let op = match e.stage {
        Some(ChildStage::Exec) => {
            return SpawnError::Exec {
                program: program.to_owned(),
                source: e.source,
            }
        }
        None => "fork".to_owned(),
        Some(ChildStage::Descriptors) => "set up descriptors".to_owned(),
        Some(ChildStage::Chdir) => "chdir".to_owned(),
        Some(ChildStage::Setgid) => format!("setgid {}", gid.unwrap_or_default()),
        Some(ChildStage::Setuid) => format!("setuid {}", uid.unwrap_or_default()),
        Some(ChildStage::Session) => "start session on pty".to_owned(),
    };
    SpawnError::Setup {
        program: program.to_owned(),
        op,
        source: e.source,
    }
}
