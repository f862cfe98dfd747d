use super::*;
use crate::http::framing::is_name;

/// What parsing gave: the head and the bytes it took, or the error.
type Outcome = Result<(RequestHead, usize), HeadError>;

/// Feeds `input` to a fresh parser as growing prefixes ending at each of `cuts` and then
/// whole, as a connection would; the first answer that is not `Partial`. Each answer must
/// be the one the scanning path gives (see `fast_path_tests`).
fn feed(parser: RequestParser, input: &[u8], cuts: impl Iterator<Item = usize>) -> Option<Outcome> {
    let (mut parser, mut reference) = (parser.clone(), parser);
    for end in cuts.chain(std::iter::once(input.len())) {
        let parsed = parser.parse(&input[..end]);
        assert_eq!(
            parsed,
            reference.parse_scanning_first(&input[..end]),
            "fast path differs on {:?}",
            String::from_utf8_lossy(&input[..end])
        );
        match parsed {
            Ok(Parsed::Partial) => continue,
            Ok(Parsed::Complete { value, consumed }) => return Some(Ok((value, consumed))),
            Err(error) => return Some(Err(error)),
        }
    }
    None
}

/// Parses `input` whole, split in two at every offset, and one byte at a time, asserts
/// that all give the same answer, and returns it (`None`: still partial at the end).
fn parse_with(parser: RequestParser, input: &[u8]) -> Option<Outcome> {
    let whole = feed(parser.clone(), input, std::iter::empty());
    for split in 1..input.len() {
        let cut = feed(parser.clone(), input, std::iter::once(split));
        assert_eq!(
            cut,
            whole,
            "split at {split}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let bytewise = feed(parser, input, 1..input.len());
    assert_eq!(
        bytewise,
        whole,
        "byte at a time: {:?}",
        String::from_utf8_lossy(input)
    );
    whole
}

fn parse(input: &[u8]) -> Outcome {
    parse_with(RequestParser::new(), input).expect("a complete head")
}

fn error_of(input: &str) -> Option<HeadError> {
    parse(input.as_bytes()).err()
}

#[test]
fn valid_requests_are_read() {
    use Framing::*;
    use Version::*;
    type Row = (&'static str, (&'static str, &'static str, Version, Framing));
    let table: &[Row] = &[
        (
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            ("GET", "/", Http11, Empty),
        ),
        (
            "GET /a?b=c&d HTTP/1.0\r\n\r\n",
            ("GET", "/a?b=c&d", Http10, Empty),
        ),
        (
            "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            ("GET", "/", Http11, Empty),
        ),
        (
            "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n",
            ("POST", "/p", Http11, Length(12)),
        ),
        (
            "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
            ("POST", "/p", Http11, Empty),
        ),
        (
            "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            ("POST", "/p", Http11, Chunked),
        ),
        (
            "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
            ("POST", "/p", Http11, Chunked),
        ),
        (
            "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            ("OPTIONS", "*", Http11, Empty),
        ),
        (
            "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
            ("CONNECT", "a.example:443", Http11, Empty),
        ),
        (
            "GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
            ("GET", "http://a.example/x", Http11, Empty),
        ),
        (
            "PURGE /x HTTP/1.1\r\nHost: a\r\nX-Obs: caf\u{e9}\r\n\r\n",
            ("PURGE", "/x", Http11, Empty),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
            ("GET", "/", Http11, Empty),
        ),
    ];
    for (input, (method, target, version, framing)) in table {
        let (head, consumed) = parse(input.as_bytes()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(consumed, input.len());
        assert_eq!(
            (head.method(), head.target(), head.version(), head.framing()),
            (*method, *target, *version, *framing),
            "{input:?}"
        );
    }
}

#[test]
fn fields_are_kept_in_order_with_their_values_trimmed() {
    let (head, _) =
        parse(b"GET / HTTP/1.1\r\nHost:  a \r\nX-Tab:\tv\t\r\nX-Empty:\r\nhost-like: b\r\n\r\n")
            .unwrap();
    let fields: Vec<(&str, &[u8])> = head.headers().iter().collect();
    assert_eq!(
        fields,
        [
            ("Host", &b"a"[..]),
            ("X-Tab", b"v"),
            ("X-Empty", b""),
            ("host-like", b"b")
        ]
    );
}

#[test]
fn content_length_is_one_star_digit_with_checked_arithmetic() {
    let table: &[(&str, Result<Option<u64>, HeadError>)] = &[
        ("5", Ok(Some(5))),
        ("005", Ok(Some(5))),
        (" 5 ", Ok(Some(5))),
        ("18446744073709551615", Ok(Some(u64::MAX))),
        ("+5", Err(HeadError::InvalidContentLength)),
        ("-1", Err(HeadError::InvalidContentLength)),
        ("0x5", Err(HeadError::InvalidContentLength)),
        ("5 5", Err(HeadError::InvalidContentLength)),
        ("5\t5", Err(HeadError::InvalidContentLength)),
        ("", Err(HeadError::InvalidContentLength)),
        ("5.0", Err(HeadError::InvalidContentLength)),
        ("1_000", Err(HeadError::InvalidContentLength)),
        ("1e3", Err(HeadError::InvalidContentLength)),
        ("\u{661}", Err(HeadError::InvalidContentLength)), // an Arabic-Indic one
        ("18446744073709551616", Err(HeadError::InvalidContentLength)),
        (
            "99999999999999999999999999999",
            Err(HeadError::InvalidContentLength),
        ),
        // Comma lists of one value are that value; anything else in a list is refused.
        ("5, 5", Ok(Some(5))),
        ("5,5,05", Ok(Some(5))),
        ("5, 6", Err(HeadError::ConflictingContentLength)),
        ("5,", Err(HeadError::InvalidContentLength)),
        (",5", Err(HeadError::InvalidContentLength)),
        ("5,,5", Err(HeadError::InvalidContentLength)),
    ];
    for (value, expected) in table {
        let input = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\n");
        let got = parse(input.as_bytes()).map(|(head, _)| head.content_length());
        assert_eq!(&got, expected, "Content-Length: {value:?}");
    }
}

#[test]
fn repeated_content_length_fields_must_agree() {
    let table: &[(&[&str], Result<Framing, HeadError>)] = &[
        (&["5", "5"], Ok(Framing::Length(5))),
        (&["5", "05"], Ok(Framing::Length(5))),
        (&["0", "0"], Ok(Framing::Empty)),
        (&["5", "6"], Err(HeadError::ConflictingContentLength)),
        (&["5", "5, 6"], Err(HeadError::ConflictingContentLength)),
        (&["5", "+5"], Err(HeadError::InvalidContentLength)),
    ];
    for (values, expected) in table {
        let fields: String = values
            .iter()
            .map(|v| format!("Content-Length: {v}\r\n"))
            .collect();
        let input = format!("POST / HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
        assert_eq!(
            &parse(input.as_bytes()).map(|(h, _)| h.framing()),
            expected,
            "{values:?}"
        );
    }
}

#[test]
fn transfer_encoding_must_be_exactly_chunked() {
    let table: &[(&[&str], Result<Framing, HeadError>)] = &[
        (&["chunked"], Ok(Framing::Chunked)),
        (&["Chunked"], Ok(Framing::Chunked)),
        (&[" chunked "], Ok(Framing::Chunked)),
        (&[", chunked"], Ok(Framing::Chunked)), // empty list elements are skipped
        (&["chunked,"], Ok(Framing::Chunked)),
        (&["chunked, chunked"], Err(HeadError::ChunkedNotLast)),
        (&["chunked", "chunked"], Err(HeadError::ChunkedNotLast)),
        (&["chunked, gzip"], Err(HeadError::ChunkedNotLast)),
        (&["chunked", "gzip"], Err(HeadError::ChunkedNotLast)),
        (&["gzip"], Err(HeadError::ChunkedNotLast)),
        (&["identity"], Err(HeadError::ChunkedNotLast)),
        (&["chunkedx"], Err(HeadError::ChunkedNotLast)),
        (&["xchunked"], Err(HeadError::ChunkedNotLast)),
        (&["chunked;q=1"], Err(HeadError::InvalidTransferEncoding)),
        (&["chunked ;"], Err(HeadError::InvalidTransferEncoding)),
        (&[""], Err(HeadError::InvalidTransferEncoding)),
        (&[" , "], Err(HeadError::InvalidTransferEncoding)),
        (
            &["gzip, chunked"],
            Err(HeadError::UnsupportedTransferCoding),
        ),
        (
            &["gzip", "chunked"],
            Err(HeadError::UnsupportedTransferCoding),
        ),
        (
            &["x-custom;a=b, chunked"],
            Err(HeadError::UnsupportedTransferCoding),
        ),
        (&["chunked\u{b}"], Err(HeadError::InvalidHeaderValue)),
    ];
    for (values, expected) in table {
        let fields: String = values
            .iter()
            .map(|v| format!("Transfer-Encoding: {v}\r\n"))
            .collect();
        let input = format!("POST / HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
        assert_eq!(
            &parse(input.as_bytes()).map(|(h, _)| h.framing()),
            expected,
            "{values:?}"
        );
    }
}

#[test]
fn smuggling_shapes_are_refused() {
    let table: &[(&str, HeadError)] = &[
        // Both framings: the classic CL.TE / TE.CL desync.
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            HeadError::ContentLengthWithTransferEncoding,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
            HeadError::ContentLengthWithTransferEncoding,
        ),
        (
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            HeadError::TransferEncodingInHttp10,
        ),
        // Whitespace before the colon (Twisted and hyper advisories).
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
            HeadError::WhitespaceBeforeColon,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5\r\n\r\n",
            HeadError::WhitespaceBeforeColon,
        ),
        // Folded lines hiding a framing value.
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n , chunked\r\n\r\n",
            HeadError::ObsoleteLineFolding,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tTransfer-Encoding: chunked\r\n\r\n",
            HeadError::ObsoleteLineFolding,
        ),
        // NUL, CR and LF inside values, and bare line ends.
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            HeadError::InvalidHeaderValue,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
            HeadError::InvalidHeaderValue,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
            HeadError::InvalidHeaderValue,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n",
            HeadError::BareCarriageReturn,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n",
            HeadError::BareLineFeed,
        ),
        ("GET / HTTP/1.1\nHost: a\n\n", HeadError::BareLineFeed),
        ("GET / HTTP/1.1\r\nHost: a\r\n\n", HeadError::BareLineFeed),
        (
            "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::BareLineFeed,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
            HeadError::BareCarriageReturn,
        ),
        // Names that are not tokens.
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n",
            HeadError::InvalidHeaderName,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\n: z\r\n\r\n",
            HeadError::InvalidHeaderName,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n",
            HeadError::InvalidHeaderName,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX\u{e9}: z\r\n\r\n",
            HeadError::InvalidHeaderName,
        ),
        // Host rules (RFC 9112 §3.2).
        ("GET / HTTP/1.1\r\n\r\n", HeadError::MissingHost),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
            HeadError::RepeatedHost,
        ),
        (
            "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
            HeadError::RepeatedHost,
        ),
    ];
    for (input, expected) in table {
        assert_eq!(error_of(input), Some(*expected), "{input:?}");
    }
}

#[test]
fn request_lines_are_checked() {
    let table: &[(&str, HeadError)] = &[
        (
            "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidRequestLine,
        ),
        (
            "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
            HeadError::InvalidRequestLine,
        ),
        (
            " GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidRequestLine,
        ),
        (
            "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidRequestLine,
        ),
        ("GET /\r\n\r\n", HeadError::InvalidRequestLine),
        (
            "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidRequestLine,
        ),
        (
            "GET / http/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidRequestLine,
        ),
        (
            "GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
            HeadError::InvalidRequestLine,
        ),
        (
            "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
            HeadError::UnsupportedVersion,
        ),
        (
            "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            HeadError::UnsupportedVersion,
        ),
        (
            "GET / HTTP/0.9\r\nHost: a\r\n\r\n",
            HeadError::UnsupportedVersion,
        ),
        (
            "GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidTarget,
        ),
        (
            "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidTarget,
        ),
        (
            "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidTarget,
        ),
        (
            "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidTarget,
        ),
        (
            "GET :a HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidTarget,
        ),
        (
            "GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidTarget,
        ),
        (
            "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidTarget,
        ),
        (
            "CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidTarget,
        ),
        (
            "CONNECT a.example:x HTTP/1.1\r\nHost: a\r\n\r\n",
            HeadError::InvalidTarget,
        ),
    ];
    for (input, expected) in table {
        assert_eq!(error_of(input), Some(*expected), "{input:?}");
    }
}

#[test]
fn keep_alive_and_expect_follow_the_version() {
    let table: &[(&str, bool, bool)] = &[
        ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true, false),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            false,
            false,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n",
            false,
            false,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
            false,
            false,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n",
            true,
            false,
        ),
        ("GET / HTTP/1.0\r\n\r\n", false, false),
        (
            "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            true,
            false,
        ),
        (
            "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            false,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            true,
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
            true,
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n",
            true,
            false,
        ),
        (
            "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            false,
            false,
        ),
    ];
    for (input, keep_alive, expects) in table {
        let (head, _) = parse(input.as_bytes()).unwrap();
        assert_eq!(
            (head.keep_alive(), head.expects_continue()),
            (*keep_alive, *expects),
            "{input:?}"
        );
    }
    let (head, _) = parse(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    assert!(head.is_head());
}

#[test]
fn the_start_line_limit_holds_at_n_minus_one_n_and_n_plus_one() {
    let max = 40;
    let parser = RequestParser::with_limits(HeadLimits::new().with_max_start_line(max));
    for len in [max - 1, max, max + 1] {
        // "GET /" + padding + " HTTP/1.1" is `len` bytes long.
        let target = format!("/{}", "a".repeat(len - 4 - 9 - 1));
        let input = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(input.find("\r\n"), Some(len));
        let got = parse_with(parser.clone(), input.as_bytes()).unwrap();
        match len <= max {
            true => assert_eq!(got.map(|(h, _)| h.target().len()), Ok(target.len())),
            false => assert_eq!(got.err(), Some(HeadError::StartLineTooLong { max })),
        }
    }
    // A line that never ends is refused once it is one byte too long, whatever follows.
    let endless = format!("GET /{}", "a".repeat(max - 4));
    assert_eq!(
        parse_with(parser.clone(), endless.as_bytes()),
        Some(Err(HeadError::StartLineTooLong { max }))
    );
    assert_eq!(parse_with(parser, &endless.as_bytes()[..max]), None);
    assert_eq!(HeadError::StartLineTooLong { max }.status(), 414);
}

#[test]
fn the_head_size_limit_holds_at_n_minus_one_n_and_n_plus_one() {
    let max = 64;
    let parser = RequestParser::with_limits(HeadLimits::new().with_max_head_size(max));
    let base = "GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n".len();
    for size in [max - 1, max, max + 1] {
        let input = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "v".repeat(size - base)
        );
        assert_eq!(input.len(), size);
        let got = parse_with(parser.clone(), input.as_bytes()).unwrap();
        match size <= max {
            true => assert_eq!(got.map(|(_, consumed)| consumed), Ok(size)),
            false => assert_eq!(got.err(), Some(HeadError::HeadTooLarge { max })),
        }
    }
    // Refused as soon as the bytes so far cannot end within the limit: here 62 bytes
    // without a line end need 4 more.
    let endless = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}", "v".repeat(62 - 28));
    assert_eq!(endless.len(), 62);
    assert_eq!(parse_with(parser.clone(), &endless.as_bytes()[..60]), None);
    assert_eq!(
        parse_with(parser.clone(), &endless.as_bytes()[..61]),
        Some(Err(HeadError::HeadTooLarge { max }))
    );
    // Empty lines before the request line count too: a flood of them is refused.
    let flood = "\r\n".repeat(40);
    assert_eq!(
        parse_with(parser, flood.as_bytes()),
        Some(Err(HeadError::HeadTooLarge { max }))
    );
    assert_eq!(HeadError::HeadTooLarge { max }.status(), 431);
}

#[test]
fn the_header_count_limit_holds_at_n_minus_one_n_and_n_plus_one() {
    let max = 40; // past the 32 slots kept on the stack
    let parser = RequestParser::with_limits(HeadLimits::new().with_max_headers(max));
    for count in [max - 1, max, max + 1] {
        let fields: String = (1..count).map(|i| format!("X-{i}: v\r\n")).collect();
        let input = format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
        let got = parse_with(parser.clone(), input.as_bytes()).unwrap();
        match count <= max {
            true => assert_eq!(got.map(|(h, _)| h.headers().len()), Ok(count)),
            false => assert_eq!(got.err(), Some(HeadError::TooManyHeaders { max })),
        }
    }
    assert_eq!(HeadError::TooManyHeaders { max }.status(), 431);
}

#[test]
fn pipelined_requests_are_read_one_after_the_other() {
    let input = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut parser = RequestParser::new();
    let mut rest = &input[..];
    let mut targets = Vec::new();
    while let Ok(Parsed::Complete { value, consumed }) = parser.parse(rest) {
        targets.push(value.target().to_owned());
        rest = &rest[consumed..];
        if let Framing::Length(n) = value.framing() {
            rest = &rest[n as usize..]; // the body, as a BodyDecoder would take it
        }
    }
    assert_eq!(targets, ["/1", "/2", "/3"]); // the CRLF after the body is skipped as empty line
    assert!(rest.is_empty());
}

#[test]
fn the_parser_starts_over_on_a_shorter_buffer() {
    let mut parser = RequestParser::new();
    assert_eq!(parser.parse(b"GET / HTTP/1.1\r\nHo"), Ok(Parsed::Partial));
    let other = b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
    let Ok(Parsed::Complete { value, .. }) = parser.parse(&other[..]) else {
        panic!()
    };
    assert_eq!(value.target(), "/b");
    assert_eq!(parser.parse(b"GET"), Ok(Parsed::Partial));
}

#[test]
fn errors_name_their_status_and_read_as_messages() {
    let table: &[(HeadError, u16, &str)] = &[
        (
            HeadError::StartLineTooLong { max: 8 },
            414,
            "start line too long: over 8 bytes",
        ),
        (
            HeadError::HeadTooLarge { max: 9 },
            431,
            "head too large: over 9 bytes",
        ),
        (
            HeadError::UnsupportedVersion,
            505,
            "http version not supported",
        ),
        (
            HeadError::UnsupportedTransferCoding,
            501,
            "unsupported transfer coding",
        ),
        (
            HeadError::ChunkedNotLast,
            400,
            "transfer-encoding does not end in one chunked",
        ),
        (
            HeadError::WhitespaceBeforeColon,
            400,
            "whitespace between header field name and colon",
        ),
        (HeadError::InvalidStatusLine, 502, "invalid status line"),
    ];
    for (error, status, message) in table {
        assert_eq!(
            (error.status(), error.to_string().as_str()),
            (*status, *message)
        );
    }
}

#[test]
fn a_recycled_head_leaves_nothing_in_the_next() {
    let first = b"POST /a/long/path?q=1 HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789\r\nContent-Length: 3\r\n\r\n";
    let second = b"GET / HTTP/1.1\r\nHost: b\r\n\r\n";
    let mut parser = RequestParser::new();
    let Ok(Parsed::Complete { mut value, .. }) = parser.parse(first) else {
        panic!("first head");
    };
    parser.recycle(value.take_headers());
    let reused = parser.parse(second);
    assert_eq!(reused, RequestParser::new().parse(second));
    let Ok(Parsed::Complete { value, .. }) = reused else {
        panic!("second head");
    };
    assert_eq!((value.method(), value.target()), ("GET", "/"));
    assert_eq!(value.headers().iter().count(), 1);
}

#[test]
fn target_text_is_checked_word_at_a_time_as_byte_by_byte() {
    for len in 0..20 {
        for at in 0..len {
            for b in 0..=255u8 {
                let mut target = vec![b'a'; len];
                target[at] = b;
                if at + 1 < len {
                    target[len - 1] = b'~'; // the last allowed byte
                }
                let bytewise = target
                    .iter()
                    .all(|&b| (b'!'..=b'~').contains(&b) && b != b'#');
                assert_eq!(is_target_text(&target), bytewise, "{target:?}");
            }
        }
    }
}

#[test]
fn is_name_is_eq_ignore_ascii_case() {
    for name in [&b"host"[..], b"content-length"] {
        for at in 0..name.len() {
            for b in 0..=255u8 {
                let mut other = name.to_vec();
                other[at] = b;
                let expected = other.eq_ignore_ascii_case(name);
                let got = match name.len() {
                    4 => is_name(&other, b"host"),
                    _ => is_name(&other, b"content-length"),
                };
                assert_eq!(got, expected, "{other:?}");
            }
        }
    }
    assert!(is_name(b"HoSt", b"host") && !is_name(b"hosts", b"host") && !is_name(b"", b"host"));
}
