//! `http://` URLs as the client needs them: a host, a port and a request target (the part
//! of Twisted's `URI.fromBytes` that `Agent` uses), read by the WHATWG URL rules that
//! browsers and Python's `requests` follow (the `url` crate).
//!
//! ```
//! use torsion_web::client::{Url, UrlError};
//! let url: Url = "http://example.com:8080/a/b?x=1#frag".parse().unwrap();
//! assert_eq!((url.host(), url.port(), url.target()), ("example.com", 8080, "/a/b?x=1"));
//! assert_eq!(url.authority(), "example.com:8080"); // what goes in `Host`
//! assert_eq!(url.join("../c").unwrap().to_string(), "http://example.com:8080/c");
//! // Encoded as a browser would: a space, non-ASCII text, an international host name.
//! let url: Url = "http://bücher.example/a café?q=ü".parse().unwrap();
//! assert_eq!(url.host(), "xn--bcher-kva.example");
//! assert_eq!(url.target(), "/a%20caf%C3%A9?q=%C3%BC");
//! assert_eq!("https://example.com/".parse::<Url>(), Err(UrlError::HttpsNotSupported));
//! ```
//!
//! What must be encoded is percent-encoded (spaces and non-ASCII text in the path and
//! query), host names are lower-cased and international ones turned to punycode (IDNA),
//! `http://host:/` means port 80, and relative references resolve per RFC 3986 as
//! browsers do. What stays refused, with its own [`UrlError`]: a scheme other than `http`
//! (`https` has its own error until TLS lands), user information (`user:pass@`, never
//! sent in the clear), an empty host, port 0 or past 65535, a host no lookup could
//! find, and control characters anywhere (browsers drop a CR or LF silently; a client
//! library should say so instead). A URL can never smuggle CR, LF or a space into the
//! request line. The fragment is dropped, as browsers and Twisted do: it never goes on
//! the wire.

use std::{fmt, str::FromStr};

/// An `http` URL split into what a request needs; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    /// The host: lower-cased, punycode for international names, IPv6 without brackets.
    host: String,
    port: u16,
    /// Whether a port other than 80 was written (it then appears in `Host` and `Display`).
    explicit_port: bool,
    /// The origin-form request target: path (at least `/`) and query, percent-encoded.
    target: String,
}

/// Why a string is not an `http` URL this client can fetch.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// No `scheme://` at the start.
    MissingScheme,
    /// `https`: refused until TLS lands.
    HttpsNotSupported,
    /// A scheme other than `http`.
    UnsupportedScheme {
        /// The scheme, as written.
        scheme: String,
    },
    /// `user:password@` before the host.
    UserInfo,
    /// Nothing between `//` and the path.
    EmptyHost,
    /// A host with a character no host name or address has, or a name IDNA refuses.
    InvalidHost {
        /// The host, as written.
        host: String,
    },
    /// A port that is not a decimal number from 1 to 65535.
    InvalidPort {
        /// The port, as written.
        port: String,
    },
    /// A control character (CR, LF, NUL, ...) anywhere in the URL.
    InvalidCharacter {
        /// The offending character.
        character: char,
    },
}

impl Url {
    /// The host: a name (punycode if international), an IPv4 address, or an IPv6 address
    /// without its brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: as written, else 80.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target: path and query, as sent on the request line.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// `host[:port]` as sent in `Host` (brackets kept for IPv6; the port only if written
    /// and not 80).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.explicit_port {
            format!("{host}:{}", self.port)
        } else {
            host
        }
    }

    /// True if `other` has the same scheme, host and port (RFC 6454's origin).
    pub fn same_origin(&self, other: &Url) -> bool {
        self.host == other.host && self.port == other.port
    }

    /// Resolves `reference` (a `Location` value, say) against this URL (RFC 3986 §5.2, as
    /// WHATWG's URL parser does it): absolute URLs, `//host/path`, `/path`,
    /// `relative/path`, `?query` and `#fragment`, with `.` and `..` removed.
    ///
    /// # Errors
    /// The [`UrlError`] of the resolved URL.
    pub fn join(&self, reference: &str) -> Result<Url, UrlError> {
        refuse_controls(reference)?;
        let base = url::Url::parse(&self.to_string()).map_err(|_| UrlError::MissingScheme)?;
        let joined = base.join(reference).map_err(|error| {
            if has_scheme(reference) {
                // An absolute URL's own error: read it alone for the precise variant.
                return Url::from_str(reference)
                    .err()
                    .unwrap_or(convert(error, reference));
            }
            match reference.strip_prefix("//") {
                Some(rest) => convert(error, &format!("http://{rest}")),
                None => convert(error, reference),
            }
        })?;
        Url::from_parsed(&joined, joined.as_str())
    }

    /// Checks what the WHATWG parser made of `input` against what this client sends.
    fn from_parsed(parsed: &url::Url, input: &str) -> Result<Url, UrlError> {
        match parsed.scheme() {
            "http" => {}
            "https" => return Err(UrlError::HttpsNotSupported),
            other => {
                return Err(UrlError::UnsupportedScheme {
                    scheme: other.to_owned(),
                })
            }
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(UrlError::UserInfo);
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(url::Host::Ipv4(v4)) => v4.to_string(),
            Some(url::Host::Ipv6(v6)) => v6.to_string(),
            _ => return Err(UrlError::EmptyHost),
        };
        let port = parsed.port().unwrap_or(80);
        if port == 0 {
            return Err(UrlError::InvalidPort {
                port: written_port(input).unwrap_or("0").to_owned(),
            });
        }
        let mut target = parsed.path().to_owned();
        if let Some(query) = parsed.query() {
            target.push('?');
            target.push_str(query);
        }
        Ok(Url {
            host,
            port,
            explicit_port: port != 80,
            target,
        })
    }
}

impl FromStr for Url {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Url, UrlError> {
        refuse_controls(s)?;
        let Some((scheme, rest)) = s.split_once("://").filter(|_| has_scheme(s)) else {
            return Err(UrlError::MissingScheme);
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Err(UrlError::HttpsNotSupported);
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(UrlError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            });
        }
        // WHATWG reads `http:///x` as `http://x/`; `requests` refuses it, and so do we:
        // an authority must be written where the URL says one is.
        let authority = authority_of(rest);
        if authority.is_empty() || authority.starts_with(':') {
            return Err(UrlError::EmptyHost);
        }
        let parsed = url::Url::parse(s).map_err(|error| convert(error, s))?;
        Url::from_parsed(&parsed, s)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.target)
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::MissingScheme => f.write_str("invalid url: no scheme (expected http://)"),
            UrlError::HttpsNotSupported => f.write_str("https is not supported yet"),
            UrlError::UnsupportedScheme { scheme } => {
                write!(f, "invalid url: unsupported scheme {scheme:?}")
            }
            UrlError::UserInfo => f.write_str("invalid url: credentials in urls are not supported"),
            UrlError::EmptyHost => f.write_str("invalid url: empty host"),
            UrlError::InvalidHost { host } => write!(f, "invalid url: invalid host {host:?}"),
            UrlError::InvalidPort { port } => write!(f, "invalid url: invalid port {port:?}"),
            UrlError::InvalidCharacter { character } => {
                write!(f, "invalid url: control character {character:?}")
            }
        }
    }
}

impl std::error::Error for UrlError {}

/// Refuses C0 controls and DEL anywhere in `s`.
fn refuse_controls(s: &str) -> Result<(), UrlError> {
    match s.chars().find(|c| c.is_ascii_control()) {
        Some(character) => Err(UrlError::InvalidCharacter { character }),
        None => Ok(()),
    }
}

/// True if `s` starts with `scheme://` (RFC 3986 §3.1: a letter, then letters, digits,
/// `+`, `-`, `.`).
fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// The authority of what follows `scheme://`: up to the first `/`, `?`, `#` or `\`.
fn authority_of(rest: &str) -> &str {
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    rest.get(..end).unwrap_or(rest)
}

/// The port as written in `input`'s authority, if any.
fn written_port(input: &str) -> Option<&str> {
    let (_, rest) = input.split_once("://")?;
    let authority = authority_of(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let after_v6 = host_port
        .rsplit_once(']')
        .map_or(host_port, |(_, after)| after);
    after_v6.rsplit_once(':').map(|(_, port)| port)
}

/// The `UrlError` for what the WHATWG parser refused in `input`.
fn convert(error: url::ParseError, input: &str) -> UrlError {
    use url::ParseError as E;
    let host = || {
        let rest = input.split_once("://").map_or(input, |(_, rest)| rest);
        let authority = authority_of(rest);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        host_port.to_owned()
    };
    match error {
        E::EmptyHost => UrlError::EmptyHost,
        E::InvalidPort => UrlError::InvalidPort {
            port: written_port(input).unwrap_or_default().to_owned(),
        },
        E::RelativeUrlWithoutBase | E::RelativeUrlWithCannotBeABaseBase => UrlError::MissingScheme,
        _ => UrlError::InvalidHost { host: host() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_a_client_sends() {
        let table: &[(&str, &str, u16, &str, &str)] = &[
            ("http://a.example", "a.example", 80, "/", "a.example"),
            ("http://A.Example/", "a.example", 80, "/", "a.example"),
            (
                "HTTP://a.example:8080/x?y=1",
                "a.example",
                8080,
                "/x?y=1",
                "a.example:8080",
            ),
            ("http://a.example?q", "a.example", 80, "/?q", "a.example"),
            (
                "http://127.0.0.1:9/p#frag",
                "127.0.0.1",
                9,
                "/p",
                "127.0.0.1:9",
            ),
            ("http://[::1]:81/", "::1", 81, "/", "[::1]:81"),
            ("http://[::1]/", "::1", 80, "/", "[::1]"),
            // As browsers and `requests` take them.
            ("http://a.example:/", "a.example", 80, "/", "a.example"),
            ("http://a.example:80/", "a.example", 80, "/", "a.example"),
            ("http://a/x y", "a", 80, "/x%20y", "a"),
            ("http://a/café", "a", 80, "/caf%C3%A9", "a"),
            ("http://a/%C3%A9", "a", 80, "/%C3%A9", "a"),
            ("http://a/p?q=a b&r=é", "a", 80, "/p?q=a%20b&r=%C3%A9", "a"),
            ("http://a/b/../c/./d", "a", 80, "/c/d", "a"),
            (
                "http://Bücher.Example/",
                "xn--bcher-kva.example",
                80,
                "/",
                "xn--bcher-kva.example",
            ),
            ("http://[0:0::1]:81/", "::1", 81, "/", "[::1]:81"),
        ];
        for (input, host, port, target, authority) in table {
            let url: Url = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(url.host(), *host, "{input}");
            assert_eq!(url.port(), *port, "{input}");
            assert_eq!(url.target(), *target, "{input}");
            assert_eq!(url.authority(), *authority, "{input}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_or_must_not_send() {
        use UrlError::*;
        let table: &[(&str, UrlError)] = &[
            ("a.example/x", MissingScheme),
            ("://a.example", MissingScheme),
            ("https://a.example/", HttpsNotSupported),
            (
                "ftp://a.example/",
                UnsupportedScheme {
                    scheme: "ftp".into(),
                },
            ),
            ("http://user:pw@a.example/", UserInfo),
            ("http:///x", EmptyHost),
            ("http://:80/", EmptyHost),
            ("http://a b/", InvalidHost { host: "a b".into() }),
            ("http://a<b/", InvalidHost { host: "a<b".into() }),
            (
                "http://[::1/",
                InvalidHost {
                    host: "[::1".into(),
                },
            ),
            (
                "http://[zz]/",
                InvalidHost {
                    host: "[zz]".into(),
                },
            ),
            ("http://a:0/", InvalidPort { port: "0".into() }),
            (
                "http://a:65536/",
                InvalidPort {
                    port: "65536".into(),
                },
            ),
            ("http://a:+80/", InvalidPort { port: "+80".into() }),
            ("http://a:x/", InvalidPort { port: "x".into() }),
            (
                "http://a/x\r\nHost: b",
                InvalidCharacter { character: '\r' },
            ),
            ("http://a/x\ty", InvalidCharacter { character: '\t' }),
            ("http://a/\0", InvalidCharacter { character: '\0' }),
        ];
        for (input, error) in table {
            assert_eq!(input.parse::<Url>().as_ref(), Err(error), "{input}");
        }
        assert_eq!(HttpsNotSupported.to_string(), "https is not supported yet");
    }

    #[test]
    fn joins_references_as_rfc_3986_says() {
        let base: Url = "http://a.example:8/b/c/d?q".parse().unwrap();
        let table: &[(&str, &str)] = &[
            ("http://other/x", "http://other/x"),
            ("//other:9/x", "http://other:9/x"),
            ("/g", "http://a.example:8/g"),
            ("g", "http://a.example:8/b/c/g"),
            ("./g", "http://a.example:8/b/c/g"),
            ("../g", "http://a.example:8/b/g"),
            ("../../../../g", "http://a.example:8/g"),
            ("..", "http://a.example:8/b/"),
            ("?y", "http://a.example:8/b/c/d?y"),
            ("g?y#s", "http://a.example:8/b/c/g?y"),
            ("", "http://a.example:8/b/c/d?q"),
            ("/café d", "http://a.example:8/caf%C3%A9%20d"),
            ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ];
        for (reference, expected) in table {
            assert_eq!(
                base.join(reference).unwrap().to_string(),
                *expected,
                "{reference}"
            );
        }
        assert_eq!(base.join("https://x/"), Err(UrlError::HttpsNotSupported));
        assert_eq!(
            base.join("/x\r\nHost: evil"),
            Err(UrlError::InvalidCharacter { character: '\r' })
        );
        assert_eq!(base.join("//:8/"), Err(UrlError::EmptyHost));
    }

    #[test]
    fn origins_compare_host_and_port() {
        let a: Url = "http://a.example/x".parse().unwrap();
        assert!(a.same_origin(&"http://A.EXAMPLE:80/y".parse().unwrap()));
        assert!(!a.same_origin(&"http://a.example:81/".parse().unwrap()));
        assert!(!a.same_origin(&"http://b.example/".parse().unwrap()));
    }
}
