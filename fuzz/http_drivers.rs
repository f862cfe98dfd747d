//! The checks behind the HTTP fuzz targets, shared with the stable test that replays the
//! corpus (`crates/torsion-web/tests/fuzz_corpus.rs`), so both assert the same things.
//!
//! Each `check_*` takes one input: its first byte picks the settings (limits, the request
//! method a response answers), the rest is the stream. It runs the stream through the
//! cores as a connection would (heads, then bodies, message after message) cut in several
//! ways (whole, split in two at every offset or at sampled ones, fixed-size reads, one byte
//! at a time) and asserts that every cut gives the same messages and the same error, that
//! no limit is broken, that buffers stay bounded, and that what was parsed satisfies the
//! rules (tokens, no control bytes in values) or re-encodes to what was read. Request
//! heads are also parsed without the fast path, call for call, and must come out the same.

use torsion_web::http::server_conn::{
    Action, BodyWrite, ConnConfig, Ending, Flow, Input, Next, ResponsePlan, Route, ServerConn,
};
use torsion_web::http::{
    encode_chunk, encode_last_chunk, BodyDecoder, ChunkedLimits, Decoded, Framing, HeadError,
    HeadLimits, Headers, MultipartEvent, MultipartLimits, MultipartParser, MultipartStep, Parsed,
    RequestHead, RequestParser, ResponseHead, ResponseParser,
};

/// Inputs up to this long are also split in two at every offset.
const EXHAUSTIVE_SPLITS_UP_TO: usize = 256;

/// Trailer fields as owned pairs.
type Trailers = Vec<(String, Vec<u8>)>;

/// A chunked body's data, where it ended and its trailers; or the error, as text.
type ChunkedOutcome = Result<(Vec<u8>, usize, Trailers), String>;

/// One message: its head, the body bytes, and the trailers of a chunked body.
#[derive(Debug, PartialEq)]
struct Message<H> {
    head: H,
    body: Vec<u8>,
    trailers: Trailers,
}

/// Everything one cut of a stream produced.
#[derive(Debug, PartialEq)]
struct Outcome<H> {
    messages: Vec<Message<H>>,
    /// The error that ended the stream, as text (head, body and chunked errors mixed).
    error: Option<String>,
    /// A message whose body had not ended when the stream did.
    unfinished: Option<Message<H>>,
    /// Bytes left unconsumed at the end (empty after an error).
    rest: Vec<u8>,
}

/// Requests with bodies, pipelined. Config bit 0: small head limits; bit 1: small bodies.
pub fn check_request_head(input: &[u8]) {
    let Some((&config, stream)) = input.split_first() else {
        return;
    };
    let limits = head_limits(config);
    let max_body = if config & 2 != 0 { 16 } else { 1 << 20 };
    let run = |ends: &[usize]| {
        let mut parser = RequestParser::with_limits(limits);
        // The same calls without the fast path must give the same answers.
        let mut reference = RequestParser::with_limits(limits);
        let outcome = run_messages(
            stream,
            ends,
            limits,
            max_body,
            |buf| {
                let parsed = parser.parse(buf);
                assert_eq!(parsed, reference.parse_scanning_first(buf), "fast path");
                parsed
            },
            |head: &RequestHead| head.framing(),
            false,
        );
        for message in outcome.messages.iter().chain(&outcome.unfinished) {
            let head = &message.head;
            assert!(is_token(head.method()), "method {:?}", head.method());
            assert!(head.target().bytes().all(|b| (b'!'..=b'~').contains(&b)));
            assert_ne!(head.framing(), Framing::UntilClose);
            check_fields(head.headers());
        }
        outcome
    };
    same_for_every_cut(stream, run);
}

/// Responses with bodies, one after another. Config bits 0-1: the request method (GET,
/// HEAD, POST, CONNECT); bit 2: small head limits; bit 3: small bodies.
pub fn check_response_head(input: &[u8]) {
    let Some((&config, stream)) = input.split_first() else {
        return;
    };
    let method = ["GET", "HEAD", "POST", "CONNECT"][usize::from(config & 3)];
    let limits = head_limits(config >> 2);
    let max_body = if config & 8 != 0 { 16 } else { 1 << 20 };
    let run = |ends: &[usize]| {
        let mut parser = ResponseParser::with_limits(limits);
        let outcome = run_messages(
            stream,
            ends,
            limits,
            max_body,
            |buf| parser.parse(buf, method),
            |head: &ResponseHead| head.framing(),
            true,
        );
        for message in outcome.messages.iter().chain(&outcome.unfinished) {
            let head = &message.head;
            assert!((100..=999).contains(&head.status()));
            if method == "HEAD" || head.status() < 200 || head.status() == 204 {
                assert_eq!(head.framing(), Framing::Empty);
            }
            if head.framing() == Framing::UntilClose {
                assert!(!head.keep_alive());
            }
            check_fields(head.headers());
        }
        outcome
    };
    same_for_every_cut(stream, run);
}

/// One chunked body. Config bit 0: small chunked limits; bit 1: a small body limit.
pub fn check_chunked(input: &[u8]) {
    let Some((&config, stream)) = input.split_first() else {
        return;
    };
    let limits = if config & 1 != 0 {
        ChunkedLimits::new()
            .with_max_size_line(8)
            .with_max_extensions(16)
            .with_max_trailer_size(32)
            .with_max_trailers(2)
    } else {
        ChunkedLimits::new()
    };
    let max_body = if config & 2 != 0 { 16 } else { 1 << 20 };
    let run = |ends: &[usize]| decode_chunked(stream, ends, limits, max_body);
    let outcome = same_for_every_cut(stream, run);
    // What decoded re-encodes, in pieces of any size, to the same body and trailers.
    if let Ok((body, _, trailers)) = outcome {
        let mut wire = Vec::new();
        for piece in body.chunks(usize::from(config >> 2).max(1)) {
            encode_chunk(piece, &mut wire);
        }
        let fields: Vec<(&str, &[u8])> = trailers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        encode_last_chunk(&fields, &mut wire).expect("parsed trailers are valid to send");
        let again = decode_chunked(&wire, &[], ChunkedLimits::new(), u64::MAX);
        assert_eq!(again, Ok((body, wire.len(), trailers)));
    }
}

/// Small limits (bit 0 set) to reach the limit paths, or the defaults.
fn head_limits(config: u8) -> HeadLimits {
    if config & 1 != 0 {
        HeadLimits::new()
            .with_max_start_line(32)
            .with_max_head_size(128)
            .with_max_headers(4)
    } else {
        HeadLimits::new()
    }
}

/// Runs `run` on every cut of `stream` and asserts they all agree; returns the answer.
fn same_for_every_cut<T: PartialEq + std::fmt::Debug>(
    stream: &[u8],
    mut run: impl FnMut(&[usize]) -> T,
) -> T {
    let reference = run(&[]);
    for cut in cuts(stream.len()) {
        assert_eq!(run(&cut), reference, "cut {cut:?}");
    }
    reference
}

/// Where reads end, for each way of cutting `len` bytes (the last read always ends at
/// `len`).
fn cuts(len: usize) -> Vec<Vec<usize>> {
    let mut cuts = Vec::new();
    if len <= EXHAUSTIVE_SPLITS_UP_TO {
        cuts.extend((1..len).map(|at| vec![at]));
    } else {
        cuts.extend((1..len).step_by(len / 64).map(|at| vec![at]));
    }
    for size in [1, 2, 3, 7, 64] {
        if size < len {
            cuts.push((size..len).step_by(size).collect());
        }
    }
    cuts
}

/// Heads and bodies read from `stream` arriving in reads that end at `ends`, with bytes
/// kept between reads as a connection keeps them. `close_ends_body`: at the end of the
/// stream the connection closes, which ends an until-close body.
fn run_messages<H>(
    stream: &[u8],
    ends: &[usize],
    limits: HeadLimits,
    max_body: u64,
    mut parse: impl FnMut(&[u8]) -> Result<Parsed<H>, HeadError>,
    framing: impl Fn(&H) -> Framing,
    close_ends_body: bool,
) -> Outcome<H> {
    let mut outcome = Outcome {
        messages: Vec::new(),
        error: None,
        unfinished: None,
        rest: Vec::new(),
    };
    let mut pending = Vec::new();
    let mut fed = 0;
    let mut current: Option<(Message<H>, BodyDecoder)> = None;
    for &end in ends.iter().chain(std::iter::once(&stream.len())) {
        pending.extend_from_slice(&stream[fed..end]);
        fed = end;
        loop {
            match current.take() {
                None => match parse(&pending) {
                    Ok(Parsed::Partial) => {
                        assert!(
                            pending.len() < limits.max_head_size(),
                            "head buffer bounded"
                        );
                        break;
                    }
                    Ok(Parsed::Complete { value, consumed }) => {
                        assert!(consumed <= limits.max_head_size());
                        pending.drain(..consumed);
                        let decoder = BodyDecoder::new(framing(&value), max_body);
                        let message = Message {
                            head: value,
                            body: Vec::new(),
                            trailers: Vec::new(),
                        };
                        current = Some((message, decoder));
                    }
                    Err(error) => {
                        // What was buffered past the error depends on the cut: not compared.
                        outcome.error = Some(format!("head: {error} ({})", error.status()));
                        return outcome;
                    }
                },
                Some((mut message, mut decoder)) => match decoder.decode(&pending) {
                    Ok(Decoded::Data { data, consumed }) => {
                        assert!(!data.is_empty() && data.len() <= consumed);
                        message.body.extend_from_slice(data);
                        assert!(message.body.len() as u64 <= max_body);
                        pending.drain(..consumed);
                        current = Some((message, decoder));
                    }
                    Ok(Decoded::Partial { consumed }) => {
                        assert_eq!(consumed, pending.len());
                        pending.clear();
                        current = Some((message, decoder));
                        break;
                    }
                    Ok(Decoded::End { consumed }) => {
                        pending.drain(..consumed);
                        message.trailers = trailers(decoder.trailers());
                        outcome.messages.push(message);
                    }
                    Err(error) => {
                        outcome.error = Some(format!("body: {error} ({})", error.status()));
                        return outcome;
                    }
                },
            }
        }
    }
    if let Some((message, mut decoder)) = current {
        if close_ends_body && decoder.finish().is_ok() {
            outcome.messages.push(message);
        } else {
            outcome.unfinished = Some(message);
        }
    }
    outcome.rest = pending;
    outcome
}

/// A chunked body: its data, where it ended and its trailers; or the error.
fn decode_chunked(
    stream: &[u8],
    ends: &[usize],
    limits: ChunkedLimits,
    max_body: u64,
) -> ChunkedOutcome {
    let mut decoder = BodyDecoder::new(Framing::Chunked, max_body).with_chunked_limits(limits);
    let (mut body, mut start) = (Vec::new(), 0);
    for &end in ends.iter().chain(std::iter::once(&stream.len())) {
        loop {
            match decoder
                .decode(&stream[start..end])
                .map_err(|e| e.to_string())?
            {
                Decoded::Data { data, consumed } => {
                    body.extend_from_slice(data);
                    start += consumed;
                }
                Decoded::Partial { consumed } => {
                    start += consumed;
                    break;
                }
                Decoded::End { consumed } => {
                    return Ok((body, start + consumed, trailers(decoder.trailers())));
                }
            }
        }
    }
    Err(format!("unfinished after {} body bytes", body.len()))
}

/// The trailers as owned pairs.
fn trailers(headers: Option<&Headers>) -> Trailers {
    headers
        .into_iter()
        .flat_map(|h| h.iter())
        .map(|(name, value)| (name.to_owned(), value.to_vec()))
        .collect()
}

/// Every field name is a token and no value has a control byte but HTAB.
fn check_fields(headers: &Headers) {
    for (name, value) in headers.iter() {
        assert!(is_token(name), "field name {name:?}");
        assert!(
            value
                .iter()
                .all(|&b| b == b'\t' || (b >= b' ' && b != 0x7f)),
            "field value {value:?}"
        );
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A `multipart/form-data` body. Config bit 0: small limits; bits 1-2 pick the boundary.
/// Every cut gives the same parts and error; no data event is empty; the parser keeps
/// no more than a part head's limit of input between reads.
pub fn check_multipart(input: &[u8]) {
    let Some((&config, stream)) = input.split_first() else {
        return;
    };
    let boundary = ["b", "AaB03x", "--", "a b"][usize::from(config >> 1) & 3];
    let limits = if config & 1 != 0 {
        MultipartLimits {
            max_part_head: 64,
            max_parts: 3,
            max_preamble: 16,
        }
    } else {
        MultipartLimits::default()
    };
    let run = |ends: &[usize]| read_multipart(stream, ends, boundary, limits);
    let outcome = same_for_every_cut(stream, run);
    if let Ok(parts) = &outcome {
        assert!(parts.len() <= limits.max_parts, "{parts:?}");
    }
}

/// Parts (head text and data) read from `stream` in reads ending at `ends`, with
/// unconsumed bytes kept between reads; or the error as text.
fn read_multipart(
    stream: &[u8],
    ends: &[usize],
    boundary: &str,
    limits: MultipartLimits,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut parser = MultipartParser::with_limits(boundary, limits);
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut start = 0;
    for end in ends.iter().copied().chain([stream.len()]) {
        pending.extend_from_slice(&stream[start..end]);
        start = end;
        loop {
            match parser.step(&pending).map_err(|e| e.to_string())? {
                MultipartStep::Event { event, consumed } => {
                    assert!(consumed > 0 && consumed <= pending.len());
                    match event {
                        MultipartEvent::Part(head) => parts.push((format!("{head:?}"), Vec::new())),
                        MultipartEvent::Data(data) => {
                            assert!(!data.is_empty(), "an empty data event");
                            parts
                                .last_mut()
                                .expect("data inside a part")
                                .1
                                .extend_from_slice(data);
                        }
                        MultipartEvent::PartEnd | MultipartEvent::End => {}
                    }
                    pending.drain(..consumed);
                }
                MultipartStep::NeedMore { consumed } => {
                    pending.drain(..consumed);
                    break;
                }
            }
        }
        let bound = limits.max_part_head.max(limits.max_preamble) + boundary.len() + 80;
        assert!(
            pending.len() <= bound,
            "{} bytes kept between reads",
            pending.len()
        );
    }
    parser.finish().map_err(|e| e.to_string())?;
    Ok(parts)
}

/// The server connection core driven as its adapter drives it, by a program: the first
/// byte picks the settings (bit 0: small head limits; bit 1: bodies up to 16 bytes; bit 2:
/// reading pauses past 32 waiting bytes), then each byte is an event, some followed by
/// data: bytes read, a whole response, a streamed head, a body piece, the end of a
/// response, time passing, the connection lost. A head whose target contains `e` is
/// answered at once (inside the read, as a small resource is), one containing `n` from
/// the head alone (a 404 before any body); others wait for the program's events.
///
/// Asserts: responses go in request order; no response body is longer than its framing
/// allows (none for HEAD, 204, 304); nothing is written after the connection closed or
/// rejected its input; reading is never paused twice; the buffer stays bounded.
pub fn check_server_conn(input: &[u8]) {
    let Some((&config, mut program)) = input.split_first() else {
        return;
    };
    let limits = head_limits(config);
    let max_body = if config & 2 != 0 { 16 } else { 1 << 20 };
    let max_pipelined = if config & 4 != 0 { 32 } else { 64 * 1024 };
    let conn_config = ConnConfig::new(Some(SECOND * 10), Some(SECOND * 60), Some(SECOND * 5))
        .with_head_limits(limits)
        .with_max_pipelined(max_pipelined);
    let mut app = ServerApp::new(conn_config, max_body);
    while let Some((&op, rest)) = program.split_first() {
        program = rest;
        let arg = op >> 3;
        match op & 7 {
            0 | 1 => {
                let n = usize::from(arg) + 1;
                let (data, rest) = program.split_at(n.min(program.len()));
                program = rest;
                app.feed(data);
            }
            2 => {
                let len = program.first().map_or(0, |&b| usize::from(b));
                program = program.get(1..).unwrap_or_default();
                let status = [200, 204, 304, 500, 101, 404, 200, 200][usize::from(arg & 7)];
                app.respond_whole(status, len);
            }
            3 => app.start_streaming(if arg & 1 != 0 {
                Some(u64::from(arg >> 1))
            } else {
                None
            }),
            4 => app.send_body(usize::from(arg) + 1),
            5 => app.finish(if arg & 1 != 0 {
                Ending::Broken
            } else {
                Ending::Complete
            }),
            6 => app.advance(SECOND * u32::from(arg)),
            _ if arg == 0 => app.lost(),
            _ => app.advance(SECOND * 60 * u32::from(arg)),
        }
        assert!(
            app.conn.buffered() <= limits.max_head_size() + max_pipelined + 8 * 1024 + 32,
            "buffer bounded: {}",
            app.conn.buffered()
        );
    }
}

const SECOND: std::time::Duration = std::time::Duration::from_secs(1);

/// The adapter and application around a [`ServerConn`] in [`check_server_conn`].
struct ServerApp {
    conn: ServerConn<u32>,
    config: ConnConfig,
    max_body: u64,
    now: std::time::Duration,
    timer: Option<std::time::Duration>,
    /// Heads handed out so far; each target.
    targets: Vec<String>,
    /// Whether each request is HEAD.
    head_requests: Vec<bool>,
    /// The next request to answer: responses go in this order.
    next_answer: u32,
    /// The response under way: its framing and the body bytes written.
    response: Option<(Framing, u64)>,
    paused: bool,
    /// The connection closed, rejected its input, or was lost: no more writes.
    closed: bool,
}

impl ServerApp {
    fn new(config: ConnConfig, max_body: u64) -> ServerApp {
        let mut conn = ServerConn::new(&config);
        conn.connection_made(&config, std::time::Duration::ZERO);
        let timer = conn.timer_wanted();
        ServerApp {
            conn,
            config,
            max_body,
            now: std::time::Duration::ZERO,
            timer,
            targets: Vec::new(),
            head_requests: Vec::new(),
            next_answer: 0,
            response: None,
            paused: false,
            closed: false,
        }
    }

    fn write(&mut self, what: &str) {
        assert!(!self.closed, "{what} written after the connection closed");
    }

    fn feed(&mut self, data: &[u8]) {
        if self.paused {
            return; // the transport reads nothing
        }
        let flow = match self.conn.bytes_read(&self.config, data, self.now) {
            Input::Ignore => Flow::Read,
            Input::Direct => {
                let used = self.run(data);
                let rest = data.get(used..).expect("used within the input");
                self.conn.unread(&self.config, rest)
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
            let rest = input.get(pos..).expect("used within the input");
            let (used, action) = self.conn.step(&self.config, rest, self.now);
            assert!(used <= rest.len());
            pos += used;
            match action {
                Action::Wait => break,
                Action::Head(head) => {
                    assert!(!self.closed, "a head read after close");
                    self.route(&head);
                }
                Action::Body(data) => assert!(!data.is_empty() && self.conn.request().is_some()),
                Action::BodyEnd => {
                    let id = *self.conn.request().expect("the request whose body ended");
                    if self.targets[id as usize].contains('e') {
                        self.respond_whole(200, 3);
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

    fn route(&mut self, head: &RequestHead) {
        let id = self.targets.len() as u32;
        self.targets.push(head.target().to_owned());
        self.head_requests.push(head.is_head());
        if head.target().contains('n') {
            self.conn.answer_now(id);
            return self.respond_whole(404, 9);
        }
        match self.conn.accept(&self.config, id, self.max_body, self.now) {
            Route::Respond => {
                if head.target().contains('e') {
                    self.respond_whole(200, 5);
                }
            }
            Route::ReadBody { interim } => {
                if interim.is_some() {
                    self.write("100 continue");
                }
            }
            Route::TooLarge(id) => {
                self.conn.answer_now(id);
                self.respond_whole(413, 20);
            }
        }
    }

    /// Checks a response may start now, for the request awaited next.
    fn starting(&mut self, plan: Option<ResponsePlan>) -> Option<ResponsePlan> {
        let plan = plan?;
        assert_eq!(
            self.conn.request(),
            Some(&self.next_answer),
            "request order"
        );
        assert!(self.response.is_none(), "one response at a time");
        self.write("a response head");
        Some(plan)
    }

    fn respond_whole(&mut self, status: u16, len: usize) {
        let Some(plan) = self.starting(self.conn.plan_whole(status, len)) else {
            return;
        };
        let body = plan.body_len();
        let head = self.head_requests[self.next_answer as usize];
        if head || status < 200 || status == 204 || status == 304 {
            assert_eq!(body, 0, "no body for HEAD, 1xx, 204, 304");
        } else {
            assert_eq!(body, len as u64);
        }
        match plan.framing() {
            Framing::Empty => assert!(body == 0),
            Framing::Length(n) => assert!(body <= n && (head || body == n)),
            other => panic!("a whole body framed {other:?}"),
        }
        self.conn.start_response(plan);
        self.response = Some((plan.framing(), body));
        self.finish(Ending::Complete);
    }

    fn start_streaming(&mut self, length: Option<u64>) {
        let status = if length == Some(1) { 204 } else { 200 };
        if let Some(plan) = self.starting(self.conn.plan_streamed(status, length)) {
            assert_eq!(plan.body_len(), 0);
            self.conn.start_response(plan);
            self.response = Some((plan.framing(), 0));
        }
    }

    fn send_body(&mut self, len: usize) {
        let data = vec![b'x'; len];
        let written = match self.conn.send_body(&data) {
            BodyWrite::Nothing => 0,
            BodyWrite::Raw(data) | BodyWrite::Chunk(_, data) => data.len(),
            BodyWrite::Clamped { data, .. } => data.len(),
        };
        if written == 0 {
            return;
        }
        self.write("body bytes");
        let Some((framing, sent)) = &mut self.response else {
            panic!("body bytes with no response under way");
        };
        *sent += written as u64;
        assert!(
            !self.head_requests[self.next_answer as usize],
            "a body for HEAD"
        );
        match *framing {
            Framing::Empty => panic!("a body where none is framed"),
            Framing::Length(n) => assert!(*sent <= n, "{sent} bytes past Content-Length {n}"),
            Framing::Chunked | Framing::UntilClose => {}
        }
    }

    fn finish(&mut self, ending: Ending) {
        let Some(finished) = self.conn.finish_response(&self.config, ending, self.now) else {
            return;
        };
        let (framing, sent) = self.response.take().expect("a response under way");
        assert_eq!(
            finished.request, self.next_answer,
            "responses in request order"
        );
        assert_eq!(finished.sent, sent);
        self.next_answer += 1;
        if !finished.last.is_empty() {
            assert_eq!(framing, Framing::Chunked);
            self.write("the last chunk");
        }
        match finished.next {
            Next::Close => self.closed = true,
            Next::ReadNext { resume } => {
                assert_eq!(resume, self.paused, "resumed only if paused");
                self.paused = false;
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
            Action::Reject(why) => {
                assert!((400..=599).contains(&why.status()));
                self.write("an error page");
                self.closed = true;
            }
            Action::Close => self.closed = true,
            Action::Abort => assert!(self.closed, "abort only after a close"),
            other => panic!("not a closing action: {other:?}"),
        }
        self.response = None;
    }

    fn flow(&mut self, flow: Flow) {
        if flow == Flow::Pause {
            assert!(!self.paused, "paused twice");
            self.paused = true;
        }
    }

    fn arm(&mut self) {
        if let Some(at) = self.conn.timer_wanted() {
            assert!(at >= self.now, "a deadline in the past");
            self.timer = Some(at);
        }
    }

    fn advance(&mut self, by: std::time::Duration) {
        let to = self.now + by;
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

    fn lost(&mut self) {
        let in_flight = self.conn.connection_lost();
        if let Some(id) = in_flight {
            assert!(id >= self.next_answer);
        }
        self.closed = true;
        self.response = None;
        assert!(self.conn.plan_whole(200, 1).is_none());
        assert_eq!(self.conn.send_body(b"x"), BodyWrite::Nothing);
        assert!(matches!(
            self.conn.bytes_read(&self.config, b"GET", self.now),
            Input::Ignore
        ));
    }
}
