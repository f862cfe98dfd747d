//! The reactor's thread pool: defer_to_thread, call_in_thread, blocking_call_from_thread,
//! the bounded queue, shutdown, and the deadlock Twisted's pool falls into.

mod support;

use std::{
    cell::RefCell,
    io,
    rc::Rc,
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc,
    },
    thread,
};

use support::{capture_logs, logged, run};
use torsion::defer::ok;
use torsion::{
    defer::{gather_results, succeed, Deferred, Panicked},
    reactor::{Phase, SystemEvent},
    testing::assert_clean,
    threads::{
        blocking_call_from_thread, call_in_thread, defer_to_thread, running_threads,
        BlockingCallError, PoolError, ThreadPool,
    },
    Failure, Reactor,
};
use tracing::Level;

each_backend!(
    results_come_back_on_the_reactor_thread_from_named_pool_threads,
    errors_keep_their_type_and_panics_become_panicked,
    a_full_queue_refuses_work_with_a_typed_error,
    call_in_thread_runs_and_its_panics_are_logged,
    shutdown_drains_the_queue_and_joins_the_threads,
    work_submitted_during_shutdown_is_refused,
    the_minimum_starts_at_first_use,
    blocking_calls_get_values_and_failures,
    a_one_thread_pool_reports_the_deadlock_instead_of_hanging,
    queued_work_that_could_never_run_is_failed,
    the_pool_runs_again_after_a_restart,
);

/// Stops `reactor` once `d` has fired, keeping its result.
fn stop_when<T: 'static>(
    reactor: &Reactor,
    d: Deferred<T>,
) -> Rc<RefCell<Option<Result<T, Failure>>>> {
    let out = Rc::new(RefCell::new(None));
    let _ = d.add_both({
        let (out, reactor) = (out.clone(), reactor.clone());
        move |result| {
            *out.borrow_mut() = Some(result);
            reactor.stop();
            ok(())
        }
    });
    out
}

fn results_come_back_on_the_reactor_thread_from_named_pool_threads(reactor: Reactor) {
    let here = thread::current().id();
    let d = defer_to_thread(&reactor, || {
        let name = thread::current().name().map(str::to_owned);
        Ok::<_, io::Error>(name.unwrap_or_default())
    })
    .add_callback(move |name: String| {
        assert_eq!(thread::current().id(), here, "callbacks run on the reactor");
        Ok(name)
    });
    let out = stop_when(&reactor, d);
    run(&reactor);
    let name = out.borrow_mut().take().unwrap().unwrap();
    assert!(name.starts_with("torsion-pool-"), "{name}");
    assert_clean(&reactor);
}

fn errors_keep_their_type_and_panics_become_panicked(reactor: Reactor) {
    let error_line = line!();
    let error = defer_to_thread(&reactor, || -> Result<(), io::Error> {
        Err(io::Error::new(io::ErrorKind::NotFound, "no mail"))
    });
    let line = line!() + 1;
    let panic = defer_to_thread(&reactor, || -> Result<(), io::Error> {
        panic!("in a pool thread")
    });
    let both = gather_results(vec![
        error.add_errback(move |f: Failure| {
            assert_eq!(
                f.check::<io::Error>().unwrap().kind(),
                io::ErrorKind::NotFound
            );
            assert_eq!(f.location().line(), error_line + 1, "located at the caller");
            Ok(())
        }),
        panic.add_errback(move |f: Failure| {
            assert_eq!(f.check::<Panicked>().unwrap().message, "in a pool thread");
            assert_eq!(f.location().line(), line);
            Ok(())
        }),
    ]);
    let out = stop_when(&reactor, both);
    run(&reactor);
    assert!(out.borrow_mut().take().unwrap().is_ok());
    assert_clean(&reactor);
}

fn a_full_queue_refuses_work_with_a_typed_error(reactor: Reactor) {
    let pool = ThreadPool::of(&reactor);
    pool.set_size(1, 1);
    pool.set_queue_limit(2);
    let (started, wait_started) = mpsc::channel();
    let (release, wait_release) = mpsc::channel::<()>();
    let first = defer_to_thread(&reactor, move || {
        started.send(()).unwrap();
        wait_release.recv().unwrap();
        Ok::<_, io::Error>(0)
    });
    wait_started.recv().unwrap(); // The only thread is busy: what follows queues.
    let queued: Vec<Deferred<u32>> = (1..=2)
        .map(|n| defer_to_thread(&reactor, move || Ok::<_, io::Error>(n)))
        .collect();
    let refused = defer_to_thread(&reactor, || Ok::<_, io::Error>(3));
    let failure = refused.try_result().ok().unwrap().unwrap_err();
    assert_eq!(
        failure.check::<PoolError>(),
        Some(&PoolError::QueueFull { limit: 2 })
    );
    assert_eq!(
        failure.error_message(),
        "thread pool queue full: 2 jobs waiting (limit 2)"
    );
    assert_eq!(pool.stats().queued, 2);
    release.send(()).unwrap();
    let all = gather_results(std::iter::once(first).chain(queued).collect::<Vec<_>>());
    let out = stop_when(&reactor, all);
    run(&reactor);
    assert_eq!(out.borrow_mut().take().unwrap().ok(), Some(vec![0, 1, 2]));
    assert_clean(&reactor);
}

fn call_in_thread_runs_and_its_panics_are_logged(reactor: Reactor) {
    let ran = Arc::new(AtomicUsize::new(0));
    let handle = reactor.handle();
    call_in_thread(&reactor, {
        let ran = ran.clone();
        move || {
            ran.fetch_add(1, Ordering::SeqCst);
        }
    })
    .unwrap();
    let line = line!() + 1;
    call_in_thread(&reactor, move || {
        // Stop as the panic unwinds: shutdown waits for the pool, and the worker reports
        // the panic to the reactor before it exits.
        let _stop = StopOnDrop(handle);
        panic!("fire and forget")
    })
    .unwrap();
    let (_, logs) = capture_logs(|| run(&reactor));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let site = support::site(line);
    assert!(
        logged(
            &logs,
            Level::ERROR,
            &["call_in_thread work from", &site, "fire and forget"]
        ),
        "{logs:?}"
    );
    assert_clean(&reactor);
}

/// Stops the reactor when dropped: after a panic has unwound (and been reported).
struct StopOnDrop(torsion::ReactorHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

fn shutdown_drains_the_queue_and_joins_the_threads(reactor: Reactor) {
    ThreadPool::of(&reactor).set_size(0, 2);
    let done = Arc::new(AtomicUsize::new(0));
    let fired = Rc::new(RefCell::new(0));
    for _ in 0..6 {
        let done = done.clone();
        let fired = fired.clone();
        let _ = defer_to_thread(&reactor, move || {
            done.fetch_add(1, Ordering::SeqCst);
            Ok::<_, io::Error>(())
        })
        .add_callback(move |()| {
            *fired.borrow_mut() += 1;
            Ok(())
        });
    }
    reactor.call_when_running({
        let reactor = reactor.clone();
        move || reactor.stop()
    });
    run(&reactor);
    assert_eq!(done.load(Ordering::SeqCst), 6);
    assert_eq!(
        *fired.borrow(),
        6,
        "results delivered while shutdown waited"
    );
    assert_eq!(running_threads(&reactor), 0);
    assert_clean(&reactor);
}

fn work_submitted_during_shutdown_is_refused(reactor: Reactor) {
    let pool = ThreadPool::of(&reactor);
    let refused = Rc::new(RefCell::new(None));
    // Added after the pool's own trigger, so it runs once the pool is draining.
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, {
        let (reactor, refused) = (reactor.clone(), refused.clone());
        move || {
            let d = defer_to_thread(&reactor, || Ok::<_, io::Error>(()));
            *refused.borrow_mut() = Some(d.try_result().ok().unwrap().unwrap_err());
        }
    });
    reactor.call_when_running({
        let reactor = reactor.clone();
        move || reactor.stop()
    });
    run(&reactor);
    let failure = refused.borrow_mut().take().unwrap();
    assert_eq!(failure.check::<PoolError>(), Some(&PoolError::ShuttingDown));
    assert_eq!(pool.stats().threads, 0);
    assert_clean(&reactor);
}

fn the_minimum_starts_at_first_use(reactor: Reactor) {
    let pool = ThreadPool::of(&reactor);
    assert_eq!(pool.stats().threads, 0, "lazily: no threads until asked");
    pool.set_size(3, 5);
    assert_eq!(pool.stats().threads, 3);
    assert_eq!(running_threads(&reactor), 3);
    assert!(torsion::testing::check_clean(&reactor)
        .unwrap_err()
        .to_string()
        .contains("3 running pool threads"));
    reactor.call_when_running({
        let reactor = reactor.clone();
        move || reactor.stop()
    });
    run(&reactor);
    assert_clean(&reactor);
}

fn blocking_calls_get_values_and_failures(reactor: Reactor) {
    assert_eq!(
        blocking_call_from_thread(&reactor.handle(), |_| succeed(1)),
        Err(BlockingCallError::OnReactorThread)
    );
    let handle = reactor.handle();
    let d = defer_to_thread(&reactor, move || {
        let value = blocking_call_from_thread(&handle, |_| succeed(5u32));
        let failed = blocking_call_from_thread(&handle, |_| {
            torsion::defer::fail::<u32>(Failure::msg("no such user"))
        });
        Ok::<_, io::Error>((value, failed))
    });
    let out = stop_when(&reactor, d);
    run(&reactor);
    let (value, failed) = out.borrow_mut().take().unwrap().unwrap();
    assert_eq!(value, Ok(5));
    match failed {
        Err(BlockingCallError::Failed { message, .. }) => assert_eq!(message, "no such user"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_clean(&reactor);
}

fn a_one_thread_pool_reports_the_deadlock_instead_of_hanging(reactor: Reactor) {
    ThreadPool::of(&reactor).set_size(0, 1);
    let handle = reactor.handle();
    // The only thread waits for work that needs a thread: Twisted hangs here forever.
    let d = defer_to_thread(&reactor, move || {
        Ok::<_, io::Error>(blocking_call_from_thread(&handle, |reactor| {
            defer_to_thread(reactor, || Ok::<_, io::Error>(1))
        }))
    });
    let out = stop_when(&reactor, d);
    run(&reactor);
    let inner = out.borrow_mut().take().unwrap().unwrap();
    let expected = PoolError::Exhausted { max_threads: 1 };
    assert_eq!(inner, Err(BlockingCallError::Pool(expected)));
    assert_clean(&reactor);
}

fn queued_work_that_could_never_run_is_failed(reactor: Reactor) {
    ThreadPool::of(&reactor).set_size(0, 2);
    let (queued, wait_queued) = mpsc::channel::<()>();
    let handle = reactor.handle();
    // A blocks on work that gets queued (B holds the other thread); then B blocks too.
    let a = defer_to_thread(&reactor, {
        let handle = handle.clone();
        move || {
            Ok::<_, io::Error>(blocking_call_from_thread(&handle, move |reactor| {
                let inner = defer_to_thread(reactor, || Ok::<_, io::Error>(1));
                queued.send(()).unwrap();
                inner
            }))
        }
    });
    let b = defer_to_thread(&reactor, move || {
        wait_queued.recv().unwrap();
        Ok::<_, io::Error>(blocking_call_from_thread(&handle, |reactor| {
            defer_to_thread(reactor, || Ok::<_, io::Error>(2))
        }))
    });
    let out = stop_when(&reactor, gather_results(vec![a, b]));
    run(&reactor);
    let results = out.borrow_mut().take().unwrap().unwrap();
    let exhausted = Err(BlockingCallError::Pool(PoolError::Exhausted {
        max_threads: 2,
    }));
    assert_eq!(
        results[0], exhausted,
        "A's queued work was failed, not left to hang"
    );
    // B's own work ran if A's thread was free by then, else it was refused as well.
    assert!(
        results[1] == Ok(2) || results[1] == exhausted,
        "{:?}",
        results[1]
    );
    assert_clean(&reactor);
}

fn the_pool_runs_again_after_a_restart(reactor: Reactor) {
    for round in 0..2u32 {
        let d = defer_to_thread(&reactor, move || Ok::<_, io::Error>(round));
        let out = stop_when(&reactor, d);
        run(&reactor);
        assert_eq!(out.borrow_mut().take().unwrap().ok(), Some(round));
        assert_clean(&reactor);
    }
}

#[test]
fn a_blocking_call_into_a_dropped_reactor_fails_instead_of_hanging() {
    let reactor = support::reactor(torsion::reactor::Backend::Mio);
    let handle = reactor.handle();
    drop(reactor);
    let result = thread::spawn(move || blocking_call_from_thread(&handle, |_| succeed(1)))
        .join()
        .unwrap();
    assert_eq!(result, Err(BlockingCallError::ReactorGone));
}
