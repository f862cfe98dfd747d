//! An echo client: sends each line of its standard input to an echo server and prints
//! what comes back, then hangs up once every line was echoed.
//!
//! ```text
//! cargo run --example echo_server -- --listen tcp:8000 &
//! printf 'one\ntwo\n' | cargo run --example echo_client -- --connect tcp:127.0.0.1:8000
//! ```
//!
//! `--connect` takes any client endpoint string (`client_from_string`): `tcp:HOST:PORT`,
//! `tcp:host=HOST:port=PORT[:timeout=S][:bindAddress=IP]`, `unix:PATH`; a host name is
//! resolved on the thread pool and every address is tried (happy eyeballs). Standard input is read on a thread of its own (a blocking read must not
//! hold the reactor); each line reaches the reactor through `call_from_thread`.

use std::{
    cell::RefCell,
    io::{BufRead, Write},
    process::ExitCode,
};

use torsion::{
    defer::ok,
    endpoints::client_from_string,
    net::{Address, CloseReason, Protocol, ProtocolFactory},
    protocols::basic::{LineProtocol, LineReceiver, Lines},
    Reactor,
};

use torsion::application::example as net;

use net::Failed;

const USAGE: &str = "--connect ENDPOINT";

/// The client's state, on the reactor thread.
#[derive(Default)]
struct Session {
    lines: Option<Lines>,
    /// Lines read before the connection was up.
    pending: Vec<Vec<u8>>,
    sent: usize,
    echoed: usize,
    stdin_done: bool,
    failed: Option<String>,
}

thread_local! {
    static SESSION: RefCell<Session> = RefCell::default();
}

impl Session {
    fn send(&mut self, line: Vec<u8>) {
        match &self.lines {
            Some(lines) => {
                lines.send_line(&line);
                self.sent += 1;
            }
            None => self.pending.push(line),
        }
    }

    /// Hangs up once standard input ended and every line came back.
    fn maybe_finish(&self) {
        if let Some(lines) = &self.lines {
            if self.stdin_done && self.echoed >= self.sent {
                lines.transport().lose_connection();
            }
        }
    }
}

/// Prints each echoed line.
struct Printer;

impl LineReceiver for Printer {
    fn connection_made(&mut self, lines: &Lines) {
        SESSION.with(|s| {
            let mut s = s.borrow_mut();
            s.lines = Some(lines.clone());
            for line in std::mem::take(&mut s.pending) {
                s.send(line);
            }
            s.maybe_finish();
        });
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        if let CloseReason::Lost(failure) = reason {
            SESSION.with(|s| s.borrow_mut().failed = Some(failure.to_string()));
        }
        REACTOR.with(|r| {
            if let Some(reactor) = &*r.borrow() {
                reactor.stop();
            }
        });
    }

    fn line_received(&mut self, _: &Lines, line: &[u8]) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line);
        let _ = out.write_all(b"\n");
        let _ = out.flush();
        SESSION.with(|s| {
            let mut s = s.borrow_mut();
            s.echoed += 1;
            s.maybe_finish();
        });
    }
}

/// Builds the one protocol.
struct Client;

impl ProtocolFactory for Client {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        let protocol = LineProtocol::new(Printer).with_delimiter(b"\n").ok()?;
        Some(Box::new(protocol))
    }
}

thread_local! {
    /// The reactor, stopped when the connection ends.
    static REACTOR: RefCell<Option<Reactor>> = const { RefCell::new(None) };
}

fn main() -> ExitCode {
    // The log an operator reads (RUST_LOG, default info) on standard error.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    net::report("echo_client", USAGE, run())
}

fn run() -> Result<ExitCode, Failed> {
    let options = net::options(std::env::args().skip(1), &["--connect"]).map_err(Failed::Usage)?;
    let endpoint = net::last(&options, "--connect")
        .ok_or_else(|| Failed::Usage("--connect is required".to_owned()))?;
    let reactor = net::reactor()?;
    let endpoint =
        client_from_string(&reactor, endpoint).map_err(|e| Failed::Usage(e.to_string()))?;
    REACTOR.with(|r| *r.borrow_mut() = Some(reactor.clone()));
    let _ = endpoint.connect(Client).add_both({
        let reactor = reactor.clone();
        move |result| {
            if let Err(failure) = result {
                SESSION.with(|s| s.borrow_mut().failed = Some(failure.to_string()));
                reactor.stop();
            }
            ok(())
        }
    });
    read_stdin_on_a_thread(&reactor);
    reactor.run();
    let failed = SESSION.with(|s| s.borrow_mut().failed.take());
    match failed {
        Some(message) => Err(Failed::Run(message)),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Hands each line of standard input to the reactor thread, then the end of input.
fn read_stdin_on_a_thread(reactor: &Reactor) {
    let handle = reactor.handle();
    // The thread ends with standard input; the process may exit before it does when the
    // connection fails, which is fine for a command-line tool.
    let _detached = std::thread::spawn(move || {
        for line in std::io::stdin().lock().split(b'\n') {
            let Ok(mut line) = line else { break };
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            handle.call_from_thread(move |_| SESSION.with(|s| s.borrow_mut().send(line)));
        }
        handle.call_from_thread(|_| {
            SESSION.with(|s| {
                let mut s = s.borrow_mut();
                s.stdin_done = true;
                s.maybe_finish();
            })
        });
    });
}
