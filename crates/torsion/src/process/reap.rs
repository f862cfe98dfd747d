//! Reaping children exactly once, without stealing anyone else's: a pidfd registered with
//! the reactor where the kernel has one, else SIGCHLD and `waitpid(pid, WNOHANG)` for each
//! child this reactor started. Never `waitpid(-1)`: a child started with
//! `std::process::Command` keeps its status for its own `wait`.

use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    fmt, io,
    os::fd::OwnedFd,
    rc::Rc,
    time::Duration,
};

use super::{ProcessExit, Reaper};
use crate::{
    reactor::{signal::SIGCHLD, Interest, IoToken, Reactor, SignalHandlerId},
    sys::process::{pidfd_open, try_wait, WaitStatus},
};

/// Called once with how the child ended.
pub(crate) type OnExit = Box<dyn FnOnce(ProcessExit)>;

/// Starts watching `pid` for its exit with `reaper` (`Auto` already resolved); `on_exit`
/// runs on the reactor thread once the child is reaped.
pub(crate) fn watch(
    reactor: &Reactor,
    pid: i32,
    reaper: Reaper,
    on_exit: OnExit,
) -> io::Result<()> {
    if reaper != Reaper::Sigchld {
        match pidfd_open(pid) {
            Ok(fd) => return watch_pidfd(reactor, pid, fd, on_exit),
            Err(e) => tracing::debug!(
                target: "torsion::process",
                "pidfd_open for child {pid}: {e}; reaping through SIGCHLD"
            ),
        }
    }
    Sigchld::of(reactor)?.add(reactor, pid, on_exit);
    Ok(())
}

/// A pidfd, its registration and what to call at the exit.
type Watched = (OwnedFd, Option<IoToken>, OnExit);

/// Reaps `pid` when its pidfd turns readable.
fn watch_pidfd(reactor: &Reactor, pid: i32, fd: OwnedFd, on_exit: OnExit) -> io::Result<()> {
    let slot: Rc<RefCell<Option<Watched>>> = Rc::new(RefCell::new(None));
    let token = reactor.register_fd(&fd, Interest::READABLE, {
        let slot = slot.clone();
        move |reactor, _| {
            let exit = match try_wait(pid) {
                Ok(None) => return, // not yet (spurious wake-up)
                Ok(Some(status)) => exit_of(status),
                Err(e) => reaped_elsewhere(pid, &e),
            };
            let Some((fd, token, on_exit)) = slot.borrow_mut().take() else {
                return;
            };
            if let Some(token) = token {
                let _ = reactor.deregister_fd(token);
            }
            drop(fd);
            on_exit(exit);
        }
    })?;
    *slot.borrow_mut() = Some((fd, Some(token), on_exit));
    Ok(())
}

/// The SIGCHLD fallback of one reactor: the children it waits for, and its handler while
/// it has any.
#[derive(Default)]
struct Sigchld {
    children: RefCell<HashMap<i32, OnExit>>,
    handler: Cell<Option<SignalHandlerId>>,
    sweep_scheduled: Cell<bool>,
}

impl Sigchld {
    fn of(reactor: &Reactor) -> io::Result<Rc<Sigchld>> {
        if let Some(existing) = reactor.extension::<Sigchld>() {
            return Ok(existing);
        }
        let made = Rc::new(Sigchld::default());
        reactor.set_extension(made.clone());
        Ok(made)
    }

    fn add(self: &Rc<Self>, reactor: &Reactor, pid: i32, on_exit: OnExit) {
        self.children.borrow_mut().insert(pid, on_exit);
        if self.handler.get().is_none() {
            let me = Rc::downgrade(self);
            match reactor.add_signal_handler(SIGCHLD, move |reactor| {
                if let Some(me) = me.upgrade() {
                    me.sweep(reactor);
                }
            }) {
                Ok(id) => self.handler.set(Some(id)),
                Err(e) => tracing::error!(
                    target: "torsion::process",
                    "handle SIGCHLD: {e}; children are reaped only when another one exits"
                ),
            }
        }
        // The child may have exited before the handler was there: look once now.
        if !self.sweep_scheduled.replace(true) {
            let me = Rc::downgrade(self);
            let r = reactor.clone();
            reactor.call_later(Duration::ZERO, move || {
                if let Some(me) = me.upgrade() {
                    me.sweep_scheduled.set(false);
                    me.sweep(&r);
                }
            });
        }
    }

    /// `waitpid(pid, WNOHANG)` for each child; calls the ended ones' callbacks.
    fn sweep(&self, reactor: &Reactor) {
        let pids: Vec<i32> = self.children.borrow().keys().copied().collect();
        let mut ended = Vec::new();
        for pid in pids {
            let exit = match try_wait(pid) {
                Ok(None) => continue,
                Ok(Some(status)) => exit_of(status),
                Err(e) => reaped_elsewhere(pid, &e),
            };
            if let Some(on_exit) = self.children.borrow_mut().remove(&pid) {
                ended.push((on_exit, exit));
            }
        }
        if self.children.borrow().is_empty() {
            if let Some(id) = self.handler.take() {
                reactor.remove_signal_handler(id);
            }
        }
        for (on_exit, exit) in ended {
            on_exit(exit);
        }
    }
}

impl fmt::Debug for Sigchld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sigchld")
            .field("children", &self.children.borrow().len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn exit_of(status: WaitStatus) -> ProcessExit {
    match status {
        WaitStatus::Exited(0) => ProcessExit::Clean,
        WaitStatus::Exited(code) => ProcessExit::Code(code),
        WaitStatus::Signaled {
            signal,
            core_dumped,
        } => ProcessExit::Signal {
            signal,
            core_dumped,
        },
    }
}

fn reaped_elsewhere(pid: i32, e: &io::Error) -> ProcessExit {
    tracing::warn!(
        target: "torsion::process",
        "waitpid for child {pid}: {e}; it was reaped elsewhere, its exit status is lost"
    );
    ProcessExit::Unknown
}
