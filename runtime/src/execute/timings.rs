//! `--timings`, where the time of a run went: compile stages and every run path's load,
//! attach, iterator create, read and format. Guarantees the report lists the stages in the
//! order they first ran, each summed over repeated runs; it is text for the caller to show
//! (the CLI writes it to stderr, so stdout stays exactly the query's output).

use bpfq_compiler::layout::RowLayout;
use bpfq_compiler::pipeline::StageTimes;

use crate::decode::Row;
use crate::format::RowSink;
use std::io;
use std::time::{Duration, Instant};

/// Durations per stage, summed over repeated runs (`--watch`).
pub struct Timings {
    enabled: bool,
    stages: Vec<(&'static str, Duration)>,
    runs: u64,
}

impl Timings {
    pub fn new(enabled: bool) -> Timings {
        Timings {
            enabled,
            stages: Vec::new(),
            runs: 0,
        }
    }

    /// Adds `elapsed` to `stage` (a stage seen again, as on each `--watch` tick, accumulates).
    pub fn record(&mut self, stage: &'static str, elapsed: Duration) {
        match self.stages.iter_mut().find(|(name, _)| *name == stage) {
            Some((_, total)) => *total += elapsed,
            None => self.stages.push((stage, elapsed)),
        }
    }

    /// Runs `work`, recording its duration under `stage`.
    pub fn time<T>(&mut self, stage: &'static str, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let result = work();
        self.record(stage, start.elapsed());
        result
    }

    pub fn record_compile(&mut self, times: &StageTimes) {
        self.record("compile: parse", times.parse);
        self.record("compile: bind", times.bind);
        self.record("compile: plan", times.plan);
        self.record("compile: lower", times.lower);
        self.record("compile: emit", times.emit);
    }

    /// Whether `--timings` asked for a report (the per-row format timer costs two clock reads a
    /// row, ~4% of a 100k-row run, so it only runs when someone will see the result).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Counts one read of the iterator (the read and format lines are sums over runs).
    pub fn count_run(&mut self) {
        self.runs += 1;
    }

    /// The report, if `--timings` asked for one and anything was timed.
    pub fn report(&self) -> Option<String> {
        if !self.enabled || self.stages.is_empty() {
            return None;
        }
        let total: Duration = self.stages.iter().map(|(_, d)| *d).sum();
        let mut text = String::from("timings (ms):\n");
        for (stage, elapsed) in &self.stages {
            text.push_str(&format!("  {stage:<18}{:>10.3}\n", millis(*elapsed)));
        }
        text.push_str(&format!("  {:<18}{:>10.3}", "total", millis(total)));
        if self.runs > 1 {
            text.push_str(&format!("  (read and format over {} runs)", self.runs));
        }
        Some(text)
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A sink that measures the time spent formatting, so reading can be told apart from it.
pub struct TimedSink<'s> {
    pub inner: &'s mut dyn RowSink,
    pub spent: Duration,
    /// When false the sink only forwards: `spent` stays zero.
    pub enabled: bool,
}

impl<'s> TimedSink<'s> {
    /// A sink that times `inner` when `timings` will be reported.
    pub fn new(inner: &'s mut dyn RowSink, timings: &Timings) -> TimedSink<'s> {
        TimedSink {
            inner,
            spent: Duration::ZERO,
            enabled: timings.enabled(),
        }
    }

    /// Records the time spent formatting under "format".
    pub fn record_format(self, timings: &mut Timings) {
        timings.record("format", self.spent);
    }

    fn timed<T>(&mut self, work: impl FnOnce(&mut dyn RowSink) -> T) -> T {
        if !self.enabled {
            return work(&mut *self.inner);
        }
        let start = Instant::now();
        let result = work(&mut *self.inner);
        self.spent += start.elapsed();
        result
    }
}

impl RowSink for TimedSink<'_> {
    fn begin(&mut self, layout: &RowLayout) -> io::Result<()> {
        self.timed(|sink| sink.begin(layout))
    }
    fn row(&mut self, row: &dyn Row) -> io::Result<()> {
        self.timed(|sink| sink.row(row))
    }
    fn preview(&mut self, row: &dyn Row) {
        self.timed(|sink| sink.preview(row))
    }
    fn end(&mut self) -> io::Result<()> {
        self.timed(|sink| sink.end())
    }
}
