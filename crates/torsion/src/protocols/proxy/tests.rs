use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::net::factory_fn;
use crate::task::Clock;
use crate::testing::StringTransport;

fn v2(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x20 | command);
    out.push(family);
    out.extend_from_slice(&(block.len() as u16).to_be_bytes());
    out.extend_from_slice(block);
    out
}

fn v2_tcp4() -> Vec<u8> {
    let mut block = vec![192, 0, 2, 7, 198, 51, 100, 1];
    block.extend_from_slice(&56324u16.to_be_bytes());
    block.extend_from_slice(&443u16.to_be_bytes());
    v2(1, 0x11, &block)
}

fn source(header: &ProxyHeader) -> String {
    header
        .source
        .map(|s| s.to_string())
        .unwrap_or_else(|| "-".into())
}

/// Feeds `input` whole, split at every offset, and a byte at a time; all must agree.
fn parse_all_ways(input: &[u8]) -> Result<(String, usize), ProxyError> {
    let whole = parse_header(input, DEFAULT_MAX_HEADER).map(|r| r.map(|(h, n)| (source(&h), n)));
    for split in 0..input.len() {
        // A prefix is either incomplete or already an error that the whole one shares.
        match parse_header(&input[..split], DEFAULT_MAX_HEADER) {
            Ok(None) => {}
            Ok(Some((h, n))) => assert_eq!(Ok(Some((source(&h), n))), whole.clone()),
            Err(e) => assert_eq!(Err(e), whole.clone(), "prefix of {split} bytes"),
        }
    }
    whole.map(|r| r.expect("complete"))
}

#[test]
fn headers_parse_to_the_client_address() {
    type Case<'a> = (&'a [u8], Result<(&'a str, usize), ProxyError>);
    let cases: &[Case] = &[
        (
            b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nGET",
            Ok(("192.0.2.7:56324", 45)),
        ),
        (
            b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n",
            Ok(("[2001:db8::1]:1", 40)),
        ),
        (b"PROXY UNKNOWN\r\n", Ok(("-", 15))),
        (
            b"PROXY UNKNOWN ffff:: ffff:: 65535 65535\r\n",
            Ok(("-", 41)),
        ),
        (
            b"PROXY TCP4 192.0.2.7 198.51.100.1 056324 443\r\n",
            Err(ProxyError::BadV1("source port")),
        ),
        (
            b"PROXY TCP4 192.0.2.7 198.51.100.1 65536 443\r\n",
            Err(ProxyError::BadV1("source port")),
        ),
        (
            b"PROXY TCP4 2001:db8::1 198.51.100.1 1 443\r\n",
            Err(ProxyError::BadV1("source address")),
        ),
        (
            b"PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n",
            Err(ProxyError::BadV1("field count")),
        ),
        (
            b"PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n",
            Err(ProxyError::BadV1("protocol (TCP4, TCP6 or UNKNOWN)")),
        ),
        (
            b"PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n",
            Err(ProxyError::BadV1("line end (LF without CR)")),
        ),
        (
            b"PROXY TCP4 192.0.2.7 198.51.100.1 1 2\rX",
            Err(ProxyError::BadV1("line end (CR without LF)")),
        ),
        (b"GET / HTTP/1.1\r\n", Err(ProxyError::NotProxy)),
        (b"PROXX TCP4", Err(ProxyError::NotProxy)),
        (b"\r\n\r\n\0\r\nQUIX", Err(ProxyError::NotProxy)),
    ];
    for (input, expected) in cases {
        let expected = expected.clone().map(|(s, n)| (s.to_owned(), n));
        assert_eq!(
            parse_all_ways(input),
            expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn v2_headers_parse_strictly() {
    let tcp4 = v2_tcp4();
    assert_eq!(parse_all_ways(&tcp4), Ok(("192.0.2.7:56324".into(), 28)));
    let mut block6 = [0u8; 36];
    block6[15] = 1;
    block6[32..34].copy_from_slice(&80u16.to_be_bytes());
    assert_eq!(
        parse_all_ways(&v2(1, 0x21, &block6)),
        Ok(("[::1]:80".into(), 52))
    );
    // LOCAL: the balancer's own check; addresses ignored.
    assert_eq!(parse_all_ways(&v2(0, 0x00, &[])), Ok(("-".into(), 16)));
    // TLVs after the addresses are skipped.
    let mut with_tlv = tcp4[16..].to_vec();
    with_tlv.extend_from_slice(&[0x04, 0, 1, 9]);
    assert_eq!(
        parse_all_ways(&v2(1, 0x11, &with_tlv)),
        Ok(("192.0.2.7:56324".into(), 32))
    );
    assert_eq!(
        parse_all_ways(&v2(1, 0x11, &[1, 2, 3])),
        Err(ProxyError::BadV2("address block length"))
    );
    assert_eq!(
        parse_all_ways(&v2(1, 0x12, &tcp4[16..])),
        Err(ProxyError::BadV2("transport (STREAM expected)"))
    );
    assert_eq!(
        parse_all_ways(&v2(2, 0x11, &tcp4[16..])),
        Err(ProxyError::BadV2("command"))
    );
    let mut version3 = tcp4.clone();
    version3[12] = 0x31;
    assert_eq!(parse_all_ways(&version3), Err(ProxyError::BadV2("version")));
    let huge = v2(1, 0x11, &vec![0; 2000]);
    assert_eq!(
        parse_header(&huge[..16], DEFAULT_MAX_HEADER),
        Err(ProxyError::TooLong {
            len: 2016,
            max: DEFAULT_MAX_HEADER
        })
    );
}

#[test]
fn a_v1_line_without_end_is_refused_at_the_limit() {
    let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
    assert_eq!(
        parse_header(&long, DEFAULT_MAX_HEADER),
        Err(ProxyError::TooLong { len: 211, max: 107 })
    );
}

/// A protocol recording the peer it was built for and the bytes it got.
fn recorder(seen: &Rc<RefCell<Vec<String>>>) -> Rc<dyn ProtocolFactory> {
    struct Rec(Rc<RefCell<Vec<String>>>);
    impl Protocol for Rec {
        fn connection_made(&mut self, transport: Rc<dyn Transport>) {
            self.0
                .borrow_mut()
                .push(format!("peer {}", transport.peer()));
        }
        fn data_received(&mut self, data: &[u8]) {
            self.0
                .borrow_mut()
                .push(String::from_utf8_lossy(data).into_owned());
        }
        fn connection_lost(&mut self, _: CloseReason) {
            self.0.borrow_mut().push("lost".into());
        }
    }
    let seen = seen.clone();
    Rc::new(factory_fn(move |address| {
        seen.borrow_mut().push(format!("built for {address}"));
        Some(Box::new(Rec(seen.clone())) as Box<dyn Protocol>)
    }))
}

#[test]
fn the_wrapped_protocol_sees_the_client_as_its_peer() {
    let (clock, seen) = (Clock::new(), Rc::default());
    let factory = ProxyFactory::new(recorder(&seen), clock.clone());
    let transport = StringTransport::new();
    let mut protocol = factory.build_protocol(&transport.peer()).unwrap();
    protocol.connection_made(transport.clone());
    protocol.data_received(b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r");
    assert!(seen.borrow().is_empty());
    protocol.data_received(b"\nhello");
    protocol.data_received(b" again");
    protocol.connection_lost(CloseReason::Clean);
    assert_eq!(
        *seen.borrow(),
        [
            "built for 192.0.2.7:56324",
            "peer 192.0.2.7:56324",
            "hello",
            " again",
            "lost"
        ]
    );
    clock.advance(DEFAULT_HEADER_TIMEOUT * 2);
    assert!(!transport.aborted(), "the deadline was cancelled");
}

#[test]
fn a_bad_header_closes_with_a_logged_reason() {
    let (clock, seen) = (Clock::new(), Rc::default());
    let factory = ProxyFactory::new(recorder(&seen), clock);
    let transport = StringTransport::new();
    let mut protocol = factory.build_protocol(&transport.peer()).unwrap();
    protocol.connection_made(transport.clone());
    let ((), logs) =
        crate::testing::capture_logs(|| protocol.data_received(b"GET / HTTP/1.1\r\n\r\n"));
    assert!(transport.aborted());
    assert!(seen.borrow().is_empty());
    assert!(
        logs.iter()
            .any(|e| e.message.contains("proxy header: missing")),
        "{logs:?}"
    );
    protocol.connection_lost(CloseReason::Clean);
}

#[test]
fn a_header_that_does_not_come_times_out() {
    let (clock, seen) = (Clock::new(), Rc::default());
    let factory =
        ProxyFactory::new(recorder(&seen), clock.clone()).with_timeout(Duration::from_secs(2));
    let transport = StringTransport::new();
    let mut protocol = factory.build_protocol(&transport.peer()).unwrap();
    protocol.connection_made(transport.clone());
    protocol.data_received(b"PROXY TCP4");
    clock.advance(Duration::from_secs(1));
    assert!(!transport.aborted());
    clock.advance(Duration::from_secs(1));
    assert!(transport.aborted());
    protocol.connection_lost(CloseReason::Clean);
    assert!(seen.borrow().is_empty());
}
