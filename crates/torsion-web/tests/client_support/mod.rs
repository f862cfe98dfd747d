//! What the client tests share: a reactor with a watchdog, a way to wait for a Deferred,
//! and a tiny scripted HTTP server written on `torsion::net` and the sans-IO `http`
//! layer (not on torsion-web's server, so the client is tested on its own).

#![allow(dead_code)] // Each test file uses its own subset.

use std::{cell::RefCell, rc::Rc, time::Duration};

use torsion::{
    defer::{Deferred, DeferredQueue},
    net::{factory_fn, ListeningPort, Protocol, StreamNetwork, TcpListenOptions, Transport},
    testing::assert_clean,
    Failure, Reactor,
};
use torsion_web::http::{BodyDecoder, Decoded, Parsed, RequestParser};

/// A reactor for tests: the backend `TORSION_REACTOR` names, no signal handlers.
pub fn reactor() -> Reactor {
    Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("build a test reactor")
}

/// How long a test's loop may run before the watchdog stops it and fails the test.
const WATCHDOG: Duration = Duration::from_secs(20);

/// Runs `reactor` until it stops, failing the test instead of hanging if it does not.
pub fn run(reactor: &Reactor) {
    torsion::testing::run_with_watchdog(reactor, WATCHDOG);
}

/// Runs the reactor until `d` fires and gives its result.
pub fn wait<T: 'static>(reactor: &Reactor, d: Deferred<T>) -> Result<T, Failure> {
    let out: Rc<RefCell<Option<Result<T, Failure>>>> = Rc::default();
    let _ = d.add_both({
        let (out, reactor) = (out.clone(), reactor.clone());
        move |result| {
            *out.borrow_mut() = Some(result);
            let stopper = reactor.clone();
            reactor.call_when_running(move || stopper.stop());
            Ok::<_, Failure>(())
        }
    });
    run(reactor);
    let result = out.borrow_mut().take();
    result.expect("the reactor stopped before the Deferred fired")
}

/// What the server should do with a request.
pub enum Reply {
    /// Write these bytes.
    Bytes(Vec<u8>),
    /// Write these bytes, then close.
    BytesThenClose(Vec<u8>),
    /// Write the first bytes now and the second after a delay.
    Split(Vec<u8>, Duration, Vec<u8>),
    /// Write these bytes after a delay.
    After(Duration, Vec<u8>),
    /// Never answer.
    Never,
}

/// `200 OK` with `body` and its `Content-Length`.
pub fn ok(body: &[u8]) -> Reply {
    Reply::Bytes(response(200, &[], body))
}

/// A response with a `Content-Length`, as bytes.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which accepted connection it came on, from 1.
    pub conn: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Log {
    accepted: usize,
    open: usize,
    max_open: usize,
    requests: Vec<Seen>,
}

/// A scripted HTTP/1.1 server on 127.0.0.1, port 0.
pub struct Server {
    port: ListeningPort,
    log: Rc<RefCell<Log>>,
    closes: DeferredQueue<usize>,
    reactor: Reactor,
}

type Handler = Rc<dyn Fn(&Seen) -> Reply>;

impl Server {
    pub fn start(reactor: &Reactor, handler: impl Fn(&Seen) -> Reply + 'static) -> Server {
        let log: Rc<RefCell<Log>> = Rc::default();
        let closes = DeferredQueue::new();
        let handler: Handler = Rc::new(handler);
        let factory = factory_fn({
            let (log, closes, reactor) = (log.clone(), closes.clone(), reactor.clone());
            move |_| {
                Some(Box::new(ServerConn {
                    id: 0,
                    transport: None,
                    buf: Vec::new(),
                    reading: None,
                    log: log.clone(),
                    closes: closes.clone(),
                    handler: handler.clone(),
                    reactor: reactor.clone(),
                }) as Box<dyn Protocol>)
            }
        });
        let port = reactor
            .listen_tcp(
                0,
                Rc::new(factory),
                TcpListenOptions::default().interface("127.0.0.1"),
            )
            .unwrap();
        Server {
            port,
            log,
            closes,
            reactor: reactor.clone(),
        }
    }

    pub fn port(&self) -> u16 {
        self.port.port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.log.borrow().accepted
    }

    /// The most connections open at once.
    pub fn max_open(&self) -> usize {
        self.log.borrow().max_open
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.log.borrow().requests.clone()
    }

    /// Fires with the id of the next connection to close (in the order they close).
    pub fn next_close(&self) -> Deferred<usize> {
        self.closes.get()
    }

    /// Stops listening, closes the server's connections, runs the reactor until they are
    /// gone, then asserts the reactor is clean.
    pub fn finish(self) {
        let reactor = self.reactor.clone();
        self.stop();
        assert_clean(&reactor);
    }

    /// Stops listening, closes the server's connections and runs the reactor until they
    /// are gone (for all but the last of several servers).
    pub fn stop(self) {
        self.port.stop_listening();
        let reactor = self.reactor.clone();
        let _ = self.port.lose_connections().add_callback(move |()| {
            let stopper = reactor.clone();
            reactor.call_when_running(move || stopper.stop());
            Ok::<_, Failure>(())
        });
        run(&self.reactor);
    }
}

/// Reads requests (head and body) and answers as the handler says.
struct ServerConn {
    id: usize,
    transport: Option<Rc<dyn Transport>>,
    buf: Vec<u8>,
    /// The request whose body is being read.
    reading: Option<(Seen, BodyDecoder)>,
    log: Rc<RefCell<Log>>,
    closes: DeferredQueue<usize>,
    handler: Handler,
    reactor: Reactor,
}

impl Protocol for ServerConn {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let mut log = self.log.borrow_mut();
        log.accepted += 1;
        log.open += 1;
        log.max_open = log.max_open.max(log.open);
        self.id = log.accepted;
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        loop {
            match self.reading.take() {
                None => match RequestParser::new().parse(&self.buf) {
                    Ok(Parsed::Complete { value, consumed }) => {
                        self.buf.drain(..consumed);
                        let seen = Seen {
                            method: value.method().to_owned(),
                            target: value.target().to_owned(),
                            headers: value
                                .headers()
                                .iter()
                                .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into()))
                                .collect(),
                            body: Vec::new(),
                            conn: self.id,
                        };
                        let decoder = BodyDecoder::new(value.framing(), 1 << 20);
                        self.reading = Some((seen, decoder));
                    }
                    Ok(Parsed::Partial) => return,
                    Err(e) => panic!("test server: bad request head: {e}"),
                },
                Some((mut seen, mut decoder)) => match decoder.decode(&self.buf) {
                    Ok(Decoded::Data { data, consumed }) => {
                        seen.body.extend_from_slice(data);
                        self.buf.drain(..consumed);
                        self.reading = Some((seen, decoder));
                    }
                    Ok(Decoded::Partial { consumed }) => {
                        self.buf.drain(..consumed);
                        self.reading = Some((seen, decoder));
                        return;
                    }
                    Ok(Decoded::End { consumed }) => {
                        self.buf.drain(..consumed);
                        self.answer(seen);
                    }
                    Err(e) => panic!("test server: bad request body: {e}"),
                },
            }
        }
    }

    fn connection_lost(&mut self, _: torsion::net::CloseReason) {
        self.log.borrow_mut().open -= 1;
        let _ = self.closes.put(self.id);
    }
}

impl ServerConn {
    fn answer(&mut self, seen: Seen) {
        self.log.borrow_mut().requests.push(seen.clone());
        let Some(transport) = self.transport.clone() else {
            return;
        };
        match (self.handler)(&seen) {
            Reply::Bytes(bytes) => transport.write(&bytes),
            Reply::BytesThenClose(bytes) => {
                transport.write(&bytes);
                transport.lose_connection();
            }
            Reply::Split(now, delay, later) => {
                transport.write(&now);
                self.reactor
                    .call_later(delay, move || transport.write(&later));
            }
            Reply::After(delay, bytes) => {
                self.reactor
                    .call_later(delay, move || transport.write(&bytes));
            }
            Reply::Never => {}
        }
    }
}
