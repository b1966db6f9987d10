//! Stage `read` -> `format`: drives rows from an iterator through the decoder into a sink.
//! Guarantees rows reach the sink in kernel order as they are read (no collecting), and that a
//! closed output (EPIPE, e.g. `bpfq ... | head -1`) ends the run quietly instead of failing.

use std::fmt;
use std::io;
use std::ops::ControlFlow;

use bpfq_compiler::layout::RowLayout;

use crate::decode::decode_row;
use crate::format::RowSink;
use crate::reader::{IterReader, ReadError};

/// Why streaming rows to the output failed.
#[derive(Debug)]
pub enum StreamError {
    Read(ReadError),
    Write(io::Error),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Read(err) => err.fmt(f),
            StreamError::Write(err) => write!(f, "writing output failed: {err}"),
        }
    }
}

impl std::error::Error for StreamError {}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSummary {
    pub rows: usize,
    /// The reader of our output went away before the end.
    pub output_closed: bool,
}

fn is_closed_output(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

/// Reads every row of `reader`, decodes it by `layout` and hands it to `sink`, with `begin`
/// before the first row and `end` after the last.
pub fn stream_rows(
    reader: &mut IterReader,
    layout: &RowLayout,
    sink: &mut dyn RowSink,
) -> Result<StreamSummary, StreamError> {
    let closed = |rows| {
        Ok(StreamSummary {
            rows,
            output_closed: true,
        })
    };
    match sink.begin(layout) {
        Err(err) if is_closed_output(&err) => return closed(0),
        other => other.map_err(StreamError::Write)?,
    }
    let mut rows = 0usize;
    let mut write_error = None;
    reader
        .read_rows(layout.size as usize, |row| {
            match sink.row(&decode_row(layout, row)) {
                Ok(()) => {
                    rows += 1;
                    ControlFlow::Continue(())
                }
                Err(err) => {
                    write_error = Some(err);
                    ControlFlow::Break(())
                }
            }
        })
        .map_err(StreamError::Read)?;
    let finished = match write_error {
        Some(err) => Err(err),
        None => sink.end(),
    };
    match finished {
        Ok(()) => Ok(StreamSummary {
            rows,
            output_closed: false,
        }),
        Err(err) if is_closed_output(&err) => closed(rows),
        Err(err) => Err(StreamError::Write(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Value;
    use bpfq_compiler::layout::ColumnKind;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixDatagram;

    /// Records rows; fails with `error` once it holds `fail_after` rows.
    struct Recorder {
        rows: Vec<Vec<Value>>,
        fail_after: usize,
        error: io::ErrorKind,
        ended: bool,
    }

    impl RowSink for Recorder {
        fn begin(&mut self, _layout: &RowLayout) -> io::Result<()> {
            Ok(())
        }
        fn row(&mut self, values: &[Value]) -> io::Result<()> {
            if self.rows.len() == self.fail_after {
                return Err(io::Error::from(self.error));
            }
            self.rows.push(values.to_vec());
            Ok(())
        }
        fn end(&mut self) -> io::Result<()> {
            self.ended = true;
            Ok(())
        }
    }

    fn reader_of(values: &[u64]) -> IterReader {
        let (reader, writer) = UnixDatagram::pair().expect("socketpair");
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        writer.send(&bytes).expect("send");
        writer.send(&[]).expect("send end marker");
        IterReader::new(OwnedFd::from(reader))
    }

    fn layout() -> RowLayout {
        RowLayout::pack([(
            "n".to_string(),
            ColumnKind::Int {
                bytes: 8,
                signed: false,
            },
            false,
        )])
    }

    fn recorder(fail_after: usize, error: io::ErrorKind) -> Recorder {
        Recorder {
            rows: Vec::new(),
            fail_after,
            error,
            ended: false,
        }
    }

    #[test]
    fn every_row_reaches_the_sink_in_order() {
        let mut sink = recorder(usize::MAX, io::ErrorKind::Other);
        let summary =
            stream_rows(&mut reader_of(&[3, 1, 2]), &layout(), &mut sink).expect("stream");
        assert_eq!(
            summary,
            StreamSummary {
                rows: 3,
                output_closed: false
            }
        );
        assert_eq!(
            sink.rows,
            vec![
                vec![Value::UInt(3)],
                vec![Value::UInt(1)],
                vec![Value::UInt(2)]
            ]
        );
        assert!(sink.ended);
    }

    #[test]
    fn a_closed_pipe_stops_quietly() {
        let mut sink = recorder(1, io::ErrorKind::BrokenPipe);
        let summary =
            stream_rows(&mut reader_of(&[3, 1, 2]), &layout(), &mut sink).expect("stream");
        assert_eq!(
            summary,
            StreamSummary {
                rows: 1,
                output_closed: true
            }
        );
        assert!(!sink.ended);
    }

    #[test]
    fn other_write_errors_are_reported() {
        let mut sink = recorder(0, io::ErrorKind::PermissionDenied);
        let result = stream_rows(&mut reader_of(&[3]), &layout(), &mut sink);
        assert!(matches!(result, Err(StreamError::Write(_))));
    }
}
