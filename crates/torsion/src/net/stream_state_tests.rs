//! Every transition of [`StreamState`], without a socket.

use std::cell::Cell;

use super::*;

fn limits() -> WriteLimits {
    WriteLimits {
        high_water: 8,
        low_water: 4,
        max: 16,
    }
}

fn open() -> StreamState {
    StreamState::with_limits(limits())
}

/// Buffers `n` bytes (none sent), expecting no overflow.
fn buffer(state: &mut StreamState, n: usize) -> Option<Rc<dyn PushProducer>> {
    let bytes = vec![b'x'; n];
    match state.buffer(&[&bytes], 0) {
        Ok(pause) => pause,
        Err(overflow) => panic!("unexpected {overflow:?}"),
    }
}

/// The next action, as a short name and the close reason's failure, if any.
fn next(state: &mut StreamState) -> String {
    match state.next_action() {
        Action::Idle => "idle".into(),
        Action::Close {
            reason: CloseReason::Clean,
            reset,
        } => format!("close clean reset={reset}"),
        Action::Close {
            reason: CloseReason::Lost(failure),
            reset,
        } => format!("close lost ({failure}) reset={reset}"),
        Action::ShutWrite => "shut write".into(),
        Action::Pull(_) => "pull".into(),
    }
}

#[derive(Default)]
struct Counts {
    paused: Cell<u32>,
    resumed: Cell<u32>,
    stopped: Cell<u32>,
}

impl PushProducer for Counts {
    fn pause_producing(&self) {
        self.paused.set(self.paused.get() + 1);
    }
    fn resume_producing(&self) {
        self.resumed.set(self.resumed.get() + 1);
    }
    fn stop_producing(&self) {
        self.stopped.set(self.stopped.get() + 1);
    }
}

impl PullProducer for Counts {
    fn resume_producing(&self) {
        self.resumed.set(self.resumed.get() + 1);
    }
    fn stop_producing(&self) {
        self.stopped.set(self.stopped.get() + 1);
    }
}

#[test]
fn a_new_connection_reads_takes_writes_and_waits() {
    let mut state = open();
    assert!(state.wants_read() && state.accepts_writes());
    assert!(!state.is_closing() && !state.is_closed() && !state.is_failing());
    assert_eq!(state.wanted_interest(), Some(Interest::READABLE));
    assert!(!state.needs_settle());
    assert_eq!(next(&mut state), "idle");
}

#[test]
fn buffered_bytes_add_write_interest_until_sent() {
    let mut state = open();
    assert!(buffer(&mut state, 3).is_none());
    assert_eq!(state.wanted_interest(), Some(Interest::BOTH));
    assert_eq!(state.pending(), b"xxx");
    state.sent(3);
    assert_eq!(state.wanted_interest(), Some(Interest::READABLE));
}

#[test]
fn buffering_skips_what_was_sent_across_parts() {
    let mut state = open();
    let parts: [&[u8]; 3] = [b"ab", b"cd", b"ef"];
    assert!(state.buffer(&parts, 3).is_ok());
    assert_eq!(state.pending(), b"def");
    assert_eq!(state.buffered(), 3);
}

#[test]
fn pause_and_resume_reading_rearm_readiness() {
    let mut state = open();
    state.pause_reading();
    assert_eq!(state.read_side(), ReadSide::Paused);
    assert!(!state.wants_read());
    assert_eq!(state.wanted_interest(), None);
    assert!(!state.rearm_due());
    state.resume_reading();
    assert_eq!(state.read_side(), ReadSide::Reading);
    assert!(state.wants_read());
    assert!(state.take_rearm(), "an edge may have passed while paused");
    assert!(!state.take_rearm(), "taken once");
    state.rearm();
    assert!(state.rearm_due());
}

#[test]
fn end_of_file_without_half_close_closes_cleanly_once_the_buffer_is_sent() {
    let mut state = open();
    buffer(&mut state, 5);
    state.eof(false);
    assert_eq!(state.read_side(), ReadSide::Eof);
    assert!(state.is_closing() && !state.wants_read());
    assert!(state.accepts_writes(), "replies still go out");
    assert_eq!(state.wanted_interest(), Some(Interest::WRITABLE));
    assert!(!state.needs_settle());
    assert_eq!(next(&mut state), "idle");
    state.sent(5);
    assert!(state.needs_settle());
    assert_eq!(next(&mut state), "close clean reset=false");
    assert!(state.is_closed());
    assert_eq!(
        next(&mut state),
        "idle",
        "a closed connection does nothing more"
    );
}

#[test]
fn end_of_file_with_half_close_keeps_writing_until_our_side_shuts() {
    let mut state = open();
    state.eof(true);
    assert!(!state.is_closing() && state.accepts_writes() && !state.wants_read());
    assert_eq!(state.wanted_interest(), None);
    assert_eq!(next(&mut state), "idle");
    state.lose_write();
    assert_eq!(next(&mut state), "shut write");
    assert_eq!(state.write_side(), WriteSide::Shut);
    assert_eq!(
        next(&mut state),
        "close clean reset=false",
        "both sides done"
    );
}

#[test]
fn lose_with_buffered_bytes_stops_reading_and_closes_after_the_last_byte() {
    let mut state = open();
    buffer(&mut state, 6);
    state.lose();
    assert!(state.is_closing() && !state.wants_read());
    assert!(
        state.accepts_writes(),
        "as in Twisted, writes before the close go out"
    );
    assert_eq!(state.wanted_interest(), Some(Interest::WRITABLE));
    assert!(!state.needs_settle());
    assert_eq!(next(&mut state), "idle");
    state.sent(4);
    assert_eq!(next(&mut state), "idle");
    state.sent(2);
    assert_eq!(next(&mut state), "close clean reset=false");
}

#[test]
fn write_shut_waits_for_the_buffer_refuses_writes_and_happens_once() {
    let mut state = open();
    buffer(&mut state, 2);
    state.lose_write();
    assert_eq!(state.write_side(), WriteSide::ShutWanted);
    assert!(!state.accepts_writes());
    assert!(state.wants_read(), "reading goes on");
    assert!(!state.needs_settle());
    assert_eq!(next(&mut state), "idle");
    state.sent(2);
    assert!(state.needs_settle());
    assert_eq!(next(&mut state), "shut write");
    assert_eq!(next(&mut state), "idle", "shut once");
    state.lose_write();
    assert_eq!(
        state.write_side(),
        WriteSide::Shut,
        "a shut side stays shut"
    );
    assert!(!state.needs_settle());
    state.eof(true);
    assert_eq!(next(&mut state), "close clean reset=false");
}

#[test]
fn abort_drops_the_buffer_and_resets_once() {
    let mut state = open();
    buffer(&mut state, 5);
    assert!(state.abort());
    assert_eq!(state.buffered(), 0);
    assert!(state.is_failing() && !state.accepts_writes() && !state.wants_read());
    assert!(!state.abort(), "already resetting");
    assert!(state.needs_settle());
    assert_eq!(
        next(&mut state),
        "close lost (connection aborted) reset=true"
    );
    assert!(!state.abort(), "closed");
}

#[test]
fn abort_after_a_failure_keeps_the_first_reason_and_resets() {
    let mut state = open();
    state.fail(Failure::msg("read: connection reset"));
    assert!(state.abort());
    assert_eq!(
        next(&mut state),
        "close lost (read: connection reset) reset=true"
    );
}

#[test]
fn the_first_failure_closes_the_connection_and_later_ones_are_dropped() {
    let mut state = open();
    buffer(&mut state, 3);
    state.lose();
    state.fail(Failure::msg("first"));
    state.fail(Failure::msg("second"));
    assert!(state.is_failing() && state.is_closing() && !state.accepts_writes());
    assert_eq!(
        state.buffered(),
        3,
        "a plain failure keeps the buffer until close"
    );
    assert_eq!(next(&mut state), "close lost (first) reset=false");
    assert_eq!(state.buffered(), 0);
    state.fail(Failure::msg("after close"));
    assert!(state.is_closed() && !state.is_failing());
    state.lose();
    assert!(state.is_closed(), "lose never reopens");
    assert_eq!(next(&mut state), "idle");
}

#[test]
fn a_failed_send_drops_the_buffer() {
    let mut state = open();
    buffer(&mut state, 3);
    state.write_failed(Failure::msg("write: broken pipe"));
    assert_eq!(state.buffered(), 0);
    assert_eq!(
        next(&mut state),
        "close lost (write: broken pipe) reset=false"
    );
}

#[test]
fn a_write_past_the_hard_limit_fails_and_resets_without_buffering() {
    let mut state = open();
    buffer(&mut state, 10);
    let big = [0u8; 7];
    let overflow = state.buffer(&[&big], 0).err();
    assert_eq!(
        overflow,
        Some(Overflow {
            wanted: 17,
            limit: 16
        })
    );
    assert_eq!(state.buffered(), 0);
    let closed = next(&mut state);
    assert!(
        closed.starts_with("close lost (write buffer full") && closed.ends_with("reset=true"),
        "{closed}"
    );
}

#[test]
fn a_push_producer_pauses_above_the_high_mark_and_resumes_at_the_low_one() {
    let mut state = open();
    let counts = Rc::new(Counts::default());
    let registered = state.register_producer(Producer::Push(counts.clone()));
    assert!(matches!(registered, Ok(Registered::Done)));
    assert!(
        buffer(&mut state, 8).is_none(),
        "at the mark is not above it"
    );
    assert!(buffer(&mut state, 1).is_some(), "above the mark: pause");
    assert!(buffer(&mut state, 1).is_none(), "paused once");
    state.sent(5); // 5 left: above the low mark
    assert!(state.after_drain().is_none());
    state.sent(1); // 4 left: at the low mark
    assert!(state.after_drain().is_some(), "resume");
    assert!(state.after_drain().is_none(), "resumed once");
    assert_eq!(
        state.wanted_interest(),
        Some(Interest::BOTH),
        "a push producer adds no write interest of its own"
    );
    state.sent(4);
    assert_eq!(state.wanted_interest(), Some(Interest::READABLE));
}

#[test]
fn a_push_producer_registered_above_the_high_mark_is_paused_at_once() {
    let mut state = open();
    buffer(&mut state, 9);
    let registered = state.register_producer(Producer::Push(Rc::new(Counts::default())));
    assert!(matches!(registered, Ok(Registered::Pause(_))));
}

#[test]
fn a_second_producer_is_refused_and_one_on_a_closed_connection_is_stopped() {
    let mut state = open();
    let first = Rc::new(Counts::default());
    assert!(state.register_producer(Producer::Push(first)).is_ok());
    let second = state.register_producer(Producer::Pull(Rc::new(Counts::default())));
    assert!(matches!(second, Err(ProducerAlreadyRegistered)));
    state.unregister_producer();
    state.lose();
    assert_eq!(next(&mut state), "close clean reset=false");
    let late = state.register_producer(Producer::Push(Rc::new(Counts::default())));
    assert!(matches!(late, Ok(Registered::Stop(_))));
    assert!(
        state.take_producer().is_none(),
        "a stopped producer is not kept"
    );
}

#[test]
fn a_pull_producer_gets_a_turn_each_time_the_buffer_empties() {
    let mut state = open();
    let counts = Rc::new(Counts::default());
    assert!(state.register_producer(Producer::Pull(counts)).is_ok());
    assert_eq!(state.wanted_interest(), Some(Interest::BOTH));
    assert!(state.needs_settle(), "due at once");
    assert_eq!(next(&mut state), "pull");
    assert!(
        state.take_rearm(),
        "the next turn comes through writability"
    );
    assert_eq!(next(&mut state), "idle", "one turn per drain");
    buffer(&mut state, 3);
    state.sent(1);
    assert!(state.after_drain().is_none());
    assert_eq!(next(&mut state), "idle", "not while bytes wait");
    state.sent(2);
    assert!(state.after_drain().is_none());
    assert_eq!(next(&mut state), "pull");
    state.unregister_producer();
    assert!(state.after_drain().is_none());
    assert_eq!(next(&mut state), "idle");
    assert_eq!(state.wanted_interest(), Some(Interest::READABLE));
}

#[test]
fn closing_hands_the_producer_back_to_be_stopped() {
    let mut state = open();
    let counts = Rc::new(Counts::default());
    assert!(state
        .register_producer(Producer::Push(counts.clone()))
        .is_ok());
    assert!(state.abort());
    assert!(next(&mut state).starts_with("close lost"));
    let producer = state.take_producer().expect("still registered");
    producer.stop();
    assert_eq!(counts.stopped.get(), 1);
    assert_eq!((counts.paused.get(), counts.resumed.get()), (0, 0));
}

#[test]
fn end_of_file_is_final_for_the_read_side() {
    let mut state = open();
    state.eof(true);
    state.pause_reading();
    assert_eq!(state.read_side(), ReadSide::Eof);
    state.resume_reading();
    assert_eq!(state.read_side(), ReadSide::Eof);
    assert!(!state.wants_read(), "nothing more comes after end of file");
}

#[test]
fn a_failing_connection_neither_reads_nor_writes() {
    let mut state = open();
    state.fail(Failure::msg("gone"));
    assert!(!state.wants_read() && !state.accepts_writes());
    assert_eq!(state.wanted_interest(), None);
    state.lose_write();
    state.lose();
    assert_eq!(next(&mut state), "close lost (gone) reset=false");
}
