//! Blocking work off the loop: a `LoopingCall` keeps ticking while a pool thread sleeps.
//!
//! ```text
//! cargo run --example thread_pool -- [--work SECONDS] [--interval SECONDS]
//! ```
//!
//! Starts a `LoopingCall` every `--interval` (default 0.05 s), then hands a blocking job
//! (`std::thread::sleep` for `--work`, default 0.5 s) to `defer_to_thread`. When the job's
//! Deferred fires, it counts the ticks that ran meanwhile and prints
//! `ticks during the blocking work: at least 3` if there were (the loop was never
//! blocked), else how few there were, and exits 1. Had the sleep run on the reactor
//! thread, no tick could have run.

#[path = "common/args.rs"]
mod args;

use std::{cell::Cell, io, rc::Rc, thread, time::Duration};

use torsion::{
    task::{react, LoopingCall},
    threads::defer_to_thread,
    Failure,
};

/// The fewest ticks that show the loop kept going.
const ENOUGH_TICKS: u32 = 3;

fn main() {
    let mut values = [Duration::from_millis(500), Duration::from_millis(50)];
    if let Err(message) = args::parse_seconds_options(
        std::env::args().skip(1),
        &["--work", "--interval"],
        &mut values,
    ) {
        eprintln!("thread_pool: {message}");
        eprintln!("usage: thread_pool [--work SECONDS] [--interval SECONDS]");
        std::process::exit(2);
    }
    let [work, interval] = values;
    react(|reactor| {
        let ticks = Rc::new(Cell::new(0u32));
        let ticker = LoopingCall::new(reactor, {
            let ticks = ticks.clone();
            move || ticks.set(ticks.get() + 1)
        });
        let _ = ticker.start(interval, true);
        let before = ticks.get();
        println!("blocking work started on a pool thread");
        defer_to_thread(reactor, move || {
            thread::sleep(work); // The blocking call the reactor must not make.
            Ok::<_, io::Error>("42")
        })
        .add_callback(move |answer| {
            let during = ticks.get() - before;
            ticker.stop()?;
            println!("blocking work done: {answer}");
            if during >= ENOUGH_TICKS {
                println!("ticks during the blocking work: at least {ENOUGH_TICKS}");
                Ok(())
            } else {
                println!("ticks during the blocking work: only {during}");
                Err(Failure::msg("the loop did not keep ticking"))
            }
        })
    })
}
