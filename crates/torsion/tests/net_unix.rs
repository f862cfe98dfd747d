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
        connect_unix, factory_fn, listen_unix, listen_unix_with, Address, ClientFactory, Connector,
        ListenError, Protocol, ProtocolFactory, StreamNetwork, UnixListenOptions,
    },
    Failure, Reactor,
};

use support::net::{drain, echo_factory, Scripted, Seen};

each_backend!(
    echo_round_trip_over_a_unix_socket,
    listen_unix_errors_name_the_path,
    connect_unix_to_a_missing_path_fails_naming_it,
    a_stale_socket_left_by_a_crashed_listener_is_replaced,
    a_socket_a_live_listener_holds_is_refused_naming_its_pid,
    a_live_socket_without_a_lock_is_left_alone,
);

/// A fresh socket path for this test process.
fn socket_path(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("torsion-{}-{n}-{name}.sock", std::process::id()))
}

fn echo_round_trip_over_a_unix_socket(reactor: Reactor) {
    let path = socket_path("echo");
    let port = listen_unix(&reactor, &path, echo_factory(), Some(0o600)).unwrap();
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
    connect_unix(&reactor, &path, factory_fn(move |_| client.take()), None);
    support::run(&reactor);
    assert_eq!(seen.data(), b"over a path");
    assert!(seen.lost().unwrap().is_clean());
    drain(&reactor, &port);
    assert!(!path.exists(), "stop_listening removes the socket file");
}

fn listen_unix_errors_name_the_path(reactor: Reactor) {
    let path = socket_path("taken");
    let port = listen_unix(&reactor, &path, echo_factory(), None).unwrap();
    let err = listen_unix(&reactor, &path, echo_factory(), None).unwrap_err();
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
    connect_unix(&reactor, &path, factory, None);
    support::run(&reactor);
    assert_eq!(
        failures.borrow()[0].error_message(),
        format!("connect unix {}: no such file or directory", path.display())
    );
    assert_eq!(reactor.registered_fds(), 0);
}

/// `PATH.lock`.
fn lock_path(path: &std::path::Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", path.display()))
}

fn a_stale_socket_left_by_a_crashed_listener_is_replaced(reactor: Reactor) {
    let path = socket_path("crashed");
    // What a crashed listener leaves: its socket file, nothing accepting on it, and a
    // lock file naming its pid, which is dead (a child that has exited and been reaped).
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(lock_path(&path), format!("{dead}\n")).unwrap();

    let net: &dyn StreamNetwork = &reactor;
    let options = UnixListenOptions::default().lockfile(true);
    let port = net
        .listen_unix(&path, Rc::new(echo_factory()), options)
        .unwrap();
    let pid = std::fs::read_to_string(lock_path(&path)).unwrap();
    assert_eq!(pid.trim(), std::process::id().to_string());

    let seen = Seen::default();
    let client = {
        let reactor = reactor.clone();
        Scripted::new(&seen)
            .on_made(|t| t.write(b"fresh"))
            .on_data(|t, _, seen| {
                if seen.data.borrow().len() == 5 {
                    t.lose_connection();
                }
            })
            .on_lost(move |_| reactor.stop())
            .boxed()
    };
    let client = Cell::new(Some(client));
    connect_unix(&reactor, &path, factory_fn(move |_| client.take()), None);
    support::run(&reactor);
    assert_eq!(seen.data(), b"fresh", "the new socket serves");
    drain(&reactor, &port);
    assert!(!path.exists(), "stop_listening removes the socket");
    assert!(!lock_path(&path).exists(), "and then the lock file");
}

fn a_socket_a_live_listener_holds_is_refused_naming_its_pid(reactor: Reactor) {
    let path = socket_path("live");
    let options = UnixListenOptions::default().lockfile(true);
    let port = listen_unix_with(&reactor, &path, echo_factory(), options).unwrap();
    let err = listen_unix_with(&reactor, &path, echo_factory(), options).unwrap_err();
    let me = std::process::id();
    assert!(matches!(err, ListenError::Locked { pid: Some(pid), .. } if pid == me));
    assert_eq!(
        err.to_string(),
        format!(
            "listen unix {0}: in use by pid {me} (lock file {0}.lock)",
            path.display()
        )
    );
    assert!(path.exists(), "the live socket is untouched");
    assert!(port.is_listening());
    drain(&reactor, &port);
    assert!(!lock_path(&path).exists());
}

fn a_live_socket_without_a_lock_is_left_alone(reactor: Reactor) {
    // A server that keeps no lock file listens here: taking the lock is not enough to
    // remove its socket, since something accepts on it.
    let path = socket_path("unlocked");
    let port = listen_unix(&reactor, &path, echo_factory(), None).unwrap();
    let options = UnixListenOptions::default().lockfile(true);
    let err = listen_unix_with(&reactor, &path, echo_factory(), options).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("listen unix {}: address already in use", path.display())
    );
    assert!(
        !lock_path(&path).exists(),
        "a failed listen lets go of the lock"
    );
    assert!(path.exists());
    drain(&reactor, &port);
}
