//! Many short children at once, a fixed number at a time: a `DeferredSemaphore` around
//! `get_process_output` (how Twisted users run a batch of commands without forking them
//! all together).
//!
//! ```text
//! cargo run --example process_pool -- [--jobs N] [--parallel N]
//! ```
//!
//! Runs `--jobs` children (default 20), each `sh -c 'echo $N'`, at most `--parallel`
//! (default 4) at a time. Checks that each child printed its own number and that no more
//! than `--parallel` ran at once, then prints a summary and exits 0; exits 1 otherwise.

use std::{cell::Cell, rc::Rc};

use torsion::{
    defer::{gather_results, DeferredSemaphore},
    process::{get_process_output, Command},
    task::react,
    Failure,
};

fn main() {
    let (jobs, parallel) = match parse(std::env::args().skip(1)) {
        Ok(values) => values,
        Err(message) => {
            eprintln!("process_pool: {message}");
            eprintln!("usage: process_pool [--jobs N] [--parallel N]");
            std::process::exit(2);
        }
    };
    let semaphore = match DeferredSemaphore::new(parallel) {
        Ok(semaphore) => semaphore,
        Err(error) => {
            eprintln!("process_pool: --parallel {parallel}: {error}");
            std::process::exit(2);
        }
    };
    react(move |reactor| {
        let (running, most) = (Rc::new(Cell::new(0usize)), Rc::new(Cell::new(0usize)));
        let children = (0..jobs).map(|n| {
            let (reactor, running, most) = (reactor.clone(), running.clone(), most.clone());
            semaphore.run(move || {
                running.set(running.get() + 1);
                most.set(most.get().max(running.get()));
                let command = Command::new("sh").args(["-c", &format!("echo {n}")]);
                get_process_output(&reactor, command).add_both(move |result| {
                    running.set(running.get() - 1);
                    let out = result?;
                    let got = String::from_utf8_lossy(&out).trim().to_owned();
                    if got == n.to_string() {
                        Ok(())
                    } else {
                        Err(Failure::msg(format!("child {n} printed {got:?}")))
                    }
                })
            })
        });
        gather_results(children.collect::<Vec<_>>()).add_callback(move |done: Vec<()>| {
            println!("ran {} children, {parallel} at a time", done.len());
            if most.get() > parallel {
                return Err(Failure::msg(format!("{} ran at once", most.get())));
            }
            println!("never more than {parallel} at once");
            Ok(())
        })
    })
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(usize, usize), String> {
    let (mut jobs, mut parallel) = (20, 4);
    while let Some(name) = args.next() {
        let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
        let n: usize = value
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{name} {value:?}: not a positive number"))?;
        match name.as_str() {
            "--jobs" => jobs = n,
            "--parallel" => parallel = n,
            _ => return Err(format!("unknown argument {name:?}")),
        }
    }
    Ok((jobs, parallel))
}
