//! Waiting for mail with async/await and `defer_later`: the talks' `inlineCallbacks`
//! version of `mail_poll`.
//!
//! ```text
//! cargo run --example mail_poll_async -- [--path FILE] [--interval SECONDS] [--timeout SECONDS]
//! ```
//!
//! Same arguments and output as `mail_poll`: polls for `--path` every `--interval`
//! (default 1 s), prints its lines and stops; `--timeout` gives up, prints why on stderr
//! and exits 1; without `--path`, it delivers a sample mail itself after 1.5 s into a
//! temporary directory it removes afterwards. The loop reads top to bottom, as Glyph's
//! generator version does:
//!
//! ```text
//! while not os.path.isfile('mail'): yield deferLater(reactor, 1.0, lambda: None)
//! ```

#[path = "common/mail.rs"]
mod mail;

use std::{cell::RefCell, path::Path, process::ExitCode, rc::Rc, time::Duration};

use torsion::defer::ok;
use torsion::{task::defer_later, Failure, Reactor};

fn main() -> ExitCode {
    let (args, reactor, path, _cleanup) = match mail::start("mail_poll_async") {
        Ok(started) => started,
        Err(code) => return code,
    };
    println!("waiting for mail");
    let mut mail = reactor.ensure_deferred({
        let (reactor, path) = (reactor.clone(), path.clone());
        async move { wait_for_mail(&reactor, &path, args.interval).await }
    });
    if let Some(timeout) = args.timeout {
        // Cancelling the future's Deferred cancels the defer_later it awaits; its `?`
        // carries the cancellation out, and add_timeout reports it as a timeout.
        mail = mail.add_timeout(timeout, &reactor);
    }
    let outcome = Rc::new(RefCell::new(ExitCode::SUCCESS));
    let _ = mail.add_both({
        let (reactor, outcome) = (reactor.clone(), outcome.clone());
        move |result: Result<Vec<String>, Failure>| {
            match result {
                Ok(lines) => mail::print_mail(&lines),
                Err(failure) => {
                    eprintln!("mail_poll_async: no mail at {}: {failure}", path.display());
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

/// The mail's lines, once `path` exists.
async fn wait_for_mail(
    reactor: &Reactor,
    path: &Path,
    interval: Duration,
) -> Result<Vec<String>, Failure> {
    loop {
        if path.is_file() {
            return Ok(mail::read_mail(path)?);
        }
        defer_later(reactor, interval, || ok(())).await?;
    }
}
