//! A line echo server: each line comes back with CRLF; a line longer than
//! `--max-length` bytes (default 16384) closes the connection (Twisted's `LineReceiver`).
//!
//! ```text
//! cargo run --example line_echo -- --listen tcp:8001 --max-length 80
//! bash -c 'exec 3<>/dev/tcp/127.0.0.1/8001; printf "hello\r\n" >&3; timeout 1 cat <&3'
//! ```

use std::process::ExitCode;

use torsion::{
    net::factory_fn,
    protocols::basic::{LineProtocol, LineReceiver, Lines, DEFAULT_MAX_LINE_LENGTH},
};

use torsion::application::example as net;

use net::Failed;

const USAGE: &str = "[--listen ENDPOINT|PORT] [--max-length BYTES]";

/// Sends each line back.
struct LineEcho;

impl LineReceiver for LineEcho {
    fn line_received(&mut self, lines: &Lines, line: &[u8]) {
        lines.send_line(line);
    }
}

fn main() -> ExitCode {
    // The log an operator reads (RUST_LOG, default info) on standard error.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    net::report("line_echo", USAGE, run())
}

fn run() -> Result<ExitCode, Failed> {
    let options = net::options(std::env::args().skip(1), &["--listen", "--max-length"])
        .map_err(Failed::Usage)?;
    let endpoint = net::last(&options, "--listen").unwrap_or("8001");
    let max_length = match net::last(&options, "--max-length") {
        Some(text) => text
            .parse()
            .map_err(|_| Failed::Usage(format!("--max-length {text:?}: not a number")))?,
        None => DEFAULT_MAX_LINE_LENGTH,
    };
    let reactor = net::reactor()?;
    let factory =
        factory_fn(move |_| Some(LineProtocol::new(LineEcho).with_max_length(max_length)));
    let port = net::service(&reactor, endpoint, factory).map_err(Failed::Run)?;
    Ok(net::serve(&reactor, port))
}
