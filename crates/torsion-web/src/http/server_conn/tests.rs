use std::time::Duration;

use super::*;

const SECOND: Duration = Duration::from_secs(1);

/// What the application does with a head once routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Answers each request at once with its target as the body.
    Echo,
    /// Leaves requests unanswered until the test answers them.
    Hold,
}

/// An adapter over the core as `server::Channel` is, recording what it is told to do as
/// text: `[200 Length(5) keep] /path` per whole response, `<interim>`, `<reject 400>`,
/// `<pause>`, `<resume>`, `<close>`, `<abort>`.
struct Driver {
    conn: ServerConn<u32>,
    config: ConnConfig,
    now: Duration,
    mode: Mode,
    max_body: u64,
    out: String,
    /// Each request: its target and the body read.
    requests: Vec<(String, Vec<u8>)>,
    /// When the timer fires, while armed.
    timer: Option<Duration>,
}

impl Driver {
    fn new(config: ConnConfig, mode: Mode) -> Driver {
        let mut conn = ServerConn::new(&config);
        conn.connection_made(&config, Duration::ZERO);
        let mut driver = Driver {
            conn,
            config,
            now: Duration::ZERO,
            mode,
            max_body: 1024,
            out: String::new(),
            requests: Vec::new(),
            timer: None,
        };
        driver.arm();
        driver
    }

    fn feed(&mut self, data: &[u8]) {
        let flow = match self.conn.bytes_read(&self.config, data, self.now) {
            Input::Ignore => Flow::Read,
            Input::Direct => {
                let used = self.run(data);
                self.conn.unread(&self.config, &data[used..])
            }
            Input::Buffered(buf) => {
                let used = self.run(&buf);
                self.conn.unread_buffer(&self.config, buf, used)
            }
        };
        self.flow(flow);
        self.arm();
    }

    fn run(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            let (used, action) = self.conn.step(&self.config, &input[pos..], self.now);
            pos += used;
            match action {
                Action::Wait => break,
                Action::Head(head) => self.route(head),
                Action::Body(data) => {
                    let id = *self.conn.request().unwrap() as usize;
                    self.requests[id].1.extend_from_slice(data);
                }
                Action::BodyEnd => {
                    if self.mode == Mode::Echo {
                        let id = *self.conn.request().unwrap();
                        self.respond(id);
                    }
                }
                action => {
                    self.execute(action);
                    break;
                }
            }
        }
        pos
    }

    fn route(&mut self, head: RequestHead) {
        let id = self.requests.len() as u32;
        self.requests.push((head.target().to_owned(), Vec::new()));
        match self.conn.accept(&self.config, id, self.max_body, self.now) {
            Route::Respond => {
                if self.mode == Mode::Echo {
                    self.respond(id);
                }
            }
            Route::ReadBody { interim } => {
                if interim.is_some() {
                    self.out.push_str("<interim>");
                }
            }
            Route::TooLarge(id) => {
                self.conn.answer_now(id);
                self.respond_with(413, b"too large");
            }
        }
    }

    /// Answers request `id` with its target as a whole body.
    fn respond(&mut self, id: u32) {
        assert_eq!(self.conn.request(), Some(&id), "responses in request order");
        let body = self.requests[id as usize].0.clone();
        self.respond_with(200, body.as_bytes());
    }

    fn respond_with(&mut self, status: u16, body: &[u8]) {
        let plan = self.conn.plan_whole(status, body.len()).unwrap();
        let keep = if plan.keep_alive() { "keep" } else { "close" };
        let sent = &body[..plan.body_len() as usize];
        let sent = String::from_utf8_lossy(sent);
        self.out += &format!("[{status} {:?} {keep}] {sent}\n", plan.framing());
        self.conn.start_response(plan);
        self.end(Ending::Complete);
    }

    fn end(&mut self, ending: Ending) {
        let finished = self.conn.finish_response(&self.config, ending, self.now);
        let finished = finished.unwrap();
        self.out += std::str::from_utf8(finished.last).unwrap();
        match finished.next {
            Next::Close => self.out.push_str("<close>"),
            Next::ReadNext { resume } => {
                if resume {
                    self.out.push_str("<resume>");
                }
                if let Some(buf) = self.conn.take_buffered() {
                    let used = self.run(&buf);
                    let flow = self.conn.unread_buffer(&self.config, buf, used);
                    self.flow(flow);
                }
            }
        }
        self.arm();
    }

    fn execute(&mut self, action: Action<'_>) {
        match action {
            Action::Reject(why) => self.out += &format!("<reject {}>", why.status()),
            Action::Close => self.out.push_str("<close>"),
            Action::Abort => self.out.push_str("<abort>"),
            other => panic!("not a closing action: {other:?}"),
        }
    }

    fn flow(&mut self, flow: Flow) {
        if flow == Flow::Pause {
            self.out.push_str("<pause>");
        }
    }

    fn arm(&mut self) {
        if let Some(at) = self.conn.timer_wanted() {
            self.timer = Some(at);
        }
    }

    /// Moves the time to `to`, firing the timer each time it falls due (as a reactor
    /// would: at its time, then again if the core asks).
    fn advance_to(&mut self, to: Duration) {
        while let Some(at) = self.timer.filter(|&at| at <= to) {
            self.timer = None;
            self.now = at;
            let action = self.conn.timer_fired(&self.config, at);
            if !matches!(action, Action::Wait) {
                self.execute(action);
            }
            self.arm();
        }
        self.now = to;
    }
}

fn config() -> ConnConfig {
    ConnConfig::new(Some(10 * SECOND), Some(60 * SECOND), Some(5 * SECOND))
}

/// Feeds `wire` in pieces cut at `cuts` to an echoing connection; returns its output.
fn echo_in_pieces(wire: &[u8], cuts: &[usize]) -> String {
    let mut driver = Driver::new(config(), Mode::Echo);
    let mut from = 0;
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        driver.feed(&wire[from..cut]);
        from = cut;
    }
    driver.out
}

/// Checks that `wire` gives `expected` whole, split at every offset, and byte by byte.
fn same_output_however_split(wire: &[u8], expected: &str) {
    assert_eq!(echo_in_pieces(wire, &[]), expected, "whole");
    for cut in 1..wire.len() {
        assert_eq!(echo_in_pieces(wire, &[cut]), expected, "split at {cut}");
    }
    let every: Vec<usize> = (1..wire.len()).collect();
    assert_eq!(echo_in_pieces(wire, &every), expected, "byte by byte");
}

#[test]
fn keep_alive_serves_requests_in_order_however_the_bytes_are_split() {
    let wire = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
                 POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
                 POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n\
                 GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n\
                 GET /never HTTP/1.1\r\nHost: x\r\n\r\n";
    same_output_however_split(
        wire,
        "[200 Length(2) keep] /a\n\
         [200 Length(2) keep] /b\n\
         [200 Length(2) keep] /c\n\
         [200 Length(2) close] /d\n<close>",
    );
}

#[test]
fn bodies_are_read_whole_however_the_bytes_are_split() {
    let wire = b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                 3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET /z HTTP/1.1\r\nHost: x\r\n\r\n";
    for cut in 0..=wire.len() {
        let mut driver = Driver::new(config(), Mode::Echo);
        driver.feed(&wire[..cut]);
        driver.feed(&wire[cut..]);
        assert_eq!(driver.requests[0].1, b"abcde", "split at {cut}");
        assert!(
            driver.out.ends_with("[200 Length(2) keep] /z\n"),
            "split at {cut}"
        );
    }
}

#[test]
fn pipelined_requests_wait_for_a_slow_response_then_go_in_order() {
    let mut driver = Driver::new(config(), Mode::Hold);
    driver.feed(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(driver.requests.len(), 1, "the second head waits");
    assert!(driver.out.is_empty());
    driver.mode = Mode::Echo;
    driver.respond(0);
    assert_eq!(
        driver.out,
        "[200 Length(5) keep] /slow\n[200 Length(5) keep] /fast\n"
    );
}

#[test]
fn reading_pauses_past_max_pipelined_and_resumes_after_the_response() {
    let config = config().with_max_pipelined(40);
    let mut driver = Driver::new(config, Mode::Hold);
    let head = b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n"; // 27 bytes
    driver.feed(head);
    driver.feed(head);
    assert_eq!(driver.out, "", "27 bytes wait: under the limit");
    driver.feed(head);
    assert_eq!(driver.out, "<pause>", "54 bytes wait");
    driver.feed(head);
    assert_eq!(driver.out, "<pause>", "paused once");
    driver.mode = Mode::Echo;
    driver.respond(0);
    assert_eq!(
        driver.out,
        "<pause>[200 Length(2) keep] /x\n<resume>[200 Length(2) keep] /x\n\
         [200 Length(2) keep] /x\n[200 Length(2) keep] /x\n"
    );
}

#[test]
fn continue_goes_out_only_when_the_body_will_be_read() {
    let mut driver = Driver::new(config(), Mode::Echo);
    driver
        .feed(b"POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(driver.out, "<interim>");
    driver.feed(b"hi");
    assert_eq!(driver.out, "<interim>[200 Length(2) keep] /a\n");

    let mut driver = Driver::new(config(), Mode::Echo);
    driver.max_body = 1;
    driver
        .feed(b"POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(
        driver.out, "[413 Length(9) close] too large\n<close>",
        "answered at once, body unread: no interim, and a close"
    );
    driver.feed(b"hi");
    assert_eq!(driver.requests.len(), 1, "nothing read after");
}

#[test]
fn http10_expectations_are_ignored_and_connections_close() {
    let mut driver = Driver::new(config(), Mode::Echo);
    driver.feed(b"POST /a HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(driver.out, "[200 Length(2) close] /a\n<close>");
    let mut driver = Driver::new(config(), Mode::Echo);
    driver.feed(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
    assert_eq!(
        driver.out,
        "[200 Length(2) keep] /a\n[200 Length(2) close] /b\n<close>"
    );
}

#[test]
fn bad_heads_and_bodies_are_rejected_with_their_status_then_nothing_is_read() {
    for (wire, status) in [
        (&b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"[..], 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
    ] {
        let expected = format!("<reject {status}>");
        for cut in 0..=wire.len() {
            let mut driver = Driver::new(config(), Mode::Echo);
            driver.feed(&wire[..cut]);
            driver.feed(&wire[cut..]);
            driver.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_eq!(driver.out, expected, "{wire:?} split at {cut}");
            assert!(matches!(driver.conn.state(), State::Closing { .. }));
        }
    }
}

#[test]
fn a_chunked_body_over_the_limit_is_413() {
    let mut driver = Driver::new(config(), Mode::Echo);
    driver.max_body = 3;
    driver.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n");
    assert_eq!(driver.out, "<reject 413>");
}

#[test]
fn the_head_deadline_runs_from_the_first_byte_however_slowly_bytes_come() {
    let mut driver = Driver::new(config(), Mode::Echo);
    driver.advance_to(30 * SECOND); // idle: 60 s allowed
    assert_eq!(driver.out, "");
    let wire = b"GET / HTTP/1.1\r\nHost: x\r\n";
    for (i, byte) in wire.iter().enumerate() {
        driver.advance_to(30 * SECOND + Duration::from_millis(300 * i as u64));
        driver.feed(std::slice::from_ref(byte));
    }
    assert_eq!(driver.out, "", "7.5 s in: within the 10 s head deadline");
    driver.advance_to(40 * SECOND - Duration::from_millis(1));
    assert_eq!(driver.out, "");
    driver.advance_to(40 * SECOND);
    assert_eq!(driver.out, "<reject 408>");
    driver.advance_to(45 * SECOND);
    assert_eq!(
        driver.out, "<reject 408><abort>",
        "the close did not complete"
    );
}

#[test]
fn idle_connections_close_after_the_idle_timeout_counted_from_the_last_response() {
    let mut driver = Driver::new(config(), Mode::Echo);
    driver.advance_to(50 * SECOND);
    driver.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(driver.timer, Some(60 * SECOND), "the armed timer is kept");
    driver.advance_to(60 * SECOND);
    assert_eq!(
        driver.out, "[200 Length(1) keep] /\n",
        "slept again: now idle to 110 s"
    );
    assert_eq!(driver.timer, Some(110 * SECOND));
    driver.advance_to(110 * SECOND);
    assert_eq!(driver.out, "[200 Length(1) keep] /\n<close>");
    driver.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(driver.requests.len(), 1, "nothing read while closing");
}

#[test]
fn a_stalled_body_is_408_and_each_read_moves_its_deadline() {
    let mut driver = Driver::new(config(), Mode::Echo);
    driver.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");
    for i in 1..=5 {
        driver.advance_to(50 * i * SECOND);
        driver.feed(b"a");
    }
    assert_eq!(driver.out, "", "a byte every 50 s keeps a body alive");
    driver.advance_to(310 * SECOND);
    assert_eq!(driver.out, "<reject 408>");
}

#[test]
fn no_deadline_while_the_application_answers() {
    let mut driver = Driver::new(config(), Mode::Hold);
    driver.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    driver.advance_to(1000 * SECOND);
    assert_eq!(driver.out, "");
    driver.mode = Mode::Echo;
    driver.respond(0);
    driver.advance_to(1060 * SECOND);
    assert_eq!(driver.out, "[200 Length(1) keep] /\n<close>");
}

#[test]
fn timeouts_set_to_none_arm_no_timer() {
    let mut driver = Driver::new(ConnConfig::new(None, None, None), Mode::Echo);
    driver.feed(b"GET / HTTP/1.1\r\nHo");
    assert_eq!(driver.timer, None);
}

#[test]
fn whole_responses_are_framed_by_status_and_method() {
    let mut driver = Driver::new(config(), Mode::Hold);
    driver.feed(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    driver.respond_with(200, b"hello");
    driver.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    driver.respond_with(204, b"ignored");
    driver.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    driver.respond_with(304, b"");
    driver.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    driver.respond_with(200, b"");
    assert_eq!(
        driver.out,
        "[200 Length(5) keep] \n[204 Empty keep] \n[304 Empty keep] \n[200 Empty keep] \n",
        "HEAD: the GET's length, no body; 204/304: no body at all"
    );
}

/// A connection holding one request of `wire`, whose response is being streamed.
fn streaming(wire: &[u8], length: Option<u64>) -> (ServerConn<u32>, ResponsePlan) {
    let config = config();
    let mut conn = ServerConn::new(&config);
    let (_, Action::Head(_)) = conn.step(&config, wire, Duration::ZERO) else {
        panic!("a head")
    };
    assert!(matches!(
        conn.accept(&config, 7, 0, Duration::ZERO),
        Route::Respond
    ));
    let plan = conn.plan_streamed(200, length).unwrap();
    conn.start_response(plan);
    (conn, plan)
}

const GET11: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn streamed_bodies_are_chunked_on_http11_and_end_with_the_last_chunk() {
    let (mut conn, plan) = streaming(GET11, None);
    assert_eq!(
        (plan.framing(), plan.keep_alive()),
        (Framing::Chunked, true)
    );
    let BodyWrite::Chunk(header, data) = conn.send_body(b"hello") else {
        panic!("a chunk")
    };
    assert_eq!((header.as_bytes(), data), (&b"5\r\n"[..], &b"hello"[..]));
    assert_eq!(conn.send_body(b""), BodyWrite::Nothing);
    let done = conn
        .finish_response(&config(), Ending::Complete, Duration::ZERO)
        .unwrap();
    assert_eq!((done.request, done.last, done.sent), (7, LAST_CHUNK, 5));
    assert_eq!(done.next, Next::ReadNext { resume: false });
}

#[test]
fn streamed_bodies_on_http10_run_until_close() {
    let (mut conn, plan) = streaming(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", None);
    assert_eq!(
        (plan.framing(), plan.keep_alive()),
        (Framing::UntilClose, false)
    );
    assert_eq!(conn.send_body(b"abc"), BodyWrite::Raw(b"abc"));
    let done = conn.finish_response(&config(), Ending::Complete, Duration::ZERO);
    assert_eq!(done.unwrap().next, Next::Close);
}

#[test]
fn writes_past_the_announced_length_are_cut_and_close_the_connection() {
    let (mut conn, plan) = streaming(GET11, Some(4));
    assert_eq!(plan.framing(), Framing::Length(4));
    assert_eq!(conn.send_body(b"abc"), BodyWrite::Raw(b"abc"));
    assert_eq!(
        conn.send_body(b"defg"),
        BodyWrite::Clamped {
            data: b"d",
            length: 4
        }
    );
    assert_eq!(
        conn.send_body(b"h"),
        BodyWrite::Clamped {
            data: b"",
            length: 4
        }
    );
    let done = conn.finish_response(&config(), Ending::Complete, Duration::ZERO);
    let done = done.unwrap();
    assert_eq!((done.sent, done.short, done.next), (4, None, Next::Close));
}

#[test]
fn a_body_short_of_its_length_closes_the_connection() {
    let (mut conn, _) = streaming(GET11, Some(4));
    assert_eq!(conn.send_body(b"ab"), BodyWrite::Raw(b"ab"));
    let done = conn.finish_response(&config(), Ending::Complete, Duration::ZERO);
    let done = done.unwrap();
    assert_eq!((done.short, done.next), (Some((2, 4)), Next::Close));
}

#[test]
fn a_head_response_sends_no_body_and_is_not_short() {
    let (mut conn, plan) = streaming(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", Some(4));
    assert_eq!(plan.framing(), Framing::Length(4));
    assert_eq!(conn.send_body(b"abcd"), BodyWrite::Nothing);
    let done = conn.finish_response(&config(), Ending::Complete, Duration::ZERO);
    let done = done.unwrap();
    assert_eq!((done.last, done.short), (&[][..], None));
    assert_eq!(done.next, Next::ReadNext { resume: false });
}

#[test]
fn a_broken_response_closes_without_the_last_chunk() {
    let (mut conn, _) = streaming(GET11, None);
    let done = conn.finish_response(&config(), Ending::Broken, Duration::ZERO);
    let done = done.unwrap();
    assert_eq!((done.last, done.next), (&[][..], Next::Close));
    assert_eq!(conn.send_body(b"late"), BodyWrite::Nothing, "nothing after");
    assert!(conn
        .finish_response(&config(), Ending::Complete, Duration::ZERO)
        .is_none());
}

#[test]
fn a_refused_head_is_replaced_by_a_closing_plan() {
    let config = config();
    let mut conn = ServerConn::new(&config);
    let _ = conn.step(&config, GET11, Duration::ZERO);
    let _ = conn.accept(&config, 1, 0, Duration::ZERO);
    let plan = conn.plan_whole(500, 10).unwrap().closing();
    assert!(!plan.keep_alive());
    conn.start_response(plan);
    let done = conn.finish_response(&config, Ending::Complete, Duration::ZERO);
    assert_eq!(done.unwrap().next, Next::Close);
}

#[test]
fn the_lost_connection_hands_back_the_request_in_flight() {
    let config = config();
    let mut conn = ServerConn::new(&config);
    let _ = conn.step(&config, GET11, Duration::ZERO);
    let _ = conn.accept(&config, 3, 0, Duration::ZERO);
    assert_eq!(conn.connection_lost(), Some(3));
    assert!(matches!(conn.state(), State::Closed));
    assert!(matches!(
        conn.bytes_read(&config, GET11, Duration::ZERO),
        Input::Ignore
    ));
    assert_eq!(conn.plan_whole(200, 1), None, "no write after close");
    assert_eq!(conn.timer_wanted(), None);
}
