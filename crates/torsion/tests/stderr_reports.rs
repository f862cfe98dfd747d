//! With no `tracing` subscriber set, the reports that must never be lost (an unhandled
//! failure, a panicking callback, a stall) reach stderr, one line each, as Twisted prints
//! "Unhandled error in Deferred" with no logging set up. Checked in a child process (this
//! test binary, run again), whose stderr is read whole.

use std::{process::Command, time::Duration};

use torsion::{
    defer::{fail, Failure},
    Reactor,
};

const CHILD: &str = "TORSION_STDERR_REPORTS_CHILD";

#[test]
fn reports_reach_stderr_without_a_subscriber() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "reports_reach_stderr_without_a_subscriber",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("torsion "))
        .collect();
    let file = file!();
    assert_eq!(ours.len(), 3, "{stderr}");
    assert!(
        ours[0].starts_with("torsion ERROR: unhandled error in Deferred: boom (torsion::defer::failure::Message; Deferred created at ")
            && ours[0].contains(file),
        "{}",
        ours[0]
    );
    assert!(
        ours[1].starts_with("torsion ERROR: delayed call scheduled at ")
            && ours[1].contains(file)
            && ours[1].ends_with("panicked: kaboom"),
        "{}",
        ours[1]
    );
    assert!(
        ours[2].starts_with("torsion WARN: reactor stalled: delayed call scheduled at ")
            && ours[2].contains(file),
        "{}",
        ours[2]
    );
}

/// Runs in the child: one report of each kind, no subscriber anywhere.
fn child() {
    drop(fail::<()>(Failure::msg("boom")));
    let reactor = Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .unwrap();
    reactor.call_later(Duration::ZERO, || panic!("kaboom"));
    reactor.call_later(Duration::from_millis(1), || {
        let start = std::time::Instant::now();
        // Past the default stall threshold (100 ms), so no other callback is at risk.
        while start.elapsed() <= Duration::from_millis(110) {
            std::hint::spin_loop();
        }
    });
    let stop = reactor.clone();
    reactor.call_later(Duration::from_millis(2), move || stop.stop());
    reactor.run();
}
