//! Waiting for mail with `call_later`, as in the Twisted talks' first Deferred demo.
//!
//! ```text
//! cargo run --example mail_poll -- [--path FILE] [--interval SECONDS] [--timeout SECONDS]
//! ```
//!
//! Polls for `--path` every `--interval` (default 1 s) by rescheduling itself with
//! `call_later`, fires a Deferred with the file's lines, prints them and stops. With
//! `--timeout`, gives up after that long: prints why on stderr and exits 1. Without
//! `--path`, it delivers a sample mail itself, 1.5 s after start, into a temporary
//! directory it removes afterwards, so the demo runs on its own.

#[path = "common/mail.rs"]
mod mail;

use std::{cell::RefCell, path::PathBuf, process::ExitCode, rc::Rc, time::Duration};

use torsion::defer::ok;
use torsion::{
    defer::{Deferred, Resolver},
    DelayedCall, Failure, Reactor,
};

fn main() -> ExitCode {
    let (args, reactor, path, _cleanup) = match mail::start("mail_poll") {
        Ok(started) => started,
        Err(code) => return code,
    };
    println!("waiting for mail");
    let mut mail = wait_for_mail(&reactor, path.clone(), args.interval);
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
                    eprintln!("mail_poll: no mail at {}: {failure}", path.display());
                    *outcome.borrow_mut() = ExitCode::FAILURE;
                }
            }
            // The mail may be there before the reactor runs: stop once it does.
            let stopper = reactor.clone();
            reactor.call_when_running(move || stopper.stop());
            ok(())
        }
    });
    reactor.run();
    outcome.replace(ExitCode::SUCCESS)
}

/// A Deferred that fires with the lines of `path` once it exists, checking every
/// `interval`. Cancelling it (as the timeout does) cancels the next check.
fn wait_for_mail(reactor: &Reactor, path: PathBuf, interval: Duration) -> Deferred<Vec<String>> {
    let next: Rc<RefCell<Option<DelayedCall>>> = Rc::default();
    let (mail, resolver) = Deferred::with_canceller({
        let next = next.clone();
        move |_: &Resolver<Vec<String>>| {
            if let Some(call) = next.borrow_mut().take() {
                let _ = call.cancel(); // Pending: a check that ran took it out first.
            }
        }
    });
    check(reactor.clone(), path, interval, resolver, next);
    mail
}

/// One check: fire if the mail is there, else look again after `interval`.
fn check(
    reactor: Reactor,
    path: PathBuf,
    interval: Duration,
    resolver: Resolver<Vec<String>>,
    next: Rc<RefCell<Option<DelayedCall>>>,
) {
    next.borrow_mut().take();
    if path.is_file() {
        // Fails only if the Deferred was cancelled meanwhile: nobody waits then.
        let _ = resolver.resolve(mail::read_mail(&path).map_err(Failure::new));
        return;
    }
    let again = reactor.clone();
    let slot = next.clone();
    let call = reactor.call_later(interval, move || {
        check(again, path, interval, resolver, slot)
    });
    *next.borrow_mut() = Some(call);
}
