//! Run a program and get its output or exit status as a Deferred (Twisted's
//! `getProcessOutput`, `getProcessValue`, `getProcessOutputAndValue`).

use std::{cell::RefCell, rc::Rc};

use super::{spawn_process, Command, OutputError, ProcessExit, ProcessProtocol, ProcessTransport};
use crate::{
    defer::{Deferred, Resolver},
    Failure, Reactor,
};

/// How much output (stdout and stderr together) the helpers keep: past it the child is
/// killed and the Deferred fails with [`OutputError::TooLarge`]. Stream bigger outputs
/// with your own [`ProcessProtocol`].
pub const DEFAULT_MAX_OUTPUT: usize = 64 * 1024 * 1024;

/// What a child wrote and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessOutput {
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
    /// How it ended.
    pub exit: ProcessExit,
}

/// Runs `command` and gives what it wrote to stdout (Twisted's `getProcessOutput`). The
/// child's stdin is closed at once.
///
/// The Deferred fails with [`SpawnError`](super::SpawnError) when the program could not
/// start, with [`OutputError::Stderr`] when the child wrote to stderr (as Twisted does
/// without `errortoo`; use [`get_process_output_and_value`] to take both), and with
/// [`OutputError::TooLarge`] past [`DEFAULT_MAX_OUTPUT`]. The exit status does not
/// matter.
pub fn get_process_output(reactor: &Reactor, command: Command) -> Deferred<Vec<u8>> {
    let program = command.program();
    get_process_output_and_value(reactor, command).add_callback(move |output| {
        if output.stderr.is_empty() {
            Ok(output.stdout)
        } else {
            Err(Failure::new(OutputError::Stderr {
                program,
                stdout: output.stdout,
                stderr: output.stderr,
                exit: output.exit,
            }))
        }
    })
}

/// Runs `command` and gives how it ended (Twisted's `getProcessValue`, which gives the
/// exit code: see [`ProcessExit::code`]). Its output is read and dropped; its stdin is
/// closed at once. Fails with [`SpawnError`](super::SpawnError) when the program could
/// not start.
pub fn get_process_value(reactor: &Reactor, command: Command) -> Deferred<ProcessExit> {
    run(reactor, &command, usize::MAX, false).add_callback(|output| Ok(output.exit))
}

/// Runs `command` and gives its stdout, its stderr and how it ended (Twisted's
/// `getProcessOutputAndValue`; a child killed by a signal is a result here, not a
/// failure). Its stdin is closed at once. Fails with [`SpawnError`](super::SpawnError)
/// when the program could not start and with [`OutputError::TooLarge`] past
/// [`DEFAULT_MAX_OUTPUT`].
pub fn get_process_output_and_value(
    reactor: &Reactor,
    command: Command,
) -> Deferred<ProcessOutput> {
    run(reactor, &command, DEFAULT_MAX_OUTPUT, true)
}

fn run(reactor: &Reactor, command: &Command, limit: usize, keep: bool) -> Deferred<ProcessOutput> {
    let (d, resolver) = Deferred::new();
    let collector = Collector {
        program: command.program(),
        transport: None,
        stdout: Vec::new(),
        stderr: Vec::new(),
        limit,
        keep,
        too_large: false,
        resolver: Rc::new(RefCell::new(Some(resolver))),
    };
    let resolver = collector.resolver.clone();
    if let Err(e) = spawn_process(reactor, Box::new(collector), command) {
        if let Some(resolver) = resolver.borrow_mut().take() {
            // Invariant: the resolver was just made and fired by no one.
            let _ = resolver.errback(Failure::new(e));
        }
    }
    d
}

/// Collects a child's output for the helpers.
struct Collector {
    program: String,
    transport: Option<ProcessTransport>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    limit: usize,
    /// Keep the output (false: `get_process_value` drops it).
    keep: bool,
    too_large: bool,
    resolver: Rc<RefCell<Option<Resolver<ProcessOutput>>>>,
}

impl Collector {
    fn take(&mut self, child_fd: i32, data: &[u8]) {
        if !self.keep || self.too_large {
            return;
        }
        if self.stdout.len() + self.stderr.len() + data.len() > self.limit {
            self.too_large = true;
            self.stdout = Vec::new();
            self.stderr = Vec::new();
            if let Some(t) = &self.transport {
                let _ = t.signal_process("KILL");
                t.lose_connection();
            }
            return;
        }
        match child_fd {
            1 => self.stdout.extend_from_slice(data),
            _ => self.stderr.extend_from_slice(data),
        }
    }
}

impl ProcessProtocol for Collector {
    fn connection_made(&mut self, transport: ProcessTransport) {
        transport.close_stdin();
        self.transport = Some(transport);
    }

    fn child_data_received(&mut self, child_fd: i32, data: &[u8]) {
        self.take(child_fd, data);
    }

    fn process_ended(&mut self, exit: ProcessExit) {
        self.transport = None;
        let Some(resolver) = self.resolver.borrow_mut().take() else {
            return;
        };
        let result = if self.too_large {
            Err(Failure::new(OutputError::TooLarge {
                program: self.program.clone(),
                limit: self.limit,
            }))
        } else {
            Ok(ProcessOutput {
                stdout: std::mem::take(&mut self.stdout),
                stderr: std::mem::take(&mut self.stderr),
                exit,
            })
        };
        // Invariant: only this call fires the resolver, once.
        let _ = resolver.resolve(result);
    }
}
