//! Stage `read`: iterator fd -> fixed-size binary rows. Guarantees every complete row is handed
//! over exactly once and whole, even when the kernel splits it across reads, and that a torn
//! row at the end is an error rather than silently dropped.

use std::fmt;
use std::io;
use std::ops::ControlFlow;
use std::os::fd::{AsFd, OwnedFd};

use crate::sys;

/// The kernel's iterator seq buffer: one read returns at most this much.
const SEQ_BUFFER: usize = 32 * 1024;

/// Why reading rows stopped with an error.
#[derive(Debug)]
pub enum ReadError {
    /// A row size of 0 cannot frame rows.
    ZeroRowSize,
    /// The kernel refused with E2BIG: one object wrote 32 KiB or more.
    ObjectTooLarge,
    /// The stream ended `trailing` bytes into a row of `row_size` bytes.
    TornRow {
        trailing: usize,
        row_size: usize,
    },
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::ZeroRowSize => write!(f, "row size must be at least one byte"),
            ReadError::ObjectTooLarge => write!(
                f,
                "one object's output exceeded 32 KiB, the most a BPF iterator can return per object"
            ),
            ReadError::TornRow { trailing, row_size } => write!(
                f,
                "the iterator ended in the middle of a row ({trailing} of {row_size} bytes)"
            ),
            ReadError::Io(err) => write!(f, "reading the BPF iterator failed: {err}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(err) => Some(err),
            _ => None,
        }
    }
}

/// An open BPF iterator; reading it runs the program over the target's objects.
#[derive(Debug)]
pub struct IterReader {
    fd: OwnedFd,
}

/// How a walk whose program writes nothing to the seq buffer (ring transport) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SilentWalk {
    /// The program wrote to the seq buffer: its marker that the ring buffer was full.
    pub overflowed: bool,
    /// Times the kernel paused the walk with EAGAIN: a read that visits 1,000,000 objects
    /// without output stops there, and the next read resumes (iter/unix resumes at the next
    /// hash bucket, so the rest of the bucket it paused in is missing).
    pub pauses: u32,
}

/// Bytes to ask for per read: below 32 KiB by at least one row, so the kernel never has to stop
/// in the middle of an object and run the program on it again, and a whole number of rows.
fn read_size(row_size: usize) -> usize {
    let rows = SEQ_BUFFER.saturating_sub(row_size) / row_size;
    rows.max(1) * row_size
}

impl IterReader {
    pub(crate) fn new(fd: OwnedFd) -> IterReader {
        IterReader { fd }
    }

    /// Runs a program that writes nothing to the seq buffer over every object: one read
    /// walks them all (unless the kernel pauses it). Stops at the first byte, which can only be
    /// the ring-full marker: that walk's rows are dropped anyway.
    pub fn walk_silent(&mut self) -> Result<SilentWalk, ReadError> {
        let mut walk = SilentWalk::default();
        let mut buf = [0u8; 64];
        loop {
            match sys::read(self.fd.as_fd(), &mut buf) {
                Ok(0) => return Ok(walk),
                Ok(_) => {
                    walk.overflowed = true;
                    return Ok(walk);
                }
                Err(err) => match err.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => walk.pauses += 1,
                    Some(libc::E2BIG) => return Err(ReadError::ObjectTooLarge),
                    _ => return Err(ReadError::Io(err)),
                },
            }
        }
    }

    /// Reads until the iterator ends (or `on_row` breaks), calling `on_row` with each complete
    /// `row_size`-byte row in order.
    pub fn read_rows(
        &mut self,
        row_size: usize,
        mut on_row: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        if row_size == 0 {
            return Err(ReadError::ZeroRowSize);
        }
        let chunk = read_size(row_size);
        // Room for one partial row carried over from the previous read plus one chunk.
        let mut buf = vec![0u8; chunk + row_size];
        let mut carried = 0usize;
        loop {
            let count = match sys::read(self.fd.as_fd(), &mut buf[carried..carried + chunk]) {
                Ok(count) => count,
                Err(err) => match err.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => {
                        std::thread::yield_now();
                        continue;
                    }
                    Some(libc::E2BIG) => return Err(ReadError::ObjectTooLarge),
                    _ => return Err(ReadError::Io(err)),
                },
            };
            if count == 0 {
                return match carried {
                    0 => Ok(()),
                    trailing => Err(ReadError::TornRow { trailing, row_size }),
                };
            }
            let filled = carried + count;
            let whole = filled - filled % row_size;
            for row in buf[..whole].chunks_exact(row_size) {
                if on_row(row).is_break() {
                    return Ok(());
                }
            }
            buf.copy_within(whole..filled, 0);
            carried = filled - whole;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixDatagram;

    /// A datagram socket: each read returns exactly one of `pieces` (like the kernel returning
    /// an arbitrary byte count), then an empty datagram reads as end of stream.
    fn pipe_with(pieces: &[&[u8]]) -> IterReader {
        let (reader, writer) = UnixDatagram::pair().expect("socketpair");
        for piece in pieces {
            writer.send(piece).expect("send");
        }
        writer.send(&[]).expect("send end marker");
        IterReader::new(OwnedFd::from(reader))
    }

    #[test]
    fn read_size_is_whole_rows_below_the_seq_buffer() {
        assert_eq!(read_size(8), 32 * 1024 - 8);
        assert_eq!(read_size(24), (32 * 1024 - 24) / 24 * 24);
        assert_eq!(read_size(40000), 40000);
    }

    #[test]
    fn rows_split_across_writes_are_reassembled() {
        let mut reader = pipe_with(&[&[1, 2, 3], &[4, 5, 6, 7, 8, 9], &[10, 11, 12]]);
        let mut rows = Vec::new();
        reader
            .read_rows(4, |row| {
                rows.push(row.to_vec());
                ControlFlow::Continue(())
            })
            .expect("read");
        assert_eq!(
            rows,
            vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9, 10, 11, 12]]
        );
    }

    #[test]
    fn trailing_partial_row_is_an_error() {
        let mut reader = pipe_with(&[&[1, 2, 3, 4, 5, 6]]);
        let mut seen = 0;
        let result = reader.read_rows(4, |_| {
            seen += 1;
            ControlFlow::Continue(())
        });
        assert!(matches!(
            result,
            Err(ReadError::TornRow {
                trailing: 2,
                row_size: 4
            })
        ));
        assert_eq!(seen, 1);
    }

    #[test]
    fn break_stops_early() {
        let mut reader = pipe_with(&[&[0; 64]]);
        let mut seen = 0;
        reader
            .read_rows(8, |_| {
                seen += 1;
                if seen == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .expect("read");
        assert_eq!(seen, 3);
    }

    #[test]
    fn zero_row_size_is_refused() {
        let mut reader = pipe_with(&[]);
        assert!(matches!(
            reader.read_rows(0, |_| ControlFlow::Continue(())),
            Err(ReadError::ZeroRowSize)
        ));
    }
}
