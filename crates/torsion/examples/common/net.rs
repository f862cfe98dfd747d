//! What the TCP examples share: `--name VALUE` options, `--listen ENDPOINT` and the
//! example contract of DESIGN.md (print `listening on ADDR`, serve until SIGINT or
//! SIGTERM, close the connections, exit 0).

#![allow(dead_code)] // Each example uses its own subset.

use std::{io::Write, process::ExitCode};

use torsion::{
    endpoints::server_from_string,
    net::{ListeningPort, ProtocolFactory},
    reactor::{Phase, SystemEvent},
    Reactor,
};

/// Command-line options as `(name, value)` pairs, from `--name VALUE` or `--name=VALUE`;
/// only names in `known` are accepted.
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

/// Listens where the endpoint string says, through `server_from_string`: every form
/// (`tcp:PORT[:interface=ADDR][:backlog=N]`, `tcp6:...`, `unix:PATH[:mode=][:lockfile=]`,
/// `systemd:domain=INET:index=0`).
pub fn listen(
    reactor: &Reactor,
    endpoint: &str,
    factory: impl ProtocolFactory,
) -> Result<ListeningPort, String> {
    let server = server_from_string(reactor, endpoint).map_err(|e| e.to_string())?;
    // A string endpoint listens at once: the Deferred has fired.
    match server.listen(factory).try_result() {
        Ok(Ok(port)) => Ok(port),
        Ok(Err(failure)) => Err(failure.to_string()),
        Err(_) => Err(format!("{endpoint}: did not listen at once")),
    }
}

/// Prints `listening on ADDR`, runs until SIGINT or SIGTERM, then stops listening and
/// closes the connections (writing what they buffered) before returning 0.
pub fn serve(reactor: &Reactor, port: ListeningPort) -> ExitCode {
    println!("listening on {}", port.address());
    if std::io::stdout().flush().is_err() {
        return ExitCode::FAILURE;
    }
    let draining = port.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        draining.stop_listening();
        draining.lose_connections()
    });
    reactor.run();
    ExitCode::SUCCESS
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
pub enum Failed {
    /// Bad arguments.
    Usage(String),
    /// Anything else.
    Run(String),
}

/// A reactor, or the reason there is none.
pub fn reactor() -> Result<Reactor, Failed> {
    Reactor::new().map_err(|e| Failed::Run(e.to_string()))
}
