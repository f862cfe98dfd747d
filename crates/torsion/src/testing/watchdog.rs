//! [`run_with_watchdog`]: run a reactor in a test, failing instead of hanging when it
//! never stops (Twisted's trial has a timeout per test for the same reason).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc,
    },
    thread,
    time::Duration,
};

use crate::Reactor;

/// Runs `reactor` until it stops. If it is still running after `limit`, a watchdog thread
/// stops it through its [`ReactorHandle`](crate::ReactorHandle) and this panics, so a
/// broken loop fails its test instead of hanging the whole suite.
///
/// ```
/// use std::time::Duration;
/// use torsion::{testing::run_with_watchdog, Reactor};
/// let reactor = Reactor::builder().install_signal_handlers(false).build().unwrap();
/// let stop = reactor.clone();
/// reactor.call_later(Duration::from_millis(1), move || stop.stop());
/// run_with_watchdog(&reactor, Duration::from_secs(20));
/// ```
///
/// # Panics
/// When the watchdog had to stop the reactor.
pub fn run_with_watchdog(reactor: &Reactor, limit: Duration) {
    assert!(
        !run_with_deadline(reactor, limit),
        "the watchdog had to stop the reactor after {limit:?}"
    );
}

/// Runs `reactor` until it stops or `timeout` passes (then a watchdog thread stops it);
/// true if the watchdog had to.
pub(crate) fn run_with_deadline(reactor: &Reactor, timeout: Duration) -> bool {
    let (done, wait) = mpsc::channel::<()>();
    let handle = reactor.handle();
    let fired = Arc::new(AtomicBool::new(false));
    let watchdog = thread::spawn({
        let fired = fired.clone();
        move || {
            if wait.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                fired.store(true, Ordering::Release);
                handle.stop();
            }
        }
    });
    reactor.run();
    let _ = done.send(());
    // The watchdog thread only waits and sends a stop: it cannot panic.
    let _ = watchdog.join();
    fired.load(Ordering::Acquire)
}
