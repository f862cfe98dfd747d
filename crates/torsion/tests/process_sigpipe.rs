//! Writing to a child that closed its stdin or exited: `EPIPE`, handled, while SIGPIPE
//! has its default action (death) in this test program. Rust programs ignore SIGPIPE; this
//! file gives it back its default action through `signal-hook`, so a write that raised it
//! would kill the test binary. Its own file: the action is process-wide.

mod support;

use std::{
    cell::RefCell,
    rc::Rc,
    sync::{atomic::AtomicBool, Arc},
};

use torsion::{
    process::{spawn_process, ChildFd, Command, ProcessExit, ProcessProtocol, ProcessTransport},
    reactor::Backend,
    testing::check_clean,
    Reactor,
};

/// SIGPIPE terminates this process from now on, as it does a C program.
fn default_sigpipe() {
    signal_hook::flag::register_conditional_default(
        signal_hook::consts::SIGPIPE,
        Arc::new(AtomicBool::new(true)),
    )
    .expect("install the default SIGPIPE action");
}

#[derive(Default)]
struct Seen {
    events: Vec<String>,
    ended: Option<ProcessExit>,
}

/// Writes 1 MiB to stdin whenever the child says something; closes fd 3 once stdin broke.
struct Writer {
    seen: Rc<RefCell<Seen>>,
    transport: Option<ProcessTransport>,
    reactor: Reactor,
}

impl ProcessProtocol for Writer {
    fn connection_made(&mut self, transport: ProcessTransport) {
        self.transport = Some(transport);
    }

    fn out_received(&mut self, data: &[u8]) {
        self.seen
            .borrow_mut()
            .events
            .push(format!("out {}", String::from_utf8_lossy(data).trim()));
        if let Some(t) = &self.transport {
            t.write(&vec![b'x'; 1 << 20]);
        }
    }

    fn in_connection_lost(&mut self) {
        self.seen.borrow_mut().events.push("in lost".into());
        if let Some(t) = &self.transport {
            t.close_child_fd(3); // lets the child finish
            t.write(b"ignored: stdin is closed");
        }
    }

    fn process_exited(&mut self, _exit: ProcessExit) {
        if let Some(t) = &self.transport {
            t.write(b"ignored: the child exited");
        }
    }

    fn process_ended(&mut self, exit: ProcessExit) {
        self.seen.borrow_mut().ended = Some(exit);
        self.transport = None;
        self.reactor.stop();
    }
}

fn run_child(command: &Command) -> Rc<RefCell<Seen>> {
    let reactor = support::reactor(Backend::Mio);
    let seen = Rc::new(RefCell::new(Seen::default()));
    let writer = Writer {
        seen: seen.clone(),
        transport: None,
        reactor: reactor.clone(),
    };
    spawn_process(&reactor, Box::new(writer), command).unwrap();
    support::run(&reactor);
    check_clean(&reactor).unwrap();
    seen
}

#[test]
fn writing_to_a_child_that_closed_stdin_or_exited_is_epipe_not_sigpipe() {
    default_sigpipe();
    // The child closes its stdin, says so, and waits for fd 3 to end: our write breaks
    // at once (EPIPE on the first write).
    let seen = run_child(
        &Command::new("sh")
            .args(["-c", "exec 0<&-; echo closed; cat <&3"])
            .child_fd(3, ChildFd::Write),
    );
    let seen = seen.borrow();
    assert_eq!(seen.events, ["out closed", "in lost"]);
    assert_eq!(seen.ended, Some(ProcessExit::Clean));
    drop(seen);

    // `head` reads a little and exits: most of the 1 MiB waits in the buffer, and the
    // pipe breaks while it drains (EPIPE in the flush), or the exit closes stdin first.
    let seen = run_child(&Command::new("sh").args(["-c", "echo go; head -c 10 >/dev/null"]));
    let seen = seen.borrow();
    assert_eq!(seen.events, ["out go", "in lost"]);
    assert_eq!(seen.ended, Some(ProcessExit::Clean));
}
