//! xz size scan: walks an xz stream's block and LZMA2 chunk headers (no decompression) to learn
//! exactly how many bytes it decompresses to, and where its first chunk is, so a bomb is refused
//! before any of it is inflated (lzma-rs holds a whole block in memory while decoding it).

use super::BtfError;

/// What the headers say about an xz stream.
pub(crate) struct Scan {
    /// Sum of every LZMA2 chunk's uncompressed size.
    pub decompressed: u64,
    /// The first block's first LZMA2 chunk (at most 2 MiB once decompressed).
    pub first_chunk: Option<std::ops::Range<usize>>,
}

const STREAM_HEADER: usize = 12;

fn bad(what: &str) -> BtfError {
    BtfError::Decompress(format!("malformed xz stream: {what}"))
}

fn byte(bytes: &[u8], at: usize) -> Result<usize, BtfError> {
    bytes
        .get(at)
        .map(|&b| usize::from(b))
        .ok_or_else(|| bad("cut short"))
}

fn be16(bytes: &[u8], at: usize) -> Result<usize, BtfError> {
    Ok(byte(bytes, at)? << 8 | byte(bytes, at + 1)?)
}

/// Scans the stream's blocks up to its index.
pub(crate) fn scan(bytes: &[u8]) -> Result<Scan, BtfError> {
    let check_len = match byte(bytes, 7)? & 0x0f {
        0 => 0,
        1 => 4,
        4 => 8,
        10 => 32,
        other => return Err(bad(&format!("check type {other}"))),
    };
    let mut scan = Scan {
        decompressed: 0,
        first_chunk: None,
    };
    let mut at = STREAM_HEADER;
    loop {
        let header_size = byte(bytes, at)?;
        if header_size == 0 {
            // The index: every block has been seen.
            return Ok(scan);
        }
        at += (header_size + 1) * 4;
        at = chunks(bytes, at, &mut scan)?;
        at = at.next_multiple_of(4) + check_len;
    }
}

/// Walks the LZMA2 chunks of one block from `at`; returns where they end.
fn chunks(bytes: &[u8], mut at: usize, scan: &mut Scan) -> Result<usize, BtfError> {
    loop {
        let control = byte(bytes, at)?;
        let (unpacked, len) = match control {
            0 => return Ok(at + 1),
            1 | 2 => {
                let size = be16(bytes, at + 1)? + 1;
                (size, 3 + size)
            }
            0x80.. => {
                let unpacked = ((control & 0x1f) << 16 | be16(bytes, at + 1)?) + 1;
                let packed = be16(bytes, at + 3)? + 1;
                let props = usize::from((control >> 5) & 3 >= 2);
                (unpacked, 5 + props + packed)
            }
            _ => return Err(bad(&format!("LZMA2 control byte {control:#04x}"))),
        };
        if at + len > bytes.len() {
            return Err(bad("cut short"));
        }
        scan.first_chunk.get_or_insert(at..at + len);
        scan.decompressed += unpacked as u64;
        at += len;
    }
}
