//! Calls from another thread side by side: round trips per second.
//!
//! ```text
//! cargo run --release -p torsion-bench --bin call_from_thread [-- --trips N --batch M --runs R --only NAME]
//! taskset -c 0 target/release/call_from_thread   # both threads on one core
//! ```
//!
//! A worker thread sends a closure to the loop thread, which replies on a
//! `std::sync::mpsc` channel; the worker waits for the reply:
//!
//! - `torsion`: `ReactorHandle::call_from_thread` onto a running `Reactor`;
//! - `tokio`: `Handle::spawn` of an `async` block onto a current_thread runtime inside
//!   `block_on`, with the time driver only (it parks on a futex);
//! - `tokio-io`: the same with tokio's I/O driver enabled too, as in any tokio network
//!   server: it parks in epoll and is woken through an eventfd, as torsion's reactor is.
//!
//! Two patterns, run interleaved (`--runs` rounds, median of each):
//!
//! - `ping-pong`: send one, wait for its reply, N times (`--trips`, default 100,000):
//!   the latency of waking a sleeping loop and being woken back;
//! - `pipelined`: send M (`--batch`, default 100), then wait for the M replies, until N
//!   (`--pipelined-trips`, default 1,000,000) have gone round: the cost of a batch, where
//!   torsion takes one lock and makes at most one wake-up per batch.

use std::{
    sync::mpsc::{self, Sender},
    thread,
};

use torsion::Reactor;
use torsion_bench::{load_average, measure, ratio, report, Args, Sample};

fn main() {
    let args = Args::parse();
    let trips = args.number("trips", 100_000);
    let pipelined_trips = args.number("pipelined-trips", 1_000_000);
    let batch = args.number("batch", 100).max(1);
    println!(
        "call_from_thread: ping-pong {trips} trips, pipelined {pipelined_trips} trips in \
         batches of {batch}; cpus allowed {}; load {}",
        thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    type Contestant = (&'static str, &'static str, Box<dyn Fn()>);
    let contestants: [Contestant; 6] = [
        (
            "torsion",
            "torsion call_from_thread ping-pong",
            Box::new(move || torsion_trips(trips, 1)),
        ),
        (
            "tokio",
            "tokio Handle::spawn ping-pong (time only)",
            Box::new(move || tokio_trips(trips, 1, Driver::Time)),
        ),
        (
            "tokio-io",
            "tokio Handle::spawn ping-pong (I/O on)",
            Box::new(move || tokio_trips(trips, 1, Driver::TimeAndIo)),
        ),
        (
            "torsion-pipelined",
            "torsion call_from_thread pipelined",
            Box::new(move || torsion_trips(pipelined_trips, batch)),
        ),
        (
            "tokio-pipelined",
            "tokio Handle::spawn pipelined (time only)",
            Box::new(move || tokio_trips(pipelined_trips, batch, Driver::Time)),
        ),
        (
            "tokio-io-pipelined",
            "tokio Handle::spawn pipelined (I/O on)",
            Box::new(move || tokio_trips(pipelined_trips, batch, Driver::TimeAndIo)),
        ),
    ];
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); contestants.len()];
    for _ in 0..args.runs {
        for ((name, _, run), samples) in contestants.iter().zip(&mut samples) {
            if args.wants(name) {
                samples.push(measure(run));
            }
        }
    }
    let ops = [
        trips,
        trips,
        trips,
        pipelined_trips,
        pipelined_trips,
        pipelined_trips,
    ];
    for (((_, label, _), samples), ops) in contestants.iter().zip(&samples).zip(ops) {
        if !samples.is_empty() {
            report(label, samples, ops as u64);
        }
    }
    ratio("torsion", &samples[0], "tokio", &samples[1]);
    ratio("torsion", &samples[0], "tokio-io", &samples[2]);
    ratio(
        "torsion-pipelined",
        &samples[3],
        "tokio-pipelined",
        &samples[4],
    );
    ratio(
        "torsion-pipelined",
        &samples[3],
        "tokio-io-pipelined",
        &samples[5],
    );
}

/// Which drivers the tokio runtime has: with the time driver alone it parks on a futex;
/// with the I/O driver (what any tokio network server runs) it parks in epoll and is
/// woken through mio's eventfd, as torsion's reactor always is.
#[derive(Clone, Copy, Debug)]
enum Driver {
    Time,
    TimeAndIo,
}

/// The worker's side, the same for both: `send` M closures that will reply, wait for
/// the M replies, repeat until `trips` went round.
fn worker(trips: usize, batch: usize, send: impl Fn(Sender<()>)) {
    let (reply, replies) = mpsc::channel();
    let mut left = trips;
    while left > 0 {
        let m = batch.min(left);
        for _ in 0..m {
            send(reply.clone());
        }
        for _ in 0..m {
            replies.recv().expect("the loop thread replies");
        }
        left -= m;
    }
}

fn torsion_trips(trips: usize, batch: usize) {
    let reactor = Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("build reactor");
    let handle = reactor.handle();
    let worker = thread::spawn(move || {
        worker(trips, batch, |reply| {
            handle.call_from_thread(move |_| {
                let _ = reply.send(());
            });
        });
        handle.stop();
    });
    reactor.run();
    worker.join().expect("worker thread");
}

fn tokio_trips(trips: usize, batch: usize, driver: Driver) {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_time();
    if let Driver::TimeAndIo = driver {
        builder.enable_io();
    }
    let runtime = builder.build().expect("build tokio runtime");
    let handle = runtime.handle().clone();
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let worker = thread::spawn(move || {
        worker(trips, batch, |reply| {
            drop(handle.spawn(async move {
                let _ = reply.send(());
            }));
        });
        let _ = done.send(());
    });
    runtime.block_on(async {
        let _ = finished.await;
    });
    worker.join().expect("worker thread");
}
