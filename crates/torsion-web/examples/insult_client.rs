//! The talks' impatient client: `--connections N` (default 500) simultaneous GETs to the
//! insult server, combined with `gather_results`; prints how many came back, how many
//! distinct insults, and the total time, which is about the slowest answer, not the sum.
//!
//! ```text
//! cargo run -p torsion-web --example insult_server -- --listen tcp:8080:interface=127.0.0.1 --max-delay 2 &
//! cargo run -p torsion-web --example insult_client -- --connect http://127.0.0.1:8080/
//! ```
//!
//! `--connect` takes a URL or a client endpoint string (`tcp:HOST:PORT`). All requests
//! go through one [`Agent`] whose per-host limit is N, so every request has its own
//! connection and they all wait at once on one thread.

use std::{
    collections::BTreeSet,
    process::ExitCode,
    time::{Duration, Instant},
};

use torsion::defer::ok;
use torsion::{
    defer::gather_results, endpoints::ClientEndpoint, task::react_with, Failure, Reactor,
};
use torsion_web::client::{Agent, Body, RequestHeaders, Response};

use torsion::application::example as net;

use net::Failed;

const USAGE: &str = "--connect URL|ENDPOINT [--connections N]";

fn main() -> ExitCode {
    // The log an operator reads (RUST_LOG, default info) on standard error.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    net::report("insult_client", USAGE, run())
}

fn run() -> Result<ExitCode, Failed> {
    let options = net::options(std::env::args().skip(1), &["--connect", "--connections"])
        .map_err(Failed::Usage)?;
    let target = net::last(&options, "--connect")
        .ok_or_else(|| Failed::Usage("--connect is required".into()))?;
    let url = url_of(target)?;
    let connections: usize = match net::last(&options, "--connections") {
        Some(n) => n
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| Failed::Usage(format!("--connections: not a count: {n:?}")))?,
        None => 500,
    };
    let reactor = net::reactor()?;
    react_with(&reactor, |reactor| {
        insult_everyone(reactor, &url, connections)
    })
    .map_err(|failure| Failed::Run(failure.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

/// Sends `n` requests at once and reports when the last one is back.
fn insult_everyone(reactor: &Reactor, url: &str, n: usize) -> torsion::Deferred<()> {
    let agent = Agent::builder(reactor)
        .max_connections_per_host(n)
        .request_timeout(Some(Duration::from_secs(60)))
        .build();
    let started = Instant::now();
    let insults = (0..n).map(|_| {
        agent
            .request("GET", url, RequestHeaders::new(), Body::Empty)
            .add_callback(|response: Response| response.text())
            .add_callbacks(
                |insult: String| ok(Some(insult)),
                |failure: Failure| {
                    eprintln!("request failed: {failure}");
                    Ok(None)
                },
            )
    });
    gather_results(insults).add_callback(move |insults: Vec<Option<String>>| {
        let elapsed = started.elapsed();
        let answers: Vec<String> = insults.into_iter().flatten().collect();
        let distinct: BTreeSet<&str> = answers.iter().map(|s| s.trim()).collect();
        println!("{} of {n} requests came back", answers.len());
        println!("{} distinct insults", distinct.len());
        for insult in &distinct {
            println!("  {insult}");
        }
        println!("total time {:.2} s", elapsed.as_secs_f64());
        agent.close_cached_connections()
    })
}

/// A URL as given, or `http://HOST:PORT/` for a `tcp:` endpoint string.
fn url_of(target: &str) -> Result<String, Failed> {
    if target.contains("://") {
        return Ok(target.to_owned());
    }
    match target.parse::<ClientEndpoint>() {
        Ok(ClientEndpoint::Tcp { host, port, .. }) if host.contains(':') => {
            Ok(format!("http://[{host}]:{port}/"))
        }
        Ok(ClientEndpoint::Tcp { host, port, .. }) => Ok(format!("http://{host}:{port}/")),
        Ok(other) => Err(Failed::Usage(format!("{other}: only tcp endpoints"))),
        Err(e) => Err(Failed::Usage(format!("--connect: {e}"))),
    }
}
