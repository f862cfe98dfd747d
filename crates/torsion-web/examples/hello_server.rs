//! `Hello, world!` to every request: the benchmark server (BENCHMARKS.md, "HTTP").
//!
//! ```text
//! cargo run --release -p torsion-web --example hello_server -- --listen tcp:8080:interface=127.0.0.1
//! curl -i http://127.0.0.1:8080/
//! ```

use std::process::ExitCode;
use std::rc::Rc;

use torsion_web::server::{Render, Request, Resource, Site};

use torsion::application::example as net;

use net::Failed;

const USAGE: &str = "[--listen ENDPOINT|PORT]";

/// Answers every path and method the same way.
struct Hello;

impl Resource for Hello {
    fn is_leaf(&self) -> bool {
        true
    }

    fn allowed_methods(&self) -> &[&'static str] {
        &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    }

    fn render(&self, request: &Request) -> Render {
        request.set_header("Content-Type", "text/plain");
        Render::from("Hello, world!")
    }
}

fn main() -> ExitCode {
    // The log an operator reads (RUST_LOG, default info) on standard error; no access
    // lines by default: this is the benchmark server (RUST_LOG=info turns them on).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,torsion_web::access=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    net::report("hello_server", USAGE, run())
}

fn run() -> Result<ExitCode, Failed> {
    let options = net::options(std::env::args().skip(1), &["--listen"]).map_err(Failed::Usage)?;
    let endpoint = net::last(&options, "--listen").unwrap_or("8080");
    let reactor = net::reactor()?;
    let site = Site::new(Rc::new(Hello), reactor.clone());
    let draining = site.clone();
    let port = net::service(&reactor, endpoint, site)
        .map_err(Failed::Run)?
        .with_drain(move || draining.drain());
    Ok(net::serve(&reactor, port))
}
