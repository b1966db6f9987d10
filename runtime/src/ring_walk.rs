//! Stage `load` + `read` (ring transport): runs the walk into a ring buffer, and again with a
//! ring twice as large while the program reports the ring full (`grow.rs`). Guarantees: the rows handed
//! back come from one complete walk that lost nothing to a full ring; every ring of a failed
//! or discarded attempt is released before the next is created.

use std::fmt;

use crate::grow::{until_fits, Attempt, GrowError};
use crate::reader::SilentWalk;
use crate::ringbuf::{ring_size_for, RingError, RowRing};
use crate::row_source::RingRows;

/// The largest ring bpfq creates (kernel memory, charged to the caller while the command
/// runs): 1 GiB holds about 8 million rows of 120 bytes.
pub const MAX_RING: u64 = 1 << 30;

/// Why a ring walk failed: the ring itself, or the caller's load/attach/read step.
#[derive(Debug)]
pub enum RingWalkError<E> {
    Ring(RingError),
    /// Even the largest ring filled up.
    TooManyRows {
        size: u64,
    },
    Walk(E),
}

impl<E> RingWalkError<E> {
    /// The same error with the caller's part converted (e.g. to something printable).
    pub fn map_walk<F>(self, convert: impl FnOnce(E) -> F) -> RingWalkError<F> {
        match self {
            RingWalkError::Ring(err) => RingWalkError::Ring(err),
            RingWalkError::TooManyRows { size } => RingWalkError::TooManyRows { size },
            RingWalkError::Walk(err) => RingWalkError::Walk(convert(err)),
        }
    }
}

impl<E: fmt::Display> fmt::Display for RingWalkError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingWalkError::Ring(err) => err.fmt(f),
            RingWalkError::TooManyRows { size } => write!(
                f,
                "the rows do not fit the largest ring buffer bpfq creates ({} MiB)",
                size >> 20
            ),
            RingWalkError::Walk(err) => err.fmt(f),
        }
    }
}

/// What the successful walk took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingWalkSummary {
    /// Size of the ring that held every row.
    pub ring_size: u32,
    /// Bytes of records in it.
    pub used: usize,
    /// Walks run (1 when the first ring was large enough).
    pub walks: u32,
    /// EAGAIN pauses of the successful walk (see `SilentWalk::pauses`).
    pub pauses: u32,
}

/// Walks with a ring of `first_size` bytes (rounded up to a valid size), doubling it after each
/// walk that filled it. `walk_once` loads the program with the ring's fd, runs the iterator
/// with `IterReader::walk_silent` and closes program, link and iterator before it returns.
/// `on_full(old, new)` is told of each retry.
pub fn walk_into_ring<E>(
    first_size: u64,
    mut walk_once: impl FnMut(&RowRing) -> Result<SilentWalk, E>,
    mut on_full: impl FnMut(u32, u32),
) -> Result<(RingRows, RingWalkSummary), RingWalkError<E>> {
    let attempt = |size: u64| -> Result<Attempt<_>, RingWalkError<E>> {
        let size32 = u32::try_from(size).map_err(|_| RingWalkError::TooManyRows { size })?;
        let ring = RowRing::create(size32).map_err(RingWalkError::Ring)?;
        let walk = walk_once(&ring).map_err(RingWalkError::Walk)?;
        if walk.overflowed {
            return Ok(Attempt::Full);
        }
        let records = ring.records().map_err(RingWalkError::Ring)?;
        Ok(Attempt::Fits((records, walk.pauses)))
    };
    let narrow = |size: u64| u32::try_from(size).unwrap_or(u32::MAX);
    let grown = until_fits(ring_size_for(first_size), MAX_RING, attempt, |old, new| {
        on_full(narrow(old), narrow(new))
    })
    .map_err(|err| match err {
        GrowError::TooLarge { size } => RingWalkError::TooManyRows { size },
        GrowError::Walk(err) => err,
    })?;
    let (records, pauses) = grown.value;
    let summary = RingWalkSummary {
        ring_size: narrow(grown.size),
        used: records.used(),
        walks: grown.walks,
        pauses,
    };
    Ok((RingRows::new(records), summary))
}
