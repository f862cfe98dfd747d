//! Header fields of a parsed head or trailer section, held in one buffer.
//!
//! ```
//! use torsion_web::http::{Parsed, RequestParser};
//! let head = b"GET / HTTP/1.1\r\nHost: a.example\r\nAccept: text/html\r\nACCEPT: */*\r\n\r\n";
//! let Ok(Parsed::Complete { value, .. }) = RequestParser::new().parse(head) else { panic!() };
//! let headers = value.headers();
//! assert_eq!(headers.get("host"), Some(&b"a.example"[..])); // names match without case
//! assert_eq!(headers.get_all("accept").count(), 2);          // repeated fields stay apart, in order
//! assert_eq!(headers.iter().next(), Some(("Host", &b"a.example"[..]))); // names as sent
//! ```
//!
//! Names are tokens (RFC 9110 §5.1), so they are ASCII and handed out as `&str`; values
//! may carry obs-text (bytes 0x80-0xFF) and are handed out as bytes, with the optional
//! whitespace around them removed. A parsed head copies its names (and its method and
//! target) once into one string and its values into one buffer, instead of allocating a
//! string per field.

use std::fmt;

/// The header fields of one head or trailer section, in the order they came.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Every name (and, for a head, its method, target or reason), back to back: text
    /// handed out as `&str` without checking it again.
    text: String,
    /// Every value, back to back.
    values: Vec<u8>,
    fields: Vec<Field>,
}

/// Where one field lies: its name in `text`, its value in `values`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    name: Span,
    value: Span,
}

/// A piece of text held in a [`Headers`] buffer besides the fields (a method, a target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: usize,
    end: usize,
}

impl Headers {
    /// No fields.
    pub fn new() -> Self {
        Headers::default()
    }

    /// The number of fields, repeated names counted each time.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields in order, each name as sent and its value without surrounding whitespace.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.fields.iter().map(|field| {
            (
                self.text(field.name),
                self.values
                    .get(field.value.start..field.value.end)
                    .unwrap_or_default(),
            )
        })
    }

    /// The value of the first field named `name` (compared without case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The values of every field named `name` (compared without case), in order.
    pub fn get_all<'h>(&'h self, name: &'h str) -> impl Iterator<Item = &'h [u8]> + 'h {
        self.iter()
            .filter(move |(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// True if a field named `name` (compared without case) is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An empty set with room for `bytes` of text and `fields` fields.
    pub(crate) fn with_capacity(bytes: usize, fields: usize) -> Self {
        Headers {
            text: String::with_capacity(bytes),
            values: Vec::with_capacity(bytes),
            fields: Vec::with_capacity(fields),
        }
    }

    /// Empties `self`, keeping its allocations, with room for `bytes` of text and
    /// `fields` fields: the pushes that follow do not reallocate.
    #[inline(always)] // with the pushes that follow, into one stretch of code
    pub(crate) fn clear_with_room(&mut self, bytes: usize, fields: usize) {
        self.text.clear();
        self.values.clear();
        self.fields.clear();
        self.text.reserve(bytes);
        self.values.reserve(bytes);
        self.fields.reserve(fields);
    }

    /// Bytes the buffers hold room for.
    pub(crate) fn capacity(&self) -> usize {
        self.text.capacity()
            + self.values.capacity()
            + self.fields.capacity() * std::mem::size_of::<Field>()
    }

    /// Appends a field. The caller has validated the name as a token.
    #[inline(always)] // one per field of every head: a call costs as much as the copy
    pub(crate) fn push(&mut self, name: &str, value: &[u8]) {
        let name = self.push_text(name);
        let start = self.values.len();
        self.values.extend_from_slice(value);
        let value = Span {
            start,
            end: self.values.len(),
        };
        self.fields.push(Field { name, value });
    }

    /// Keeps `text` in the buffer, outside the fields.
    #[inline(always)]
    pub(crate) fn push_text(&mut self, text: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(text);
        Span {
            start,
            end: self.text.len(),
        }
    }

    /// Text kept by [`push_text`](Self::push_text).
    pub(crate) fn text(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or_default()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(name, value)| (name, String::from_utf8_lossy(value))),
            )
            .finish()
    }
}

/// True for `tchar` (RFC 9110 §5.6.2), the bytes of a token such as a method or field name.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `TCHAR[b]`: whether `b` is a `tchar`, one lookup instead of a search of the symbols.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// True if `s` is a non-empty token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().copied().all(is_tchar)
}

/// True for a byte allowed in a field value: VCHAR, SP, HTAB and obs-text (RFC 9110 §5.5).
pub(crate) fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

/// True if every byte of `value` is allowed in a field value: eight bytes at a time, a
/// word with a byte below SP or a DEL being looked at byte by byte (HTAB is allowed).
pub(crate) fn is_field_value(value: &[u8]) -> bool {
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const SPACES: u64 = u64::from_le_bytes([b' '; 8]);
    const DELS: u64 = u64::from_le_bytes([0x7f; 8]);
    let mut chunks = value.chunks_exact(8);
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // Nonzero exactly when some byte is below 0x20, or is 0x7F.
        let below_space = w.wrapping_sub(SPACES) & !w & HIGHS;
        let del = (w ^ DELS).wrapping_sub(ONES) & !(w ^ DELS) & HIGHS;
        if below_space | del != 0 && !chunk.iter().copied().all(is_field_value_byte) {
            return false;
        }
    }
    chunks.remainder().iter().copied().all(is_field_value_byte)
}

/// `s` without the optional whitespace (SP, HTAB) around it.
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t');
    let end = s.iter().rposition(|&b| b != b' ' && b != b'\t');
    match (start, end) {
        (Some(start), Some(end)) => s.get(start..=end).unwrap_or_default(),
        _ => &[],
    }
}

/// The non-empty elements of a comma-separated list (RFC 9110 §5.6.1) across every value
/// given, trimmed; empty elements are skipped, as the RFC asks of recipients.
pub(crate) fn list_elements<'a>(
    values: impl Iterator<Item = &'a [u8]>,
) -> impl Iterator<Item = &'a [u8]> {
    values
        .flat_map(|value| value.split(|&b| b == b','))
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_are_checked_word_at_a_time_as_byte_by_byte() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut value = vec![b'a'; len];
                    value[at] = b;
                    if at + 1 < len {
                        value[len - 1] = 0x80; // obs-text is allowed too
                    }
                    let bytewise = value.iter().copied().all(is_field_value_byte);
                    assert_eq!(is_field_value(&value), bytewise, "{value:?}");
                }
            }
        }
    }

    #[test]
    fn the_tchar_table_is_rfc_9110s_tchar() {
        for b in 0..=255u8 {
            let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), tchar, "{b:#04x}");
        }
    }

    #[test]
    fn lookups_ignore_case_and_keep_order() {
        let mut headers = Headers::new();
        headers.push("Accept", b"a");
        headers.push("Host", b"h");
        headers.push("ACCEPT", b"b");
        assert_eq!(headers.len(), 3);
        assert_eq!(headers.get("accept"), Some(&b"a"[..]));
        assert_eq!(headers.get_all("Accept").collect::<Vec<_>>(), [b"a", b"b"]);
        assert!(headers.contains("HOST"));
        assert!(!headers.contains("Date"));
        assert_eq!(
            format!("{headers:?}"),
            r#"[("Accept", "a"), ("Host", "h"), ("ACCEPT", "b")]"#
        );
    }

    #[test]
    fn text_spans_do_not_show_as_fields() {
        let mut headers = Headers::new();
        let method = headers.push_text("GET");
        headers.push("Host", b"h");
        assert_eq!(headers.text(method), "GET");
        assert_eq!(headers.iter().count(), 1);
    }

    #[test]
    fn list_elements_skip_empty_ones_and_trim() {
        let values: [&[u8]; 3] = [b" a ,, b\t", b"", b",c,"];
        let got: Vec<&[u8]> = list_elements(values.into_iter()).collect();
        assert_eq!(got, [&b"a"[..], b"b", b"c"]);
    }

    #[test]
    fn tokens_are_tchars() {
        for (input, token) in [
            (&b"Content-Length"[..], true),
            (b"X!#$%&'*+-.^_`|~9", true),
            (b"", false),
            (b"Bad Name", false),
            (b"Bad:", false),
            (b"Bad\r", false),
            (b"caf\xc3\xa9", false),
        ] {
            assert_eq!(is_token(input), token, "{input:?}");
        }
    }
}
