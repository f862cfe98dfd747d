//! The Send + Sync handle: calls from other threads, stop and wake.

mod support;

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
    sync::mpsc,
    thread,
    time::Duration,
};

use torsion::{reactor::Backend, Reactor, ReactorHandle};

each_backend!(
    calls_from_a_thread_run_on_the_reactor_thread_in_order,
    many_threads_calling_at_once_lose_nothing,
    stop_from_another_thread_stops_an_idle_reactor,
    calls_made_while_not_running_run_on_the_next_run,
    wake_from_a_thread_disturbs_nothing,
    a_call_from_the_reactor_thread_itself_runs_next_turn,
);

fn assert_send_sync<T: Send + Sync + Clone>() {}

#[test]
fn the_handle_is_send_sync_and_clone() {
    assert_send_sync::<ReactorHandle>();
}

fn calls_from_a_thread_run_on_the_reactor_thread_in_order(reactor: Reactor) {
    let reactor_thread = thread::current().id();
    let got = Rc::new(RefCell::new(Vec::new()));
    // The calls carry only Send data; what they record goes through a thread-local.
    thread_local!(static GOT: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) });
    let handle = reactor.handle();
    reactor.call_when_running(move || {
        thread::spawn(move || {
            for i in 0..100 {
                handle.call_from_thread(move |_| GOT.with(|g| g.borrow_mut().push(i)));
            }
            handle.call_from_thread(move |reactor| {
                assert_eq!(thread::current().id(), reactor_thread);
                reactor.stop();
            });
        });
    });
    support::run(&reactor);
    got.borrow_mut().extend(GOT.with(|g| g.take()));
    assert_eq!(*got.borrow(), (0..100).collect::<Vec<_>>());
}

fn many_threads_calling_at_once_lose_nothing(reactor: Reactor) {
    thread_local!(static COUNT: Cell<u32> = const { Cell::new(0) });
    let (threads, calls) = (4, 2_000);
    let handle = reactor.handle();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    reactor.call_when_running(move || {
        for _ in 0..threads {
            let (handle, done_tx) = (handle.clone(), done_tx.clone());
            thread::spawn(move || {
                for _ in 0..calls {
                    handle.call_from_thread(|_| COUNT.with(|c| c.set(c.get() + 1)));
                }
                drop(done_tx);
            });
        }
        drop(done_tx);
        // When every thread is done, one last call stops the reactor.
        thread::spawn(move || {
            let _ = done_rx.recv();
            handle.stop();
        });
    });
    support::run(&reactor);
    assert_eq!(COUNT.with(Cell::get), threads * calls);
}

fn stop_from_another_thread_stops_an_idle_reactor(reactor: Reactor) {
    let handle = reactor.handle();
    reactor.call_when_running(move || {
        thread::spawn(move || handle.stop());
    });
    support::run(&reactor);
    assert!(!reactor.running());
}

fn calls_made_while_not_running_run_on_the_next_run(reactor: Reactor) {
    thread_local!(static RAN: Cell<bool> = const { Cell::new(false) });
    let handle = reactor.handle();
    thread::spawn(move || {
        handle.call_from_thread(|r| {
            RAN.with(|ran| ran.set(true));
            r.stop();
        })
    })
    .join()
    .unwrap();
    assert!(!RAN.with(Cell::get));
    support::run(&reactor);
    assert!(RAN.with(Cell::get));
}

fn wake_from_a_thread_disturbs_nothing(reactor: Reactor) {
    // wake() only ends the current wait: the loop runs an empty turn and goes back to
    // sleep until its timer, and the thread's stop still arrives afterwards.
    let handle = reactor.handle();
    let (tx, rx) = mpsc::channel::<()>();
    reactor.call_when_running(move || {
        thread::spawn(move || {
            handle.wake();
            let _ = rx.recv();
            handle.stop();
        });
    });
    reactor.call_later(Duration::from_millis(1), move || tx.send(()).unwrap());
    support::run(&reactor);
}

fn a_call_from_the_reactor_thread_itself_runs_next_turn(reactor: Reactor) {
    let handle = reactor.handle();
    let order = Rc::new(RefCell::new(Vec::new()));
    thread_local!(static LATE: Cell<bool> = const { Cell::new(false) });
    reactor.call_when_running({
        let order = order.clone();
        move || {
            handle.call_from_thread(|r| {
                LATE.with(|l| l.set(true));
                r.stop();
            });
            order.borrow_mut().push(LATE.with(Cell::get));
        }
    });
    support::run(&reactor);
    assert_eq!(*order.borrow(), [false]);
    assert!(LATE.with(Cell::get));
}

#[test]
fn calls_to_a_dropped_reactor_are_dropped_unrun() {
    for backend in [Backend::Mio, Backend::Poll] {
        let reactor = support::reactor(backend);
        let handle = reactor.handle();
        drop::<Reactor>(reactor);
        let (tx, rx) = mpsc::channel::<()>();
        // Waking a dropped reactor must neither fail nor raise SIGPIPE.
        handle.call_from_thread(move |_| tx.send(()).unwrap());
        handle.wake();
        drop(handle);
        assert!(rx.recv().is_err(), "the call was dropped without running");
    }
}
