//! Timers side by side: schedule N timers (default 1,000,000) with delays spread over
//! 0-1 s (`--spread-ms`), cancel every other one, run the rest to completion.
//!
//! Compare CPU time: the real-time contestants spend most of their wall time asleep,
//! waiting for the deadlines. The spread is long beside the time it takes to schedule
//! a million timers, so deadlines come in random order, not nearly sorted by when they
//! were scheduled (with 0-50 ms they would be, and a heap would look better than it is).
//!
//! ```text
//! cargo run --release -p torsion-bench --bin timers [-- --timers N --runs R --only NAME]
//! ```
//!
//! Contestants, run interleaved (`--runs` rounds, median of each):
//!
//! - `reactor`: torsion's `Reactor::call_later` and `DelayedCall::cancel`, then
//!   `Reactor::run` on real time until the last live timer fired and stopped it;
//! - `queue`: torsion's `time::TimerQueue` alone, on a virtual clock advanced 1 ms at a
//!   time (what the fake `task::Clock` does), so no real waiting;
//! - `tokio`: a current_thread runtime, one `tokio::spawn`ed task per timer awaiting a
//!   `tokio::time::sleep` made at spawn time; cancelling is `JoinHandle::abort`. This is
//!   tokio's idiomatic way without `tokio_util::time::DelayQueue`, on real time;
//! - `floor`: a plain `BinaryHeap` of (deadline, seq, `Box<dyn FnOnce()>`) with a
//!   cancelled set (a `Vec<bool>` by seq), on the same virtual clock as `queue`.
//!
//! Every timer's closure (task) captures its index and adds it to a checksum, so every
//! contestant allocates a real closure; the checksum and count are checked after each run.

use std::{
    cell::{Cell, RefCell},
    cmp::Ordering as CmpOrdering,
    collections::BinaryHeap,
    rc::Rc,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use torsion::{time::TimerQueue, Reactor};
use torsion_bench::{load_average, measure, ratio, report, Args, Rng, Sample};

/// Timers fired in this run, and the sum of their indexes (to check the right ones ran).
static FIRED: AtomicU64 = AtomicU64::new(0);
static CHECKSUM: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The reactor the last live timer stops, and how many live timers there are.
    static STOP: RefCell<Option<(Reactor, u64)>> = const { RefCell::new(None) };
}

fn main() {
    let args = Args::parse();
    let n = args.number("timers", 1_000_000);
    let spread = Duration::from_millis(args.number("spread-ms", 1000) as u64);
    let mut rng = Rng::new(0x5eed);
    let delays: Vec<Duration> = (0..n)
        .map(|_| Duration::from_micros(rng.below(spread.as_micros() as u64)))
        .collect();
    let live = (n as u64).div_ceil(2);
    let expected_sum: u64 = (0..n as u64).step_by(2).sum();

    println!(
        "timers: {n} scheduled over 0-{} ms, every other one cancelled, {live} run \
         (compare cpu: real-time runs sleep until their deadlines); load {}",
        spread.as_millis(),
        load_average()
    );
    type Contestant = (&'static str, &'static str, fn(&[Duration]));
    let contestants: [Contestant; 4] = [
        (
            "reactor",
            "torsion Reactor::call_later (real time)",
            reactor,
        ),
        ("queue", "torsion TimerQueue (virtual time)", queue),
        ("tokio", "tokio spawn+sleep, abort (real time)", tokio_tasks),
        ("floor", "floor BinaryHeap+cancel bits (virtual)", floor),
    ];
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); contestants.len()];
    for _ in 0..args.runs {
        for ((name, _, run), samples) in contestants.iter().zip(&mut samples) {
            if !args.wants(name) {
                continue;
            }
            FIRED.store(0, Ordering::Relaxed);
            CHECKSUM.store(0, Ordering::Relaxed);
            samples.push(measure(|| run(&delays)));
            assert_eq!(FIRED.load(Ordering::Relaxed), live, "{name}: wrong count");
            assert_eq!(CHECKSUM.load(Ordering::Relaxed), expected_sum, "{name}");
        }
    }
    for ((_, label, _), samples) in contestants.iter().zip(&samples) {
        if !samples.is_empty() {
            report(label, samples, n as u64);
        }
    }
    ratio("reactor", &samples[0], "tokio", &samples[2]);
    ratio("queue", &samples[1], "floor", &samples[3]);
    ratio("reactor", &samples[0], "floor", &samples[3]);
}

/// What every timer does when it fires.
fn fire(index: u64) {
    FIRED.fetch_add(1, Ordering::Relaxed);
    CHECKSUM.fetch_add(index, Ordering::Relaxed);
}

fn reactor(delays: &[Duration]) {
    let reactor = Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("build reactor");
    let live = (delays.len() as u64).div_ceil(2);
    STOP.with(|stop| *stop.borrow_mut() = Some((reactor.clone(), live)));
    let calls: Vec<_> = delays
        .iter()
        .enumerate()
        .map(|(i, &delay)| {
            let index = i as u64;
            reactor.call_later(delay, move || {
                fire(index);
                STOP.with(|stop| {
                    if let Some((reactor, live)) = &*stop.borrow() {
                        if FIRED.load(Ordering::Relaxed) == *live {
                            reactor.stop();
                        }
                    }
                });
            })
        })
        .collect();
    for call in calls.iter().skip(1).step_by(2) {
        call.cancel().expect("cancel a pending call");
    }
    drop(calls);
    reactor.run();
    STOP.with(|stop| stop.borrow_mut().take());
}

fn queue(delays: &[Duration]) {
    let now = Rc::new(Cell::new(Duration::ZERO));
    let queue = TimerQueue::new({
        let now = now.clone();
        move || now.get()
    });
    let calls: Vec<_> = delays
        .iter()
        .enumerate()
        .map(|(i, &delay)| {
            let index = i as u64;
            queue.schedule(delay, Box::new(move || fire(index)))
        })
        .collect();
    for call in calls.iter().skip(1).step_by(2) {
        call.cancel().expect("cancel a pending call");
    }
    drop(calls);
    advance_by_millis(&now, delays, |t| {
        queue.run_due(t);
    });
}

fn tokio_tasks(delays: &[Duration]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("build tokio runtime");
    let live = (delays.len() as u64).div_ceil(2);
    runtime.block_on(async {
        let done = Arc::new(tokio::sync::Notify::new());
        let tasks: Vec<_> = delays
            .iter()
            .enumerate()
            .map(|(i, &delay)| {
                let index = i as u64;
                let done = done.clone();
                // Made here, not inside the task, so its deadline counts from now.
                let sleep = tokio::time::sleep(delay);
                tokio::spawn(async move {
                    sleep.await;
                    fire(index);
                    if FIRED.load(Ordering::Relaxed) == live {
                        done.notify_one();
                    }
                })
            })
            .collect();
        for task in tasks.iter().skip(1).step_by(2) {
            task.abort();
        }
        drop(tasks);
        done.notified().await;
    });
}

/// Moves a virtual clock from 0 past the longest delay 1 ms at a time, running what is
/// due, as the reactor's loop would on real time.
fn advance_by_millis(now: &Cell<Duration>, delays: &[Duration], mut run_due: impl FnMut(Duration)) {
    let step = Duration::from_millis(1);
    let last = delays.iter().max().copied().unwrap_or_default();
    while now.get() <= last {
        now.set(now.get() + step);
        run_due(now.get());
    }
}

struct FloorEntry {
    at: Duration,
    seq: u64,
    f: Box<dyn FnOnce()>,
}

impl Ord for FloorEntry {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for FloorEntry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for FloorEntry {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}

impl Eq for FloorEntry {}

fn floor(delays: &[Duration]) {
    let now = Cell::new(Duration::ZERO);
    let mut heap = BinaryHeap::new();
    let mut cancelled = Vec::new();
    for (i, &delay) in delays.iter().enumerate() {
        let index = i as u64;
        heap.push(FloorEntry {
            at: now.get() + delay,
            seq: index,
            f: Box::new(move || fire(index)),
        });
        cancelled.push(false);
    }
    for seq in (1..delays.len()).step_by(2) {
        cancelled[seq] = true;
    }
    advance_by_millis(&now, delays, |t| {
        while heap.peek().is_some_and(|top| top.at <= t) {
            let Some(entry) = heap.pop() else { break };
            if !cancelled[entry.seq as usize] {
                (entry.f)();
            }
        }
    });
}
