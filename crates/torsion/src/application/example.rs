//! What the runnable examples of every crate share: `--name VALUE` options, `--listen
//! ENDPOINT`, and DESIGN.md's example contract (print `listening on ADDR` flushed, serve
//! until SIGINT or SIGTERM, drain the connections, exit 0), on top of [`Runner`].
//!
//! ```no_run
//! use std::process::ExitCode;
//! use torsion::application::example::{self, Failed};
//! use torsion::protocols::wire::Echo;
//!
//! fn main() -> ExitCode {
//!     example::report("echo_server", "[--listen ENDPOINT]", run())
//! }
//!
//! fn run() -> Result<ExitCode, Failed> {
//!     let options = example::options(std::env::args().skip(1), &["--listen"])
//!         .map_err(Failed::Usage)?;
//!     let endpoint = example::last(&options, "--listen").unwrap_or("tcp:8000");
//!     let reactor = example::reactor()?;
//!     let service = example::service(&reactor, endpoint, Echo::factory()).map_err(Failed::Run)?;
//!     Ok(example::serve(&reactor, service))
//! }
//! ```
//!
//! The drain timeout is [`DEFAULT_DRAIN_TIMEOUT`](super::DEFAULT_DRAIN_TIMEOUT) unless
//! the environment sets `TORSION_DRAIN_TIMEOUT` (seconds).

use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use super::{ListenService, Runner, Service};
use crate::endpoints::server_from_string;
use crate::net::{ListeningPort, ProtocolFactory};
use crate::Reactor;

/// Command-line options as `(name, value)` pairs, from `--name VALUE` or `--name=VALUE`;
/// only names in `known` are accepted.
///
/// # Errors
/// An unknown option, or one without its value.
pub fn options(
    mut args: impl Iterator<Item = String>,
    known: &[&str],
) -> Result<Vec<(String, String)>, String> {
    let mut parsed = Vec::new();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        if !known.contains(&name.as_str()) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline.or_else(|| args.next()) {
            Some(value) => value,
            None => return Err(format!("{name} needs a value")),
        };
        parsed.push((name, value));
    }
    Ok(parsed)
}

/// The last value given for `name`.
pub fn last<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Listens where the endpoint string says (a bare port on loopback only: see
/// [`listen_endpoint`](super::listen_endpoint)), through `server_from_string`: every form
/// (`tcp:PORT[:interface=ADDR][:backlog=N]`, `tcp6:...`, `unix:PATH[:mode=][:lockfile=]`,
/// `systemd:domain=INET:index=0`).
///
/// # Errors
/// The endpoint string is bad or listening failed, as a message.
pub fn listen(
    reactor: &Reactor,
    endpoint: &str,
    factory: impl ProtocolFactory,
) -> Result<ListeningPort, String> {
    let endpoint = &*super::listen_endpoint(endpoint);
    let server = server_from_string(reactor, endpoint).map_err(|e| e.to_string())?;
    // A string endpoint listens at once: the Deferred has fired.
    match server.listen(factory).try_result() {
        Ok(Ok(port)) => Ok(port),
        Ok(Err(failure)) => Err(failure.to_string()),
        Err(_) => Err(format!("{endpoint}: did not listen at once")),
    }
}

/// A [`ListenService`] for the endpoint string, already listening (so a bad address is
/// reported before anything runs).
///
/// # Errors
/// The endpoint string is bad or listening failed, as a message.
pub fn service(
    reactor: &Reactor,
    endpoint: &str,
    factory: impl ProtocolFactory,
) -> Result<ListenService, String> {
    let endpoint = &*super::listen_endpoint(endpoint);
    let service =
        ListenService::from_string(reactor, endpoint, factory).map_err(|e| e.to_string())?;
    service.privileged_start().map_err(|f| f.to_string())?;
    Ok(service)
}

/// Runs `service` with a [`Runner`]: prints `listening on ADDR` (its first address)
/// flushed, serves until SIGINT or SIGTERM, drains, and returns 0.
pub fn serve(reactor: &Reactor, service: impl Service + 'static) -> ExitCode {
    let mut runner = Runner::new(reactor).on_ready(|addresses| {
        if let Some(address) = addresses.first() {
            println!("listening on {address}");
        }
        if std::io::stdout().flush().is_err() {
            tracing::warn!(target: "torsion::application", "stdout: could not flush");
        }
    });
    if let Some(timeout) = drain_timeout_from_env() {
        runner = runner.drain_timeout(timeout);
    }
    match runner.run(Rc::new(service)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `main`, printing its error as `NAME: ERROR` and exiting 1 (2 for usage errors).
pub fn report(name: &str, usage: &str, result: Result<ExitCode, Failed>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(Failed::Usage(message)) => {
            eprintln!("{name}: {message}");
            eprintln!("usage: {name} {usage}");
            ExitCode::from(2)
        }
        Err(Failed::Run(message)) => {
            eprintln!("{name}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Why an example could not run.
#[derive(Debug)]
pub enum Failed {
    /// Bad arguments.
    Usage(String),
    /// Anything else.
    Run(String),
}

/// A reactor, or the reason there is none.
///
/// # Errors
/// The reactor could not be built.
pub fn reactor() -> Result<Reactor, Failed> {
    Reactor::new().map_err(|e| Failed::Run(e.to_string()))
}

/// `TORSION_DRAIN_TIMEOUT` in seconds, when set and valid (a bad one is logged).
fn drain_timeout_from_env() -> Option<Duration> {
    let value = std::env::var("TORSION_DRAIN_TIMEOUT").ok()?;
    match value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
    {
        Some(timeout) => Some(timeout),
        None => {
            tracing::warn!(target: "torsion::application", "TORSION_DRAIN_TIMEOUT {value:?}: not a number of seconds, using the default");
            None
        }
    }
}
