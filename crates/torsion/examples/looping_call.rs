//! A `LoopingCall` on the reactor: tick five times, then stop.
//!
//! ```text
//! cargo run --example looping_call -- [--interval SECONDS]
//! ```
//!
//! Prints `tick 1` to `tick 5`, one `--interval` apart (default 0.2 s), then
//! `stopped after 5 ticks` when the Deferred from `start` fires, and exits 0. `react`
//! runs the reactor until that Deferred fires.

#[path = "common/args.rs"]
mod args;

use std::{cell::Cell, rc::Rc, time::Duration};

use torsion::{
    defer::ok,
    task::{react, LoopingCall},
};

const TICKS: u32 = 5;

fn main() {
    let mut values = [Duration::from_millis(200)];
    if let Err(message) =
        args::parse_seconds_options(std::env::args().skip(1), &["--interval"], &mut values)
    {
        eprintln!("looping_call: {message}");
        eprintln!("usage: looping_call [--interval SECONDS]");
        std::process::exit(2);
    }
    let [interval] = values;
    react(|reactor| {
        let ticks = Rc::new(Cell::new(0));
        // The loop stops itself: it needs its own handle, which exists only once made.
        let this: Rc<Cell<Option<LoopingCall>>> = Rc::default();
        let call = LoopingCall::new(reactor, {
            let (ticks, this) = (ticks.clone(), this.clone());
            move || {
                ticks.set(ticks.get() + 1);
                println!("tick {}", ticks.get());
                if ticks.get() == TICKS {
                    if let Some(call) = this.take() {
                        call.stop()?;
                    }
                }
                ok(())
            }
        });
        this.set(Some(call.clone()));
        call.start(interval, true).add_callback(move |()| {
            println!("stopped after {} ticks", ticks.get());
            Ok(())
        })
    })
}
