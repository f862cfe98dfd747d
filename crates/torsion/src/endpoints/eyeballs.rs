//! Happy eyeballs (RFC 8305, Twisted's `HostnameEndpoint`): race connection attempts to
//! every address a name resolved to, starting the next one `attempt_delay` after the
//! last, keeping the first that connects and cancelling the rest.
//!
//! The race is written against [`ReactorTime`] and a function that starts one attempt,
//! so it runs the same on the reactor and on a fake clock with hand-fired Deferreds.
//!
//! Twisted starts the next attempt only when the delay passes (a `LoopingCall`); here an
//! attempt that fails early also starts the next one at once, as RFC 8305 section 5 asks:
//! a refused IPv6 address costs no wait before IPv4 is tried.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use crate::defer::ok;
use crate::defer::{CancelHandle, Deferred, Resolver};
use crate::time::{DelayedCall, ReactorTime};
use crate::Failure;

/// Twisted's `HostnameEndpoint` default delay between starting two attempts.
pub const DEFAULT_ATTEMPT_DELAY: Duration = Duration::from_millis(300);

/// Orders `addresses` for the race: the family of the first one first, then the other,
/// alternating, each family in the resolver's order (RFC 8305 section 4).
pub fn interleave(addresses: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addresses.first() else {
        return Vec::new();
    };
    let (mut same, mut other): (VecDeque<SocketAddr>, VecDeque<SocketAddr>) = addresses
        .iter()
        .copied()
        .partition(|addr| addr.is_ipv6() == first.is_ipv6());
    let mut ordered = Vec::with_capacity(addresses.len());
    loop {
        match (same.pop_front(), other.pop_front()) {
            (None, None) => return ordered,
            (a, b) => ordered.extend(a.into_iter().chain(b)),
        }
    }
}

type Start<T> = Box<dyn Fn(SocketAddr) -> Deferred<T>>;
type Fail = Box<dyn FnOnce(Vec<(SocketAddr, Failure)>) -> Failure>;

/// Races one attempt per address in `addresses` (already ordered), started by `start`;
/// fires with the first success, or with `fail(every address and its failure)` once all
/// failed. Cancelling the Deferred cancels every attempt under way and starts no more.
pub(crate) fn race<T: 'static>(
    clock: Rc<dyn ReactorTime>,
    addresses: Vec<SocketAddr>,
    attempt_delay: Duration,
    start: impl Fn(SocketAddr) -> Deferred<T> + 'static,
    fail: impl FnOnce(Vec<(SocketAddr, Failure)>) -> Failure + 'static,
) -> Deferred<T> {
    let race: Rc<RefCell<Race<T>>> = Rc::new(RefCell::new(Race {
        clock,
        attempt_delay,
        start: Rc::new(Box::new(start)),
        fail: Some(Box::new(fail)),
        remaining: addresses.into(),
        pending: Vec::new(),
        failures: Vec::new(),
        timer: None,
        resolver: None,
        next_id: 0,
        done: false,
    }));
    let (d, resolver) = Deferred::with_canceller({
        let race = Rc::downgrade(&race);
        move |_: &Resolver<T>| {
            if let Some(race) = race.upgrade() {
                let pending = race.borrow_mut().finish();
                cancel_all(pending);
            }
        }
    });
    race.borrow_mut().resolver = Some(resolver);
    start_next(&race);
    d
}

struct Race<T> {
    clock: Rc<dyn ReactorTime>,
    attempt_delay: Duration,
    start: Rc<Start<T>>,
    fail: Option<Fail>,
    remaining: VecDeque<SocketAddr>,
    /// Attempts under way: id, address, and how to cancel it.
    pending: Vec<(u64, CancelHandle)>,
    failures: Vec<(SocketAddr, Failure)>,
    /// Starts the next attempt when the delay passes.
    timer: Option<DelayedCall>,
    resolver: Option<Resolver<T>>,
    next_id: u64,
    /// A winner was found, all failed, or the race was cancelled.
    done: bool,
}

impl<T> Race<T> {
    /// Ends the race: stops the timer and hands back the attempts to cancel.
    fn finish(&mut self) -> Vec<(u64, CancelHandle)> {
        self.done = true;
        self.remaining.clear();
        if let Some(timer) = self.timer.take() {
            let _ = timer.cancel();
        }
        std::mem::take(&mut self.pending)
    }
}

fn cancel_all(pending: Vec<(u64, CancelHandle)>) {
    for (_, handle) in pending {
        handle.cancel();
    }
}

/// Starts the attempt for the next address, and arms the timer for the one after it.
fn start_next<T: 'static>(race: &Rc<RefCell<Race<T>>>) {
    let (id, address, start) = {
        let mut state = race.borrow_mut();
        if let Some(timer) = state.timer.take() {
            let _ = timer.cancel();
        }
        let Some(address) = state.remaining.pop_front().filter(|_| !state.done) else {
            return;
        };
        state.next_id += 1;
        if !state.remaining.is_empty() {
            let weak = Rc::downgrade(race);
            let delay = state.attempt_delay;
            let timer = state.clock.call_later(
                delay,
                Box::new(move || {
                    if let Some(race) = weak.upgrade() {
                        race.borrow_mut().timer = None;
                        start_next(&race);
                    }
                }),
            );
            state.timer = Some(timer);
        }
        (state.next_id, address, state.start.clone())
    };
    // No borrow held: `start` may fire its Deferred at once, which settles here.
    let attempt = start(address);
    race.borrow_mut().pending.push((id, attempt.canceller()));
    let race = race.clone();
    let _ = attempt.add_both(move |result| {
        settle(&race, id, address, result);
        ok(())
    });
}

/// One attempt ended.
fn settle<T: 'static>(
    race: &Rc<RefCell<Race<T>>>,
    id: u64,
    address: SocketAddr,
    result: Result<T, Failure>,
) {
    let mut state = race.borrow_mut();
    state.pending.retain(|(pending, _)| *pending != id);
    if state.done {
        // Cancelled after the race ended: its failure is expected, and nothing else
        // can arrive (a success ends the race in the same turn).
        return;
    }
    match result {
        Ok(value) => {
            let losers = state.finish();
            let resolver = state.resolver.take();
            drop(state);
            cancel_all(losers);
            if let Some(resolver) = resolver {
                let _ = resolver.callback(value);
            }
        }
        Err(failure) => {
            state.failures.push((address, failure));
            if !state.remaining.is_empty() {
                drop(state);
                start_next(race);
            } else if state.pending.is_empty() {
                state.finish();
                let failures = std::mem::take(&mut state.failures);
                let fail = state.fail.take();
                let resolver = state.resolver.take();
                drop(state);
                if let (Some(fail), Some(resolver)) = (fail, resolver) {
                    let _ = resolver.errback(fail(failures));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::defer::Cancelled;
    use crate::task::Clock;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    /// Attempts the test fires by hand: each start records its address and keeps the
    /// resolver; cancelling one is recorded.
    #[derive(Default)]
    struct Attempts {
        started: RefCell<Vec<(Duration, SocketAddr)>>,
        resolvers: RefCell<Vec<Option<Resolver<SocketAddr>>>>,
        cancelled: RefCell<Vec<SocketAddr>>,
    }

    fn run(
        clock: &Clock,
        addresses: &[&str],
        attempts: &Rc<Attempts>,
    ) -> (Deferred<SocketAddr>, Rc<Cell<usize>>) {
        let failed_with = Rc::new(Cell::new(0));
        let d = race(
            Rc::new(clock.clone()),
            addresses.iter().map(|a| addr(a)).collect(),
            DEFAULT_ATTEMPT_DELAY,
            {
                let (attempts, clock) = (attempts.clone(), clock.clone());
                move |address| {
                    attempts
                        .started
                        .borrow_mut()
                        .push((clock.seconds(), address));
                    let (d, resolver) = Deferred::with_canceller({
                        let attempts = attempts.clone();
                        move |_: &Resolver<SocketAddr>| {
                            attempts.cancelled.borrow_mut().push(address)
                        }
                    });
                    attempts.resolvers.borrow_mut().push(Some(resolver));
                    d
                }
            },
            {
                let failed_with = failed_with.clone();
                move |failures| {
                    failed_with.set(failures.len());
                    Failure::msg(format!("{} failed", failures.len()))
                }
            },
        );
        (d, failed_with)
    }

    impl Attempts {
        fn take(&self, at: usize) -> Resolver<SocketAddr> {
            self.resolvers.borrow_mut()[at].take().unwrap()
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn interleave_alternates_families_starting_with_the_first() {
        let ordered = interleave(&[
            addr("[::1]:1"),
            addr("[::2]:1"),
            addr("[::3]:1"),
            addr("10.0.0.1:1"),
        ]);
        let expected = ["[::1]:1", "10.0.0.1:1", "[::2]:1", "[::3]:1"];
        assert_eq!(ordered, expected.map(addr).to_vec());
        let ordered = interleave(&[addr("10.0.0.1:1"), addr("10.0.0.2:1"), addr("[::1]:1")]);
        let expected = ["10.0.0.1:1", "[::1]:1", "10.0.0.2:1"];
        assert_eq!(ordered, expected.map(addr).to_vec());
        assert!(interleave(&[]).is_empty());
    }

    #[test]
    fn next_attempt_starts_after_the_delay_and_the_first_to_connect_wins() {
        let (clock, attempts) = (Clock::new(), Rc::new(Attempts::default()));
        let (d, _) = run(&clock, &["[::1]:1", "10.0.0.1:1", "10.0.0.2:1"], &attempts);
        assert_eq!(attempts.started.borrow().len(), 1);
        clock.advance(ms(299));
        assert_eq!(attempts.started.borrow().len(), 1);
        clock.advance(ms(1));
        clock.advance(ms(300));
        let started = attempts.started.borrow().clone();
        let expected = [(0, "[::1]:1"), (300, "10.0.0.1:1"), (600, "10.0.0.2:1")];
        assert_eq!(started, expected.map(|(t, a)| (ms(t), addr(a))).to_vec());
        // The second one connects: the others are cancelled.
        let second = attempts.take(1);
        second.callback(addr("10.0.0.1:1")).unwrap();
        assert_eq!(
            attempts.cancelled.borrow().clone(),
            vec![addr("[::1]:1"), addr("10.0.0.2:1")]
        );
        assert_eq!(d.try_result().ok().unwrap().ok(), Some(addr("10.0.0.1:1")));
        assert!(clock.pending_calls().is_empty());
    }

    #[test]
    fn an_early_failure_starts_the_next_attempt_at_once() {
        let (clock, attempts) = (Clock::new(), Rc::new(Attempts::default()));
        let (d, _) = run(&clock, &["[::1]:1", "10.0.0.1:1", "10.0.0.2:1"], &attempts);
        clock.advance(ms(100));
        let first = attempts.take(0);
        first.errback(Failure::msg("refused")).unwrap();
        let started: Vec<_> = attempts.started.borrow().iter().map(|s| s.0).collect();
        assert_eq!(started, vec![ms(0), ms(100)]);
        // The third waits its delay from the second's start.
        clock.advance(ms(299));
        assert_eq!(attempts.started.borrow().len(), 2);
        clock.advance(ms(1));
        assert_eq!(attempts.started.borrow()[2], (ms(400), addr("10.0.0.2:1")));
        let third = attempts.take(2);
        third.callback(addr("10.0.0.2:1")).unwrap();
        assert_eq!(d.try_result().ok().unwrap().ok(), Some(addr("10.0.0.2:1")));
    }

    #[test]
    fn when_every_attempt_fails_the_failure_lists_them_all() {
        let (clock, attempts) = (Clock::new(), Rc::new(Attempts::default()));
        let (d, failed_with) = run(&clock, &["[::1]:1", "10.0.0.1:1"], &attempts);
        clock.advance(ms(300));
        attempts.take(1).errback(Failure::msg("refused")).unwrap();
        assert_eq!(failed_with.get(), 0, "the first is still under way");
        attempts.take(0).errback(Failure::msg("timed out")).unwrap();
        assert_eq!(failed_with.get(), 2);
        let failure = d.try_result().ok().unwrap().err().unwrap();
        assert_eq!(failure.to_string(), "2 failed");
    }

    #[test]
    fn cancelling_the_race_cancels_every_attempt_and_starts_no_more() {
        let (clock, attempts) = (Clock::new(), Rc::new(Attempts::default()));
        let (d, failed_with) = run(&clock, &["[::1]:1", "10.0.0.1:1", "10.0.0.2:1"], &attempts);
        clock.advance(ms(300));
        d.cancel();
        assert_eq!(attempts.cancelled.borrow().len(), 2);
        assert!(clock.pending_calls().is_empty());
        clock.advance(ms(1000));
        assert_eq!(attempts.started.borrow().len(), 2);
        assert_eq!(failed_with.get(), 0);
        let failure = d.try_result().ok().unwrap().err().unwrap();
        assert!(failure.check::<Cancelled>().is_some());
    }
}
