//! Futures spawned on the reactor's thread.

mod support;

use std::{
    cell::{Cell, RefCell},
    future::Future,
    pin::Pin,
    rc::Rc,
    sync::{mpsc, Arc, Mutex},
    task::{Context, Poll, Waker},
    thread,
    time::Duration,
};

use torsion::Reactor;
use tracing::Level;

each_backend!(
    a_spawned_future_is_woken_from_another_thread,
    a_future_waiting_on_nothing_is_polled_once,
    many_wakes_before_a_poll_give_one_poll,
    abort_drops_the_future_at_once,
    a_task_aborting_itself_is_dropped_after_its_poll,
    a_panicking_task_is_logged_with_its_spawn_site,
);

/// A one-shot slot a thread fills; the future waiting on it is woken by that thread.
#[derive(Default)]
struct Slot {
    value: Option<u32>,
    waker: Option<Waker>,
}

struct Receive(Arc<Mutex<Slot>>);

impl Future for Receive {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut slot = self.0.lock().unwrap();
        match slot.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn send(slot: &Arc<Mutex<Slot>>, value: u32) {
    let waker = {
        let mut slot = slot.lock().unwrap();
        slot.value = Some(value);
        slot.waker.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// A future that counts its polls and never completes unless woken with `done` set.
struct Counted {
    polls: Rc<Cell<u32>>,
    waker: Rc<RefCell<Option<Waker>>>,
    done: Rc<Cell<bool>>,
}

impl Future for Counted {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.set(self.polls.get() + 1);
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        if self.done.get() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

fn a_spawned_future_is_woken_from_another_thread(reactor: Reactor) {
    let slot = Arc::new(Mutex::new(Slot::default()));
    let got = Rc::new(Cell::new(0));
    let task = reactor.spawn({
        let (slot, got, reactor) = (slot.clone(), got.clone(), reactor.clone());
        async move {
            got.set(Receive(slot).await);
            reactor.stop();
        }
    });
    let (polled_tx, polled_rx) = mpsc::channel::<()>();
    reactor.call_later(Duration::from_millis(1), move || {
        polled_tx.send(()).unwrap()
    });
    let sender = thread::spawn(move || {
        polled_rx.recv().unwrap();
        send(&slot, 42);
    });
    support::run(&reactor);
    sender.join().unwrap();
    assert_eq!(got.get(), 42);
    assert!(task.is_finished());
    assert_eq!(reactor.pending_tasks(), 0);
}

fn a_future_waiting_on_nothing_is_polled_once(reactor: Reactor) {
    let (polls, waker, done) = (
        Rc::new(Cell::new(0)),
        Rc::default(),
        Rc::new(Cell::new(false)),
    );
    let task = reactor.spawn(Counted {
        polls: polls.clone(),
        waker,
        done,
    });
    reactor.call_later(Duration::from_millis(3), {
        let r = reactor.clone();
        move || r.stop()
    });
    support::run(&reactor);
    assert_eq!(
        polls.get(),
        1,
        "a pending task without a wake must not be polled again"
    );
    assert!(!task.is_finished());
    assert!(task.abort());
    assert!(!task.abort());
}

fn many_wakes_before_a_poll_give_one_poll(reactor: Reactor) {
    let (polls, waker, done) = (
        Rc::new(Cell::new(0)),
        Rc::new(RefCell::new(None::<Waker>)),
        Rc::new(Cell::new(false)),
    );
    let task = reactor.spawn(Counted {
        polls: polls.clone(),
        waker: waker.clone(),
        done: done.clone(),
    });
    reactor.call_later(Duration::from_millis(1), {
        let (reactor, waker) = (reactor.clone(), waker.clone());
        move || {
            let waker = waker.borrow().clone().unwrap();
            for _ in 0..10 {
                waker.wake_by_ref();
            }
            done.set(true);
            let r = reactor.clone();
            reactor.call_later(Duration::from_millis(1), move || r.stop());
        }
    });
    support::run(&reactor);
    assert_eq!(polls.get(), 2);
    assert!(task.is_finished());
}

fn abort_drops_the_future_at_once(reactor: Reactor) {
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let task = reactor.spawn(async move {
        let _flag = flag;
        std::future::pending::<()>().await;
    });
    reactor.call_later(Duration::from_millis(1), {
        let r = reactor.clone();
        move || r.stop()
    });
    support::run(&reactor);
    assert!(!dropped.get());
    assert!(task.abort());
    assert!(dropped.get());
    assert!(task.is_finished());
}

fn a_task_aborting_itself_is_dropped_after_its_poll(reactor: Reactor) {
    let dropped = Rc::new(Cell::new(false));
    let me = Rc::new(RefCell::new(None::<torsion::reactor::Task>));
    let task = reactor.spawn({
        let (me, flag, reactor) = (me.clone(), DropFlag(dropped.clone()), reactor.clone());
        async move {
            let _flag = flag;
            assert!(me.borrow().as_ref().unwrap().abort());
            reactor.stop();
            std::future::pending::<()>().await;
        }
    });
    *me.borrow_mut() = Some(task);
    support::run(&reactor);
    assert!(dropped.get());
    assert_eq!(reactor.pending_tasks(), 0);
}

fn a_panicking_task_is_logged_with_its_spawn_site(reactor: Reactor) {
    let line = line!() + 1;
    let task = reactor.spawn(async { panic!("task went wrong") });
    reactor.call_later(Duration::from_millis(1), {
        let r = reactor.clone();
        move || r.stop()
    });
    let ((), logs) = support::capture_logs(|| support::run(&reactor));
    let site = support::site(line);
    support::assert_logged(&logs, Level::ERROR, &["task", &site, "task went wrong"]);
    assert!(task.is_finished());
}

#[test]
fn spawn_needs_no_send() {
    let reactor: Reactor = support::reactor(torsion::reactor::Backend::Mio);
    let not_send = Rc::new(Cell::new(1));
    reactor.spawn({
        let (n, r) = (not_send.clone(), reactor.clone());
        async move {
            n.set(2);
            r.stop();
        }
    });
    support::run(&reactor);
    assert_eq!(not_send.get(), 2);
}
