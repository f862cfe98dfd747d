use std::cell::Cell;

use super::*;
use crate::net::factory_fn;
use crate::testing::StringTransport;

type Log = Rc<RefCell<Vec<String>>>;

/// Logs every call it gets, and echoes what it reads to its transport.
struct Recorder {
    log: Log,
    transport: Option<Rc<dyn Transport>>,
}

impl Recorder {
    fn new(log: &Log) -> Recorder {
        Recorder {
            log: log.clone(),
            transport: None,
        }
    }

    fn note(&self, call: &str) {
        self.log.borrow_mut().push(call.to_owned());
    }
}

impl Protocol for Recorder {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.note("connection_made");
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.note(&format!("data_received {}", String::from_utf8_lossy(data)));
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        self.note(&format!("connection_lost {}", reason.is_clean()));
    }

    fn handles_half_close(&self) -> bool {
        self.note("handles_half_close");
        true
    }

    fn read_connection_lost(&mut self) {
        self.note("read_connection_lost");
    }

    fn write_connection_lost(&mut self) {
        self.note("write_connection_lost");
    }
}

/// Adds nothing: every call goes through the defaults.
#[derive(Debug)]
struct Nothing;

impl ProtocolWrapper for Nothing {}

/// Every call, in the order a transport makes them, and what the recorder logs for each.
fn drive(protocol: &mut dyn Protocol) -> Rc<StringTransport> {
    let transport = StringTransport::new();
    protocol.connection_made(transport.clone());
    protocol.data_received(b"ab");
    assert!(protocol.handles_half_close());
    protocol.read_connection_lost();
    protocol.write_connection_lost();
    protocol.connection_lost(CloseReason::Clean);
    transport
}

const EVERY_CALL: [&str; 6] = [
    "connection_made",
    "data_received ab",
    "handles_half_close",
    "read_connection_lost",
    "write_connection_lost",
    "connection_lost true",
];

#[test]
fn every_call_is_forwarded_once_and_in_order() {
    let log = Log::default();
    let mut wrapped = Nothing.wrap(Recorder::new(&log));
    let transport = drive(&mut wrapped);
    assert_eq!(*log.borrow(), EVERY_CALL);
    assert_eq!(transport.value(), b"ab");
}

#[test]
fn boxed_and_shared_protocols_forward_every_call() {
    let log = Log::default();
    let mut boxed: Box<dyn Protocol> = Box::new(Nothing.wrap(Recorder::new(&log)));
    drive(&mut boxed);
    assert_eq!(*log.borrow(), EVERY_CALL);

    let log = Log::default();
    let shared = Rc::new(RefCell::new(Recorder::new(&log)));
    let mut wrapped = Nothing.wrap(shared.clone());
    drive(&mut wrapped);
    assert_eq!(*log.borrow(), EVERY_CALL);
    assert!(shared.borrow().transport.is_some());
}

/// Stands between the protocol and its connection, as TLS would: the inner protocol
/// writes to a transport of the wrapper's, and reads the bytes the wrapper decodes.
struct Upcase {
    inner_transport: Rc<StringTransport>,
}

impl ProtocolWrapper for Upcase {
    fn connection_made(&mut self, inner: &mut dyn Protocol, _outer: Rc<dyn Transport>) {
        inner.connection_made(self.inner_transport.clone());
    }

    fn data_received(&mut self, inner: &mut dyn Protocol, data: &[u8]) {
        inner.data_received(&data.to_ascii_uppercase());
    }
}

#[test]
fn a_wrapper_can_interpose_on_the_transport_and_the_bytes() {
    let log = Log::default();
    let inner_transport = StringTransport::new();
    let mut wrapped = Upcase {
        inner_transport: inner_transport.clone(),
    }
    .wrap(Recorder::new(&log));
    let outer = drive(&mut wrapped);
    assert_eq!(
        outer.value(),
        b"",
        "the inner protocol never sees the outer transport"
    );
    assert_eq!(inner_transport.value(), b"AB");
    assert_eq!(log.borrow()[1], "data_received AB");
    // The hooks it did not write still forward.
    assert_eq!(log.borrow().len(), EVERY_CALL.len());
}

/// Refuses every other connection and counts starts and stops.
#[derive(Debug, Default)]
struct EveryOther {
    built: Cell<usize>,
    started: Cell<usize>,
}

impl FactoryWrapper for EveryOther {
    fn build_protocol(
        &self,
        inner: &dyn ProtocolFactory,
        addr: &Address,
    ) -> Option<Box<dyn Protocol>> {
        self.built.set(self.built.get() + 1);
        if self.built.get() % 2 == 0 {
            return None;
        }
        let protocol = inner.build_protocol(addr)?;
        Some(Box::new(Nothing.wrap(protocol)))
    }

    fn start_factory(&self, inner: &dyn ProtocolFactory) {
        self.started.set(self.started.get() + 1);
        inner.start_factory();
    }
}

#[test]
fn a_factory_wrapper_builds_refuses_and_forwards_the_rest() {
    let log = Log::default();
    let factory = EveryOther::default().wrap(factory_fn({
        let log = log.clone();
        move |_| Some(Recorder::new(&log))
    }));
    factory.start_factory();
    factory.stop_factory();
    assert_eq!(factory.wrapper().started.get(), 1);
    let addr = Address::Unix(None);
    let mut first = factory.build_protocol(&addr).expect("first is built");
    assert!(factory.build_protocol(&addr).is_none());
    drive(&mut first);
    assert_eq!(*log.borrow(), EVERY_CALL);
}

#[test]
fn a_factory_closure_returning_boxes_does_not_box_again() {
    let log = Log::default();
    let made: Box<dyn Protocol> = Box::new(Recorder::new(&log));
    let address = &*made as *const dyn Protocol as *const ();
    let slot = RefCell::new(Some(made));
    let factory = factory_fn(move |_| slot.borrow_mut().take());
    let mut protocol = factory.build_protocol(&Address::Unix(None)).expect("built");
    assert_eq!(&*protocol as *const dyn Protocol as *const (), address);
    drive(&mut protocol);
    assert_eq!(*log.borrow(), EVERY_CALL);
}

#[test]
fn stall_reports_name_the_wrapped_protocol_not_its_box_or_wrapper() {
    struct Named;
    impl Protocol for Named {
        fn data_received(&mut self, _: &[u8]) {}
    }
    struct Quiet;
    impl ProtocolWrapper for Quiet {}
    let boxed: Box<dyn Protocol> = Box::new(Named);
    assert!(
        boxed.type_name().ends_with("::Named"),
        "{}",
        boxed.type_name()
    );
    let wrapped = Quiet.wrap(boxed);
    assert!(
        wrapped.type_name().ends_with("::Named"),
        "{}",
        wrapped.type_name()
    );
    let shared = Rc::new(RefCell::new(Named));
    let held = shared.borrow_mut();
    // Borrowed elsewhere: still a name, no panic.
    assert!(Protocol::type_name(&shared.clone()).ends_with("::Named"));
    drop(held);
    assert!(Protocol::type_name(&shared).ends_with("::Named"));
}
