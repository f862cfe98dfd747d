use super::*;

/// Feeds `chunks` one after another as a server would (keeping what a step left), and
/// describes every event; then `finish`.
fn run(boundary: &str, chunks: &[&[u8]]) -> Result<Vec<String>, MultipartError> {
    let mut parser = MultipartParser::new(boundary);
    let mut pending: Vec<u8> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for chunk in chunks {
        pending.extend_from_slice(chunk);
        loop {
            match parser.step(&pending)? {
                MultipartStep::Event { event, consumed } => {
                    let text = match event {
                        MultipartEvent::Part(head) => format!(
                            "part {} {:?} {:?}",
                            head.name, head.filename, head.content_type
                        ),
                        MultipartEvent::Data(data) => {
                            // Adjacent data pieces are one run of bytes.
                            let data = String::from_utf8_lossy(data).into_owned();
                            match seen.last_mut() {
                                Some(last) if last.starts_with("data ") => {
                                    last.push_str(&data);
                                    pending.drain(..consumed);
                                    continue;
                                }
                                _ => format!("data {data}"),
                            }
                        }
                        MultipartEvent::PartEnd => "part end".into(),
                        MultipartEvent::End => "end".into(),
                    };
                    seen.push(text);
                    pending.drain(..consumed);
                }
                MultipartStep::NeedMore { consumed } => {
                    pending.drain(..consumed);
                    break;
                }
            }
        }
    }
    parser.finish()?;
    Ok(seen)
}

/// `run` with `body` whole, split at every offset, and one byte at a time: all agree.
fn all_ways(boundary: &str, body: &[u8]) -> Result<Vec<String>, MultipartError> {
    let whole = run(boundary, &[body]);
    for cut in 0..=body.len() {
        let (a, b) = body.split_at(cut);
        assert_eq!(run(boundary, &[a, b]), whole, "cut at {cut}");
    }
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(run(boundary, &bytes), whole, "byte by byte");
    whole
}

const FORM: &[u8] = b"preamble to skip\r\n--AaB03x\r\n\
Content-Disposition: form-data; name=\"submit-name\"\r\n\r\nLarry\r\n\
--AaB03x  \r\n\
Content-Disposition: form-data; name=\"files\"; filename=\"file1.txt\"\r\n\
Content-Type: text/plain\r\n\r\n... contents of file1.txt ...\r\n--AaB0 is not it\r\n\r\n\
--AaB03x\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n\
--AaB03x--\r\nepilogue, ignored";

#[test]
fn a_form_reads_the_same_whole_split_and_byte_by_byte() {
    let events = all_ways("AaB03x", FORM).unwrap();
    assert_eq!(
        events,
        [
            "part submit-name None None",
            "data Larry",
            "part end",
            "part files Some(\"file1.txt\") Some(\"text/plain\")",
            "data ... contents of file1.txt ...\r\n--AaB0 is not it\r\n",
            "part end",
            "part empty None None",
            "part end",
            "end",
        ]
    );
    let parts = parse_form_data(FORM, "AaB03x").unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(
        parts[1].data,
        b"... contents of file1.txt ...\r\n--AaB0 is not it\r\n"
    );
    assert_eq!(parts[2].data, b"");
}

#[test]
fn a_body_may_start_with_its_delimiter_and_names_may_be_escaped() {
    let body = b"--b\r\nContent-Disposition: form-data; name=\"a \\\"q\\\"\"; filename=report.pdf\r\n\r\nx\r\n--b--";
    assert_eq!(
        all_ways("b", body).unwrap(),
        [
            "part a \"q\" Some(\"report.pdf\") None",
            "data x",
            "part end",
            "end"
        ]
    );
}

#[test]
fn bad_bodies_get_their_error() {
    let table: &[(&[u8], MultipartError)] = &[
        (
            b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx",
            MultipartError::Truncated,
        ),
        (
            b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b",
            MultipartError::Truncated,
        ),
        (b"", MultipartError::Truncated),
        (b"--b\r\n\r\nno head\r\n--b--", MultipartError::MissingName),
        (
            b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
            MultipartError::MissingName,
        ),
        (
            b"--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--",
            MultipartError::MissingName,
        ),
        (
            b"--b\r\nno colon here\r\n\r\nx\r\n--b--",
            MultipartError::BadPartHead,
        ),
        (
            b"--bX\r\nContent-Disposition: form-data; name=a\r\n\r\n",
            MultipartError::BadDelimiter,
        ),
    ];
    for (body, expected) in table {
        assert_eq!(
            all_ways("b", body).as_ref(),
            Err(expected),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn limits_are_enforced_with_413_errors() {
    let long_head = format!(
        "--b\r\nContent-Disposition: form-data; name=a\r\nX-Long: {}\r\n\r\nx\r\n--b--",
        "y".repeat(DEFAULT_MAX_PART_HEAD)
    );
    let error = run("b", &[long_head.as_bytes()]).unwrap_err();
    assert_eq!(
        error,
        MultipartError::PartHeadTooLarge {
            max: DEFAULT_MAX_PART_HEAD
        }
    );
    assert_eq!(error.status(), 413);
    let mut many = Vec::new();
    for _ in 0..=DEFAULT_MAX_PARTS {
        many.extend_from_slice(b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n");
    }
    many.extend_from_slice(b"--b--");
    let error = run("b", &[&many]).unwrap_err();
    assert_eq!(
        error,
        MultipartError::TooManyParts {
            max: DEFAULT_MAX_PARTS
        }
    );
    // Past the limit even when the delimiter follows: the same error however it is cut.
    let mut late = vec![b'p'; DEFAULT_MAX_PREAMBLE + 1];
    late.extend_from_slice(b"\r\n--b--");
    let error = all_ways("b", &late).unwrap_err();
    assert_eq!(
        error,
        MultipartError::NoDelimiter {
            max: DEFAULT_MAX_PREAMBLE
        }
    );
    let mut within = vec![b'p'; DEFAULT_MAX_PREAMBLE];
    within.extend_from_slice(b"\r\n--b--");
    assert_eq!(all_ways("b", &within), Ok(vec!["end".to_owned()]));
    let preamble = vec![b'p'; DEFAULT_MAX_PREAMBLE + 10];
    let error = run("b", &[&preamble]).unwrap_err();
    assert_eq!(
        error,
        MultipartError::NoDelimiter {
            max: DEFAULT_MAX_PREAMBLE
        }
    );
    assert_eq!(error.status(), 400);
    assert_eq!(
        error.to_string(),
        "multipart body: no delimiter in the first 8192 bytes"
    );
}

#[test]
fn boundaries_come_from_the_content_type() {
    let table: &[(&[u8], Option<&str>)] = &[
        (b"multipart/form-data; boundary=AaB03x", Some("AaB03x")),
        (b"Multipart/Form-Data;boundary=\"a b:c\"", Some("a b:c")),
        (b"multipart/form-data; charset=utf-8; BOUNDARY=x", Some("x")),
        (b"multipart/form-data", None),
        (b"multipart/form-data; boundary=", None),
        (b"multipart/form-data; boundary=\"ends with space \"", None),
        (b"multipart/mixed; boundary=x", None),
        (b"text/plain; boundary=x", None),
    ];
    for (value, expected) in table {
        assert_eq!(
            boundary_of(value).as_deref(),
            *expected,
            "{}",
            String::from_utf8_lossy(value)
        );
    }
    let long = format!("multipart/form-data; boundary={}", "x".repeat(71));
    assert_eq!(boundary_of(long.as_bytes()), None);
}
