//! RedirectAgent on loopback: chains, the limit, method rules, and credentials dropped
//! when a redirect leaves the origin.

mod client_support;

use torsion::Failure;
use torsion_web::client::{
    Agent, Body, RedirectAgent, RequestError, RequestHeaders, Requester, Response,
};

use client_support::{ok, reactor, response, wait, Reply, Server};

fn redirect(status: u16, location: &str) -> Reply {
    Reply::Bytes(response(status, &[("Location", location)], b"moved"))
}

#[test]
fn a_chain_of_redirects_is_followed_to_the_end() {
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| match seen.target.as_str() {
        "/a" => redirect(301, "/b"),
        "/b" => redirect(302, "c?x=1"),
        "/c?x=1" => redirect(307, "/d"),
        "/d" => redirect(308, "/final"),
        _ => ok(b"arrived"),
    });
    let inner = Agent::new(&reactor);
    let agent = RedirectAgent::new(inner.clone());
    let body = agent
        .request("GET", &server.url("/a"), RequestHeaders::new(), Body::Empty)
        .add_callback(|response: Response| {
            assert!(response.url().to_string().ends_with("/final"));
            response.body()
        });
    assert_eq!(wait(&reactor, body).unwrap(), b"arrived");
    let targets: Vec<String> = server.requests().into_iter().map(|s| s.target).collect();
    assert_eq!(targets, ["/a", "/b", "/c?x=1", "/d", "/final"]);
    assert_eq!(
        server.accepted(),
        1,
        "short redirect bodies are discarded and the connection reused"
    );
    wait(&reactor, inner.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn more_redirects_than_the_limit_fail() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| redirect(302, "/again"));
    let inner = Agent::new(&reactor);
    let agent = RedirectAgent::new(inner.clone()).with_limit(3);
    let request = agent.request("GET", &server.url("/"), RequestHeaders::new(), Body::Empty);
    let failure = wait(&reactor, request).unwrap_err();
    match failure.check::<RequestError>() {
        Some(RequestError::TooManyRedirects { limit, .. }) => assert_eq!(*limit, 3),
        other => panic!("expected too many redirects, got {other:?}"),
    }
    assert_eq!(
        server.requests().len(),
        4,
        "the first request and three redirects"
    );
    wait(&reactor, inner.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn see_other_turns_a_post_into_a_get_and_307_keeps_it() {
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| match seen.target.as_str() {
        "/form" => redirect(303, "/result"),
        "/upload" => redirect(307, "/stored"),
        _ => ok(format!("{} {}", seen.method, String::from_utf8_lossy(&seen.body)).as_bytes()),
    });
    let inner = Agent::new(&reactor);
    let agent = RedirectAgent::new(inner.clone());
    let headers = RequestHeaders::new().with("Content-Type", "text/plain");
    let done = reactor.ensure_deferred({
        let (form, upload) = (server.url("/form"), server.url("/upload"));
        async move {
            let response = agent
                .request("POST", &form, headers.clone(), Body::from("data"))
                .await?;
            assert_eq!(response.body().await?, b"GET ");
            let response = agent
                .request("POST", &upload, headers, Body::from("data"))
                .await?;
            assert_eq!(response.body().await?, b"POST data");
            Ok::<_, Failure>(())
        }
    });
    wait(&reactor, done).unwrap();
    let seen = server.requests();
    assert_eq!(
        seen[1].header("content-type"),
        None,
        "a GET made from a POST has no body"
    );
    assert_eq!(seen[1].header("content-length"), None);
    assert_eq!(seen[3].header("content-type"), Some("text/plain"));
    wait(&reactor, inner.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn credentials_are_dropped_when_a_redirect_leaves_the_origin() {
    let reactor = reactor();
    let other = Server::start(&reactor, |_| ok(b"elsewhere"));
    let elsewhere = other.url("/landing");
    let server = Server::start(&reactor, move |seen| match seen.target.as_str() {
        "/same" => redirect(302, "/here"),
        "/away" => redirect(302, &elsewhere),
        _ => ok(b"here"),
    });
    let inner = Agent::new(&reactor);
    let agent = RedirectAgent::new(inner.clone());
    let headers = RequestHeaders::new()
        .with("Cookie", "session=1")
        .with("Authorization", "Bearer secret")
        .with("X-Kept", "yes");
    let done = reactor.ensure_deferred({
        let (same, away) = (server.url("/same"), server.url("/away"));
        async move {
            let response = agent
                .request("GET", &same, headers.clone(), Body::Empty)
                .await?;
            assert_eq!(response.body().await?, b"here");
            let response = agent.request("GET", &away, headers, Body::Empty).await?;
            assert_eq!(response.body().await?, b"elsewhere");
            Ok::<_, Failure>(())
        }
    });
    wait(&reactor, done).unwrap();
    let here = &server.requests()[1];
    assert_eq!(
        here.header("cookie"),
        Some("session=1"),
        "same origin keeps them"
    );
    assert_eq!(here.header("authorization"), Some("Bearer secret"));
    let landing = &other.requests()[0];
    assert_eq!(landing.header("cookie"), None);
    assert_eq!(landing.header("authorization"), None);
    assert_eq!(landing.header("x-kept"), Some("yes"));
    let host = format!("127.0.0.1:{}", other.port());
    assert_eq!(landing.header("host"), Some(host.as_str()));
    wait(&reactor, inner.close_cached_connections()).unwrap();
    other.stop();
    server.finish();
}

#[test]
fn a_redirect_without_location_fails() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| Reply::Bytes(response(302, &[], b"")));
    let inner = Agent::new(&reactor);
    let agent = RedirectAgent::new(inner.clone());
    let request = agent.request("GET", &server.url("/"), RequestHeaders::new(), Body::Empty);
    let failure = wait(&reactor, request).unwrap_err();
    assert!(matches!(
        failure.check::<RequestError>(),
        Some(RequestError::BadRedirect { status: 302, .. })
    ));
    wait(&reactor, inner.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn a_redirect_to_a_non_ascii_path_with_spaces_is_encoded_and_followed() {
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| match seen.target.as_str() {
        "/start" => redirect(302, "/café au lait?q=crème brûlée"),
        _ => ok(b"arrived"),
    });
    let inner = Agent::new(&reactor);
    let agent = RedirectAgent::new(inner.clone());
    let body = agent
        .request(
            "GET",
            &server.url("/start"),
            RequestHeaders::new(),
            Body::Empty,
        )
        .add_callback(|response: Response| response.body());
    assert_eq!(wait(&reactor, body).unwrap(), b"arrived");
    let targets: Vec<String> = server.requests().into_iter().map(|s| s.target).collect();
    assert_eq!(
        targets,
        [
            "/start",
            "/caf%C3%A9%20au%20lait?q=cr%C3%A8me%20br%C3%BBl%C3%A9e"
        ]
    );
    wait(&reactor, inner.close_cached_connections()).unwrap();
    server.finish();
}
