//! Host names in `connect_tcp`: resolved on the thread pool, never on the loop; every
//! address tried in order; failures and timeouts that name the host.

mod support;

use std::{
    cell::RefCell,
    net::{SocketAddr, ToSocketAddrs},
    rc::Rc,
    sync::mpsc,
    time::Duration,
};

use socket2::{Domain, Socket, Type};
use torsion::{
    net::{
        Address, ClientFactory, ConnectError, Connector, Protocol, ProtocolFactory, StreamNetwork,
        TcpConnectOptions, TcpListenOptions,
    },
    threads::{defer_to_thread, ThreadPool},
    Failure, Reactor,
};

use support::net::{drain, echo_factory, Scripted, Seen};

each_backend!(
    localhost_is_resolved_off_the_loop_then_connected,
    every_address_of_a_name_is_tried_and_named,
    a_name_that_does_not_resolve_fails_naming_it,
    stop_connecting_while_resolving_drops_the_answer,
    the_timeout_covers_the_lookup,
    the_timeout_covers_the_attempts_and_names_the_host,
);

/// What a [`Client`] keeps: where protocols were built, and the failures.
type Handles = (Rc<RefCell<Vec<Address>>>, Rc<RefCell<Vec<Failure>>>);

/// A client factory that keeps its failures and the addresses it built protocols for,
/// and stops the reactor when the attempt ends.
struct Client {
    reactor: Reactor,
    seen: Seen,
    built: Rc<RefCell<Vec<Address>>>,
    failures: Rc<RefCell<Vec<Failure>>>,
    /// Runs when the attempt fails, before the reactor stops.
    on_failed: RefCell<Option<Box<dyn FnOnce()>>>,
}

impl Client {
    fn new(reactor: &Reactor) -> Client {
        Client {
            reactor: reactor.clone(),
            seen: Seen::default(),
            built: Rc::default(),
            failures: Rc::default(),
            on_failed: RefCell::new(None),
        }
    }

    fn handles(&self) -> Handles {
        (self.built.clone(), self.failures.clone())
    }
}

impl ProtocolFactory for Client {
    fn build_protocol(&self, addr: &Address) -> Option<Box<dyn Protocol>> {
        self.built.borrow_mut().push(addr.clone());
        let reactor = self.reactor.clone();
        Some(
            Scripted::new(&self.seen)
                .on_made(|t| t.write(b"by name"))
                .on_data(|t, _, seen| {
                    if seen.data.borrow().len() == 7 {
                        t.lose_connection();
                    }
                })
                .on_lost(move |_| reactor.stop())
                .boxed(),
        )
    }
}

impl ClientFactory for Client {
    fn client_connection_failed(&self, _: &Connector, reason: Failure) {
        self.failures.borrow_mut().push(reason);
        if let Some(f) = self.on_failed.borrow_mut().take() {
            f();
        }
        self.reactor.stop();
    }
}

/// The one failure a run ended with.
fn only_failure(failures: &Rc<RefCell<Vec<Failure>>>) -> Failure {
    let mut failures = failures.borrow_mut();
    assert_eq!(failures.len(), 1, "one failure: {failures:?}");
    failures.pop().unwrap()
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    closed.local_addr().unwrap().port()
}

fn localhost_is_resolved_off_the_loop_then_connected(reactor: Reactor) {
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(echo_factory()),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let client = Client::new(&reactor);
    let (seen, (built, failures)) = (client.seen.clone(), client.handles());
    let timeout = Some(Duration::from_secs(10));
    let connector = reactor.connect_tcp(
        "localhost",
        port.port(),
        Rc::new(client),
        TcpConnectOptions::default().timeout(timeout),
    );
    // The lookup went to the pool: `connect_tcp` returned before any answer.
    assert!(
        format!("{connector:?}").contains("resolving"),
        "{connector:?}"
    );
    support::run(&reactor);
    assert!(failures.borrow().is_empty(), "{:?}", failures.borrow());
    assert_eq!(seen.data(), b"by name");
    let local = SocketAddr::from(([127, 0, 0, 1], port.port()));
    assert_eq!(*built.borrow(), vec![Address::Tcp(local)]);
    drain(&reactor, &port);
}

fn every_address_of_a_name_is_tried_and_named(reactor: Reactor) {
    let port = closed_port();
    let expected: Vec<SocketAddr> = ("localhost", port).to_socket_addrs().unwrap().collect();
    let client = Client::new(&reactor);
    let (_, failures) = client.handles();
    reactor.connect_tcp(
        "localhost",
        port,
        Rc::new(client),
        TcpConnectOptions::default(),
    );
    support::run(&reactor);
    let failure = only_failure(&failures);
    let Some(ConnectError::AllFailed { host, tried, .. }) = failure.check::<ConnectError>() else {
        panic!("not AllFailed: {failure}");
    };
    assert_eq!(host, "localhost");
    let addresses: Vec<SocketAddr> = tried.iter().map(|(a, _)| *a).collect();
    assert_eq!(addresses, expected, "in the resolver's order");
    let message = failure.error_message();
    assert!(
        message.starts_with(&format!("connect tcp localhost:{port}: tried ")),
        "{message}"
    );
    assert!(
        message.contains(&format!("127.0.0.1:{port} (connection refused)")),
        "{message}"
    );
    assert_eq!(reactor.registered_fds(), 0);
}

fn a_name_that_does_not_resolve_fails_naming_it(reactor: Reactor) {
    // RFC 6761: `.invalid` never resolves. A resolver that sends it to a name server
    // anyway and hangs is bounded by the timeout; either way the host is named.
    let client = Client::new(&reactor);
    let (built, failures) = client.handles();
    let timeout = Some(Duration::from_secs(10));
    reactor.connect_tcp(
        "nonexistent.invalid",
        80,
        Rc::new(client),
        TcpConnectOptions::default().timeout(timeout),
    );
    support::run(&reactor);
    let failure = only_failure(&failures);
    match failure.check::<ConnectError>() {
        Some(ConnectError::Resolve { host, port, .. }) => {
            assert_eq!((host.as_str(), *port), ("nonexistent.invalid", 80));
            assert!(
                failure
                    .error_message()
                    .starts_with("resolve nonexistent.invalid:80: "),
                "{failure}"
            );
        }
        Some(ConnectError::HostTimedOut { host, tried, .. }) => {
            assert_eq!(host, "nonexistent.invalid");
            assert!(tried.is_empty());
        }
        _ => panic!("not a resolve failure: {failure}"),
    }
    assert!(built.borrow().is_empty());
}

fn stop_connecting_while_resolving_drops_the_answer(reactor: Reactor) {
    let server = reactor
        .listen_tcp(
            0,
            Rc::new(echo_factory()),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    // One pool thread: jobs run in order, so the marker below answers after the lookup.
    ThreadPool::of(&reactor).set_size(0, 1);
    let client = Client::new(&reactor);
    let (built, failures) = client.handles();
    let connector = reactor.connect_tcp(
        "localhost",
        server.port(),
        Rc::new(client),
        TcpConnectOptions::default(),
    );
    connector.stop_connecting();
    let failure = only_failure(&failures);
    assert!(matches!(
        failure.check::<ConnectError>(),
        Some(ConnectError::Stopped { .. })
    ));
    let stop = reactor.clone();
    let _ = defer_to_thread(&reactor, || Ok::<_, std::io::Error>(())).add_callback(move |()| {
        stop.stop();
        Ok::<_, Failure>(())
    });
    support::run(&reactor);
    assert!(failures.borrow().is_empty(), "nothing more was reported");
    assert!(built.borrow().is_empty(), "the answer was dropped");
    assert_eq!(server.connection_count(), 0);
    drain(&reactor, &server);
}

fn the_timeout_covers_the_lookup(reactor: Reactor) {
    // The pool's one thread is busy until the connect has timed out, so the lookup is
    // still waiting when the timeout passes.
    ThreadPool::of(&reactor).set_size(0, 1);
    let (release, wait) = mpsc::channel::<()>();
    let _ = defer_to_thread(&reactor, move || wait.recv());
    let client = Client::new(&reactor);
    // Free the pool thread once the attempt failed: the reactor's shutdown waits for it.
    *client.on_failed.borrow_mut() = Some(Box::new(move || release.send(()).unwrap()));
    let (built, failures) = client.handles();
    let after = Duration::from_millis(50);
    reactor.connect_tcp(
        "localhost",
        9,
        Rc::new(client),
        TcpConnectOptions::default().timeout(after),
    );
    support::run(&reactor);
    let failure = only_failure(&failures);
    let error = failure.check::<ConnectError>().unwrap();
    assert!(error.is_timeout());
    assert_eq!(
        failure.error_message(),
        "connect tcp localhost:9: timed out after 50ms resolving the name"
    );
    assert!(built.borrow().is_empty());
}

fn the_timeout_covers_the_attempts_and_names_the_host(reactor: Reactor) {
    // A listener that never accepts, with a full accept queue: Linux drops further SYNs,
    // so a connect to 127.0.0.1 waits for the timeout.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    listener.bind(&any.into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&addr.into());
        fillers.push(s);
    }
    let client = Client::new(&reactor);
    let (_, failures) = client.handles();
    let after = Some(Duration::from_millis(300));
    reactor.connect_tcp(
        "localhost",
        addr.port(),
        Rc::new(client),
        TcpConnectOptions::default().timeout(after),
    );
    support::run(&reactor);
    let failure = only_failure(&failures);
    let Some(ConnectError::HostTimedOut { host, tried, .. }) = failure.check::<ConnectError>()
    else {
        panic!("not HostTimedOut: {failure}");
    };
    assert_eq!(host, "localhost");
    let (last, why) = tried.last().expect("the address cut short is listed");
    assert_eq!(*last, addr);
    assert_eq!(why.kind(), std::io::ErrorKind::TimedOut);
    let message = failure.error_message();
    assert!(
        message.starts_with(&format!(
            "connect tcp localhost:{}: timed out after 300ms; tried ",
            addr.port()
        )),
        "{message}"
    );
    assert!(
        message.ends_with(&format!("{addr} (timed out)")),
        "{message}"
    );
    assert_eq!(reactor.registered_fds(), 0);
}
