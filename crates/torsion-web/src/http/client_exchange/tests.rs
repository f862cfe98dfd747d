//! The client exchange core driven with bytes and a hand-moved time: every response is
//! fed whole, split at every offset and one byte at a time, and must give the same story.

use std::time::Duration;

use super::*;
use crate::http::ChunkedError;

/// What the caller saw, with body bytes merged: a transcript two splittings can compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Write(Vec<u8>),
    Head(u16),
    Body(Vec<u8>),
    End { reusable: bool },
    Fail(ExchangeError),
    Retry,
    Close { abort: bool },
    Arm(Option<Duration>),
}

/// A caller: an input buffer like the adapter's, and what it saw.
struct Driver {
    conn: ClientExchange,
    buf: Vec<u8>,
    seen: Vec<Seen>,
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

impl Driver {
    fn new(config: ExchangeConfig) -> Driver {
        Driver {
            conn: ClientExchange::new(config),
            buf: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn persistent() -> Driver {
        Driver::new(ExchangeConfig::default())
    }

    fn send(&mut self, method: &str, deadline: Option<Duration>) {
        self.conn
            .send_request(method, REQUEST.to_vec(), deadline)
            .unwrap();
        self.drain();
    }

    /// Bytes arrive at `now`; reads until the core waits.
    fn receive(&mut self, now: Duration, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        loop {
            match self.conn.read(now, &self.buf) {
                Received::Data { data, consumed } => {
                    assert!(!data.is_empty(), "data is never empty");
                    match self.seen.last_mut() {
                        Some(Seen::Body(body)) => body.extend_from_slice(data),
                        _ => self.seen.push(Seen::Body(data.to_vec())),
                    }
                    self.buf.drain(..consumed);
                }
                Received::Actions { consumed } => {
                    self.buf.drain(..consumed);
                    self.drain();
                }
                Received::Wait { consumed } => {
                    self.buf.drain(..consumed);
                    assert!(
                        self.conn.poll_action().is_none(),
                        "waiting leaves no action"
                    );
                    return;
                }
            }
        }
    }

    fn lost(&mut self) {
        self.conn.connection_lost();
        self.drain();
    }

    fn deadline(&mut self, now: Duration) {
        self.conn.deadline_passed(now);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(action) = self.conn.poll_action() {
            self.seen.push(match action {
                ClientAction::Write(bytes) => Seen::Write(bytes),
                ClientAction::Head(head) => Seen::Head(head.status()),
                ClientAction::BodyEnd { reusable } => Seen::End { reusable },
                ClientAction::Fail(error) => Seen::Fail(error),
                ClientAction::Retry => Seen::Retry,
                ClientAction::Close { abort } => Seen::Close { abort },
                ClientAction::ArmDeadline(at) => Seen::Arm(at),
            });
        }
    }

    /// What was seen since the last call.
    fn take(&mut self) -> Vec<Seen> {
        std::mem::take(&mut self.seen)
    }
}

/// Sends `method`, feeds `wire` in the pieces `cuts` gives, and closes the connection
/// after if `close`: the story after the request was written.
fn story(method: &str, wire: &[u8], cuts: &[usize], close: bool) -> Vec<Seen> {
    let mut driver = Driver::persistent();
    driver.send(method, Some(secs(30)));
    assert_eq!(
        driver.take(),
        vec![Seen::Write(REQUEST.to_vec()), Seen::Arm(Some(secs(30)))]
    );
    let mut from = 0;
    for &cut in cuts.iter().chain([wire.len()].iter()) {
        driver.receive(secs(1), &wire[from..cut]);
        from = cut;
    }
    if close {
        driver.lost();
    }
    driver.take()
}

/// The story of `wire` fed whole, which must be the same split at every offset and one
/// byte at a time.
fn same_story_every_split(method: &str, wire: &[u8], close: bool) -> Vec<Seen> {
    let whole = story(method, wire, &[], close);
    for cut in 0..=wire.len() {
        assert_eq!(
            story(method, wire, &[cut], close),
            whole,
            "split at {cut} of {:?}",
            String::from_utf8_lossy(wire)
        );
    }
    let bytes: Vec<usize> = (1..wire.len()).collect();
    assert_eq!(
        story(method, wire, &bytes, close),
        whole,
        "one byte at a time"
    );
    whole
}

fn idle_until(now: Duration) -> Seen {
    Seen::Arm(Some(now + DEFAULT_CLIENT_IDLE_TIMEOUT))
}

#[test]
fn a_length_body_ends_on_its_framing_and_the_connection_is_reused() {
    let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(
        same_story_every_split("GET", wire, false),
        vec![
            Seen::Head(200),
            Seen::Body(b"hello".to_vec()),
            idle_until(secs(1)),
            Seen::End { reusable: true },
        ]
    );
}

#[test]
fn a_chunked_body_is_decoded_and_the_connection_is_reused() {
    let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    assert_eq!(
        same_story_every_split("GET", wire, false),
        vec![
            Seen::Head(200),
            Seen::Body(b"hello world".to_vec()),
            idle_until(secs(1)),
            Seen::End { reusable: true },
        ]
    );
}

#[test]
fn an_until_close_body_ends_with_the_connection_and_is_never_reused() {
    let wire = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it";
    assert_eq!(
        same_story_every_split("GET", wire, true),
        vec![
            Seen::Head(200),
            Seen::Body(b"all of it".to_vec()),
            Seen::Arm(None),
            Seen::End { reusable: false },
        ]
    );
}

#[test]
fn interim_heads_are_skipped() {
    let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
                 HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(
        same_story_every_split("POST", wire, false),
        vec![
            Seen::Head(200),
            Seen::Body(b"ok".to_vec()),
            idle_until(secs(1)),
            Seen::End { reusable: true },
        ]
    );
}

#[test]
fn head_204_and_304_responses_have_no_body() {
    let cases: [(&str, &[u8], u16); 3] = [
        (
            "HEAD",
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
            200,
        ),
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n", 204),
        (
            "GET",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
            304,
        ),
    ];
    for (method, wire, status) in cases {
        assert_eq!(
            same_story_every_split(method, wire, false),
            vec![
                Seen::Head(status),
                idle_until(secs(1)),
                Seen::End { reusable: true },
            ],
            "{method} {status}"
        );
    }
}

#[test]
fn a_response_that_closes_or_does_not_keep_alive_is_not_reused() {
    let cases: [&[u8]; 2] = [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
    ];
    for wire in cases {
        assert_eq!(
            same_story_every_split("GET", wire, false),
            vec![
                Seen::Head(200),
                Seen::Body(b"x".to_vec()),
                Seen::Arm(None),
                Seen::End { reusable: false },
                Seen::Close { abort: false },
            ]
        );
    }
}

#[test]
fn a_non_persistent_connection_is_used_once() {
    let config = ExchangeConfig {
        persistent: false,
        ..ExchangeConfig::default()
    };
    let mut driver = Driver::new(config);
    driver.send("GET", None);
    driver.take();
    driver.receive(secs(1), b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
    assert_eq!(
        driver.take(),
        vec![
            Seen::Head(200),
            Seen::Body(b"x".to_vec()),
            Seen::End { reusable: false },
            Seen::Close { abort: false },
        ]
    );
    assert!(driver.conn.is_closed());
}

#[test]
fn bytes_after_the_body_close_the_connection() {
    let mut driver = Driver::persistent();
    driver.send("GET", Some(secs(30)));
    driver.take();
    driver.receive(
        secs(1),
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1",
    );
    assert_eq!(
        driver.take(),
        vec![
            Seen::Head(200),
            Seen::Body(b"x".to_vec()),
            Seen::Arm(None),
            Seen::End { reusable: false },
            Seen::Fail(ExchangeError::UnexpectedData),
            Seen::Close { abort: true },
        ]
    );
    assert!(
        driver.buf.is_empty(),
        "the leftover went with the connection"
    );
    assert_eq!(
        driver.conn.send_request("GET", REQUEST.to_vec(), None),
        Err(ExchangeError::Closed)
    );
}

#[test]
fn bytes_while_idle_close_the_connection() {
    let mut driver = Driver::persistent();
    driver.receive(secs(0), b"HTTP/1.1 200 OK\r\n");
    assert_eq!(
        driver.take(),
        vec![
            Seen::Fail(ExchangeError::UnexpectedData),
            Seen::Close { abort: true }
        ]
    );
    // Nothing more comes of what arrives after.
    driver.receive(secs(0), b"more");
    assert!(driver.take().is_empty());
    assert!(driver.buf.is_empty());
}

#[test]
fn one_request_at_a_time() {
    let mut driver = Driver::persistent();
    driver.send("GET", None);
    assert_eq!(
        driver.conn.send_request("GET", REQUEST.to_vec(), None),
        Err(ExchangeError::Busy)
    );
    assert_eq!(driver.take(), vec![Seen::Write(REQUEST.to_vec())]);
}

#[test]
fn bad_heads_and_bodies_fail_and_abort() {
    let cases: [(&[u8], ExchangeError); 2] = [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            ExchangeError::BadHead(HeadError::ConflictingContentLength),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            ExchangeError::BadBody(BodyError::Chunked(ChunkedError::InvalidChunkSize)),
        ),
    ];
    for (wire, error) in cases {
        let seen = same_story_every_split("GET", wire, false);
        let tail = [
            Seen::Arm(None),
            Seen::Fail(error),
            Seen::Close { abort: true },
        ];
        assert!(seen.ends_with(&tail), "{seen:?}");
    }
}

#[test]
fn a_body_cut_short_fails_when_the_connection_ends() {
    let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    assert_eq!(
        same_story_every_split("GET", wire, true),
        vec![
            Seen::Head(200),
            Seen::Body(b"abc".to_vec()),
            Seen::Arm(None),
            Seen::Fail(ExchangeError::BadBody(BodyError::Truncated)),
        ]
    );
}

/// A connection that served one response and waits in the pool.
fn reused() -> Driver {
    let mut driver = Driver::persistent();
    driver.send("GET", None);
    driver.receive(secs(1), b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(driver.conn.is_idle() && driver.conn.is_reused());
    driver.take();
    driver
}

#[test]
fn a_reused_connection_closed_before_any_answer_asks_for_a_retry() {
    let mut driver = reused();
    driver.send("GET", Some(secs(30)));
    driver.take();
    driver.lost();
    assert_eq!(driver.take(), vec![Seen::Arm(None), Seen::Retry]);
}

#[test]
fn no_retry_after_a_byte_for_a_non_idempotent_method_or_on_a_new_connection() {
    // A byte of the answer came: the server saw the request.
    let mut driver = reused();
    driver.send("GET", None);
    driver.receive(secs(2), b"H");
    driver.take();
    driver.lost();
    let closed = Seen::Fail(ExchangeError::ClosedBeforeHead);
    assert_eq!(driver.take(), vec![closed.clone()]);
    // POST is not idempotent.
    let mut driver = reused();
    driver.send("POST", None);
    driver.take();
    driver.lost();
    assert_eq!(driver.take(), vec![closed.clone()]);
    // A new connection the server closed: no retry either.
    let mut driver = Driver::persistent();
    driver.send("GET", None);
    driver.take();
    driver.lost();
    assert_eq!(driver.take(), vec![closed]);
}

#[test]
fn the_request_deadline_fails_the_exchange_and_aborts() {
    let mut driver = Driver::persistent();
    driver.send("GET", Some(secs(30)));
    driver.take();
    driver.receive(
        secs(10),
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    );
    assert_eq!(
        driver.take(),
        vec![Seen::Head(200), Seen::Body(b"abc".to_vec())]
    );
    // A timer that fires early is armed again.
    driver.deadline(secs(29));
    assert_eq!(driver.take(), vec![Seen::Arm(Some(secs(30)))]);
    driver.deadline(secs(30));
    assert_eq!(
        driver.take(),
        vec![
            Seen::Arm(None),
            Seen::Fail(ExchangeError::TimedOut),
            Seen::Close { abort: true },
        ]
    );
    // The end that follows the abort tells nothing more.
    driver.lost();
    assert!(driver.take().is_empty());
}

#[test]
fn the_idle_deadline_closes_and_a_request_replaces_it() {
    let mut driver = Driver::persistent();
    driver.send("GET", Some(secs(30)));
    driver.receive(secs(5), b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let idle = secs(5) + DEFAULT_CLIENT_IDLE_TIMEOUT;
    assert_eq!(driver.conn.deadline(), Some(idle));
    driver.take();
    // The next request replaces the idle deadline with its own, or with none.
    driver.send("GET", None);
    assert_eq!(
        driver.take(),
        vec![Seen::Write(REQUEST.to_vec()), Seen::Arm(None)]
    );
    driver.deadline(idle); // a stale timer: nothing armed, nothing done
    assert!(driver.take().is_empty());
    driver.receive(secs(6), b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let idle = secs(6) + DEFAULT_CLIENT_IDLE_TIMEOUT;
    assert_eq!(
        driver.take(),
        vec![
            Seen::Head(200),
            Seen::Arm(Some(idle)),
            Seen::End { reusable: true }
        ]
    );
    driver.deadline(idle);
    assert_eq!(
        driver.take(),
        vec![Seen::Arm(None), Seen::Close { abort: false }]
    );
    assert!(driver.conn.is_closed());
    driver.lost();
    assert!(driver.take().is_empty());
}

#[test]
fn a_new_connection_put_in_a_pool_gets_the_idle_deadline_once() {
    let mut driver = Driver::persistent();
    driver.conn.pooled(secs(3));
    driver.drain();
    let idle = secs(3) + DEFAULT_CLIENT_IDLE_TIMEOUT;
    assert_eq!(driver.take(), vec![Seen::Arm(Some(idle))]);
    driver.conn.pooled(secs(4)); // already counting: unchanged
    driver.drain();
    assert!(driver.take().is_empty());
    // Busy, it is not idle: nothing to arm.
    let mut driver = Driver::persistent();
    driver.send("GET", None);
    driver.take();
    driver.conn.pooled(secs(3));
    driver.drain();
    assert!(driver.take().is_empty());
}

#[test]
fn closing_drops_the_deadline_and_everything_after() {
    let mut driver = Driver::persistent();
    driver.send("GET", Some(secs(30)));
    driver.take();
    driver.conn.close();
    driver.drain();
    assert_eq!(driver.take(), vec![Seen::Arm(None)]);
    driver.receive(secs(1), b"HTTP/1.1 200 OK\r\n\r\n");
    driver.lost();
    driver.deadline(secs(30));
    assert!(driver.take().is_empty());
}

#[test]
fn a_head_over_the_limit_fails() {
    let config = ExchangeConfig {
        head_limits: HeadLimits::new().with_max_head_size(64),
        ..ExchangeConfig::default()
    };
    let mut driver = Driver::new(config);
    driver.send("GET", None);
    driver.take();
    let mut wire = b"HTTP/1.1 200 OK\r\n".to_vec();
    wire.extend_from_slice(format!("X-Long: {}\r\n\r\n", "a".repeat(100)).as_bytes());
    driver.receive(secs(1), &wire);
    let seen = driver.take();
    assert!(
        matches!(
            seen.as_slice(),
            [
                Seen::Fail(ExchangeError::BadHead(HeadError::HeadTooLarge { .. })),
                Seen::Close { abort: true }
            ]
        ),
        "{seen:?}"
    );
}

/// A small deterministic generator for the event soup below (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What the caller knows of the request under way, to check the core against.
#[derive(Default)]
struct Model {
    /// A request is out and has not ended.
    out: bool,
    /// Its head came; with a `Content-Length`, how many body bytes may still come.
    head: bool,
    left: Option<u64>,
    /// The core said to close, or `close` was called.
    closed: bool,
    /// How many of each action were seen (head, reusable end, end, fail, retry), so the
    /// soup is known to reach every one.
    seen: [usize; 5],
}

impl Model {
    fn check(&mut self, action: ClientAction) {
        let closed = self.closed;
        match action {
            ClientAction::Write(_) => assert!(!closed && self.out, "a write after close"),
            ClientAction::Head(head) => {
                assert!(!closed && self.out && !self.head, "one head per request");
                self.head = true;
                self.seen[0] += 1;
                self.left = match head.framing() {
                    crate::http::Framing::Length(n) => Some(n),
                    crate::http::Framing::Empty => Some(0),
                    _ => None,
                };
            }
            ClientAction::BodyEnd { reusable } => {
                assert!(self.out && self.head, "an end without a head");
                assert!(
                    self.left.is_none_or(|left| left == 0),
                    "an end before the body"
                );
                assert!(!(reusable && closed));
                self.seen[if reusable { 1 } else { 2 }] += 1;
                self.end();
            }
            ClientAction::Fail(_) => {
                self.seen[3] += 1;
                self.end();
            }
            ClientAction::Retry => {
                self.seen[4] += 1;
                self.end();
            }
            ClientAction::Close { .. } => self.closed = true,
            ClientAction::ArmDeadline(at) => {
                assert!(!closed || at.is_none(), "a deadline armed after close")
            }
        }
    }

    fn data(&mut self, data: &[u8]) {
        assert!(
            !self.closed && self.out && self.head,
            "body bytes out of place"
        );
        if let Some(left) = &mut self.left {
            *left = left
                .checked_sub(data.len() as u64)
                .expect("never more body than framed");
        }
    }

    fn end(&mut self) {
        self.out = false;
        self.head = false;
        self.left = None;
    }
}

#[test]
fn random_bytes_and_events_keep_the_invariants() {
    // Whole responses, mostly, fed in random pieces; now and then garbage, a close, a
    // deadline. A closed connection is replaced by a new one.
    let responses: [&[u8]; 8] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nuntil close",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
    ];
    let garbage: [&[u8]; 3] = [b"garbage\n", b"\r\n", b"HTTP/1.1 200"];
    let methods = ["GET", "HEAD", "POST"];
    let mut seen = [0; 5];
    for seed in 0..300 {
        let mut rng = Rng(seed);
        let config = ExchangeConfig {
            persistent: rng.below(4) != 0,
            ..ExchangeConfig::default()
        };
        let mut conn = ClientExchange::new(config);
        let mut model = Model::default();
        let (mut buf, mut wire, mut now) = (Vec::new(), Vec::new(), Duration::ZERO);
        for _ in 0..60 {
            now += Duration::from_secs(rng.below(20) as u64);
            match rng.below(20) {
                0..=5 => {
                    let method = methods[rng.below(methods.len())];
                    let deadline = Some(now + Duration::from_secs(30));
                    let idle = conn.is_idle();
                    let sent = conn.send_request(method, b"R".to_vec(), deadline);
                    assert_eq!(sent.is_ok(), idle);
                    if sent.is_ok() {
                        assert!(!model.out && !model.closed);
                        model.out = true;
                        wire = responses[rng.below(responses.len())].to_vec();
                    }
                }
                6..=15 => {
                    let piece: Vec<u8> = match rng.below(12) {
                        0 => garbage[rng.below(garbage.len())].to_vec(),
                        _ => {
                            let cut = rng.below(wire.len() + 1);
                            wire.drain(..cut).collect()
                        }
                    };
                    buf.extend_from_slice(&piece);
                    loop {
                        let received = conn.read(now, &buf);
                        let (consumed, wait) = match received {
                            Received::Data { data, consumed } => {
                                assert!(!data.is_empty());
                                model.data(data);
                                (consumed, false)
                            }
                            Received::Actions { consumed } => (consumed, false),
                            Received::Wait { consumed } => (consumed, true),
                        };
                        assert!(consumed <= buf.len());
                        buf.drain(..consumed);
                        while let Some(action) = conn.poll_action() {
                            model.check(action);
                        }
                        if wait {
                            break;
                        }
                    }
                }
                16 => {
                    conn.connection_lost();
                    model.closed = true;
                }
                17..=18 => conn.deadline_passed(now),
                _ => {
                    conn.close();
                    model.closed = true;
                    model.end();
                }
            }
            while let Some(action) = conn.poll_action() {
                model.check(action);
            }
            assert!(!conn.is_closed() || model.closed, "closed unannounced");
            if model.closed {
                for (total, this) in seen.iter_mut().zip(model.seen) {
                    *total += this;
                }
                (conn, model) = (ClientExchange::new(config), Model::default());
                (buf, wire) = (Vec::new(), Vec::new());
            }
        }
        for (total, this) in seen.iter_mut().zip(model.seen) {
            *total += this;
        }
    }
    // Deterministic seeds: the soup reaches every kind of ending.
    let reached = seen.iter().all(|&n| n > 0);
    assert!(
        reached,
        "heads, reusable ends, ends, fails, retries: {seen:?}"
    );
}
