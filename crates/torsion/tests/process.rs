//! Child processes with real programs (sh, cat, true, false, head, sleep): output, exit
//! statuses, signals, flow control, reaping through both paths, spawn errors.

mod support;

use std::{
    cell::{Cell, RefCell},
    collections::BTreeMap,
    os::unix::fs::MetadataExt,
    rc::Rc,
};

use torsion::{
    defer::Deferred,
    net::{Producer, PushProducer, WriteLimits},
    process::{
        get_process_output, get_process_output_and_value, get_process_value, spawn_process,
        ChildFd, Command, OutputError, ProcessExit, ProcessProtocol, ProcessTransport, Reaper,
        SignalError, SpawnError,
    },
    reactor::Backend,
    testing::check_clean,
    Reactor,
};

use support::{reactor, run};

/// What a [`Recorder`] saw, in order.
#[derive(Default, Debug)]
struct Log {
    events: Vec<String>,
    data: BTreeMap<i32, Vec<u8>>,
    exited: Option<ProcessExit>,
    ended: Option<ProcessExit>,
}

type OnMade = Box<dyn FnOnce(&ProcessTransport)>;
type OnData = Box<dyn FnMut(&ProcessTransport, i32, &[u8])>;

/// A protocol that records everything and stops the reactor when the process ended.
struct Recorder {
    log: Rc<RefCell<Log>>,
    transport: Option<ProcessTransport>,
    on_made: Option<OnMade>,
    on_data: Option<OnData>,
    stop: Option<Reactor>,
    /// Record the data (false: only `on_data` sees it).
    keep_data: bool,
}

impl Recorder {
    fn new(stop: &Reactor) -> (Recorder, Rc<RefCell<Log>>) {
        let log = Rc::new(RefCell::new(Log::default()));
        let recorder = Recorder {
            log: log.clone(),
            transport: None,
            on_made: None,
            on_data: None,
            stop: Some(stop.clone()),
            keep_data: true,
        };
        (recorder, log)
    }

    fn on_made(mut self, f: impl FnOnce(&ProcessTransport) + 'static) -> Recorder {
        self.on_made = Some(Box::new(f));
        self
    }

    fn on_data(mut self, f: impl FnMut(&ProcessTransport, i32, &[u8]) + 'static) -> Recorder {
        self.on_data = Some(Box::new(f));
        self
    }
}

impl ProcessProtocol for Recorder {
    fn connection_made(&mut self, transport: ProcessTransport) {
        self.log.borrow_mut().events.push("made".into());
        if let Some(f) = self.on_made.take() {
            f(&transport);
        }
        self.transport = Some(transport);
    }

    fn child_data_received(&mut self, child_fd: i32, data: &[u8]) {
        if self.keep_data {
            self.log
                .borrow_mut()
                .data
                .entry(child_fd)
                .or_default()
                .extend_from_slice(data);
        }
        if let (Some(f), Some(t)) = (self.on_data.as_mut(), self.transport.as_ref()) {
            f(t, child_fd, data);
        }
    }

    fn in_connection_lost(&mut self) {
        self.log.borrow_mut().events.push("in lost".into());
    }

    fn out_connection_lost(&mut self) {
        self.log.borrow_mut().events.push("out lost".into());
    }

    fn err_connection_lost(&mut self) {
        self.log.borrow_mut().events.push("err lost".into());
    }

    fn child_connection_lost(&mut self, child_fd: i32) {
        match child_fd {
            0 => self.in_connection_lost(),
            1 => self.out_connection_lost(),
            2 => self.err_connection_lost(),
            n => self.log.borrow_mut().events.push(format!("fd {n} lost")),
        }
    }

    fn process_exited(&mut self, exit: ProcessExit) {
        let mut log = self.log.borrow_mut();
        assert!(log.exited.is_none(), "process_exited called twice");
        log.exited = Some(exit);
        log.events.push("exited".into());
    }

    fn process_ended(&mut self, exit: ProcessExit) {
        {
            let mut log = self.log.borrow_mut();
            assert!(log.ended.is_none(), "process_ended called twice");
            log.ended = Some(exit);
            log.events.push("ended".into());
        }
        self.transport = None;
        if let Some(reactor) = self.stop.take() {
            reactor.stop();
        }
    }
}

fn test_reactor() -> Reactor {
    reactor(Backend::Mio)
}

/// Runs `f` with each way of reaping.
fn each_reaper(f: impl Fn(Reaper)) {
    f(Reaper::Pidfd);
    f(Reaper::Sigchld);
}

/// Runs the reactor until `d` fired and returns its result.
fn wait_for<T: 'static>(reactor: &Reactor, d: Deferred<T>) -> Result<T, torsion::Failure> {
    let stop = reactor.clone();
    let d = d.add_both(move |r| {
        // It may have fired before the reactor runs (a spawn error): stop once it does.
        let reactor = stop.clone();
        stop.call_when_running(move || reactor.stop());
        r
    });
    run(reactor);
    match d.try_result() {
        Ok(result) => result,
        Err(_) => panic!("the reactor stopped before the Deferred fired"),
    }
}

#[test]
fn echo_through_cat_then_every_descriptor_closes_and_the_process_ends_cleanly() {
    each_reaper(|reaper| {
        for backend in [Backend::Mio, Backend::Poll] {
            let reactor = reactor(backend);
            let (recorder, log) = Recorder::new(&reactor);
            let recorder = recorder.on_made(|t| {
                t.write(b"hello ");
                t.write(b"cat\n");
                t.close_stdin();
            });
            let command = Command::new("cat").reaper(reaper);
            let transport = spawn_process(&reactor, Box::new(recorder), &command).unwrap();
            assert!(transport.pid() > 0);
            run(&reactor);
            let log = log.borrow();
            assert_eq!(
                log.data.get(&1).map(Vec::as_slice),
                Some(&b"hello cat\n"[..])
            );
            assert_eq!(log.ended, Some(ProcessExit::Clean));
            assert_eq!(log.events.first().map(String::as_str), Some("made"));
            assert_eq!(log.events.last().map(String::as_str), Some("ended"));
            for event in ["in lost", "out lost", "err lost", "exited"] {
                assert_eq!(
                    log.events.iter().filter(|e| *e == event).count(),
                    1,
                    "{event} in {:?} ({reaper:?}, {backend:?})",
                    log.events
                );
            }
            assert_eq!(transport.exit(), Some(ProcessExit::Clean));
            check_clean(&reactor).unwrap();
        }
    });
}

#[test]
fn exit_codes_are_reported() {
    each_reaper(|reaper| {
        let reactor = test_reactor();
        for (command, expected) in [
            (Command::new("true"), ProcessExit::Clean),
            (Command::new("false"), ProcessExit::Code(1)),
            (
                Command::new("sh").args(["-c", "exit 7"]),
                ProcessExit::Code(7),
            ),
        ] {
            let exit = wait_for(
                &reactor,
                get_process_value(&reactor, command.reaper(reaper)),
            );
            assert_eq!(exit.unwrap(), expected);
        }
        assert_eq!(ProcessExit::Code(7).code(), Some(7));
        assert_eq!(ProcessExit::Clean.code(), Some(0));
        check_clean(&reactor).unwrap();
    });
}

#[test]
fn a_child_killed_by_a_signal_says_which_and_cannot_be_signalled_again() {
    each_reaper(|reaper| {
        for (signal, number) in [("TERM", 15), ("SIGKILL", 9), ("INT", 2), ("HUP", 1)] {
            let reactor = test_reactor();
            let (recorder, log) = Recorder::new(&reactor);
            let recorder = recorder.on_made(move |t| t.signal_process(signal).unwrap());
            let command = Command::new("sleep").arg("30").reaper(reaper);
            let transport = spawn_process(&reactor, Box::new(recorder), &command).unwrap();
            run(&reactor);
            let exit = log.borrow().ended.unwrap();
            assert_eq!(exit.signal(), Some(number), "{signal}");
            assert_eq!(exit.code(), None);
            assert_eq!(
                exit.to_string(),
                format!("process killed by signal {number}")
            );
            let err = transport.signal_process("TERM").unwrap_err();
            assert!(
                matches!(err, SignalError::ProcessExitedAlready { pid } if pid == transport.pid())
            );
            assert_eq!(
                err.to_string(),
                format!("signal process {}: process exited already", transport.pid())
            );
            check_clean(&reactor).unwrap();
        }
    });
}

#[test]
fn signals_are_sent_by_number_and_unknown_names_are_refused() {
    let reactor = test_reactor();
    let (recorder, log) = Recorder::new(&reactor);
    let recorder = recorder.on_made(|t| {
        let err = t.signal_process("NOPE").unwrap_err();
        assert_eq!(err.to_string(), "unknown signal \"NOPE\"");
        t.signal_process(9).unwrap();
    });
    spawn_process(
        &reactor,
        Box::new(recorder),
        &Command::new("sleep").arg("30"),
    )
    .unwrap();
    run(&reactor);
    assert_eq!(log.borrow().ended.and_then(ProcessExit::signal), Some(9));
}

#[test]
fn two_hundred_children_at_once_are_all_reaped_exactly_once() {
    each_reaper(|reaper| {
        let reactor = test_reactor();
        let ended = Rc::new(Cell::new(0));
        let mut pids = Vec::new();
        struct Count(Rc<Cell<usize>>, Reactor);
        impl ProcessProtocol for Count {
            fn process_ended(&mut self, exit: ProcessExit) {
                assert_eq!(exit, ProcessExit::Clean);
                self.0.set(self.0.get() + 1);
                if self.0.get() == 200 {
                    self.1.stop();
                }
            }
        }
        // Two descriptors per child (stdout and its pidfd): 400 open at once stays well
        // under the usual limit of 1024 while the other tests run beside this one.
        let command = Command::new("true")
            .child_fd(0, ChildFd::Closed)
            .child_fd(2, ChildFd::Closed)
            .reaper(reaper);
        for _ in 0..200 {
            let protocol = Count(ended.clone(), reactor.clone());
            let t = spawn_process(&reactor, Box::new(protocol), &command).unwrap();
            pids.push(t.pid());
        }
        run(&reactor);
        assert_eq!(ended.get(), 200, "{reaper:?}");
        pids.sort_unstable();
        pids.dedup();
        assert_eq!(pids.len(), 200);
        check_clean(&reactor).unwrap();
    });
}

#[test]
fn children_started_elsewhere_keep_their_exit_status() {
    each_reaper(|reaper| {
        let reactor = test_reactor();
        let mut theirs = std::process::Command::new("sh")
            .args(["-c", "exit 5"])
            .spawn()
            .unwrap();
        // Two of ours exit after theirs, so SIGCHLD arrives for all of them.
        for _ in 0..2 {
            let exit = wait_for(
                &reactor,
                get_process_value(
                    &reactor,
                    Command::new("sh").args(["-c", "sleep 0.1"]).reaper(reaper),
                ),
            );
            assert_eq!(exit.unwrap(), ProcessExit::Clean);
        }
        assert_eq!(theirs.wait().unwrap().code(), Some(5), "{reaper:?}");
        check_clean(&reactor).unwrap();
    });
}

#[test]
fn a_nonexistent_program_is_an_error_naming_it_and_the_system_cause() {
    let reactor = test_reactor();
    let (recorder, log) = Recorder::new(&reactor);
    let err = spawn_process(&reactor, Box::new(recorder), &Command::new("nosuchprog")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spawn nosuchprog: No such file or directory"
    );
    assert!(matches!(err, SpawnError::Exec { .. }));
    assert!(log.borrow().events.is_empty(), "the protocol was called");

    // A path is not looked up: exec itself fails in the child and says so through its pipe.
    let (recorder, _) = Recorder::new(&reactor);
    let err =
        spawn_process(&reactor, Box::new(recorder), &Command::new("/no/such/prog")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spawn /no/such/prog: No such file or directory"
    );
    let (recorder, _) = Recorder::new(&reactor);
    let err =
        spawn_process(&reactor, Box::new(recorder), &Command::new("/etc/passwd")).unwrap_err();
    assert_eq!(err.to_string(), "spawn /etc/passwd: Permission denied");
    let (recorder, _) = Recorder::new(&reactor);
    let err = spawn_process(
        &reactor,
        Box::new(recorder),
        &Command::new("true").current_dir("/no/such/dir"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "spawn true: chdir: No such file or directory"
    );

    // The helpers fail their Deferred with the same error.
    let failure = wait_for(
        &reactor,
        get_process_output(&reactor, Command::new("nosuchprog")),
    )
    .unwrap_err();
    assert_eq!(
        failure.error_message(),
        "spawn nosuchprog: No such file or directory"
    );
    assert!(failure.check::<SpawnError>().is_some());
    check_clean(&reactor).unwrap();
}

#[test]
fn get_process_output_fails_on_stderr_and_and_value_keeps_both() {
    let reactor = test_reactor();
    let script = || Command::new("sh").args(["-c", "echo out; echo oops >&2; exit 2"]);
    let failure = wait_for(&reactor, get_process_output(&reactor, script())).unwrap_err();
    let err = failure.check::<OutputError>().unwrap();
    assert!(matches!(err, OutputError::Stderr { stdout, .. } if stdout == b"out\n"));
    assert_eq!(
        failure.error_message(),
        "process sh wrote 5 bytes to stderr: oops"
    );
    let output = wait_for(&reactor, get_process_output_and_value(&reactor, script())).unwrap();
    assert_eq!(output.stdout, b"out\n");
    assert_eq!(output.stderr, b"oops\n");
    assert_eq!(output.exit, ProcessExit::Code(2));
    let out = wait_for(
        &reactor,
        get_process_output(&reactor, Command::new("sh").args(["-c", "echo fine"])),
    );
    assert_eq!(out.unwrap(), b"fine\n");
    check_clean(&reactor).unwrap();
}

#[test]
fn environment_directory_and_ids_reach_the_child() {
    let reactor = test_reactor();
    let me = std::fs::metadata("/proc/self").unwrap();
    let command = Command::new("sh")
        .args(["-c", "echo $FOO; echo ${HOME-unset}; pwd; id -u; id -g"])
        .env_clear()
        .env("FOO", "bar")
        .current_dir("/")
        .uid(me.uid())
        .gid(me.gid());
    let out = wait_for(&reactor, get_process_output(&reactor, command)).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("bar\nunset\n/\n{}\n{}\n", me.uid(), me.gid())
    );
}

#[test]
fn extra_child_descriptors_are_read_like_stdout() {
    let reactor = test_reactor();
    let (recorder, log) = Recorder::new(&reactor);
    let command = Command::new("sh")
        .args(["-c", "echo three >&3; echo four >&4 || echo closed"])
        .child_fd(3, ChildFd::Read)
        .child_fd(2, ChildFd::Closed);
    spawn_process(&reactor, Box::new(recorder), &command).unwrap();
    run(&reactor);
    let log = log.borrow();
    assert_eq!(log.data.get(&3).map(Vec::as_slice), Some(&b"three\n"[..]));
    assert_eq!(log.data.get(&1).map(Vec::as_slice), Some(&b"closed\n"[..]));
    assert!(
        log.events.contains(&"fd 3 lost".to_string()),
        "{:?}",
        log.events
    );
    assert!(
        !log.events.contains(&"err lost".to_string()),
        "{:?}",
        log.events
    );
    check_clean(&reactor).unwrap();
}

#[test]
fn a_pty_child_sees_a_terminal() {
    let reactor = test_reactor();
    let (recorder, log) = Recorder::new(&reactor);
    let command = Command::new("sh")
        .args(["-c", "test -t 0 && test -t 1 && echo tty"])
        .use_pty(true);
    spawn_process(&reactor, Box::new(recorder), &command).unwrap();
    run(&reactor);
    let log = log.borrow();
    assert_eq!(log.data.get(&1).map(Vec::as_slice), Some(&b"tty\r\n"[..]));
    assert_eq!(log.ended, Some(ProcessExit::Clean));
    check_clean(&reactor).unwrap();
}

/// Records the pauses and resumes a transport asks of it.
#[derive(Default)]
struct Feeder {
    paused: Cell<u32>,
    resumed: Cell<u32>,
    stopped: Cell<u32>,
}

impl PushProducer for Feeder {
    fn pause_producing(&self) {
        self.paused.set(self.paused.get() + 1);
    }
    fn resume_producing(&self) {
        self.resumed.set(self.resumed.get() + 1);
    }
    fn stop_producing(&self) {
        self.stopped.set(self.stopped.get() + 1);
    }
}

#[test]
fn stdin_is_buffered_within_the_write_limits_and_pauses_a_producer() {
    const CHUNK: usize = 1 << 20;
    let reactor = test_reactor();
    let feeder = Rc::new(Feeder::default());
    let (recorder, log) = Recorder::new(&reactor);
    let received = Rc::new(Cell::new(0usize));
    let recorder = recorder
        .on_made({
            let feeder = feeder.clone();
            move |t| {
                t.set_write_limits(WriteLimits {
                    high_water: 64 * 1024,
                    low_water: 16 * 1024,
                    max: 4 * CHUNK,
                });
                t.register_producer(Producer::Push(feeder.clone())).unwrap();
                // cat cannot take 1 MiB at once: the rest waits, above the high mark.
                t.write(&vec![b'x'; CHUNK]);
                assert!(t.buffered() > 0);
                assert_eq!(feeder.paused.get(), 1);
                // Past the hard limit, stdin is closed instead of growing the buffer.
                t.write(&vec![b'y'; 4 * CHUNK]);
            }
        })
        .on_data({
            let received = received.clone();
            move |_, _, data| received.set(received.get() + data.len())
        });
    let (_, logs) = support::capture_logs(|| {
        spawn_process(&reactor, Box::new(recorder), &Command::new("cat")).unwrap();
        run(&reactor);
    });
    support::assert_logged(&logs, tracing::Level::WARN, &["buffer full", "closing it"]);
    let log = log.borrow();
    assert_eq!(log.ended, Some(ProcessExit::Clean));
    // What the pipe took before the overflow reached cat, and nothing after.
    assert!(received.get() < CHUNK, "received {}", received.get());
    assert_eq!(feeder.stopped.get(), 1);
}

#[test]
fn a_drained_stdin_resumes_its_producer() {
    const CHUNK: usize = 1 << 20;
    let reactor = test_reactor();
    let feeder = Rc::new(Feeder::default());
    let (recorder, log) = Recorder::new(&reactor);
    let recorder = recorder.on_made({
        let feeder = feeder.clone();
        move |t| {
            t.register_producer(Producer::Push(feeder.clone())).unwrap();
            t.write(&vec![b'x'; CHUNK]);
            t.close_stdin();
        }
    });
    spawn_process(
        &reactor,
        Box::new(recorder),
        &Command::new("sh").args(["-c", "cat >/dev/null; echo done"]),
    )
    .unwrap();
    run(&reactor);
    assert_eq!(feeder.paused.get(), 1);
    assert_eq!(feeder.resumed.get(), 1);
    assert_eq!(
        log.borrow().data.get(&1).map(Vec::as_slice),
        Some(&b"done\n"[..])
    );
    check_clean(&reactor).unwrap();
}

/// Panics in `out_received`; counts what else it hears.
struct Panicky {
    ended: Rc<Cell<Option<ProcessExit>>>,
    reactor: Reactor,
}

impl ProcessProtocol for Panicky {
    fn out_received(&mut self, _data: &[u8]) {
        panic!("protocol bug");
    }

    fn process_ended(&mut self, exit: ProcessExit) {
        self.ended.set(Some(exit));
        self.reactor.stop();
    }
}

#[test]
fn a_panicking_protocol_is_logged_its_descriptors_close_and_it_still_hears_the_end() {
    let reactor = test_reactor();
    let ended = Rc::new(Cell::new(None));
    let protocol = Panicky {
        ended: ended.clone(),
        reactor: reactor.clone(),
    };
    // The child writes once, then keeps writing until its stdout breaks (SIGPIPE).
    let command = Command::new("sh").args(["-c", "echo first; exec yes"]);
    let (_, logs) = support::capture_logs(|| {
        spawn_process(&reactor, Box::new(protocol), &command).unwrap();
        run(&reactor);
    });
    support::assert_logged(
        &logs,
        tracing::Level::ERROR,
        &[
            "process protocol for sh panicked: protocol bug",
            "closing its descriptors",
        ],
    );
    assert_eq!(ended.get().and_then(ProcessExit::signal), Some(13));
    check_clean(&reactor).unwrap();
}
