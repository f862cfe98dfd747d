//! The application Runner with real signals: the first SIGTERM drains (the listener
//! closes at once, open connections finish), a second one stops at once. One test
//! function: a raised signal reaches every reactor of the process that watches it.

use std::cell::{Cell, RefCell};
use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use torsion::application::{ListenService, Runner, Service};
use torsion::protocols::wire::Echo;
use torsion::reactor::signal;
use torsion::Reactor;

fn reactor() -> Reactor {
    Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("build a test reactor")
}

/// Runs a listening service with one client connected; `on_stopping` gets the client
/// and the port's address once the drain began. Returns whether the watchdog fired.
fn drain_with(on_drain: impl Fn(&Reactor, TcpStream, String) + 'static) -> bool {
    let reactor = reactor();
    let service =
        ListenService::from_string(&reactor, "tcp:0:interface=127.0.0.1", Echo::factory())
            .unwrap()
            .with_drain(|| {}); // echo has no idle state: wait for the client to leave
    service.privileged_start().unwrap();
    let address = service.addresses()[0].to_string();
    // The kernel completes the handshake from the backlog before the loop runs.
    let client = TcpStream::connect(&address).unwrap();
    let client = RefCell::new(Some(client));
    let fired = Rc::new(Cell::new(false));
    let (watchdog_fired, stopper) = (fired.clone(), reactor.clone());
    let watchdog = reactor.call_later(Duration::from_secs(20), move || {
        watchdog_fired.set(true);
        stopper.stop();
    });
    let drain_reactor = reactor.clone();
    Runner::new(&reactor)
        .drain_timeout(Duration::from_secs(60))
        .on_ready(|_| signal::raise(signal::SIGTERM).unwrap())
        .on_stopping(move || {
            let (r, client, address) = (
                drain_reactor.clone(),
                client.borrow_mut().take().unwrap(),
                address.clone(),
            );
            // After this turn: the stop has closed the listener by then.
            drain_reactor.call_later(Duration::ZERO, move || on_drain(&r, client, address));
        })
        .run(Rc::new(service))
        .unwrap();
    let _ = watchdog.cancel();
    fired.get()
}

#[test]
fn sigterm_drains_and_a_second_sigterm_stops_at_once() {
    // First: the drain waits for the open connection, which the client then closes.
    let refused = Rc::new(Cell::new(false));
    let r = refused.clone();
    let timed_out = drain_with(move |_, client, address| {
        r.set(TcpStream::connect(&address).is_err());
        client.shutdown(Shutdown::Both).unwrap();
    });
    assert!(!timed_out, "the drain ended when the client left");
    assert!(refused.get(), "new connections are refused once draining");

    // Second: the client stays; a second SIGTERM aborts it and stops.
    let kept: Rc<RefCell<Option<TcpStream>>> = Rc::default();
    let k = kept.clone();
    let timed_out = drain_with(move |_, client, _| {
        *k.borrow_mut() = Some(client);
        signal::raise(signal::SIGTERM).unwrap();
    });
    assert!(!timed_out, "the second SIGTERM stopped the run");
    let mut client = kept.borrow_mut().take().unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    // Aborted: a reset (an error) or an end of stream, never a hang.
    let _ = client.read_to_end(&mut rest);
    assert!(rest.is_empty());
}
