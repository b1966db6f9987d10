//! Stage `read`: iterator fd -> fixed-size binary rows. Guarantees every complete row is handed
//! over exactly once, whole and in order, even when the kernel splits it across reads, and that
//! a torn row at the end is an error rather than silently dropped; a long dump is read by a
//! second thread, which has ended (and no longer uses the fd) when reading returns.

use std::ops::ControlFlow;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::mpsc::{channel, sync_channel};

use crate::framer::Framer;
pub use crate::read_error::ReadError;
use crate::sys;

/// The kernel's iterator seq buffer: one read returns at most this much.
const SEQ_BUFFER: usize = 32 * 1024;

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

    /// Reads until the iterator ends (or `on_run` breaks), handing over runs of consecutive
    /// `row_size`-byte rows (what one read returned), in order; `RowSource::read_rows` splits
    /// them into rows.
    ///
    /// A dump that fills its first read is long: the rest is then read by a second thread
    /// while this one hands rows over, so the kernel's walk and the formatting overlap. The
    /// reader stays at most `AHEAD` reads ahead, and stops at its next read once `on_run`
    /// breaks; it has ended before this returns, so the fd outlives every use.
    pub fn read_runs(
        &mut self,
        row_size: usize,
        mut on_run: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        if row_size == 0 {
            return Err(ReadError::ZeroRowSize);
        }
        let chunk = read_size(row_size);
        let fd = self.fd.as_fd();
        let mut framer = Framer::new(row_size);
        let mut first = vec![0u8; chunk];
        let count = read_chunk(fd, &mut first)?;
        if framer.feed(&first[..count], &mut on_run).is_break() {
            return Ok(());
        }
        if count == 0 {
            return framer.finish();
        }
        if count < chunk / 2 {
            // The walk stopped well short of a full buffer: it has ended (or paused after a
            // million objects); a thread would cost more than what is left.
            loop {
                let count = read_chunk(fd, &mut first)?;
                if count == 0 {
                    return framer.finish();
                }
                if framer.feed(&first[..count], &mut on_run).is_break() {
                    return Ok(());
                }
            }
        }
        std::thread::scope(|scope| {
            let (full_tx, full) = sync_channel::<Result<Vec<u8>, ReadError>>(AHEAD);
            let (empty_tx, empty) = channel::<Vec<u8>>();
            scope.spawn(move || loop {
                let mut buf = empty.try_recv().unwrap_or_default();
                buf.resize(chunk, 0);
                let read = read_chunk(fd, &mut buf).map(|count| {
                    buf.truncate(count);
                    buf
                });
                let last = !matches!(&read, Ok(buf) if !buf.is_empty());
                // A closed channel means the rows are no longer wanted.
                if full_tx.send(read).is_err() || last {
                    return;
                }
            });
            let _ = empty_tx.send(first);
            for read in full {
                let buf = read?;
                if buf.is_empty() {
                    return framer.finish();
                }
                if framer.feed(&buf, &mut on_run).is_break() {
                    return Ok(());
                }
                let _ = empty_tx.send(buf);
            }
            // The reader always sends its last read before it ends.
            framer.finish()
        })
    }
}

/// Reads the reader thread may be ahead of the rows handed over (32 KiB each).
const AHEAD: usize = 8;

/// One read of the iterator into `buf`, retrying when interrupted or paused.
fn read_chunk(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, ReadError> {
    loop {
        match sys::read(fd, buf) {
            Ok(count) => return Ok(count),
            Err(err) => match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => std::thread::yield_now(),
                Some(libc::E2BIG) => return Err(ReadError::ObjectTooLarge),
                _ => return Err(ReadError::Io(err)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row_source::RowSource;
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

    /// Like `pipe_with`, with a thread sending `pieces` as they are read (more than the
    /// socket buffer holds), then the end marker; the thread is returned to be joined.
    fn streamed_pipe(pieces: Vec<Vec<u8>>) -> (IterReader, std::thread::JoinHandle<()>) {
        let (reader, writer) = UnixDatagram::pair().expect("socketpair");
        let sender = std::thread::spawn(move || {
            for piece in pieces.iter().chain([&Vec::new()]) {
                // The reader may have stopped early and closed its end.
                if writer.send(piece).is_err() {
                    return;
                }
            }
        });
        (IterReader::new(OwnedFd::from(reader)), sender)
    }

    /// Reads `row_size`-byte rows until the end, or until the `stop_at`th row breaks; the result
    /// and how many rows were handed over.
    fn count_rows(
        reader: &mut IterReader,
        row_size: usize,
        stop_at: u64,
    ) -> (Result<(), ReadError>, u64) {
        let mut seen = 0u64;
        let result = reader.read_rows(row_size, |_| {
            seen += 1;
            if seen == stop_at {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        (result, seen)
    }

    /// Big reads of consecutive u64 rows, cut at odd places so rows span reads.
    fn counting_pieces(rows: u64, piece_len: usize) -> Vec<Vec<u8>> {
        let bytes: Vec<u8> = (0..rows).flat_map(u64::to_le_bytes).collect();
        bytes.chunks(piece_len).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn a_long_dump_is_read_ahead_and_handed_over_in_order() {
        let (mut reader, sender) = streamed_pipe(counting_pieces(40_000, 30_001));
        let mut next = 0u64;
        reader
            .read_rows(8, |row| {
                assert_eq!(row, next.to_le_bytes());
                next += 1;
                ControlFlow::Continue(())
            })
            .expect("read");
        assert_eq!(next, 40_000);
        sender.join().expect("sender");
    }

    #[test]
    fn a_long_dump_stops_reading_when_rows_are_no_longer_wanted() {
        let (mut reader, sender) = streamed_pipe(counting_pieces(400_000, 30_000));
        let (result, seen) = count_rows(&mut reader, 8, 5_000);
        result.expect("read");
        assert_eq!(seen, 5_000);
        // The read-ahead thread has ended: nothing reads the socket any more, so closing it
        // lets the sender finish with an error instead of blocking.
        drop(reader);
        sender.join().expect("sender");
    }

    #[test]
    fn a_long_dump_ending_inside_a_row_is_an_error() {
        let mut pieces = counting_pieces(10_000, 30_000);
        pieces.push(vec![1, 2, 3]);
        let (mut reader, sender) = streamed_pipe(pieces);
        let (result, seen) = count_rows(&mut reader, 8, u64::MAX);
        assert!(matches!(
            result,
            Err(ReadError::TornRow {
                trailing: 3,
                row_size: 8
            })
        ));
        assert_eq!(seen, 10_000);
        sender.join().expect("sender");
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
        let (result, seen) = count_rows(&mut reader, 4, u64::MAX);
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
        let (result, seen) = count_rows(&mut reader, 8, 3);
        result.expect("read");
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
