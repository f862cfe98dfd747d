//! An echo server: every byte a client sends comes back (Twisted's first example).
//!
//! ```text
//! cargo run --example echo_server -- --listen tcp:8000:interface=127.0.0.1
//! printf 'hello\n' | cargo run --example echo_client -- --connect tcp:127.0.0.1:8000
//! ```
//!
//! `--listen` takes any server endpoint string (`tcp:PORT[:interface=ADDR]`, `tcp6:PORT`,
//! `unix:PATH`, `systemd:domain=INET:index=0`), or a bare port for 127.0.0.1 only
//! (default `8000`).

use std::process::ExitCode;

use torsion::protocols::wire::Echo;

use torsion::application::example as net;

use net::Failed;

const USAGE: &str = "[--listen ENDPOINT|PORT]";

fn main() -> ExitCode {
    // The log an operator reads (RUST_LOG, default info) on standard error.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    net::report("echo_server", USAGE, run())
}

fn run() -> Result<ExitCode, Failed> {
    let options = net::options(std::env::args().skip(1), &["--listen"]).map_err(Failed::Usage)?;
    let endpoint = net::last(&options, "--listen").unwrap_or("8000");
    let reactor = net::reactor()?;
    let port = net::service(&reactor, endpoint, Echo::factory()).map_err(Failed::Run)?;
    Ok(net::serve(&reactor, port))
}
