//! The countdown from the Twisted talks: "you don't call Twisted, Twisted calls you".
//!
//! ```text
//! cargo run --example countdown -- --interval 0.1
//! ```
//!
//! Prints `Reactor Starting...`, then 10 down to 1, one `--interval SECONDS` apart
//! (default 1), then `Reactor Stopped!`. Each number schedules the next with
//! `call_later`, as the Python version does with `reactor.callLater`.

use std::{process::ExitCode, time::Duration};

use torsion::Reactor;

fn main() -> ExitCode {
    let interval = match parse_interval(std::env::args().skip(1)) {
        Ok(interval) => interval,
        Err(message) => {
            eprintln!("countdown: {message}");
            eprintln!("usage: countdown [--interval SECONDS]");
            return ExitCode::from(2);
        }
    };
    let reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(e) => {
            eprintln!("countdown: {e}");
            return ExitCode::FAILURE;
        }
    };
    reactor.call_when_running(|| println!("Reactor Starting..."));
    reactor.call_when_running({
        let reactor = reactor.clone();
        move || count(reactor, 10, interval)
    });
    reactor.run();
    println!("Reactor Stopped!");
    ExitCode::SUCCESS
}

/// Prints `n`, then counts on from `n - 1` after `interval`, or stops after 1.
fn count(reactor: Reactor, n: u32, interval: Duration) {
    if n == 0 {
        reactor.stop();
        return;
    }
    println!("{n}");
    let next = reactor.clone();
    reactor.call_later(interval, move || count(next, n - 1, interval));
}

/// Reads `--interval SECONDS` (or `--interval=SECONDS`); the default is one second.
fn parse_interval(mut args: impl Iterator<Item = String>) -> Result<Duration, String> {
    let mut interval = Duration::from_secs(1);
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--interval" => args
                .next()
                .ok_or_else(|| "--interval needs a value in seconds".to_owned())?,
            _ => match arg.strip_prefix("--interval=") {
                Some(value) => value.to_owned(),
                None => return Err(format!("unknown argument {arg:?}")),
            },
        };
        interval = parse_seconds(&value)?;
    }
    Ok(interval)
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    let seconds: f64 = value
        .parse()
        .map_err(|_| format!("--interval {value:?}: not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("--interval {value:?}: must be zero or more seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Duration, String> {
        parse_interval(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn intervals_parse_and_bad_ones_are_explained() {
        assert_eq!(parse(&[]), Ok(Duration::from_secs(1)));
        assert_eq!(
            parse(&["--interval", "0.25"]),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(parse(&["--interval=2"]), Ok(Duration::from_secs(2)));
        assert_eq!(
            parse(&["--interval", "soon"]),
            Err("--interval \"soon\": not a number of seconds".to_owned())
        );
        assert_eq!(
            parse(&["--interval", "-1"]),
            Err("--interval \"-1\": must be zero or more seconds".to_owned())
        );
        assert_eq!(
            parse(&["--interval"]),
            Err("--interval needs a value in seconds".to_owned())
        );
        assert_eq!(parse(&["-x"]), Err("unknown argument \"-x\"".to_owned()));
    }
}
