//! The finger server of the Twisted talks: a client sends a user name on one line and
//! gets that user's status back, then the server hangs up.
//!
//! ```text
//! cargo run --example finger -- --listen tcp:7979 --user 'moshez=Happy and well'
//! bash -c 'exec 3<>/dev/tcp/127.0.0.1/7979; printf "moshez\r\n" >&3; cat <&3'
//! ```
//!
//! Users come from `--user NAME=TEXT` (repeatable); anyone else is `No such user`.

use std::{collections::HashMap, process::ExitCode};

use torsion::protocols::finger::Finger;

use torsion::application::example as net;

use net::Failed;

const USAGE: &str = "[--listen ENDPOINT|PORT] [--user NAME=TEXT]...";

fn main() -> ExitCode {
    // The log an operator reads (RUST_LOG, default info) on standard error.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    net::report("finger", USAGE, run())
}

fn run() -> Result<ExitCode, Failed> {
    let options =
        net::options(std::env::args().skip(1), &["--listen", "--user"]).map_err(Failed::Usage)?;
    let endpoint = net::last(&options, "--listen").unwrap_or("7979");
    let mut users = HashMap::new();
    for (_, value) in options.iter().filter(|(name, _)| name == "--user") {
        let Some((name, text)) = value.split_once('=') else {
            return Err(Failed::Usage(format!(
                "--user {value:?}: expected NAME=TEXT"
            )));
        };
        users.insert(name.to_owned(), text.to_owned());
    }
    let reactor = net::reactor()?;
    let port = net::service(&reactor, endpoint, Finger::factory(users)).map_err(Failed::Run)?;
    Ok(net::serve(&reactor, port))
}
