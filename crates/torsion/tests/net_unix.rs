//! Unix stream sockets: the same protocols over a path, and errors that name it.

mod support;

use std::{
    cell::{Cell, RefCell},
    os::unix::fs::PermissionsExt,
    path::PathBuf,
    rc::Rc,
    sync::atomic::{AtomicU32, Ordering},
};

use torsion::{
    net::{
        factory_fn, Address, ClientFactory, Connector, Protocol, ProtocolFactory, StreamNetwork,
        UnixConnectOptions, UnixListenOptions,
    },
    Failure, Reactor,
};

use support::net::{drain, echo_factory, Scripted, Seen};

each_backend!(
    echo_round_trip_over_a_unix_socket,
    listen_unix_errors_name_the_path,
    connect_unix_to_a_missing_path_fails_naming_it,
    listen_unix_with_sets_the_mode_and_removes_the_path_on_stop,
);

/// A fresh socket path for this test process.
fn socket_path(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("torsion-{}-{n}-{name}.sock", std::process::id()))
}

fn echo_round_trip_over_a_unix_socket(reactor: Reactor) {
    let path = socket_path("echo");
    let port = reactor
        .listen_unix(
            &path,
            Rc::new(echo_factory()),
            UnixListenOptions::default().mode(0o600),
        )
        .unwrap();
    assert_eq!(port.address(), Address::Unix(Some(path.clone())));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let seen = Seen::default();
    let client = {
        let reactor = reactor.clone();
        Scripted::new(&seen)
            .on_made(|t| t.write(b"over a path"))
            .on_data(|t, _, seen| {
                if seen.data.borrow().len() == 11 {
                    t.lose_connection();
                }
            })
            .on_lost(move |_| reactor.stop())
            .boxed()
    };
    let client = Cell::new(Some(client));
    reactor.connect_unix(
        &path,
        Rc::new(factory_fn(move |_| client.take())),
        UnixConnectOptions::default(),
    );
    support::run(&reactor);
    assert_eq!(seen.data(), b"over a path");
    assert!(seen.lost().unwrap().is_clean());
    drain(&reactor, &port);
    assert!(!path.exists(), "stop_listening removes the socket file");
}

fn listen_unix_errors_name_the_path(reactor: Reactor) {
    let path = socket_path("taken");
    let port = reactor
        .listen_unix(&path, Rc::new(echo_factory()), UnixListenOptions::default())
        .unwrap();
    let err = reactor
        .listen_unix(&path, Rc::new(echo_factory()), UnixListenOptions::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("listen unix {}: address already in use", path.display())
    );
    drain(&reactor, &port);
}

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

fn connect_unix_to_a_missing_path_fails_naming_it(reactor: Reactor) {
    let path = socket_path("missing");
    let failures = Rc::new(RefCell::new(Vec::new()));
    let factory = Failing {
        reactor: reactor.clone(),
        failures: failures.clone(),
    };
    reactor.connect_unix(&path, Rc::new(factory), UnixConnectOptions::default());
    support::run(&reactor);
    assert_eq!(
        failures.borrow()[0].error_message(),
        format!("connect unix {}: no such file or directory", path.display())
    );
    assert_eq!(reactor.registered_fds(), 0);
}

fn listen_unix_with_sets_the_mode_and_removes_the_path_on_stop(reactor: Reactor) {
    let path = socket_path("mode");
    let options = UnixListenOptions::default().mode(0o600).backlog(8);
    let factory = factory_fn(|_| None::<Box<dyn Protocol>>);
    let port = reactor
        .listen_unix(&path, Rc::new(factory), options)
        .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(port.stop_listening().called());
    assert!(
        !path.exists(),
        "the socket file is removed when the port stops"
    );
    assert_eq!(reactor.registered_fds(), 0);
}
