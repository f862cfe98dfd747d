use super::*;

/// The body, where the chunked framing ended, and the trailers; or the error.
type Outcome = Result<(Vec<u8>, usize, Vec<(String, Vec<u8>)>), ChunkedError>;

/// Feeds `input` in pieces that end at each of `cuts` and then at its end, keeping what
/// was not consumed for the next call, as a connection would.
fn feed(limits: ChunkedLimits, input: &[u8], cuts: &[usize]) -> Option<Outcome> {
    let mut decoder = ChunkedDecoder::with_limits(limits);
    let (mut body, mut start) = (Vec::new(), 0);
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        loop {
            match decoder.decode(&input[start..end]) {
                Err(error) => return Some(Err(error)),
                Ok(Decoded::Data { data, consumed }) => {
                    assert!(!data.is_empty());
                    body.extend_from_slice(data);
                    start += consumed;
                }
                Ok(Decoded::Partial { consumed }) => {
                    start += consumed;
                    assert_eq!(start, end, "partial consumes everything");
                    break;
                }
                Ok(Decoded::End { consumed }) => {
                    let trailers = decoder.trailers().iter();
                    let trailers = trailers.map(|(n, v)| (n.to_owned(), v.to_vec())).collect();
                    return Some(Ok((body, start + consumed, trailers)));
                }
            }
        }
    }
    None
}

/// Decodes whole, split at every offset and byte by byte; all must agree.
fn decode_with(limits: ChunkedLimits, input: &[u8]) -> Option<Outcome> {
    let whole = feed(limits, input, &[]);
    for split in 1..input.len() {
        assert_eq!(
            feed(limits, input, &[split]),
            whole,
            "split at {split}: {input:?}"
        );
    }
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        feed(limits, input, &bytewise),
        whole,
        "byte at a time: {input:?}"
    );
    whole
}

fn decode(input: &[u8]) -> Option<Outcome> {
    decode_with(ChunkedLimits::new(), input)
}

#[test]
fn valid_bodies_are_decoded() {
    let table: &[(&[u8], &[u8], usize)] = &[
        (b"0\r\n\r\n", b"", 5),
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello", 15),
        (b"5\r\nhello\r\n0\r\n\r\nGET /", b"hello", 15),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", 20),
        (b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789", 20),
        (b"0005\r\nhello\r\n000\r\n\r\n", b"hello", 20),
        (b"2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", b"hello", 20),
        (b"5;name\r\nhello\r\n0\r\n\r\n", b"hello", 20),
        (
            b"5;name=value;q=\"a;b\"\r\nhello\r\n0;last\r\n\r\n",
            b"hello",
            39,
        ),
        (b"5 ;name\r\nhello\r\n0\r\n\r\n", b"hello", 21),
        (b"5\t; name = value\r\nhello\r\n0\r\n\r\n", b"hello", 30),
        (b"5;\xe9t\xe9\r\nhello\r\n0\r\n\r\n", b"hello", 19),
        (b"3\r\n\r\n\r\r\n0\r\n\r\n", b"\r\n\r", 13), // data is data, whatever bytes it holds
    ];
    for (input, body, end) in table {
        let (got, consumed, trailers) = decode(input)
            .expect("complete")
            .unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!((got.as_slice(), consumed), (*body, *end), "{input:?}");
        assert!(trailers.is_empty());
    }
}

#[test]
fn trailers_are_read_and_kept_apart() {
    let input = b"1\r\nx\r\n0\r\nChecksum: abc\r\nX-Late:  v \r\n\r\nnext";
    let (body, end, trailers) = decode(input).unwrap().unwrap();
    assert_eq!((body.as_slice(), end), (&b"x"[..], input.len() - 4));
    assert_eq!(
        trailers,
        [
            ("Checksum".to_owned(), b"abc".to_vec()),
            ("X-Late".to_owned(), b"v".to_vec())
        ]
    );
}

#[test]
fn smuggling_shapes_are_refused() {
    use ChunkedError::*;
    let table: &[(&[u8], ChunkedError)] = &[
        // Signed, prefixed, spaced or empty sizes.
        (b"+5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"-5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"0x5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"0X5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b" 5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"5 \r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"5 5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"g\r\n", InvalidChunkSize),
        (b"5,5\r\n", InvalidChunkSize),
        // Overflow past u64 (hyper's CVE-2021-32714).
        (b"10000000000000000\r\n", ChunkSizeOverflow),
        (b"fffffffffffffffff\r\n", ChunkSizeOverflow),
        (b"1ffffffffffffffffffffffffffffff\r\n", ChunkSizeOverflow),
        // Bare line ends, in size lines, extensions and trailers.
        (b"5\nhello\r\n0\r\n\r\n", BareLineFeed),
        (b"5;a\nhello\r\n0\r\n\r\n", BareLineFeed),
        (b"5;a=\"\n\"\r\nhello\r\n0\r\n\r\n", BareLineFeed),
        (b"5 \nhello\r\n0\r\n\r\n", BareLineFeed),
        (b"5\rhello\r\n0\r\n\r\n", BareCarriageReturn),
        (b"5;a\rb\r\nhello\r\n0\r\n\r\n", BareCarriageReturn),
        (b"0\r\n\n", BareLineFeed),
        (b"0\r\nX: y\n\r\n", BareLineFeed),
        (b"0\r\nX: y\r\r\n", BareCarriageReturn),
        (b"0\r\n\rx", BareCarriageReturn),
        // Control bytes in extensions.
        (b"5;a\0\r\nhello\r\n0\r\n\r\n", InvalidExtension),
        (b"5;a\x7f\r\nhello\r\n0\r\n\r\n", InvalidExtension),
        // Data longer or shorter than announced.
        (b"5\r\nhello!\r\n0\r\n\r\n", MissingChunkEnd),
        (b"5\r\nhello\n0\r\n\r\n", MissingChunkEnd),
        (b"5\r\nhello\rx0\r\n\r\n", MissingChunkEnd),
        // Trailers that are not fields.
        (b"0\r\nX : y\r\n\r\n", InvalidTrailer),
        (b"0\r\nno colon\r\n\r\n", InvalidTrailer),
        (b"0\r\n folded: y\r\n\r\n", InvalidTrailer),
        (b"0\r\nX: a\0b\r\n\r\n", InvalidTrailer),
    ];
    for (input, expected) in table {
        assert_eq!(
            decode(input).map(|r| r.map(|(b, ..)| b)),
            Some(Err(*expected)),
            "{input:?}"
        );
    }
}

#[test]
fn errors_stick() {
    let mut decoder = ChunkedDecoder::new();
    assert_eq!(decoder.decode(b"x"), Err(ChunkedError::InvalidChunkSize));
    assert_eq!(
        decoder.decode(b"5\r\nhello"),
        Err(ChunkedError::InvalidChunkSize)
    );
    assert_eq!(ChunkedError::InvalidChunkSize.status(), 400);
    assert_eq!(ChunkedError::TooManyTrailers { max: 1 }.status(), 431);
}

/// Runs `input` with `limits` and says whether it decoded or which error it met.
fn verdict(limits: ChunkedLimits, input: &[u8]) -> Result<(), ChunkedError> {
    decode_with(limits, input).expect("complete").map(|_| ())
}

#[test]
fn the_size_line_limit_holds_at_n_minus_one_n_and_n_plus_one() {
    let max = 12;
    let limits = ChunkedLimits::new().with_max_size_line(max);
    for len in [max - 1, max, max + 1] {
        let line = format!("{:0>len$}", 1); // leading zeros count
        let ext = format!("1;{}", "e".repeat(len - 2));
        for line in [line, ext] {
            let input = format!("{line}\r\nx\r\n0\r\n\r\n");
            let expected = if len <= max {
                Ok(())
            } else {
                Err(ChunkedError::SizeLineTooLong { max })
            };
            assert_eq!(verdict(limits, input.as_bytes()), expected, "{line:?}");
        }
    }
}

#[test]
fn the_extension_limit_counts_every_chunk_of_the_body() {
    let max = 20; // per body; each ";ext" below is 5 bytes
    let limits = ChunkedLimits::new().with_max_extensions(max);
    for (chunks, expected) in [
        (4, Ok(())),
        (5, Err(ChunkedError::ExtensionsTooLarge { max })),
    ] {
        let mut input = "1;exta\r\nx\r\n".repeat(chunks - 1);
        input.push_str("0;ext\r\n\r\n");
        // 4 chunks: 3 * 5 + 4 = 19; the limit allows one more byte.
        assert_eq!(
            verdict(limits, input.as_bytes()),
            expected.and(Ok(())),
            "{chunks}"
        );
    }
    let exactly = format!("0;{}\r\n\r\n", "e".repeat(max - 1));
    assert_eq!(verdict(limits, exactly.as_bytes()), Ok(()));
    let over = format!("0;{}\r\n\r\n", "e".repeat(max));
    assert_eq!(
        verdict(limits, over.as_bytes()),
        Err(ChunkedError::ExtensionsTooLarge { max })
    );
}

#[test]
fn the_trailer_limits_hold_at_n_minus_one_n_and_n_plus_one() {
    let max = 20;
    let limits = ChunkedLimits::new().with_max_trailer_size(max);
    for size in [max - 1, max, max + 1] {
        // "X: " + value + CRLF is `size` bytes.
        let input = format!("0\r\nX: {}\r\n\r\n", "v".repeat(size - 5));
        let expected = if size <= max {
            Ok(())
        } else {
            Err(ChunkedError::TrailersTooLarge { max })
        };
        assert_eq!(verdict(limits, input.as_bytes()), expected, "{size}");
    }
    let max = 3;
    let limits = ChunkedLimits::new().with_max_trailers(max);
    for count in [max - 1, max, max + 1] {
        let fields: String = (0..count).map(|i| format!("X-{i}: v\r\n")).collect();
        let input = format!("0\r\n{fields}\r\n");
        let expected = if count <= max {
            Ok(())
        } else {
            Err(ChunkedError::TooManyTrailers { max })
        };
        assert_eq!(verdict(limits, input.as_bytes()), expected, "{count}");
    }
}

#[test]
fn chunk_headers_are_lowercase_hex() {
    let table: &[(usize, &[u8])] = &[
        (1, b"1\r\n"),
        (10, b"a\r\n"),
        (255, b"ff\r\n"),
        (4096, b"1000\r\n"),
        (usize::MAX, b"ffffffffffffffff\r\n"),
    ];
    for (len, expected) in table {
        let header = chunk_header(NonZeroUsize::new(*len).unwrap());
        assert_eq!(header.as_bytes(), *expected);
    }
    assert_eq!(
        format!("{:?}", chunk_header(NonZeroUsize::MIN)),
        r#"ChunkHeader("1\r\n")"#
    );
}

#[test]
fn encoded_bodies_decode_to_what_was_encoded() {
    let pieces: [&[u8]; 4] = [b"a", b"", &[b'z'; 300], b"\r\n0\r\n\r\n"];
    let mut wire = Vec::new();
    for piece in pieces {
        encode_chunk(piece, &mut wire);
    }
    encode_last_chunk(&[("X-Sum", b"1"), ("X-Tab", b"a\tb")], &mut wire).unwrap();
    let (body, end, trailers) = decode(&wire).unwrap().unwrap();
    assert_eq!(body, pieces.concat());
    assert_eq!(end, wire.len());
    assert_eq!(trailers.len(), 2);
}

#[test]
fn refused_trailers_write_nothing() {
    let mut wire = b"5\r\nhello\r\n".to_vec();
    let bad: &[(&str, &[u8])] = &[("X", b"a\r\nInjected: 1")];
    assert_eq!(
        encode_last_chunk(bad, &mut wire),
        Err(WriteError::InvalidHeaderValue { name: "X".into() })
    );
    let bad: &[(&str, &[u8])] = &[("Ok", b"1"), ("X Y", b"1")];
    assert_eq!(
        encode_last_chunk(bad, &mut wire),
        Err(WriteError::InvalidHeaderName { name: "X Y".into() })
    );
    assert_eq!(wire, b"5\r\nhello\r\n");
}
