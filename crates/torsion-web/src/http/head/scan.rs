//! Where a head ends, found byte by byte under the limits and the CRLF-only rule, however
//! the bytes were split across reads; and whether a head `httparse` already read whole is
//! one this scan accepts, found from its line ends alone.

use super::{HeadError, HeadLimits};

/// A complete head found by [`Scanner::scan`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadEnd {
    /// Bytes from the start of the buffer to the end of the blank line.
    pub(crate) len: usize,
    /// Field lines in the head.
    pub(crate) fields: usize,
}

/// Where a head ends, found so that no byte is looked at twice and the limits hold however
/// the bytes were split: runs of bytes other than CR and LF are skipped a word at a time,
/// and line endings checked one byte at a time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scanner {
    /// Bytes of the buffer already looked at.
    scanned: usize,
    /// Where the current line starts.
    line_start: usize,
    /// The start line has ended; fields follow.
    in_fields: bool,
    /// Field lines ended so far.
    fields: usize,
}

impl Scanner {
    /// True before the first byte of a head is looked at.
    pub(crate) fn is_unstarted(&self) -> bool {
        self.scanned == 0
    }

    /// The head at the start of `buf`, `None` if it has not ended yet, or the first limit
    /// or line-ending rule it breaks.
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        limits: &HeadLimits,
    ) -> Result<Option<HeadEnd>, HeadError> {
        if self.scanned > buf.len() {
            // Not the buffer we saw before: start over rather than trust stale offsets.
            *self = Scanner::default();
        }
        let mut prev = match self.scanned.checked_sub(1) {
            Some(i) => buf.get(i).copied().unwrap_or(0),
            None => 0,
        };
        let mut i = self.scanned;
        while let Some(&b) = buf.get(i) {
            if prev != b'\r' && b != b'\r' && b != b'\n' {
                // Jump over the run of ordinary bytes that breaks no limit: only CR, LF
                // and the limits need the byte-by-byte rules below.
                let stop = self.ordinary_limit(limits).min(buf.len());
                let run = buf.get(i..stop).unwrap_or_default();
                let n = find_line_end(run).unwrap_or(run.len());
                if n > 0 {
                    i += n;
                    self.scanned = i;
                    prev = b; // an ordinary byte, which is all `prev` is asked
                    continue;
                }
            }
            if b == b'\r' && prev != b'\r' && buf.get(i + 1) == Some(&b'\n') {
                // The usual line ending, both bytes at once.
                if let Some(end) = self.crlf(i, limits)? {
                    return Ok(Some(end));
                }
                i += 2;
                self.scanned = i;
                prev = b'\n';
                continue;
            }
            self.scanned = i + 1;
            if prev == b'\r' && b != b'\n' {
                return Err(HeadError::BareCarriageReturn);
            }
            // How many bytes the head needs at least after this one: the rest of CRLF CRLF.
            let mut needed = 4;
            if b == b'\n' {
                if prev != b'\r' {
                    return Err(HeadError::BareLineFeed);
                }
                let empty = i - 1 == self.line_start;
                self.line_start = i + 1;
                needed = 2;
                if !self.in_fields {
                    // An empty line before the request line is skipped (RFC 9112 §2.2).
                    self.in_fields = !empty;
                } else if empty {
                    return Ok(Some(HeadEnd {
                        len: i + 1,
                        fields: self.fields,
                    }));
                } else {
                    self.fields += 1;
                    if self.fields > limits.max_headers {
                        return Err(HeadError::TooManyHeaders {
                            max: limits.max_headers,
                        });
                    }
                }
            } else if b == b'\r' {
                needed = if self.in_fields && i == self.line_start {
                    1
                } else {
                    3
                };
            }
            if !self.in_fields && b != b'\n' {
                // The start line so far, not counting a CR that may begin its CRLF.
                let len = i + 1 - self.line_start - usize::from(b == b'\r');
                if len > limits.max_start_line {
                    return Err(HeadError::StartLineTooLong {
                        max: limits.max_start_line,
                    });
                }
            }
            if i + 1 + needed > limits.max_head_size {
                return Err(HeadError::HeadTooLarge {
                    max: limits.max_head_size,
                });
            }
            prev = b;
            i += 1;
        }
        Ok(None)
    }

    /// Checks a CRLF at `cr`, `cr + 1` as the byte-by-byte rules would (the CR's limits,
    /// then the line's end), and ends the line; `Some` when it ends the head.
    fn crlf(&mut self, cr: usize, limits: &HeadLimits) -> Result<Option<HeadEnd>, HeadError> {
        let empty = cr == self.line_start;
        if !self.in_fields && cr - self.line_start > limits.max_start_line {
            return Err(HeadError::StartLineTooLong {
                max: limits.max_start_line,
            });
        }
        // After the CR: its LF, plus a blank line's CRLF unless this is the blank line.
        let needed = if self.in_fields && empty { 1 } else { 3 };
        if cr + 1 + needed > limits.max_head_size {
            return Err(HeadError::HeadTooLarge {
                max: limits.max_head_size,
            });
        }
        self.line_start = cr + 2;
        if !self.in_fields {
            // An empty line before the request line is skipped (RFC 9112 §2.2).
            self.in_fields = !empty;
        } else if empty {
            return Ok(Some(HeadEnd {
                len: cr + 2,
                fields: self.fields,
            }));
        } else {
            self.fields += 1;
            if self.fields > limits.max_headers {
                return Err(HeadError::TooManyHeaders {
                    max: limits.max_headers,
                });
            }
        }
        if cr + 4 > limits.max_head_size {
            return Err(HeadError::HeadTooLarge {
                max: limits.max_head_size,
            });
        }
        Ok(None)
    }

    /// The first offset at which a byte other than CR or LF would break the start-line or
    /// head-size limit, given the line being scanned.
    fn ordinary_limit(&self, limits: &HeadLimits) -> usize {
        // A byte at `i` needs 4 more after it: `i + 1 + 4 > max_head_size` fails.
        let head = limits.max_head_size.saturating_sub(4);
        if self.in_fields {
            head
        } else {
            // `i + 1 - line_start > max_start_line` fails.
            head.min(self.line_start.saturating_add(limits.max_start_line))
        }
    }
}

/// True if [`Scanner::scan`] would accept the head `httparse` read from the first `len` bytes
/// of `buf`: every line ends in CRLF and the limits hold. It looks at the bytes between
/// the pieces httparse returned (which point into `buf`), not at every byte: those pieces
/// (method, target, names, values) hold no CR or LF, so the CRs and LFs of the head are
/// all in the gaps checked here, where httparse would also take a bare LF as a line end.
#[inline(always)] // once per head, on the path that matters
pub(super) fn scanner_accepts(
    buf: &[u8],
    len: usize,
    request: &httparse::Request<'_, '_>,
    limits: &HeadLimits,
) -> bool {
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return false;
    };
    if len > limits.max_head_size {
        return false;
    }
    // Where a piece starts in `buf`; anything else is out of range for `get`.
    let at = |piece: &[u8]| piece.as_ptr().addr().wrapping_sub(buf.as_ptr().addr());
    // The empty lines httparse skipped: CRLFs only.
    let start = at(method.as_bytes());
    let Some(skipped) = buf.get(..start) else {
        return false;
    };
    if skipped.len() % 2 != 0 || !skipped.chunks_exact(2).all(|pair| pair == b"\r\n") {
        return false;
    }
    // method SP target SP HTTP/1.x CRLF: one byte between method and target, and the
    // version right after the target.
    let target_end = at(target.as_bytes()).wrapping_add(target.len());
    if at(target.as_bytes()) != start + method.len() + 1 {
        return false;
    }
    let start_line_end = target_end.wrapping_add(b" HTTP/1.x".len());
    let Some(&[a, b, c, d, e, f, g, h, _, b'\r', b'\n']) =
        buf.get(target_end..start_line_end.wrapping_add(2))
    else {
        return false;
    };
    if [a, b, c, d, e, f, g, h] != *b" HTTP/1." || start_line_end - start > limits.max_start_line {
        return false;
    }
    let mut line = start_line_end + 2;
    for field in request.headers.iter() {
        // The name at the line's start, then `:`, the value and the end of the line.
        let (name, value) = (field.name.as_bytes(), field.value);
        if at(name) != line {
            return false;
        }
        let (colon, value_start) = (line + name.len(), at(value));
        let value_end = value_start.wrapping_add(value.len());
        line = match (buf.get(colon..value_start), buf.get(value_end..)) {
            (Some(b": "), Some([b'\r', b'\n', ..])) => value_end + 2, // the usual shape
            (Some(gap), Some(after)) => match field_line_rest(gap, after) {
                Some(rest) => value_end + rest,
                None => return false,
            },
            _ => return false,
        };
    }
    // The blank line, ending the head where httparse ended it.
    buf.get(line..len) == Some(b"\r\n")
}

/// For a field line whose bytes between name and value are `gap` and which goes on with
/// `after` once its value ends: how many bytes of `after` end the line, if the gap is
/// `:` and whitespace and the value is followed by whitespace (which httparse trimmed off
/// it) and CRLF.
fn field_line_rest(gap: &[u8], after: &[u8]) -> Option<usize> {
    let space = |b: &u8| *b == b' ' || *b == b'\t';
    match gap {
        [b':', rest @ ..] if rest.iter().all(space) => {}
        _ => return None,
    }
    let trimmed = after.iter().take_while(|b| space(b)).count();
    (after.get(trimmed..trimmed + 2) == Some(b"\r\n")).then_some(trimmed + 2)
}

/// The offset of the first CR or LF in `bytes`, eight bytes at a time.
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if let Some(at) = line_end_in_word(word) {
            return Some(offset + at);
        }
        offset += 8;
    }
    // The last 0-7 bytes, padded with NULs (neither CR nor LF).
    let mut word = [0u8; 8];
    let rest = chunks.remainder();
    word.get_mut(..rest.len())?.copy_from_slice(rest);
    line_end_in_word(word).map(|at| offset + at)
}

/// The index of the first CR or LF in `word`.
fn line_end_in_word(word: [u8; 8]) -> Option<usize> {
    const LOWS: u64 = u64::from_le_bytes([0x7f; 8]);
    const CR: u64 = u64::from_le_bytes([b'\r'; 8]);
    const LF: u64 = u64::from_le_bytes([b'\n'; 8]);
    // The high bit of each byte of `w` that is zero, and no other bit (no carries).
    let zeros = |w: u64| !((w & LOWS).wrapping_add(LOWS) | w | LOWS);
    let w = u64::from_le_bytes(word);
    let found = zeros(w ^ CR) | zeros(w ^ LF);
    (found != 0).then(|| (found.trailing_zeros() / 8) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner as it was, one byte at a time: the reference the word-at-a-time one must match.
    fn reference_scan(buf: &[u8], limits: &HeadLimits) -> Result<Option<HeadEnd>, HeadError> {
        let (mut line_start, mut in_fields, mut fields, mut prev) = (0, false, 0, 0);
        for (i, &b) in buf.iter().enumerate() {
            if prev == b'\r' && b != b'\n' {
                return Err(HeadError::BareCarriageReturn);
            }
            let mut needed = 4;
            if b == b'\n' {
                if prev != b'\r' {
                    return Err(HeadError::BareLineFeed);
                }
                let empty = i - 1 == line_start;
                line_start = i + 1;
                needed = 2;
                if !in_fields {
                    in_fields = !empty;
                } else if empty {
                    return Ok(Some(HeadEnd { len: i + 1, fields }));
                } else {
                    fields += 1;
                    if fields > limits.max_headers {
                        return Err(HeadError::TooManyHeaders {
                            max: limits.max_headers,
                        });
                    }
                }
            } else if b == b'\r' {
                needed = if in_fields && i == line_start { 1 } else { 3 };
            }
            if !in_fields && b != b'\n' {
                let len = i + 1 - line_start - usize::from(b == b'\r');
                if len > limits.max_start_line {
                    return Err(HeadError::StartLineTooLong {
                        max: limits.max_start_line,
                    });
                }
            }
            if i + 1 + needed > limits.max_head_size {
                return Err(HeadError::HeadTooLarge {
                    max: limits.max_head_size,
                });
            }
            prev = b;
        }
        Ok(None)
    }

    #[test]
    fn the_scanner_matches_the_bytewise_reference_on_every_short_input() {
        let alphabet = b"a\r\n:";
        let limits = [
            HeadLimits::default(),
            HeadLimits::default()
                .with_max_start_line(3)
                .with_max_head_size(9)
                .with_max_headers(1),
            HeadLimits::default()
                .with_max_start_line(9)
                .with_max_head_size(3),
            HeadLimits::default()
                .with_max_start_line(1)
                .with_max_head_size(12),
            HeadLimits::default()
                .with_max_start_line(27)
                .with_max_head_size(30),
        ];
        let mut input = Vec::new();
        for len in 0..=8u32 {
            for mut n in 0..alphabet.len().pow(len) {
                input.clear();
                for _ in 0..len {
                    input.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                // Long ordinary runs too, where the word-at-a-time search does the work.
                let long = [b"GET /aaaaaaaaaaaaaaaaaaa".as_slice(), &input].concat();
                for input in [&input, &long] {
                    for limits in &limits {
                        let expected = format!("{:?}", reference_scan(input, limits));
                        let whole = Scanner::default().scan(input, limits);
                        assert_eq!(format!("{whole:?}"), expected, "{input:?} {limits:?}");
                        let mut scanner = Scanner::default();
                        let mut bytewise = Ok(None);
                        for end in 1..=input.len() {
                            bytewise = scanner.scan(&input[..end], limits);
                            if !matches!(bytewise, Ok(None)) {
                                break;
                            }
                        }
                        assert_eq!(format!("{bytewise:?}"), expected, "{input:?} {limits:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn find_line_end_finds_the_first_cr_or_lf_and_nothing_else() {
        // Fillers one bit away from CR or LF, and bytes with the high bit set.
        let fillers = [b'a', 0x8d, 0x8a, 0x0c, 0x0e, 0x0b, 0x09, 0xff, 0x00, 0x2d];
        for len in 0..20 {
            for (k, &filler) in fillers.iter().enumerate() {
                let mut bytes: Vec<u8> =
                    (0..len).map(|i| fillers[(i + k) % fillers.len()]).collect();
                assert_eq!(find_line_end(&bytes), None, "{bytes:?}");
                bytes.fill(filler);
                for at in 0..len {
                    for end in [b'\r', b'\n'] {
                        let mut with = bytes.clone();
                        with[at] = end;
                        if at + 1 < len {
                            with[len - 1] = b'\n'; // a later one must not win
                        }
                        assert_eq!(find_line_end(&with), Some(at), "{with:?}");
                    }
                }
            }
        }
    }
}
