//! A client that keeps its connection up (Twisted's `ClientService`): it talks to an
//! echo server that this example starts itself, stops, and starts again on the same port,
//! and shows that the client reconnected and went on.
//!
//! ```text
//! cargo run --example reconnecting_client -- --listen tcp:0:interface=127.0.0.1
//! ```
//!
//! `--listen` is where the example's own echo server listens (any server endpoint
//! string; default `tcp:0:interface=127.0.0.1`); the client reaches it through
//! `client_from_string`. What it prints does not depend on timing: the server comes back
//! when the client's first reconnection attempt has been refused.

use std::{cell::RefCell, process::ExitCode, rc::Rc, time::Duration};

use torsion::{
    endpoints::{client_from_string, ClientService},
    net::{Address, CloseReason, ListeningPort, Protocol, ProtocolFactory},
    protocols::{
        basic::{LineProtocol, LineReceiver, Lines},
        wire::Echo,
    },
    Reactor,
};

use torsion::application::example as net;

use net::Failed;

const USAGE: &str = "[--listen ENDPOINT|PORT]";
const RETRY: Duration = Duration::from_millis(100);

/// The example's shared state: its server, the service, and how far it got.
struct Demo {
    reactor: Reactor,
    endpoint: String,
    server: RefCell<Option<ListeningPort>>,
    service: RefCell<Option<ClientService>>,
    connections: RefCell<u32>,
}

impl Demo {
    /// Stops the server and drops its connections.
    fn stop_server(&self) {
        if let Some(port) = &*self.server.borrow() {
            port.stop_listening();
            port.lose_connections();
        }
        println!("server: stopped, connections dropped");
    }

    /// Starts the server again where it was, now that its port number is known.
    fn restart_server(&self) -> Result<(), String> {
        let old = self.server.borrow_mut().take();
        let Some(old) = old else { return Ok(()) };
        let again = match old.address() {
            Address::Tcp(addr) => format!("tcp:{}:interface={}", addr.port(), escape(addr.ip())),
            _ => self.endpoint.clone(),
        };
        let port = net::listen(&self.reactor, &again, Echo::factory())?;
        *self.server.borrow_mut() = Some(port);
        println!("server: restarted at the same address");
        Ok(())
    }

    /// Stops the client, then the server, then the reactor.
    fn finish(self: &Rc<Self>) {
        let service = self.service.borrow().clone();
        let Some(service) = service else { return };
        let demo = self.clone();
        let _ = service.stop_service().add_callback(move |()| {
            println!("client: stopped");
            demo.stop_server();
            demo.reactor.stop();
            Ok(())
        });
    }
}

/// An IP address as an endpoint string value (IPv6 colons escaped).
fn escape(ip: std::net::IpAddr) -> String {
    ip.to_string().replace(':', "\\:")
}

/// The client's protocol: says hello, checks the echo, then either has the server
/// stopped (first connection) or finishes (second).
struct Hello {
    demo: Rc<Demo>,
    number: u32,
}

impl LineReceiver for Hello {
    fn connection_made(&mut self, lines: &Lines) {
        println!("client: connected (connection {})", self.number);
        lines.send_line(format!("hello {}", self.number).as_bytes());
    }

    fn line_received(&mut self, _: &Lines, line: &[u8]) {
        println!("client: got {:?} back", String::from_utf8_lossy(line));
        match self.number {
            1 => self.demo.stop_server(),
            _ => self.demo.finish(),
        }
    }

    fn connection_lost(&mut self, _: CloseReason) {
        if self.number == 1 {
            println!("client: connection lost, reconnecting");
        }
    }
}

struct Client {
    demo: Rc<Demo>,
}

impl ProtocolFactory for Client {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        let number = {
            let mut connections = self.demo.connections.borrow_mut();
            *connections += 1;
            *connections
        };
        let hello = Hello {
            demo: self.demo.clone(),
            number,
        };
        Some(Box::new(LineProtocol::new(hello)))
    }
}

fn main() -> ExitCode {
    // The log an operator reads (RUST_LOG, default info) on standard error.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    net::report("reconnecting_client", USAGE, run())
}

fn run() -> Result<ExitCode, Failed> {
    let options = net::options(std::env::args().skip(1), &["--listen"]).map_err(Failed::Usage)?;
    let endpoint = net::last(&options, "--listen").unwrap_or("tcp:0:interface=127.0.0.1");
    let reactor = net::reactor()?;
    let server = net::listen(&reactor, endpoint, Echo::factory()).map_err(Failed::Run)?;
    println!("server: listening");
    let target = match server.address() {
        Address::Tcp(addr) => format!("tcp:host={}:port={}", escape(addr.ip()), addr.port()),
        Address::Unix(Some(path)) => format!("unix:{}", path.display()),
        other => return Err(Failed::Run(format!("cannot reach {other}"))),
    };
    let demo = Rc::new(Demo {
        reactor: reactor.clone(),
        endpoint: endpoint.to_owned(),
        server: RefCell::new(Some(server)),
        service: RefCell::new(None),
        connections: RefCell::new(0),
    });
    let client = client_from_string(&reactor, &target).map_err(|e| Failed::Run(e.to_string()))?;
    let service = ClientService::new(
        Rc::new(client),
        Rc::new(Client { demo: demo.clone() }),
        &reactor,
    )
    .with_retry_policy({
        let demo = demo.clone();
        move |attempt| {
            println!("client: attempt {attempt} failed; retrying in {RETRY:?}");
            if attempt == 1 {
                if let Err(message) = demo.restart_server() {
                    eprintln!("reconnecting_client: {message}");
                    demo.reactor.stop();
                }
            }
            RETRY
        }
    });
    *demo.service.borrow_mut() = Some(service.clone());
    service.start_service();
    reactor.run();
    let connections = *demo.connections.borrow();
    demo.service.borrow_mut().take();
    demo.server.borrow_mut().take();
    match connections {
        2 => Ok(ExitCode::SUCCESS),
        n => Err(Failed::Run(format!("expected 2 connections, made {n}"))),
    }
}
