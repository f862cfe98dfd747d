//! The `Date` header value, formatted at most once a second (Twisted's `datetimeToString`,
//! cached as its `HTTPChannel` does).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use torsion_web::http::DateCache;
//! let mut dates = DateCache::new();
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
//! assert_eq!(dates.get(now), b"Sun, 06 Nov 1994 08:49:37 GMT");
//! // Within the same second the cached bytes are handed back as they are.
//! assert_eq!(dates.get(now + Duration::from_millis(999)), b"Sun, 06 Nov 1994 08:49:37 GMT");
//! ```
//!
//! The format is RFC 9110's IMF-fixdate, always 29 bytes, in UTC. The time is passed in,
//! never read from the system clock here. Times before 1970 are written as the epoch, and
//! times after 9999-12-31T23:59:59 as that second, so the value keeps its fixed form.
//!
//! Reading is [`parse_http_date`], on the `httpdate` crate, which takes all three forms
//! RFC 9110 §5.6.7 asks a recipient to accept. Writing stays hand-written: a response's
//! `Date` is one comparison against the cached second and a 37-byte copy, where
//! `httpdate::fmt_http_date` would build a `String` for every response.

use std::time::{Duration, SystemTime};

/// The length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const DATE_LEN: usize = 29;

/// The last second a four-digit year can show: 9999-12-31T23:59:59Z.
const MAX_SECONDS: u64 = 253_402_300_799;

const WEEKDAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The last `Date` value formatted and the second it shows.
#[derive(Debug, Clone)]
pub struct DateCache {
    /// Seconds since the epoch that `value` shows; `None` before the first call.
    second: Option<u64>,
    value: [u8; DATE_LEN],
    /// `value` as a whole field line, `Date: ...\r\n`, written in one copy.
    line: [u8; DATE_LINE_LEN],
    /// For [`field_line_at`](Self::field_line_at): the monotonic times between which
    /// `line` is still the wall clock's second.
    valid: std::ops::Range<Duration>,
}

/// `Date: ` + the date + CRLF.
const DATE_LINE_LEN: usize = 6 + DATE_LEN + 2;

impl DateCache {
    /// An empty cache; the first [`get`](Self::get) formats.
    pub fn new() -> Self {
        DateCache {
            second: None,
            value: [b' '; DATE_LEN],
            line: [b' '; DATE_LINE_LEN],
            valid: Duration::ZERO..Duration::ZERO,
        }
    }

    /// The IMF-fixdate for `now`, formatted again only when its second differs from the
    /// last call's.
    pub fn get(&mut self, now: SystemTime) -> &[u8; DATE_LEN] {
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
            .min(MAX_SECONDS);
        if self.second != Some(second) {
            self.value = format_imf_fixdate(second);
            self.second = Some(second);
            let (name, rest) = self.line.split_at_mut(6);
            name.copy_from_slice(b"Date: ");
            let (date, crlf) = rest.split_at_mut(DATE_LEN);
            date.copy_from_slice(&self.value);
            crlf.copy_from_slice(b"\r\n");
        }
        &self.value
    }

    /// The whole `Date: ...\r\n` field line for `now`, from the same cache.
    pub(crate) fn field_line(&mut self, now: SystemTime) -> &[u8; DATE_LINE_LEN] {
        self.get(now);
        &self.line
    }

    /// The `Date` field line for now, given `mono`, the time on a monotonic clock (the
    /// reactor's loop time): `wall` (the wall clock, read by the caller) is asked only
    /// when `mono` reaches the point where the wall clock's second was due to change, or
    /// moves back (another clock). Between reads, the line is as exact as `mono` is.
    pub(crate) fn field_line_at(
        &mut self,
        mono: Duration,
        wall: impl FnOnce() -> SystemTime,
    ) -> &[u8; DATE_LINE_LEN] {
        if !self.valid.contains(&mono) {
            let now = wall();
            self.get(now);
            let into_second = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |since| since.subsec_nanos());
            let left = Duration::from_secs(1) - Duration::from_nanos(u64::from(into_second));
            self.valid = mono..mono.saturating_add(left);
        }
        &self.line
    }
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache::new()
    }
}

/// `time` as an IMF-fixdate, without a cache (for `Last-Modified`).
pub fn format_http_date(time: SystemTime) -> [u8; DATE_LEN] {
    DateCache::new().get(time).to_owned()
}

/// Reads an HTTP date in any of the three forms a recipient must accept (RFC 9110
/// §5.6.7): IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`), parsed by
/// the `httpdate` crate. Anything else gives `None`: a conditional request with such a
/// date is then answered as an unconditional one, which is always safe.
pub fn parse_http_date(value: &[u8]) -> Option<SystemTime> {
    let text = std::str::from_utf8(value).ok()?;
    httpdate::parse_http_date(text).ok()
}

/// `seconds` since the epoch (at most [`MAX_SECONDS`]) as an IMF-fixdate.
fn format_imf_fixdate(seconds: u64) -> [u8; DATE_LEN] {
    let days = seconds / 86_400;
    let in_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let weekday = (days + 4) % 7; // 1970-01-01 was a Thursday
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(WEEKDAYS[weekday as usize]);
    put_two(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    put_two(&mut out[12..14], year / 100);
    put_two(&mut out[14..16], year % 100);
    put_two(&mut out[17..19], in_day / 3600);
    put_two(&mut out[20..22], in_day / 60 % 60);
    put_two(&mut out[23..25], in_day % 60);
    out
}

/// Two decimal digits of `n` (below 100) into `slot`.
fn put_two(slot: &mut [u8], n: u64) {
    slot[0] = b'0' + (n / 10 % 10) as u8;
    slot[1] = b'0' + (n % 10) as u8;
}

/// (year, month 1-12, day 1-31) of the day `days` after 1970-01-01, in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`, for days after the epoch).
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_field_line_follows_the_date() {
        let mut dates = DateCache::new();
        for secs in [784_111_777, 784_111_778, 0] {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            let expected = [&b"Date: "[..], &dates.get(now)[..], b"\r\n"].concat();
            assert_eq!(&dates.field_line(now)[..], &expected[..]);
        }
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn known_dates_are_formatted() {
        let table: &[(u64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_709_164_799, "Wed, 28 Feb 2024 23:59:59 GMT"),
            (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 GMT"),
            (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
            (1_767_225_599, "Wed, 31 Dec 2025 23:59:59 GMT"),
            (MAX_SECONDS, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for &(seconds, expected) in table {
            assert_eq!(
                DateCache::new().get(at(seconds)),
                expected.as_bytes(),
                "{seconds}"
            );
        }
    }

    #[test]
    fn out_of_range_times_are_clamped() {
        let mut dates = DateCache::new();
        assert_eq!(
            dates.get(at(MAX_SECONDS + 1_000_000)),
            b"Fri, 31 Dec 9999 23:59:59 GMT"
        );
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(dates.get(before), b"Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        // Walk day by day from 1970 to 2370 checking the calendar's own invariants.
        let (mut year, mut month, mut day) = (1970, 1, 1);
        for days in 0..146_097 {
            assert_eq!(civil_from_days(days), (year, month, day), "{days}");
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let month_days = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            day += 1;
            if day > month_days {
                (day, month) = (1, month + 1);
                if month > 12 {
                    (month, year) = (1, year + 1);
                }
            }
        }
    }

    #[test]
    fn the_line_at_a_monotonic_time_asks_the_wall_clock_only_when_its_second_ends() {
        let mut dates = DateCache::new();
        let asked = std::cell::Cell::new(0);
        let wall = |t: SystemTime| {
            let asked = &asked;
            move || {
                asked.set(asked.get() + 1);
                t
            }
        };
        let expected = |t| *DateCache::new().field_line(t);
        let mono = Duration::from_secs(50);
        // 100.250 s on the wall clock at loop time 50 s: the line holds for 750 ms.
        let first = at(100) + Duration::from_millis(250);
        assert_eq!(*dates.field_line_at(mono, wall(first)), expected(first));
        assert_eq!(asked.get(), 1);
        let later = mono + Duration::from_millis(749);
        assert_eq!(*dates.field_line_at(later, wall(at(999))), expected(first));
        assert_eq!(asked.get(), 1, "within the second: not asked");
        // At the end of that second, and when the time goes back, it asks again.
        let next = at(101);
        let end = mono + Duration::from_millis(750);
        assert_eq!(*dates.field_line_at(end, wall(next)), expected(next));
        assert_eq!(asked.get(), 2);
        assert_eq!(
            *dates.field_line_at(Duration::from_secs(1), wall(next)),
            expected(next)
        );
        assert_eq!(asked.get(), 3);
    }

    #[test]
    fn the_cache_formats_once_per_second() {
        let mut dates = DateCache::new();
        let first = *dates.get(at(100) + Duration::from_millis(10));
        assert_eq!(dates.second, Some(100));
        assert_eq!(*dates.get(at(100) + Duration::from_millis(990)), first);
        assert_ne!(*dates.get(at(101)), first);
        assert_eq!(dates.second, Some(101));
    }

    #[test]
    fn http_dates_parse_back_in_all_three_forms_and_bad_ones_are_refused() {
        for seconds in [0, 784_111_777, 951_782_400, 1_709_251_199, 4_102_444_800] {
            assert_eq!(
                parse_http_date(&format_http_date(at(seconds))),
                Some(at(seconds))
            );
        }
        // RFC 9110 §5.6.7: a recipient reads the two obsolete forms too.
        for value in [
            &b"Sun, 06 Nov 1994 08:49:37 GMT"[..],
            b"Sunday, 06-Nov-94 08:49:37 GMT",
            b"Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(value), Some(at(784_111_777)));
        }
        let bad: &[&[u8]] = &[
            b"",
            b"\xff\xfe",
            b"Sunday, 06-Nov-94 08:49:37",
            b"Sun Nov 6 08:49:37",
            b"Sun, 06 Nov 1994 08:49:37 UTC",
            b"Sun, 06 Nov 1994 24:49:37 GMT",
            b"Sun, 06 Nob 1994 08:49:37 GMT",
            b"Sun, 0x Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1969 08:49:37 GMT",
        ];
        for value in bad {
            assert_eq!(
                parse_http_date(value),
                None,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
    }
}
