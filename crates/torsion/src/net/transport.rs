//! [`Transport`]: what a protocol writes to (Twisted's `ITransport`, `ITCPTransport`,
//! `IConsumer`), and the producers that feed it (`IPushProducer`, `IPullProducer`).

use std::{fmt, io, rc::Rc};

use super::Address;

/// The write buffer size above which a registered push producer is paused (Twisted's
/// `bufferSize`).
pub const DEFAULT_HIGH_WATER: usize = 64 * 1024;
/// The write buffer size at or below which a paused push producer is resumed.
pub const DEFAULT_LOW_WATER: usize = 16 * 1024;
/// The size a write buffer may never pass: a write that would grow it further closes
/// the connection with [`ConnectionLost::WriteBufferFull`](super::ConnectionLost).
pub const DEFAULT_MAX_WRITE_BUFFER: usize = 128 * 1024 * 1024;

/// One end of a connection, as its protocol sees it (Twisted's `ITransport`).
///
/// Every method takes `&self` and is safe to call from inside the protocol's own
/// callbacks: a transport never calls its protocol back from one of these methods.
/// What a call starts (closing, telling the protocol the connection is gone) happens
/// once the callback returns, or on the next loop turn when called from elsewhere.
pub trait Transport {
    /// Sends `data`, at once if the socket takes it, else from the write buffer as it
    /// drains. Never blocks. Ignored once the connection (or its sending side) is
    /// closing for good.
    fn write(&self, data: &[u8]);

    /// Sends the pieces in order, with one `writev` when the buffer is empty.
    fn write_sequence(&self, data: &[&[u8]]);

    /// Closes after everything written so far has been sent (Twisted's
    /// `loseConnection`); reads stop at once. The protocol then hears
    /// `connection_lost(CloseReason::Clean)`.
    fn lose_connection(&self);

    /// Closes at once, dropping what is buffered and resetting the peer; the protocol
    /// hears `connection_lost` with [`ConnectionLost::Aborted`](super::ConnectionLost).
    fn abort_connection(&self);

    /// Shuts our sending side once the buffer drained (half-close), keeping the reading
    /// side open (Twisted's `loseWriteConnection`).
    fn lose_write_connection(&self);

    /// The other end.
    fn peer(&self) -> Address;

    /// Our end.
    fn host(&self) -> Address;

    /// Stops reading until [`resume_producing`](Transport::resume_producing): data stays
    /// in the kernel, and TCP flow control slows the peer.
    fn pause_producing(&self);

    /// Reads again after [`pause_producing`](Transport::pause_producing).
    fn resume_producing(&self);

    /// Stops reading for good and closes, as `lose_connection`.
    fn stop_producing(&self);

    /// Registers what feeds this transport: a push producer is paused above the high
    /// water mark and resumed at the low one; a pull producer is asked for more each
    /// time the buffer drains (Twisted's `registerProducer(producer, streaming)`).
    /// On close, the producer is stopped.
    ///
    /// # Errors
    /// [`ProducerAlreadyRegistered`] when one is registered already.
    fn register_producer(&self, producer: Producer) -> Result<(), ProducerAlreadyRegistered>;

    /// Forgets the registered producer, if any.
    fn unregister_producer(&self);

    /// Sets the water marks and the hard limit of the write buffer.
    fn set_write_limits(&self, limits: WriteLimits);

    /// Bytes written but not yet taken by the socket.
    fn buffered(&self) -> usize;

    /// True once `lose_connection`, `abort_connection` or a failure began closing.
    fn is_closing(&self) -> bool;

    /// Turns TCP keep-alive probes on or off (off by default).
    ///
    /// # Errors
    /// The system's error; `Unsupported` on transports that are not TCP.
    fn set_keep_alive(&self, enabled: bool) -> io::Result<()> {
        let _ = enabled;
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Turns Nagle's algorithm off (true, the default) or on.
    ///
    /// # Errors
    /// The system's error; `Unsupported` on transports that are not TCP.
    fn set_no_delay(&self, enabled: bool) -> io::Result<()> {
        let _ = enabled;
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// A source of data that writes when it likes and can be paused (Twisted's
/// `IPushProducer`): a file being sent, another connection being proxied.
///
/// The transport calls `pause_producing` from inside the `write` that crossed the high
/// water mark: keep the state it needs in a `Cell` (or a `RefCell` not borrowed across
/// `write`).
pub trait PushProducer {
    /// Stop writing until `resume_producing`.
    fn pause_producing(&self);
    /// Write again.
    fn resume_producing(&self);
    /// Stop for good: the consumer is gone.
    fn stop_producing(&self);
}

/// A source of data that writes when asked (Twisted's `IPullProducer`).
pub trait PullProducer {
    /// Write some more now (called each time the write buffer drained).
    fn resume_producing(&self);
    /// Stop for good: the consumer is gone.
    fn stop_producing(&self);
}

/// A registered producer: push (`streaming = True` in Twisted) or pull.
#[derive(Clone)]
pub enum Producer {
    /// Paused and resumed by the water marks.
    Push(Rc<dyn PushProducer>),
    /// Asked for more when the buffer drains.
    Pull(Rc<dyn PullProducer>),
}

impl Producer {
    pub(crate) fn stop(&self) {
        match self {
            Producer::Push(p) => p.stop_producing(),
            Producer::Pull(p) => p.stop_producing(),
        }
    }
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Producer::Push(_) => "Producer::Push(..)",
            Producer::Pull(_) => "Producer::Pull(..)",
        })
    }
}

/// A producer was registered on a transport that has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerAlreadyRegistered;

impl fmt::Display for ProducerAlreadyRegistered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a producer is already registered on this transport")
    }
}

impl std::error::Error for ProducerAlreadyRegistered {}

/// The water marks and hard limit of a write buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteLimits {
    /// Above this many buffered bytes, a push producer is paused.
    pub high_water: usize,
    /// At or below this many, a paused push producer is resumed.
    pub low_water: usize,
    /// The buffer never holds more; a write that would pass it closes the connection.
    pub max: usize,
}

impl Default for WriteLimits {
    fn default() -> WriteLimits {
        WriteLimits {
            high_water: DEFAULT_HIGH_WATER,
            low_water: DEFAULT_LOW_WATER,
            max: DEFAULT_MAX_WRITE_BUFFER,
        }
    }
}
