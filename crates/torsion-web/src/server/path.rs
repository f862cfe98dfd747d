//! Request targets taken apart: the path and query, path segments percent-decoded, and
//! query arguments (what Twisted's `Request.path`, `prepath`, `postpath` and `args`
//! hold).
//!
//! ```
//! use torsion_web::server::path::{percent_decode, query_args};
//! assert_eq!(percent_decode("a%20b%2F%2e%2E"), b"a b/..");
//! assert_eq!(
//!     query_args("q=caf%C3%A9&x=1+2&flag"),
//!     vec![("q".into(), "caf\u{e9}".into()), ("x".into(), "1 2".into()), ("flag".into(), "".into())]
//! );
//! ```

/// The path of a request target: everything before `?` for origin-form (`/a/b?q`), the
/// path of an absolute-form target (`http://host/a/b?q`, `/` when it has none), and
/// the target itself otherwise (`*`, `host:port`).
pub(crate) fn split_target(target: &str) -> (&str, Option<&str>) {
    // A byte search: `split_once('?')` goes through the general pattern machinery.
    let (path, query) = match target.bytes().position(|b| b == b'?') {
        Some(at) => (target.get(..at).unwrap_or_default(), target.get(at + 1..)),
        None => (target, None),
    };
    if path.starts_with('/') {
        return (path, query);
    }
    match path.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(slash) => (&rest[slash..], query),
            None => ("/", query),
        },
        None => (path, query),
    }
}

/// The raw (still percent-encoded) segments of `path` after its leading `/`: `/` has one
/// empty segment, `/a/b/` has `a`, `b` and an empty one, and a path that does not start
/// with `/` (`*`) has none.
pub(crate) fn raw_segments(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/')
        .map(|rest| rest.split('/'))
        .into_iter()
        .flatten()
}

/// `text` with each `%XX` replaced by its byte; a `%` not followed by two hex digits
/// stays as it is.
pub fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i]; // i < len
        if byte == b'%' {
            if let (Some(high), Some(low)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
    out
}

/// One segment decoded to text (invalid UTF-8 replaced by U+FFFD).
pub(crate) fn decode_segment(raw: &str) -> String {
    if !raw.contains('%') {
        return raw.to_owned();
    }
    String::from_utf8_lossy(&percent_decode(raw)).into_owned()
}

/// The `name=value` pairs of a query string (`application/x-www-form-urlencoded`: `+`
/// is a space), in order, each decoded (invalid UTF-8 replaced by U+FFFD). A pair
/// without `=` has an empty value; empty pairs are skipped.
pub fn query_args(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

/// `text` decoded as a form field: `+` is a space, then percent-decoding.
fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    String::from_utf8_lossy(&percent_decode(&spaced)).into_owned()
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_path_and_query() {
        let table = [
            ("/", ("/", None)),
            ("/a/b?x=1", ("/a/b", Some("x=1"))),
            ("/a?", ("/a", Some(""))),
            ("http://h:8080/p?q", ("/p", Some("q"))),
            ("http://h", ("/", None)),
            ("*", ("*", None)),
        ];
        for (target, expected) in table {
            assert_eq!(split_target(target), expected, "{target}");
        }
    }

    #[test]
    fn segments_follow_twisted() {
        let segments = |p| raw_segments(p).collect::<Vec<_>>();
        assert_eq!(segments("/"), [""]);
        assert_eq!(segments("/a/b/"), ["a", "b", ""]);
        assert_eq!(segments("//x"), ["", "x"]);
        assert!(segments("*").is_empty());
    }

    #[test]
    fn broken_escapes_stay_literal() {
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(percent_decode("%00"), b"\0");
        assert_eq!(decode_segment("%ff"), "\u{fffd}");
        assert_eq!(query_args("&&a=%3D&"), vec![("a".into(), "=".into())]);
    }
}
