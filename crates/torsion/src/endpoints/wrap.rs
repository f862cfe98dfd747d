//! Wrappers that let an endpoint hear about a user's connection without the user's
//! protocol or factory knowing (Twisted's `_WrappingFactory` and `_WrappingProtocol`),
//! written as [`ProtocolWrapper`]s and [`FactoryWrapper`]s.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use crate::defer::Resolver;
use crate::net::{
    Address, CloseReason, Connector, FactoryWrapper, Protocol, ProtocolFactory, ProtocolWrapper,
    Transport, WrappedFactory,
};
use crate::Failure;

type OnMade = Box<dyn FnOnce(&Rc<dyn Transport>)>;
type OnLost = Box<dyn FnOnce(&CloseReason)>;

/// Runs `on_made` after the inner `connection_made` (so whoever hears it finds the
/// protocol ready) and `on_lost` after `connection_lost`; forwards everything else.
#[derive(Default)]
pub(crate) struct Hooks {
    on_made: Option<OnMade>,
    on_lost: Option<OnLost>,
}

impl Hooks {
    pub(crate) fn on_made(mut self, f: impl FnOnce(&Rc<dyn Transport>) + 'static) -> Hooks {
        self.on_made = Some(Box::new(f));
        self
    }

    pub(crate) fn on_lost(mut self, f: impl FnOnce(&CloseReason) + 'static) -> Hooks {
        self.on_lost = Some(Box::new(f));
        self
    }

    /// The protocol `factory` builds for `addr`, inside these hooks.
    pub(crate) fn around_built(
        self,
        factory: &dyn ProtocolFactory,
        addr: &Address,
    ) -> Option<Box<dyn Protocol>> {
        let protocol = factory.build_protocol(addr)?;
        Some(Box::new(self.wrap(protocol)))
    }
}

impl ProtocolWrapper for Hooks {
    fn connection_made(&mut self, inner: &mut dyn Protocol, transport: Rc<dyn Transport>) {
        inner.connection_made(transport.clone());
        if let Some(on_made) = self.on_made.take() {
            on_made(&transport);
        }
    }

    fn connection_lost(&mut self, inner: &mut dyn Protocol, reason: CloseReason) {
        let hook = self.on_lost.take();
        let copy = hook.as_ref().map(|_| reason.clone());
        inner.connection_lost(reason);
        if let (Some(on_lost), Some(reason)) = (hook, copy) {
            on_lost(&reason);
        }
    }
}

type TransportResolver = Resolver<Rc<dyn Transport>>;

/// The client factory behind one endpoint `connect`: builds the user's protocol, fires
/// the resolver with the transport once it is connected, or with the failure.
pub(crate) type Once = WrappedFactory<ConnectOnce>;

/// The [`FactoryWrapper`] of a [`Once`]: the resolver, until it fires.
pub(crate) struct ConnectOnce {
    resolver: Rc<RefCell<Option<TransportResolver>>>,
}

/// A [`Once`] around `factory`, firing `resolver`.
pub(crate) fn once(factory: Rc<dyn ProtocolFactory>, resolver: TransportResolver) -> Once {
    let resolver = Rc::new(RefCell::new(Some(resolver)));
    ConnectOnce { resolver }.wrap(factory)
}

impl FactoryWrapper for ConnectOnce {
    fn build_protocol(
        &self,
        inner: &dyn ProtocolFactory,
        addr: &Address,
    ) -> Option<Box<dyn Protocol>> {
        let resolver = self.resolver.clone();
        let hooks = Hooks::default().on_made(move |transport| {
            // Taken before firing: the callbacks may do anything, including connect again.
            let resolver = resolver.borrow_mut().take();
            if let Some(resolver) = resolver {
                let _ = resolver.callback(transport.clone());
            }
        });
        hooks.around_built(inner, addr)
    }

    fn client_connection_failed(&self, _: &Connector, reason: Failure) {
        let resolver = self.resolver.borrow_mut().take();
        if let Some(resolver) = resolver {
            // Already fired means cancelled: the chain has its Cancelled failure.
            let _ = resolver.errback(reason);
        }
    }
}

impl fmt::Debug for ConnectOnce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectOnce(..)")
    }
}
