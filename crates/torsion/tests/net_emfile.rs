//! Running out of file descriptors: the server sheds what it cannot serve (a prompt
//! close, not a hang in the backlog), logs the episode once, never spins, and serves
//! again once descriptors are free.
//!
//! The descriptor limit is process-wide, so the test re-runs itself in a child process
//! whose limit `ulimit -n` lowered; the parent only checks that the child passed.

mod support;

use std::{
    cell::{Cell, RefCell},
    io::{self, Read},
    net::TcpStream,
    process::Command,
    rc::Rc,
};

use torsion::{
    net::{factory_fn, StreamNetwork, TcpConnectOptions, TcpListenOptions},
    reactor::{Interest, IoToken},
    Reactor,
};
use tracing::Level;

use support::net::{drain, factory, Echo, Scripted, Seen};

each_backend!(out_of_descriptors_sheds_connections_and_recovers);

const CHILD_ENV: &str = "TORSION_TEST_EMFILE_CHILD";

fn out_of_descriptors_sheds_connections_and_recovers(reactor: Reactor) {
    if std::env::var_os(CHILD_ENV).is_some() {
        return in_child(reactor);
    }
    let name = format!(
        "out_of_descriptors_sheds_connections_and_recovers::{}",
        reactor.backend().name()
    );
    let output = Command::new("sh")
        .args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\""])
        .arg(std::env::current_exe().unwrap())
        .args([
            name.as_str(),
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

fn in_child(reactor: Reactor) {
    let built = Rc::new(Cell::new(0));
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory({
                let built = built.clone();
                move || {
                    built.set(built.get() + 1);
                    Box::new(Echo::default())
                }
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    // Take every descriptor left: each connect completes in the kernel's backlog.
    let mut flood = Vec::new();
    loop {
        match TcpStream::connect(("127.0.0.1", port.port())) {
            Ok(stream) => flood.push(stream),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => break,
            Err(e) => panic!("connect: {e}"),
        }
        assert!(flood.len() < 200, "the descriptor limit was not lowered");
    }
    assert!(flood.len() > 10, "{} connections", flood.len());
    // Every flooding client must see its connection closed by the server.
    let total = flood.len();
    let flood = Rc::new(RefCell::new(flood));
    let closed = Rc::new(Cell::new(0));
    let tokens: Rc<RefCell<Vec<IoToken>>> = Rc::default();
    for i in 0..total {
        let stream = &flood.borrow()[i];
        stream.set_nonblocking(true).unwrap();
        let (flood2, closed, reactor2, tokens2) = (
            flood.clone(),
            closed.clone(),
            reactor.clone(),
            tokens.clone(),
        );
        let port_number = port.port();
        let token = reactor
            .register_fd(stream, Interest::READABLE, move |_, _| {
                let mut buf = [0; 16];
                let eof = loop {
                    let result = (&flood2.borrow()[i]).read(&mut buf);
                    match result {
                        Ok(0) => break true,
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                        Err(_) => break true,
                    }
                };
                if eof {
                    closed.set(closed.get() + 1);
                    if closed.get() == total {
                        recover(&reactor2, &tokens2, &flood2, port_number);
                    }
                }
            })
            .unwrap();
        tokens.borrow_mut().push(token);
    }
    let seen = Seen::default();
    SEEN.with(|s| *s.borrow_mut() = Some(seen.clone()));
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    assert_eq!(closed.get(), total);
    assert_eq!(
        built.get(),
        1,
        "only the connection after recovery was served"
    );
    assert_eq!(seen.data(), b"ping");
    let warnings: Vec<_> = logs
        .iter()
        .filter(|e| e.level == Level::WARN && e.message.contains("too many open files"))
        .collect();
    assert_eq!(warnings.len(), 1, "one log line per episode: {logs:?}");
    support::assert_logged(&logs, Level::INFO, &["descriptors available again"]);
    drain(&reactor, &port);
}

thread_local! {
    static SEEN: RefCell<Option<Seen>> = const { RefCell::new(None) };
}

/// All flooding clients were shed: free their descriptors, and check that a new client
/// is served.
fn recover(
    reactor: &Reactor,
    tokens: &Rc<RefCell<Vec<IoToken>>>,
    flood: &Rc<RefCell<Vec<TcpStream>>>,
    port: u16,
) {
    // Deregister before closing: the reactor must never watch a closed descriptor. The
    // handler running now is dropped after it returns, so `flood` may be emptied here.
    for token in tokens.borrow_mut().drain(..) {
        reactor.deregister_fd(token).unwrap();
    }
    let streams = std::mem::take(&mut *flood.borrow_mut());
    drop(streams);
    let seen = SEEN.with(|s| s.borrow().clone()).unwrap();
    let reactor2 = reactor.clone();
    let client = Scripted::new(&seen)
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
}
