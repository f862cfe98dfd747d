//! The default backend: `mio` (epoll on Linux, kqueue on BSD and macOS).
//!
//! ```
//! use torsion::reactor::{Backend, Reactor};
//! let reactor = Reactor::builder().backend(Backend::Mio).build().unwrap();
//! assert_eq!(reactor.backend(), Backend::Mio);
//! ```
//!
//! mio registers every source edge-triggered, which is the reactor's contract (see the
//! parent module). Its waker is an `eventfd` (a pipe on kqueue systems) that needs no
//! draining: each wake is a new edge.

use std::{io, os::fd::RawFd, sync::Arc, time::Duration};

use mio::{unix::SourceFd, Events, Poll, Token};

use super::{Event, Interest, Readiness, Waker, WAKER_TOKEN};

/// Events fetched per `epoll_wait`; more simply wait for the next turn.
const EVENTS_CAPACITY: usize = 1024;

/// A `mio::Poll` with its event buffer and waker.
#[derive(Debug)]
pub(crate) struct MioPoller {
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
}

impl MioPoller {
    pub(crate) fn new() -> io::Result<MioPoller> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), Token(WAKER_TOKEN))?;
        Ok(MioPoller {
            poll,
            events: Events::with_capacity(EVENTS_CAPACITY),
            waker: Arc::new(Waker::Mio(waker)),
        })
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
        self.poll
            .registry()
            .register(&mut SourceFd(&fd), Token(token), mio_interest(interest))
    }

    pub(crate) fn reregister(
        &mut self,
        fd: RawFd,
        token: usize,
        interest: Interest,
    ) -> io::Result<()> {
        self.poll
            .registry()
            .reregister(&mut SourceFd(&fd), Token(token), mio_interest(interest))
    }

    pub(crate) fn deregister(&mut self, fd: RawFd) -> io::Result<()> {
        self.poll.registry().deregister(&mut SourceFd(&fd))
    }

    pub(crate) fn poll(
        &mut self,
        out: &mut Vec<Event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        self.poll.poll(&mut self.events, timeout)?;
        for event in self.events.iter() {
            let token = event.token().0;
            if token == WAKER_TOKEN {
                continue;
            }
            let readiness = Readiness::default()
                .with(
                    Readiness::READABLE,
                    event.is_readable() || event.is_read_closed(),
                )
                .with(
                    Readiness::WRITABLE,
                    event.is_writable() || event.is_write_closed(),
                )
                .with(Readiness::ERROR, event.is_error())
                .with(Readiness::HANGUP, event.is_read_closed());
            out.push(Event { token, readiness });
        }
        Ok(())
    }
}

fn mio_interest(interest: Interest) -> mio::Interest {
    match (interest.is_readable(), interest.is_writable()) {
        (true, true) => mio::Interest::READABLE | mio::Interest::WRITABLE,
        (false, true) => mio::Interest::WRITABLE,
        _ => mio::Interest::READABLE,
    }
}
