//! The `poll(2)` backend, like Twisted's `pollreactor`.
//!
//! ```
//! use torsion::reactor::{Backend, Reactor};
//! let reactor = Reactor::builder().backend(Backend::Poll).build().unwrap();
//! assert_eq!(reactor.backend(), Backend::Poll);
//! ```
//!
//! The descriptors live in a `Vec<pollfd>` handed whole to each `poll(2)`; a map from token
//! to position makes register and deregister O(1) (deregister swaps the last entry in).
//! `poll(2)` is level-triggered, which also satisfies the reactor's edge contract: a handler
//! that reads to `WouldBlock` is not called again until new data comes. The waker is a
//! non-blocking Unix socket pair kept at position 0 and drained when it fires.

#![allow(unsafe_code)]

use std::{
    collections::HashMap,
    io::{self, Read, Write},
    os::{
        fd::{AsRawFd, RawFd},
        unix::net::UnixStream,
    },
    sync::Arc,
    time::Duration,
};

use super::{timeout_millis, Event, Interest, Readiness, Waker, WAKER_TOKEN};

/// `poll(2)` on an array of descriptors, with a socket-pair waker.
#[derive(Debug)]
pub(crate) struct PollPoller {
    /// What `poll(2)` watches; position 0 is the waker's read end.
    fds: Vec<libc::pollfd>,
    /// The token of each entry of `fds`, at the same position.
    tokens: Vec<usize>,
    /// Token to position in `fds`.
    positions: HashMap<usize, usize>,
    wake_reader: UnixStream,
    waker: Arc<Waker>,
}

impl PollPoller {
    pub(crate) fn new() -> io::Result<PollPoller> {
        let (wake_reader, wake_writer) = UnixStream::pair()?;
        wake_reader.set_nonblocking(true)?;
        wake_writer.set_nonblocking(true)?;
        let mut poller = PollPoller {
            fds: Vec::new(),
            tokens: Vec::new(),
            positions: HashMap::new(),
            waker: Arc::new(Waker::Poll(PipeWaker {
                writer: wake_writer,
                _reader: wake_reader.try_clone()?,
            })),
            wake_reader,
        };
        let fd = poller.wake_reader.as_raw_fd();
        poller.register(fd, WAKER_TOKEN, Interest::READABLE)?;
        Ok(poller)
    }

    pub(crate) fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    pub(crate) fn register(
        &mut self,
        fd: RawFd,
        token: usize,
        interest: Interest,
    ) -> io::Result<()> {
        if self.positions.contains_key(&token) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "token already registered",
            ));
        }
        self.positions.insert(token, self.fds.len());
        self.fds.push(libc::pollfd {
            fd,
            events: poll_events(interest),
            revents: 0,
        });
        self.tokens.push(token);
        Ok(())
    }

    pub(crate) fn reregister(
        &mut self,
        fd: RawFd,
        token: usize,
        interest: Interest,
    ) -> io::Result<()> {
        let at = self.position(token)?;
        let entry = &mut self.fds[at]; // in bounds: `positions` only holds live positions
        entry.fd = fd;
        entry.events = poll_events(interest);
        Ok(())
    }

    pub(crate) fn deregister(&mut self, token: usize) -> io::Result<()> {
        let at = self.position(token)?;
        self.positions.remove(&token);
        self.fds.swap_remove(at);
        self.tokens.swap_remove(at);
        if let Some(&moved) = self.tokens.get(at) {
            self.positions.insert(moved, at);
        }
        Ok(())
    }

    pub(crate) fn poll(
        &mut self,
        out: &mut Vec<Event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let len = self.fds.len() as libc::nfds_t;
        let ptr = self.fds.as_mut_ptr();
        // SAFETY: `ptr` points to `len` initialized `pollfd`s owned by `self.fds`, which
        // is not touched until `poll` returns.
        let ready = unsafe { libc::poll(ptr, len, timeout_millis(timeout)) };
        if ready < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut left = ready;
        for (entry, &token) in self.fds.iter_mut().zip(&self.tokens) {
            if left == 0 {
                break;
            }
            let revents = std::mem::take(&mut entry.revents);
            if revents == 0 {
                continue;
            }
            left -= 1;
            if token == WAKER_TOKEN {
                drain(&self.wake_reader);
                continue;
            }
            let hangup = revents & libc::POLLHUP != 0;
            let readiness = Readiness::default()
                .with(Readiness::READABLE, revents & libc::POLLIN != 0 || hangup)
                .with(Readiness::WRITABLE, revents & libc::POLLOUT != 0)
                .with(
                    Readiness::ERROR,
                    revents & (libc::POLLERR | libc::POLLNVAL) != 0,
                )
                .with(Readiness::HANGUP, hangup);
            out.push(Event { token, readiness });
        }
        Ok(())
    }

    fn position(&self, token: usize) -> io::Result<usize> {
        self.positions
            .get(&token)
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "token not registered"))
    }
}

/// The write end of the poll backend's wake-up socket pair.
#[derive(Debug)]
pub(crate) struct PipeWaker {
    writer: UnixStream,
    /// Keeps the pair open while a handle can still wake: a write to a pair whose reader
    /// is gone (the reactor was dropped) would raise SIGPIPE.
    _reader: UnixStream,
}

impl PipeWaker {
    pub(crate) fn wake(&self) -> io::Result<()> {
        match (&self.writer).write(&[1]) {
            // A full buffer already holds a pending wake-up.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other.map(drop),
        }
    }
}

fn poll_events(interest: Interest) -> libc::c_short {
    let mut events = 0;
    if interest.is_readable() {
        events |= libc::POLLIN;
    }
    if interest.is_writable() {
        events |= libc::POLLOUT;
    }
    events
}

/// Empties the wake-up socket so that `poll(2)` (level-triggered) does not fire again.
fn drain(mut reader: &UnixStream) {
    let mut buf = [0u8; 64];
    while let Ok(n) = reader.read(&mut buf) {
        if n < buf.len() {
            break;
        }
    }
}
