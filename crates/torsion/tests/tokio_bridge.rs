//! Running a tokio-based crate beside the reactor: tokio's futures need tokio's runtime,
//! so they run on a runtime of their own thread, and their results come back to the
//! reactor thread through `ReactorHandle::call_from_thread`, into a Deferred.

use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::mpsc,
    thread,
    time::Duration,
};

use torsion::{
    defer::{ok, Deferred, Failure, Panicked, Resolver},
    testing::{failure_result_of, run_test},
    Reactor, ReactorHandle,
};

const LIMIT: Duration = Duration::from_secs(20);

type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A tokio runtime on a thread of its own, running one job at a time.
struct TokioThread {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<thread::JoinHandle<()>>,
    reactor: ReactorHandle,
    next_id: Cell<u64>,
}

thread_local! {
    /// Deferreds waiting for a tokio result, on the reactor's thread (a `Resolver` is
    /// `!Send`: it stays here, and only its key crosses threads).
    static WAITING: RefCell<HashMap<u64, Resolver<String>>> = RefCell::new(HashMap::new());
}

impl TokioThread {
    fn start(reactor: &Reactor) -> TokioThread {
        let (jobs, incoming) = mpsc::channel::<Job>();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a tokio runtime");
            for job in incoming {
                runtime.block_on(job());
            }
        });
        TokioThread {
            jobs: Some(jobs),
            thread: Some(thread),
            reactor: reactor.handle(),
            next_id: Cell::new(0),
        }
    }

    /// Runs `make()`'s future on the tokio thread; its result fires the Deferred on the
    /// reactor thread.
    fn run<F>(&self, make: impl FnOnce() -> F + Send + 'static) -> Deferred<String>
    where
        F: Future<Output = Result<String, String>> + Send + 'static,
    {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let (d, resolver) = Deferred::new();
        WAITING.with_borrow_mut(|waiting| waiting.insert(id, resolver));
        let reactor = self.reactor.clone();
        let job: Job = Box::new(move || {
            Box::pin(async move {
                let result = make().await;
                // Back on the reactor thread: only `Send` data crossed.
                reactor.call_from_thread(move |_| {
                    if let Some(resolver) = WAITING.with_borrow_mut(|w| w.remove(&id)) {
                        let _ = resolver.resolve(result.map_err(Failure::msg));
                    }
                });
            })
        });
        if let Some(jobs) = &self.jobs {
            // The thread lives as long as `jobs`: the send cannot fail before `stop`.
            let _ = jobs.send(job);
        }
        d
    }

    /// Lets the tokio thread finish its jobs and joins it.
    fn stop(mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the tokio thread ended cleanly");
        }
    }
}

#[test]
fn a_tokio_future_runs_on_its_own_runtime_and_fires_a_deferred() {
    let answer = run_test(LIMIT, |reactor| {
        let tokio = TokioThread::start(reactor);
        let slept = tokio.run(|| async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok("slept in tokio".to_owned())
        });
        let failed = tokio.run(|| async { Err("tokio said no".to_owned()) });
        async move {
            let slept = slept.await?;
            let failed = failed.await.unwrap_err().error_message();
            tokio.stop();
            ok(format!("{slept}; {failed}"))
        }
    });
    assert_eq!(answer, "slept in tokio; tokio said no");
}

#[test]
fn a_tokio_future_on_the_reactor_fails_with_tokios_own_message() {
    // tokio's timer needs tokio's runtime: on the reactor it panics, and the panic
    // becomes the Deferred's failure, carrying tokio's explanation.
    let reactor = Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .unwrap();
    let d: Deferred<()> = reactor.ensure_deferred(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(())
    });
    let failure = failure_result_of::<Panicked>(d);
    assert!(
        failure.error_message().contains("no reactor running"),
        "{failure:?}"
    );
}
