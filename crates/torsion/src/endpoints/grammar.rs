//! The syntax shared by every endpoint type: segments split on `:`, `key=value` pairs,
//! backslash escapes, and binding segments to a type's parameters the way Twisted's
//! `_parse` and Python's call rules do.
//!
//! Twisted's tokenizer treats `=` as an operator only until the first `=` of a segment,
//! so a value may contain `=` unescaped (`name=a=b` is the key `name` with the value
//! `a=b`), while `:` always ends a segment unless escaped. A backslash takes the next
//! character literally, whatever it is.

use std::fmt;

use super::error::EndpointError;

/// One `:`-separated piece of an endpoint string, escapes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// A piece without `=`: a positional argument.
    Positional(String),
    /// A `key=value` piece.
    Keyword(String, String),
}

/// An endpoint string cut into its type and its arguments.
#[derive(Debug)]
pub(super) struct Split {
    /// The type, as written (`tcp`, `UNIX`).
    pub kind: String,
    /// The arguments after the type, trailing empty ones dropped.
    pub segments: Vec<Segment>,
}

/// Cuts `input` into segments. `expected` names the types this side accepts, for the
/// error when the type is missing.
pub(super) fn split(input: &str, expected: &'static str) -> Result<Split, EndpointError> {
    if input.is_empty() {
        return Err(EndpointError::Empty);
    }
    if input.len() > super::MAX_LENGTH {
        return Err(EndpointError::TooLong {
            len: input.len(),
            max: super::MAX_LENGTH,
        });
    }
    let mut segments = tokenize(input)?.into_iter();
    let kind = match segments.next() {
        Some(Segment::Positional(kind)) if !kind.is_empty() => kind,
        _ => {
            return Err(EndpointError::MissingType {
                input: input.to_owned(),
                expected,
            })
        }
    };
    // A trailing empty piece (`tcp:80:`) is a stray colon: Twisted passes it on as an
    // empty string, which the parameters it can fill ignore, so it is dropped. One in the
    // middle (`tcp::80`, `interface=::1`) is Twisted's error too, and almost always an
    // IPv6 address whose colons were not escaped: say so.
    let mut segments: Vec<Segment> = segments.collect();
    while matches!(segments.last(), Some(Segment::Positional(text)) if text.is_empty()) {
        segments.pop();
    }
    let mut previous: Option<&Segment> = None;
    for segment in &segments {
        if matches!(segment, Segment::Positional(text) if text.is_empty()) {
            let keyword = match previous {
                Some(Segment::Keyword(key, _)) => Some(key.clone()),
                _ => None,
            };
            return Err(EndpointError::StrayColon {
                input: input.to_owned(),
                keyword,
            });
        }
        previous = Some(segment);
    }
    Ok(Split { kind, segments })
}

/// Splits on unescaped `:`, and each piece on its first unescaped `=`.
fn tokenize(input: &str) -> Result<Vec<Segment>, EndpointError> {
    let mut segments = Vec::new();
    let mut key: Option<String> = None;
    let mut current = String::new();
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => current.push(escaped),
                None => {
                    return Err(EndpointError::TrailingBackslash {
                        input: input.to_owned(),
                    })
                }
            },
            ':' => segments.push(finish(key.take(), std::mem::take(&mut current))),
            '=' if key.is_none() => key = Some(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    segments.push(finish(key, current));
    Ok(segments)
}

fn finish(key: Option<String>, text: String) -> Segment {
    match key {
        Some(key) => Segment::Keyword(key, text),
        None => Segment::Positional(text),
    }
}

/// The parameters one endpoint type takes.
#[derive(Debug)]
pub(super) struct Spec {
    /// The grammar, quoted in error messages: `tcp:PORT[:interface=ADDRESS]...`.
    pub usage: &'static str,
    /// Each parameter's accepted names, the canonical one first; the order is the order
    /// positional arguments fill them in.
    pub params: &'static [&'static [&'static str]],
}

/// The values bound to a [`Spec`]'s parameters, by index.
#[derive(Debug)]
pub(super) struct Bound {
    values: Vec<Option<String>>,
}

impl Bound {
    /// Takes parameter `index`'s value, if it was given.
    pub fn take(&mut self, index: usize) -> Option<String> {
        self.values.get_mut(index).and_then(Option::take)
    }
}

/// Binds `segments` to `spec`'s parameters as Python binds a call: positional arguments
/// fill the parameters listed in `positional` in order, then each keyword fills the
/// parameter it names; a parameter filled twice is an error.
pub(super) fn bind(
    input: &str,
    spec: &Spec,
    segments: Vec<Segment>,
    positional: &[usize],
) -> Result<Bound, EndpointError> {
    let mut values = vec![None; spec.params.len()];
    let mut slots = positional.iter();
    let mut keywords = Vec::new();
    for segment in segments {
        match segment {
            Segment::Positional(argument) => {
                let Some(value) = slots.next().and_then(|&slot| values.get_mut(slot)) else {
                    return Err(EndpointError::UnexpectedArgument {
                        input: input.to_owned(),
                        argument,
                        usage: spec.usage,
                    });
                };
                *value = Some(argument);
            }
            Segment::Keyword(key, value) => keywords.push((key, value)),
        }
    }
    for (key, value) in keywords {
        let Some(slot) = spec.params.iter().position(|names| names.contains(&&*key)) else {
            return Err(EndpointError::UnknownKeyword {
                input: input.to_owned(),
                keyword: key,
                usage: spec.usage,
            });
        };
        // `position` found `slot` in `params`, and `values` has one entry per param.
        let target = &mut values[slot];
        if target.is_some() {
            let canonical = spec.params[slot].first().copied().unwrap_or_default();
            return Err(EndpointError::DuplicateKeyword {
                input: input.to_owned(),
                keyword: canonical.to_owned(),
            });
        }
        *target = Some(value);
    }
    Ok(Bound { values })
}

/// A decimal number written with ASCII digits only: no sign, no spaces, no `_` (unlike
/// Python's `int`, which Twisted uses), and no overflow.
pub(super) fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |total, byte| match byte {
        b'0'..=b'9' => total.checked_mul(10)?.checked_add(u64::from(byte - b'0')),
        _ => None,
    })
}

/// Writes a type, positional argument or key, escaping `\`, `:` and `=`.
pub(super) fn write_argument(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    write_escaped(f, text, &['\\', ':', '='])
}

/// Writes a keyword's value, escaping `\` and `:`; `=` needs no escape after the key's.
pub(super) fn write_value(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    write_escaped(f, text, &['\\', ':'])
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str, special: &[char]) -> fmt::Result {
    let mut rest = text;
    while let Some(at) = rest.find(special) {
        let (plain, tail) = rest.split_at(at);
        f.write_str(plain)?;
        f.write_str("\\")?;
        let mut chars = tail.chars();
        if let Some(c) = chars.next() {
            fmt::Write::write_char(f, c)?;
        }
        rest = chars.as_str();
    }
    f.write_str(rest)
}

/// Writes `:key=value`.
pub(super) fn write_keyword(f: &mut fmt::Formatter<'_>, key: &str, value: &str) -> fmt::Result {
    f.write_str(":")?;
    write_argument(f, key)?;
    f.write_str("=")?;
    write_value(f, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positional(text: &str) -> Segment {
        Segment::Positional(text.to_owned())
    }

    fn keyword(key: &str, value: &str) -> Segment {
        Segment::Keyword(key.to_owned(), value.to_owned())
    }

    #[test]
    fn splits_like_twisted_parse() {
        let cases: &[(&str, &str, Vec<Segment>)] = &[
            ("tcp:80", "tcp", vec![positional("80")]),
            (
                "a:b:d=1:c",
                "a",
                vec![positional("b"), keyword("d", "1"), positional("c")],
            ),
            (
                "t:greet=ing=world",
                "t",
                vec![keyword("greet", "ing=world")],
            ),
            ("t:a\\:b", "t", vec![positional("a:b")]),
            ("t:a\\=b", "t", vec![positional("a=b")]),
            ("t:k\\=ey=v\\:al", "t", vec![keyword("k=ey", "v:al")]),
            ("t:x\\\\y", "t", vec![positional("x\\y")]),
            ("t:\\q", "t", vec![positional("q")]),
            ("t:80::", "t", vec![positional("80")]),
            ("t::", "t", vec![]),
            ("t:=", "t", vec![keyword("", "")]),
            ("t", "t", vec![]),
        ];
        for (input, kind, segments) in cases {
            let split = split(input, "t").unwrap();
            assert_eq!(&split.kind, kind, "{input}");
            assert_eq!(&split.segments, segments, "{input}");
        }
    }

    #[test]
    fn refuses_strings_without_a_type() {
        for input in [":80", "port=80:tcp", "=", ":", "::"] {
            assert!(
                matches!(split(input, "t"), Err(EndpointError::MissingType { .. })),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_empty_arguments_in_the_middle() {
        for (input, keyword) in [
            ("t::80", None),
            ("t:80:::5", None),
            ("t:interface=::1", Some("interface")),
            ("t:k=fe80::1:80", Some("k")),
        ] {
            let expected = EndpointError::StrayColon {
                input: input.to_owned(),
                keyword: keyword.map(str::to_owned),
            };
            assert_eq!(split(input, "t").unwrap_err(), expected, "{input}");
        }
    }

    #[test]
    fn refuses_a_trailing_backslash_and_overlong_strings() {
        assert!(matches!(
            split("tcp:80\\", "t"),
            Err(EndpointError::TrailingBackslash { .. })
        ));
        let long = "x".repeat(super::super::MAX_LENGTH + 1);
        assert!(matches!(
            split(&long, "t"),
            Err(EndpointError::TooLong { .. })
        ));
    }

    struct Escaped<'a>(&'a str, bool);

    impl fmt::Display for Escaped<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.1 {
                true => write_value(f, self.0),
                false => write_argument(f, self.0),
            }
        }
    }

    #[test]
    fn escapes_what_the_tokenizer_would_split_on() {
        assert_eq!(Escaped("a:b=c\\d", false).to_string(), "a\\:b\\=c\\\\d");
        assert_eq!(Escaped("a:b=c\\d", true).to_string(), "a\\:b=c\\\\d");
        assert_eq!(Escaped("::1", false).to_string(), "\\:\\:1");
        assert_eq!(Escaped("é:", true).to_string(), "é\\:");
    }
}
