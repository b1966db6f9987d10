//! Stage `read` (ring transport): a BPF ring buffer map that the program fills during each walk,
//! and its records read back afterwards. Guarantees: the map lives as long as the `RowRing` and
//! the `RingRecords` read from it; only the pages a walk filled are mapped, one window at a
//! time (the kernel maps ring pages eagerly, so a whole ring would count fully in bpfq's
//! resident memory); every committed record of a walk is handed over once, in order, and a
//! record still being written is an error; a walk starts with the ring emptied (its consumer
//! position moved to the producer's), so the ring is reused without being created again.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::caps::{self, Needs};
use crate::sys;

/// The kernel name of bpfq's ring buffers (tests count maps by this prefix).
pub const RING_NAME: &str = "bpfq_rows";

/// Record header bits (`BPF_RINGBUF_BUSY_BIT`, `BPF_RINGBUF_DISCARD_BIT`).
const BUSY: u32 = 1 << 31;
const DISCARD: u32 = 1 << 30;
/// Each record starts with an 8-byte header (length with flags, page offset).
const HEADER: usize = 8;
/// Bytes of ring data mapped at once while reading (records are at most a few hundred bytes).
const WINDOW: usize = 1 << 20;

/// Why a ring could not be created or read.
#[derive(Debug)]
pub enum RingError {
    Create {
        size: u32,
        err: io::Error,
    },
    Map(io::Error),
    /// The header at `at` says the record is still being written: the walk is not over.
    Busy {
        at: usize,
    },
    /// A record length runs past the data the producer published.
    Malformed {
        at: usize,
    },
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingError::Create { size, err } => {
                let what = format!("create the {size}-byte BPF ring buffer that carries the rows");
                write!(f, "{}", caps::failure_text(&what, err, Needs::Tracing))
            }
            RingError::Map(err) => write!(f, "mapping the BPF ring buffer failed: {err}"),
            RingError::Busy { at } => write!(
                f,
                "the ring buffer record at byte {at} is still being written after the walk"
            ),
            RingError::Malformed { at } => {
                write!(f, "the ring buffer record at byte {at} runs past its data")
            }
        }
    }
}

impl std::error::Error for RingError {}

/// A ring buffer map, kept for many walks. Its fd goes into the program (map relocation).
#[derive(Debug)]
pub struct RowRing {
    fd: OwnedFd,
    size: u32,
}

/// The smallest valid ring size (a power of two, at least one page) holding `bytes`.
pub fn ring_size_for(bytes: u64) -> u64 {
    bytes.max(sys::page_size() as u64).next_power_of_two()
}

impl RowRing {
    /// A ring of `size` data bytes; `size` must be a power of two and a multiple of the page.
    pub fn create(size: u32) -> Result<RowRing, RingError> {
        let fd =
            sys::ringbuf_create(RING_NAME, size).map_err(|err| RingError::Create { size, err })?;
        Ok(RowRing { fd, size })
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// The consumer and producer positions (the consumer page, then the producer page).
    fn positions(&self) -> Result<(u64, u64), RingError> {
        let page = sys::page_size();
        let pages = sys::mmap_map_readonly(self.fd.as_fd(), 0, 2 * page).map_err(RingError::Map)?;
        let short = || RingError::Map(io::Error::other("ring position pages too small"));
        let consumer = pages.load_u64_acquire(0).ok_or_else(short)?;
        let producer = pages.load_u64_acquire(page).ok_or_else(short)?;
        Ok((consumer, producer))
    }

    /// Before a walk: everything the last walk left counts as read (the consumer position moves
    /// to the producer's), so the whole ring is free again.
    pub fn discard_records(&self) -> Result<(), RingError> {
        let (consumer, producer) = self.positions()?;
        if consumer == producer {
            return Ok(());
        }
        let page =
            sys::mmap_map_read_write(self.fd.as_fd(), sys::page_size()).map_err(RingError::Map)?;
        if !page.store_u64_release(0, producer) {
            return Err(RingError::Map(io::Error::other(
                "the ring's consumer page is not writable",
            )));
        }
        Ok(())
    }

    /// The records the last walk left. Call only after the walk, with its iterators closed:
    /// the data is then final until the next walk, which starts with `discard_records`.
    pub fn records(&self) -> Result<RingRecords, RingError> {
        let (start, end) = self.positions()?;
        if end < start || end - start > u64::from(self.size) {
            return Err(RingError::Malformed { at: 0 });
        }
        let fd = self.fd.try_clone().map_err(RingError::Map)?;
        Ok(RingRecords {
            fd,
            start,
            end,
            size: self.size,
            page: sys::page_size(),
        })
    }
}

impl AsFd for RowRing {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The records a finished walk left in a ring: positions `start..end`, which wrap around the
/// ring's data.
pub struct RingRecords {
    fd: OwnedFd,
    start: u64,
    end: u64,
    size: u32,
    page: usize,
}

impl RingRecords {
    /// Bytes of records (headers and padding included) the walk wrote.
    pub fn used(&self) -> usize {
        usize::try_from(self.end - self.start).unwrap_or(usize::MAX)
    }

    /// Calls `on_payload` with each committed, non-discarded record's bytes, in order; stops
    /// early when it returns `false`. The data is mapped `WINDOW` bytes at a time; a record cut
    /// by the end of a window is read again from the next one, which starts at its page. The
    /// kernel maps the data twice in a row, so a window running past the ring's end reads on
    /// from its start.
    pub fn for_each(&self, mut on_payload: impl FnMut(&[u8]) -> bool) -> Result<(), RingError> {
        let mut read = 0usize;
        let used = self.used();
        let mask = u64::from(self.size) - 1;
        while read < used {
            let at = ((self.start + read as u64) & mask) as usize;
            let base = at - at % self.page;
            let len = (at - base + (used - read)).min(WINDOW);
            let offset = 2 * self.page + base;
            let window =
                sys::mmap_map_readonly(self.fd.as_fd(), offset, len.next_multiple_of(self.page))
                    .map_err(RingError::Map)?;
            let last = at - base + (used - read) <= WINDOW;
            let walked = walk_records(&window.bytes()[at - base..len], last, &mut on_payload)
                .map_err(|err| err.shifted(read))?;
            match walked {
                Walked::Stopped => return Ok(()),
                Walked::Consumed(0) => return Err(RingError::Malformed { at: read }),
                Walked::Consumed(consumed) => read += consumed,
            }
        }
        Ok(())
    }
}

impl RingError {
    /// The same error with its position counted from `start` bytes earlier.
    fn shifted(self, start: usize) -> RingError {
        match self {
            RingError::Busy { at } => RingError::Busy { at: start + at },
            RingError::Malformed { at } => RingError::Malformed { at: start + at },
            other => other,
        }
    }
}

/// How far a walk over part of the data got.
#[derive(Debug, PartialEq, Eq)]
enum Walked {
    /// Every whole record was handed over; this many bytes (whole records) were consumed.
    Consumed(usize),
    /// The callback asked to stop.
    Stopped,
}

/// The record walk over `data`, which starts at a record. A record cut by the end of `data` is
/// left for the next window, unless `data` ends the published bytes (`last`): then it is
/// malformed.
fn walk_records(
    data: &[u8],
    last: bool,
    on_payload: &mut impl FnMut(&[u8]) -> bool,
) -> Result<Walked, RingError> {
    let mut at = 0usize;
    while at < data.len() {
        let cut = |at| {
            if last {
                Err(RingError::Malformed { at })
            } else {
                Ok(Walked::Consumed(at))
            }
        };
        let Some(header) = data.get(at..at + 4) else {
            return cut(at);
        };
        let header = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        if header & BUSY != 0 {
            return Err(RingError::Busy { at });
        }
        let len = (header & !(BUSY | DISCARD)) as usize;
        let Some(payload) = data.get(at + HEADER..at + HEADER + len) else {
            return cut(at);
        };
        if header & DISCARD == 0 && !on_payload(payload) {
            return Ok(Walked::Stopped);
        }
        at += (HEADER + len).next_multiple_of(8);
    }
    Ok(Walked::Consumed(data.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &[u8], flags: u32) -> Vec<u8> {
        let mut out = (payload.len() as u32 | flags).to_le_bytes().to_vec();
        out.extend([0u8; 4]);
        out.extend(payload);
        out.resize(out.len().next_multiple_of(8), 0xee);
        out
    }

    fn payloads(data: &[u8]) -> Result<Vec<Vec<u8>>, RingError> {
        let mut seen = Vec::new();
        walk_records(data, true, &mut |p: &[u8]| {
            seen.push(p.to_vec());
            true
        })?;
        Ok(seen)
    }

    #[test]
    fn records_come_back_in_order_without_padding_or_discarded_ones() {
        let mut data = record(&[1, 2, 3], 0);
        data.extend(record(&[9; 8], DISCARD));
        data.extend(record(&[4; 16], 0));
        let seen = payloads(&data).expect("walk");
        assert_eq!(seen, vec![vec![1, 2, 3], vec![4; 16]]);
    }

    #[test]
    fn a_busy_or_overlong_record_is_an_error() {
        let mut data = record(&[1; 8], 0);
        data.extend(record(&[2; 8], BUSY));
        assert!(matches!(payloads(&data), Err(RingError::Busy { at: 16 })));
        let mut cut = record(&[1; 24], 0);
        cut.truncate(20);
        assert!(matches!(
            payloads(&cut),
            Err(RingError::Malformed { at: 0 })
        ));
    }

    #[test]
    fn a_record_cut_by_the_window_waits_for_the_next_window() {
        let mut data = record(&[1; 8], 0);
        data.extend(record(&[2; 24], 0));
        let mut seen = Vec::new();
        let walked = walk_records(&data[..24], false, &mut |p: &[u8]| {
            seen.push(p.to_vec());
            true
        });
        assert_eq!(walked.ok(), Some(Walked::Consumed(16)));
        assert_eq!(seen, vec![vec![1; 8]]);
    }

    #[test]
    fn ring_sizes_are_powers_of_two_of_at_least_a_page() {
        let page = sys::page_size() as u64;
        assert_eq!(ring_size_for(1), page);
        assert_eq!(ring_size_for(3 << 20), 4 << 20);
        assert_eq!(ring_size_for(4 << 20), 4 << 20);
    }
}
