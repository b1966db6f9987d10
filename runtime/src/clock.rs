//! The run's two clock readings: `now` (CLOCK_REALTIME, the value of `now()` in every row),
//! read again at the start of each run (`start_run`: each walk of `--watch`), and the boot time
//! (CLOCK_REALTIME - CLOCK_BOOTTIME, read back to back, once per process), which turns a
//! `boot_timestamp` (ns since boot) into the wall-clock time it was. Guarantees every row of a
//! run sees the same two values.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;

/// `now` of the current run; 0 before the first.
static NOW: AtomicI64 = AtomicI64::new(0);

/// Reads the clock for the run that starts (before its first row).
pub fn start_run() {
    NOW.store(
        sys::clock_ns(libc::CLOCK_REALTIME).unwrap_or(0),
        Ordering::Relaxed,
    );
}

use crate::sys;

/// Nanoseconds since the epoch at the start of the current run.
pub fn now_ns() -> i64 {
    if NOW.load(Ordering::Relaxed) == 0 {
        start_run();
    }
    NOW.load(Ordering::Relaxed)
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
