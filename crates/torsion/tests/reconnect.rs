//! Clients that reconnect: ReconnectingClientFactory's delays on a fake clock, and
//! clients (the factory and ClientService) that survive their server being stopped and
//! started again on the same port.

mod support;

use std::{
    cell::{Cell, RefCell},
    net::TcpListener,
    rc::Rc,
    time::Duration,
};

use torsion::{
    endpoints::{
        client_from_string, server_from_string, Backoff, ClientService, ReconnectingClientFactory,
    },
    net::{
        Address, ClientFactory, CloseReason, Connector, ListeningPort, Protocol, ProtocolFactory,
        StreamNetwork, TcpConnectOptions, Transport,
    },
    task::Clock,
    testing::assert_clean,
    Failure, Reactor,
};

use support::net::{drain, echo_factory, Scripted, Seen};

each_backend!(
    reconnecting_factory_waits_the_backoff_delays_then_gives_up,
    reconnecting_factory_survives_its_server_restarting,
    client_service_survives_its_server_restarting,
);

/// Counts failures and stops the reactor at each, so the test can look at the clock.
#[derive(Default)]
struct Failures {
    count: Cell<u32>,
    started: Cell<u32>,
    reactor: RefCell<Option<Reactor>>,
}

impl ProtocolFactory for Failures {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        None
    }
}

impl ClientFactory for Failures {
    fn started_connecting(&self, _: &Connector) {
        self.started.set(self.started.get() + 1);
    }

    fn client_connection_failed(&self, _: &Connector, _: Failure) {
        self.count.set(self.count.get() + 1);
        if let Some(reactor) = &*self.reactor.borrow() {
            reactor.stop();
        }
    }
}

fn reconnecting_factory_waits_the_backoff_delays_then_gives_up(reactor: Reactor) {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let clock = Clock::new();
    let failures = Rc::new(Failures::default());
    *failures.reactor.borrow_mut() = Some(reactor.clone());
    let backoff = Backoff::seeded(3)
        .with_jitter(0.0)
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(5))
        .with_max_retries(Some(4));
    let reconnecting = ReconnectingClientFactory::new(&clock, failures.clone(), backoff);
    reactor.connect_tcp(
        "127.0.0.1",
        closed.port(),
        Rc::new(reconnecting.clone()),
        TcpConnectOptions::default(),
    );
    let mut delays = Vec::new();
    loop {
        support::run(&reactor); // until the next refusal
        let pending = clock.pending_calls();
        match pending.as_slice() {
            [] => break,
            [retry] => {
                let delay = retry.time() - clock.seconds();
                delays.push(delay);
                clock.advance(delay);
            }
            more => panic!("{} retries pending", more.len()),
        }
    }
    let secs = Duration::from_secs;
    // Twisted's arithmetic: initial 1 s times the factor each time, capped at 5 s.
    assert_eq!(delays, vec![secs(2), secs(4), secs(5), secs(5)]);
    assert_eq!(failures.count.get(), 5, "the first attempt and 4 retries");
    assert_eq!(failures.started.get(), 5);
    assert!(!reconnecting.is_waiting());
    assert_clean(&reactor);
}

/// What the reconnecting client did, in order.
type Log = Rc<RefCell<Vec<String>>>;

/// Starts (or restarts) the echo server on `port` (0: any).
fn echo_server(reactor: &Reactor, port: u16) -> ListeningPort {
    let server = server_from_string(reactor, &format!("tcp:{port}:interface=127.0.0.1")).unwrap();
    server
        .listen(echo_factory())
        .try_result()
        .ok()
        .unwrap()
        .unwrap()
}

/// The client: on each connection it sends `hello N`; when the echo comes back it
/// either asks the server to go away (first time) or finishes (second time).
struct Client {
    log: Log,
    server: Rc<RefCell<Option<ListeningPort>>>,
    reactor: Reactor,
    connections: Rc<Cell<u32>>,
    on_done: Rc<dyn Fn()>,
}

impl Client {
    fn protocol(&self) -> Box<dyn Protocol> {
        let n = self.connections.get() + 1;
        self.connections.set(n);
        let (log, server, on_done) = (self.log.clone(), self.server.clone(), self.on_done.clone());
        let message = format!("hello {n}");
        let seen = Seen::default();
        Scripted::new(&seen)
            .on_made({
                let message = message.clone();
                move |t: &Rc<dyn Transport>| t.write(message.as_bytes())
            })
            .on_data(move |_, _, seen| {
                if seen.data() != message.as_bytes() {
                    return;
                }
                log.borrow_mut().push(format!("echoed {message}"));
                match n {
                    1 => {
                        // Stop the server and drop its connections: our client loses its own.
                        let port = server.borrow().clone().unwrap();
                        port.stop_listening();
                        port.lose_connections();
                    }
                    _ => on_done(),
                }
            })
            .boxed()
    }
}

/// Restarts the server on the same port after the client's first failed retry.
fn restart_server(reactor: &Reactor, server: &Rc<RefCell<Option<ListeningPort>>>, log: &Log) {
    let old = server.borrow().clone().unwrap();
    if old.is_listening() {
        return;
    }
    log.borrow_mut().push("server restarted".to_owned());
    *server.borrow_mut() = Some(echo_server(reactor, old.port()));
}

struct Reconnecting {
    client: Client,
}

impl ProtocolFactory for Reconnecting {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(self.client.protocol())
    }
}

impl ClientFactory for Reconnecting {
    fn client_connection_failed(&self, _: &Connector, _: Failure) {
        self.client
            .log
            .borrow_mut()
            .push("retry refused".to_owned());
        restart_server(&self.client.reactor, &self.client.server, &self.client.log);
    }

    fn client_connection_lost(&self, _: &Connector, _: &CloseReason) {
        self.client.log.borrow_mut().push("lost".to_owned());
    }
}

/// What ends the reconnecting client, set once it exists.
type StopTrying = Rc<dyn Fn()>;

fn reconnecting_factory_survives_its_server_restarting(reactor: Reactor) {
    let log: Log = Rc::default();
    let server = Rc::new(RefCell::new(Some(echo_server(&reactor, 0))));
    let port = server.borrow().as_ref().unwrap().port();
    let stop_trying: Rc<RefCell<Option<StopTrying>>> = Rc::default();
    let client = Client {
        log: log.clone(),
        server: server.clone(),
        reactor: reactor.clone(),
        connections: Rc::default(),
        on_done: Rc::new({
            let (reactor, stop_trying) = (reactor.clone(), stop_trying.clone());
            move || {
                if let Some(stop) = &*stop_trying.borrow() {
                    stop();
                }
                reactor.stop();
            }
        }),
    };
    let backoff = Backoff::seeded(9)
        .with_initial_delay(Duration::from_millis(5))
        .with_factor(1.0)
        .with_jitter(0.0);
    let reconnecting = ReconnectingClientFactory::new(&reactor, Reconnecting { client }, backoff);
    let connector = reactor.connect_tcp(
        "127.0.0.1",
        port,
        Rc::new(reconnecting.clone()),
        TcpConnectOptions::default(),
    );
    *stop_trying.borrow_mut() = Some(Rc::new({
        let (reconnecting, connector) = (reconnecting.clone(), connector.clone());
        move || {
            reconnecting.stop_trying();
            connector.disconnect();
        }
    }));
    support::run(&reactor);
    assert_eq!(
        log.borrow().clone(),
        [
            "echoed hello 1",
            "lost",
            "retry refused",
            "server restarted",
            "echoed hello 2",
            "lost" // our own disconnect, after stop_trying: not retried
        ]
    );
    assert!(!reconnecting.is_waiting());
    let port = server.borrow_mut().take().unwrap();
    drain(&reactor, &port);
    stop_trying.borrow_mut().take();
    assert_clean(&reactor);
}

/// ClientService's factory: the same client, with the failures seen through the
/// service's retry policy (which runs after each failed attempt).
struct Serviced {
    client: Client,
}

impl ProtocolFactory for Serviced {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(self.client.protocol())
    }
}

fn client_service_survives_its_server_restarting(reactor: Reactor) {
    let log: Log = Rc::default();
    let server = Rc::new(RefCell::new(Some(echo_server(&reactor, 0))));
    let port = server.borrow().as_ref().unwrap().port();
    let service_slot: Rc<RefCell<Option<ClientService>>> = Rc::default();
    let client = Client {
        log: log.clone(),
        server: server.clone(),
        reactor: reactor.clone(),
        connections: Rc::default(),
        on_done: Rc::new({
            let (reactor, service_slot) = (reactor.clone(), service_slot.clone());
            move || {
                let service = service_slot.borrow().clone().unwrap();
                let reactor = reactor.clone();
                let _ = service.stop_service().add_callback(move |()| {
                    reactor.stop();
                    Ok(())
                });
            }
        }),
    };
    let endpoint = client_from_string(&reactor, &format!("tcp:127.0.0.1:{port}")).unwrap();
    let service = ClientService::new(Rc::new(endpoint), Rc::new(Serviced { client }), &reactor)
        .with_retry_policy({
            let (reactor, server, log) = (reactor.clone(), server.clone(), log.clone());
            move |attempt| {
                log.borrow_mut().push(format!("attempt {attempt} failed"));
                restart_server(&reactor, &server, &log);
                Duration::from_millis(5)
            }
        });
    *service_slot.borrow_mut() = Some(service.clone());
    let first = Rc::new(Cell::new(false));
    let _ = service.when_connected().add_callback({
        let first = first.clone();
        move |_| {
            first.set(true);
            Ok(())
        }
    });
    service.start_service();
    support::run(&reactor);
    assert!(first.get());
    assert_eq!(
        log.borrow().clone(),
        [
            "echoed hello 1",
            "attempt 1 failed",
            "server restarted",
            "echoed hello 2"
        ]
    );
    assert!(!service.is_running());
    let port = server.borrow_mut().take().unwrap();
    drain(&reactor, &port);
    service_slot.borrow_mut().take();
    assert_clean(&reactor);
}
