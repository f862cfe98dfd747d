//! The access log in the Combined Log Format (Twisted's `combinedLogFormatter`), sent
//! through `tracing` at INFO level with the target `torsion_web::access`.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use torsion_web::server::access_log::AccessLine;
//! let line = AccessLine {
//!     client: "127.0.0.1",
//!     time: SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777),
//!     method: "GET",
//!     target: "/index.html",
//!     version: "HTTP/1.1",
//!     status: 200,
//!     bytes: 1234,
//!     referer: Some(b"http://example.com/"),
//!     user_agent: Some(b"curl/8.5 \"quoted\""),
//! };
//! assert_eq!(
//!     line.to_string(),
//!     "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /index.html HTTP/1.1\" 200 1234 \
//!      \"http://example.com/\" \"curl/8.5 \\\"quoted\\\"\""
//! );
//! ```
//!
//! The line is formatted only when a subscriber records the event, so a server with no
//! subscriber pays one disabled-callsite check per request. Quotes, backslashes and bytes
//! outside printable ASCII in the request line, `Referer` and `User-Agent` are escaped
//! (`\"`, `\\`, `\xNN`), so a client cannot forge a log line.

use std::fmt;
use std::time::SystemTime;

use crate::http::date::civil_from_days;

/// One request as the access log records it; its `Display` is the log line.
#[derive(Debug, Clone)]
pub struct AccessLine<'a> {
    /// The client's address, without the port.
    pub client: &'a str,
    /// When the request arrived.
    pub time: SystemTime,
    /// The request method.
    pub method: &'a str,
    /// The request target, as sent.
    pub target: &'a str,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: &'a str,
    /// The response status.
    pub status: u16,
    /// Body bytes sent (`-` when none).
    pub bytes: u64,
    /// The `Referer` field, if any.
    pub referer: Option<&'a [u8]>,
    /// The `User-Agent` field, if any.
    pub user_agent: Option<&'a [u8]>,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl fmt::Display for AccessLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self
            .time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (year, month, day) = civil_from_days(seconds / 86_400);
        let in_day = seconds % 86_400;
        let month = MONTHS.get(month as usize - 1).copied().unwrap_or("Jan");
        write!(
            f,
            "{} - - [{day:02}/{month}/{year}:{:02}:{:02}:{:02} +0000] \"",
            self.client,
            in_day / 3600,
            in_day / 60 % 60,
            in_day % 60
        )?;
        write_escaped(f, self.method.as_bytes())?;
        f.write_str(" ")?;
        write_escaped(f, self.target.as_bytes())?;
        write!(f, " {}\" {} ", self.version, self.status)?;
        if self.bytes == 0 {
            f.write_str("-")?;
        } else {
            write!(f, "{}", self.bytes)?;
        }
        for field in [self.referer, self.user_agent] {
            f.write_str(" \"")?;
            match field {
                Some(value) => write_escaped(f, value)?,
                None => f.write_str("-")?,
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

/// Writes `bytes` with `"` and `\` backslashed and non-printable bytes as `\xNN`.
fn write_escaped(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for &b in bytes {
        match b {
            b'"' => f.write_str("\\\"")?,
            b'\\' => f.write_str("\\\\")?,
            b' '..=b'~' => fmt::Write::write_char(f, char::from(b))?,
            _ => write!(f, "\\x{b:02x}")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_client_cannot_forge_a_line() {
        let line = AccessLine {
            client: "::1",
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400),
            method: "POST",
            target: "/a\"b",
            version: "HTTP/1.0",
            status: 404,
            bytes: 0,
            referer: None,
            user_agent: Some(b"x\n::1 - - \xff"),
        };
        assert_eq!(
            line.to_string(),
            "::1 - - [29/Feb/2000:00:00:00 +0000] \"POST /a\\\"b HTTP/1.0\" 404 - \"-\" \
             \"x\\x0a::1 - - \\xff\""
        );
    }
}
