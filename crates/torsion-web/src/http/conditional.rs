//! Conditional requests (RFC 9110 §13): entity tags, and the order in which a server
//! evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since` and
//! `If-Range` against what it is about to send.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use torsion_web::http::{evaluate_preconditions, EntityTag, Parsed, Precondition, RequestParser, Validators};
//!
//! let head = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v1\", \"v2\"\r\n\r\n";
//! let Ok(Parsed::Complete { value: request, .. }) = RequestParser::new().parse(head) else {
//!     panic!("a whole head")
//! };
//! let etag = EntityTag::strong("v2").unwrap();
//! let validators = Validators {
//!     etag: Some(&etag),
//!     last_modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)),
//! };
//! // The client already has "v2": a GET is answered 304 Not Modified.
//! let answer = evaluate_preconditions(request.method(), request.headers(), &validators);
//! assert_eq!(answer, Precondition::NotModified);
//! ```
//!
//! The evaluation is pure: no file, no clock. The caller says what its representation's
//! validators are, and acts on the [`Precondition`]: send it (perhaps only the range
//! asked for), answer 304, or answer 412. Fields that do not parse are treated as
//! absent, except an `If-Match` or `If-None-Match` list that holds no valid tag, which
//! matches nothing (the safe reading: a write is refused, a read is sent in full).

use std::fmt;
use std::time::SystemTime;

use super::date::parse_http_date;
use super::headers::Headers;

/// An entity tag (RFC 9110 §8.8.3): an opaque string, quoted on the wire, strong or weak
/// (`W/"..."`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityTag {
    weak: bool,
    /// Without its quotes; only `etagc` characters (no `"`, no controls, no space).
    opaque: String,
}

/// An entity tag whose text holds a character RFC 9110 does not allow in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEntityTag;

impl fmt::Display for InvalidEntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid entity tag: only visible characters other than '\"' are allowed")
    }
}

impl std::error::Error for InvalidEntityTag {}

impl EntityTag {
    /// A strong tag: the representation is byte for byte the same while it holds.
    ///
    /// # Errors
    /// [`InvalidEntityTag`] when `opaque` holds `"`, a space or a control byte.
    pub fn strong(opaque: impl Into<String>) -> Result<EntityTag, InvalidEntityTag> {
        EntityTag::with_weakness(false, opaque.into())
    }

    /// A weak tag: the representation is equivalent, not necessarily identical.
    ///
    /// # Errors
    /// [`InvalidEntityTag`] when `opaque` holds `"`, a space or a control byte.
    pub fn weak(opaque: impl Into<String>) -> Result<EntityTag, InvalidEntityTag> {
        EntityTag::with_weakness(true, opaque.into())
    }

    fn with_weakness(weak: bool, opaque: String) -> Result<EntityTag, InvalidEntityTag> {
        if opaque.bytes().all(is_etagc) {
            Ok(EntityTag { weak, opaque })
        } else {
            Err(InvalidEntityTag)
        }
    }

    /// True for a weak tag.
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    /// The text between the quotes.
    pub fn opaque(&self) -> &str {
        &self.opaque
    }

    /// Reads one tag as sent (`"abc"` or `W/"abc"`), with no surrounding space.
    pub fn parse(value: &[u8]) -> Option<EntityTag> {
        match parse_tag(value) {
            Some((tag, [])) => Some(tag),
            _ => None,
        }
    }

    /// Strong comparison (RFC 9110 §8.8.3.2): both strong and the same text.
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// Weak comparison: the same text, whatever their weakness.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.opaque == other.opaque
    }
}

impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.opaque)
    }
}

/// What a representation can be checked against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Validators<'a> {
    /// Its entity tag, if it has one.
    pub etag: Option<&'a EntityTag>,
    /// When it last changed, in whole seconds (HTTP dates carry no more).
    pub last_modified: Option<SystemTime>,
}

/// What the preconditions of a request decide (RFC 9110 §13.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Go on with the request. `honour_range` is false when an `If-Range` did not match
    /// the representation: a `Range` field must then be ignored, and the whole of it sent
    /// with 200, never a part of a representation the client does not have.
    Proceed {
        /// Whether a `Range` field may be acted on.
        honour_range: bool,
    },
    /// 304: the client's copy is current (GET and HEAD only).
    NotModified,
    /// 412: a precondition the client set does not hold.
    PreconditionFailed,
}

/// Evaluates a request's preconditions for an existing representation, in the order of
/// RFC 9110 §13.2.2: `If-Match`, else `If-Unmodified-Since`; then `If-None-Match`, else
/// (GET and HEAD) `If-Modified-Since`; then, for a GET with a `Range`, `If-Range`.
pub fn evaluate_preconditions(
    method: &str,
    headers: &Headers,
    validators: &Validators<'_>,
) -> Precondition {
    let read = method == "GET" || method == "HEAD";
    if headers.contains("if-match") {
        // Step 1: strong comparison; `*` matches any current representation.
        let matched = list_matches(headers, "if-match", |tag| {
            validators.etag.is_some_and(|etag| etag.strong_eq(tag))
        });
        if !matched {
            return Precondition::PreconditionFailed;
        }
    } else if let Some(since) = date_field(headers, "if-unmodified-since") {
        // Step 2: only when there is no If-Match, and only with a date to compare.
        if validators
            .last_modified
            .is_some_and(|modified| modified > since)
        {
            return Precondition::PreconditionFailed;
        }
    }
    if headers.contains("if-none-match") {
        // Step 3: weak comparison; `*` matches any current representation.
        let matched = list_matches(headers, "if-none-match", |tag| {
            validators.etag.is_some_and(|etag| etag.weak_eq(tag))
        });
        if matched {
            return if read {
                Precondition::NotModified
            } else {
                Precondition::PreconditionFailed
            };
        }
    } else if read {
        // Step 4: If-Modified-Since only without If-None-Match, and only for reads.
        if let Some(since) = date_field(headers, "if-modified-since") {
            if validators
                .last_modified
                .is_some_and(|modified| modified <= since)
            {
                return Precondition::NotModified;
            }
        }
    }
    let honour_range = match (method, headers.get("range"), headers.get("if-range")) {
        ("GET", Some(_), Some(condition)) => if_range_matches(condition, validators),
        _ => true,
    };
    Precondition::Proceed { honour_range }
}

/// `If-Range` (RFC 9110 §13.1.5): a strong entity tag equal to the current one, or a date
/// equal to the last modification (a date is a weak validator unless it is exact).
fn if_range_matches(condition: &[u8], validators: &Validators<'_>) -> bool {
    let condition = trim(condition);
    if condition.starts_with(b"\"") || condition.starts_with(b"W/") {
        return match EntityTag::parse(condition) {
            Some(tag) => validators.etag.is_some_and(|etag| etag.strong_eq(&tag)),
            None => false,
        };
    }
    match (parse_http_date(condition), validators.last_modified) {
        (Some(date), Some(modified)) => date == modified,
        _ => false,
    }
}

/// Whether any line of an `If-Match`/`If-None-Match` field is `*` or holds a tag that
/// `matches`. A list with nothing valid in it matches nothing.
fn list_matches(headers: &Headers, name: &str, matches: impl Fn(&EntityTag) -> bool) -> bool {
    headers.get_all(name).any(|value| {
        let value = trim(value);
        if value == b"*" {
            return true;
        }
        EntityTags(value).any(|tag| matches(&tag))
    })
}

/// The first field named `name`, read as an HTTP date.
fn date_field(headers: &Headers, name: &str) -> Option<SystemTime> {
    headers
        .get(name)
        .and_then(|value| parse_http_date(trim(value)))
}

/// The tags of a comma-separated list, up to the first that does not parse.
struct EntityTags<'a>(&'a [u8]);

impl Iterator for EntityTags<'_> {
    type Item = EntityTag;

    fn next(&mut self) -> Option<EntityTag> {
        loop {
            let rest = trim_start(self.0);
            let rest = match rest.strip_prefix(b",") {
                Some(after) => {
                    self.0 = after;
                    continue; // empty list elements are allowed (RFC 9110 §5.6.1)
                }
                None => rest,
            };
            if rest.is_empty() {
                return None;
            }
            let Some((tag, after)) = parse_tag(rest) else {
                self.0 = &[];
                return None;
            };
            let after = trim_start(after);
            if !(after.is_empty() || after.starts_with(b",")) {
                self.0 = &[];
                return None;
            }
            self.0 = after;
            return Some(tag);
        }
    }
}

/// One tag at the start of `value`, and what follows it.
fn parse_tag(value: &[u8]) -> Option<(EntityTag, &[u8])> {
    let (weak, rest) = match value.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let (opaque, after) = rest.split_at(end);
    if !opaque.iter().copied().all(is_etagc) {
        return None;
    }
    // Invariant: `opaque` is ASCII (etagc) or bytes 0x80..=0xFF; take it as text lossily
    // only for the latter, which compare equal to themselves either way.
    let opaque = String::from_utf8_lossy(opaque).into_owned();
    Some((
        EntityTag { weak, opaque },
        after.get(1..).unwrap_or_default(),
    ))
}

/// `etagc = %x21 / %x23-7E / obs-text`.
fn is_etagc(byte: u8) -> bool {
    byte == 0x21 || (0x23..=0x7e).contains(&byte) || byte >= 0x80
}

fn trim_start(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    value.get(start..).unwrap_or_default()
}

fn trim(value: &[u8]) -> &[u8] {
    let value = trim_start(value);
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    value.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const OLDER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const NEWER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    fn modified() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    /// A request field: (name, value).
    type Field = (&'static str, &'static str);

    fn check(method: &str, fields: &[Field], etag: Option<&EntityTag>) -> Precondition {
        let mut headers = Headers::new();
        for (name, value) in fields {
            headers.push(name, value.as_bytes());
        }
        let validators = Validators {
            etag,
            last_modified: Some(modified()),
        };
        evaluate_preconditions(method, &headers, &validators)
    }

    const PROCEED: Precondition = Precondition::Proceed { honour_range: true };
    const WHOLE: Precondition = Precondition::Proceed {
        honour_range: false,
    };
    use Precondition::{NotModified, PreconditionFailed};

    #[test]
    fn entity_tags_parse_and_compare_as_rfc_9110_says() {
        let strong = EntityTag::parse(b"\"xyzzy\"").unwrap();
        let weak = EntityTag::parse(b"W/\"xyzzy\"").unwrap();
        assert!(!strong.is_weak() && weak.is_weak());
        assert_eq!(strong.opaque(), "xyzzy");
        assert!(strong.strong_eq(&strong));
        assert!(!strong.strong_eq(&weak) && !weak.strong_eq(&weak));
        assert!(strong.weak_eq(&weak) && weak.weak_eq(&weak));
        assert_eq!(weak.to_string(), "W/\"xyzzy\"");
        assert_eq!(EntityTag::parse(b"\"\"").unwrap().opaque(), "");
        for bad in [
            &b"xyzzy"[..],
            b"\"a",
            b"\"a b\"",
            b"w/\"a\"",
            b"\"a\" ",
            b"\"a\"b",
        ] {
            assert_eq!(EntityTag::parse(bad), None, "{bad:?}");
        }
        assert_eq!(EntityTag::strong("a\"b"), Err(InvalidEntityTag));
        assert!(EntityTag::weak("a b").is_err());
    }

    #[test]
    fn tag_lists_allow_spaces_and_empty_elements() {
        let tags: Vec<String> = EntityTags(b" , \"a\" ,W/\"b\",, \"c\"")
            .map(|t| t.to_string())
            .collect();
        assert_eq!(tags, ["\"a\"", "W/\"b\"", "\"c\""]);
        let cut: Vec<String> = EntityTags(b"\"a\", junk, \"c\"")
            .map(|t| t.to_string())
            .collect();
        assert_eq!(cut, ["\"a\""]);
    }

    #[test]
    fn if_none_match_answers_304_to_reads_and_412_to_writes() {
        let etag = EntityTag::strong("v2").unwrap();
        let tag = Some(&etag);
        let table: &[(&str, &[Field], Precondition)] = &[
            ("GET", &[("If-None-Match", "\"v2\"")], NotModified),
            ("HEAD", &[("If-None-Match", "W/\"v2\"")], NotModified),
            ("GET", &[("If-None-Match", "\"v1\", \"v2\"")], NotModified),
            ("GET", &[("If-None-Match", "*")], NotModified),
            ("GET", &[("If-None-Match", "\"v1\"")], PROCEED),
            ("POST", &[("If-None-Match", "\"v2\"")], PreconditionFailed),
            ("PUT", &[("If-None-Match", "*")], PreconditionFailed),
            // Two field lines are one list.
            (
                "GET",
                &[("If-None-Match", "\"v1\""), ("If-None-Match", "\"v2\"")],
                NotModified,
            ),
            // If-None-Match wins over If-Modified-Since, whatever the date says.
            (
                "GET",
                &[("If-None-Match", "\"v1\""), ("If-Modified-Since", NEWER)],
                PROCEED,
            ),
        ];
        for (method, fields, expected) in table {
            assert_eq!(check(method, fields, tag), *expected, "{method} {fields:?}");
        }
    }

    #[test]
    fn if_match_and_if_unmodified_since_answer_412() {
        let etag = EntityTag::strong("v2").unwrap();
        let weak = EntityTag::weak("v2").unwrap();
        let table: &[(&str, &[Field], Option<&EntityTag>, Precondition)] = &[
            ("PUT", &[("If-Match", "\"v2\"")], Some(&etag), PROCEED),
            (
                "PUT",
                &[("If-Match", "\"v1\"")],
                Some(&etag),
                PreconditionFailed,
            ),
            (
                "GET",
                &[("If-Match", "\"v1\"")],
                Some(&etag),
                PreconditionFailed,
            ),
            // Strong comparison: a weak tag never matches If-Match.
            (
                "PUT",
                &[("If-Match", "W/\"v2\"")],
                Some(&etag),
                PreconditionFailed,
            ),
            (
                "PUT",
                &[("If-Match", "\"v2\"")],
                Some(&weak),
                PreconditionFailed,
            ),
            ("PUT", &[("If-Match", "*")], Some(&etag), PROCEED),
            ("PUT", &[("If-Match", "*")], None, PROCEED),
            ("PUT", &[("If-Match", "\"v2\"")], None, PreconditionFailed),
            (
                "PUT",
                &[("If-Match", "garbage")],
                Some(&etag),
                PreconditionFailed,
            ),
            (
                "PUT",
                &[("If-Unmodified-Since", OLDER)],
                None,
                PreconditionFailed,
            ),
            ("PUT", &[("If-Unmodified-Since", MODIFIED)], None, PROCEED),
            ("GET", &[("If-Unmodified-Since", NEWER)], None, PROCEED),
            // An unreadable date is ignored.
            (
                "PUT",
                &[("If-Unmodified-Since", "yesterday")],
                None,
                PROCEED,
            ),
            // If-Unmodified-Since is ignored when If-Match is there.
            (
                "PUT",
                &[("If-Match", "\"v2\""), ("If-Unmodified-Since", OLDER)],
                Some(&etag),
                PROCEED,
            ),
        ];
        for (method, fields, tag, expected) in table {
            assert_eq!(
                check(method, fields, *tag),
                *expected,
                "{method} {fields:?}"
            );
        }
    }

    #[test]
    fn if_modified_since_applies_to_reads_only_in_all_three_date_forms() {
        let table: &[(&str, &str, Precondition)] = &[
            ("GET", MODIFIED, NotModified),
            ("GET", NEWER, NotModified),
            ("GET", OLDER, PROCEED),
            ("HEAD", MODIFIED, NotModified),
            ("POST", MODIFIED, PROCEED),
            ("GET", "Sunday, 06-Nov-94 08:49:37 GMT", NotModified),
            ("GET", "Sun Nov  6 08:49:37 1994", NotModified),
            ("GET", "Sun Nov  6 08:49:36 1994", PROCEED),
            ("GET", "not a date", PROCEED),
        ];
        for (method, date, expected) in table {
            let fields = [("If-Modified-Since", *date)];
            assert_eq!(check(method, &fields, None), *expected, "{method} {date}");
        }
    }

    #[test]
    fn if_range_keeps_a_range_only_for_the_same_representation() {
        let etag = EntityTag::strong("v2").unwrap();
        let weak = EntityTag::weak("v2").unwrap();
        let range = ("Range", "bytes=0-9");
        let table: &[(&str, Option<&EntityTag>, Precondition)] = &[
            ("\"v2\"", Some(&etag), PROCEED),
            ("\"v1\"", Some(&etag), WHOLE),
            ("W/\"v2\"", Some(&etag), WHOLE),
            ("\"v2\"", Some(&weak), WHOLE),
            (MODIFIED, None, PROCEED),
            (OLDER, None, WHOLE),
            (NEWER, None, WHOLE),
            ("nonsense", Some(&etag), WHOLE),
        ];
        for (condition, tag, expected) in table {
            let fields = [range, ("If-Range", *condition)];
            assert_eq!(check("GET", &fields, *tag), *expected, "{condition}");
        }
        // Without a Range, or on another method, If-Range means nothing.
        let fields = [("If-Range", "\"v1\"")];
        assert_eq!(check("GET", &fields, Some(&etag)), PROCEED);
        let fields = [range, ("If-Range", "\"v1\"")];
        assert_eq!(check("HEAD", &fields, Some(&etag)), PROCEED);
    }
}
