//! Wrappers that let an endpoint hear about a user's connection without the user's
//! protocol or factory knowing (Twisted's `_WrappingFactory` and `_WrappingProtocol`).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use crate::defer::Resolver;
use crate::net::{
    Address, ClientFactory, CloseReason, Connector, Protocol, ProtocolFactory, Transport,
};
use crate::Failure;

type OnMade = Box<dyn FnOnce(&Rc<dyn Transport>)>;
type OnLost = Box<dyn FnOnce(&CloseReason)>;

/// Forwards every call to `inner`; runs `on_made` after the inner `connection_made` (so
/// whoever hears it finds the protocol ready) and `on_lost` after `connection_lost`.
pub(crate) struct Hooked {
    inner: Box<dyn Protocol>,
    on_made: Option<OnMade>,
    on_lost: Option<OnLost>,
}

impl Hooked {
    pub(crate) fn new(inner: Box<dyn Protocol>) -> Hooked {
        Hooked {
            inner,
            on_made: None,
            on_lost: None,
        }
    }

    pub(crate) fn on_made(mut self, f: impl FnOnce(&Rc<dyn Transport>) + 'static) -> Hooked {
        self.on_made = Some(Box::new(f));
        self
    }

    pub(crate) fn on_lost(mut self, f: impl FnOnce(&CloseReason) + 'static) -> Hooked {
        self.on_lost = Some(Box::new(f));
        self
    }
}

impl Protocol for Hooked {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.inner.connection_made(transport.clone());
        if let Some(on_made) = self.on_made.take() {
            on_made(&transport);
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        self.inner.data_received(data);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        let hook = self.on_lost.take();
        let copy = hook.as_ref().map(|_| reason.clone());
        self.inner.connection_lost(reason);
        if let (Some(on_lost), Some(reason)) = (hook, copy) {
            on_lost(&reason);
        }
    }

    fn handles_half_close(&self) -> bool {
        self.inner.handles_half_close()
    }

    fn read_connection_lost(&mut self) {
        self.inner.read_connection_lost();
    }

    fn write_connection_lost(&mut self) {
        self.inner.write_connection_lost();
    }
}

type TransportResolver = Resolver<Rc<dyn Transport>>;

/// The client factory behind one endpoint `connect`: builds the user's protocol, fires
/// `resolver` with the transport once it is connected, or with the failure.
pub(crate) struct Once {
    factory: Rc<dyn ProtocolFactory>,
    resolver: Rc<RefCell<Option<TransportResolver>>>,
}

impl Once {
    pub(crate) fn new(
        factory: Rc<dyn ProtocolFactory>,
        resolver: Resolver<Rc<dyn Transport>>,
    ) -> Once {
        Once {
            factory,
            resolver: Rc::new(RefCell::new(Some(resolver))),
        }
    }
}

impl ProtocolFactory for Once {
    fn build_protocol(&self, addr: &Address) -> Option<Box<dyn Protocol>> {
        let protocol = self.factory.build_protocol(addr)?;
        let resolver = self.resolver.clone();
        let hooked = Hooked::new(protocol).on_made(move |transport| {
            // Taken before firing: the callbacks may do anything, including connect again.
            let resolver = resolver.borrow_mut().take();
            if let Some(resolver) = resolver {
                let _ = resolver.callback(transport.clone());
            }
        });
        Some(Box::new(hooked))
    }

    fn start_factory(&self) {
        self.factory.start_factory();
    }

    fn stop_factory(&self) {
        self.factory.stop_factory();
    }
}

impl ClientFactory for Once {
    fn client_connection_failed(&self, _: &Connector, reason: Failure) {
        let resolver = self.resolver.borrow_mut().take();
        if let Some(resolver) = resolver {
            // Already fired means cancelled: the chain has its Cancelled failure.
            let _ = resolver.errback(reason);
        }
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Once(..)")
    }
}

/// Serves one connection with a protocol the caller keeps a handle to
/// ([`connect_protocol`](super::connect_protocol)).
pub(crate) struct Shared<P>(pub(crate) Rc<RefCell<P>>);

impl<P: Protocol> Protocol for Shared<P> {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.0.borrow_mut().connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.0.borrow_mut().data_received(data);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        self.0.borrow_mut().connection_lost(reason);
    }

    fn handles_half_close(&self) -> bool {
        self.0.borrow().handles_half_close()
    }

    fn read_connection_lost(&mut self) {
        self.0.borrow_mut().read_connection_lost();
    }

    fn write_connection_lost(&mut self) {
        self.0.borrow_mut().write_connection_lost();
    }
}
