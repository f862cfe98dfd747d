//! Line protocols on real sockets: a line past the limit closes the connection at once,
//! without waiting for its end.

mod support;

use std::{
    io::{Read, Write},
    net::TcpStream,
    rc::Rc,
    thread,
};

use torsion::{
    net::{CloseReason, Protocol, StreamNetwork, TcpListenOptions},
    protocols::basic::{LineProtocol, LineReceiver, Lines},
    Reactor,
};

use support::net::{drain, factory};

each_backend!(a_line_past_the_limit_closes_the_connection_before_its_end_arrives);

/// Echoes lines; stops the reactor when the connection is gone.
struct LineEcho {
    reactor: Reactor,
}

impl LineReceiver for LineEcho {
    fn line_received(&mut self, lines: &Lines, line: &[u8]) {
        lines.send_line(line);
    }

    fn connection_lost(&mut self, _: CloseReason) {
        self.reactor.stop();
    }
}

fn a_line_past_the_limit_closes_the_connection_before_its_end_arrives(reactor: Reactor) {
    let reactor2 = reactor.clone();
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory(move || {
                let echo = LineEcho {
                    reactor: reactor2.clone(),
                };
                Box::new(LineProtocol::new(echo).with_max_length(16)) as Box<dyn Protocol>
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let to = port.port();
    let client = thread::spawn(move || {
        let mut client = TcpStream::connect(("127.0.0.1", to)).unwrap();
        client.write_all(b"short\r\n").unwrap();
        // 64 KiB and no delimiter: the server must hang up, not wait for the end.
        client.write_all(&[b'x'; 64 * 1024]).unwrap();
        let mut got = Vec::new();
        let _ = client.read_to_end(&mut got); // may end in a reset: unread data was dropped
        got
    });
    support::run(&reactor);
    let got = client.join().unwrap();
    assert!(got.is_empty() || got == b"short\r\n", "{got:?}");
    drain(&reactor, &port);
}
