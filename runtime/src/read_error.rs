//! Why reading rows stopped: one error type for the reader and the framer that splits its bytes
//! into rows (its own file so neither imports the other for it).

use std::fmt;
use std::io;

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
