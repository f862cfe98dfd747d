//! `http://` URLs as the client needs them: a host, a port and a request target (the part
//! of Twisted's `URI.fromBytes` that `Agent` uses), parsed by hand and strictly.
//!
//! ```
//! use torsion_web::client::{Url, UrlError};
//! let url: Url = "http://example.com:8080/a/b?x=1#frag".parse().unwrap();
//! assert_eq!((url.host(), url.port(), url.target()), ("example.com", 8080, "/a/b?x=1"));
//! assert_eq!(url.authority(), "example.com:8080"); // what goes in `Host`
//! assert_eq!(url.join("../c").unwrap().to_string(), "http://example.com:8080/c");
//! assert_eq!("https://example.com/".parse::<Url>(), Err(UrlError::HttpsNotSupported));
//! ```
//!
//! Only what an HTTP/1.1 client sends is accepted: scheme `http` (`https` is refused with
//! its own error until TLS lands), a registered name, an IPv4 address or a bracketed IPv6
//! address, an optional decimal port, and a path and query of visible ASCII (so a URL can
//! never smuggle CR, LF or a space into the request line). User information
//! (`user:pass@`) is refused rather than sent in the clear. The fragment is dropped, as
//! browsers and Twisted do: it never goes on the wire.

use std::{fmt, net::Ipv6Addr, str::FromStr};

/// An `http` URL split into what a request needs; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    /// The host as written, without brackets for IPv6, lower-cased.
    host: String,
    port: u16,
    /// Whether the port was written (it then appears in `Host` and `Display`).
    explicit_port: bool,
    /// The origin-form request target: path (at least `/`) and query.
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
    /// A host with a character no host name or address has.
    InvalidHost {
        /// The host, as written.
        host: String,
    },
    /// A port that is not a decimal number from 1 to 65535.
    InvalidPort {
        /// The port, as written.
        port: String,
    },
    /// A byte in the path or query that is not visible ASCII (a space, CR, LF, non-ASCII).
    InvalidCharacter {
        /// The offending character.
        character: char,
    },
}

impl Url {
    /// The host: a name, an IPv4 address, or an IPv6 address without its brackets.
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

    /// `host[:port]` as sent in `Host` (brackets kept for IPv6; the port only if written).
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

    /// Resolves `reference` (a `Location` value, say) against this URL (RFC 3986 §5.2):
    /// absolute URLs, `//host/path`, `/path`, `relative/path`, `?query` and `#fragment`.
    ///
    /// # Errors
    /// The [`UrlError`] of the resolved URL.
    pub fn join(&self, reference: &str) -> Result<Url, UrlError> {
        let reference = reference.split('#').next().unwrap_or_default();
        if has_scheme(reference) {
            return reference.parse();
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return format!("http://{rest}").parse();
        }
        let base = format!("http://{}", self.authority());
        let target = if reference.is_empty() {
            self.target.clone()
        } else if reference.starts_with('/') {
            reference.to_owned()
        } else if reference.starts_with('?') {
            let path = self.target.split('?').next().unwrap_or("/");
            format!("{path}{reference}")
        } else {
            let path = self.target.split('?').next().unwrap_or("/");
            let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
            format!("{dir}/{reference}")
        };
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target.as_str(), None),
        };
        let mut joined = base + &remove_dot_segments(path);
        if let Some(query) = query {
            joined.push('?');
            joined.push_str(query);
        }
        joined.parse()
    }
}

impl FromStr for Url {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Url, UrlError> {
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
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_authority(authority)?;
        if let Some(character) = target.chars().find(|c| !('!'..='~').contains(c)) {
            return Err(UrlError::InvalidCharacter { character });
        }
        let target = if target.starts_with('/') {
            target.to_owned()
        } else {
            format!("/{target}") // "" or "?query": the path is "/"
        };
        Ok(Url {
            host,
            port: port.unwrap_or(80),
            explicit_port: port.is_some(),
            target,
        })
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
                write!(f, "invalid url: character {character:?} in path or query")
            }
        }
    }
}

impl std::error::Error for UrlError {}

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

/// Splits `host[:port]` or `[v6][:port]`, checking both.
fn split_authority(authority: &str) -> Result<(String, Option<u16>), UrlError> {
    let invalid_host = || UrlError::InvalidHost {
        host: authority.to_owned(),
    };
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(invalid_host)?;
        v6.parse::<Ipv6Addr>().map_err(|_| invalid_host())?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(invalid_host)?),
        };
        (v6, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    let name_byte = |c: char| c.is_ascii_alphanumeric() || "-._~%!$&'()*+,;=".contains(c);
    if !authority.starts_with('[') && !host.chars().all(name_byte) {
        return Err(invalid_host());
    }
    let port = match port {
        None => None,
        Some(port) => Some(parse_port(port).ok_or_else(|| UrlError::InvalidPort {
            port: port.to_owned(),
        })?),
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// 1 to 65535, digits only (no sign, no spaces), with checked arithmetic.
fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || port.len() > 5 {
        return None;
    }
    let mut value: u32 = 0;
    for b in port.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    u16::try_from(value).ok().filter(|&p| p != 0)
}

/// RFC 3986 §5.2.4: `.` and `..` segments removed; never climbs above the root.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                if i == last {
                    out.push(""); // "/a/b/.." is "/a/": the directory stays a directory
                }
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
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
            ("http://a:/", InvalidPort { port: "".into() }),
            ("http://a/x y", InvalidCharacter { character: ' ' }),
            (
                "http://a/x\r\nHost: b",
                InvalidCharacter { character: '\r' },
            ),
            ("http://a/é", InvalidCharacter { character: 'é' }),
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
        ];
        for (reference, expected) in table {
            assert_eq!(
                base.join(reference).unwrap().to_string(),
                *expected,
                "{reference}"
            );
        }
        assert_eq!(base.join("https://x/"), Err(UrlError::HttpsNotSupported));
    }

    #[test]
    fn origins_compare_host_and_port() {
        let a: Url = "http://a.example/x".parse().unwrap();
        assert!(a.same_origin(&"http://A.EXAMPLE:80/y".parse().unwrap()));
        assert!(!a.same_origin(&"http://a.example:81/".parse().unwrap()));
        assert!(!a.same_origin(&"http://b.example/".parse().unwrap()));
    }
}
