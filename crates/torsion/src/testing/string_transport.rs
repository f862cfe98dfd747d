//! [`StringTransport`]: a transport that records what a protocol does to it (Twisted's
//! `proto_helpers.StringTransport`), to test a protocol byte by byte without sockets.
//!
//! ```
//! use std::rc::Rc;
//! use torsion::net::{CloseReason, Protocol, Transport};
//! use torsion::testing::StringTransport;
//!
//! /// Answers "pong" to "ping" and hangs up.
//! #[derive(Default)]
//! struct Pong(Option<Rc<dyn Transport>>);
//! impl Protocol for Pong {
//!     fn connection_made(&mut self, t: Rc<dyn Transport>) { self.0 = Some(t) }
//!     fn data_received(&mut self, data: &[u8]) {
//!         let t = self.0.as_ref().unwrap();
//!         if data == b"ping" { t.write(b"pong"); t.lose_connection(); }
//!     }
//! }
//!
//! let transport = StringTransport::new();
//! let mut pong = Pong::default();
//! pong.connection_made(transport.clone());
//! pong.data_received(b"ping");
//! assert_eq!(transport.value(), b"pong");
//! assert!(transport.disconnecting());
//! pong.connection_lost(CloseReason::Clean); // the test plays the reactor's part
//! ```
//!
//! Nothing is ever sent: writes accumulate in [`value`](StringTransport::value) until
//! [`clear`](StringTransport::clear). Closing only sets flags; delivering
//! `connection_lost` is up to the test, as with Twisted's.

use std::{cell::RefCell, fmt, net::SocketAddr, rc::Rc};

use crate::net::{Address, Producer, ProducerAlreadyRegistered, Transport, WriteLimits};

/// A transport that records writes and close calls; see the `testing` module docs.
pub struct StringTransport {
    state: RefCell<State>,
    host: Address,
    peer: Address,
}

#[derive(Default)]
struct State {
    written: Vec<u8>,
    writes: usize,
    disconnecting: bool,
    aborted: bool,
    write_closed: bool,
    reading_paused: bool,
    producing_stopped: bool,
    producer: Option<Producer>,
    limits: WriteLimits,
}

/// The addresses a [`StringTransport`] reports unless told otherwise.
const HOST: &str = "10.0.0.1:1234";
const PEER: &str = "10.0.0.2:5678";

impl StringTransport {
    /// A transport between `10.0.0.1:1234` (host) and `10.0.0.2:5678` (peer).
    pub fn new() -> Rc<StringTransport> {
        // Invariant: both constants parse.
        let parse = |s: &str| Address::Tcp(s.parse::<SocketAddr>().expect("valid address"));
        StringTransport::with_addresses(parse(HOST), parse(PEER))
    }

    /// A transport with the given ends.
    pub fn with_addresses(host: Address, peer: Address) -> Rc<StringTransport> {
        Rc::new(StringTransport {
            state: RefCell::default(),
            host,
            peer,
        })
    }

    /// Everything written since the last [`clear`](StringTransport::clear).
    pub fn value(&self) -> Vec<u8> {
        self.state.borrow().written.clone()
    }

    /// Returns what was written and forgets it.
    pub fn take_value(&self) -> Vec<u8> {
        std::mem::take(&mut self.state.borrow_mut().written)
    }

    /// Forgets what was written.
    pub fn clear(&self) {
        self.state.borrow_mut().written.clear();
    }

    /// How many `write`/`write_sequence` calls were made.
    pub fn write_count(&self) -> usize {
        self.state.borrow().writes
    }

    /// `lose_connection` (or `stop_producing`) was called.
    pub fn disconnecting(&self) -> bool {
        self.state.borrow().disconnecting
    }

    /// `abort_connection` was called.
    pub fn aborted(&self) -> bool {
        self.state.borrow().aborted
    }

    /// `lose_write_connection` was called.
    pub fn write_closed(&self) -> bool {
        self.state.borrow().write_closed
    }

    /// Reading is paused (`pause_producing` without `resume_producing`).
    pub fn reading_paused(&self) -> bool {
        self.state.borrow().reading_paused
    }

    /// `stop_producing` was called.
    pub fn producing_stopped(&self) -> bool {
        self.state.borrow().producing_stopped
    }

    /// The registered producer.
    pub fn producer(&self) -> Option<Producer> {
        self.state.borrow().producer.clone()
    }

    /// The limits last set with `set_write_limits`.
    pub fn write_limits(&self) -> WriteLimits {
        self.state.borrow().limits
    }
}

impl Transport for StringTransport {
    fn write(&self, data: &[u8]) {
        let mut st = self.state.borrow_mut();
        st.written.extend_from_slice(data);
        st.writes += 1;
    }

    fn write_sequence(&self, data: &[&[u8]]) {
        let mut st = self.state.borrow_mut();
        for part in data {
            st.written.extend_from_slice(part);
        }
        st.writes += 1;
    }

    fn lose_connection(&self) {
        self.state.borrow_mut().disconnecting = true;
    }

    fn abort_connection(&self) {
        let mut st = self.state.borrow_mut();
        st.aborted = true;
        st.disconnecting = true;
    }

    fn lose_write_connection(&self) {
        self.state.borrow_mut().write_closed = true;
    }

    fn peer(&self) -> Address {
        self.peer.clone()
    }

    fn host(&self) -> Address {
        self.host.clone()
    }

    fn pause_producing(&self) {
        self.state.borrow_mut().reading_paused = true;
    }

    fn resume_producing(&self) {
        self.state.borrow_mut().reading_paused = false;
    }

    fn stop_producing(&self) {
        let mut st = self.state.borrow_mut();
        st.producing_stopped = true;
        st.disconnecting = true;
    }

    fn register_producer(&self, producer: Producer) -> Result<(), ProducerAlreadyRegistered> {
        let mut st = self.state.borrow_mut();
        if st.producer.is_some() {
            return Err(ProducerAlreadyRegistered);
        }
        st.producer = Some(producer);
        Ok(())
    }

    fn unregister_producer(&self) {
        self.state.borrow_mut().producer = None;
    }

    fn set_write_limits(&self, limits: WriteLimits) {
        self.state.borrow_mut().limits = limits;
    }

    fn buffered(&self) -> usize {
        0
    }

    fn is_closing(&self) -> bool {
        self.state.borrow().disconnecting
    }
}

impl fmt::Debug for StringTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("StringTransport")
            .field("written", &st.written.len())
            .field("disconnecting", &st.disconnecting)
            .finish_non_exhaustive()
    }
}
