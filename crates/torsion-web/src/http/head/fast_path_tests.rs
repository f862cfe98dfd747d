//! The fast path of [`RequestParser::parse`] against the scanning path it skips
//! ([`RequestParser::parse_scanning_first`]): the same answers, `consumed` included, call
//! after call, for the fuzz corpus, for every one-byte change to a valid head, and for
//! random mutations of valid heads; each fed whole, split in two at every offset and one
//! byte at a time, under several limits.

use std::path::Path;

use super::*;

/// What a run of comparisons saw, to show the fast path was taken and not just skipped.
#[derive(Debug, Default)]
struct Tally {
    /// Calls compared.
    calls: usize,
    /// Calls the fast path answered itself.
    fast: usize,
    /// Heads read whole.
    heads: usize,
}

/// Feeds `input` to a parser on the fast path and one on the scanning path in lockstep,
/// as a server would: reads ending at each of `ends` and then at the end, each head's
/// bytes dropped and its buffers recycled before the next is read. Asserts every pair of
/// answers is equal.
fn compare(limits: HeadLimits, input: &[u8], ends: &[usize], tally: &mut Tally) {
    let mut fast = RequestParser::with_limits(limits);
    let mut reference = RequestParser::with_limits(limits);
    let (mut pending, mut fed) = (Vec::new(), 0);
    for &end in ends.iter().chain(std::iter::once(&input.len())) {
        pending.extend_from_slice(&input[fed..end]);
        fed = end;
        loop {
            if fast.scanner.is_unstarted() && fast.clone().parse_whole(&pending).is_some() {
                tally.fast += 1;
            }
            let got = fast.parse(&pending);
            let want = reference.parse_scanning_first(&pending);
            tally.calls += 1;
            assert_eq!(
                got,
                want,
                "{limits:?}, reads ending at {ends:?}, buffer {:?}",
                String::from_utf8_lossy(&pending)
            );
            match (got, want) {
                (
                    Ok(Parsed::Complete { value, consumed }),
                    Ok(Parsed::Complete { value: v, .. }),
                ) => {
                    tally.heads += 1;
                    let (mut value, mut v) = (value, v);
                    fast.recycle(value.take_headers());
                    reference.recycle(v.take_headers());
                    pending.drain(..consumed);
                }
                (Ok(_), _) => break,
                (Err(_), _) => return,
            }
        }
    }
}

/// `compare` with `input` whole, split in two at every offset, and one byte at a time.
fn compare_every_cut(limits: HeadLimits, input: &[u8], tally: &mut Tally) {
    compare(limits, input, &[], tally);
    for split in 1..input.len() {
        compare(limits, input, &[split], tally);
    }
    let bytewise: Vec<usize> = (1..input.len()).collect();
    compare(limits, input, &bytewise, tally);
}

/// Limits that valid heads break in each way, and the ones the fuzz targets use.
fn limit_sets() -> Vec<HeadLimits> {
    let new = HeadLimits::new;
    vec![
        new(),
        fuzz_limits(1),
        new().with_max_start_line(14).with_max_head_size(40),
        new()
            .with_max_start_line(20)
            .with_max_head_size(64)
            .with_max_headers(2),
        new().with_max_headers(0),
        new().with_max_headers(1),
        new().with_max_headers(STACK_FIELDS),
        new().with_max_headers(STACK_FIELDS + 1),
    ]
}

/// The limits `fuzz/http_drivers.rs` picks from a corpus file's first byte.
fn fuzz_limits(config: u8) -> HeadLimits {
    if config & 1 != 0 {
        HeadLimits::new()
            .with_max_start_line(32)
            .with_max_head_size(128)
            .with_max_headers(4)
    } else {
        HeadLimits::new()
    }
}

/// Valid heads to mutate: every line end, limit and field shape the fast path checks.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = [
        &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"\r\n\r\nGET /x?y=1 HTTP/1.0\r\n\r\n",
        b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost:  a \t\r\nX-Empty:\r\nX-Ws: \t \r\nX-Obs: caf\xe9\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\nExpect: 100-continue\r\n\r\n",
        b"CONNECT a:443 HTTP/1.1\r\nhost:\ta:443\r\n\r\n",
        b"GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HEAD /h HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0, 0\r\n\r\n\r\n",
    ]
    .iter()
    .map(|seed| seed.to_vec())
    .collect();
    // Around the fields kept on the stack.
    for count in [STACK_FIELDS, STACK_FIELDS + 1] {
        let fields: String = (1..count).map(|i| format!("X-{i}: v\r\n")).collect();
        seeds.push(format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n").into_bytes());
    }
    seeds
}

/// Bytes that matter to a head's grammar, with some that do not.
const INTERESTING: &[u8] = b"\r\n\r\n \t:\0\x01\x0b\x7f\x80\xff0159aAzZ/?#*,;-_.H";

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        match self.below(4) {
            0 => self.next() as u8,
            _ => INTERESTING[self.below(INTERESTING.len())],
        }
    }
}

/// `input` with a few random replacements, insertions and deletions.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 | 1 if at < out.len() => out[at] = rng.byte(),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 => out.splice(at..at, *b"\r\n").for_each(drop),
            4 => out.splice(at..at, [b' '; 3]).for_each(drop),
            _ => out.insert(at, rng.byte()),
        }
    }
    out
}

#[test]
fn the_fast_path_answers_as_the_scanner_on_the_fuzz_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/http_request_head");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(files.len() > 100, "corpus in {}", dir.display());
    let mut tally = Tally::default();
    for path in &files {
        let bytes = std::fs::read(path).expect("corpus file");
        let Some((&config, stream)) = bytes.split_first() else {
            continue;
        };
        for limits in [fuzz_limits(config), HeadLimits::new().with_max_headers(1)] {
            compare_every_cut(limits, stream, &mut tally);
        }
    }
    assert!(tally.fast > 1000, "{tally:?}");
}

#[test]
fn the_fast_path_answers_as_the_scanner_after_any_one_byte_change() {
    let seed = b"\r\nGET / HTTP/1.1\r\nHost: a\r\nX:  v \r\n\r\n";
    let mut tally = Tally::default();
    let mut check = |input: &[u8]| {
        for limits in [HeadLimits::new(), limit_sets()[2]] {
            compare(limits, input, &[], &mut tally);
            compare(limits, input, &[input.len() / 2], &mut tally);
        }
    };
    for at in 0..=seed.len() {
        for b in 0..=255u8 {
            if at < seed.len() {
                let mut replaced = seed.to_vec();
                replaced[at] = b;
                check(&replaced);
            }
            let mut inserted = seed.to_vec();
            inserted.insert(at, b);
            check(&inserted);
        }
        if at < seed.len() {
            let mut deleted = seed.to_vec();
            deleted.remove(at);
            check(&deleted);
        }
    }
    assert!(tally.fast > 1000, "{tally:?}");
}

#[test]
fn the_fast_path_answers_as_the_scanner_on_mutated_heads() {
    let (seeds, limits) = (seeds(), limit_sets());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tally = Tally::default();
    // Unchanged first: these are what the fast path must take.
    for seed in &seeds {
        compare_every_cut(HeadLimits::new(), seed, &mut tally);
    }
    for _ in 0..3000 {
        let seed = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        compare_every_cut(limits[rng.below(limits.len())], &input, &mut tally);
    }
    assert!(tally.fast > 2000 && tally.heads > 10_000, "{tally:?}");
}

#[test]
fn the_fast_path_takes_valid_heads_and_leaves_bare_line_ends_to_the_scanner() {
    let mut parser = RequestParser::new();
    let seeds = seeds();
    let (more_than_the_stack, seeds) = seeds.split_last().expect("seeds");
    for seed in seeds {
        let taken = parser.parse_whole(seed);
        assert!(matches!(taken, Some(Ok(_))), "{taken:?}: {seed:?}");
    }
    // Fields past the slots on the stack: the scanning path counts them first.
    assert_eq!(parser.parse_whole(more_than_the_stack), None);
    assert!(matches!(
        parser.parse(more_than_the_stack),
        Ok(Parsed::Complete { .. })
    ));
    // httparse reads each of these as a whole head; the scanner refuses them.
    for input in [
        &b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\r\n\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a \t\n\r\n",
        b"GET / HTTP/1.1\r\nHost:\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\n",
    ] {
        assert_eq!(parser.parse_whole(input), None, "{input:?}");
        assert_eq!(
            parser.parse(input),
            Err(HeadError::BareLineFeed),
            "{input:?}"
        );
    }
}
