//! Parameter values: the numbers, octal modes, flags and durations endpoint strings
//! carry, read strictly and written back in the form Twisted reads.

use std::fmt;
use std::time::Duration;

use super::error::EndpointError;
use super::grammar::decimal;
use super::parse::{DEFAULT_BACKLOG, DEFAULT_TIMEOUT};

pub(super) fn invalid(
    input: &str,
    key: &'static str,
    value: String,
    expected: &'static str,
) -> EndpointError {
    EndpointError::InvalidValue {
        input: input.to_owned(),
        key,
        value,
        expected,
    }
}

/// A decimal number of type `T`: ASCII digits only (no sign, no spaces, unlike Python's
/// `int`), in `T`'s range.
pub(super) fn number<T: TryFrom<u64>>(
    input: &str,
    key: &'static str,
    text: String,
    expected: &'static str,
) -> Result<T, EndpointError> {
    match decimal(&text).and_then(|value| T::try_from(value).ok()) {
        Some(value) => Ok(value),
        None => Err(invalid(input, key, text, expected)),
    }
}

pub(super) fn backlog(input: &str, text: Option<String>) -> Result<u32, EndpointError> {
    match text {
        Some(text) => number(input, "backlog", text, "a number"),
        None => Ok(DEFAULT_BACKLOG),
    }
}

/// `0` or `1` (Twisted takes any integer and tests it for truth; we take the two that
/// mean something).
pub(super) fn flag(
    input: &str,
    key: &'static str,
    text: Option<String>,
) -> Result<Option<bool>, EndpointError> {
    match text {
        None => Ok(None),
        Some(text) => match text.as_str() {
            "0" => Ok(Some(false)),
            "1" => Ok(Some(true)),
            _ => Err(invalid(input, key, text, "0 or 1")),
        },
    }
}

/// Octal digits with an optional `0o` prefix (Python's `int(mode, 8)` accepts both).
pub(super) fn octal_mode(text: &str) -> Option<u32> {
    let digits = text
        .strip_prefix("0o")
        .or_else(|| text.strip_prefix("0O"))
        .unwrap_or(text);
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    let mode = u32::from_str_radix(digits, 8).ok()?;
    let plain = digits.bytes().all(|byte| matches!(byte, b'0'..=b'7'));
    (plain && mode <= 0o7777).then_some(mode)
}

/// Whole seconds, as Twisted takes them, or seconds with up to nine decimals.
pub(super) fn timeout(input: &str, text: Option<String>) -> Result<Duration, EndpointError> {
    let Some(text) = text else {
        return Ok(DEFAULT_TIMEOUT);
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let seconds = decimal(whole);
    let nanos = match fraction.len() {
        0 if !text.ends_with('.') => Some(0),
        1..=9 => decimal(fraction).map(|value| value * 10u64.pow(9 - fraction.len() as u32)),
        _ => None,
    };
    match (seconds, nanos.and_then(|nanos| u32::try_from(nanos).ok())) {
        (Some(seconds), Some(nanos)) => Ok(Duration::new(seconds, nanos)),
        _ => Err(invalid(input, "timeout", text, "a number of seconds")),
    }
}

pub(super) fn write_backlog(f: &mut fmt::Formatter<'_>, backlog: u32) -> fmt::Result {
    match backlog {
        DEFAULT_BACKLOG => Ok(()),
        backlog => write!(f, ":backlog={backlog}"),
    }
}

pub(super) fn write_timeout(f: &mut fmt::Formatter<'_>, timeout: Duration) -> fmt::Result {
    if timeout == DEFAULT_TIMEOUT {
        return Ok(());
    }
    write!(f, ":timeout={}", timeout.as_secs())?;
    match timeout.subsec_nanos() {
        0 => Ok(()),
        nanos => {
            let fraction = format!("{nanos:09}");
            write!(f, ".{}", fraction.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Timeout(Duration);

    impl fmt::Display for Timeout {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_timeout(f, self.0)
        }
    }

    #[test]
    fn timeouts_read_whole_seconds_and_up_to_nine_decimals() {
        let read = |text: &str| timeout("t", Some(text.to_owned())).ok();
        assert_eq!(read("0"), Some(Duration::ZERO));
        assert_eq!(read("5"), Some(Duration::from_secs(5)));
        assert_eq!(read("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(read("1.000000001"), Some(Duration::new(1, 1)));
        for bad in [
            "",
            ".5",
            "5.",
            "1.2.3",
            "-1",
            "1e3",
            "1.0000000001",
            "99999999999999999999",
        ] {
            assert_eq!(read(bad), None, "{bad}");
        }
        assert_eq!(timeout("t", None), Ok(DEFAULT_TIMEOUT));
    }

    #[test]
    fn timeouts_write_back_what_they_read() {
        assert_eq!(Timeout(DEFAULT_TIMEOUT).to_string(), "");
        assert_eq!(Timeout(Duration::from_secs(9)).to_string(), ":timeout=9");
        assert_eq!(
            Timeout(Duration::from_millis(2500)).to_string(),
            ":timeout=2.5"
        );
        assert_eq!(
            Timeout(Duration::new(0, 1)).to_string(),
            ":timeout=0.000000001"
        );
    }

    #[test]
    fn modes_are_octal_up_to_7777() {
        assert_eq!(octal_mode("660"), Some(0o660));
        assert_eq!(octal_mode("0660"), Some(0o660));
        assert_eq!(octal_mode("0o7777"), Some(0o7777));
        assert_eq!(octal_mode("0"), Some(0));
        for bad in [
            "",
            "0o",
            "8",
            "10000",
            "+7",
            "-7",
            "0x1f",
            "000000000000007",
        ] {
            assert_eq!(octal_mode(bad), None, "{bad}");
        }
    }
}
