//! Waiting for mail with the blocking wait pushed to a thread: the talks' third way,
//! after `mail_poll` (`call_later`) and `mail_poll_async` (`defer_later` and await).
//!
//! ```text
//! cargo run --example mail_poll_thread -- [--path FILE] [--interval SECONDS] [--timeout SECONDS]
//! ```
//!
//! Same arguments and output as `mail_poll`. The wait is the plain blocking loop a
//! synchronous program would write (`while !exists { sleep(interval) }`), handed to
//! `defer_to_thread` so that the reactor keeps running meanwhile (it delivers the sample
//! mail). `--timeout` gives up: the Deferred fails, the thread is told to stop at its next
//! check, and the program prints why on stderr and exits 1.

#[path = "common/mail.rs"]
mod mail;

use std::{
    cell::RefCell,
    io,
    path::Path,
    process::ExitCode,
    rc::Rc,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::Duration,
};

use torsion::{threads::defer_to_thread, Failure};

fn main() -> ExitCode {
    let (args, reactor, path, _cleanup) = match mail::start("mail_poll_thread") {
        Ok(started) => started,
        Err(code) => return code,
    };
    println!("waiting for mail");
    let give_up = Arc::new(AtomicBool::new(false));
    let mut mail = defer_to_thread(&reactor, {
        let (path, give_up) = (path.clone(), give_up.clone());
        move || wait_for_mail(&path, args.interval, &give_up)
    });
    if let Some(timeout) = args.timeout {
        mail = mail.add_timeout(timeout, &reactor);
    }
    let outcome = Rc::new(RefCell::new(ExitCode::SUCCESS));
    let _ = mail.add_both({
        let (reactor, outcome) = (reactor.clone(), outcome.clone());
        move |result: Result<Vec<String>, Failure>| {
            match result {
                Ok(lines) => mail::print_mail(&lines),
                Err(failure) => {
                    // The thread cannot be interrupted: tell it to stop looking, so the
                    // reactor's shutdown (which waits for pool threads) is quick.
                    give_up.store(true, Ordering::Relaxed);
                    eprintln!("mail_poll_thread: no mail at {}: {failure}", path.display());
                    *outcome.borrow_mut() = ExitCode::FAILURE;
                }
            }
            let stopper = reactor.clone();
            reactor.call_when_running(move || stopper.stop());
            Ok::<_, Failure>(())
        }
    });
    reactor.run();
    outcome.replace(ExitCode::SUCCESS)
}

/// The blocking wait, as a synchronous program writes it: runs on a pool thread.
fn wait_for_mail(path: &Path, interval: Duration, give_up: &AtomicBool) -> io::Result<Vec<String>> {
    while !path.is_file() {
        if give_up.load(Ordering::Relaxed) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "gave up waiting",
            ));
        }
        thread::sleep(interval);
    }
    mail::read_mail(path)
}
