//! [`ClientService`]: keep one connection up through a client endpoint, reconnecting
//! when it is lost (Twisted's `application.internet.ClientService`).
//!
//! ```
//! use std::{cell::RefCell, rc::Rc, time::Duration};
//! use torsion::defer::{Deferred, Resolver};
//! use torsion::endpoints::{ClientService, StreamClientEndpoint};
//! use torsion::net::{ProtocolFactory, Transport};
//! use torsion::{protocols::wire::Echo, task::Clock, Failure};
//!
//! /// An endpoint that always fails at once (a real one is `client_from_string`).
//! struct Refused;
//! impl StreamClientEndpoint for Refused {
//!     fn connect(&self, _: Rc<dyn ProtocolFactory>) -> Deferred<Rc<dyn Transport>> {
//!         torsion::defer::fail(Failure::msg("connection refused"))
//!     }
//! }
//!
//! let clock = Clock::new();
//! let service = ClientService::new(Rc::new(Refused), Rc::new(Echo::factory()), &clock)
//!     .with_retry_policy(|attempt| Duration::from_secs(attempt.into()));
//! service.start_service();                  // attempt 1 fails: wait 1 s
//! clock.advance(Duration::from_secs(1));    // attempt 2 fails: wait 2 s
//! assert_eq!(clock.pending_calls()[0].time(), Duration::from_secs(3));
//! service.stop_service();
//! assert!(clock.pending_calls().is_empty());
//! ```
//!
//! As in Twisted: the first attempt starts with the service; a failed attempt waits
//! `policy(failed_attempts)` (1, 2, 3, ... since the last connection) before the next; a
//! lost connection is replaced at once; [`stop_service`](ClientService::stop_service)
//! cancels the attempt or wait under way, fails those still waiting in
//! [`when_connected`](ClientService::when_connected) with `Cancelled`, closes the
//! connection and fires when it is gone. The service fires with the connection's
//! transport (see the `client` module on why not the protocol).

use std::cell::{Cell, RefCell};
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::wrap::Hooks;
use super::{RandomSource, SplitMix64, StreamClientEndpoint};
use crate::defer::ok;
use crate::defer::{fail, succeed, CancelHandle, Cancelled, Deferred, Resolver};
use crate::net::{Address, FactoryWrapper, Protocol, ProtocolFactory, Transport};
use crate::time::{DelayedCall, ReactorTime};
use crate::Failure;

/// How long to wait after the n-th failed attempt in a row (n from 1).
pub type RetryPolicy = Box<dyn Fn(u32) -> Duration>;

/// Twisted's `backoffPolicy`: `min(initial * factor^attempt, max) + jitter()`, the
/// exponent capped at 100. `jitter` gives extra seconds (Twisted: uniform in `[0, 1)`).
pub fn backoff_policy(
    initial_delay: Duration,
    max_delay: Duration,
    factor: f64,
    jitter: impl FnMut() -> Duration + 'static,
) -> impl Fn(u32) -> Duration {
    let jitter = RefCell::new(jitter);
    move |attempt| {
        let seconds = initial_delay.as_secs_f64() * factor.powi(attempt.min(100) as i32);
        let delay = Duration::try_from_secs_f64(seconds)
            .unwrap_or(max_delay)
            .min(max_delay);
        delay.saturating_add((jitter.borrow_mut())())
    }
}

/// Twisted's default policy: from 1 s, times 1.5 per failure, at most 60 s, plus up to
/// 1 s of jitter drawn from a generator seeded per service (so clients spread out).
pub fn default_retry_policy() -> impl Fn(u32) -> Duration {
    let mut random = SplitMix64::new(RandomState::new().hash_one(0u8));
    backoff_policy(
        Duration::from_secs(1),
        Duration::from_secs(60),
        1.5,
        move || Duration::from_secs_f64(random.next_f64()),
    )
}

/// Keeps one connection up through an endpoint. Clones share one service.
#[derive(Clone)]
pub struct ClientService {
    inner: Rc<Inner>,
}

struct Inner {
    endpoint: Rc<dyn StreamClientEndpoint>,
    factory: Rc<dyn ProtocolFactory>,
    clock: Rc<dyn ReactorTime>,
    policy: RefCell<RetryPolicy>,
    state: RefCell<State>,
    /// Failed attempts since the last connection.
    failures: Cell<u32>,
    /// `when_connected` callers, with the failure count after which they give up.
    waiters: RefCell<Vec<Waiter>>,
    /// `stop_service` callers waiting for the connection to close.
    stopping: RefCell<Vec<Resolver<()>>>,
}

/// A `when_connected` caller and the failure count after which it gives up.
type Waiter = (Resolver<Rc<dyn Transport>>, Option<u32>);

enum State {
    /// Not started yet: `when_connected` waits.
    Idle,
    Connecting(CancelHandle),
    Waiting(DelayedCall),
    Connected(Rc<dyn Transport>),
    /// Stopped while connected; the connection is closing.
    Disconnecting,
    /// Stopped: `when_connected` fails with `Cancelled`.
    Stopped,
}

impl ClientService {
    /// A service that connects through `endpoint` with protocols from `factory`, timing
    /// its retries on `clock`, with [`default_retry_policy`]. Nothing happens until
    /// [`start_service`](Self::start_service).
    pub fn new(
        endpoint: Rc<dyn StreamClientEndpoint>,
        factory: Rc<dyn ProtocolFactory>,
        clock: &(impl ReactorTime + Clone + 'static),
    ) -> ClientService {
        ClientService {
            inner: Rc::new(Inner {
                endpoint,
                factory,
                clock: Rc::new(clock.clone()),
                policy: RefCell::new(Box::new(default_retry_policy())),
                state: RefCell::new(State::Idle),
                failures: Cell::new(0),
                waiters: RefCell::new(Vec::new()),
                stopping: RefCell::new(Vec::new()),
            }),
        }
    }

    /// Waits `policy(n)` after the n-th failed attempt in a row.
    pub fn with_retry_policy(self, policy: impl Fn(u32) -> Duration + 'static) -> Self {
        *self.inner.policy.borrow_mut() = Box::new(policy);
        self
    }

    /// Starts connecting (again, after a stop); a no-op while running.
    pub fn start_service(&self) {
        let idle = matches!(*self.inner.state.borrow(), State::Idle | State::Stopped);
        if idle {
            self.inner.failures.set(0);
            connect(&self.inner);
        }
    }

    /// Whether the service runs (started and not stopped).
    pub fn is_running(&self) -> bool {
        !matches!(
            *self.inner.state.borrow(),
            State::Idle | State::Stopped | State::Disconnecting
        )
    }

    /// The connection's transport: now if connected, else when the next connection is
    /// made. Fails with `Cancelled` if the service is (or gets) stopped.
    pub fn when_connected(&self) -> Deferred<Rc<dyn Transport>> {
        self.wait(None)
    }

    /// Like [`when_connected`](Self::when_connected), but fails with the last attempt's
    /// failure once `failures` attempts in a row have failed (Twisted's
    /// `failAfterFailures`); 1 means "the next attempt, or fail".
    pub fn when_connected_fail_after(&self, failures: u32) -> Deferred<Rc<dyn Transport>> {
        self.wait(Some(failures))
    }

    fn wait(&self, fail_after: Option<u32>) -> Deferred<Rc<dyn Transport>> {
        match &*self.inner.state.borrow() {
            State::Connected(transport) => return succeed(transport.clone()),
            State::Stopped | State::Disconnecting => return fail(Cancelled),
            _ => {}
        }
        let (d, resolver) = Deferred::new();
        self.inner.waiters.borrow_mut().push((resolver, fail_after));
        d
    }

    /// Stops: cancels the attempt or the wait under way, fails `when_connected` waiters
    /// with `Cancelled`, closes the connection. Fires once it is closed.
    pub fn stop_service(&self) -> Deferred<()> {
        let previous = std::mem::replace(&mut *self.inner.state.borrow_mut(), State::Stopped);
        match previous {
            State::Idle | State::Stopped => succeed(()),
            State::Connecting(attempt) => {
                attempt.cancel();
                cancel_waiters(&self.inner);
                succeed(())
            }
            State::Waiting(timer) => {
                let _ = timer.cancel();
                cancel_waiters(&self.inner);
                succeed(())
            }
            State::Connected(transport) => {
                *self.inner.state.borrow_mut() = State::Disconnecting;
                let (d, resolver) = Deferred::new();
                self.inner.stopping.borrow_mut().push(resolver);
                transport.lose_connection();
                d
            }
            State::Disconnecting => {
                *self.inner.state.borrow_mut() = State::Disconnecting;
                let (d, resolver) = Deferred::new();
                self.inner.stopping.borrow_mut().push(resolver);
                d
            }
        }
    }
}

/// Starts an attempt through the endpoint.
fn connect(inner: &Rc<Inner>) {
    let factory = Notifying {
        service: Rc::downgrade(inner),
    }
    .wrap(inner.factory.clone());
    let attempt = inner.endpoint.connect(Rc::new(factory));
    *inner.state.borrow_mut() = State::Connecting(attempt.canceller());
    let service = Rc::downgrade(inner);
    let _ = attempt.add_both(move |result| {
        if let Some(inner) = service.upgrade() {
            attempt_ended(&inner, result);
        }
        ok(())
    });
}

fn attempt_ended(inner: &Rc<Inner>, result: Result<Rc<dyn Transport>, Failure>) {
    if !matches!(*inner.state.borrow(), State::Connecting(_)) {
        // Stopped meanwhile: a connection that still arrived is closed.
        if let Ok(transport) = result {
            transport.lose_connection();
        }
        return;
    }
    match result {
        Ok(transport) => {
            inner.failures.set(0);
            *inner.state.borrow_mut() = State::Connected(transport.clone());
            let waiters = std::mem::take(&mut *inner.waiters.borrow_mut());
            for (resolver, _) in waiters {
                let _ = resolver.callback(transport.clone());
            }
        }
        Err(failure) => {
            let failures = inner.failures.get().saturating_add(1);
            inner.failures.set(failures);
            let delay = (inner.policy.borrow())(failures);
            tracing::info!(
                "client service: attempt {failures} failed ({failure}); retrying in {delay:?}"
            );
            let service = Rc::downgrade(inner);
            let timer = inner.clock.call_later(
                delay,
                Box::new(move || {
                    if let Some(inner) = service.upgrade() {
                        connect(&inner);
                    }
                }),
            );
            *inner.state.borrow_mut() = State::Waiting(timer);
            let given_up: Vec<_> = {
                let mut waiters = inner.waiters.borrow_mut();
                let (done, keep) = std::mem::take(&mut *waiters)
                    .into_iter()
                    .partition(|(_, after)| after.is_some_and(|after| failures >= after));
                *waiters = keep;
                done
            };
            for (resolver, _) in given_up {
                let _ = resolver.errback(failure.clone());
            }
        }
    }
}

/// The service's connection closed.
fn connection_lost(inner: &Rc<Inner>) {
    let state = std::mem::replace(&mut *inner.state.borrow_mut(), State::Stopped);
    match state {
        State::Connected(_) => connect(inner),
        State::Disconnecting => {
            let stopping = std::mem::take(&mut *inner.stopping.borrow_mut());
            for resolver in stopping {
                let _ = resolver.callback(());
            }
        }
        other => *inner.state.borrow_mut() = other,
    }
}

fn cancel_waiters(inner: &Inner) {
    let waiters = std::mem::take(&mut *inner.waiters.borrow_mut());
    for (resolver, _) in waiters {
        let _ = resolver.errback(Cancelled);
    }
}

/// Wraps the user's factory so that each protocol tells the service when it is lost.
struct Notifying {
    service: Weak<Inner>,
}

impl FactoryWrapper for Notifying {
    fn build_protocol(
        &self,
        inner: &dyn ProtocolFactory,
        addr: &Address,
    ) -> Option<Box<dyn Protocol>> {
        let service = self.service.clone();
        let hooks = Hooks::default().on_lost(move |_| {
            if let Some(inner) = service.upgrade() {
                connection_lost(&inner);
            }
        });
        hooks.around_built(inner, addr)
    }
}

impl fmt::Debug for ClientService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &*self.inner.state.borrow() {
            State::Idle => "idle",
            State::Connecting(_) => "connecting",
            State::Waiting(_) => "waiting",
            State::Connected(_) => "connected",
            State::Disconnecting => "disconnecting",
            State::Stopped => "stopped",
        };
        f.debug_struct("ClientService")
            .field("state", &state)
            .field("failures", &self.inner.failures.get())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{factory_fn, CloseReason};
    use crate::task::Clock;
    use crate::testing::StringTransport;

    struct Quiet;

    impl Protocol for Quiet {
        fn data_received(&mut self, _: &[u8]) {}
    }

    type Attempt = (Rc<dyn ProtocolFactory>, Resolver<Rc<dyn Transport>>);

    /// An endpoint whose attempts the test settles by hand.
    #[derive(Default)]
    struct Manual {
        attempts: RefCell<Vec<Attempt>>,
    }

    impl StreamClientEndpoint for Rc<Manual> {
        fn connect(&self, factory: Rc<dyn ProtocolFactory>) -> Deferred<Rc<dyn Transport>> {
            let (d, resolver) = Deferred::new();
            self.attempts.borrow_mut().push((factory, resolver));
            d
        }
    }

    impl Manual {
        fn fail_next(&self) {
            let (_, resolver) = self.attempts.borrow_mut().remove(0);
            resolver.errback(Failure::msg("refused")).unwrap();
        }

        /// Connects the next attempt; returns its protocol and transport.
        fn connect_next(&self) -> (Box<dyn Protocol>, Rc<StringTransport>) {
            let (factory, resolver) = self.attempts.borrow_mut().remove(0);
            let mut protocol = factory.build_protocol(&Address::Unix(None)).unwrap();
            let transport = StringTransport::new();
            protocol.connection_made(transport.clone());
            resolver.callback(transport.clone()).unwrap();
            (protocol, transport)
        }
    }

    fn service(clock: &Clock) -> (ClientService, Rc<Manual>) {
        let endpoint = Rc::new(Manual::default());
        let factory = factory_fn(|_| Some(Quiet));
        let policy = backoff_policy(Duration::from_secs(1), Duration::from_secs(10), 1.5, || {
            Duration::ZERO
        });
        let service = ClientService::new(Rc::new(endpoint.clone()), Rc::new(factory), clock)
            .with_retry_policy(policy);
        (service, endpoint)
    }

    #[test]
    fn failed_attempts_wait_the_policy_delays_and_a_connection_resets_them() {
        let clock = Clock::new();
        let (service, endpoint) = service(&clock);
        service.start_service();
        let mut delays = Vec::new();
        for _ in 0..7 {
            endpoint.fail_next();
            let retry = clock.pending_calls()[0].time() - clock.seconds();
            delays.push(retry.as_secs_f64());
            clock.advance(retry);
        }
        // Twisted's backoffPolicy: min(1 * 1.5^n, 10), no jitter here.
        assert_eq!(delays, vec![1.5, 2.25, 3.375, 5.0625, 7.59375, 10.0, 10.0]);
        let (mut protocol, _) = endpoint.connect_next();
        protocol.connection_lost(CloseReason::Clean);
        // A lost connection is replaced at once; the next failure waits 1.5 s again.
        assert_eq!(endpoint.attempts.borrow().len(), 1);
        endpoint.fail_next();
        assert_eq!(
            clock.pending_calls()[0].time() - clock.seconds(),
            Duration::from_millis(1500)
        );
        let _ = service.stop_service();
        assert!(clock.pending_calls().is_empty());
    }

    #[test]
    fn when_connected_fires_now_or_at_the_next_connection() {
        let clock = Clock::new();
        let (service, endpoint) = service(&clock);
        let early = service.when_connected();
        let impatient = service.when_connected_fail_after(1);
        service.start_service();
        endpoint.fail_next();
        let failure = impatient.try_result().ok().unwrap().err().unwrap();
        assert_eq!(failure.to_string(), "refused");
        clock.advance(Duration::from_millis(1500));
        let (_protocol, transport) = endpoint.connect_next();
        let got = early.try_result().ok().unwrap().ok().unwrap();
        assert!(Rc::ptr_eq(&got, &(transport.clone() as Rc<dyn Transport>)));
        let now = service.when_connected().try_result().ok().unwrap().ok();
        assert!(now.is_some());
        let _ = (got, now);
    }

    #[test]
    fn stop_service_closes_the_connection_and_fires_when_it_is_gone() {
        let clock = Clock::new();
        let (service, endpoint) = service(&clock);
        service.start_service();
        let (mut protocol, transport) = endpoint.connect_next();
        let stopped = service.stop_service();
        assert!(transport.disconnecting());
        let stopped = stopped.try_result().expect_err("waits for the close");
        protocol.connection_lost(CloseReason::Clean);
        assert!(stopped.try_result().ok().unwrap().is_ok());
        assert!(endpoint.attempts.borrow().is_empty(), "not replaced");
        let late = service.when_connected().try_result().ok().unwrap();
        assert!(late.err().unwrap().check::<Cancelled>().is_some());
    }

    #[test]
    fn stop_service_while_waiting_cancels_the_retry_and_the_waiters() {
        let clock = Clock::new();
        let (service, endpoint) = service(&clock);
        service.start_service();
        let waiting = service.when_connected();
        endpoint.fail_next();
        assert!(service.stop_service().try_result().ok().unwrap().is_ok());
        assert!(clock.pending_calls().is_empty());
        let failure = waiting.try_result().ok().unwrap().err().unwrap();
        assert!(failure.check::<Cancelled>().is_some());
    }
}
