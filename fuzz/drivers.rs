//! The checks behind the fuzz targets, shared with the stable test that replays the corpus
//! (`crates/torsion/tests/fuzz_corpus.rs`), so both assert exactly the same things.
//!
//! Each `check_*` takes one input: its first byte picks the parser's settings, the rest is
//! the stream. It feeds the stream cut in several ways (whole, split at every offset or at
//! sampled ones, fixed-size chunks, one byte at a time) and asserts that every cut gives
//! the same frames and the same error, that no frame breaks the limit, that the buffer stays
//! bounded, and that the frames re-encode to the bytes they were read from.

use torsion::endpoints::{ClientEndpoint, ServerEndpoint};
use torsion::protocols::basic::{
    encode_netstring_into, FrameParser, IntPrefixedParser, LengthPrefix, LineError, LineFrame,
    LineParser, NetstringParser,
};

/// Inputs up to this long are also split in two at every offset.
const EXHAUSTIVE_SPLITS_UP_TO: usize = 256;

/// Lines and raw bodies, as a protocol built on [`LineParser`] sees them.
#[derive(Debug, PartialEq)]
enum Event {
    Line(Vec<u8>),
    Body(Vec<u8>),
}

/// Everything a run of one cut produced.
#[derive(Debug, PartialEq)]
struct Outcome<E> {
    frames: Vec<Event>,
    error: Option<E>,
    /// What was left when the input ended (the unfinished frame or body).
    rest: Vec<u8>,
}

/// Line framing with mode switches: a line `RAW n` announces an `n`-byte raw body.
pub fn check_lines(input: &[u8]) {
    let Some((&config, stream)) = input.split_first() else {
        return;
    };
    let delimiter: &[u8] = match config & 3 {
        0 => b"\r\n",
        1 => b"\n",
        2 => b"xxy", // overlaps itself: "xxxy" ends a line after "x"
        _ => b"\r\n\r\n",
    };
    let max = usize::from(config >> 2);
    let make = || {
        LineParser::new()
            .with_delimiter(delimiter)
            .expect("delimiter is not empty")
            .with_max_length(max)
    };
    same_for_every_cut(stream, |cut| run_lines(make(), cut));
}

/// Netstrings, with a limit of up to 255 bytes.
pub fn check_netstring(input: &[u8]) {
    let Some((&config, stream)) = input.split_first() else {
        return;
    };
    let max = usize::from(config);
    let make = || NetstringParser::new().with_max_length(max);
    let reference = same_for_every_cut(stream, |cut| run_frames(make(), cut));
    // Netstrings have one encoding (no leading zeros): the frames are the input's prefix.
    let mut wire = Vec::new();
    for frame in &reference.frames {
        if let Event::Body(payload) = frame {
            encode_netstring_into(payload, &mut wire);
        }
    }
    assert!(
        stream.starts_with(&wire),
        "frames do not re-encode to the input"
    );
}

/// Length-prefixed frames of 8, 16 or 32 bits, with a limit of up to 252 bytes.
pub fn check_int_prefixed(input: &[u8]) {
    let Some((&config, stream)) = input.split_first() else {
        return;
    };
    let prefix = match config % 3 {
        0 => LengthPrefix::U8,
        1 => LengthPrefix::U16,
        _ => LengthPrefix::U32,
    };
    let max = usize::from(config / 3);
    let make = || IntPrefixedParser::new(prefix).with_max_length(max);
    let reference = same_for_every_cut(stream, |cut| run_frames(make(), cut));
    let mut wire = Vec::new();
    for frame in &reference.frames {
        if let Event::Body(payload) = frame {
            prefix
                .encode_into(payload, &mut wire)
                .expect("frame fits its prefix");
        }
    }
    assert!(
        stream.starts_with(&wire),
        "frames do not re-encode to the input"
    );
}

/// Runs `stream` whole and in every cut of [`cuts`], checks that every cut gives what the
/// whole stream gave, and returns that.
fn same_for_every_cut<T: PartialEq + std::fmt::Debug>(
    stream: &[u8],
    run: impl Fn(&[&[u8]]) -> T,
) -> T {
    let reference = run(&[stream]);
    for cut in cuts(stream) {
        assert_eq!(run(&cut), reference, "cut {cut:?}");
    }
    reference
}

/// The cuts tried for one stream, besides feeding it whole.
fn cuts(stream: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all: Vec<Vec<&[u8]>> = vec![stream.chunks(1).collect()];
    for size in [2, 3, 7, 64] {
        all.push(stream.chunks(size).collect());
    }
    let offsets: Vec<usize> = if stream.len() <= EXHAUSTIVE_SPLITS_UP_TO {
        (0..=stream.len()).collect()
    } else {
        let step = stream.len() / 64;
        (0..=stream.len()).step_by(step.max(1)).collect()
    };
    for at in offsets {
        let (head, tail) = stream.split_at(at);
        all.push(vec![head, tail]);
    }
    all
}

/// Runs a [`LineParser`] over `chunks` as a protocol would, switching modes on `RAW n`.
fn run_lines(mut parser: LineParser, chunks: &[&[u8]]) -> Outcome<LineError> {
    let (max, delimiter) = (parser.max_length(), parser.delimiter().to_vec());
    let mut frames = Vec::new();
    // The body being read in raw mode: bytes still wanted, bytes got.
    let mut body: Option<(usize, Vec<u8>)> = None;
    for chunk in chunks {
        parser.feed(chunk);
        loop {
            if let Some((0, done)) = body.take_if(|(want, _)| *want == 0) {
                frames.push(Event::Body(done));
                parser.set_line_mode(b"");
            }
            let frame = match parser.next_frame() {
                Ok(frame) => frame,
                Err(LineError::LineTooLong { len, max: limit }) => {
                    assert_eq!(limit, max);
                    assert!(len > max, "line of {len} bytes rejected, max {max}");
                    assert_eq!(parser.buffered(), b"", "a failed parser keeps nothing");
                    // `len` depends on where the reads ended; the rest does not.
                    let error = Some(LineError::LineTooLong { len: 0, max });
                    return Outcome {
                        frames,
                        error,
                        rest: Vec::new(),
                    };
                }
                Err(other) => panic!("unexpected error {other}"),
            };
            match frame {
                None => {
                    if !parser.is_raw_mode() {
                        // Memory stays bounded: at most a line and a partial delimiter.
                        let bound = parser.max_buffered();
                        assert!(parser.buffered().len() <= bound, "buffer past {bound}");
                    }
                    break;
                }
                Some(LineFrame::Line(line)) => {
                    assert!(line.len() <= max, "line of {} bytes, max {max}", line.len());
                    assert!(!contains(line, &delimiter), "line holds its delimiter");
                    match raw_length(line) {
                        Some(want) => {
                            body = Some((want, Vec::new()));
                            parser.set_raw_mode();
                        }
                        None => frames.push(Event::Line(line.to_vec())),
                    }
                }
                Some(LineFrame::Raw(raw)) => {
                    assert!(!raw.is_empty(), "empty raw frame");
                    let (want, got) = body.as_mut().expect("raw mode only inside a body");
                    let used = (*want).min(raw.len());
                    got.extend_from_slice(&raw[..used]);
                    *want -= used;
                    if *want == 0 {
                        let extra = raw[used..].to_vec();
                        frames.push(Event::Body(body.take().map(|b| b.1).unwrap_or_default()));
                        parser.set_line_mode(&extra);
                    }
                }
            }
        }
    }
    let rest = match body {
        Some((_, got)) => got,
        None => parser.buffered().to_vec(),
    };
    Outcome {
        frames,
        error: None,
        rest,
    }
}

/// The body length in a `RAW n` line (`n` below 1000).
fn raw_length(line: &[u8]) -> Option<usize> {
    let digits = line.strip_prefix(b"RAW ")?;
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + usize::from(d - b'0')))
}

/// True if `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Feeds `chunks` one read at a time, draining frames after each.
fn run_frames<P>(mut parser: P, chunks: &[&[u8]]) -> Outcome<P::Error>
where
    P: for<'a> FrameParser<Frame<'a> = &'a [u8]> + 'static,
{
    let max = parser.max_length();
    let mut frames = Vec::new();
    for chunk in chunks {
        parser.feed(chunk);
        loop {
            match parser.next_frame() {
                Ok(Some(frame)) => {
                    assert!(
                        frame.len() <= max,
                        "frame of {} bytes, max {max}",
                        frame.len()
                    );
                    frames.push(Event::Body(frame.to_vec()));
                }
                Ok(None) => {
                    let bound = parser.max_buffered();
                    assert!(parser.buffered().len() <= bound, "buffer past {bound}");
                    break;
                }
                Err(error) => {
                    if let Some((len, limit)) = P::too_long(&error) {
                        assert!(len > limit && limit == max, "bad too-long error {error:?}");
                    }
                    assert_eq!(parser.buffered(), b"", "a failed parser keeps nothing");
                    parser.feed(b"more");
                    let again = parser.next_frame().map(|f| f.map(<[u8]>::to_vec));
                    assert_eq!(again, Err(error), "errors are sticky");
                    let error = parser.next_frame().err();
                    return Outcome {
                        frames,
                        error,
                        rest: Vec::new(),
                    };
                }
            }
        }
    }
    let rest = parser.buffered().to_vec();
    Outcome {
        frames,
        error: None,
        rest,
    }
}

/// Endpoint strings: parsing never panics, every error has a message, and whatever parses
/// prints as a string that parses back to the same value, for servers and clients alike.
pub fn check_endpoints(input: &[u8]) {
    let Ok(input) = std::str::from_utf8(input) else {
        return;
    };
    match ServerEndpoint::parse(input) {
        Ok(server) => {
            let shown = server.to_string();
            assert_eq!(
                ServerEndpoint::parse(&shown),
                Ok(server),
                "{input:?} -> {shown:?}"
            );
        }
        Err(err) => assert!(!err.to_string().is_empty(), "{input:?}"),
    }
    match ClientEndpoint::parse(input) {
        Ok(client) => {
            let shown = client.to_string();
            assert_eq!(
                ClientEndpoint::parse(&shown),
                Ok(client),
                "{input:?} -> {shown:?}"
            );
        }
        Err(err) => assert!(!err.to_string().is_empty(), "{input:?}"),
    }
}

/// PROXY protocol headers: parsing never panics; every prefix of the input is either
/// incomplete or already gives the whole input's error; a complete header is at most
/// the limit, and its bytes alone parse to the same header.
pub fn check_proxy_header(input: &[u8]) {
    use torsion::protocols::proxy::{parse_header, DEFAULT_MAX_HEADER};
    let whole = parse_header(input, DEFAULT_MAX_HEADER);
    let end = match &whole {
        Ok(Some((_, consumed))) => *consumed,
        _ => input.len(),
    };
    for cut in 0..end.min(EXHAUSTIVE_SPLITS_UP_TO) {
        match parse_header(&input[..cut], DEFAULT_MAX_HEADER) {
            Ok(None) => {}
            Ok(Some(done)) => panic!("{cut}-byte prefix complete: {done:?}, whole: {whole:?}"),
            Err(error) => assert_eq!(Err(error), whole.clone().map(|_| ()), "prefix {cut}"),
        }
    }
    match whole {
        Ok(Some((header, consumed))) => {
            assert!(consumed <= input.len() && consumed <= DEFAULT_MAX_HEADER);
            let alone = parse_header(&input[..consumed], DEFAULT_MAX_HEADER);
            assert_eq!(alone, Ok(Some((header, consumed))));
        }
        Ok(None) => assert!(input.len() < DEFAULT_MAX_HEADER + 16),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}
