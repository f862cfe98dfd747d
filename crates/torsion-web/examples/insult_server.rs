//! The talks' slow server: each GET gets a random insult after a random delay of up to
//! `--max-delay SECONDS` (default 5), scheduled with `call_later`, never a sleep, so one
//! thread answers hundreds of waiting clients at once.
//!
//! ```text
//! cargo run -p torsion-web --example insult_server -- --listen tcp:8080:interface=127.0.0.1 --max-delay 2
//! curl http://127.0.0.1:8080/
//! ```

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use torsion::{Deferred, Reactor};
use torsion_web::server::{Render, Request, Resource, Site};

use torsion::application::example as net;

use net::Failed;

const USAGE: &str = "[--listen ENDPOINT|PORT] [--max-delay SECONDS]";

const INSULTS: &[&str] = &[
    "Your code has more bugs than a rainforest.",
    "You write Python in Rust, and Rust in Perl.",
    "Your commit messages say 'fix' and nothing else.",
    "You would block the reactor to wait for a sleep.",
    "Your tests pass only on Tuesdays.",
    "You call unwrap on user input.",
    "You merge on red.",
    "Your Deferreds are never fired.",
];

/// Answers each GET after a random delay.
struct Insults {
    reactor: Reactor,
    max_delay: Duration,
    /// An xorshift state: good enough to pick insults and delays.
    seed: Cell<u64>,
}

impl Insults {
    fn next_random(&self) -> u64 {
        let mut x = self.seed.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.set(x);
        x
    }
}

impl Resource for Insults {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        let delay = self
            .max_delay
            .mul_f64((self.next_random() % 1001) as f64 / 1000.0);
        let insult = INSULTS[(self.next_random() % INSULTS.len() as u64) as usize];
        request.set_header("Content-Type", "text/plain; charset=utf-8");
        let (body, resolver) = Deferred::<String>::new();
        self.reactor.call_later(delay, move || {
            let _ = resolver.callback(format!("{insult}\n"));
        });
        Render::deferred(body)
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
    net::report("insult_server", USAGE, run())
}

fn run() -> Result<ExitCode, Failed> {
    let known = ["--listen", "--max-delay"];
    let options = net::options(std::env::args().skip(1), &known).map_err(Failed::Usage)?;
    let endpoint = net::last(&options, "--listen").unwrap_or("8080");
    let max_delay = match net::last(&options, "--max-delay") {
        None => Duration::from_secs(5),
        Some(text) => text
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| {
                Failed::Usage(format!("--max-delay {text:?}: not a number of seconds"))
            })?,
    };
    let reactor = net::reactor()?;
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64 | 1);
    let insults = Insults {
        reactor: reactor.clone(),
        max_delay,
        seed: Cell::new(seed),
    };
    let site = Site::new(Rc::new(insults), reactor.clone());
    let draining = site.clone();
    let port = net::service(&reactor, endpoint, site)
        .map_err(Failed::Run)?
        .with_drain(move || draining.drain());
    Ok(net::serve(&reactor, port))
}
