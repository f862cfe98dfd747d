//! The Agent end to end on loopback: keep-alive and pool reuse, the per-host limit and
//! its queue, the idle and request timeouts, body framings, bad framing, and requests
//! refused before anything is sent.

mod client_support;

use std::time::Duration;

use torsion::defer;
use torsion::{
    defer::{gather_results, Cancelled},
    net::ConnectError,
    Failure,
};
use torsion_web::{
    client::{Agent, Body, RequestError, RequestHeaders, Response, UrlError},
    http::{BodyError, HeadError, WriteError},
};

use client_support::{ok, reactor, response, wait, Reply, Server};

/// Sends GET `url` on `agent` and reads the whole body.
async fn fetch(agent: &Agent, url: &str) -> Result<(u16, Vec<u8>), Failure> {
    let response = agent
        .request("GET", url, RequestHeaders::new(), Body::Empty)
        .await?;
    let status = response.status();
    Ok((status, response.body().await?))
}

#[test]
fn keep_alive_reuses_one_connection() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| ok(b"hello"));
    let agent = Agent::new(&reactor);
    let url = server.url("/a");
    let done = reactor.ensure_deferred({
        let agent = agent.clone();
        async move {
            for _ in 0..3 {
                assert_eq!(fetch(&agent, &url).await?, (200, b"hello".to_vec()));
            }
            Ok(())
        }
    });
    wait(&reactor, done).unwrap();
    assert_eq!(server.accepted(), 1, "three requests, one connection");
    assert_eq!(agent.idle_connections("127.0.0.1", server.port()), 1);
    wait(&reactor, agent.close_cached_connections()).unwrap();
    assert_eq!(agent.open_connections("127.0.0.1", server.port()), 0);
    server.finish();
}

#[test]
fn a_response_that_closes_is_not_reused() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| {
        Reply::BytesThenClose(response(200, &[("Connection", "close")], b"bye"))
    });
    let agent = Agent::new(&reactor);
    let url = server.url("/");
    let done = reactor.ensure_deferred({
        let agent = agent.clone();
        async move {
            assert_eq!(fetch(&agent, &url).await?.1, b"bye");
            assert_eq!(fetch(&agent, &url).await?.1, b"bye");
            Ok(())
        }
    });
    wait(&reactor, done).unwrap();
    assert_eq!(server.accepted(), 2);
    assert_eq!(agent.idle_connections("127.0.0.1", server.port()), 0);
    server.finish();
}

#[test]
fn per_host_limit_queues_requests() {
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| {
        Reply::After(
            Duration::from_millis(10),
            response(200, &[], seen.target.as_bytes()),
        )
    });
    let agent = Agent::builder(&reactor).max_connections_per_host(2).build();
    let requests: Vec<_> = (0..5)
        .map(|i| {
            agent
                .request(
                    "GET",
                    &server.url(&format!("/{i}")),
                    RequestHeaders::new(),
                    Body::Empty,
                )
                .add_callback(|response: Response| response.body())
        })
        .collect();
    assert_eq!(agent.open_connections("127.0.0.1", server.port()), 2);
    let bodies = wait(&reactor, gather_results(requests)).unwrap();
    let expected: Vec<Vec<u8>> = (0..5).map(|i| format!("/{i}").into_bytes()).collect();
    assert_eq!(
        bodies, expected,
        "every queued request answered, in its own response"
    );
    assert_eq!(server.accepted(), 2, "never more than the limit");
    assert_eq!(server.max_open(), 2);
    wait(&reactor, agent.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn idle_timeout_closes_pooled_connections() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| ok(b"x"));
    let agent = Agent::builder(&reactor)
        .idle_timeout(Duration::from_millis(30))
        .build();
    let url = server.url("/");
    let done = reactor.ensure_deferred({
        let agent = agent.clone();
        async move {
            fetch(&agent, &url).await?;
            Ok(())
        }
    });
    wait(&reactor, done).unwrap();
    assert_eq!(agent.idle_connections("127.0.0.1", server.port()), 1);
    let closed = wait(&reactor, server.next_close()).unwrap();
    assert_eq!(closed, 1, "the server saw the pooled connection close");
    assert_eq!(agent.open_connections("127.0.0.1", server.port()), 0);
    server.finish();
}

#[test]
fn request_timeout_fails_a_request_never_answered() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| Reply::Never);
    let agent = Agent::builder(&reactor)
        .request_timeout(Some(Duration::from_millis(30)))
        .build();
    let request = agent.request(
        "GET",
        &server.url("/slow"),
        RequestHeaders::new(),
        Body::Empty,
    );
    let failure = wait(&reactor, request).unwrap_err();
    match failure.check::<RequestError>() {
        Some(RequestError::TimedOut { after, url }) => {
            assert_eq!(*after, Duration::from_millis(30));
            assert!(url.ends_with("/slow"));
        }
        other => panic!("expected a timeout, got {other:?} ({failure})"),
    }
    wait(&reactor, server.next_close()).unwrap();
    assert_eq!(agent.open_connections("127.0.0.1", server.port()), 0);
    server.finish();
}

#[test]
fn request_timeout_covers_the_body() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| {
        Reply::Bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec())
    });
    let agent = Agent::builder(&reactor)
        .request_timeout(Some(Duration::from_millis(30)))
        .build();
    let body = agent
        .request("GET", &server.url("/"), RequestHeaders::new(), Body::Empty)
        .add_callback(|response: Response| {
            assert_eq!(response.status(), 200, "the head came in time");
            response.body()
        });
    let failure = wait(&reactor, body).unwrap_err();
    assert!(matches!(
        failure.check::<RequestError>(),
        Some(RequestError::TimedOut { .. })
    ));
    wait(&reactor, server.next_close()).unwrap();
    server.finish();
}

#[test]
fn cancelling_a_request_closes_its_connection() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| Reply::Never);
    let agent = Agent::new(&reactor);
    let request = agent.request("GET", &server.url("/"), RequestHeaders::new(), Body::Empty);
    let cancel = request.canceller();
    let _ = server.next_close().add_callback(|_| defer::ok(()));
    reactor.call_later(Duration::from_millis(10), move || cancel.cancel());
    let failure = wait(&reactor, request).unwrap_err();
    assert!(failure.check::<Cancelled>().is_some(), "{failure}");
    server.finish();
}

#[test]
fn chunked_responses_are_decoded_and_the_connection_reused() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| {
        Reply::Bytes(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
                .to_vec(),
        )
    });
    let agent = Agent::new(&reactor);
    let url = server.url("/");
    let done = reactor.ensure_deferred({
        let agent = agent.clone();
        async move {
            assert_eq!(fetch(&agent, &url).await?.1, b"hello world");
            assert_eq!(fetch(&agent, &url).await?.1, b"hello world");
            Ok(())
        }
    });
    wait(&reactor, done).unwrap();
    assert_eq!(server.accepted(), 1);
    wait(&reactor, agent.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn a_body_until_close_ends_with_the_connection() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| {
        Reply::BytesThenClose(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it".to_vec())
    });
    let agent = Agent::new(&reactor);
    let url = server.url("/");
    let done = reactor.ensure_deferred({
        let agent = agent.clone();
        async move {
            assert_eq!(fetch(&agent, &url).await?.1, b"all of it");
            assert_eq!(fetch(&agent, &url).await?.1, b"all of it");
            Ok(())
        }
    });
    wait(&reactor, done).unwrap();
    assert_eq!(
        server.accepted(),
        2,
        "an until-close body never leaves a reusable connection"
    );
    server.finish();
}

#[test]
fn a_response_with_bad_framing_fails_and_its_connection_is_not_reused() {
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| match seen.target.as_str() {
        "/bad" => Reply::Bytes(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".to_vec(),
        ),
        "/bad-chunk" => Reply::Bytes(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
        ),
        _ => ok(b"fine"),
    });
    let agent = Agent::new(&reactor);
    let (bad, bad_chunk, good) = (
        server.url("/bad"),
        server.url("/bad-chunk"),
        server.url("/"),
    );
    let done = reactor.ensure_deferred({
        let agent = agent.clone();
        async move {
            let failure = fetch(&agent, &bad).await.unwrap_err();
            match failure.check::<RequestError>() {
                Some(RequestError::BadResponse { error, .. }) => {
                    assert!(
                        matches!(error, HeadError::ConflictingContentLength),
                        "{error}"
                    )
                }
                other => panic!("expected a bad response, got {other:?}"),
            }
            let failure = fetch(&agent, &bad_chunk).await.unwrap_err();
            match failure.check::<RequestError>() {
                Some(RequestError::BadBody { error, .. }) => {
                    assert!(matches!(error, BodyError::Chunked(_)), "{error}")
                }
                other => panic!("expected a bad body, got {other:?}"),
            }
            assert_eq!(fetch(&agent, &good).await?.1, b"fine");
            Ok(())
        }
    });
    wait(&reactor, done).unwrap();
    assert_eq!(
        server.accepted(),
        3,
        "each bad response closed its connection"
    );
    wait(&reactor, agent.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn cr_and_lf_are_refused_before_anything_is_sent() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| ok(b""));
    let agent = Agent::new(&reactor);
    let url = server.url("/");
    let injected = RequestHeaders::new().with("X-Note", "a\r\nX-Evil: 1");
    let cases = [
        agent.request("GET", &url, injected, Body::Empty),
        agent.request("GET\r\nX: y", &url, RequestHeaders::new(), Body::Empty),
        agent.request(
            "GET",
            &url,
            RequestHeaders::new().with("X\nY", "1"),
            Body::Empty,
        ),
        agent.request(
            "POST",
            &url,
            RequestHeaders::new().with("Content-Length", "1"),
            Body::from("ab"),
        ),
    ];
    for request in cases {
        let failure = request.try_result().ok().unwrap().unwrap_err();
        let Some(RequestError::InvalidRequest { error, .. }) = failure.check::<RequestError>()
        else {
            panic!("expected a refused request, got {failure}");
        };
        assert!(matches!(
            error,
            WriteError::InvalidHeaderValue { .. }
                | WriteError::InvalidMethod
                | WriteError::InvalidHeaderName { .. }
                | WriteError::FramingHeader { .. }
        ));
    }
    let failure = agent
        .request(
            "GET",
            &format!("{url}a\r\nb"),
            RequestHeaders::new(),
            Body::Empty,
        )
        .try_result()
        .ok()
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        failure.check::<UrlError>(),
        Some(UrlError::InvalidCharacter { character: '\r' })
    ));
    assert_eq!(agent.open_connections("127.0.0.1", server.port()), 0);
    wait(
        &reactor,
        torsion::task::defer_later(&reactor, Duration::ZERO, || Ok(())),
    )
    .unwrap();
    assert_eq!(server.accepted(), 0, "nothing was sent");
    server.finish();
}

#[test]
fn https_is_refused_with_a_clear_error() {
    let reactor = reactor();
    let agent = Agent::new(&reactor);
    let request = agent.request(
        "GET",
        "https://127.0.0.1/",
        RequestHeaders::new(),
        Body::Empty,
    );
    let failure = request.try_result().ok().unwrap().unwrap_err();
    assert_eq!(
        failure.check::<UrlError>(),
        Some(&UrlError::HttpsNotSupported)
    );
    assert_eq!(failure.error_message(), "https is not supported yet");
}

#[test]
fn a_refused_connection_fails_with_the_connect_error() {
    let reactor = reactor();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let agent = Agent::new(&reactor);
    let url = format!("http://127.0.0.1:{closed_port}/");
    let request = agent.request("GET", &url, RequestHeaders::new(), Body::Empty);
    let failure = wait(&reactor, request).unwrap_err();
    let error = failure.check::<ConnectError>().expect("a connect error");
    assert!(failure.error_message().contains("refused"), "{error}");
    assert_eq!(agent.open_connections("127.0.0.1", closed_port), 0);
    torsion::testing::assert_clean(&reactor);
}

#[test]
fn request_bodies_are_framed() {
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| ok(&seen.body));
    let agent = Agent::new(&reactor);
    let url = server.url("/upload");
    let done = reactor.ensure_deferred({
        let agent = agent.clone();
        async move {
            let response = agent
                .request("POST", &url, RequestHeaders::new(), Body::from("abc"))
                .await?;
            assert_eq!(response.body().await?, b"abc");
            let chunks = Body::chunked([b"de".to_vec(), b"f".to_vec()]);
            let response = agent
                .request("PUT", &url, RequestHeaders::new(), chunks)
                .await?;
            assert_eq!(response.body().await?, b"def");
            Ok(())
        }
    });
    wait(&reactor, done).unwrap();
    let seen = server.requests();
    assert_eq!(seen[0].header("content-length"), Some("3"));
    assert_eq!(seen[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(
        seen[1].header("host"),
        Some(&*format!("127.0.0.1:{}", server.port()))
    );
    wait(&reactor, agent.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn host_names_are_resolved_off_the_loop() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| ok(b"by name"));
    let agent = Agent::builder(&reactor).persistent(false).build();
    let url = format!("http://localhost:{}/", server.port());
    let done = reactor.ensure_deferred({
        let agent = agent.clone();
        async move { fetch(&agent, &url).await }
    });
    assert_eq!(wait(&reactor, done).unwrap().1, b"by name");
    server.finish();
}

#[test]
fn bodies_stream_chunk_by_chunk() {
    let reactor = reactor();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let server = Server::start(&reactor, {
        let big = big.clone();
        move |_| ok(&big)
    });
    let agent = Agent::new(&reactor);
    let received = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let pieces = std::rc::Rc::new(std::cell::Cell::new(0));
    let done = agent
        .request("GET", &server.url("/"), RequestHeaders::new(), Body::Empty)
        .add_callback({
            let (received, pieces) = (received.clone(), pieces.clone());
            move |response: Response| {
                response.deliver_body(move |data| {
                    received.borrow_mut().extend_from_slice(data);
                    pieces.set(pieces.get() + 1);
                    Ok(())
                })
            }
        });
    wait(&reactor, done).unwrap();
    assert_eq!(*received.borrow(), big);
    assert!(pieces.get() > 1, "delivered as it arrived, not at the end");
    wait(&reactor, agent.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn a_body_over_the_limit_fails_and_closes_the_connection() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| ok(&[b'x'; 100]));
    let agent = Agent::new(&reactor);
    let body = agent
        .request("GET", &server.url("/"), RequestHeaders::new(), Body::Empty)
        .add_callback(|response: Response| response.body_with_limit(10));
    let failure = wait(&reactor, body).unwrap_err();
    assert_eq!(
        failure.check::<RequestError>(),
        Some(&RequestError::BodyTooLarge { max: 10 })
    );
    wait(&reactor, server.next_close()).unwrap();
    assert_eq!(agent.open_connections("127.0.0.1", server.port()), 0);
    server.finish();
}

#[test]
fn an_idempotent_request_is_retried_when_a_reused_connection_was_closed() {
    let reactor = reactor();
    // Answers keep-alive, then closes anyway: the pooled connection is dead.
    let server = Server::start(&reactor, |_| {
        Reply::BytesThenClose(response(200, &[], b"ok"))
    });
    let agent = Agent::new(&reactor);
    let url = server.url("/");
    let done = reactor.ensure_deferred({
        let agent = agent.clone();
        async move {
            for _ in 0..3 {
                assert_eq!(fetch(&agent, &url).await?.1, b"ok");
            }
            Ok(())
        }
    });
    wait(&reactor, done).unwrap();
    assert_eq!(server.accepted(), 3);
    wait(&reactor, agent.close_cached_connections()).unwrap();
    server.finish();
}
