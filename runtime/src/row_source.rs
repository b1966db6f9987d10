//! Stage `read`: where rows come from — an iterator's seq output, or the records a walk left in
//! a ring buffer. Guarantees: both hand over every complete row exactly once, whole and in
//! order (rows written in several segments are reassembled), and a torn last row is an error.

use std::ops::ControlFlow;

use crate::reader::{IterReader, ReadError};
use crate::ringbuf::RingRecords;

/// A stream of fixed-size rows.
pub trait RowSource {
    /// Calls `on_row` with each `row_size`-byte row in order, until the end or a `Break`.
    fn read_rows(
        &mut self,
        row_size: usize,
        on_row: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError>;
}

impl RowSource for IterReader {
    fn read_rows(
        &mut self,
        row_size: usize,
        on_row: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        IterReader::read_rows(self, row_size, on_row)
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
    fn read_rows(
        &mut self,
        row_size: usize,
        mut on_row: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        if row_size == 0 {
            return Err(ReadError::ZeroRowSize);
        }
        let mut framer = Framer::new(row_size);
        let mut stopped = false;
        self.records
            .for_each(|payload| {
                stopped = framer.feed(payload, &mut on_row).is_break();
                !stopped
            })
            .map_err(|err| ReadError::Io(std::io::Error::other(err.to_string())))?;
        match (stopped, framer.carried.len()) {
            (true, _) | (false, 0) => Ok(()),
            (false, trailing) => Err(ReadError::TornRow { trailing, row_size }),
        }
    }
}

/// Cuts a byte stream arriving in pieces of any size into rows.
struct Framer {
    row_size: usize,
    /// The start of a row whose rest is in a later piece.
    carried: Vec<u8>,
}

impl Framer {
    fn new(row_size: usize) -> Framer {
        Framer {
            row_size,
            carried: Vec::with_capacity(row_size),
        }
    }

    fn feed(
        &mut self,
        mut piece: &[u8],
        on_row: &mut impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if !self.carried.is_empty() {
            let take = (self.row_size - self.carried.len()).min(piece.len());
            self.carried.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            if self.carried.len() < self.row_size {
                return ControlFlow::Continue(());
            }
            let flow = on_row(&self.carried);
            self.carried.clear();
            flow?;
        }
        let mut rows = piece.chunks_exact(self.row_size);
        for row in rows.by_ref() {
            on_row(row)?;
        }
        self.carried.extend_from_slice(rows.remainder());
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(pieces: &[&[u8]], row_size: usize) -> (Vec<Vec<u8>>, usize) {
        let mut framer = Framer::new(row_size);
        let mut rows = Vec::new();
        for piece in pieces {
            let _ = framer.feed(piece, &mut |row: &[u8]| {
                rows.push(row.to_vec());
                ControlFlow::Continue(())
            });
        }
        (rows, framer.carried.len())
    }

    #[test]
    fn segments_of_a_wide_row_are_joined() {
        let (rows, left) = frame(&[&[1, 2, 3], &[4, 5], &[6, 7, 8, 9, 10, 11]], 4);
        assert_eq!(rows, vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]);
        assert_eq!(left, 3, "9, 10, 11 wait for the rest of their row");
    }

    #[test]
    fn a_break_stops_at_that_row() {
        let mut framer = Framer::new(2);
        let mut seen = 0;
        let flow = framer.feed(&[0; 8], &mut |_: &[u8]| {
            seen += 1;
            if seen == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert!(flow.is_break());
        assert_eq!(seen, 2);
    }
}
