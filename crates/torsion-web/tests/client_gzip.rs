//! ContentDecoder on loopback: gzip asked for and undone, with a decompressed-size limit.

mod client_support;

use std::io::Write;

use flate2::{write::GzEncoder, Compression};
use torsion::defer;
use torsion_web::client::{
    Agent, Body, ContentDecoder, RequestError, RequestHeaders, Requester, Response,
};

use client_support::{ok, reactor, response, wait, Reply, Server};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn gzipped(data: &[u8]) -> Reply {
    Reply::Bytes(response(200, &[("Content-Encoding", "gzip")], &gzip(data)))
}

#[test]
fn gzip_is_asked_for_and_undone() {
    let reactor = reactor();
    let text = "hello, compressed world ".repeat(1000);
    let server = Server::start(&reactor, {
        let text = text.clone();
        move |seen| match seen.target.as_str() {
            "/plain" => ok(b"plain"),
            _ => gzipped(text.as_bytes()),
        }
    });
    let inner = Agent::new(&reactor);
    let agent = ContentDecoder::new(inner.clone());
    let done = reactor.ensure_deferred({
        let (zipped, plain) = (server.url("/zipped"), server.url("/plain"));
        async move {
            let response = agent
                .request("GET", &zipped, RequestHeaders::new(), Body::Empty)
                .await?;
            assert!(!response.headers().contains("content-encoding"));
            assert!(!response.headers().contains("content-length"));
            let body = response.text().await?;
            let response = agent
                .request("GET", &plain, RequestHeaders::new(), Body::Empty)
                .await?;
            assert_eq!(response.body().await?, b"plain");
            defer::ok(body)
        }
    });
    assert_eq!(wait(&reactor, done).unwrap(), text);
    assert_eq!(server.requests()[0].header("accept-encoding"), Some("gzip"));
    wait(&reactor, inner.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn the_decompressed_size_is_limited() {
    let reactor = reactor();
    let server = Server::start(&reactor, |_| gzipped(&vec![0; 4 << 20]));
    let agent = ContentDecoder::new(Agent::new(&reactor)).with_max_size(64 * 1024);
    let body = agent
        .request(
            "GET",
            &server.url("/bomb"),
            RequestHeaders::new(),
            Body::Empty,
        )
        .add_callback(|response: Response| response.deliver_body(|_| Ok(())));
    let failure = wait(&reactor, body).unwrap_err();
    assert_eq!(
        failure.check::<RequestError>(),
        Some(&RequestError::BodyTooLarge { max: 64 * 1024 })
    );
    wait(&reactor, server.next_close()).unwrap();
    server.finish();
}

#[test]
fn a_corrupt_stream_fails_to_decode() {
    let reactor = reactor();
    let mut truncated = gzip(b"some text that will be cut short");
    truncated.truncate(truncated.len() - 4);
    let server = Server::start(&reactor, move |_| {
        Reply::Bytes(response(200, &[("Content-Encoding", "gzip")], &truncated))
    });
    let inner = Agent::new(&reactor);
    let agent = ContentDecoder::new(inner.clone());
    let body = agent
        .request("GET", &server.url("/"), RequestHeaders::new(), Body::Empty)
        .add_callback(|response: Response| response.body());
    let failure = wait(&reactor, body).unwrap_err();
    assert!(
        matches!(
            failure.check::<RequestError>(),
            Some(RequestError::Decoding { .. })
        ),
        "{failure}"
    );
    wait(&reactor, inner.close_cached_connections()).unwrap();
    server.finish();
}
