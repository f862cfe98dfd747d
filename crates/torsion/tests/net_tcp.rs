//! TCP connections end to end on loopback: echo, many connections, connect errors and
//! timeouts, listen errors, clean closes, resets, refusals.

mod support;

use std::{
    cell::{Cell, RefCell},
    io::{Read, Write},
    net::TcpStream,
    rc::Rc,
    time::Duration,
};

use socket2::{Domain, Socket, Type};
use torsion::{
    net::{
        factory_fn, Address, ClientFactory, CloseReason, ConnectError, Connector, ListenError,
        Protocol, ProtocolFactory, StreamNetwork, TcpConnectOptions, TcpListenOptions,
    },
    Failure, Reactor,
};

use support::net::{drain, echo_factory, factory, Scripted, Seen};

each_backend!(
    echo_round_trip_over_ipv4,
    echo_round_trip_over_ipv6,
    a_hundred_connections_echo_at_once,
    connection_refused_reaches_the_factory_with_the_address,
    connect_timeout_fails_with_a_typed_error_naming_the_address,
    listen_error_names_the_operation_and_address,
    a_refusing_factory_closes_the_connection,
    abort_resets_the_peer_and_reports_aborted,
    peer_reset_is_a_lost_connection,
    write_sequence_sends_the_pieces_in_order,
    client_factory_hears_lost_and_can_reconnect,
);

/// A client that sends `message`, closes once it has the same number of bytes back,
/// and stops the reactor when its connection is gone.
fn echo_client(reactor: &Reactor, message: &'static [u8], seen: &Seen) -> Box<dyn Protocol> {
    let reactor = reactor.clone();
    Scripted::new(seen)
        .on_made(move |t| t.write(message))
        .on_data(move |t, _, seen| {
            if seen.data.borrow().len() >= message.len() {
                t.lose_connection();
            }
        })
        .on_lost(move |_| reactor.stop())
        .boxed()
}

fn echo_round_trip(reactor: Reactor, interface: &str, host: &str) {
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(echo_factory()),
            TcpListenOptions::default().interface(interface),
        )
        .unwrap();
    assert_ne!(port.port(), 0);
    let seen = Seen::default();
    let client = echo_client(&reactor, b"hello, world", &seen);
    let client = Cell::new(Some(client));
    let connector = reactor.connect_tcp(
        host,
        port.port(),
        Rc::new(factory_fn(move |_| client.take())),
        TcpConnectOptions::default(),
    );
    support::run(&reactor);
    assert_eq!(seen.data(), b"hello, world");
    assert!(seen.lost().unwrap().is_clean());
    assert!(connector.transport().is_none());
    drain(&reactor, &port);
}

fn echo_round_trip_over_ipv4(reactor: Reactor) {
    echo_round_trip(reactor, "127.0.0.1", "127.0.0.1");
}

fn echo_round_trip_over_ipv6(reactor: Reactor) {
    echo_round_trip(reactor, "::1", "::1");
}

fn a_hundred_connections_echo_at_once(reactor: Reactor) {
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(echo_factory()),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let left = Rc::new(Cell::new(100));
    let mut all = Vec::new();
    for i in 0..100 {
        let seen = Seen::default();
        let message: &'static [u8] =
            Box::leak(format!("message {i}").into_bytes().into_boxed_slice());
        let (reactor2, left) = (reactor.clone(), left.clone());
        let protocol = Scripted::new(&seen)
            .on_made(move |t| t.write(message))
            .on_data(move |t, _, seen| {
                if seen.data.borrow().len() >= message.len() {
                    t.lose_connection();
                }
            })
            .on_lost(move |_| {
                left.set(left.get() - 1);
                if left.get() == 0 {
                    reactor2.stop();
                }
            });
        let protocol = Cell::new(Some(protocol.boxed()));
        reactor.connect_tcp(
            "127.0.0.1",
            port.port(),
            Rc::new(factory_fn(move |_| protocol.take())),
            TcpConnectOptions::default(),
        );
        all.push((seen, message));
    }
    support::run(&reactor);
    for (seen, message) in all {
        assert_eq!(seen.data(), message);
    }
    drain(&reactor, &port);
}

/// Records why connection attempts failed, and stops the reactor.
struct Failing {
    reactor: Reactor,
    failures: Rc<RefCell<Vec<Failure>>>,
}

impl ProtocolFactory for Failing {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        None
    }
}

impl ClientFactory for Failing {
    fn client_connection_failed(&self, _: &Connector, reason: Failure) {
        self.failures.borrow_mut().push(reason);
        self.reactor.stop();
    }
}

fn connect_failure(reactor: &Reactor, port: u16, timeout: Option<Duration>) -> Failure {
    let failures = Rc::new(RefCell::new(Vec::new()));
    let factory = Failing {
        reactor: reactor.clone(),
        failures: failures.clone(),
    };
    reactor.connect_tcp(
        "127.0.0.1",
        port,
        Rc::new(factory),
        TcpConnectOptions::default().timeout(timeout),
    );
    assert!(
        failures.borrow().is_empty(),
        "failures are reported from the loop"
    );
    support::run(reactor);
    let mut failures = failures.borrow_mut();
    assert_eq!(failures.len(), 1);
    failures.pop().unwrap()
}

fn connection_refused_reaches_the_factory_with_the_address(reactor: Reactor) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let failure = connect_failure(&reactor, port, None);
    let error = failure.check::<ConnectError>().expect("a ConnectError");
    assert_eq!(
        error.io_error().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(
        failure.error_message(),
        format!("connect tcp 127.0.0.1:{port}: connection refused")
    );
    assert_eq!(reactor.registered_fds(), 0);
}

fn connect_timeout_fails_with_a_typed_error_naming_the_address(reactor: Reactor) {
    // A listener that never accepts, with a full accept queue: Linux drops further SYNs,
    // so a new connect waits for its timeout.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&addr.into());
        fillers.push(s);
    }
    let failure = connect_failure(&reactor, addr.port(), Some(Duration::from_millis(200)));
    assert!(matches!(
        failure.check::<ConnectError>(),
        Some(ConnectError::TimedOut { .. })
    ));
    assert_eq!(
        failure.error_message(),
        format!("connect tcp {addr}: timed out after 200ms")
    );
    assert_eq!(reactor.registered_fds(), 0);
}

fn listen_error_names_the_operation_and_address(reactor: Reactor) {
    let taken = reactor
        .listen_tcp(
            0,
            Rc::new(echo_factory()),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let err = reactor
        .listen_tcp(
            taken.port(),
            Rc::new(echo_factory()),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap_err();
    assert!(matches!(err, ListenError::Io { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "listen tcp 127.0.0.1:{}: address already in use",
            taken.port()
        )
    );
    let err = reactor
        .listen_tcp(
            0,
            Rc::new(echo_factory()),
            TcpListenOptions::default().interface("localhost"),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "listen tcp: interface \"localhost\" is not an IP address"
    );
    drain(&reactor, &taken);
    assert!(!taken.is_listening());
}

fn a_refusing_factory_closes_the_connection(reactor: Reactor) {
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory_fn(|_| None)),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let seen = Seen::default();
    let client = Cell::new(Some(echo_client(&reactor, b"anyone?", &seen)));
    reactor.connect_tcp(
        "127.0.0.1",
        port.port(),
        Rc::new(factory_fn(move |_| client.take())),
        TcpConnectOptions::default(),
    );
    support::run(&reactor);
    assert_eq!(seen.data(), b"");
    assert!(seen.lost().is_some());
    drain(&reactor, &port);
}

fn abort_resets_the_peer_and_reports_aborted(reactor: Reactor) {
    let server_seen = Seen::default();
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory({
                let seen = server_seen.clone();
                move || {
                    Scripted::new(&seen)
                        .on_data(|t, _, _| {
                            t.write(b"never sent? maybe");
                            t.abort_connection();
                            t.write(b"ignored");
                        })
                        .boxed()
                }
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let seen = Seen::default();
    let client = Cell::new(Some(echo_client(&reactor, b"x", &seen)));
    reactor.connect_tcp(
        "127.0.0.1",
        port.port(),
        Rc::new(factory_fn(move |_| client.take())),
        TcpConnectOptions::default(),
    );
    support::run(&reactor);
    let reason = server_seen.lost().unwrap();
    let lost = reason
        .failure()
        .unwrap()
        .check::<torsion::net::ConnectionLost>();
    assert!(matches!(lost, Some(torsion::net::ConnectionLost::Aborted)));
    assert_eq!(
        reason.failure().unwrap().error_message(),
        "connection aborted"
    );
    drain(&reactor, &port);
}

fn peer_reset_is_a_lost_connection(reactor: Reactor) {
    let server_seen = Seen::default();
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory({
                let (seen, reactor) = (server_seen.clone(), reactor.clone());
                move || {
                    let reactor = reactor.clone();
                    Scripted::new(&seen)
                        // Keep writing: the reset must surface through a write or a read.
                        .on_data(|t, _, _| t.write(&[7; 1 << 20]))
                        .on_lost(move |_| reactor.stop())
                        .boxed()
                }
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let to = port.port();
    let client = std::thread::spawn(move || {
        let mut client = TcpStream::connect(("127.0.0.1", to)).unwrap();
        client.write_all(b"go").unwrap();
        let mut first = [0; 1];
        client.read_exact(&mut first).unwrap();
        // Closing with unread data (and linger 0) resets the connection.
        socket2::SockRef::from(&client)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    });
    support::run(&reactor);
    client.join().unwrap();
    let reason = server_seen.lost().unwrap();
    let failure = reason.failure().expect("a reset is not a clean close");
    let lost = failure.check::<torsion::net::ConnectionLost>().unwrap();
    assert!(lost.io_error().is_some(), "{failure:?}");
    assert!(failure.error_message().contains("tcp 127.0.0.1:"));
    drain(&reactor, &port);
}

fn write_sequence_sends_the_pieces_in_order(reactor: Reactor) {
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory({
                let reactor = reactor.clone();
                move || {
                    let reactor = reactor.clone();
                    Scripted::new(&Seen::default())
                        .on_made(|t| {
                            t.write_sequence(&[b"one ", b"", b"two ", b"three"]);
                            t.lose_connection();
                        })
                        .on_lost(move |_| reactor.stop())
                        .boxed()
                }
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let mut client = TcpStream::connect(("127.0.0.1", port.port())).unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        all
    });
    support::run(&reactor);
    drain(&reactor, &port);
    assert_eq!(reader.join().unwrap(), b"one two three");
}

/// Counts lost connections and reconnects once.
struct Reconnecting {
    reactor: Reactor,
    lost: Rc<Cell<u32>>,
    seen: Seen,
}

impl ProtocolFactory for Reconnecting {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(
            Scripted::new(&self.seen)
                .on_made(|t| t.write(b"ping"))
                .on_data(|t, _, seen| {
                    if seen.data.borrow().len() % 4 == 0 {
                        t.lose_connection();
                    }
                })
                .boxed(),
        )
    }
}

impl ClientFactory for Reconnecting {
    fn client_connection_lost(&self, connector: &Connector, reason: &CloseReason) {
        assert!(reason.is_clean());
        self.lost.set(self.lost.get() + 1);
        if self.lost.get() == 1 {
            connector.connect();
        } else {
            self.reactor.stop();
        }
    }
}

fn client_factory_hears_lost_and_can_reconnect(reactor: Reactor) {
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(echo_factory()),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let lost = Rc::new(Cell::new(0));
    let seen = Seen::default();
    let factory = Reconnecting {
        reactor: reactor.clone(),
        lost: lost.clone(),
        seen: seen.clone(),
    };
    reactor.connect_tcp(
        "localhost",
        port.port(),
        Rc::new(factory),
        TcpConnectOptions::default().timeout(Duration::from_secs(5)),
    );
    support::run(&reactor);
    assert_eq!(lost.get(), 2);
    assert_eq!(seen.data(), b"pingping");
    drain(&reactor, &port);
}
