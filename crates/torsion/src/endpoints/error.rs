//! [`EndpointError`]: why an endpoint string was refused.
//!
//! Every message starts with the whole string that was given (so a user who passed
//! several `--listen` flags sees which one is wrong), then names the bad part and what
//! was expected: `tcp:80:backlog=x: backlog must be a number`.

use std::error::Error;
use std::fmt;

/// An endpoint string that could not be parsed, or describes an endpoint torsion cannot
/// build yet.
///
/// ```
/// use torsion::endpoints::{EndpointError, ServerEndpoint};
///
/// let err = "tcp:99999".parse::<ServerEndpoint>().unwrap_err();
/// assert!(matches!(err, EndpointError::InvalidValue { key: "port", .. }));
/// assert_eq!(err.to_string(), "tcp:99999: port must be a number from 0 to 65535");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointError {
    /// The string was empty.
    Empty,
    /// The string is longer than [`MAX_LENGTH`](super::MAX_LENGTH); it is not repeated in
    /// the message.
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The string ends in a backslash, which has nothing left to escape.
    TrailingBackslash {
        /// The whole string.
        input: String,
    },
    /// The string does not start with a type (`tcp`, `unix`, ...) but with `:` or a
    /// `key=value` pair.
    MissingType {
        /// The whole string.
        input: String,
        /// The types this side accepts, for the message.
        expected: &'static str,
    },
    /// The type before the first `:` is not one torsion knows.
    UnknownType {
        /// The whole string.
        input: String,
        /// The type as written.
        name: String,
        /// The types this side accepts, for the message.
        expected: &'static str,
    },
    /// A `key=value` pair whose key this type does not take.
    UnknownKeyword {
        /// The whole string.
        input: String,
        /// The key as written.
        keyword: String,
        /// The type's grammar, for the message.
        usage: &'static str,
    },
    /// A parameter given twice, as two keywords or as a positional argument and a keyword.
    DuplicateKeyword {
        /// The whole string.
        input: String,
        /// The parameter's name.
        keyword: String,
    },
    /// More positional arguments than the type takes.
    UnexpectedArgument {
        /// The whole string.
        input: String,
        /// The first argument too many.
        argument: String,
        /// The type's grammar, for the message.
        usage: &'static str,
    },
    /// A required parameter is missing.
    Missing {
        /// The whole string.
        input: String,
        /// What is missing (`port`, `path`, `index or name`).
        what: &'static str,
        /// The type's grammar, for the message.
        usage: &'static str,
    },
    /// An empty argument between two colons: a stray `:`, or an IPv6 address whose
    /// colons were not escaped (`interface=::1` instead of `interface=\:\:1`).
    StrayColon {
        /// The whole string.
        input: String,
        /// The keyword just before it, whose value probably held the colons.
        keyword: Option<String>,
    },
    /// A parameter's value is not of the expected form.
    InvalidValue {
        /// The whole string.
        input: String,
        /// The parameter's name.
        key: &'static str,
        /// The value as written (escapes removed).
        value: String,
        /// What it must be, completing "`key` must be ...".
        expected: &'static str,
    },
    /// Two parameters that exclude each other were both given.
    Conflict {
        /// The whole string.
        input: String,
        /// One parameter.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// The string is valid but describes an endpoint torsion cannot build yet
    /// (`ssl:`/`tls:` until TLS lands).
    Unsupported {
        /// The whole string.
        input: String,
        /// The kind of endpoint (`tls`).
        what: &'static str,
    },
}

impl EndpointError {
    /// The endpoint string this error is about; empty for [`Empty`](Self::Empty) and
    /// [`TooLong`](Self::TooLong).
    pub fn input(&self) -> &str {
        match self {
            EndpointError::Empty | EndpointError::TooLong { .. } => "",
            EndpointError::TrailingBackslash { input }
            | EndpointError::MissingType { input, .. }
            | EndpointError::UnknownType { input, .. }
            | EndpointError::UnknownKeyword { input, .. }
            | EndpointError::DuplicateKeyword { input, .. }
            | EndpointError::UnexpectedArgument { input, .. }
            | EndpointError::Missing { input, .. }
            | EndpointError::StrayColon { input, .. }
            | EndpointError::InvalidValue { input, .. }
            | EndpointError::Conflict { input, .. }
            | EndpointError::Unsupported { input, .. } => input,
        }
    }
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::Empty => {
                return f
                    .write_str("empty endpoint string (expected TYPE:ARGUMENTS, e.g. tcp:8080)")
            }
            EndpointError::TooLong { len, max } => {
                return write!(f, "endpoint string too long: {len} bytes (max {max})")
            }
            _ => write!(f, "{}: ", self.input())?,
        }
        match self {
            EndpointError::Empty | EndpointError::TooLong { .. } => Ok(()),
            EndpointError::TrailingBackslash { .. } => {
                f.write_str("trailing backslash (nothing left to escape; write \\\\ for one)")
            }
            EndpointError::MissingType { expected, .. } => {
                write!(f, "missing endpoint type (expected {expected})")
            }
            EndpointError::UnknownType { name, expected, .. } => {
                write!(f, "unknown endpoint type {name:?} (expected {expected})")
            }
            EndpointError::UnknownKeyword { keyword, usage, .. } => {
                write!(f, "unknown keyword {keyword:?} (expected {usage})")
            }
            EndpointError::DuplicateKeyword { keyword, .. } => {
                write!(f, "{keyword} given twice")
            }
            EndpointError::UnexpectedArgument {
                argument, usage, ..
            } => write!(f, "unexpected argument {argument:?} (expected {usage})"),
            EndpointError::Missing { what, usage, .. } => {
                write!(f, "missing {what} (expected {usage})")
            }
            EndpointError::StrayColon {
                keyword: Some(keyword),
                ..
            } => write!(
                f,
                "unescaped ':' in the value of {keyword} (write each ':' as \\:, e.g. \\:\\:1)"
            ),
            EndpointError::StrayColon { keyword: None, .. } => f.write_str(
                "empty argument between two ':' (escape the colons of an IPv6 address as \\:)",
            ),
            EndpointError::InvalidValue { key, expected, .. } => {
                write!(f, "{key} must be {expected}")
            }
            EndpointError::Conflict { first, second, .. } => {
                write!(f, "give {first} or {second}, not both")
            }
            EndpointError::Unsupported { what, .. } => {
                write!(f, "{what} endpoints are not supported yet")
            }
        }
    }
}

impl Error for EndpointError {}
