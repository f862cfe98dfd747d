//! Readiness: descriptors registered with the reactor, under both backends.

mod support;

use std::{
    cell::{Cell, RefCell},
    io::{ErrorKind, Read, Write},
    os::unix::net::UnixStream,
    rc::Rc,
    time::Duration,
};

use torsion::{
    reactor::{Interest, Readiness},
    Reactor,
};

each_backend!(
    a_readable_descriptor_calls_its_handler_with_the_data,
    a_deregistered_descriptor_is_not_reported,
    reregistering_for_writability_reports_a_writable_socket,
    a_peer_hangup_reads_as_readable_with_hangup,
    a_handler_deregistering_another_drops_its_pending_event,
    a_handler_that_leaves_data_is_told_again_after_reregistering,
    registering_a_descriptor_twice_keeps_the_first_registration,
);

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Reads everything available, as the edge-triggered contract asks.
fn read_all(mut stream: &UnixStream) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    let mut buf = [0; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (data, true),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (data, false),
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn a_readable_descriptor_calls_its_handler_with_the_data(reactor: Reactor) {
    let (ours, mut theirs) = pair();
    let got = Rc::new(RefCell::new(Vec::new()));
    let reader = ours.try_clone().unwrap();
    reactor
        .register_fd(&ours, Interest::READABLE, {
            let got = got.clone();
            move |reactor: &Reactor, readiness: Readiness| {
                assert!(readiness.is_readable());
                got.borrow_mut().extend(read_all(&reader).0);
                if got.borrow().len() == 10 {
                    reactor.stop();
                }
            }
        })
        .unwrap();
    theirs.write_all(b"hello").unwrap();
    reactor.call_later(Duration::from_millis(1), move || {
        theirs.write_all(b"world").unwrap()
    });
    support::run(&reactor);
    assert_eq!(&*got.borrow(), b"helloworld");
}

fn a_deregistered_descriptor_is_not_reported(reactor: Reactor) {
    let (ours, mut theirs) = pair();
    let calls = Rc::new(Cell::new(0));
    let token = reactor
        .register_fd(&ours, Interest::READABLE, {
            let calls = calls.clone();
            move |_: &Reactor, _| calls.set(calls.get() + 1)
        })
        .unwrap();
    assert_eq!(reactor.registered_fds(), 1);
    reactor.deregister_fd(token).unwrap();
    assert_eq!(reactor.registered_fds(), 0);
    assert_eq!(
        reactor.deregister_fd(token).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    theirs.write_all(b"x").unwrap();
    reactor.call_later(Duration::from_millis(2), {
        let r = reactor.clone();
        move || r.stop()
    });
    support::run(&reactor);
    assert_eq!(calls.get(), 0);
}

fn reregistering_for_writability_reports_a_writable_socket(reactor: Reactor) {
    let (ours, _theirs) = pair();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let token = reactor
        .register_fd(&ours, Interest::READABLE, {
            let seen = seen.clone();
            move |reactor: &Reactor, readiness: Readiness| {
                seen.borrow_mut().push(readiness);
                reactor.stop();
            }
        })
        .unwrap();
    reactor.reregister_fd(token, Interest::WRITABLE).unwrap();
    support::run(&reactor);
    let seen = seen.borrow();
    assert!(seen[0].is_writable() && !seen[0].is_readable(), "{seen:?}");
    reactor.deregister_fd(token).unwrap();
}

fn a_peer_hangup_reads_as_readable_with_hangup(reactor: Reactor) {
    let (ours, theirs) = pair();
    let reader = ours.try_clone().unwrap();
    let eof = Rc::new(Cell::new(false));
    let token = reactor
        .register_fd(&ours, Interest::READABLE, {
            let eof = eof.clone();
            move |reactor: &Reactor, readiness: Readiness| {
                assert!(
                    readiness.is_readable() && readiness.is_hangup(),
                    "{readiness:?}"
                );
                eof.set(read_all(&reader).1);
                reactor.stop();
            }
        })
        .unwrap();
    drop(theirs);
    support::run(&reactor);
    assert!(eof.get());
    reactor.deregister_fd(token).unwrap();
}

fn a_handler_deregistering_another_drops_its_pending_event(reactor: Reactor) {
    // Both descriptors are ready in the same turn; whichever runs first removes the
    // other, whose already-fetched event must not reach it (nor a newcomer on its key).
    let (a, mut a_peer) = pair();
    let (b, mut b_peer) = pair();
    let calls = Rc::new(Cell::new(0));
    let tokens = Rc::new(RefCell::new(Vec::new()));
    for fd in [&a, &b] {
        let (calls, all) = (calls.clone(), tokens.clone());
        let token = reactor
            .register_fd(fd, Interest::READABLE, move |reactor: &Reactor, _| {
                calls.set(calls.get() + 1);
                for token in all.borrow_mut().drain(..) {
                    let _ = reactor.deregister_fd(token);
                }
                // Reuse a freed key at once: the stale event must not reach this one.
                let (c, _c_peer) = pair();
                let token = reactor
                    .register_fd(&c, Interest::READABLE, |_: &Reactor, _| {
                        panic!("a stale event reached a new registration")
                    })
                    .unwrap();
                reactor.deregister_fd(token).unwrap();
                reactor.stop();
            })
            .unwrap();
        tokens.borrow_mut().push(token);
    }
    a_peer.write_all(b"x").unwrap();
    b_peer.write_all(b"x").unwrap();
    let (_, logs) = support::capture_logs(|| support::run(&reactor));
    assert_eq!(calls.get(), 1);
    assert!(logs.is_empty(), "{logs:?}");
    assert_eq!(reactor.registered_fds(), 0);
}

fn a_handler_that_leaves_data_is_told_again_after_reregistering(reactor: Reactor) {
    let (ours, mut theirs) = pair();
    let mut reader = ours.try_clone().unwrap();
    let reads = Rc::new(RefCell::new(Vec::new()));
    let token = Rc::new(Cell::new(None));
    let registered = reactor
        .register_fd(&ours, Interest::READABLE, {
            let (reads, token) = (reads.clone(), token.clone());
            move |reactor: &Reactor, _| {
                // Read one byte per call (fairness), and ask to be told again.
                let mut byte = [0];
                if reader.read(&mut byte).is_ok() {
                    reads.borrow_mut().push(byte[0]);
                }
                if reads.borrow().len() == 3 {
                    reactor.stop();
                } else {
                    reactor
                        .reregister_fd(token.get().unwrap(), Interest::READABLE)
                        .unwrap();
                }
            }
        })
        .unwrap();
    token.set(Some(registered));
    theirs.write_all(b"abc").unwrap();
    support::run(&reactor);
    assert_eq!(*reads.borrow(), b"abc");
    reactor.deregister_fd(registered).unwrap();
}

fn registering_a_descriptor_twice_keeps_the_first_registration(reactor: Reactor) {
    let (ours, _theirs) = pair();
    let token = reactor
        .register_fd(&ours, Interest::READABLE, |_: &Reactor, _| {})
        .unwrap();
    // Registering the same descriptor twice is refused by epoll; poll(2) accepts it.
    // Both must keep the first registration working and counted once per success.
    let again = reactor.register_fd(&ours, Interest::READABLE, |_: &Reactor, _| {});
    match again {
        Ok(second) => reactor.deregister_fd(second).unwrap(),
        Err(e) => assert!(e.to_string().starts_with("register fd "), "{e}"),
    }
    assert_eq!(reactor.registered_fds(), 1);
    reactor.deregister_fd(token).unwrap();
}
