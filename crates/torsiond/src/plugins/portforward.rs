//! Relays each accepted connection to a destination (Twisted's `portforward`): bytes
//! flow both ways, each side's reading pauses while the other's write buffer is full,
//! and either side's close closes the other.

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};

use torsion::endpoints::StreamClientEndpoint;
use torsion::net::{
    factory_fn, Address, CloseReason, Producer, Protocol, ProtocolFactory, PushProducer, Transport,
};
use torsion::Failure;

/// The factory of the listening side: one relay per accepted connection.
pub struct PortForward {
    dest: Rc<dyn StreamClientEndpoint>,
}

impl PortForward {
    /// Relays to `dest`.
    pub fn new(dest: Rc<dyn StreamClientEndpoint>) -> PortForward {
        PortForward { dest }
    }
}

impl ProtocolFactory for PortForward {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(ServerSide {
            dest: self.dest.clone(),
            link: Rc::new(Link::default()),
        }))
    }
}

impl fmt::Debug for PortForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortForward").finish_non_exhaustive()
    }
}

/// The two transports of one relay.
#[derive(Default)]
struct Link {
    server: RefCell<Option<Rc<dyn Transport>>>,
    client: RefCell<Option<Rc<dyn Transport>>>,
    /// Bytes the accepted side sent before the destination answered (reading is paused
    /// meanwhile, so at most one read's worth).
    early: RefCell<Vec<u8>>,
}

struct ServerSide {
    dest: Rc<dyn StreamClientEndpoint>,
    link: Rc<Link>,
}

impl Protocol for ServerSide {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        transport.pause_producing();
        *self.link.server.borrow_mut() = Some(transport.clone());
        let link = self.link.clone();
        let factory = factory_fn(move |_| {
            Some(Box::new(ClientSide { link: link.clone() }) as Box<dyn Protocol>)
        });
        let link = Rc::downgrade(&self.link);
        let _ = self.dest.connect(Rc::new(factory)).add_callbacks(
            |_| Ok::<(), Failure>(()),
            move |failure: Failure| {
                tracing::warn!(target: "torsiond::portforward", "connect to the destination: {failure}");
                if let Some(server) = link.upgrade().and_then(|l| l.server.borrow().clone()) {
                    server.lose_connection();
                }
                Ok::<(), Failure>(())
            },
        );
    }

    fn data_received(&mut self, data: &[u8]) {
        match &*self.link.client.borrow() {
            Some(client) => client.write(data),
            None => self.link.early.borrow_mut().extend_from_slice(data),
        }
    }

    fn connection_lost(&mut self, _: CloseReason) {
        self.link.server.borrow_mut().take();
        if let Some(client) = self.link.client.borrow_mut().take() {
            client.unregister_producer();
            client.lose_connection();
        }
    }
}

struct ClientSide {
    link: Rc<Link>,
}

impl Protocol for ClientSide {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let Some(server) = self.link.server.borrow().clone() else {
            transport.lose_connection(); // the accepted side left meanwhile
            return;
        };
        *self.link.client.borrow_mut() = Some(transport.clone());
        let early = std::mem::take(&mut *self.link.early.borrow_mut());
        if !early.is_empty() {
            transport.write(&early);
        }
        // Each side pauses the other's reading while its own write buffer is full.
        let _ = server.register_producer(Producer::Push(Rc::new(Paced(Rc::downgrade(&transport)))));
        let _ = transport.register_producer(Producer::Push(Rc::new(Paced(Rc::downgrade(&server)))));
        server.resume_producing();
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(server) = &*self.link.server.borrow() {
            server.write(data);
        }
    }

    fn connection_lost(&mut self, _: CloseReason) {
        self.link.client.borrow_mut().take();
        if let Some(server) = self.link.server.borrow_mut().take() {
            server.unregister_producer();
            server.lose_connection();
        }
    }
}

/// The other side's transport as a producer of this side's writes.
struct Paced(Weak<dyn Transport>);

impl PushProducer for Paced {
    fn pause_producing(&self) {
        if let Some(t) = self.0.upgrade() {
            t.pause_producing();
        }
    }

    fn resume_producing(&self) {
        if let Some(t) = self.0.upgrade() {
            t.resume_producing();
        }
    }

    fn stop_producing(&self) {
        if let Some(t) = self.0.upgrade() {
            t.lose_connection();
        }
    }
}
