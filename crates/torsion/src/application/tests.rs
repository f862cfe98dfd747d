use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::defer::{succeed, Resolver};
use crate::endpoints::StreamServerEndpoint;
use crate::net::{ListeningPort, ProtocolFactory};
use crate::task::Clock;

type Log = Rc<RefCell<Vec<String>>>;

/// A service that records its calls; its stop fires when the test says.
struct Recorder {
    state: ServiceState,
    log: Log,
    pending_stop: RefCell<Option<Resolver<()>>>,
    hold_stop: bool,
    fail_start: bool,
}

impl Recorder {
    fn new(name: &str, log: &Log) -> Rc<Recorder> {
        Rc::new(Recorder {
            state: ServiceState::new(name),
            log: log.clone(),
            pending_stop: RefCell::new(None),
            hold_stop: false,
            fail_start: false,
        })
    }

    fn holding(name: &str, log: &Log) -> Rc<Recorder> {
        let mut r = Rc::into_inner(Recorder::new(name, log)).unwrap();
        r.hold_stop = true;
        Rc::new(r)
    }

    fn failing(name: &str, log: &Log) -> Rc<Recorder> {
        let mut r = Rc::into_inner(Recorder::new(name, log)).unwrap();
        r.fail_start = true;
        Rc::new(r)
    }

    fn record(&self, what: &str) {
        self.log
            .borrow_mut()
            .push(format!("{what} {}", self.name()));
    }
}

impl Service for Recorder {
    fn name(&self) -> &str {
        self.state.name()
    }

    fn privileged_start(&self) -> Result<(), Failure> {
        self.record("privileged");
        Ok(())
    }

    fn start(&self) -> Result<(), Failure> {
        self.record("start");
        if self.fail_start {
            return Err(Failure::msg(format!("start {}: refused", self.name())));
        }
        self.state.set_running(true);
        Ok(())
    }

    fn stop(&self) -> Deferred<()> {
        self.record("stop");
        self.state.set_running(false);
        if !self.hold_stop {
            return succeed(());
        }
        let (d, resolver) = Deferred::new();
        *self.pending_stop.borrow_mut() = Some(resolver);
        d
    }

    fn abort(&self) {
        self.record("abort");
    }

    fn is_running(&self) -> bool {
        self.state.is_running()
    }
}

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn taken(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.borrow_mut())
}

#[test]
fn multi_service_starts_in_order_and_stops_in_reverse() {
    let log = log();
    let root = MultiService::new("root");
    for name in ["a", "b", "c"] {
        root.add(Recorder::new(name, &log)).unwrap();
    }
    root.privileged_start().unwrap();
    root.start().unwrap();
    assert!(root.is_running());
    root.stop().try_result().unwrap().unwrap();
    assert!(!root.is_running());
    assert_eq!(
        taken(&log),
        [
            "privileged a",
            "privileged b",
            "privileged c",
            "start a",
            "start b",
            "start c",
            "stop c",
            "stop b",
            "stop a"
        ]
    );
    // Stopped already: nothing is stopped twice.
    root.stop().try_result().unwrap().unwrap();
    assert!(taken(&log).is_empty());
}

#[test]
fn multi_service_stop_waits_for_every_child() {
    let log = log();
    let root = MultiService::new("root");
    let (a, b) = (Recorder::holding("a", &log), Recorder::holding("b", &log));
    root.add(a.clone()).unwrap();
    root.add(b.clone()).unwrap();
    root.start().unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let _ = root.stop().add_callback(move |()| {
        f.set(true);
        Ok::<(), Failure>(())
    });
    assert!(!fired.get());
    a.pending_stop
        .borrow_mut()
        .take()
        .unwrap()
        .callback(())
        .unwrap();
    assert!(!fired.get(), "b has not stopped yet");
    b.pending_stop
        .borrow_mut()
        .take()
        .unwrap()
        .callback(())
        .unwrap();
    assert!(fired.get());
}

#[test]
fn multi_service_stop_reports_a_child_failure_after_all_stopped() {
    let log = log();
    let root = MultiService::new("root");
    let (a, b) = (Recorder::holding("a", &log), Recorder::holding("b", &log));
    root.add(a.clone()).unwrap();
    root.add(b.clone()).unwrap();
    root.start().unwrap();
    let stopped = root.stop();
    let failure = Failure::msg("stop b: it broke");
    b.pending_stop
        .borrow_mut()
        .take()
        .unwrap()
        .errback(failure)
        .unwrap();
    a.pending_stop
        .borrow_mut()
        .take()
        .unwrap()
        .callback(())
        .unwrap();
    let result = stopped.try_result().unwrap();
    assert_eq!(result.unwrap_err().to_string(), "stop b: it broke");
}

#[test]
fn a_child_added_to_a_running_tree_starts_at_once() {
    let log = log();
    let root = MultiService::new("root");
    root.start().unwrap();
    root.add(Recorder::new("late", &log)).unwrap();
    assert_eq!(taken(&log), ["start late"]);
    assert!(root.get("late").unwrap().is_running());
    assert!(root.get("other").is_none());
}

#[test]
fn a_failing_start_is_returned() {
    let log = log();
    let root = MultiService::new("root");
    root.add(Recorder::new("a", &log)).unwrap();
    root.add(Recorder::failing("b", &log)).unwrap();
    root.add(Recorder::new("c", &log)).unwrap();
    let error = root.start().unwrap_err();
    assert_eq!(error.to_string(), "start b: refused");
    assert_eq!(taken(&log), ["start a", "start b"]);
}

/// An endpoint that "listens" on a memory reactor and counts its listens.
#[derive(Default)]
struct MemoryEndpoint {
    network: crate::testing::MemoryReactor,
    listens: Cell<usize>,
}

impl StreamServerEndpoint for MemoryEndpoint {
    fn listen(&self, factory: Rc<dyn ProtocolFactory>) -> Deferred<ListeningPort> {
        use crate::net::{StreamNetwork, TcpListenOptions};
        self.listens.set(self.listens.get() + 1);
        let port = self
            .network
            .listen_tcp(80, factory, TcpListenOptions::default());
        crate::defer::maybe_deferred(move || port.map_err(Failure::from))
    }
}

#[test]
fn listen_service_binds_in_the_privileged_start_and_closes_on_stop() {
    let endpoint = Rc::new(MemoryEndpoint::default());
    let factory = crate::protocols::wire::Echo::factory();
    let service = ListenService::new("web", endpoint.clone(), Rc::new(factory));
    assert!(service.addresses().is_empty());
    service.privileged_start().unwrap();
    assert_eq!(endpoint.listens.get(), 1);
    assert_eq!(service.addresses().len(), 1);
    service.start().unwrap();
    assert_eq!(
        endpoint.listens.get(),
        1,
        "start reuses the privileged port"
    );
    let port = service.port().unwrap();
    assert!(port.is_listening());
    service.stop().try_result().unwrap().unwrap();
    assert!(!port.is_listening());
    assert!(!service.is_running());
    assert!(service.addresses().is_empty());
    // Started again: listens again.
    service.start().unwrap();
    assert_eq!(endpoint.listens.get(), 2);
    service.stop().try_result().unwrap().unwrap();
}

#[test]
fn listen_service_with_drain_calls_the_hook_on_stop() {
    let endpoint = Rc::new(MemoryEndpoint::default());
    let drained = Rc::new(Cell::new(0));
    let d = drained.clone();
    let factory = crate::protocols::wire::Echo::factory();
    let service = ListenService::new("web", endpoint, Rc::new(factory))
        .with_drain(move || d.set(d.get() + 1));
    service.start().unwrap();
    assert_eq!(drained.get(), 0);
    service.stop().try_result().unwrap().unwrap();
    assert_eq!(drained.get(), 1);
}

#[test]
fn listen_service_reports_a_bad_endpoint_string() {
    let reactor = crate::Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .unwrap();
    let factory = crate::protocols::wire::Echo::factory();
    let error = ListenService::from_string(&reactor, "tcp:notaport", factory).unwrap_err();
    assert!(error.to_string().contains("notaport"), "{error}");
}

#[test]
fn timer_service_calls_at_start_and_every_interval_and_stops() {
    let clock = Clock::new();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let service = TimerService::new("tick", &clock, Duration::from_secs(10), move || {
        c.set(c.get() + 1)
    });
    service.start().unwrap();
    assert_eq!(calls.get(), 1);
    clock.advance(Duration::from_secs(10));
    clock.advance(Duration::from_secs(10));
    assert_eq!(calls.get(), 3);
    service.stop().try_result().unwrap().unwrap();
    clock.advance(Duration::from_secs(20));
    assert_eq!(calls.get(), 3);
    assert!(!service.is_running());
}

#[test]
fn timer_service_stop_waits_for_a_pending_call() {
    let clock = Clock::new();
    let pending: Rc<RefCell<Option<Resolver<()>>>> = Rc::default();
    let p = pending.clone();
    let service = TimerService::new("slow", &clock, Duration::from_secs(1), move || {
        let (d, resolver) = Deferred::new();
        *p.borrow_mut() = Some(resolver);
        d
    });
    service.start().unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let _ = service.stop().add_callback(move |()| {
        f.set(true);
        Ok::<(), Failure>(())
    });
    assert!(!fired.get(), "the call's Deferred is pending");
    pending.borrow_mut().take().unwrap().callback(()).unwrap();
    assert!(fired.get());
}

#[test]
fn runner_runs_the_privileged_start_then_the_hook_then_start() {
    let reactor = crate::Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .unwrap();
    let log = log();
    let root = Rc::new(MultiService::new("root"));
    root.add(Recorder::new("a", &log)).unwrap();
    let hook_log = log.clone();
    let stopper = reactor.clone();
    let ready = Rc::new(Cell::new(false));
    let r = ready.clone();
    Runner::new(&reactor)
        .after_privileged_start(move || {
            hook_log.borrow_mut().push("drop privileges".into());
            Ok(())
        })
        .on_ready(move |addresses| {
            assert!(addresses.is_empty());
            r.set(true);
            stopper.stop();
        })
        .run(root.clone())
        .unwrap();
    assert!(ready.get());
    assert_eq!(
        taken(&log),
        ["privileged a", "drop privileges", "start a", "stop a"]
    );
    assert!(!root.is_running());
}

#[test]
fn runner_does_not_start_when_the_hook_fails() {
    let reactor = crate::Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .unwrap();
    let log = log();
    let root = Rc::new(MultiService::new("root"));
    root.add(Recorder::new("a", &log)).unwrap();
    let error = Runner::new(&reactor)
        .after_privileged_start(|| Err(Failure::msg("setuid 1000: operation not permitted")))
        .run(root)
        .unwrap_err();
    assert_eq!(error.to_string(), "setuid 1000: operation not permitted");
    assert_eq!(taken(&log), ["privileged a", "abort a"]);
}

#[test]
fn runner_aborts_what_is_left_after_the_drain_timeout() {
    let reactor = crate::Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .unwrap();
    let log = log();
    let root = Rc::new(MultiService::new("root"));
    root.add(Recorder::holding("slow", &log)).unwrap();
    let stopper = reactor.clone();
    Runner::new(&reactor)
        .drain_timeout(Duration::from_millis(1))
        .on_ready(move |_| stopper.stop())
        .run(root)
        .unwrap();
    assert_eq!(
        taken(&log),
        ["privileged slow", "start slow", "stop slow", "abort slow"]
    );
}

#[test]
fn a_client_service_runs_in_a_tree() {
    use crate::endpoints::{ClientService, StreamClientEndpoint};
    use crate::net::Transport;

    /// Refuses every attempt, counting them.
    struct Refused(Rc<Cell<u32>>);
    impl StreamClientEndpoint for Refused {
        fn connect(&self, _: Rc<dyn ProtocolFactory>) -> Deferred<Rc<dyn Transport>> {
            self.0.set(self.0.get() + 1);
            crate::defer::fail(Failure::msg("connection refused"))
        }
    }
    let (clock, attempts) = (Clock::new(), Rc::new(Cell::new(0)));
    let factory = crate::protocols::wire::Echo::factory();
    let client = ClientService::new(Rc::new(Refused(attempts.clone())), Rc::new(factory), &clock)
        .with_retry_policy(|_| Duration::from_secs(1));
    let root = MultiService::new("root");
    root.add(Rc::new(client.clone())).unwrap();
    assert_eq!(attempts.get(), 0, "nothing happens before start");
    root.start().unwrap();
    assert!(Service::is_running(&client));
    assert_eq!(attempts.get(), 1);
    clock.advance(Duration::from_secs(1));
    assert_eq!(attempts.get(), 2);
    root.stop().try_result().unwrap().unwrap();
    assert!(!Service::is_running(&client));
    assert!(
        clock.pending_calls().is_empty(),
        "the retry timer is cancelled"
    );
}

#[test]
fn a_bare_port_listens_on_loopback_only() {
    use super::listen_endpoint;
    assert_eq!(listen_endpoint("8080"), "tcp:8080:interface=127.0.0.1");
    assert_eq!(listen_endpoint("0"), "tcp:0:interface=127.0.0.1");
    for explicit in [
        "tcp:8080",
        "tcp6:80",
        "unix:/tmp/s",
        "8080x",
        "",
        "haproxy:tcp:1",
    ] {
        assert_eq!(listen_endpoint(explicit), explicit);
    }
    let reactor = crate::Reactor::new().unwrap();
    let port =
        super::example::listen(&reactor, "0", crate::protocols::wire::Echo::factory()).unwrap();
    match port.address() {
        crate::net::Address::Tcp(addr) => assert!(addr.ip().is_loopback(), "{addr}"),
        other => panic!("a TCP port, not {other}"),
    }
    port.stop_listening();
}
