//! Stage `load` + `read` (ring transport): runs the walk into a kept ring buffer, and again with
//! a ring twice as large while the program reports the ring full (`grow.rs`). Guarantees: the
//! rows handed back come from one complete walk that lost nothing to a full ring; every ring of
//! a discarded attempt is released before the next is created; the ring that held a walk, and
//! its program, are kept for the next walks.

use std::fmt;

use crate::grow::{until_fits_kept, Attempt, GrowError, Kept};
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

/// A ring and the program loaded with its fd (dropped first), kept between walks.
pub struct RingPair<P> {
    pub program: P,
    pub ring: RowRing,
}

/// Walks into the kept ring (one of `first_size` bytes, rounded up to a valid size, when there
/// is none), emptied first, and into a ring twice as large after each walk that filled it; the
/// ring that held the walk is kept. `load` loads the program with a new ring's fd; `walk_once`
/// runs the program's iterators with `IterReader::walk_silent` and closes them before it
/// returns. `on_full(old, new)` is told of each retry.
pub fn walk_into_ring<P, E>(
    kept: &mut Option<Kept<RingPair<P>>>,
    first_size: u64,
    mut load: impl FnMut(&RowRing) -> Result<P, E>,
    mut walk_once: impl FnMut(&P) -> Result<SilentWalk, E>,
    mut on_full: impl FnMut(u32, u32),
) -> Result<(RingRows, RingWalkSummary), RingWalkError<E>> {
    let make = |size: u64| -> Result<RingPair<P>, RingWalkError<E>> {
        let size32 = u32::try_from(size).map_err(|_| RingWalkError::TooManyRows { size })?;
        let ring = RowRing::create(size32).map_err(RingWalkError::Ring)?;
        let program = load(&ring).map_err(RingWalkError::Walk)?;
        Ok(RingPair { program, ring })
    };
    let attempt = |pair: &RingPair<P>| -> Result<Attempt<_>, RingWalkError<E>> {
        pair.ring.discard_records().map_err(RingWalkError::Ring)?;
        let walk = walk_once(&pair.program).map_err(RingWalkError::Walk)?;
        if walk.overflowed {
            return Ok(Attempt::Full);
        }
        let records = pair.ring.records().map_err(RingWalkError::Ring)?;
        Ok(Attempt::Fits((records, walk.pauses)))
    };
    let narrow = |size: u64| u32::try_from(size).unwrap_or(u32::MAX);
    let first = ring_size_for(first_size);
    let grown = until_fits_kept(kept, first, MAX_RING, make, attempt, |old, new| {
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
