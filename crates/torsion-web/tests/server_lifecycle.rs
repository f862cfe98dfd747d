//! A connection's life on a fake clock and an in-memory transport: the head deadline
//! that trickling cannot stretch, the idle and abort timeouts, reading paused behind a
//! slow response; and over loopback, a client that leaves mid-response.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use torsion::defer::ok;
use torsion::net::{CloseReason, Protocol, ProtocolFactory, Transport};
use torsion::testing::{Clock, StringTransport};
use torsion::{Deferred, Failure};
use torsion_web::server::{ClientDisconnected, FnResource, Render, Request, ServerConfig, Site};

use support::{with_server_config, Reader};

fn hello() -> Rc<FnResource<impl Fn(&Request) -> Render>> {
    Rc::new(FnResource::new(|_: &Request| Render::from("hi")))
}

/// A connection of `site` on a string transport.
fn connect(site: &Site) -> (Box<dyn Protocol>, Rc<StringTransport>) {
    let transport = StringTransport::new();
    let mut protocol = site.build_protocol(&transport.peer()).unwrap();
    protocol.connection_made(transport.clone());
    (protocol, transport)
}

#[test]
fn the_head_deadline_holds_however_slowly_bytes_trickle() {
    let clock = Clock::new();
    let site = Site::new(hello(), clock.clone());
    let (mut connection, transport) = connect(&site);
    let head = b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    for byte in head.iter().take(29) {
        connection.data_received(&[*byte]);
        clock.advance(Duration::from_secs(1)); // well under the idle timeout each time
    }
    assert!(!transport.disconnecting());
    clock.advance(Duration::from_secs(1)); // 30 s since the first byte
    let written = String::from_utf8(transport.value()).unwrap();
    assert!(
        written.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{written}"
    );
    assert!(transport.disconnecting());
    // The close does not complete: the abort timeout ends it.
    clock.advance(Duration::from_secs(15));
    assert!(transport.aborted());
    connection.connection_lost(CloseReason::Clean);
    assert!(clock.pending_calls().is_empty(), "no timer left");
}

#[test]
fn idle_connections_close_after_the_idle_timeout() {
    let clock = Clock::new();
    let site = Site::new(hello(), clock.clone());
    let (mut connection, transport) = connect(&site);
    clock.advance(Duration::from_secs(30));
    connection.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(transport.value().ends_with(b"hi"));
    clock.advance(Duration::from_secs(59)); // idle counts from the end of the response
    assert!(!transport.disconnecting());
    clock.advance(Duration::from_secs(1));
    assert!(transport.disconnecting());
    assert_eq!(transport.value().len(), transport.take_value().len()); // no 408 when idle
    connection.connection_lost(CloseReason::Clean);
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn reading_pauses_when_pipelined_bytes_pile_up_behind_a_slow_response() {
    let clock = Clock::new();
    let resolvers: Rc<RefCell<Vec<torsion::defer::Resolver<String>>>> = Rc::default();
    let held = resolvers.clone();
    let slow = Rc::new(FnResource::new(move |_: &Request| {
        let (body, resolver) = Deferred::<String>::new();
        held.borrow_mut().push(resolver);
        Render::deferred(body)
    }));
    let mut config = ServerConfig::default();
    config.max_pipelined = 1024;
    let site = Site::with_config(slow, clock.clone(), config);
    let (mut connection, transport) = connect(&site);
    connection.data_received(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
    let next = b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n".repeat(37); // 37 x 28 = 1036 bytes
    connection.data_received(&next);
    assert!(transport.reading_paused());
    assert_eq!(resolvers.borrow().len(), 1, "the second request waits");
    let first = resolvers.borrow_mut().remove(0);
    first.callback("first".into()).unwrap();
    assert!(
        !transport.reading_paused(),
        "1008 bytes wait now: reading resumes"
    );
    assert_eq!(resolvers.borrow().len(), 1, "the next one is rendered");
    assert!(transport.value().ends_with(b"first"));
    connection.connection_lost(CloseReason::Clean);
    for resolver in resolvers.borrow_mut().drain(..) {
        resolver.callback("late".into()).unwrap(); // dropped: the client is gone
    }
    assert!(!transport.value().ends_with(b"late"));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn a_client_that_leaves_mid_response_is_noticed_and_never_written_to() {
    #[derive(Default)]
    struct Seen {
        failure: RefCell<Option<Failure>>,
        writes_dropped: Cell<bool>,
    }
    let seen = Rc::new(Seen::default());
    let seen2 = seen.clone();
    let streaming = Rc::new(FnResource::new(move |request: &Request| {
        request.write(b"first piece\n");
        let (seen, request2) = (seen2.clone(), request.clone());
        let _ = request
            .notify_finish()
            .add_errback(move |failure: Failure| {
                *seen.failure.borrow_mut() = Some(failure);
                // The handler writes again after the client left: dropped, never sent.
                request2.write(b"too late");
                seen.writes_dropped.set(request2.is_disconnected());
                request2.finish();
                ok(())
            });
        Render::Later
    }));
    with_server_config(
        streaming,
        ServerConfig::default(),
        |_| {},
        |addr| {
            let mut client = Reader::connect(addr);
            client.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
            let mut first = [0u8; 1];
            std::io::Read::read_exact(&mut client.stream, &mut first).unwrap();
            client.shutdown();
        },
    );
    let failure = seen
        .failure
        .borrow_mut()
        .take()
        .expect("notify_finish failed");
    assert!(failure.check::<ClientDisconnected>().is_some(), "{failure}");
    assert!(seen.writes_dropped.get());
}
