//! [`ProcessTransport`]: one child process, its pipes and its protocol (Twisted's
//! `Process` and `PTYProcess`, seen through `IProcessTransport`).
//!
//! The rules are the socket transport's: transport methods only change `State` and never
//! call the protocol; what must reach the protocol (a descriptor's loss, the exit, the
//! end) is done by `settle`, when the outermost callback returned or on the next loop
//! turn. Output goes to the protocol straight from the readiness handler, through the
//! thread's shared read buffer, at most [`READ_BUDGET`] bytes per pipe per turn; nothing
//! is read while the protocol paused reading, so a child that floods its stdout is held
//! back by the pipe (the kernel's 64 KiB) and memory stays bounded. Writes go to the pipe
//! at once; what it pushed back waits in a `WriteBuffer` bounded by [`WriteLimits`].

use std::{
    cell::RefCell,
    collections::VecDeque,
    fmt,
    fs::File,
    io::{self, Read},
    os::fd::AsFd,
    panic::{catch_unwind, AssertUnwindSafe},
    rc::{Rc, Weak},
    time::Duration,
};

use super::{ProcessExit, ProcessProtocol, SignalError};
use crate::{
    net::{with_read_buffer, Producer, Reentry, WriteBuffer, WriteLimits, READ_BUFFER_SIZE},
    reactor::{guard::panic_message, Interest, IoToken, Reactor, Readiness},
    sys::process::{kill, write_no_sigpipe},
};

/// Bytes one pipe may deliver per readiness event before the loop moves on.
pub const READ_BUDGET: usize = 4 * READ_BUFFER_SIZE;

/// A running (or ended) child process: write to its stdin, close its descriptors, signal
/// it, pause its output. A cheap handle: clones share the process.
///
/// Every method is safe to call from inside the protocol's callbacks; none calls the
/// protocol back.
#[derive(Clone)]
pub struct ProcessTransport {
    inner: Rc<Process>,
}

pub(crate) struct Process {
    me: Weak<Process>,
    reactor: Reactor,
    pid: i32,
    program: String,
    state: RefCell<State>,
    protocol: RefCell<Option<Box<dyn ProcessProtocol>>>,
    /// Running protocol calls and a due settle (see `net::reentry`).
    reentry: Reentry,
    /// Self-reference until the protocol heard `process_ended`.
    keep: RefCell<Option<Rc<Process>>>,
}

/// Our end of one of the child's descriptors.
pub(crate) struct Pipe {
    /// The child's descriptor whose output this carries (`None`: none, or no more).
    pub(crate) reads_as: Option<i32>,
    /// The child's descriptor whose input this carries (a pty's master does both).
    pub(crate) writes_as: Option<i32>,
    pub(crate) file: Option<File>,
    token: Option<IoToken>,
    interest: Option<Interest>,
    out: WriteBuffer,
    /// `close_child_fd` on an input: close once `out` drained.
    close_when_drained: bool,
    /// A pty master reports `EIO` instead of end of file once the child side closed.
    pty: bool,
    /// Reregister even if the interest did not change (a spent read budget, a resume).
    rearm: bool,
}

#[derive(Default)]
struct State {
    pipes: Vec<Pipe>,
    reading_paused: bool,
    limits: WriteLimits,
    producer: Option<Producer>,
    producer_paused: bool,
    /// A pull producer is due for `resume_producing`.
    pull_ready: bool,
    /// Descriptors whose loss the protocol has yet to hear.
    lost: VecDeque<i32>,
    exit: Option<ProcessExit>,
    exited_told: bool,
    ended: bool,
}

/// What `settle` does next.
enum Action {
    Idle,
    Lost(i32),
    Exited(ProcessExit),
    Ended(ProcessExit),
    Pull(Rc<dyn crate::net::PullProducer>),
}

impl ProcessTransport {
    /// The child's process id. It stays the child's until it is reaped
    /// ([`ProcessProtocol::process_exited`]); after that it may name another process.
    pub fn pid(&self) -> i32 {
        self.inner.pid
    }

    /// Writes `data` to the child's stdin.
    pub fn write(&self, data: &[u8]) {
        self.write_to_child(0, data);
    }

    /// Writes `data` to the child's descriptor `child_fd` (one mapped with
    /// [`ChildFd::Write`](super::ChildFd::Write)). Never blocks: what the pipe does not
    /// take is buffered (see [`set_write_limits`](Self::set_write_limits)). Ignored
    /// once that descriptor is closed or closing; a child that stopped reading makes the
    /// pipe break (`EPIPE`, never SIGPIPE) and the protocol hears
    /// `child_connection_lost(child_fd)`.
    pub fn write_to_child(&self, child_fd: i32, data: &[u8]) {
        self.inner.write(child_fd, data);
    }

    /// Closes the child's stdin once what was written is sent (Twisted's `closeStdin`):
    /// the child reads end of file.
    pub fn close_stdin(&self) {
        self.close_child_fd(0);
    }

    /// Closes our end of the child's descriptor `child_fd`: an input after what was
    /// written is sent, an output at once (the child gets `EPIPE` or SIGPIPE if it writes
    /// more). The protocol hears `child_connection_lost(child_fd)`.
    pub fn close_child_fd(&self, child_fd: i32) {
        self.inner.close_child_fd(child_fd);
    }

    /// Closes every descriptor (Twisted's `loseConnection` on a process): stdin after
    /// what was written is sent.
    pub fn lose_connection(&self) {
        let fds: Vec<i32> = {
            let st = self.inner.state.borrow();
            st.pipes
                .iter()
                .flat_map(|p| [p.reads_as, p.writes_as])
                .flatten()
                .collect()
        };
        for fd in fds {
            self.inner.close_child_fd(fd);
        }
    }

    /// Sends a signal: a name (`"TERM"`, `"KILL"`, `"INT"`, `"HUP"`, with or without
    /// `SIG`) or a number.
    ///
    /// # Errors
    /// [`SignalError::ProcessExitedAlready`] once the child was reaped;
    /// [`SignalError::UnknownSignal`] for a name this module does not know;
    /// [`SignalError::Os`] when `kill` fails.
    pub fn signal_process(&self, signal: impl Into<SignalName>) -> Result<(), SignalError> {
        let pid = self.inner.pid;
        if self.inner.state.borrow().exit.is_some() {
            return Err(SignalError::ProcessExitedAlready { pid });
        }
        let signal = signal.into().number()?;
        kill(pid, signal).map_err(|source| SignalError::Os {
            pid,
            signal,
            source,
        })
    }

    /// Stops reading the child's output until [`resume_producing`](Self::resume_producing):
    /// the pipes fill and the child blocks in `write`.
    pub fn pause_producing(&self) {
        self.inner.state.borrow_mut().reading_paused = true;
        self.inner.changed();
    }

    /// Reads the child's output again.
    pub fn resume_producing(&self) {
        {
            let st = &mut *self.inner.state.borrow_mut();
            st.reading_paused = false;
            for pipe in &mut st.pipes {
                pipe.rearm = true;
            }
        }
        self.inner.changed();
    }

    /// Registers what feeds the child's stdin: a push producer is paused above the high
    /// water mark and resumed at the low one; a pull producer is asked for more each time
    /// the buffer drains. It is stopped when the process ends.
    ///
    /// # Errors
    /// [`ProducerAlreadyRegistered`](crate::net::ProducerAlreadyRegistered) when one is
    /// registered already.
    pub fn register_producer(
        &self,
        producer: Producer,
    ) -> Result<(), crate::net::ProducerAlreadyRegistered> {
        {
            let st = &mut *self.inner.state.borrow_mut();
            if st.producer.is_some() {
                return Err(crate::net::ProducerAlreadyRegistered);
            }
            st.pull_ready = matches!(producer, Producer::Pull(_));
            st.producer = Some(producer);
            st.producer_paused = false;
        }
        self.inner.changed();
        Ok(())
    }

    /// Forgets the registered producer, if any.
    pub fn unregister_producer(&self) {
        let st = &mut *self.inner.state.borrow_mut();
        st.producer = None;
        st.pull_ready = false;
    }

    /// Sets the water marks and the hard limit of each input's write buffer. A write past
    /// the limit closes that input (logged) instead of growing the buffer.
    pub fn set_write_limits(&self, limits: WriteLimits) {
        self.inner.state.borrow_mut().limits = limits;
    }

    /// Bytes written to the child but not yet taken by its pipes.
    pub fn buffered(&self) -> usize {
        let st = self.inner.state.borrow();
        st.pipes.iter().map(|p| p.out.len()).sum()
    }

    /// How the child ended, once it was reaped.
    pub fn exit(&self) -> Option<ProcessExit> {
        self.inner.state.borrow().exit
    }

    pub(crate) fn new(inner: Rc<Process>) -> ProcessTransport {
        ProcessTransport { inner }
    }
}

impl fmt::Debug for ProcessTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.borrow();
        f.debug_struct("ProcessTransport")
            .field("pid", &self.inner.pid)
            .field("program", &self.inner.program)
            .field(
                "open_pipes",
                &st.pipes.iter().filter(|p| p.file.is_some()).count(),
            )
            .field("exit", &st.exit)
            .finish()
    }
}

impl Process {
    /// Wraps a started child: calls `connection_made` and starts reading.
    pub(crate) fn start(
        reactor: &Reactor,
        pid: i32,
        program: String,
        pipes: Vec<Pipe>,
        protocol: Box<dyn ProcessProtocol>,
    ) -> Rc<Process> {
        let process = Rc::new_cyclic(|me| Process {
            me: me.clone(),
            reactor: reactor.clone(),
            pid,
            program,
            state: RefCell::new(State {
                pipes,
                ..State::default()
            }),
            protocol: RefCell::new(Some(protocol)),
            reentry: Reentry::default(),
            keep: RefCell::new(None),
        });
        *process.keep.borrow_mut() = Some(process.clone());
        let transport = ProcessTransport::new(process.clone());
        process.call_protocol(|p| p.connection_made(transport));
        process.settle();
        process
    }

    /// The child was reaped.
    pub(crate) fn exited(&self, exit: ProcessExit) {
        let inputs: Vec<usize> = {
            let st = &mut *self.state.borrow_mut();
            st.exit = Some(exit);
            st.pipes
                .iter()
                .enumerate()
                .filter(|(_, p)| p.writes_as.is_some())
                .map(|(i, _)| i)
                .collect()
        };
        // Nobody reads the child's inputs any more (short of a grandchild): close them,
        // dropping what they still buffer.
        for index in inputs {
            self.drop_role(index, Role::Write);
        }
        tracing::debug!(target: "torsion::process", pid = self.pid, program = %self.program, "{exit}");
        self.settle();
    }

    fn on_ready(&self, index: usize, readiness: Readiness) {
        {
            let _busy = self.reentry.enter();
            if readiness.is_writable() || readiness.is_error() {
                self.flush(index);
            }
            if readiness.is_readable() || readiness.is_hangup() || readiness.is_error() {
                self.read(index, readiness.is_hangup());
            }
        }
        self.settle();
    }

    /// Reads pipe `index` until drained, out of budget, paused or closed.
    fn read(&self, index: usize, hangup: bool) {
        let mut budget = READ_BUDGET;
        loop {
            let step = with_read_buffer(|buf| {
                let (result, child_fd, pty) = {
                    let st = self.state.borrow();
                    let Some(pipe) = st.pipes.get(index) else {
                        return Step::Stop;
                    };
                    match (&pipe.file, pipe.reads_as) {
                        (Some(file), Some(fd)) if !st.reading_paused && !st.ended => {
                            ((&*file).read(buf), fd, pipe.pty)
                        }
                        _ => return Step::Stop,
                    }
                };
                match result {
                    Ok(0) => Step::Eof,
                    Ok(n) => {
                        // Invariant: `read` returned at most `buf.len()`.
                        self.call_protocol(|p| p.child_data_received(child_fd, &buf[..n]));
                        Step::Data(n)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Step::Stop,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => Step::Again,
                    Err(e) if pty && e.raw_os_error() == Some(libc::EIO) => Step::Eof,
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
                        if let Some(pipe) = self.state.borrow_mut().pipes.get_mut(index) {
                            pipe.rearm = true;
                        }
                        break;
                    }
                }
                Step::Again => {}
                Step::Stop => break,
                Step::Eof => {
                    self.drop_role(index, Role::Read);
                    break;
                }
                Step::Failed(e) => {
                    tracing::warn!(target: "torsion::process", pid = self.pid, "read from child {}: {e}", self.program);
                    self.drop_role(index, Role::Read);
                    break;
                }
            }
        }
    }

    /// Sends what pipe `index` buffers, as far as the pipe takes it.
    fn flush(&self, index: usize) {
        let mut broken = None;
        let resume = {
            let st = &mut *self.state.borrow_mut();
            let Some(pipe) = st.pipes.get_mut(index) else {
                return;
            };
            while !pipe.out.is_empty() {
                let Some(file) = &pipe.file else { break };
                match write_no_sigpipe(file.as_fd(), pipe.out.as_slice()) {
                    Ok(n) => pipe.out.consume(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        pipe.out.clear();
                        broken = Some(e);
                        break;
                    }
                }
            }
            let drained = pipe.out.is_empty();
            let close = drained && pipe.close_when_drained;
            if close {
                pipe.close_when_drained = false;
            }
            let resume = st.after_drain();
            (resume, close)
        };
        if let Some(e) = broken {
            self.input_broken(index, e);
        } else if resume.1 {
            self.drop_role(index, Role::Write);
        }
        if let Some(producer) = resume.0 {
            let _busy = self.reentry.enter();
            producer.resume_producing();
        }
    }

    fn write(&self, child_fd: i32, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let mut broken = None;
        let mut overflow = None;
        let pause = {
            let st = &mut *self.state.borrow_mut();
            let limits = st.limits;
            let Some(index) = st
                .pipes
                .iter()
                .position(|p| p.writes_as == Some(child_fd) && p.file.is_some())
            else {
                return;
            };
            let pipe = &mut st.pipes[index];
            if pipe.close_when_drained {
                return;
            }
            let mut sent = 0;
            if pipe.out.is_empty() {
                if let Some(file) = &pipe.file {
                    match write_no_sigpipe(file.as_fd(), data) {
                        Ok(n) => sent = n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => broken = Some((index, e)),
                    }
                }
            }
            if sent == data.len() || broken.is_some() {
                None
            } else if pipe.out.len() + (data.len() - sent) > limits.max {
                overflow = Some((index, pipe.out.len() + (data.len() - sent), limits.max));
                pipe.out.clear();
                None
            } else {
                pipe.out.push(&data[sent..]);
                st.pause_if_full()
            }
        };
        if let Some((index, e)) = broken {
            self.input_broken(index, e);
        }
        if let Some((index, wanted, limit)) = overflow {
            tracing::warn!(
                target: "torsion::process",
                pid = self.pid,
                "write to child {} fd {child_fd}: buffer full ({wanted} bytes, max {limit}); closing it",
                self.program
            );
            self.drop_role(index, Role::Write);
        }
        self.changed();
        if let Some(producer) = pause {
            producer.pause_producing();
        }
    }

    /// An input's write failed (`EPIPE`: the child closed it or exited): close it.
    fn input_broken(&self, index: usize, e: io::Error) {
        if e.raw_os_error() != Some(libc::EPIPE) {
            tracing::warn!(target: "torsion::process", pid = self.pid, "write to child {}: {e}", self.program);
        }
        self.drop_role(index, Role::Write);
    }

    fn close_child_fd(&self, child_fd: i32) {
        let (read_index, write_index) = {
            let st = &mut *self.state.borrow_mut();
            let read = st.pipes.iter().position(|p| p.reads_as == Some(child_fd));
            let mut write = None;
            if let Some(i) = st.pipes.iter().position(|p| p.writes_as == Some(child_fd)) {
                if st.pipes[i].out.is_empty() {
                    write = Some(i);
                } else {
                    st.pipes[i].close_when_drained = true;
                }
            }
            (read, write)
        };
        if let Some(i) = read_index {
            self.drop_role(i, Role::Read);
        }
        if let Some(i) = write_index {
            self.drop_role(i, Role::Write);
        }
        self.changed();
    }

    /// Ends one direction of pipe `index`; closes it when none is left. The protocol
    /// hears the loss at the next settle.
    fn drop_role(&self, index: usize, role: Role) {
        let token = {
            let st = &mut *self.state.borrow_mut();
            let Some(pipe) = st.pipes.get_mut(index) else {
                return;
            };
            let fd = match role {
                Role::Read => pipe.reads_as.take(),
                Role::Write => {
                    pipe.out.clear();
                    pipe.close_when_drained = false;
                    pipe.writes_as.take()
                }
            };
            let Some(fd) = fd else { return };
            st.lost.push_back(fd);
            let pipe = &mut st.pipes[index];
            if pipe.reads_as.is_some() || pipe.writes_as.is_some() {
                pipe.rearm = true;
                return;
            }
            pipe.interest = None;
            pipe.token.take()
        };
        // Deregister before the descriptor closes.
        if let Some(token) = token {
            let _ = self.reactor.deregister_fd(token);
        }
        let file = self
            .state
            .borrow_mut()
            .pipes
            .get_mut(index)
            .and_then(|p| p.file.take());
        drop(file);
    }

    /// Tells the protocol what happened, then watches the pipes for what is wanted next.
    /// Runs only outside callbacks.
    fn settle(&self) {
        if self.reentry.is_busy() {
            return;
        }
        loop {
            let action = self.state.borrow_mut().next_action();
            match action {
                Action::Idle => {
                    self.update_interest();
                    return;
                }
                Action::Lost(fd) => {
                    self.call_protocol(|p| p.child_connection_lost(fd));
                }
                Action::Exited(exit) => {
                    self.call_protocol(|p| p.process_exited(exit));
                }
                Action::Ended(exit) => {
                    self.end(exit);
                    return;
                }
                Action::Pull(producer) => {
                    {
                        let _busy = self.reentry.enter();
                        producer.resume_producing();
                    }
                    // Ask again next turn: a producer that always writes must not hold
                    // the loop.
                    self.schedule_settle();
                    self.update_interest();
                    return;
                }
            }
        }
    }

    /// The child is reaped and every pipe closed: the protocol's last call.
    fn end(&self, exit: ProcessExit) {
        let producer = self.state.borrow_mut().producer.take();
        if let Some(producer) = producer {
            let _busy = self.reentry.enter();
            producer.stop();
        }
        self.call_protocol(|p| p.process_ended(exit));
        let protocol = self.protocol.borrow_mut().take();
        drop(protocol);
        let keep = self.keep.borrow_mut().take();
        drop(keep);
    }

    /// Calls the protocol; a panic is logged and closes the child's descriptors (the
    /// child runs on; the protocol still hears the exit).
    fn call_protocol<R>(&self, f: impl FnOnce(&mut dyn ProcessProtocol) -> R) -> Option<R> {
        let _busy = self.reentry.enter();
        let Ok(mut slot) = self.protocol.try_borrow_mut() else {
            tracing::error!(target: "torsion::process", pid = self.pid, "process protocol called while it was running: call dropped");
            return None;
        };
        let protocol = slot.as_mut()?;
        match catch_unwind(AssertUnwindSafe(|| f(&mut **protocol))) {
            Ok(value) => Some(value),
            Err(payload) => {
                drop(slot);
                tracing::error!(
                    target: "torsion::process",
                    pid = self.pid,
                    "process protocol for {} panicked: {}; closing its descriptors",
                    self.program,
                    panic_message(payload.as_ref()),
                );
                if let Some(me) = self.me.upgrade() {
                    ProcessTransport::new(me).lose_connection();
                }
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
        if self.state.borrow().needs_settle() {
            self.schedule_settle();
        } else {
            self.update_interest();
        }
    }

    fn schedule_settle(&self) {
        self.reentry.schedule(
            &self.reactor,
            self.me.clone(),
            |process| &process.reentry,
            |process| process.settle(),
        );
    }

    /// Registers, reregisters or deregisters each pipe for what the state wants.
    fn update_interest(&self) {
        let st = &mut *self.state.borrow_mut();
        let paused = st.reading_paused;
        let mut failed = Vec::new();
        for (index, pipe) in st.pipes.iter_mut().enumerate() {
            let Some(file) = &pipe.file else { continue };
            let read = pipe.reads_as.is_some() && !paused;
            let write = pipe.writes_as.is_some() && !pipe.out.is_empty();
            let want = match (read, write) {
                (true, true) => Some(Interest::BOTH),
                (true, false) => Some(Interest::READABLE),
                (false, true) => Some(Interest::WRITABLE),
                (false, false) => None,
            };
            let rearm = std::mem::take(&mut pipe.rearm);
            let result = match (pipe.token, want) {
                (None, None) => Ok(()),
                (Some(token), None) => {
                    pipe.token = None;
                    self.reactor.deregister_fd(token)
                }
                (None, Some(interest)) => {
                    let me = self.me.clone();
                    self.reactor
                        .register_fd(file, interest, move |_, readiness| {
                            if let Some(process) = me.upgrade() {
                                process.on_ready(index, readiness);
                            }
                        })
                        .map(|token| pipe.token = Some(token))
                }
                (Some(token), Some(interest)) if rearm || pipe.interest != Some(interest) => {
                    self.reactor.reregister_fd(token, interest)
                }
                (Some(_), Some(_)) => Ok(()),
            };
            pipe.interest = want;
            if let Err(e) = result {
                tracing::error!(target: "torsion::process", pid = self.pid, "watch pipe of child {}: {e}", self.program);
                failed.push(index);
            }
        }
        if !failed.is_empty() {
            // Close what cannot be watched, after this borrow: a pipe nobody watches would
            // hold `process_ended` back forever.
            let me = self.me.clone();
            self.reactor.call_later(Duration::ZERO, move || {
                if let Some(process) = me.upgrade() {
                    for index in failed {
                        process.drop_role(index, Role::Read);
                        process.drop_role(index, Role::Write);
                    }
                    process.settle();
                }
            });
        }
    }
}

impl State {
    fn next_action(&mut self) -> Action {
        if self.ended {
            return Action::Idle;
        }
        if let Some(fd) = self.lost.pop_front() {
            return Action::Lost(fd);
        }
        if let Some(exit) = self.exit {
            if !self.exited_told {
                self.exited_told = true;
                return Action::Exited(exit);
            }
            if self.pipes.iter().all(|p| p.file.is_none()) {
                self.ended = true;
                return Action::Ended(exit);
            }
        }
        if self.pull_ready {
            if let Some(Producer::Pull(p)) = &self.producer {
                self.pull_ready = false;
                return Action::Pull(p.clone());
            }
        }
        Action::Idle
    }

    fn needs_settle(&self) -> bool {
        !self.lost.is_empty()
            || (self.exit.is_some() && !self.ended)
            || (self.pull_ready && self.producer.is_some())
    }

    /// The push producer to pause when a write crossed the high water mark.
    fn pause_if_full(&mut self) -> Option<Rc<dyn crate::net::PushProducer>> {
        let buffered: usize = self.pipes.iter().map(|p| p.out.len()).sum();
        match &self.producer {
            Some(Producer::Push(p))
                if !self.producer_paused && buffered > self.limits.high_water =>
            {
                self.producer_paused = true;
                Some(p.clone())
            }
            _ => None,
        }
    }

    /// The push producer to resume once the buffers drained to the low water mark; marks
    /// a pull producer ready.
    fn after_drain(&mut self) -> Option<Rc<dyn crate::net::PushProducer>> {
        let buffered: usize = self.pipes.iter().map(|p| p.out.len()).sum();
        match &self.producer {
            Some(Producer::Push(p))
                if self.producer_paused && buffered <= self.limits.low_water =>
            {
                self.producer_paused = false;
                Some(p.clone())
            }
            Some(Producer::Pull(_)) if buffered == 0 => {
                self.pull_ready = true;
                None
            }
            _ => None,
        }
    }
}

impl Pipe {
    /// Our end of a pipe the child writes to as `child_fd`.
    pub(crate) fn reader(child_fd: i32, file: File) -> Pipe {
        Pipe::new(Some(child_fd), None, file, false)
    }

    /// Our end of a pipe the child reads as `child_fd`.
    pub(crate) fn writer(child_fd: i32, file: File) -> Pipe {
        Pipe::new(None, Some(child_fd), file, false)
    }

    /// A pty's master: the child's output as descriptor 1, its input as 0.
    pub(crate) fn pty(file: File) -> Pipe {
        Pipe::new(Some(1), Some(0), file, true)
    }

    fn new(reads_as: Option<i32>, writes_as: Option<i32>, file: File, pty: bool) -> Pipe {
        Pipe {
            reads_as,
            writes_as,
            file: Some(file),
            token: None,
            interest: None,
            out: WriteBuffer::default(),
            close_when_drained: false,
            pty,
            rearm: false,
        }
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid)
            .field("program", &self.program)
            .finish_non_exhaustive()
    }
}

/// A signal by name or number, for [`ProcessTransport::signal_process`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignalName {
    /// `"TERM"`, `"SIGTERM"`, `"KILL"`, ...
    Name(String),
    /// A signal number.
    Number(i32),
}

impl SignalName {
    /// The signal's number.
    ///
    /// # Errors
    /// [`SignalError::UnknownSignal`] for a name not in the table.
    pub fn number(&self) -> Result<i32, SignalError> {
        let name = match self {
            SignalName::Number(n) => return Ok(*n),
            SignalName::Name(name) => name,
        };
        let short = name.strip_prefix("SIG").unwrap_or(name);
        SIGNALS
            .iter()
            .find(|(n, _)| *n == short)
            .map(|&(_, number)| number)
            .ok_or_else(|| SignalError::UnknownSignal { name: name.clone() })
    }
}

impl From<&str> for SignalName {
    fn from(name: &str) -> SignalName {
        SignalName::Name(name.to_owned())
    }
}

impl From<i32> for SignalName {
    fn from(number: i32) -> SignalName {
        SignalName::Number(number)
    }
}

/// The signals [`SignalName`] knows by name.
const SIGNALS: [(&str, i32); 13] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("WINCH", libc::SIGWINCH),
];

#[derive(Clone, Copy)]
enum Role {
    Read,
    Write,
}

/// What one read did.
enum Step {
    Data(usize),
    Eof,
    Stop,
    Again,
    Failed(io::Error),
}
