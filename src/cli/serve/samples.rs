//! `bpfq serve`, a scrape's rows: the `RowSink` a metric query runs into. Guarantees each row
//! becomes one series (its label values as formats print them, kernel addresses hidden; its
//! sample values as numbers, a NULL sample left out) and that a run past its deadline stops at
//! the next row it delivers, with `io::ErrorKind::TimedOut` (the caller then publishes none of
//! its rows: part of a count would be a wrong count).

use std::io;
use std::time::Instant;

use bpfq_compiler::layout::RowLayout;
use bpfq_compiler::metric::MetricShape;
use bpfq_runtime::decode::{Cell, Row};
use bpfq_runtime::format::{plain_text, FormatOptions, RowSink};

/// A sample's value: prometheus-client encodes integers exactly, floats as floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Signed(i64),
    Unsigned(u64),
    Float(f64),
}

impl Number {
    fn of(cell: &Cell<'_>) -> Option<Number> {
        match cell {
            Cell::Int(n) => Some(Number::Signed(*n)),
            Cell::UInt(n) => Some(Number::Unsigned(*n)),
            Cell::Float(x) => Some(Number::Float(*x)),
            Cell::Bool(b) => Some(Number::Unsigned(u64::from(*b))),
            Cell::Enum { value, .. } => Some(Number::Signed(*value)),
            _ => None,
        }
    }
}

/// One result row: its label values (in the shape's label order) and one value per sample
/// column (`None` for NULL).
#[derive(Debug, Clone)]
pub struct Series {
    pub labels: Vec<String>,
    pub values: Vec<Option<Number>>,
}

/// Collects the series of one run of a metric query.
pub struct SampleSink<'s> {
    shape: &'s MetricShape,
    deadline: Instant,
    options: FormatOptions,
    pub series: Vec<Series>,
}

impl<'s> SampleSink<'s> {
    pub fn new(shape: &'s MetricShape, deadline: Instant) -> SampleSink<'s> {
        SampleSink {
            shape,
            deadline,
            options: FormatOptions::default(),
            series: Vec::new(),
        }
    }

    fn check_deadline(&self) -> io::Result<()> {
        if Instant::now() > self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the query ran past its time budget",
            ));
        }
        Ok(())
    }
}

impl RowSink for SampleSink<'_> {
    fn begin(&mut self, _layout: &RowLayout) -> io::Result<()> {
        self.check_deadline()
    }

    fn row(&mut self, row: &dyn Row) -> io::Result<()> {
        self.check_deadline()?;
        let labels = self
            .shape
            .labels
            .iter()
            .map(|&(index, _)| plain_text(&row.cell(index), &self.options).unwrap_or_default());
        let values = self
            .shape
            .samples
            .iter()
            .map(|&(index, _)| Number::of(&row.cell(index)));
        self.series.push(Series {
            labels: labels.collect(),
            values: values.collect(),
        });
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        self.check_deadline()
    }
}
