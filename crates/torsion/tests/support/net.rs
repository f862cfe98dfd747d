//! Protocols for the net tests: an echo server and a scripted protocol that records
//! what it saw.

use std::{cell::RefCell, rc::Rc};

use torsion::{
    net::{factory_fn, CloseReason, FnFactory, ListeningPort, Protocol, Transport},
    Reactor,
};

/// What a [`Scripted`] protocol saw; clones share it.
#[derive(Clone, Default)]
pub struct Seen {
    pub data: Rc<RefCell<Vec<u8>>>,
    pub lost: Rc<RefCell<Option<CloseReason>>>,
    pub transport: Rc<RefCell<Option<Rc<dyn Transport>>>>,
    pub read_closed: Rc<RefCell<bool>>,
    pub write_closed: Rc<RefCell<bool>>,
}

impl Seen {
    pub fn data(&self) -> Vec<u8> {
        self.data.borrow().clone()
    }

    pub fn lost(&self) -> Option<CloseReason> {
        self.lost.borrow().clone()
    }

    pub fn transport(&self) -> Rc<dyn Transport> {
        self.transport.borrow().clone().expect("connection made")
    }
}

type OnMade = Box<dyn FnMut(&Rc<dyn Transport>)>;
type OnData = Box<dyn FnMut(&Rc<dyn Transport>, &[u8], &Seen)>;
type OnLost = Box<dyn FnMut(&CloseReason)>;
type OnReadClosed = Box<dyn FnMut(&Rc<dyn Transport>)>;

/// A protocol whose reactions are closures, recording everything into a [`Seen`].
pub struct Scripted {
    seen: Seen,
    on_made: Option<OnMade>,
    on_data: Option<OnData>,
    on_lost: Option<OnLost>,
    on_read_closed: Option<OnReadClosed>,
}

impl Scripted {
    pub fn new(seen: &Seen) -> Scripted {
        Scripted {
            seen: seen.clone(),
            on_made: None,
            on_data: None,
            on_lost: None,
            on_read_closed: None,
        }
    }

    pub fn on_made(mut self, f: impl FnMut(&Rc<dyn Transport>) + 'static) -> Scripted {
        self.on_made = Some(Box::new(f));
        self
    }

    pub fn on_data(
        mut self,
        f: impl FnMut(&Rc<dyn Transport>, &[u8], &Seen) + 'static,
    ) -> Scripted {
        self.on_data = Some(Box::new(f));
        self
    }

    pub fn on_lost(mut self, f: impl FnMut(&CloseReason) + 'static) -> Scripted {
        self.on_lost = Some(Box::new(f));
        self
    }

    /// Handles half-close itself: `f` runs on the peer's end of file.
    pub fn on_read_closed(mut self, f: impl FnMut(&Rc<dyn Transport>) + 'static) -> Scripted {
        self.on_read_closed = Some(Box::new(f));
        self
    }

    pub fn boxed(self) -> Box<dyn Protocol> {
        Box::new(self)
    }
}

impl Protocol for Scripted {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        *self.seen.transport.borrow_mut() = Some(transport.clone());
        if let Some(f) = &mut self.on_made {
            f(&transport);
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        self.seen.data.borrow_mut().extend_from_slice(data);
        let transport = self.seen.transport();
        if let Some(f) = &mut self.on_data {
            f(&transport, data, &self.seen);
        }
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        *self.seen.lost.borrow_mut() = Some(reason.clone());
        self.seen.transport.borrow_mut().take();
        if let Some(f) = &mut self.on_lost {
            f(&reason);
        }
    }

    fn handles_half_close(&self) -> bool {
        self.on_read_closed.is_some()
    }

    fn read_connection_lost(&mut self) {
        *self.seen.read_closed.borrow_mut() = true;
        let transport = self.seen.transport();
        if let Some(f) = &mut self.on_read_closed {
            f(&transport);
        }
    }

    fn write_connection_lost(&mut self) {
        *self.seen.write_closed.borrow_mut() = true;
    }
}

/// Writes back every byte it receives.
#[derive(Default)]
pub struct Echo {
    transport: Option<Rc<dyn Transport>>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.transport {
            t.write(data);
        }
    }

    fn connection_lost(&mut self, _: CloseReason) {
        self.transport = None;
    }
}

pub type BoxedFactory = FnFactory<Box<dyn Fn(&torsion::net::Address) -> Option<Box<dyn Protocol>>>>;

/// A factory of [`Echo`] protocols.
pub fn echo_factory() -> BoxedFactory {
    factory(|| Box::new(Echo::default()))
}

/// A factory that builds one protocol per connection with `build`.
pub fn factory(build: impl Fn() -> Box<dyn Protocol> + 'static) -> BoxedFactory {
    factory_fn(Box::new(move |_: &torsion::net::Address| Some(build())))
}

/// Stops `port`, closes its connections and runs the reactor until they are gone; then
/// the reactor must be clean (no descriptors registered).
pub fn drain(reactor: &Reactor, port: &ListeningPort) {
    drain_all(reactor, &[port]);
}

/// [`drain`] for several ports.
pub fn drain_all(reactor: &Reactor, ports: &[&ListeningPort]) {
    for port in ports {
        port.stop_listening();
        let reactor2 = reactor.clone();
        port.lose_connections().add_callback(move |()| {
            // The Deferred may fire at once, before the reactor runs.
            let reactor3 = reactor2.clone();
            reactor2.call_when_running(move || reactor3.stop());
            Ok(())
        });
        super::run(reactor);
        assert_eq!(port.connection_count(), 0);
    }
    assert_eq!(reactor.registered_fds(), 0, "descriptors left registered");
}
