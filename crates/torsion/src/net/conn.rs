//! The socket transport: one connected stream socket (TCP or Unix) and its protocol,
//! driven by the sans-IO [`StreamState`](super::stream_state::StreamState) (which
//! decides) and the rules that keep calls into the protocol safe. This file is the
//! adapter: it moves bytes, watches readiness and makes the calls the state asks for.
//!
//! **Re-entrancy.** A protocol holds an `Rc<dyn Transport>` to its `Conn` and calls it
//! from inside its own callbacks. Transport methods therefore only change the state (one
//! short `RefCell` borrow, never held across a user call) and never call the protocol.
//! Whatever must reach the protocol (its `connection_lost`, `write_connection_lost`, a
//! pull producer's turn) is done by [`Conn::settle`], which runs when the outermost
//! callback returns (`busy` counts the nesting) or, when a transport method was called
//! from elsewhere (a timer), on the next loop turn.
//!
//! **Lifetime.** An open `Conn` keeps itself alive (`keep`); the reactor's readiness
//! handler holds only a `Weak`. Closing drops the protocol and `keep`, so the cycle
//! protocol -> transport -> protocol ends with the connection.
//!
//! **Hot path.** Reads go into the thread's shared read buffer; a read shorter than the
//! buffer means the socket was drained (a later arrival is a new edge), so no extra
//! `read` to see `WouldBlock`. Writes go to the socket at once; only what it pushed back
//! is buffered, and only then is writability watched.

use std::{
    cell::RefCell,
    fmt,
    io::{self, IoSlice, Read},
    net::Shutdown,
    panic::{catch_unwind, AssertUnwindSafe},
    rc::{Rc, Weak},
    time::Duration,
};

use socket2::Socket;

use super::{
    buffer::{with_read_buffer, READ_BUFFER_SIZE},
    reentry::Reentry,
    stream_state::{Action, Overflow, Registered, StreamState},
    Address, CloseReason, ConnectionLost, Producer, ProducerAlreadyRegistered, Protocol, Transport,
    WriteLimits,
};
use crate::{
    reactor::{guard::panic_message, Interest, IoToken, Reactor, Readiness},
    sys::unix::SEND_FLAGS,
    Failure,
};

/// Bytes one connection may read in one readiness event before the loop moves on to
/// the others (fairness: a flooding peer cannot starve the rest).
pub(crate) const READ_BUDGET: usize = 4 * READ_BUFFER_SIZE;

/// Called once when the connection is gone, after the protocol heard it.
pub(crate) type OnClose = Box<dyn FnOnce(&CloseReason)>;

/// A connected stream socket and its protocol.
pub(crate) struct Conn {
    me: Weak<Conn>,
    reactor: Reactor,
    host: Address,
    peer: Address,
    state: RefCell<Io>,
    protocol: RefCell<Option<Box<dyn Protocol>>>,
    /// Running protocol calls and a due settle (see `net::reentry`).
    reentry: Reentry,
    on_close: RefCell<Option<OnClose>>,
    /// Self-reference while open: the reactor's handler holds only a `Weak`.
    keep: RefCell<Option<Rc<Conn>>>,
}

/// The socket side and the state machine, behind one `RefCell` (one borrow per step).
struct Io {
    /// `None` once closed.
    socket: Option<Socket>,
    token: Option<IoToken>,
    /// The readiness registered for.
    interest: Option<Interest>,
    stream: StreamState,
}

/// What one read did.
enum Step {
    Data(usize),
    Eof,
    Stop,
    Again,
    Failed(io::Error),
}

impl Conn {
    /// Wraps a connected, non-blocking socket, calls `connection_made` and starts
    /// reading.
    pub(crate) fn start(
        reactor: &Reactor,
        socket: Socket,
        host: Address,
        peer: Address,
        protocol: Box<dyn Protocol>,
        on_close: Option<OnClose>,
    ) -> Rc<Conn> {
        if matches!(peer, Address::Tcp(_)) {
            // Latency over batching, as Twisted and tokio users expect; failure only
            // costs latency.
            let _ = socket.set_tcp_nodelay(true);
        }
        let conn = Rc::new_cyclic(|me| Conn {
            me: me.clone(),
            reactor: reactor.clone(),
            host,
            peer,
            state: RefCell::new(Io {
                socket: Some(socket),
                token: None,
                interest: None,
                stream: StreamState::default(),
            }),
            protocol: RefCell::new(Some(protocol)),
            reentry: Reentry::default(),
            on_close: RefCell::new(on_close),
            keep: RefCell::new(None),
        });
        *conn.keep.borrow_mut() = Some(conn.clone());
        let transport: Rc<dyn Transport> = conn.clone();
        conn.call_protocol(|p| p.connection_made(transport));
        conn.settle();
        conn
    }

    /// The readiness handler.
    fn on_ready(&self, readiness: Readiness) {
        if self.state.borrow().stream.is_closed() {
            return;
        }
        {
            let _busy = self.reentry.enter();
            if readiness.is_writable() || readiness.is_error() {
                self.flush();
            }
            if readiness.is_readable() || readiness.is_hangup() || readiness.is_error() {
                self.read(readiness.is_hangup());
            }
        }
        self.settle();
    }

    /// Reads until the socket is drained, the budget is spent or reading should stop.
    fn read(&self, hangup: bool) {
        let mut budget = READ_BUDGET;
        loop {
            let step = with_read_buffer(|buf| {
                let result = {
                    let st = self.state.borrow();
                    match st.socket.as_ref() {
                        Some(socket) if st.stream.wants_read() => (&mut &*socket).read(buf),
                        _ => return Step::Stop,
                    }
                };
                match result {
                    Ok(0) => Step::Eof,
                    Ok(n) => {
                        // Invariant: `read` returned at most `buf.len()`.
                        self.call_protocol(|p| p.data_received(&buf[..n]));
                        Step::Data(n)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Step::Stop,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => Step::Again,
                    Err(e) => Step::Failed(e),
                }
            });
            match step {
                Step::Data(n) => {
                    budget = budget.saturating_sub(n);
                    if n < READ_BUFFER_SIZE && !hangup {
                        break; // drained: more data is a new edge
                    }
                    if budget == 0 {
                        self.state.borrow_mut().stream.rearm();
                        break;
                    }
                }
                Step::Again => {}
                Step::Stop => break,
                Step::Eof => {
                    self.eof();
                    break;
                }
                Step::Failed(e) => {
                    let lost = self.lost_io("read", e);
                    self.state.borrow_mut().stream.fail(lost);
                    break;
                }
            }
        }
    }

    /// The peer sent its end of file.
    fn eof(&self) {
        let half_close = self.call_protocol(|p| p.handles_half_close()) == Some(true);
        self.state.borrow_mut().stream.eof(half_close);
        if half_close {
            self.call_protocol(|p| p.read_connection_lost());
        }
    }

    /// Sends what is buffered, as far as the socket takes it.
    fn flush(&self) {
        let resume = {
            let st = &mut *self.state.borrow_mut();
            while st.stream.buffered() > 0 {
                let Some(socket) = st.socket.as_ref() else {
                    break;
                };
                match socket.send_with_flags(st.stream.pending(), SEND_FLAGS) {
                    Ok(n) => st.stream.sent(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let lost = self.lost_io("write", e);
                        st.stream.write_failed(lost);
                        break;
                    }
                }
            }
            st.stream.after_drain()
        };
        if let Some(producer) = resume {
            let _busy = self.reentry.enter();
            producer.resume_producing();
        }
    }

    /// Does what the state asks for: close, shut the write side, feed a pull producer;
    /// then watches the socket for what is wanted next. Runs only outside callbacks.
    fn settle(&self) {
        if self.reentry.is_busy() {
            return;
        }
        loop {
            let action = self.state.borrow_mut().stream.next_action();
            match action {
                Action::Idle => {
                    self.update_interest();
                    return;
                }
                Action::Close { reason, reset } => {
                    self.close(reason, reset);
                    return;
                }
                Action::ShutWrite => self.shut_write(),
                Action::Pull(producer) => {
                    let _busy = self.reentry.enter();
                    producer.resume_producing();
                }
            }
        }
    }

    /// Shuts the socket's write side; a half-close protocol hears it.
    fn shut_write(&self) {
        let shut = {
            let st = &mut *self.state.borrow_mut();
            match st.socket.as_ref().map(|s| s.shutdown(Shutdown::Write)) {
                Some(Err(e)) => {
                    let lost = self.lost_io("shutdown", e);
                    st.stream.fail(lost);
                    false
                }
                _ => true,
            }
        };
        if shut && self.call_protocol(|p| p.handles_half_close()) == Some(true) {
            self.call_protocol(|p| p.write_connection_lost());
        }
    }

    /// Closes the socket and tells the protocol, its producer and the owner.
    fn close(&self, reason: CloseReason, reset: bool) {
        let (socket, token, producer) = {
            let st = &mut *self.state.borrow_mut();
            st.interest = None;
            (st.socket.take(), st.token.take(), st.stream.take_producer())
        };
        if let Some(token) = token {
            let _ = self.reactor.deregister_fd(token);
        }
        if let Some(socket) = socket {
            close_socket(socket, reason.is_clean(), reset);
        }
        match &reason {
            CloseReason::Clean => tracing::trace!(peer = %self.peer, "connection closed"),
            CloseReason::Lost(failure) => {
                tracing::debug!(peer = %self.peer, "connection lost: {failure}");
            }
        }
        if let Some(producer) = producer {
            let _busy = self.reentry.enter();
            producer.stop();
        }
        self.call_protocol(|p| p.connection_lost(reason.clone()));
        let protocol = self.protocol.borrow_mut().take();
        drop(protocol);
        let on_close = self.on_close.borrow_mut().take();
        if let Some(on_close) = on_close {
            on_close(&reason);
        }
        let keep = self.keep.borrow_mut().take();
        drop(keep);
    }

    /// Calls the protocol; a panic closes this connection with the panic as the reason.
    fn call_protocol<R>(&self, f: impl FnOnce(&mut dyn Protocol) -> R) -> Option<R> {
        let _busy = self.reentry.enter();
        let Ok(mut slot) = self.protocol.try_borrow_mut() else {
            tracing::error!(peer = %self.peer, "protocol called while it was running: call dropped");
            return None;
        };
        let protocol = slot.as_mut()?;
        crate::defer::blame(crate::defer::Blame::Protocol(protocol.type_name()));
        match catch_unwind(AssertUnwindSafe(|| f(&mut **protocol))) {
            Ok(value) => Some(value),
            Err(payload) => {
                tracing::error!(
                    peer = %self.peer,
                    "protocol for the connection with {} panicked: {}; closing that connection",
                    self.peer,
                    panic_message(payload.as_ref()),
                );
                crate::defer::report_unobserved(tracing::Level::ERROR, || {
                    format!(
                        "protocol {} for the connection with {} panicked: {}; closing that \
                         connection",
                        protocol.type_name(),
                        self.peer,
                        panic_message(payload.as_ref()),
                    )
                });
                drop(slot);
                let failure = Failure::from_panic(payload);
                self.state.borrow_mut().stream.fail(failure);
                None
            }
        }
    }

    /// After a transport method changed the state: act now if no callback is running
    /// (interest only), or on the next turn (anything that calls the protocol).
    fn changed(&self) {
        if self.reentry.is_busy() {
            return;
        }
        if self.state.borrow().stream.needs_settle() {
            self.schedule_settle();
        } else {
            self.update_interest();
        }
    }

    fn schedule_settle(&self) {
        self.reentry.schedule(
            &self.reactor,
            self.me.clone(),
            |conn| &conn.reentry,
            |conn| conn.settle(),
        );
    }

    /// Registers, reregisters or deregisters the socket for what the state wants.
    #[inline]
    fn update_interest(&self) {
        let st = &mut *self.state.borrow_mut();
        if st.stream.is_closed() {
            return;
        }
        let want = st.stream.wanted_interest();
        // What most callbacks end with: registered for the same interest, no re-arm due
        // (the `(Some(_), Some(_))` arm below that does nothing), checked inline.
        if let (Some(_), Some(interest)) = (st.token, want) {
            if !st.stream.rearm_due() && st.interest == Some(interest) {
                return;
            }
        }
        self.register_interest(st, want);
    }

    /// Registers, reregisters or deregisters the socket for `want`.
    #[inline(never)]
    fn register_interest(&self, st: &mut Io, want: Option<Interest>) {
        let rearm = st.stream.take_rearm();
        let result = match (st.token, want) {
            (None, None) => Ok(()),
            (Some(token), None) => {
                st.token = None;
                self.reactor.deregister_fd(token)
            }
            (None, Some(interest)) => match st.socket.as_ref() {
                Some(socket) => {
                    let me = self.me.clone();
                    self.reactor
                        .register_fd(socket, interest, move |_, readiness| {
                            if let Some(conn) = me.upgrade() {
                                conn.on_ready(readiness);
                            }
                        })
                        .map(|token| st.token = Some(token))
                }
                None => Ok(()),
            },
            (Some(token), Some(interest)) if rearm || st.interest != Some(interest) => {
                self.reactor.reregister_fd(token, interest)
            }
            (Some(_), Some(_)) => Ok(()),
        };
        st.interest = want;
        if let Err(e) = result {
            let lost = self.lost_io("watch", e);
            st.stream.fail(lost);
            self.schedule_settle();
        }
    }

    /// Writes `parts` at once if nothing is waiting, buffering what the socket left.
    fn write_parts(&self, parts: &[&[u8]]) {
        let pause = {
            let st = &mut *self.state.borrow_mut();
            if !st.stream.accepts_writes() {
                return;
            }
            let total: usize = parts.iter().map(|p| p.len()).sum();
            if total == 0 {
                return;
            }
            let mut sent = 0;
            if st.stream.buffered() == 0 {
                if let Some(socket) = st.socket.as_ref() {
                    match send_parts(socket, parts) {
                        Ok(n) => sent = n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => {
                            let lost = self.lost_io("write", e);
                            st.stream.fail(lost);
                        }
                    }
                }
            }
            if sent == total || st.stream.is_failing() {
                None
            } else {
                match st.stream.buffer(parts, sent) {
                    Ok(pause) => pause,
                    Err(Overflow { wanted, limit }) => {
                        tracing::warn!(peer = %self.peer, "write buffer full: {wanted} bytes (max {limit}); closing the connection");
                        None
                    }
                }
            }
        };
        self.changed();
        if let Some(producer) = pause {
            producer.pause_producing();
        }
    }

    fn lost_io(&self, op: &'static str, source: io::Error) -> Failure {
        Failure::new(ConnectionLost::Io {
            op,
            peer: self.peer.clone(),
            source,
        })
    }

    fn with_socket<R>(&self, f: impl FnOnce(&Socket) -> io::Result<R>) -> io::Result<R> {
        match self.state.borrow().socket.as_ref() {
            Some(socket) => f(socket),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Transport for Conn {
    fn write(&self, data: &[u8]) {
        self.write_parts(&[data]);
    }

    fn write_sequence(&self, data: &[&[u8]]) {
        self.write_parts(data);
    }

    fn lose_connection(&self) {
        {
            let st = &mut *self.state.borrow_mut();
            if st.stream.is_closed() {
                return;
            }
            st.stream.lose();
        }
        self.changed();
    }

    fn abort_connection(&self) {
        if self.state.borrow_mut().stream.abort() {
            self.changed();
        }
    }

    fn lose_write_connection(&self) {
        self.state.borrow_mut().stream.lose_write();
        self.changed();
    }

    fn peer(&self) -> Address {
        self.peer.clone()
    }

    fn host(&self) -> Address {
        self.host.clone()
    }

    fn pause_producing(&self) {
        self.state.borrow_mut().stream.pause_reading();
        self.changed();
    }

    fn resume_producing(&self) {
        self.state.borrow_mut().stream.resume_reading();
        self.changed();
    }

    fn stop_producing(&self) {
        self.lose_connection();
    }

    fn register_producer(&self, producer: Producer) -> Result<(), ProducerAlreadyRegistered> {
        let registered = self.state.borrow_mut().stream.register_producer(producer)?;
        match registered {
            Registered::Done => {}
            Registered::Pause(producer) => producer.pause_producing(),
            Registered::Stop(producer) => producer.stop(),
        }
        self.changed();
        Ok(())
    }

    fn unregister_producer(&self) {
        self.state.borrow_mut().stream.unregister_producer();
    }

    fn set_write_limits(&self, limits: WriteLimits) {
        self.state.borrow_mut().stream.set_limits(limits);
    }

    fn buffered(&self) -> usize {
        self.state.borrow().stream.buffered()
    }

    fn is_closing(&self) -> bool {
        self.state.borrow().stream.is_closing()
    }

    fn set_keep_alive(&self, enabled: bool) -> io::Result<()> {
        self.with_socket(|s| s.set_keepalive(enabled))
    }

    fn set_no_delay(&self, enabled: bool) -> io::Result<()> {
        match self.peer {
            Address::Tcp(_) => self.with_socket(|s| s.set_tcp_nodelay(enabled)),
            Address::Unix(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("Conn")
            .field("host", &self.host)
            .field("peer", &self.peer)
            .field("buffered", &st.stream.buffered())
            .field("read", &st.stream.read_side())
            .field("write", &st.stream.write_side())
            .field("closed", &st.stream.is_closed())
            .finish_non_exhaustive()
    }
}

/// The most pieces one `writev` takes; the rest is buffered.
const MAX_IOV: usize = 64;

/// One `send` or `writev` of `parts`, retried on `EINTR`.
fn send_parts(socket: &Socket, parts: &[&[u8]]) -> io::Result<usize> {
    loop {
        let result = if let [one] = parts {
            socket.send_with_flags(one, SEND_FLAGS)
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let count = parts.len().min(MAX_IOV);
            for (slice, part) in slices.iter_mut().zip(parts) {
                *slice = IoSlice::new(part);
            }
            // Invariant: `count <= MAX_IOV`.
            socket.send_vectored_with_flags(&slices[..count], SEND_FLAGS)
        };
        match result {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Closes a socket the way its connection ended: a clean close sends FIN after
/// discarding unread input (closing with unread input would send a reset that can destroy
/// data still in flight to the peer); an abort resets.
fn close_socket(socket: Socket, clean: bool, reset: bool) {
    if reset {
        let _ = socket.set_linger(Some(Duration::ZERO));
    } else if clean {
        let _ = socket.shutdown(Shutdown::Write);
        with_read_buffer(|buf| {
            for _ in 0..READ_BUDGET / READ_BUFFER_SIZE {
                match (&mut &socket).read(buf) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        });
    }
    drop(socket);
}
