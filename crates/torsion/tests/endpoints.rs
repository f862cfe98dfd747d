//! Endpoints over loopback: servers and clients from strings talking, names resolved on
//! the pool, happy eyeballs past an address that never answers, systemd sockets adopted,
//! Unix lock files, and the errors that name the endpoint.

mod support;

use std::{
    cell::RefCell,
    net::{SocketAddr, TcpListener, TcpStream, UdpSocket},
    os::fd::AsRawFd,
    path::PathBuf,
    rc::Rc,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use socket2::{Domain, Socket, Type};
use torsion::{
    defer::{succeed, Deferred},
    endpoints::{
        client_from_string, connect_protocol, server_from_string, ClientError, HostnameEndpoint,
        ListenFds, ServerError, StreamClientEndpoint,
    },
    net::{ListeningPort, Protocol, Transport},
    testing::assert_clean,
    Failure, Reactor,
};

use support::net::{drain, echo_factory, factory, Scripted, Seen};

each_backend!(
    tcp_server_and_client_from_strings_talk,
    unix_server_and_client_from_strings_talk,
    connect_protocol_hands_back_the_protocol,
    host_names_resolve_on_the_pool_and_fall_through_a_refused_family,
    happy_eyeballs_skips_an_address_that_never_answers,
    a_failed_connect_names_the_host_and_every_address,
    without_a_timeout_an_attempt_arms_no_timer,
    systemd_adopts_the_inherited_listening_socket,
    systemd_refuses_a_socket_that_is_not_what_the_string_says,
    unix_lock_files_break_stale_locks_and_refuse_live_ones,
    listen_errors_name_the_endpoint,
);

fn socket_path(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("torsion-ep-{}-{n}-{name}.sock", std::process::id()))
}

/// The result of a Deferred that has fired.
fn fired<T: 'static>(d: Deferred<T>) -> Result<T, Failure> {
    match d.try_result() {
        Ok(result) => result,
        Err(_) => panic!("not fired yet"),
    }
}

fn listen(reactor: &Reactor, endpoint: &str) -> ListeningPort {
    let server = server_from_string(reactor, endpoint).unwrap();
    fired(server.listen(echo_factory())).unwrap()
}

fn tcp_server_and_client_from_strings_talk(reactor: Reactor) {
    let port = listen(&reactor, "tcp:0:interface=127.0.0.1");
    let client = client_from_string(&reactor, &format!("tcp:127.0.0.1:{}", port.port())).unwrap();
    let (data, peer) = round_trip(&reactor, &client, b"hello");
    assert_eq!(data, b"hello");
    assert_eq!(peer, format!("127.0.0.1:{}", port.port()));
    drain(&reactor, &port);
    assert_clean(&reactor);
}

fn unix_server_and_client_from_strings_talk(reactor: Reactor) {
    let path = socket_path("talk");
    let port = listen(&reactor, &format!("unix:{}:mode=600", path.display()));
    assert!(present(&socket_path_lock(&path)), "the PID lock is taken");
    let client = client_from_string(
        &reactor,
        &format!("unix:path={}:lockfile=1", path.display()),
    )
    .unwrap();
    let (data, _) = round_trip(&reactor, &client, b"over a path");
    assert_eq!(data, b"over a path");
    drain(&reactor, &port);
    assert!(
        !present(&path) && !present(&socket_path_lock(&path)),
        "socket and lock removed"
    );
    assert_clean(&reactor);
}

/// Whether a file or symbolic link (even a dangling one, as a lock is) is at `path`.
fn present(path: &std::path::Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

fn socket_path_lock(path: &std::path::Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", path.display()))
}

/// Connects with a protocol that writes `message` once connected, waits for it to come
/// back, and closes; returns what came back and the peer the transport named.
fn round_trip(
    reactor: &Reactor,
    endpoint: &dyn StreamClientEndpoint,
    message: &'static [u8],
) -> (Vec<u8>, String) {
    let seen = Seen::default();
    let protocol = {
        let reactor = reactor.clone();
        Scripted::new(&seen)
            .on_data(move |t, _, seen| {
                if seen.data.borrow().len() == message.len() {
                    t.lose_connection();
                }
            })
            .on_lost(move |_| reactor.stop())
    };
    let one = RefCell::new(Some(protocol.boxed()));
    let peer = Rc::new(RefCell::new(String::new()));
    let _ = endpoint
        .connect(Rc::new(factory(move || {
            one.borrow_mut().take().expect("one connection")
        })))
        .add_callbacks(
            {
                let peer = peer.clone();
                move |transport: Rc<dyn Transport>| {
                    *peer.borrow_mut() = transport.peer().to_string();
                    transport.write(message);
                    Ok(())
                }
            },
            {
                let reactor = reactor.clone();
                move |failure: Failure| {
                    reactor.stop();
                    Err(failure)
                }
            },
        );
    support::run(reactor);
    let peer = peer.borrow().clone();
    (seen.data(), peer)
}

/// Keeps what it receives and closes once it has `want` bytes.
struct Collector {
    transport: Option<Rc<dyn Transport>>,
    got: Vec<u8>,
    want: usize,
    reactor: Reactor,
}

impl Protocol for Collector {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.got.extend_from_slice(data);
        if self.got.len() >= self.want {
            if let Some(t) = &self.transport {
                t.lose_connection();
            }
        }
    }

    fn connection_lost(&mut self, _: torsion::net::CloseReason) {
        self.reactor.stop();
    }
}

fn connect_protocol_hands_back_the_protocol(reactor: Reactor) {
    let port = listen(&reactor, "tcp:0:interface=127.0.0.1");
    let client = client_from_string(&reactor, &format!("tcp:127.0.0.1:{}", port.port())).unwrap();
    let collector = Collector {
        transport: None,
        got: Vec::new(),
        want: 4,
        reactor: reactor.clone(),
    };
    let kept = Rc::new(RefCell::new(None));
    let _ = connect_protocol(&client, collector).add_callback({
        let kept = kept.clone();
        move |protocol: Rc<RefCell<Collector>>| {
            // Outside the protocol's callbacks: borrowing it is fine.
            let transport = protocol.borrow().transport.clone().unwrap();
            transport.write(b"ping");
            *kept.borrow_mut() = Some(protocol);
            Ok(())
        }
    });
    support::run(&reactor);
    let protocol = kept.borrow_mut().take().expect("connected");
    assert_eq!(protocol.borrow().got, b"ping");
    drain(&reactor, &port);
    assert_clean(&reactor);
}

fn host_names_resolve_on_the_pool_and_fall_through_a_refused_family(reactor: Reactor) {
    // `localhost` may resolve to ::1 first: nothing listens there, so that attempt is
    // refused and 127.0.0.1 is tried at once.
    let port = listen(&reactor, "tcp:0:interface=127.0.0.1");
    let client = client_from_string(&reactor, &format!("tcp:localhost:{}", port.port())).unwrap();
    let (data, peer) = round_trip(&reactor, &client, b"by name");
    assert_eq!(data, b"by name");
    assert_eq!(peer, format!("127.0.0.1:{}", port.port()));
    drain(&reactor, &port);
    assert_clean(&reactor);
}

/// A listening socket whose accept queue is full: Linux drops further SYNs, so a
/// connection attempt to it neither succeeds nor fails until its timeout. Two fillers:
/// the first completes and fills the queue of length 0 (+1), the second waits in case
/// the first had not landed in the queue yet.
fn never_answers() -> (Socket, TcpStream, Socket, SocketAddr) {
    let hang = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    hang.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    hang.listen(0).unwrap();
    let address = hang.local_addr().unwrap().as_socket().unwrap();
    let first = TcpStream::connect(address).unwrap();
    let second = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    second.set_nonblocking(true).unwrap();
    let _ = second.connect(&address.into()); // EINPROGRESS: left waiting
    (hang, first, second, address)
}

fn happy_eyeballs_skips_an_address_that_never_answers(reactor: Reactor) {
    let (_hang, _first, _second, silent) = never_answers();
    let port = listen(&reactor, "tcp:0:interface=127.0.0.1");
    let good: SocketAddr = format!("127.0.0.1:{}", port.port()).parse().unwrap();
    let asked = Rc::new(RefCell::new(Vec::new()));
    let endpoint = HostnameEndpoint::new(&reactor, "dual.example", 80)
        .with_attempt_delay(Duration::from_millis(50))
        .with_resolver({
            let asked = asked.clone();
            move |host, port| {
                asked.borrow_mut().push(format!("{host}:{port}"));
                succeed(vec![silent, good])
            }
        });
    let (data, peer) = round_trip(&reactor, &endpoint, b"second address");
    assert_eq!(asked.borrow().clone(), vec!["dual.example:80"]);
    assert_eq!(data, b"second address");
    assert_eq!(peer, good.to_string(), "the address that answered won");
    drain(&reactor, &port);
    assert_clean(&reactor);
}

fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn a_failed_connect_names_the_host_and_every_address(reactor: Reactor) {
    let (a, b) = (closed_port(), closed_port());
    let endpoint = HostnameEndpoint::new(&reactor, "down.example", 7)
        .with_resolver(move |_, _| succeed(vec![a, b]));
    let failure = Rc::new(RefCell::new(None));
    let _ = endpoint
        .connect(Rc::new(support::net::echo_factory()))
        .add_both({
            let (failure, reactor) = (failure.clone(), reactor.clone());
            move |result: Result<Rc<dyn Transport>, Failure>| {
                *failure.borrow_mut() = result.err();
                reactor.stop();
                Ok::<(), Failure>(())
            }
        });
    support::run(&reactor);
    let failure = failure.borrow_mut().take().expect("failed");
    let message = failure.to_string();
    assert!(
        message.starts_with("connect down.example:7: all 2 addresses failed: "),
        "{message}"
    );
    for address in [a, b] {
        assert!(
            message.contains(&format!("connect tcp {address}: ")),
            "{message}"
        );
    }
    let Some(ClientError::Connect { attempts, .. }) = failure.check::<ClientError>() else {
        panic!("not a connect error: {message}");
    };
    let tried: Vec<_> = attempts.iter().map(|(address, _)| *address).collect();
    assert_eq!(tried, vec![a, b]);
    assert_clean(&reactor);
}

fn without_a_timeout_an_attempt_arms_no_timer(reactor: Reactor) {
    // One address that never answers: the attempt waits on the system alone (the
    // caller, the HTTP agent say, keeps a deadline of its own).
    let (_hang, _first, _second, silent) = never_answers();
    let pending = |endpoint: HostnameEndpoint| {
        let attempt = endpoint.connect(Rc::new(echo_factory()));
        let timers = reactor.timers().len();
        attempt.cancel();
        let failure = fired(attempt).err().expect("cancelled");
        assert!(
            failure.check::<torsion::defer::Cancelled>().is_some(),
            "{failure}"
        );
        timers
    };
    let host = silent.ip().to_string();
    let endpoint = HostnameEndpoint::new(&reactor, &host, silent.port());
    assert_eq!(
        pending(endpoint),
        1,
        "the default bounds the attempt with a timer"
    );
    let endpoint = HostnameEndpoint::new(&reactor, &host, silent.port()).without_timeout();
    assert_eq!(pending(endpoint), 0);
    assert_clean(&reactor);
}

/// Activation variables that make `fd` the `index`-th passed socket.
fn listen_fds_for(fd: i32) -> (ListenFds, i32) {
    let index = fd - 3;
    let pid = std::process::id();
    let count = (index + 1).to_string();
    let fds = ListenFds::from_env(
        |name| match name {
            "LISTEN_PID" => Some(pid.to_string()),
            "LISTEN_FDS" => Some(count.clone()),
            _ => None,
        },
        pid,
    )
    .unwrap();
    (fds, index)
}

fn systemd_adopts_the_inherited_listening_socket(reactor: Reactor) {
    let inherited = TcpListener::bind("127.0.0.1:0").unwrap();
    let (fds, index) = listen_fds_for(inherited.as_raw_fd());
    let server = server_from_string(&reactor, &format!("systemd:domain=INET:index={index}"))
        .unwrap()
        .with_listen_fds(fds);
    let port = fired(server.listen(echo_factory())).unwrap();
    assert_eq!(port.port(), inherited.local_addr().unwrap().port());
    let client = client_from_string(&reactor, &format!("tcp:127.0.0.1:{}", port.port())).unwrap();
    let (data, _) = round_trip(&reactor, &client, b"activated");
    assert_eq!(data, b"activated");
    drain(&reactor, &port);
    assert_clean(&reactor);
    // The inherited descriptor itself is still open (the port used a duplicate).
    assert!(inherited.local_addr().is_ok());
}

fn systemd_refuses_a_socket_that_is_not_what_the_string_says(reactor: Reactor) {
    let listen_error = |fd: i32, domain: &str| {
        let (fds, index) = listen_fds_for(fd);
        let endpoint = format!("systemd:domain={domain}:index={index}");
        let server = server_from_string(&reactor, &endpoint)
            .unwrap()
            .with_listen_fds(fds);
        let failure = fired(server.listen(echo_factory())).expect_err("refused");
        assert!(failure.check::<ServerError>().is_some());
        (
            failure.to_string(),
            format!("{endpoint}: inherited descriptor {fd}: "),
        )
    };
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (message, prefix) = listen_error(udp.as_raw_fd(), "INET");
    assert_eq!(message, format!("{prefix}not a stream socket"));
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let (message, prefix) = listen_error(tcp.as_raw_fd(), "INET6");
    assert_eq!(
        message,
        format!("{prefix}address family is INET, expected INET6")
    );
    let idle = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let (message, prefix) = listen_error(idle.as_raw_fd(), "INET");
    assert_eq!(
        message,
        format!("{prefix}a stream socket that is not listening")
    );
    assert_clean(&reactor);
}

fn unix_lock_files_break_stale_locks_and_refuse_live_ones(reactor: Reactor) {
    let path = socket_path("locked");
    let lock = socket_path_lock(&path);
    // A crashed server left its socket file and a lock naming a process that is gone.
    std::fs::write(&path, b"").unwrap();
    std::os::unix::fs::symlink("999999999", &lock).unwrap();
    let port = listen(&reactor, &format!("unix:{}", path.display()));
    assert_eq!(
        std::fs::read_link(&lock).unwrap().to_str().unwrap(),
        std::process::id().to_string()
    );
    // A second server finds the lock held by a live process: us.
    let endpoint = format!("unix:{}", path.display());
    let second = server_from_string(&reactor, &endpoint).unwrap();
    let failure = fired(second.listen(echo_factory())).expect_err("refused");
    assert_eq!(
        failure.to_string(),
        format!(
            "{endpoint}: {} is held by live process {}",
            lock.display(),
            std::process::id()
        )
    );
    drain(&reactor, &port);
    assert!(!present(&lock));
    assert_clean(&reactor);
}

fn listen_errors_name_the_endpoint(reactor: Reactor) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let endpoint = format!("tcp:{port}:interface=127.0.0.1");
    let server = server_from_string(&reactor, &endpoint).unwrap();
    let failure = fired(server.listen(echo_factory())).expect_err("in use");
    let message = failure.to_string();
    assert!(
        message.starts_with(&format!("{endpoint}: listen tcp 127.0.0.1:{port}: ")),
        "{message}"
    );
    let refused = server_from_string(&reactor, "ssl:443:privateKey=key.pem").unwrap_err();
    assert!(
        refused
            .to_string()
            .ends_with("tls endpoints are not supported yet"),
        "{refused}"
    );
    let refused = client_from_string(&reactor, "tls:example.com:443").unwrap_err();
    assert!(
        refused
            .to_string()
            .ends_with("tls endpoints are not supported yet"),
        "{refused}"
    );
    assert_clean(&reactor);
}
