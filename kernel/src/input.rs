//! Input files: the one reader of every file bpfq is handed (query files, modules, user library
//! files, `--btf`); it opens without blocking, accepts only a regular file (checked on the opened
//! fd) and never reads more than the caller's cap, so no input can hang bpfq or fill its memory.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Cap of a query file, module or user library file: a hand-written text (the largest stdlib
/// file is a few KiB), far above any real one, far below what would strain memory.
pub const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// Cap of a BTF blob, raw or decompressed. The largest vmlinux BTF measured is ~6 MiB (the
/// fixtures, 5.10 to 6.18, are 4-6 MiB decompressed); 256 MiB leaves a 40-fold margin for an
/// allyesconfig kernel while keeping a hostile file (or an xz bomb) from filling memory.
pub const MAX_BTF_BYTES: u64 = 256 << 20;

/// Why an input file was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputError {
    /// open(2), fstat(2) or read(2) failed.
    Io(String),
    /// Not a regular file: a FIFO, a device, a directory or a socket (which may never end).
    NotRegular(&'static str),
    /// Larger than the cap (in bytes).
    TooLarge { limit: u64 },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(message) => f.write_str(message),
            InputError::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            InputError::TooLarge { limit } => {
                write!(f, "it is larger than bpfq reads ({})", size_text(*limit))
            }
        }
    }
}

impl std::error::Error for InputError {}

/// `limit` for messages: whole MiB where it is one.
pub fn size_text(limit: u64) -> String {
    if limit >= 1 << 20 && limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else {
        format!("{limit} bytes")
    }
}

/// The bytes of the regular file at `path`, at most `limit` of them. Opened with `O_NONBLOCK`
/// so a FIFO without a writer does not block the open, then checked with fstat on that fd
/// (no window between a check and the open).
pub fn read_input(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| InputError::Io(e.to_string()))?;
    let meta = file.metadata().map_err(|e| InputError::Io(e.to_string()))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(InputError::NotRegular(kind_name(&kind)));
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge { limit });
    }
    read_capped(file, meta.len(), limit)
}

/// The UTF-8 text of the regular file at `path` (at most `limit` bytes).
pub fn read_input_text(path: &Path, limit: u64) -> Result<String, InputError> {
    utf8(read_input(path, limit)?)
}

fn utf8(bytes: Vec<u8>) -> Result<String, InputError> {
    String::from_utf8(bytes)
        .map_err(|_| InputError::Io("stream did not contain valid UTF-8".to_string()))
}

/// The UTF-8 text of a stream (standard input), at most `limit` bytes.
pub fn read_stream_text(stream: impl Read, limit: u64) -> Result<String, InputError> {
    utf8(read_stream(stream, limit)?)
}

/// The bytes of a stream (standard input), at most `limit` of them.
pub fn read_stream(stream: impl Read, limit: u64) -> Result<Vec<u8>, InputError> {
    read_capped(stream, 0, limit)
}

/// Reads to the end, failing past `limit` (a file may grow after fstat).
fn read_capped(stream: impl Read, expected: u64, limit: u64) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    stream
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::Io(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { limit });
    }
    Ok(bytes)
}

fn kind_name(kind: &std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_directories_are_refused_without_reading() {
        assert_eq!(
            read_input(Path::new("/dev/zero"), 16),
            Err(InputError::NotRegular("a character device"))
        );
        assert_eq!(
            read_input(Path::new("/"), 16),
            Err(InputError::NotRegular("a directory"))
        );
    }

    #[test]
    fn a_file_over_the_cap_is_refused() {
        let path = std::env::temp_dir().join(format!("bpfq-input-cap-{}", std::process::id()));
        std::fs::write(&path, [b'x'; 17]).unwrap();
        let over = read_input(&path, 16);
        let at = read_input(&path, 17);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(over, Err(InputError::TooLarge { limit: 16 }));
        assert_eq!(at.map(|b| b.len()), Ok(17));
    }
}
