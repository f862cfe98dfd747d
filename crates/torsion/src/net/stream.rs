//! [`AsyncStream`]: one connection as an async reader and writer, for code written as an
//! `async fn` on the reactor's executor, beside protocols written as callbacks.
//!
//! ```no_run
//! use torsion::net::stream::connect_tcp_stream;
//! use torsion::Reactor;
//!
//! let reactor = Reactor::new().unwrap();
//! let r = reactor.clone();
//! reactor.spawn(async move {
//!     let stream = connect_tcp_stream(&r, "127.0.0.1", 8000).await.unwrap();
//!     stream.write_all(b"ping\r\n").await.unwrap();
//!     let mut buf = [0; 64];
//!     let n = stream.read(&mut buf).await.unwrap();
//!     println!("{}", String::from_utf8_lossy(&buf[..n]));
//!     stream.shutdown();
//!     r.stop();
//! });
//! reactor.run();
//! ```
//!
//! Under the hood it is a [`Protocol`] like any other: received bytes wait in a buffer
//! for `read` (reading from the socket pauses above [`READ_AHEAD`] bytes, so a slow
//! reader bounds memory), and `write_all` writes at once, then waits while the transport
//! holds more than its high water mark (the stream is its own push producer).

use std::{
    cell::RefCell,
    collections::VecDeque,
    fmt,
    future::poll_fn,
    io,
    rc::Rc,
    task::{Poll, Waker},
};

use super::{
    Address, ClientFactory, CloseReason, Connector, Producer, Protocol, ProtocolFactory,
    PushProducer, StreamNetwork, TcpConnectOptions, Transport,
};
use crate::{Deferred, Failure, Reactor};

/// Bytes received ahead of `read` before the socket is paused.
pub const READ_AHEAD: usize = 64 * 1024;

/// A connection as an async reader and writer; clones share it.
#[derive(Clone)]
pub struct AsyncStream {
    shared: Rc<RefCell<Shared>>,
}

#[derive(Default)]
struct Shared {
    transport: Option<Rc<dyn Transport>>,
    received: VecDeque<u8>,
    /// Set once the connection is gone (or the peer's end of file arrived).
    ended: Option<CloseReason>,
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// The transport paused us: its buffer passed the high water mark.
    write_paused: bool,
    read_paused: bool,
}

/// The protocol behind an [`AsyncStream`].
struct StreamProtocol {
    shared: Rc<RefCell<Shared>>,
    ready: Option<crate::defer::Resolver<AsyncStream>>,
}

/// The stream's side as the transport's push producer.
struct WriteGate(Rc<RefCell<Shared>>);

impl AsyncStream {
    /// Reads what has arrived into `buf`, waiting for at least one byte; 0 means end of
    /// file (the peer closed, or the connection is gone).
    ///
    /// # Errors
    /// The failure of a lost connection, as `io::Error` (`ConnectionReset` kind for any).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            let mut s = self.shared.borrow_mut();
            if !s.received.is_empty() {
                let n = buf.len().min(s.received.len());
                for (slot, byte) in buf.iter_mut().zip(s.received.drain(..n)) {
                    *slot = byte;
                }
                if s.read_paused && s.received.len() < READ_AHEAD / 2 {
                    s.read_paused = false;
                    if let Some(t) = &s.transport {
                        t.resume_producing();
                    }
                }
                return Poll::Ready(Ok(n));
            }
            match &s.ended {
                Some(CloseReason::Lost(failure)) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    failure.to_string(),
                ))),
                Some(CloseReason::Clean) => Poll::Ready(Ok(0)),
                None => {
                    s.reader = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Writes all of `data`, then waits while the transport's buffer is above its high
    /// water mark.
    ///
    /// # Errors
    /// `NotConnected` once the connection is closing or gone.
    pub async fn write_all(&self, data: &[u8]) -> io::Result<()> {
        let transport = self.shared.borrow().transport.clone();
        match transport {
            Some(t) if !t.is_closing() => t.write(data),
            _ => return Err(io::ErrorKind::NotConnected.into()),
        }
        poll_fn(|cx| {
            let mut s = self.shared.borrow_mut();
            if s.write_paused && s.ended.is_none() {
                s.writer = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(Ok(()))
            }
        })
        .await
    }

    /// Closes our sending side once everything written is sent (half-close); reads go
    /// on until the peer closes.
    pub fn shutdown(&self) {
        if let Some(t) = &self.shared.borrow().transport {
            t.lose_write_connection();
        }
    }

    /// Closes the connection after everything written is sent.
    pub fn close(&self) {
        if let Some(t) = &self.shared.borrow().transport {
            t.lose_connection();
        }
    }

    /// The connection's transport, while it is up.
    pub fn transport(&self) -> Option<Rc<dyn Transport>> {
        self.shared.borrow().transport.clone()
    }
}

/// Connects to `host:port` and gives the connection as an [`AsyncStream`]; fails with
/// the [`ConnectError`](super::ConnectError) of the attempt.
pub fn connect_tcp_stream(reactor: &Reactor, host: &str, port: u16) -> Deferred<AsyncStream> {
    let (d, resolver) = Deferred::new();
    let factory = StreamFactory {
        resolver: RefCell::new(Some(resolver)),
    };
    reactor.connect_tcp(host, port, Rc::new(factory), TcpConnectOptions::default());
    d
}

/// Wraps each connection of a server as an [`AsyncStream`] handed to `serve`.
pub fn stream_protocol(serve: impl FnOnce(AsyncStream) + 'static) -> Box<dyn Protocol> {
    let (d, resolver) = Deferred::new();
    d.add_callback(move |stream| {
        serve(stream);
        Ok(())
    });
    Box::new(StreamProtocol {
        shared: Rc::default(),
        ready: Some(resolver),
    })
}

struct StreamFactory {
    resolver: RefCell<Option<crate::defer::Resolver<AsyncStream>>>,
}

impl ProtocolFactory for StreamFactory {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        let resolver = self.resolver.borrow_mut().take()?;
        Some(Box::new(StreamProtocol {
            shared: Rc::default(),
            ready: Some(resolver),
        }))
    }
}

impl ClientFactory for StreamFactory {
    fn client_connection_failed(&self, _: &Connector, reason: Failure) {
        if let Some(resolver) = self.resolver.borrow_mut().take() {
            let _ = resolver.errback(reason);
        }
    }
}

impl Protocol for StreamProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.shared.borrow_mut().transport = Some(transport.clone());
        let gate = Rc::new(WriteGate(self.shared.clone()));
        let _ = transport.register_producer(Producer::Push(gate));
        if let Some(resolver) = self.ready.take() {
            let _ = resolver.callback(AsyncStream {
                shared: self.shared.clone(),
            });
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        let waker = {
            let mut s = self.shared.borrow_mut();
            s.received.extend(data);
            if s.received.len() >= READ_AHEAD && !s.read_paused {
                s.read_paused = true;
                if let Some(t) = &s.transport {
                    t.pause_producing();
                }
            }
            s.reader.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        let wakers = {
            let mut s = self.shared.borrow_mut();
            s.ended = Some(reason);
            s.transport = None;
            [s.reader.take(), s.writer.take()]
        };
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
    }

    fn handles_half_close(&self) -> bool {
        true
    }

    fn read_connection_lost(&mut self) {
        let waker = {
            let mut s = self.shared.borrow_mut();
            s.ended.get_or_insert(CloseReason::Clean);
            s.reader.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl PushProducer for WriteGate {
    fn pause_producing(&self) {
        self.0.borrow_mut().write_paused = true;
    }

    fn resume_producing(&self) {
        let waker = {
            let mut s = self.0.borrow_mut();
            s.write_paused = false;
            s.writer.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn stop_producing(&self) {}
}

impl fmt::Debug for AsyncStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared.borrow();
        f.debug_struct("AsyncStream")
            .field("received", &s.received.len())
            .field("ended", &s.ended.is_some())
            .finish()
    }
}
