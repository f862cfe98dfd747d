//! The treq-like layer on loopback: get, post, put, delete, head, text and json, and the
//! talks' "fetch several URLs at once and gather the results".

mod client_support;

use torsion::defer;
use torsion::defer::gather_results;
use torsion_web::client::{delete, get, head, post, put, HttpClient, Response};

use client_support::{ok, reactor, response, wait, Reply, Server};

#[test]
fn each_method_sends_what_it_says() {
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| {
        ok(format!(
            "{} {} {}",
            seen.method,
            seen.target,
            String::from_utf8_lossy(&seen.body)
        )
        .as_bytes())
    });
    let r = reactor.clone();
    let url = server.url("/thing");
    let done = reactor.ensure_deferred(async move {
        let mut seen = Vec::new();
        seen.push(get(&r, &url).await?.text().await?);
        seen.push(post(&r, &url, "posted").await?.text().await?);
        seen.push(put(&r, &url, b"put".to_vec()).await?.text().await?);
        seen.push(delete(&r, &url).await?.text().await?);
        let response = head(&r, &url).await?;
        assert_eq!(response.status(), 200);
        seen.push(response.text().await?);
        defer::ok(seen)
    });
    let seen = wait(&reactor, done).unwrap();
    assert_eq!(
        seen,
        [
            "GET /thing ",
            "POST /thing posted",
            "PUT /thing put",
            "DELETE /thing ",
            ""
        ]
    );
    assert_eq!(
        server.accepted(),
        5,
        "the free functions use each connection once"
    );
    assert!(server
        .requests()
        .iter()
        .all(|s| s.header("connection") == Some("close")));
    server.finish();
}

#[test]
fn several_urls_at_once_gathered() {
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| ok(seen.target.as_bytes()));
    let urls: Vec<String> = (1..=3).map(|i| server.url(&format!("/{i}"))).collect();
    let codes = urls.iter().map(|url| {
        get(&reactor, url).add_callback(|response: Response| defer::ok(response.status()))
    });
    assert_eq!(
        wait(&reactor, gather_results(codes)).unwrap(),
        [200, 200, 200]
    );
    assert_eq!(server.max_open(), 3, "all three were in flight together");
    server.finish();
}

#[test]
fn an_http_client_keeps_its_connection() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| ok(b"again"));
    let client = HttpClient::new(&reactor);
    let url = server.url("/");
    let done = reactor.ensure_deferred({
        let client = client.clone();
        async move {
            for _ in 0..3 {
                assert_eq!(client.get(&url).await?.text().await?, "again");
            }
            defer::ok(())
        }
    });
    wait(&reactor, done).unwrap();
    assert_eq!(server.accepted(), 1);
    drop(client); // its idle connection closes with it
    wait(&reactor, server.next_close()).unwrap();
    server.finish();
}

#[test]
fn text_honours_a_latin1_charset() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| {
        Reply::Bytes(response(
            200,
            &[("Content-Type", "text/plain; charset=ISO-8859-1")],
            b"caf\xe9",
        ))
    });
    let text = get(&reactor, &server.url("/")).add_callback(|r: Response| r.text());
    assert_eq!(wait(&reactor, text).unwrap(), "café");
    server.finish();
}

#[cfg(feature = "json")]
#[test]
fn json_parses_the_body() {
    use torsion_web::client::RequestError;
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| match seen.target.as_str() {
        "/ok" => ok(br#"{"insult": "you mongrel", "n": 3}"#),
        _ => ok(b"{not json"),
    });
    let value = get(&reactor, &server.url("/ok")).add_callback(|r: Response| r.json());
    let value = wait(&reactor, value).unwrap();
    assert_eq!(value["insult"], "you mongrel");
    assert_eq!(value["n"], 3);
    let bad = get(&reactor, &server.url("/bad")).add_callback(|r: Response| r.json());
    let failure = wait(&reactor, bad).unwrap_err();
    assert!(matches!(
        failure.check::<RequestError>(),
        Some(RequestError::InvalidJson { .. })
    ));
    server.finish();
}
