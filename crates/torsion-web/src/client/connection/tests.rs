//! The adapter on in-memory transports: what the pool and the request hear, what is
//! written, and how the transport is closed, for each of the core's actions.

use std::{cell::RefCell, rc::Rc};

use torsion::{
    net::{CloseReason, Protocol},
    testing::StringTransport,
    Failure, Reactor,
};

use super::*;

/// Records what the connection tells its pool.
#[derive(Default)]
struct TestPool {
    log: RefCell<Vec<&'static str>>,
}

impl Pool for TestPool {
    fn connection_ready(self: Rc<Self>, _: &Rc<Conn>) {
        self.log.borrow_mut().push("ready");
    }

    fn release(self: Rc<Self>, _: &Rc<Conn>) {
        self.log.borrow_mut().push("release");
    }

    fn connection_closed(self: Rc<Self>, _: &Rc<Conn>) {
        self.log.borrow_mut().push("closed");
    }
}

/// Records what the connection tells the request it serves.
struct TestRequest {
    url: Url,
    log: RefCell<Vec<String>>,
    response: RefCell<Option<Response>>,
}

impl TestRequest {
    fn new() -> Rc<TestRequest> {
        Rc::new(TestRequest {
            url: "http://a.example/".parse().unwrap(),
            log: RefCell::default(),
            response: RefCell::default(),
        })
    }

    fn log(&self) -> Vec<String> {
        self.log.borrow().clone()
    }
}

impl Served for TestRequest {
    fn url(&self) -> &Url {
        &self.url
    }

    fn send_on_new(self: Rc<Self>, _: &Rc<Conn>) {
        self.log.borrow_mut().push("send on new".into());
    }

    fn responded(&self, response: Response, _: Rc<BodyChannel>) {
        self.log
            .borrow_mut()
            .push(format!("head {}", response.status()));
        *self.response.borrow_mut() = Some(response);
    }

    fn complete(&self) {
        self.log.borrow_mut().push("complete".into());
    }

    fn failed(self: Rc<Self>, failure: Failure) {
        self.log.borrow_mut().push(format!("failed: {failure}"));
    }

    fn timed_out(self: Rc<Self>) {
        self.log.borrow_mut().push("timed out".into());
    }

    fn retry_once(self: Rc<Self>) -> bool {
        self.log.borrow_mut().push("retry".into());
        true
    }
}

/// A connection attached to a string transport, as if its endpoint had connected.
struct Setup {
    pool: Rc<TestPool>,
    conn: Rc<Conn>,
    protocol: Box<dyn Protocol>,
    transport: Rc<StringTransport>,
}

fn connected() -> Setup {
    let reactor = Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .unwrap();
    let pool = Rc::new(TestPool::default());
    let weak: Weak<dyn Pool> = Rc::downgrade(&pool) as Weak<TestPool>;
    let key = ("a.example".to_owned(), 80);
    let conn = Conn::new(weak, key, reactor, ExchangeConfig::default());
    let factory = ConnFactory { conn: conn.clone() };
    let address = Address::Tcp("127.0.0.1:80".parse().unwrap());
    let mut protocol = factory.build_protocol(&address).unwrap();
    let transport = StringTransport::new();
    protocol.connection_made(transport.clone());
    Setup {
        pool,
        conn,
        protocol,
        transport,
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

impl Setup {
    fn send(&self, request: &Rc<TestRequest>) {
        let served: Rc<dyn Served> = request.clone();
        self.conn
            .send(served, "GET", b"GET / HTTP/1.1\r\n\r\n".to_vec(), None);
    }
}

#[test]
fn a_response_is_handed_on_and_the_connection_goes_back_to_the_pool() {
    let mut setup = connected();
    let request = TestRequest::new();
    setup.send(&request);
    assert_eq!(setup.transport.take_value(), b"GET / HTTP/1.1\r\n\r\n");
    setup.protocol.data_received(&OK[..20]);
    assert!(request.log().is_empty(), "half a head is nothing yet");
    setup.protocol.data_received(&OK[20..]);
    assert_eq!(request.log(), ["head 200", "complete"]);
    assert_eq!(*setup.pool.log.borrow(), ["release"]);
    let response = request.response.borrow_mut().take().unwrap();
    let body = response.body().try_result().ok().unwrap();
    assert_eq!(body.ok(), Some(b"hi".to_vec()));
    assert!(setup.conn.is_usable() && setup.conn.is_reused());
    assert!(!setup.transport.disconnecting());
}

#[test]
fn a_late_connection_is_aborted_and_never_reaches_the_conn() {
    let setup = connected();
    let factory = ConnFactory {
        conn: setup.conn.clone(),
    };
    let address = Address::Tcp("[::1]:80".parse().unwrap());
    let mut late = factory.build_protocol(&address).unwrap();
    let other = StringTransport::new();
    late.connection_made(other.clone());
    assert!(other.aborted(), "the race's loser is closed");
    late.data_received(b"HTTP/1.1 200 OK\r\n\r\n");
    late.connection_lost(CloseReason::Clean);
    assert!(setup.pool.log.borrow().is_empty(), "the conn heard nothing");
    assert!(setup.conn.is_usable());
}

#[test]
fn a_reused_connection_closed_unanswered_frees_its_slot_then_retries() {
    let mut setup = connected();
    let first = TestRequest::new();
    setup.send(&first);
    setup.protocol.data_received(OK);
    let second = TestRequest::new();
    setup.send(&second);
    setup.protocol.connection_lost(CloseReason::Clean);
    assert_eq!(*setup.pool.log.borrow(), ["release", "closed"]);
    assert_eq!(second.log(), ["retry"]);
}

#[test]
fn a_new_connection_closed_unanswered_fails_its_request() {
    let mut setup = connected();
    let request = TestRequest::new();
    setup.send(&request);
    setup.protocol.connection_lost(CloseReason::Clean);
    assert_eq!(
        request.log(),
        ["failed: request http://a.example/: connection closed before the response"]
    );
}

#[test]
fn bytes_nobody_asked_for_abort_an_idle_connection() {
    let mut setup = connected();
    setup.protocol.data_received(b"HTTP/1.1 200 OK\r\n");
    assert!(setup.transport.aborted());
    assert!(!setup.conn.is_usable());
}

#[test]
fn a_bad_head_fails_the_request_and_aborts() {
    let mut setup = connected();
    let request = TestRequest::new();
    setup.send(&request);
    setup
        .protocol
        .data_received(b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n");
    let log = request.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].starts_with("failed: request http://a.example/: invalid response"));
    assert!(setup.transport.aborted());
}

#[test]
fn a_response_that_closes_closes_after_its_body() {
    let mut setup = connected();
    let request = TestRequest::new();
    setup.send(&request);
    setup
        .protocol
        .data_received(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(request.log(), ["head 200", "complete"]);
    assert!(setup.transport.disconnecting() && !setup.transport.aborted());
    assert!(setup.pool.log.borrow().is_empty(), "not released");
}

#[test]
fn a_new_connection_pooled_unused_starts_its_idle_clock() {
    let setup = connected();
    let timers = || setup.conn.reactor.timers().len();
    assert_eq!(timers(), 0);
    setup.conn.pooled();
    assert_eq!(timers(), 1, "the idle timeout runs");
    setup.conn.lose_connection();
    assert_eq!(timers(), 0, "closing stops it");
    assert!(setup.transport.disconnecting());
}
