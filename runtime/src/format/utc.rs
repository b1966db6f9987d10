//! Stage `format`: a moment as UTC text without a time-zone database. Guarantees RFC 3339 with
//! milliseconds and a `Z` (`2026-12-08T05:01:02.123Z`), the proleptic Gregorian calendar for
//! every year, and the Unix epoch for a clock set before it.

use std::time::{SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: u64 = 86_400;

/// Seconds and milliseconds since the Unix epoch (0 for a clock before it).
fn since_epoch(at: SystemTime) -> (u64, u32) {
    at.duration_since(UNIX_EPOCH)
        .map_or((0, 0), |d| (d.as_secs(), d.subsec_millis()))
}

/// Whole seconds since the Unix epoch, as osquery's `unixTime`.
pub fn unix_seconds(at: SystemTime) -> u64 {
    since_epoch(at).0
}

/// `at` in RFC 3339, UTC, to the millisecond.
pub fn rfc3339(at: SystemTime) -> String {
    let (secs, millis) = since_epoch(at);
    let (year, month, day) = civil_from_days(secs / SECS_PER_DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{}.{millis:03}Z",
        time_of_day(secs)
    )
}

/// `at`'s time of day, `HH:MM:SS UTC` (the `--watch` title line).
pub fn clock(at: SystemTime) -> String {
    format!("{} UTC", time_of_day(since_epoch(at).0))
}

fn time_of_day(secs: u64) -> String {
    let day = secs % SECS_PER_DAY;
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

/// (year, month, day) of the day `days` after 1970-01-01: Howard Hinnant's `civil_from_days`,
/// on eras of 400 years that start on March 1st (so a leap day ends its year).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
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
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis)
    }

    /// The seconds are `date -u -d TEXT +%s` of each text (GNU date as the oracle).
    #[test]
    fn matches_gnu_date() {
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(1_796_706_062, 123)), "2026-12-08T05:01:02.123Z");
        assert_eq!(rfc3339(at(951_868_799, 999)), "2000-02-29T23:59:59.999Z");
        assert_eq!(rfc3339(at(4_107_542_400, 7)), "2100-03-01T00:00:00.007Z");
        assert_eq!(clock(at(1_796_706_062, 500)), "05:01:02 UTC");
        assert_eq!(unix_seconds(at(1_796_706_062, 999)), 1_796_706_062);
    }

    #[test]
    fn a_clock_before_the_epoch_reads_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(rfc3339(before), "1970-01-01T00:00:00.000Z");
        assert_eq!(unix_seconds(before), 0);
    }
}
