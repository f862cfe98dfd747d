//! Serves a directory over HTTP (Twisted's `twistd web --path DIR`): files with ranges
//! and `If-Modified-Since`, directories listed unless `--listing off`.
//!
//! ```text
//! cargo run -p torsion-web --example static_server -- --listen tcp:8080:interface=127.0.0.1 --path .
//! curl -r 0-99 http://127.0.0.1:8080/README.md
//! ```

use std::process::ExitCode;
use std::rc::Rc;

use torsion_web::server::{File, Site};

use torsion::application::example as net;

use net::Failed;

const USAGE: &str = "[--listen ENDPOINT|PORT] [--path DIR] [--listing on|off]";

fn main() -> ExitCode {
    // The log an operator reads (RUST_LOG, default info) on standard error.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    net::report("static_server", USAGE, run())
}

fn run() -> Result<ExitCode, Failed> {
    let known = ["--listen", "--path", "--listing"];
    let options = net::options(std::env::args().skip(1), &known).map_err(Failed::Usage)?;
    let endpoint = net::last(&options, "--listen").unwrap_or("8080");
    let path = net::last(&options, "--path").unwrap_or(".");
    let listing = match net::last(&options, "--listing").unwrap_or("on") {
        "on" => true,
        "off" => false,
        other => return Err(Failed::Usage(format!("--listing {other:?}: on or off"))),
    };
    let files = File::new(path)
        .map_err(|e| Failed::Run(e.to_string()))?
        .with_directory_listing(listing);
    let reactor = net::reactor()?;
    let site = Site::new(Rc::new(files), reactor.clone());
    let draining = site.clone();
    let port = net::service(&reactor, endpoint, site)
        .map_err(Failed::Run)?
        .with_drain(move || draining.drain());
    Ok(net::serve(&reactor, port))
}
