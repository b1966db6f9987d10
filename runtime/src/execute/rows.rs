//! Stage `read`, one walk's rows whatever produced them: a seq iterator, a ring walked into, or
//! a user-space walk of a map. Guarantees: each reads as the `RowSource` it wraps.

use std::ops::ControlFlow;

use crate::map_walk::MapWalkRows;
use crate::reader::{IterReader, ReadError};
use crate::row_source::{RingRows, RowSource};

/// The rows of one iterator (or map walk) of one walk.
pub enum Rows<'a> {
    Seq(IterReader),
    Ring(RingRows),
    Map(MapWalkRows<'a>),
}

impl RowSource for Rows<'_> {
    fn read_runs(
        &mut self,
        row_size: usize,
        on_run: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        match self {
            Rows::Seq(reader) => reader.read_runs(row_size, on_run),
            Rows::Ring(rows) => rows.read_runs(row_size, on_run),
            Rows::Map(rows) => rows.read_runs(row_size, on_run),
        }
    }
}
