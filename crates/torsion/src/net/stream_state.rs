//! The stream transport's state machine, sans I/O: what a connection is doing (open,
//! closing after its buffer, failing, closed), each direction's state, the write buffer
//! and its producer. `conn.rs` is the adapter that moves bytes on a socket and calls the
//! protocol; this file decides, and is tested without a socket.
//!
//! The states are enums, so an illegal combination cannot be built: a failure exists
//! only while failing; "paused" belongs to a push producer and "due" to a pull producer;
//! a write side is open, waiting for the buffer to shut, or shut. The adapter asks
//! [`StreamState::next_action`] what to do once no callback runs, and
//! [`StreamState::wanted_interest`] what readiness to wait for.

use std::rc::Rc;

use super::{
    buffer::WriteBuffer, CloseReason, ConnectionLost, Producer, ProducerAlreadyRegistered,
    PullProducer, PushProducer, WriteLimits,
};
use crate::{reactor::Interest, Failure};

/// One connection's state.
#[derive(Default)]
pub(crate) struct StreamState {
    lifecycle: Lifecycle,
    read: ReadSide,
    write: WriteSide,
    producer: Option<ProducerState>,
    /// What the socket pushed back, in order.
    out: WriteBuffer,
    limits: WriteLimits,
    /// Reregister even if the interest did not change: edge-triggered readiness must be
    /// re-armed after a read budget ran out, reads resumed, or a pull producer had its
    /// turn.
    rearm: bool,
}

/// Where the connection as a whole stands.
#[derive(Default)]
enum Lifecycle {
    /// Reading and writing.
    #[default]
    Open,
    /// `lose_connection` (or the peer's end of file without half-close): close once the
    /// buffer is sent.
    Disconnecting,
    /// A failure closes the connection at the next settle; `reset` aborts (RST) instead
    /// of a clean FIN.
    Failing { failure: Failure, reset: bool },
    /// Gone; nothing more happens.
    Closed,
}

/// Our reading side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ReadSide {
    /// Reading when the socket is readable.
    #[default]
    Reading,
    /// `pause_producing`: not reading until resumed.
    Paused,
    /// The peer's end of file was read: nothing more comes.
    Eof,
}

/// Our writing side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum WriteSide {
    /// Writes are taken.
    #[default]
    Open,
    /// `lose_write_connection`: shut once the buffer is sent; writes are refused.
    ShutWanted,
    /// Shut (FIN sent).
    Shut,
}

/// The registered producer and its flow state.
enum ProducerState {
    /// Paused above the high water mark, resumed at the low one.
    Push {
        producer: Rc<dyn PushProducer>,
        paused: bool,
    },
    /// `ready`: due for `resume_producing` (the buffer drained).
    Pull {
        producer: Rc<dyn PullProducer>,
        ready: bool,
    },
}

/// What the adapter does next, once no callback runs.
pub(crate) enum Action {
    /// Nothing: wait for readiness.
    Idle,
    /// Close the socket (reset it when `reset`) and tell the protocol `reason`; the state
    /// is already closed.
    Close { reason: CloseReason, reset: bool },
    /// Shut the socket's write side, then tell a half-close protocol
    /// (`write_connection_lost`); on error, [`StreamState::fail`].
    ShutWrite,
    /// Give the pull producer its turn.
    Pull(Rc<dyn PullProducer>),
}

/// A write would have passed the buffer's hard limit: the connection is failing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overflow {
    pub(crate) wanted: usize,
    pub(crate) limit: usize,
}

/// What registering a producer asks of the adapter.
pub(crate) enum Registered {
    /// Nothing more.
    Done,
    /// The buffer is already above the high water mark: pause it.
    Pause(Rc<dyn PushProducer>),
    /// The connection is closed: stop it.
    Stop(Producer),
}

impl StreamState {
    /// An open connection with `limits`.
    #[cfg(test)]
    fn with_limits(limits: WriteLimits) -> StreamState {
        StreamState {
            limits,
            ..StreamState::default()
        }
    }

    /// Reads are wanted: open, and the read side neither paused nor at end of file.
    #[inline]
    pub(crate) fn wants_read(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Open) && self.read == ReadSide::Reading
    }

    /// Writes are taken: not failing or closed, and the write side still open.
    #[inline]
    pub(crate) fn accepts_writes(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Open | Lifecycle::Disconnecting)
            && self.write == WriteSide::Open
    }

    /// The readiness to wait for: reading unless paused or done, writing while bytes
    /// wait or a pull producer is registered.
    #[inline]
    pub(crate) fn wanted_interest(&self) -> Option<Interest> {
        let read = self.wants_read();
        let write =
            !self.out.is_empty() || matches!(self.producer, Some(ProducerState::Pull { .. }));
        match (read, write) {
            (true, true) => Some(Interest::BOTH),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        }
    }

    /// Whether the connection is closed.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Closed)
    }

    /// Closed, closing after its buffer, or failing (`Transport::is_closing`).
    pub(crate) fn is_closing(&self) -> bool {
        !matches!(self.lifecycle, Lifecycle::Open)
    }

    /// Whether a failure waits to close the connection.
    pub(crate) fn is_failing(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Failing { .. })
    }

    /// The read side's state.
    pub(crate) fn read_side(&self) -> ReadSide {
        self.read
    }

    /// The write side's state.
    pub(crate) fn write_side(&self) -> WriteSide {
        self.write
    }

    /// Bytes waiting in the write buffer.
    pub(crate) fn buffered(&self) -> usize {
        self.out.len()
    }

    /// The buffered bytes, for the next send.
    pub(crate) fn pending(&self) -> &[u8] {
        self.out.as_slice()
    }

    /// The socket took `n` buffered bytes.
    pub(crate) fn sent(&mut self, n: usize) {
        self.out.consume(n);
    }

    /// Sets the water marks and the hard limit.
    pub(crate) fn set_limits(&mut self, limits: WriteLimits) {
        self.limits = limits;
    }

    /// Takes the re-arm request (see the field).
    #[inline]
    pub(crate) fn take_rearm(&mut self) -> bool {
        std::mem::take(&mut self.rearm)
    }

    /// Whether a re-arm is due.
    #[inline]
    pub(crate) fn rearm_due(&self) -> bool {
        self.rearm
    }

    /// Asks for a re-arm: the read budget ran out with data left.
    pub(crate) fn rearm(&mut self) {
        self.rearm = true;
    }

    /// Records the first failure; it closes the connection at the next settle. Later
    /// failures, and failures once closed, are dropped: the first cause is the one
    /// reported.
    pub(crate) fn fail(&mut self, failure: Failure) {
        if matches!(self.lifecycle, Lifecycle::Open | Lifecycle::Disconnecting) {
            self.lifecycle = Lifecycle::Failing {
                failure,
                reset: false,
            };
        }
    }

    /// A send failed: the connection fails and what was buffered is dropped.
    pub(crate) fn write_failed(&mut self, failure: Failure) {
        self.fail(failure);
        self.out.clear();
    }

    /// `lose_connection`: close once the buffer is sent. A failing or closed connection
    /// stays so.
    pub(crate) fn lose(&mut self) {
        if matches!(self.lifecycle, Lifecycle::Open) {
            self.lifecycle = Lifecycle::Disconnecting;
        }
    }

    /// `abort_connection`: drop the buffer and reset. Returns whether anything changed
    /// (not when closed or already resetting). A failure already recorded stays the
    /// reason; the close becomes a reset.
    pub(crate) fn abort(&mut self) -> bool {
        match &mut self.lifecycle {
            Lifecycle::Closed | Lifecycle::Failing { reset: true, .. } => return false,
            Lifecycle::Failing { reset, .. } => *reset = true,
            Lifecycle::Open | Lifecycle::Disconnecting => {
                self.lifecycle = Lifecycle::Failing {
                    failure: Failure::new(ConnectionLost::Aborted),
                    reset: true,
                };
            }
        }
        self.out.clear();
        true
    }

    /// `lose_write_connection`: shut our side once the buffer is sent.
    pub(crate) fn lose_write(&mut self) {
        if self.write == WriteSide::Open {
            self.write = WriteSide::ShutWanted;
        }
    }

    /// The peer's end of file. A protocol that handles half-close (`half_close`) goes
    /// on writing; any other connection closes once its buffer is sent (Twisted drops
    /// the buffer here).
    pub(crate) fn eof(&mut self, half_close: bool) {
        self.read = ReadSide::Eof;
        if !half_close {
            self.lose();
        }
    }

    /// `pause_producing`: stop reading (end of file stays end of file).
    pub(crate) fn pause_reading(&mut self) {
        if self.read == ReadSide::Reading {
            self.read = ReadSide::Paused;
        }
    }

    /// `resume_producing`: read again, and re-arm readiness (an edge may have passed).
    pub(crate) fn resume_reading(&mut self) {
        if self.read == ReadSide::Paused {
            self.read = ReadSide::Reading;
        }
        self.rearm = true;
    }

    /// Whether a transport method left work that calls the protocol or a producer (a
    /// close, a shut, a pull turn): then the adapter settles from the loop.
    pub(crate) fn needs_settle(&self) -> bool {
        match self.lifecycle {
            Lifecycle::Failing { .. } => return true,
            Lifecycle::Disconnecting if self.out.is_empty() => return true,
            Lifecycle::Closed => return false,
            _ => {}
        }
        matches!(self.producer, Some(ProducerState::Pull { ready: true, .. }))
            || (self.out.is_empty() && self.write == WriteSide::ShutWanted)
    }

    /// The next step, in order: a failure closes, a drained disconnect closes cleanly, a
    /// drained write side shuts, both sides done closes cleanly, a due pull producer gets
    /// its turn.
    pub(crate) fn next_action(&mut self) -> Action {
        match self.lifecycle {
            Lifecycle::Closed => return Action::Idle,
            Lifecycle::Failing { .. } => {
                let failing = std::mem::replace(&mut self.lifecycle, Lifecycle::Closed);
                self.out.clear();
                let Lifecycle::Failing { failure, reset } = failing else {
                    return Action::Idle; // Invariant: matched as failing just above.
                };
                let reason = CloseReason::Lost(failure);
                return Action::Close { reason, reset };
            }
            Lifecycle::Disconnecting if self.out.is_empty() => return self.close_cleanly(),
            Lifecycle::Open | Lifecycle::Disconnecting => {}
        }
        if self.out.is_empty() && self.write == WriteSide::ShutWanted {
            self.write = WriteSide::Shut;
            return Action::ShutWrite;
        }
        if self.write == WriteSide::Shut && self.read == ReadSide::Eof {
            return self.close_cleanly();
        }
        if let Some(ProducerState::Pull { producer, ready }) = &mut self.producer {
            if std::mem::take(ready) {
                // Ask again next turn (through writability), not in the adapter's loop:
                // a producer that always writes must not hold the loop.
                self.rearm = true;
                return Action::Pull(producer.clone());
            }
        }
        Action::Idle
    }

    fn close_cleanly(&mut self) -> Action {
        self.lifecycle = Lifecycle::Closed;
        let reason = CloseReason::Clean;
        Action::Close {
            reason,
            reset: false,
        }
    }

    /// Buffers `parts` without their first `sent` bytes (those went to the socket).
    /// Returns the push producer to pause if the buffer passed the high water mark;
    /// [`Overflow`] when it would pass the hard limit: nothing is buffered, and the
    /// connection fails with [`ConnectionLost::WriteBufferFull`] and resets.
    pub(crate) fn buffer(
        &mut self,
        parts: &[&[u8]],
        sent: usize,
    ) -> Result<Option<Rc<dyn PushProducer>>, Overflow> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let wanted = self.out.len() + total.saturating_sub(sent);
        if wanted > self.limits.max {
            let limit = self.limits.max;
            self.fail(Failure::new(ConnectionLost::WriteBufferFull {
                wanted,
                limit,
            }));
            self.abort();
            return Err(Overflow { wanted, limit });
        }
        let mut skip = sent;
        for part in parts {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            // Invariant: `skip < part.len()` here.
            self.out.push(&part[skip..]);
            skip = 0;
        }
        Ok(self.pause_if_full())
    }

    /// After the buffer grew: the push producer to pause, if it passed the high mark.
    pub(crate) fn pause_if_full(&mut self) -> Option<Rc<dyn PushProducer>> {
        match &mut self.producer {
            Some(ProducerState::Push { producer, paused })
                if !*paused && self.out.len() > self.limits.high_water =>
            {
                *paused = true;
                Some(producer.clone())
            }
            _ => None,
        }
    }

    /// After the buffer shrank: a push producer to resume (at or below the low mark), or
    /// a pull producer's turn (once empty).
    pub(crate) fn after_drain(&mut self) -> Option<Rc<dyn PushProducer>> {
        match &mut self.producer {
            Some(ProducerState::Push { producer, paused })
                if *paused && self.out.len() <= self.limits.low_water =>
            {
                *paused = false;
                Some(producer.clone())
            }
            Some(ProducerState::Pull { ready, .. }) if self.out.is_empty() => {
                *ready = true;
                None
            }
            _ => None,
        }
    }

    /// Registers `producer`: a pull producer is due at once, a push producer is paused
    /// at once if the buffer is above the high mark, and on a closed connection the
    /// producer is stopped.
    ///
    /// # Errors
    /// [`ProducerAlreadyRegistered`], leaving the first one in place.
    pub(crate) fn register_producer(
        &mut self,
        producer: Producer,
    ) -> Result<Registered, ProducerAlreadyRegistered> {
        if self.producer.is_some() {
            return Err(ProducerAlreadyRegistered);
        }
        if self.is_closed() {
            return Ok(Registered::Stop(producer));
        }
        self.producer = Some(match producer {
            Producer::Push(producer) => ProducerState::Push {
                producer,
                paused: false,
            },
            Producer::Pull(producer) => ProducerState::Pull {
                producer,
                ready: true,
            },
        });
        Ok(match self.pause_if_full() {
            Some(push) => Registered::Pause(push),
            None => Registered::Done,
        })
    }

    /// Forgets the producer.
    pub(crate) fn unregister_producer(&mut self) {
        self.producer = None;
    }

    /// Takes the producer away (the connection closed: the adapter stops it).
    pub(crate) fn take_producer(&mut self) -> Option<Producer> {
        self.producer.take().map(|state| match state {
            ProducerState::Push { producer, .. } => Producer::Push(producer),
            ProducerState::Pull { producer, .. } => Producer::Pull(producer),
        })
    }
}

#[cfg(test)]
#[path = "stream_state_tests.rs"]
mod tests;
