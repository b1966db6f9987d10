//! Stage `read` (helper): cuts a byte stream arriving in pieces of any size into fixed-size
//! rows. Guarantees every whole row is handed over once and in order, in runs of consecutive
//! rows (a row split across pieces is reassembled and handed over as a run of its own), and a
//! stream that ends inside a row is a `TornRow` error.

use std::ops::ControlFlow;

use crate::read_error::ReadError;

pub(crate) struct Framer {
    row_size: usize,
    /// The start of a row whose rest is in a later piece.
    carried: Vec<u8>,
}

impl Framer {
    /// `row_size` must not be 0 (callers refuse it with `ReadError::ZeroRowSize`).
    pub fn new(row_size: usize) -> Framer {
        Framer {
            row_size,
            carried: Vec::with_capacity(row_size),
        }
    }

    /// Hands the whole rows completed by `piece` to `on_run`, in runs whose length is a
    /// non-zero multiple of the row size; keeps an incomplete last row for the next piece.
    pub fn feed(
        &mut self,
        mut piece: &[u8],
        on_run: &mut impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if !self.carried.is_empty() {
            let take = (self.row_size - self.carried.len()).min(piece.len());
            self.carried.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            if self.carried.len() < self.row_size {
                return ControlFlow::Continue(());
            }
            let flow = on_run(&self.carried);
            self.carried.clear();
            flow?;
        }
        let whole = piece.len() - piece.len() % self.row_size;
        if whole > 0 {
            on_run(&piece[..whole])?;
        }
        self.carried.extend_from_slice(&piece[whole..]);
        ControlFlow::Continue(())
    }

    /// The stream ended: fine unless it ended inside a row.
    pub fn finish(&self) -> Result<(), ReadError> {
        match self.carried.len() {
            0 => Ok(()),
            trailing => Err(ReadError::TornRow {
                trailing,
                row_size: self.row_size,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows `pieces` make, each run split into rows, and the bytes left over.
    fn frame(pieces: &[&[u8]], row_size: usize) -> (Vec<Vec<u8>>, Result<(), ReadError>) {
        let mut framer = Framer::new(row_size);
        let mut rows = Vec::new();
        for piece in pieces {
            let _ = framer.feed(piece, &mut |run: &[u8]| {
                assert!(
                    !run.is_empty() && run.len().is_multiple_of(row_size),
                    "{run:?}"
                );
                rows.extend(run.chunks_exact(row_size).map(<[u8]>::to_vec));
                ControlFlow::Continue(())
            });
        }
        (rows, framer.finish())
    }

    #[test]
    fn segments_of_a_wide_row_are_joined() {
        let (rows, end) = frame(&[&[1, 2, 3], &[4, 5], &[6, 7, 8, 9, 10, 11]], 4);
        assert_eq!(rows, vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]);
        assert!(
            matches!(
                end,
                Err(ReadError::TornRow {
                    trailing: 3,
                    row_size: 4
                })
            ),
            "9, 10, 11 wait for the rest of their row"
        );
    }

    #[test]
    fn whole_rows_in_one_piece_are_one_run() {
        let mut framer = Framer::new(2);
        let mut runs = Vec::new();
        let _ = framer.feed(&[1, 2, 3, 4, 5, 6], &mut |run: &[u8]| {
            runs.push(run.to_vec());
            ControlFlow::Continue(())
        });
        assert_eq!(runs, vec![vec![1, 2, 3, 4, 5, 6]]);
        assert!(framer.finish().is_ok());
    }

    #[test]
    fn a_break_stops_the_feed() {
        let mut framer = Framer::new(2);
        let mut runs = 0;
        let flow = framer.feed(&[1], &mut |_: &[u8]| ControlFlow::Continue(()));
        assert!(flow.is_continue());
        let flow = framer.feed(&[2, 3, 4], &mut |_: &[u8]| {
            runs += 1;
            ControlFlow::Break(())
        });
        assert!(flow.is_break());
        assert_eq!(
            runs, 1,
            "the reassembled row's run broke; the next run was not handed over"
        );
    }
}
