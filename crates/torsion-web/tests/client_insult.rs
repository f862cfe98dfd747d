//! The talks' insult demo in miniature: many simultaneous requests to a slow server,
//! combined with gather_results, all in flight at once on one thread.

mod client_support;

use std::{cell::Cell, time::Duration};

use torsion::defer::gather_results;
use torsion::defer::ok;
use torsion_web::client::{Agent, Body, RequestHeaders, Response};

use client_support::{reactor, response, wait, Reply, Server};

const INSULTS: [&str; 3] = [
    "You mongrel.",
    "Your tests pass on Tuesdays.",
    "You merge on red.",
];

#[test]
fn two_hundred_slow_requests_wait_together() {
    let reactor = reactor();
    let n = 200;
    let turn = Cell::new(0usize);
    // Each answer comes after 0 to 19 ms, and the server counts connections open at once.
    let server = Server::start(&reactor, move |_| {
        let i = turn.get();
        turn.set(i + 1);
        let insult = INSULTS[i % INSULTS.len()];
        Reply::After(
            Duration::from_millis((i % 20) as u64),
            response(200, &[], insult.as_bytes()),
        )
    });
    let agent = Agent::builder(&reactor).max_connections_per_host(n).build();
    let insults = (0..n).map(|_| {
        agent
            .request("GET", &server.url("/"), RequestHeaders::new(), Body::Empty)
            .add_callback(|response: Response| response.text())
    });
    let insults: Vec<String> = wait(&reactor, gather_results(insults)).unwrap();
    assert_eq!(insults.len(), n);
    let mut distinct = insults.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), INSULTS.len());
    assert_eq!(
        server.max_open(),
        n,
        "every request had its own connection at once"
    );
    let closed = agent.close_cached_connections();
    wait(&reactor, closed.add_callback(|()| ok(()))).unwrap();
    server.finish();
}
