//! The run's two clock readings, each taken once per process: `now` (CLOCK_REALTIME, the value
//! of `now()` in every row) and the boot time (CLOCK_REALTIME - CLOCK_BOOTTIME, read back to
//! back), which turns a `boot_timestamp` (ns since boot) into the wall-clock time it was.
//! Guarantees every row of a run sees the same two values.

use std::sync::OnceLock;

use crate::sys;

/// Nanoseconds since the epoch when the run first asked.
pub fn now_ns() -> i64 {
    static NOW: OnceLock<i64> = OnceLock::new();
    *NOW.get_or_init(|| sys::clock_ns(libc::CLOCK_REALTIME).unwrap_or(0))
}

/// Nanoseconds since the epoch at which the system booted (CLOCK_BOOTTIME's zero).
pub fn boot_time_ns() -> i64 {
    static BOOT: OnceLock<i64> = OnceLock::new();
    *BOOT.get_or_init(|| {
        match (
            sys::clock_ns(libc::CLOCK_REALTIME),
            sys::clock_ns(libc::CLOCK_BOOTTIME),
        ) {
            (Ok(real), Ok(boot)) => real - boot,
            _ => 0,
        }
    })
}
