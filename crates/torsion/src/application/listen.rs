//! `ListenService`: listen on an endpoint with a factory while running.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use super::{Service, ServiceState};
use crate::defer::{succeed, Deferred, Failure};
use crate::endpoints::{server_from_string, EndpointError, StreamServerEndpoint};
use crate::net::{Address, ListeningPort, ProtocolFactory};
use crate::Reactor;

/// Listens on a server endpoint with a factory (Twisted's
/// `StreamServerEndpointService`): the port is bound in
/// [`privileged_start`](Service::privileged_start) (or in `start` when that was
/// skipped), so a port below 1024 is bound before privileges are dropped.
///
/// Stopping closes the listening socket at once, so new connections are refused from
/// then on, and then lets the connections finish:
/// - by default, each is asked to close after writing what it buffered
///   (`lose_connection`), which suits protocols that have no "idle" state (echo);
/// - with [`with_drain`](ListenService::with_drain), the hook is called instead (an
///   HTTP site closes idle keep-alive connections and lets in-flight requests finish)
///   and the stop waits until every connection has closed.
///
/// [`abort`](Service::abort) aborts the connections still open.
pub struct ListenService {
    state: ServiceState,
    endpoint: Rc<dyn StreamServerEndpoint>,
    factory: Rc<dyn ProtocolFactory>,
    drain: Option<Box<dyn Fn()>>,
    port: RefCell<Option<ListeningPort>>,
    /// The port last stopped, whose connections may still be draining.
    stopped: RefCell<Option<ListeningPort>>,
}

impl ListenService {
    /// A service listening on `endpoint` with protocols from `factory`.
    pub fn new(
        name: impl Into<String>,
        endpoint: Rc<dyn StreamServerEndpoint>,
        factory: Rc<dyn ProtocolFactory>,
    ) -> ListenService {
        ListenService {
            state: ServiceState::new(name),
            endpoint,
            factory,
            drain: None,
            port: RefCell::new(None),
            stopped: RefCell::new(None),
        }
    }

    /// A service listening where the endpoint string says (`tcp:8080`,
    /// `unix:/run/app.sock`, `systemd:domain=INET:index=0`), named after it.
    ///
    /// # Errors
    /// The string does not parse or names an unsupported endpoint.
    pub fn from_string(
        reactor: &Reactor,
        endpoint: &str,
        factory: impl ProtocolFactory,
    ) -> Result<ListenService, EndpointError> {
        let server = server_from_string(reactor, endpoint)?;
        Ok(ListenService::new(
            endpoint,
            Rc::new(server),
            Rc::new(factory),
        ))
    }

    /// On stop, calls `drain` instead of closing the connections, and waits for them
    /// to close on their own (bounded by the runner's drain timeout).
    pub fn with_drain(mut self, drain: impl Fn() + 'static) -> ListenService {
        self.drain = Some(Box::new(drain));
        self
    }

    /// The listening port, while listening.
    pub fn port(&self) -> Option<ListeningPort> {
        self.port.borrow().clone()
    }

    fn listen(&self) -> Result<(), Failure> {
        if self.port.borrow().is_some() {
            return Ok(());
        }
        // Every endpoint listens at once here; a Deferred that is still pending would
        // be an endpoint that must wait, which the runner cannot start around.
        match self.endpoint.listen(self.factory.clone()).try_result() {
            Ok(Ok(port)) => {
                tracing::info!(target: "torsion::application", "{}: listening on {}", self.name(), port.address());
                *self.port.borrow_mut() = Some(port);
                Ok(())
            }
            Ok(Err(failure)) => Err(failure),
            Err(_) => Err(Failure::msg(format!(
                "listen {}: the endpoint did not listen at once",
                self.name()
            ))),
        }
    }
}

impl Service for ListenService {
    fn name(&self) -> &str {
        self.state.name()
    }

    fn privileged_start(&self) -> Result<(), Failure> {
        self.listen()
    }

    fn start(&self) -> Result<(), Failure> {
        if self.state.set_running(true) {
            return Ok(());
        }
        self.listen().inspect_err(|_| {
            self.state.set_running(false);
        })
    }

    fn stop(&self) -> Deferred<()> {
        self.state.set_running(false);
        let Some(port) = self.port.borrow_mut().take() else {
            return succeed(());
        };
        let _ = port.stop_listening(); // fired: the socket is closed
        tracing::info!(target: "torsion::application", "{}: stopped listening on {}", self.name(), port.address());
        let closed = match &self.drain {
            Some(drain) => {
                drain();
                port.when_connections_closed()
            }
            None => port.lose_connections(),
        };
        // Kept for `abort` until its connections are gone.
        *self.stopped.borrow_mut() = Some(port);
        closed
    }

    fn abort(&self) {
        if let Some(port) = &*self.stopped.borrow() {
            port.abort_connections();
        }
    }

    fn is_running(&self) -> bool {
        self.state.is_running()
    }

    fn ports(&self) -> Vec<ListeningPort> {
        let (port, stopped) = (self.port.borrow(), self.stopped.borrow());
        port.iter().chain(stopped.iter()).cloned().collect()
    }

    fn addresses(&self) -> Vec<Address> {
        self.port
            .borrow()
            .iter()
            .map(ListeningPort::address)
            .collect()
    }
}

impl fmt::Debug for ListenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenService")
            .field("name", &self.name())
            .field("running", &self.is_running())
            .field("port", &*self.port.borrow())
            .finish_non_exhaustive()
    }
}

/// A `--listen` value as an endpoint string: a bare port (`8080`) listens on the loopback
/// interface only (`tcp:8080:interface=127.0.0.1`), so a quick test server is not
/// published to the network by accident; anything else is an endpoint string as it is
/// (`tcp:8080` listens on every interface).
///
/// ```
/// use torsion::application::listen_endpoint;
/// assert_eq!(listen_endpoint("8080"), "tcp:8080:interface=127.0.0.1");
/// assert_eq!(listen_endpoint("tcp:8080"), "tcp:8080");
/// ```
pub fn listen_endpoint(value: &str) -> std::borrow::Cow<'_, str> {
    let bare = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    if bare {
        std::borrow::Cow::Owned(format!("tcp:{value}:interface=127.0.0.1"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}
