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
