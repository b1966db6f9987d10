//! Stage `format` (helper): how times are written, the one place that decides it. A timestamp
//! is RFC 3339 in UTC with nanoseconds (`2026-12-08T04:53:40.123456789Z`) for machines (JSON),
//! and the local date and time to the second (`2026-12-08 05:53:40`, the zone of `TZ` or
//! /etc/localtime, by the jiff crate) for people (table, CSV, TSV). A duration is written as
//! people read it (`duration_text`); JSON gets its nanoseconds as a number. A moment of bpfq's
//! own (a `--changes` row's `time`, the `--watch` title) is RFC 3339 UTC to the millisecond.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use super::TextBuf;

/// The instant `ns` nanoseconds after the epoch, or None out of jiff's range (years -9999 to
/// 9999).
fn instant(ns: i64) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_nanosecond(i128::from(ns)).ok()
}

/// The zone of `TZ` or /etc/localtime, read once (UTC when neither can be read).
fn local_zone() -> &'static jiff::tz::TimeZone {
    static ZONE: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();
    ZONE.get_or_init(|| jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC))
}

/// Appends `ns` as RFC 3339 in UTC (`Z`) with all nine digits of nanoseconds.
pub(super) fn push_rfc3339(out: &mut TextBuf, ns: i64) {
    match instant(ns) {
        Some(at) => {
            let _ = write!(out, "{}", at.strftime("%Y-%m-%dT%H:%M:%S.%9fZ"));
        }
        None => {
            let _ = write!(out, "{ns}");
        }
    }
}

/// Appends `ns` as the local date and time to the second.
pub fn push_local(out: &mut TextBuf, ns: i64) {
    match instant(ns) {
        Some(at) => {
            let zoned = at.to_zoned(local_zone().clone());
            let _ = write!(out, "{}", zoned.strftime("%Y-%m-%d %H:%M:%S"));
        }
        None => {
            let _ = write!(out, "{ns}");
        }
    }
}

/// Whole seconds since the Unix epoch, as osquery's `unixTime` (0 for a clock before it).
pub fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `at` in RFC 3339, UTC, to the millisecond (`2026-12-08T05:01:02.123Z`); the epoch for a
/// clock before it.
pub fn rfc3339_millis(at: SystemTime) -> String {
    let at = jiff::Timestamp::try_from(at.max(UNIX_EPOCH)).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    at.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()
}

/// `at`'s time of day, `HH:MM:SS UTC` (the `--watch` title line).
pub fn utc_clock(at: SystemTime) -> String {
    let at = jiff::Timestamp::try_from(at.max(UNIX_EPOCH)).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    at.strftime("%H:%M:%S UTC").to_string()
}

/// A length of time as people read it: below a second in the largest unit with one decimal
/// (`250ns`, `1.5us`, `12.0ms`, `2.5s` up to a minute), then days, hours, minutes and whole
/// seconds, leaving out the leading zero units (`5m3s`, `3d4h0m6s`); negative with a `-`.
pub fn duration_text(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    let tenths = |unit: u64| format!("{sign}{}.{}", ns / unit, ns % unit * 10 / unit);
    if ns < 1_000 {
        return format!("{sign}{ns}ns");
    }
    if ns < 1_000_000 {
        return tenths(1_000) + "us";
    }
    if ns < 1_000_000_000 {
        return tenths(1_000_000) + "ms";
    }
    if ns < 60_000_000_000 {
        return tenths(1_000_000_000) + "s";
    }
    let seconds = ns / 1_000_000_000;
    let (days, hours, minutes, seconds) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (days, hours) {
        (0, 0) => format!("{sign}{minutes}m{seconds}s"),
        (0, _) => format!("{sign}{hours}h{minutes}m{seconds}s"),
        _ => format!("{sign}{days}d{hours}h{minutes}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_largest_unit() {
        let cases = [
            (0, "0ns"),
            (999, "999ns"),
            (1_500, "1.5us"),
            (12_000_000, "12.0ms"),
            (2_500_000_000, "2.5s"),
            (59_999_999_999, "59.9s"),
            (60_000_000_000, "1m0s"),
            (3_723_000_000_000, "1h2m3s"),
            (273_906_000_000_000, "3d4h5m6s"),
            (-1_500, "-1.5us"),
        ];
        for (ns, text) in cases {
            assert_eq!(duration_text(ns), text, "{ns}");
        }
    }

    /// The seconds are `date -u -d TEXT +%s` of each text (GNU date as the oracle).
    #[test]
    fn own_moments_match_gnu_date() {
        use std::time::Duration;
        let at = |secs: u64, millis: u64| UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis);
        assert_eq!(rfc3339_millis(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(at(1_796_706_062, 123)),
            "2026-12-08T05:01:02.123Z"
        );
        assert_eq!(
            rfc3339_millis(at(951_868_799, 999)),
            "2000-02-29T23:59:59.999Z"
        );
        assert_eq!(
            rfc3339_millis(at(4_107_542_400, 7)),
            "2100-03-01T00:00:00.007Z"
        );
        assert_eq!(utc_clock(at(1_796_706_062, 500)), "05:01:02 UTC");
        assert_eq!(unix_seconds(at(1_796_706_062, 999)), 1_796_706_062);
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(rfc3339_millis(before), "1970-01-01T00:00:00.000Z");
        assert_eq!(unix_seconds(before), 0);
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc_with_nanoseconds() {
        let mut out = TextBuf::new();
        push_rfc3339(&mut out, 1_781_000_000_123_456_789);
        assert_eq!(out.into_string(), "2026-06-09T10:13:20.123456789Z");
        let mut out = TextBuf::new();
        push_rfc3339(&mut out, 0);
        assert_eq!(out.into_string(), "1970-01-01T00:00:00.000000000Z");
    }
}
