//! Flow control and closing on real sockets: nothing written is lost, producers are
//! paused and resumed, buffers stay bounded, half-close works both ways.

mod support;

use std::{
    cell::Cell,
    io::{Read, Write},
    net::{Shutdown, TcpStream},
    rc::Rc,
    sync::mpsc,
    thread,
};

use torsion::{
    net::{
        ConnectionLost, Producer, PullProducer, PushProducer, StreamNetwork, TcpListenOptions,
        Transport, WriteLimits, DEFAULT_HIGH_WATER,
    },
    Reactor,
};

use support::net::{drain, factory, Scripted, Seen};

each_backend!(
    write_then_lose_delivers_exactly_64_mib_then_fin_to_a_slow_reader,
    replies_buffered_when_the_peer_half_closes_are_all_sent,
    a_half_close_protocol_hears_read_closed_and_may_still_write,
    lose_write_connection_shuts_our_side_and_keeps_reading,
    a_peer_that_never_reads_pauses_the_producer_until_it_reads,
    a_pull_producer_is_asked_for_more_as_the_buffer_drains,
    a_write_past_the_hard_limit_closes_with_write_buffer_full,
    paused_reads_deliver_nothing_until_resumed,
);

/// Reads everything from `port` on another thread, `chunk` bytes at a time.
fn slow_reader(port: u16, chunk: usize) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut all, mut buf) = (Vec::new(), vec![0; chunk]);
        loop {
            match client.read(&mut buf).unwrap() {
                0 => return all,
                n => all.extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// A server protocol that runs `made` on connection and stops the reactor when closed.
fn serve(reactor: &Reactor, seen: &Seen, made: impl Fn(&Rc<dyn Transport>) + 'static) -> u16 {
    let (reactor, seen, made) = (reactor.clone(), seen.clone(), Rc::new(made));
    let reactor2 = reactor.clone();
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory(move || {
                let (reactor, made) = (reactor2.clone(), made.clone());
                Scripted::new(&seen)
                    .on_made(move |t| made(t))
                    .on_lost(move |_| reactor.stop())
                    .boxed()
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    PORTS.with(|p| p.borrow_mut().push(port.clone()));
    port.port()
}

thread_local! {
    static PORTS: std::cell::RefCell<Vec<torsion::net::ListeningPort>> = Default::default();
}

/// Stops the ports `serve` opened and checks the reactor is clean.
fn finish(reactor: &Reactor) {
    for port in PORTS.with(|p| std::mem::take(&mut *p.borrow_mut())) {
        drain(reactor, &port);
    }
}

fn write_then_lose_delivers_exactly_64_mib_then_fin_to_a_slow_reader(reactor: Reactor) {
    const N: usize = 64 << 20;
    let seen = Seen::default();
    let port = serve(&reactor, &seen, |t| {
        let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
        t.write(&data);
        t.lose_connection();
    });
    let reader = slow_reader(port, 4096);
    support::run(&reactor);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), N);
    assert!(got.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    assert!(seen.lost().unwrap().is_clean());
    finish(&reactor);
}

fn replies_buffered_when_the_peer_half_closes_are_all_sent(reactor: Reactor) {
    const N: usize = 4 << 20;
    let seen = Seen::default();
    let (reactor2, seen2) = (reactor.clone(), seen.clone());
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory(move || {
                let reactor = reactor2.clone();
                Scripted::new(&seen2)
                    .on_data(|t, data, _| t.write(data))
                    .on_lost(move |_| reactor.stop())
                    .boxed()
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let to = port.port();
    let client = thread::spawn(move || {
        let mut client = TcpStream::connect(("127.0.0.1", to)).unwrap();
        // Send everything and half-close before reading a byte: the echo piles up in
        // the server's buffer, and the end of file arrives while that is unsent.
        client.write_all(&vec![b'e'; N]).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        all.len()
    });
    support::run(&reactor);
    assert_eq!(client.join().unwrap(), N);
    assert!(seen.lost().unwrap().is_clean());
    drain(&reactor, &port);
}

fn a_half_close_protocol_hears_read_closed_and_may_still_write(reactor: Reactor) {
    let seen = Seen::default();
    let (reactor2, seen2) = (reactor.clone(), seen.clone());
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory(move || {
                let reactor = reactor2.clone();
                Scripted::new(&seen2)
                    .on_data(|t, data, _| t.write(data))
                    .on_read_closed(|t| {
                        t.write(b"bye");
                        t.lose_connection();
                    })
                    .on_lost(move |_| reactor.stop())
                    .boxed()
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let to = port.port();
    let client = thread::spawn(move || {
        let mut client = TcpStream::connect(("127.0.0.1", to)).unwrap();
        client.write_all(b"hello").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        all
    });
    support::run(&reactor);
    assert_eq!(client.join().unwrap(), b"hellobye");
    assert!(*seen.read_closed.borrow());
    assert!(seen.lost().unwrap().is_clean());
    drain(&reactor, &port);
}

fn lose_write_connection_shuts_our_side_and_keeps_reading(reactor: Reactor) {
    let seen = Seen::default();
    let (reactor2, seen2) = (reactor.clone(), seen.clone());
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory(move || {
                let reactor = reactor2.clone();
                Scripted::new(&seen2)
                    .on_made(|t| {
                        t.write(b"x");
                        t.lose_write_connection();
                        t.write(b"ignored after the write side is closing");
                    })
                    .on_read_closed(|t| t.lose_connection())
                    .on_lost(move |_| reactor.stop())
                    .boxed()
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let to = port.port();
    let client = thread::spawn(move || {
        let mut client = TcpStream::connect(("127.0.0.1", to)).unwrap();
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap(); // ends: the server shut its side
        client.write_all(b"y").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        all
    });
    support::run(&reactor);
    assert_eq!(client.join().unwrap(), b"x");
    assert_eq!(seen.data(), b"y");
    assert!(*seen.write_closed.borrow());
    assert!(seen.lost().unwrap().is_clean());
    drain(&reactor, &port);
}

/// Writes `total` bytes in chunks while not paused, then closes.
struct Pump {
    transport: Rc<dyn Transport>,
    paused: Cell<bool>,
    written: Cell<usize>,
    total: usize,
    pauses: Rc<Cell<u32>>,
    resumes: Rc<Cell<u32>>,
    max_buffered: Rc<Cell<usize>>,
    on_first_pause: Cell<Option<mpsc::Sender<()>>>,
}

const CHUNK: usize = 16 * 1024;

impl Pump {
    fn run(&self) {
        while !self.paused.get() && self.written.get() < self.total {
            self.transport.write(&[b'p'; CHUNK]);
            self.written.set(self.written.get() + CHUNK);
            let buffered = self.transport.buffered();
            self.max_buffered.set(self.max_buffered.get().max(buffered));
        }
        if self.written.get() >= self.total {
            self.transport.unregister_producer();
            self.transport.lose_connection();
        }
    }
}

impl PushProducer for Pump {
    fn pause_producing(&self) {
        self.paused.set(true);
        self.pauses.set(self.pauses.get() + 1);
        if let Some(tx) = self.on_first_pause.take() {
            tx.send(()).unwrap();
        }
    }

    fn resume_producing(&self) {
        self.paused.set(false);
        self.resumes.set(self.resumes.get() + 1);
        self.run();
    }

    fn stop_producing(&self) {
        self.paused.set(true);
    }
}

fn a_peer_that_never_reads_pauses_the_producer_until_it_reads(reactor: Reactor) {
    const TOTAL: usize = 32 << 20;
    let (pauses, resumes, max_buffered) = (
        Rc::new(Cell::new(0)),
        Rc::new(Cell::new(0)),
        Rc::new(Cell::new(0)),
    );
    let (tx, rx) = mpsc::channel();
    let tx = Cell::new(Some(tx));
    let seen = Seen::default();
    let port = serve(&reactor, &seen, {
        let (pauses, resumes, max_buffered) =
            (pauses.clone(), resumes.clone(), max_buffered.clone());
        move |t| {
            let pump = Rc::new(Pump {
                transport: t.clone(),
                paused: Cell::new(false),
                written: Cell::new(0),
                total: TOTAL,
                pauses: pauses.clone(),
                resumes: resumes.clone(),
                max_buffered: max_buffered.clone(),
                on_first_pause: Cell::new(tx.take()),
            });
            t.register_producer(Producer::Push(pump.clone())).unwrap();
            pump.run();
        }
    });
    let client = thread::spawn(move || {
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        rx.recv().unwrap(); // read nothing until the producer was paused
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        all.len()
    });
    support::run(&reactor);
    assert_eq!(client.join().unwrap(), TOTAL);
    assert!(
        pauses.get() >= 1 && resumes.get() >= 1,
        "{} {}",
        pauses.get(),
        resumes.get()
    );
    assert!(
        max_buffered.get() <= DEFAULT_HIGH_WATER + CHUNK,
        "{}",
        max_buffered.get()
    );
    finish(&reactor);
}

/// Writes one chunk each time it is asked, `left` times, then closes.
struct Chunks {
    transport: Rc<dyn Transport>,
    left: Cell<u32>,
    asked: Rc<Cell<u32>>,
}

impl PullProducer for Chunks {
    fn resume_producing(&self) {
        self.asked.set(self.asked.get() + 1);
        if self.left.get() == 0 {
            self.transport.unregister_producer();
            self.transport.lose_connection();
            return;
        }
        self.left.set(self.left.get() - 1);
        self.transport.write(&[b'c'; 64 * 1024]);
    }

    fn stop_producing(&self) {}
}

fn a_pull_producer_is_asked_for_more_as_the_buffer_drains(reactor: Reactor) {
    let asked = Rc::new(Cell::new(0));
    let seen = Seen::default();
    let port = serve(&reactor, &seen, {
        let asked = asked.clone();
        move |t| {
            let chunks = Rc::new(Chunks {
                transport: t.clone(),
                left: Cell::new(100),
                asked: asked.clone(),
            });
            t.register_producer(Producer::Pull(chunks)).unwrap();
        }
    });
    let reader = slow_reader(port, 8192);
    support::run(&reactor);
    assert_eq!(reader.join().unwrap().len(), 100 * 64 * 1024);
    assert_eq!(asked.get(), 101);
    finish(&reactor);
}

fn a_write_past_the_hard_limit_closes_with_write_buffer_full(reactor: Reactor) {
    let seen = Seen::default();
    let port = serve(&reactor, &seen, |t| {
        t.set_write_limits(WriteLimits {
            max: 1 << 20,
            ..WriteLimits::default()
        });
        for _ in 0..256 {
            if t.is_closing() {
                break;
            }
            t.write(&[b'w'; 256 * 1024]);
            assert!(t.buffered() <= 1 << 20);
        }
    });
    let (tx, rx) = mpsc::channel::<()>();
    let client = thread::spawn(move || {
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = rx.recv(); // never read; hang up when told
        drop(client);
    });
    support::run(&reactor);
    tx.send(()).unwrap();
    client.join().unwrap();
    let reason = seen.lost().unwrap();
    let failure = reason.failure().expect("lost, not clean");
    assert!(matches!(
        failure.check::<ConnectionLost>(),
        Some(ConnectionLost::WriteBufferFull { limit: 1048576, .. })
    ));
    finish(&reactor);
}

fn paused_reads_deliver_nothing_until_resumed(reactor: Reactor) {
    let seen = Seen::default();
    let resumed = Rc::new(Cell::new(false));
    let (reactor2, seen2, resumed2) = (reactor.clone(), seen.clone(), resumed.clone());
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory(move || {
                let (reactor, resumed, resumed2) =
                    (reactor2.clone(), resumed2.clone(), resumed2.clone());
                let reactor3 = reactor.clone();
                Scripted::new(&seen2)
                    .on_made(move |t| {
                        t.pause_producing();
                        let (t, resumed) = (t.clone(), resumed.clone());
                        reactor3.call_later(std::time::Duration::from_millis(30), move || {
                            resumed.set(true);
                            t.resume_producing();
                        });
                    })
                    .on_data(move |t, data, _| {
                        assert!(resumed2.get(), "data arrived while paused");
                        t.write(data);
                        t.lose_connection();
                    })
                    .on_lost(move |_| reactor.stop())
                    .boxed()
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let to = port.port();
    let client = thread::spawn(move || {
        let mut client = TcpStream::connect(("127.0.0.1", to)).unwrap();
        client.write_all(b"abc").unwrap();
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        all
    });
    support::run(&reactor);
    assert_eq!(client.join().unwrap(), b"abc");
    assert!(resumed.get());
    assert!(seen.lost().unwrap().is_clean());
    drain(&reactor, &port);
}
