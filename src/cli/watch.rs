//! CLI: `--watch SECS` / `--count N`, the same loaded program read again on a schedule.
//! Guarantees each run is a complete result set: on a terminal the screen is cleared and
//! redrawn under a title line, piped result sets are separated by one empty line (unless the
//! caller says otherwise: a change log in JSON Lines); it stops
//! after `count` runs, or when the reader of a pipe goes away.

use super::args::RunArgs;
use super::Failure;
use bpfq_runtime::format::time;
use bpfq_runtime::pipeline::StreamSummary;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

/// The interval of `--count` without `--watch`, as watch(1) has it.
const DEFAULT_INTERVAL_SECS: f64 = 2.0;

/// How often and how many times to run.
pub struct Repeat {
    pub interval: Duration,
    /// `None`: until interrupted.
    pub count: Option<u64>,
    /// Piped runs are separated by an empty line.
    pub separate_runs: bool,
}

impl Repeat {
    /// `None` when the query runs once (neither `--watch` nor `--count`).
    pub fn from_args(how: &RunArgs) -> Option<Repeat> {
        if how.watch.is_none() && how.count.is_none() {
            return None;
        }
        let secs = how.watch.unwrap_or(DEFAULT_INTERVAL_SECS);
        Some(Repeat {
            interval: Duration::from_secs_f64(secs),
            count: how.count,
            separate_runs: true,
        })
    }
}

/// Calls `run_once` on the schedule of `repeat`, with the screen handling around each run.
pub fn repeat(
    repeat: &Repeat,
    query: &str,
    run_once: &mut dyn FnMut() -> Result<StreamSummary, Failure>,
) -> Result<(), Failure> {
    let on_terminal = super::terminal::stdout_is_terminal();
    let mut runs = 0u64;
    loop {
        let started = Instant::now();
        let mut stdout = super::output::stdout();
        let separated = if on_terminal {
            // Home the cursor and clear the screen, then a title line as watch(1) prints.
            write!(
                stdout,
                "\x1b[H\x1b[2JEvery {:.1}s: {}    {}\n\n",
                repeat.interval.as_secs_f64(),
                bpfq_compiler::hidden::visible_lines(query),
                time::utc_clock(SystemTime::now())
            )
        } else if runs > 0 && repeat.separate_runs {
            writeln!(stdout)
        } else {
            Ok(())
        };
        separated.map_err(super::output::write_failure)?;
        super::output::finish(stdout)?;
        let summary = run_once()?;
        runs += 1;
        if summary.output_closed || repeat.count.is_some_and(|count| runs >= count) {
            return Ok(());
        }
        std::thread::sleep(repeat.interval.saturating_sub(started.elapsed()));
    }
}
