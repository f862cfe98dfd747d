//! [`LoopbackPump`]: a server protocol and a client protocol connected in memory, with
//! no sockets and no reactor (Twisted's `iosim.connect` and `loopback`).
//!
//! ```
//! use std::{cell::RefCell, rc::Rc};
//! use torsion::net::{Protocol, Transport};
//! use torsion::protocols::wire::Echo;
//! use torsion::testing::LoopbackPump;
//!
//! /// Sends "hi" and keeps what comes back.
//! struct Hello(Rc<RefCell<Vec<u8>>>);
//! impl Protocol for Hello {
//!     fn connection_made(&mut self, t: Rc<dyn Transport>) { t.write(b"hi") }
//!     fn data_received(&mut self, data: &[u8]) { self.0.borrow_mut().extend_from_slice(data) }
//! }
//!
//! let got = Rc::new(RefCell::new(Vec::new()));
//! let pump = LoopbackPump::connect(Box::new(Echo::default()), Box::new(Hello(got.clone())));
//! pump.flush(); // moves bytes both ways until nothing moves
//! assert_eq!(*got.borrow(), b"hi");
//! pump.client().lose_connection();
//! pump.flush();
//! assert!(pump.is_closed());
//! ```
//!
//! Bytes move only in [`flush`](LoopbackPump::flush), all of what was written in one
//! `data_received` call, so a test decides when the network "delivers". Closing follows
//! the socket transport's rules: `lose_connection` closes once what was written is
//! delivered, and both protocols then hear `connection_lost` (clean, or
//! [`ConnectionLost::Aborted`] after `abort_connection`); `lose_write_connection` shows up
//! on the other side as `read_connection_lost` when it handles half-close, or closes.

use std::{
    cell::{Cell, RefCell},
    fmt,
    net::SocketAddr,
    rc::Rc,
};

use crate::{
    net::{
        Address, CloseReason, ConnectionLost, Producer, ProducerAlreadyRegistered, Protocol,
        Transport, WriteLimits,
    },
    Failure,
};

/// Two protocols connected in memory; see the [module docs](self).
pub struct LoopbackPump {
    server: Rc<End>,
    client: Rc<End>,
}

/// One end of a [`LoopbackPump`]: the transport its protocol holds.
pub struct End {
    host: Address,
    peer: Address,
    protocol: RefCell<Option<Box<dyn Protocol>>>,
    outgoing: RefCell<Vec<u8>>,
    disconnecting: Cell<bool>,
    aborted: Cell<bool>,
    write_closed: Cell<bool>,
    /// The other side was told our write side closed.
    write_close_delivered: Cell<bool>,
    reading_paused: Cell<bool>,
    closed: Cell<bool>,
    producer: RefCell<Option<Producer>>,
}

const SERVER: &str = "127.0.0.1:8000";
const CLIENT: &str = "127.0.0.1:50000";

impl LoopbackPump {
    /// Connects `server` and `client`: each hears `connection_made` (server first), and
    /// nothing moves until [`flush`](LoopbackPump::flush).
    pub fn connect(server: Box<dyn Protocol>, client: Box<dyn Protocol>) -> LoopbackPump {
        // Invariant: both constants parse.
        let addr = |s: &str| Address::Tcp(s.parse::<SocketAddr>().expect("valid address"));
        let server_end = End::new(addr(SERVER), addr(CLIENT), server);
        let client_end = End::new(addr(CLIENT), addr(SERVER), client);
        for end in [&server_end, &client_end] {
            let transport: Rc<dyn Transport> = end.clone();
            end.call(|p| p.connection_made(transport));
        }
        LoopbackPump {
            server: server_end,
            client: client_end,
        }
    }

    /// The server protocol's transport.
    pub fn server(&self) -> Rc<dyn Transport> {
        self.server.clone()
    }

    /// The client protocol's transport.
    pub fn client(&self) -> Rc<dyn Transport> {
        self.client.clone()
    }

    /// Delivers what each side wrote to the other, and the closes that follow, until
    /// nothing moves. Returns whether anything moved.
    pub fn flush(&self) -> bool {
        let mut any = false;
        loop {
            let mut moved = false;
            for (from, to) in [(&self.server, &self.client), (&self.client, &self.server)] {
                moved |= deliver(from, to);
            }
            for (end, other) in [(&self.server, &self.client), (&self.client, &self.server)] {
                moved |= settle(end, other);
            }
            if !moved {
                return any;
            }
            any = true;
        }
    }

    /// Both ends are closed and both protocols heard `connection_lost`.
    pub fn is_closed(&self) -> bool {
        self.server.closed.get() && self.client.closed.get()
    }
}

/// Moves what `from` wrote into `to`'s protocol.
fn deliver(from: &End, to: &End) -> bool {
    if to.closed.get() || to.reading_paused.get() || from.outgoing.borrow().is_empty() {
        return false;
    }
    let data = std::mem::take(&mut *from.outgoing.borrow_mut());
    to.call(|p| p.data_received(&data));
    true
}

/// Carries out `end`'s closes, telling `other` too.
fn settle(end: &End, other: &End) -> bool {
    if end.closed.get() {
        return false;
    }
    if end.aborted.get() {
        let lost = |_: ()| CloseReason::Lost(Failure::new(ConnectionLost::Aborted));
        end.close(lost(()));
        other.close(lost(()));
        return true;
    }
    if !end.outgoing.borrow().is_empty() {
        return false;
    }
    if end.disconnecting.get() {
        end.close(CloseReason::Clean);
        other.close(CloseReason::Clean);
        return true;
    }
    if end.write_closed.get() && !end.write_close_delivered.replace(true) {
        if end.call(|p| p.handles_half_close()) == Some(true) {
            end.call(|p| p.write_connection_lost());
        }
        if other.call(|p| p.handles_half_close()) == Some(true) {
            other.call(|p| p.read_connection_lost());
        } else {
            other.disconnecting.set(true);
        }
        return true;
    }
    false
}

impl End {
    fn new(host: Address, peer: Address, protocol: Box<dyn Protocol>) -> Rc<End> {
        Rc::new(End {
            host,
            peer,
            protocol: RefCell::new(Some(protocol)),
            outgoing: RefCell::default(),
            disconnecting: Cell::new(false),
            aborted: Cell::new(false),
            write_closed: Cell::new(false),
            write_close_delivered: Cell::new(false),
            reading_paused: Cell::new(false),
            closed: Cell::new(false),
            producer: RefCell::new(None),
        })
    }

    fn call<R>(&self, f: impl FnOnce(&mut dyn Protocol) -> R) -> Option<R> {
        let mut slot = self.protocol.borrow_mut();
        slot.as_mut().map(|p| f(&mut **p))
    }

    fn close(&self, reason: CloseReason) {
        if self.closed.replace(true) {
            return;
        }
        self.outgoing.borrow_mut().clear();
        if let Some(producer) = self.producer.borrow_mut().take() {
            producer.stop();
        }
        self.call(|p| p.connection_lost(reason));
        let protocol = self.protocol.borrow_mut().take();
        drop(protocol);
    }

    fn accepts_writes(&self) -> bool {
        !self.closed.get() && !self.aborted.get() && !self.write_closed.get()
    }
}

impl Transport for End {
    fn write(&self, data: &[u8]) {
        if self.accepts_writes() {
            self.outgoing.borrow_mut().extend_from_slice(data);
        }
    }

    fn write_sequence(&self, data: &[&[u8]]) {
        for part in data {
            self.write(part);
        }
    }

    fn lose_connection(&self) {
        self.disconnecting.set(true);
    }

    fn abort_connection(&self) {
        self.aborted.set(true);
    }

    fn lose_write_connection(&self) {
        self.write_closed.set(true);
    }

    fn peer(&self) -> Address {
        self.peer.clone()
    }

    fn host(&self) -> Address {
        self.host.clone()
    }

    fn pause_producing(&self) {
        self.reading_paused.set(true);
    }

    fn resume_producing(&self) {
        self.reading_paused.set(false);
    }

    fn stop_producing(&self) {
        self.lose_connection();
    }

    fn register_producer(&self, producer: Producer) -> Result<(), ProducerAlreadyRegistered> {
        let mut slot = self.producer.borrow_mut();
        if slot.is_some() {
            return Err(ProducerAlreadyRegistered);
        }
        *slot = Some(producer);
        Ok(())
    }

    fn unregister_producer(&self) {
        self.producer.borrow_mut().take();
    }

    fn set_write_limits(&self, _: WriteLimits) {}

    fn buffered(&self) -> usize {
        self.outgoing.borrow().len()
    }

    fn is_closing(&self) -> bool {
        self.closed.get() || self.disconnecting.get() || self.aborted.get()
    }
}

impl fmt::Debug for LoopbackPump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackPump")
            .field("server", &self.server)
            .field("client", &self.client)
            .finish()
    }
}

impl fmt::Debug for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("End")
            .field("host", &self.host)
            .field("buffered", &self.outgoing.borrow().len())
            .field("closed", &self.closed.get())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::basic::{LineProtocol, LineReceiver, Lines};

    /// Answers lines, records everything it heard.
    #[derive(Clone, Default)]
    struct Log(Rc<RefCell<Vec<String>>>);

    struct Upper(Log);
    impl LineReceiver for Upper {
        fn line_received(&mut self, lines: &Lines, line: &[u8]) {
            lines.send_line(&line.to_ascii_uppercase());
        }
        fn connection_lost(&mut self, reason: CloseReason) {
            self.0
                 .0
                .borrow_mut()
                .push(format!("server lost: {reason}"));
        }
    }

    struct Ask(Log);
    impl LineReceiver for Ask {
        fn connection_made(&mut self, lines: &Lines) {
            lines.send_line(b"hello");
            lines.transport().lose_write_connection();
        }
        fn line_received(&mut self, _: &Lines, line: &[u8]) {
            self.0
                 .0
                .borrow_mut()
                .push(String::from_utf8_lossy(line).into_owned());
        }
        fn connection_lost(&mut self, reason: CloseReason) {
            self.0
                 .0
                .borrow_mut()
                .push(format!("client lost: {reason}"));
        }
    }

    #[test]
    fn a_half_closing_client_gets_its_answer_before_the_close() {
        let log = Log::default();
        let pump = LoopbackPump::connect(
            Box::new(LineProtocol::new(Upper(log.clone()))),
            Box::new(LineProtocol::new(Ask(log.clone()))),
        );
        assert!(pump.flush());
        assert!(pump.is_closed());
        assert_eq!(
            *log.0.borrow(),
            [
                "HELLO",
                "server lost: connection closed cleanly",
                "client lost: connection closed cleanly"
            ]
        );
        assert!(!pump.flush(), "nothing left to move");
    }

    #[test]
    fn abort_reaches_both_sides_as_lost() {
        let log = Log::default();
        let pump = LoopbackPump::connect(
            Box::new(LineProtocol::new(Upper(log.clone()))),
            Box::new(crate::protocols::wire::Discard),
        );
        pump.server().abort_connection();
        pump.flush();
        assert_eq!(
            *log.0.borrow(),
            ["server lost: connection lost: connection aborted"]
        );
    }
}
