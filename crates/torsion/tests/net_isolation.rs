//! One connection's trouble stays its own: a panicking protocol closes only its
//! connection, and a flooding peer does not starve the others.

mod support;

use std::{cell::Cell, io::Write, net::TcpStream, rc::Rc, thread};

use torsion::{
    defer::Panicked,
    net::{factory_fn, StreamNetwork, TcpConnectOptions, TcpListenOptions},
    Reactor,
};
use tracing::Level;

use support::net::{drain, drain_all, factory, Scripted, Seen};

each_backend!(
    a_panicking_protocol_closes_only_its_connection,
    a_flooding_peer_does_not_starve_the_others,
);

fn a_panicking_protocol_closes_only_its_connection(reactor: Reactor) {
    let server_seen: Rc<std::cell::RefCell<Vec<Seen>>> = Rc::default();
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory({
                let server_seen = server_seen.clone();
                move || {
                    let seen = Seen::default();
                    server_seen.borrow_mut().push(seen.clone());
                    Scripted::new(&seen)
                        .on_data(|t, data, _| {
                            if data == b"boom" {
                                panic!("boom");
                            }
                            t.write(data);
                        })
                        .boxed()
                }
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    // The first client makes the server panic; once its connection is gone, the second
    // one is served as if nothing happened.
    let (good, bad) = (Seen::default(), Seen::default());
    let bad_client = {
        let (reactor, good, port) = (reactor.clone(), good.clone(), port.port());
        Scripted::new(&bad)
            .on_made(|t| t.write(b"boom"))
            .on_lost(move |_| {
                let reactor2 = reactor.clone();
                let client = Scripted::new(&good)
                    .on_made(|t| t.write(b"ping"))
                    .on_data(|t, _, seen| {
                        if seen.data.borrow().len() == 4 {
                            t.lose_connection();
                        }
                    })
                    .on_lost(move |_| reactor2.stop())
                    .boxed();
                let client = Cell::new(Some(client));
                reactor.connect_tcp(
                    "127.0.0.1",
                    port,
                    Rc::new(factory_fn(move |_| client.take())),
                    TcpConnectOptions::default(),
                );
            })
            .boxed()
    };
    let bad_client = Cell::new(Some(bad_client));
    reactor.connect_tcp(
        "127.0.0.1",
        port.port(),
        Rc::new(factory_fn(move |_| bad_client.take())),
        TcpConnectOptions::default(),
    );
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    assert_eq!(good.data(), b"ping");
    assert!(bad.lost().is_some());
    let first = server_seen.borrow()[0]
        .lost()
        .expect("the panicking connection closed");
    let failure = first.failure().expect("a panic is not a clean close");
    assert_eq!(failure.check::<Panicked>().unwrap().message, "boom");
    support::assert_logged(
        &logs,
        Level::ERROR,
        &["panicked: boom", "closing that connection"],
    );
    drain(&reactor, &port);
}

fn a_flooding_peer_does_not_starve_the_others(reactor: Reactor) {
    let received = Rc::new(Cell::new(0usize));
    let sink = reactor
        .listen_tcp(
            0,
            Rc::new(factory({
                let received = received.clone();
                move || {
                    let received = received.clone();
                    Scripted::new(&Seen::default())
                        .on_data(move |_, data, seen| {
                            received.set(received.get() + data.len());
                            seen.data.borrow_mut().clear();
                        })
                        .boxed()
                }
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let to = sink.port();
    let flood = thread::spawn(move || {
        let mut client = TcpStream::connect(("127.0.0.1", to)).unwrap();
        let chunk = vec![b'f'; 1 << 20];
        while client.write_all(&chunk).is_ok() {}
    });
    // Once the flood is flowing, a round trip on another connection must complete.
    let echo = reactor
        .listen_tcp(
            0,
            Rc::new(support::net::echo_factory()),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let seen = Seen::default();
    let client = {
        let reactor = reactor.clone();
        Scripted::new(&seen)
            .on_made(|t| t.write(b"still there?"))
            .on_data(|t, _, seen| {
                if seen.data.borrow().len() == 12 {
                    t.lose_connection();
                }
            })
            .on_lost(move |_| reactor.stop())
            .boxed()
    };
    let client = Cell::new(Some(client));
    let (reactor2, port) = (reactor.clone(), echo.port());
    start_when(
        &reactor,
        move || received.get() > 4 << 20,
        move || {
            reactor2.connect_tcp(
                "127.0.0.1",
                port,
                Rc::new(factory_fn(move |_| client.take())),
                TcpConnectOptions::default(),
            );
        },
    );
    support::run(&reactor);
    assert_eq!(seen.data(), b"still there?");
    drain_all(&reactor, &[&echo, &sink]); // the flood's writes fail once its connection closes
    flood.join().unwrap();
}

/// Runs `then` once `ready` holds, checking every millisecond on the reactor's clock.
fn start_when(
    reactor: &Reactor,
    ready: impl Fn() -> bool + 'static,
    then: impl FnOnce() + 'static,
) {
    if ready() {
        return then();
    }
    let reactor2 = reactor.clone();
    reactor.call_later(std::time::Duration::from_millis(1), move || {
        start_when(&reactor2, ready, then)
    });
}
