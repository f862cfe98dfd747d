//! Readiness for the layers above (net, process): register a file descriptor with an
//! interest and a handler, and the reactor calls the handler when it is ready (Twisted's
//! `addReader`/`addWriter`).
//!
//! ```
//! use std::{io::{Read, Write}, os::unix::net::UnixStream};
//! use torsion::reactor::{Interest, Reactor};
//! let reactor = Reactor::new().unwrap();
//! let (mut ours, mut theirs) = UnixStream::pair().unwrap();
//! ours.set_nonblocking(true).unwrap();
//! let reader = ours.try_clone().unwrap();
//! reactor.register_fd(&ours, Interest::READABLE, move |reactor, readiness| {
//!     assert!(readiness.is_readable());
//!     let mut buf = [0; 5];
//!     (&reader).read_exact(&mut buf).unwrap();
//!     assert_eq!(&buf, b"hello");
//!     reactor.stop();
//! }).unwrap();
//! theirs.write_all(b"hello").unwrap();
//! reactor.run();
//! ```
//!
//! The contract is edge-triggered (see [`sys`](super::sys)): once told a descriptor is
//! readable (writable), a handler reads (writes) until `WouldBlock`, or calls
//! [`reregister_fd`](Reactor::reregister_fd) to be told again. Register for writability
//! only while a write has been pushed back, or the handler is called for nothing.
//!
//! The descriptor must stay open until it is deregistered: a closed and reused number would
//! deliver another file's readiness. Deregistering during a loop turn is safe: events
//! already fetched for the descriptor are dropped, even when its token is reused at once.

use std::{
    cell::RefCell,
    fmt, io,
    os::fd::{AsFd, AsRawFd, RawFd},
    panic::Location,
    rc::Rc,
};

use slab::Slab;

use super::{guard::Kind, sys::Readiness, Interest, Reactor};
use crate::time::CallSite;

/// A readiness handler, shared so the loop can call it outside the registry's borrow.
type Handler = Rc<RefCell<dyn FnMut(&Reactor, Readiness)>>;

/// A registration made with [`Reactor::register_fd`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IoToken {
    key: usize,
    id: u64,
}

/// The descriptors registered with a reactor and their handlers.
#[derive(Default)]
pub(crate) struct Registrations {
    slots: Slab<Slot>,
    next_id: u64,
    /// True while the loop dispatches fetched events: freed keys wait in `freed` so that
    /// an event fetched for a removed registration cannot reach a new one with its key.
    dispatching: bool,
    freed: Vec<usize>,
    /// Registrations the reactor made for itself (the signal self-pipe), which the count
    /// users see leaves out.
    internal: usize,
}

struct Slot {
    id: u64,
    fd: RawFd,
    /// `None` once deregistered, while the key waits to be freed.
    handler: Option<Handler>,
    site: CallSite,
}

impl Registrations {
    /// How many descriptors are registered.
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.freed.len() - self.internal
    }
}

impl Reactor {
    /// Watches `fd` for `interest` and calls `handler` from the loop when it is ready.
    /// A transport with its own type registers a closure that calls its method.
    ///
    /// # Errors
    /// The backend's error, as `register fd N: CAUSE`.
    #[track_caller]
    pub fn register_fd(
        &self,
        fd: &impl AsFd,
        interest: Interest,
        handler: impl FnMut(&Reactor, Readiness) + 'static,
    ) -> io::Result<IoToken> {
        let site = Location::caller();
        let fd = fd.as_fd().as_raw_fd();
        let mut regs = self.inner.io.borrow_mut();
        let id = regs.next_id;
        regs.next_id += 1;
        let entry = regs.slots.vacant_entry();
        let key = entry.key();
        self.inner
            .poller
            .borrow_mut()
            .register(fd, key, interest)
            .map_err(|e| annotate(e, "register", fd))?;
        entry.insert(Slot {
            id,
            fd,
            handler: Some(Rc::new(RefCell::new(handler))),
            site,
        });
        Ok(IoToken { key, id })
    }

    /// Changes what a registered descriptor is watched for. With the edge-triggered
    /// contract, this also asks to be told again if it is ready now.
    ///
    /// # Errors
    /// `NotFound` for a token that is no longer registered; the backend's error otherwise.
    pub fn reregister_fd(&self, token: IoToken, interest: Interest) -> io::Result<()> {
        let fd = self.live_fd(token)?;
        self.inner
            .poller
            .borrow_mut()
            .reregister(fd, token.key, interest)
            .map_err(|e| annotate(e, "reregister", fd))
    }

    /// Stops watching a descriptor; its handler is dropped (after it returns, if it is the
    /// one running). Deregister before closing the descriptor.
    ///
    /// # Errors
    /// `NotFound` for a token that is no longer registered; the backend's error otherwise
    /// (the registration is removed all the same).
    pub fn deregister_fd(&self, token: IoToken) -> io::Result<()> {
        let fd = self.live_fd(token)?;
        let handler = {
            let mut regs = self.inner.io.borrow_mut();
            let handler = if regs.dispatching {
                regs.freed.push(token.key);
                regs.slots.get_mut(token.key).and_then(|s| s.handler.take())
            } else {
                Some(regs.slots.remove(token.key)).and_then(|s| s.handler)
            };
            handler
        };
        // Drop the handler outside the borrow: its captures may deregister others.
        drop(handler);
        self.inner
            .poller
            .borrow_mut()
            .deregister(fd, token.key)
            .map_err(|e| annotate(e, "deregister", fd))
    }

    /// Registers a descriptor the reactor keeps for its own use until it is dropped.
    pub(super) fn register_internal_fd(
        &self,
        fd: &impl AsFd,
        handler: impl FnMut(&Reactor, Readiness) + 'static,
    ) -> io::Result<IoToken> {
        let token = self.register_fd(fd, Interest::READABLE, handler)?;
        self.inner.io.borrow_mut().internal += 1;
        Ok(token)
    }

    /// How many descriptors users registered (the clean-reactor check reads this; the
    /// reactor's own, such as its signal pipe, are not counted).
    pub fn registered_fds(&self) -> usize {
        self.inner.io.borrow().len()
    }

    /// Calls the handlers of the events the poller just fetched.
    pub(super) fn dispatch_io(&self, events: &[super::sys::Event]) {
        if events.is_empty() {
            return;
        }
        self.inner.io.borrow_mut().dispatching = true;
        for event in events {
            let found = {
                let regs = self.inner.io.borrow();
                regs.slots
                    .get(event.token)
                    .and_then(|s| Some((s.handler.clone()?, s.site)))
            };
            let Some((handler, site)) = found else {
                continue;
            };
            self.inner.watch.run(Kind::Readiness, site, || {
                (handler.borrow_mut())(self, event.readiness)
            });
        }
        let mut regs = self.inner.io.borrow_mut();
        regs.dispatching = false;
        let freed = std::mem::take(&mut regs.freed);
        for key in &freed {
            regs.slots.remove(*key);
        }
        regs.freed = freed;
        regs.freed.clear();
    }

    fn live_fd(&self, token: IoToken) -> io::Result<RawFd> {
        let regs = self.inner.io.borrow();
        match regs.slots.get(token.key) {
            Some(slot) if slot.id == token.id && slot.handler.is_some() => Ok(slot.fd),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "descriptor not registered with this reactor",
            )),
        }
    }
}

impl fmt::Debug for Registrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registrations")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// Names the operation and descriptor in a backend error, keeping its kind.
fn annotate(err: io::Error, op: &str, fd: RawFd) -> io::Error {
    io::Error::new(err.kind(), format!("{op} fd {fd}: {err}"))
}
