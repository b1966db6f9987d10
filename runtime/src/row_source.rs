//! Stage `read`: where rows come from — an iterator's seq output, or the records a walk left in
//! a ring buffer. Guarantees: both hand over every complete row exactly once, whole and in
//! order (rows written in several segments are reassembled), and a torn last row is an error.

use std::ops::ControlFlow;

use crate::framer::Framer;
use crate::reader::{IterReader, ReadError};
use crate::ringbuf::RingRecords;

/// A stream of fixed-size rows.
pub trait RowSource {
    /// Calls `on_run` with runs of consecutive `row_size`-byte rows (each run a non-zero
    /// multiple of `row_size` bytes), in order, until the end or a `Break`.
    fn read_runs(
        &mut self,
        row_size: usize,
        on_run: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError>;

    /// Calls `on_row` with each `row_size`-byte row in order, until the end or a `Break`.
    fn read_rows(
        &mut self,
        row_size: usize,
        mut on_row: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        self.read_runs(row_size, |run| {
            run.chunks_exact(row_size).try_for_each(&mut on_row)
        })
    }
}

impl RowSource for IterReader {
    fn read_runs(
        &mut self,
        row_size: usize,
        on_run: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        IterReader::read_runs(self, row_size, on_run)
    }
}

/// The rows in a filled ring: the concatenated payloads of its records form the same byte
/// stream the seq transport would have produced.
pub struct RingRows {
    records: RingRecords,
}

impl RingRows {
    pub fn new(records: RingRecords) -> RingRows {
        RingRows { records }
    }
}

impl RowSource for RingRows {
    fn read_runs(
        &mut self,
        row_size: usize,
        mut on_run: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        if row_size == 0 {
            return Err(ReadError::ZeroRowSize);
        }
        let mut framer = Framer::new(row_size);
        let mut stopped = false;
        self.records
            .for_each(|payload| {
                stopped = framer.feed(payload, &mut on_run).is_break();
                !stopped
            })
            .map_err(|err| ReadError::Io(std::io::Error::other(err.to_string())))?;
        if stopped {
            Ok(())
        } else {
            framer.finish()
        }
    }
}
