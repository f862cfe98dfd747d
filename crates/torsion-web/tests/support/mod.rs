//! Helpers for the server tests: a site on loopback (port 0) with a blocking client on
//! another thread, responses read back with torsion-web's own sans-IO parsers, and the
//! clean-reactor check at the end.

#![allow(dead_code)] // Each test file uses its own subset.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use torsion::net::{Address, StreamNetwork, TcpListenOptions};
use torsion::reactor::{Phase, SystemEvent};
use torsion::testing::assert_clean;
use torsion::Reactor;
use torsion_web::http::{BodyDecoder, Decoded, Headers, Parsed, ResponseParser};
use torsion_web::server::{Resource, ServerConfig, Site};

/// How long the reactor may run before the watchdog stops it and fails the test.
const WATCHDOG: Duration = Duration::from_secs(20);
/// How long a client read may block.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A reactor without signal handlers (tests share a process).
pub fn reactor() -> Reactor {
    Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("build a test reactor")
}

/// Serves `root` on 127.0.0.1 port 0 with the default config, runs `client` on a
/// thread with the address, then closes every connection, stops, checks the reactor is
/// clean, and returns what `client` returned.
pub fn with_server<T: Send + 'static>(
    root: Rc<dyn Resource>,
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> T {
    with_server_config(root, ServerConfig::default(), |_| {}, client)
}

/// [`with_server`] with a config, and `setup` run with the reactor before it starts.
pub fn with_server_config<T: Send + 'static>(
    root: Rc<dyn Resource>,
    config: ServerConfig,
    setup: impl FnOnce(&Reactor),
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> T {
    let reactor = reactor();
    setup(&reactor);
    let site = Site::with_config(root, reactor.clone(), config);
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(site),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .expect("listen");
    let Address::Tcp(addr) = port.address() else {
        panic!("a TCP port")
    };
    let draining = port.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        draining.stop_listening();
        draining.lose_connections()
    });
    let result = Arc::new(Mutex::new(None));
    let handle = reactor.handle();
    let (done, wait) = mpsc::channel::<()>();
    let client_thread = thread::spawn({
        let result = result.clone();
        let handle = handle.clone();
        move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client(addr)));
            *result.lock().unwrap() = Some(outcome);
            handle.stop();
        }
    });
    let watchdog = thread::spawn(move || {
        let expired = wait.recv_timeout(WATCHDOG) == Err(mpsc::RecvTimeoutError::Timeout);
        if expired {
            handle.stop();
        }
        expired
    });
    reactor.run();
    let _ = done.send(());
    client_thread.join().expect("client thread");
    assert!(
        !watchdog.join().unwrap(),
        "the watchdog had to stop the reactor"
    );
    assert_eq!(port.connection_count(), 0);
    assert_clean(&reactor);
    let outcome = result.lock().unwrap().take().expect("client ran");
    match outcome {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A connection to `addr` with the read timeout set.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// One response as read back.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads responses from a stream, keeping what follows each.
pub struct Reader {
    pub stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

impl Reader {
    pub fn new(stream: TcpStream) -> Reader {
        Reader {
            stream,
            buf: Vec::new(),
            closed: false,
        }
    }

    pub fn connect(addr: SocketAddr) -> Reader {
        Reader::new(connect(addr))
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads more; false at end of stream.
    fn fill(&mut self) -> bool {
        if self.closed {
            return false;
        }
        let mut chunk = [0; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                false
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                self.closed = true;
                false
            }
            Err(e) => panic!("read: {e}"),
        }
    }

    /// The next response to a request with `method` (interim 1xx responses included).
    pub fn response_to(&mut self, method: &str) -> Response {
        let mut parser = ResponseParser::new();
        let head = loop {
            match parser
                .parse(&self.buf, method)
                .expect("a valid response head")
            {
                Parsed::Complete { value, consumed } => {
                    self.buf.drain(..consumed);
                    break value;
                }
                Parsed::Partial => assert!(
                    self.fill(),
                    "closed before a whole head: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        };
        let mut decoder = BodyDecoder::new(head.framing(), u64::MAX);
        let mut body = Vec::new();
        loop {
            match decoder.decode(&self.buf).expect("a valid body") {
                Decoded::Data { data, consumed } => {
                    body.extend_from_slice(data);
                    self.buf.drain(..consumed);
                }
                Decoded::Partial { consumed } => {
                    self.buf.drain(..consumed);
                    if !self.fill() {
                        decoder.finish().expect("the body ends at close");
                        break;
                    }
                }
                Decoded::End { consumed } => {
                    self.buf.drain(..consumed);
                    break;
                }
            }
        }
        Response {
            status: head.status(),
            headers: head.headers().clone(),
            body,
        }
    }

    /// The next response to a GET.
    pub fn response(&mut self) -> Response {
        self.response_to("GET")
    }

    /// True if the server closes the connection with nothing more sent.
    pub fn closed(&mut self) -> bool {
        while self.fill() {}
        self.buf.is_empty()
    }

    /// Everything until the server closes.
    pub fn rest(&mut self) -> Vec<u8> {
        while self.fill() {}
        std::mem::take(&mut self.buf)
    }

    pub fn shutdown(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// Sends `request` on a new connection and returns the one response, checking that the
/// server then closes the connection.
pub fn answer_then_close(addr: SocketAddr, request: &[u8]) -> (u16, bool) {
    let mut reader = Reader::connect(addr);
    reader.send(request);
    let response = reader.response();
    let closed = reader.closed();
    (response.status, closed)
}
