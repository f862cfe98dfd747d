//! The process module's errors: [`SpawnError`], [`SignalError`], [`OutputError`].

use std::{error::Error, fmt, io};

use super::ProcessExit;

/// Why a child could not be started. The message names the program and the system's
/// error: `spawn nosuchprog: No such file or directory`.
#[derive(Debug)]
#[non_exhaustive]
pub enum SpawnError {
    /// The program was not found, or `exec` failed (not executable, bad format, ...).
    Exec {
        /// The program as given.
        program: String,
        /// What the system said.
        source: io::Error,
    },
    /// The child could not be set up before `exec`: `op` is what failed (`create pipe`,
    /// `fork`, `chdir /srv`, `setuid 1000`, ...).
    Setup {
        /// The program as given.
        program: String,
        /// What failed.
        op: String,
        /// What the system said.
        source: io::Error,
    },
    /// An argument, environment entry, path or program name holds a NUL byte.
    NulByte {
        /// The program as given.
        program: String,
        /// Which value.
        what: &'static str,
    },
}

impl SpawnError {
    /// The program the error is about.
    pub fn program(&self) -> &str {
        match self {
            SpawnError::Exec { program, .. }
            | SpawnError::Setup { program, .. }
            | SpawnError::NulByte { program, .. } => program,
        }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Exec { program, source } => {
                write!(f, "spawn {program}: {}", os_message(source))
            }
            SpawnError::Setup {
                program,
                op,
                source,
            } => write!(f, "spawn {program}: {op}: {}", os_message(source)),
            SpawnError::NulByte { program, what } => {
                write!(f, "spawn {program}: {what} contains a NUL byte")
            }
        }
    }
}

impl Error for SpawnError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            SpawnError::Exec { source, .. } | SpawnError::Setup { source, .. } => Some(source),
            SpawnError::NulByte { .. } => None,
        }
    }
}

/// Why [`ProcessTransport::signal_process`](super::ProcessTransport::signal_process)
/// sent nothing.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignalError {
    /// The child was reaped already (Twisted's `ProcessExitedAlready`): its pid may
    /// belong to another process by now, so nothing is sent.
    ProcessExitedAlready {
        /// The child's pid.
        pid: i32,
    },
    /// The name is not a signal this module knows (`TERM`, `KILL`, `INT`, `HUP`, ...).
    UnknownSignal {
        /// The name given.
        name: String,
    },
    /// `kill` failed.
    Os {
        /// The child's pid.
        pid: i32,
        /// The signal's number.
        signal: i32,
        /// What the system said.
        source: io::Error,
    },
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::ProcessExitedAlready { pid } => {
                write!(f, "signal process {pid}: process exited already")
            }
            SignalError::UnknownSignal { name } => write!(f, "unknown signal {name:?}"),
            SignalError::Os {
                pid,
                signal,
                source,
            } => write!(f, "signal process {pid} with {signal}: {source}"),
        }
    }
}

impl Error for SignalError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            SignalError::Os { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a [`get_process_output`](super::get_process_output) helper gave no output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputError {
    /// `get_process_output` saw the child write to its stderr (Twisted fails
    /// `getProcessOutput` the same way unless `errortoo`).
    Stderr {
        /// The program.
        program: String,
        /// What it wrote to stdout.
        stdout: Vec<u8>,
        /// What it wrote to stderr.
        stderr: Vec<u8>,
        /// How it ended.
        exit: ProcessExit,
    },
    /// The child wrote more than the helper keeps; it was killed.
    TooLarge {
        /// The program.
        program: String,
        /// The bound on stdout plus stderr, in bytes.
        limit: usize,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Stderr {
                program, stderr, ..
            } => {
                let first = stderr.split(|&b| b == b'\n').next().unwrap_or(&[]);
                write!(
                    f,
                    "process {program} wrote {} bytes to stderr: {}",
                    stderr.len(),
                    String::from_utf8_lossy(first)
                )
            }
            OutputError::TooLarge { program, limit } => {
                write!(f, "process {program} wrote more than {limit} bytes: killed")
            }
        }
    }
}

impl Error for OutputError {}

/// The system's message for `err` without std's ` (os error N)` suffix.
pub(crate) fn os_message(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::SignalName;

    #[test]
    fn messages_name_the_program_and_the_cause_without_the_errno_suffix() {
        let err = SpawnError::Exec {
            program: "nosuchprog".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(
            err.to_string(),
            "spawn nosuchprog: No such file or directory"
        );
        let err = SpawnError::Setup {
            program: "sh".into(),
            op: "setuid 0".into(),
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(
            err.to_string(),
            "spawn sh: setuid 0: Operation not permitted"
        );
        assert!(err.source().is_some());
        let plain = io::Error::other("no suffix here");
        assert_eq!(os_message(&plain), "no suffix here");
    }

    #[test]
    fn signals_are_named_with_or_without_sig_or_numbered() {
        for (name, number) in [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("KILL", 9),
            ("INT", 2),
            ("HUP", 1),
        ] {
            assert_eq!(SignalName::from(name).number().unwrap(), number, "{name}");
        }
        assert_eq!(SignalName::from(10).number().unwrap(), 10);
        let err = SignalName::from("term").number().unwrap_err();
        assert_eq!(err.to_string(), "unknown signal \"term\"");
    }
}
