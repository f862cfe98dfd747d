//! The talks' treq demo: fetches every URL on the command line at once and prints each
//! status code and URL as it arrives (with the body's size), or a failure line.
//!
//! ```text
//! cargo run -p torsion-web --example fetch_urls -- http://127.0.0.1:8080/ http://127.0.0.1:9/
//! 200 http://127.0.0.1:8080/ 13 bytes
//! FAILED http://127.0.0.1:9/: connect tcp 127.0.0.1:9: connection refused
//! ```
//!
//! Lines come in the order the answers do, not the order of the arguments. Each fetch is
//! treq's `get` (redirects followed, gzip undone); the results are combined with
//! `gather_results`, as in the talk. Exits 0 when every URL answered, 1 when one failed.
//! With `--cookies`, the fetches share a cookie jar (treq's `cookies=`): what a response
//! sets, a redirect or a later request sends back.

use std::{io::Write, process::ExitCode};

use torsion::{defer::gather_results, task::react_with, Deferred, Failure, Reactor};
use torsion_web::client::{
    Agent, ContentDecoder, CookieAgent, CookieJar, HttpClient, RedirectAgent, Response,
};

fn main() -> ExitCode {
    let mut urls: Vec<String> = std::env::args().skip(1).collect();
    let cookies = urls.first().is_some_and(|first| first == "--cookies");
    if cookies {
        urls.remove(0);
    }
    if urls.is_empty() || urls.iter().any(|u| u.starts_with('-')) {
        eprintln!("usage: fetch_urls [--cookies] URL...");
        return ExitCode::from(2);
    }
    let reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(e) => {
            eprintln!("fetch_urls: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = if cookies {
        let agent = CookieAgent::new(ContentDecoder::new(Agent::new(&reactor)), CookieJar::new());
        HttpClient::with_agent(RedirectAgent::new(agent))
    } else {
        HttpClient::new(&reactor)
    };
    match react_with(&reactor, |_| fetch_all(&client, &urls)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// Fetches every URL at once; fails (after printing every line) if any fetch failed.
fn fetch_all(client: &HttpClient, urls: &[String]) -> Deferred<()> {
    let fetches = urls.iter().map(|url| fetch(client, url.clone()));
    gather_results(fetches).add_callback(|answered: Vec<bool>| {
        let failed = answered.iter().filter(|ok| !**ok).count();
        if failed == 0 {
            Ok(())
        } else {
            Err(Failure::msg(format!(
                "{failed} of {} fetches failed",
                answered.len()
            )))
        }
    })
}

/// Gets `url`, prints its line, and fires with whether it answered.
fn fetch(client: &HttpClient, url: String) -> Deferred<bool> {
    let failed_url = url.clone();
    client
        .get(&url)
        .add_callback(|response: Response| {
            let status = response.status();
            response.body().add_callback(move |body: Vec<u8>| {
                say(format!("{status} {url} {} bytes", body.len()));
                Ok::<_, Failure>(true)
            })
        })
        .add_errback(move |failure: Failure| {
            say(format!("FAILED {failed_url}: {failure}"));
            Ok(false)
        })
}

/// Prints a line at once, so lines appear as answers arrive.
fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
