//! BTF input stage: reads files (through the bounded `input` reader) and undoes xz compression
//! so the parser always sees raw BTF bytes; the decompressed size is capped and the magic
//! checked on the first bytes out, so a bomb of zeros stops at once.

use super::header::byte_order;
use super::{xz_scan, BtfError};
use crate::input::{read_input, InputError, MAX_BTF_BYTES};

const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];

pub(crate) fn is_xz(bytes: &[u8]) -> bool {
    bytes.starts_with(&XZ_MAGIC)
}

pub(crate) fn decompress_xz(bytes: &[u8]) -> Result<Vec<u8>, BtfError> {
    decompress_xz_capped(bytes, MAX_BTF_BYTES)
}

/// Decompresses after the headers promise at most `limit` bytes and the first chunk starts with
/// the BTF magic: a stream of zeros is refused after its first chunk (at most 2 MiB) is inflated.
fn decompress_xz_capped(bytes: &[u8], limit: u64) -> Result<Vec<u8>, BtfError> {
    let scan = xz_scan::scan(bytes)?;
    if let Some(chunk) = scan.first_chunk {
        let mut first = Vec::new();
        // The chunk alone, as an LZMA2 stream: itself and the end marker.
        let alone = bytes[chunk].iter().copied().chain([0]).collect::<Vec<u8>>();
        lzma_rs::lzma2_decompress(&mut &alone[..], &mut first)
            .map_err(|error| BtfError::Decompress(error.to_string()))?;
        if let [a, b, ..] = first[..] {
            byte_order([a, b])?;
        }
    }
    if scan.decompressed > limit {
        return Err(BtfError::Refused(InputError::TooLarge { limit }));
    }
    let mut input = bytes;
    let mut output = Vec::with_capacity(scan.decompressed as usize);
    lzma_rs::xz_decompress(&mut input, &mut output)
        .map_err(|error| BtfError::Decompress(error.to_string()))?;
    Ok(output)
}

pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>, BtfError> {
    read_input(path, MAX_BTF_BYTES).map_err(|error| match error {
        InputError::Io(message) => BtfError::Io {
            path: path.display().to_string(),
            message,
        },
        refused => BtfError::Refused(refused),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xz(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        lzma_rs::xz_compress(&mut &raw[..], &mut out).unwrap();
        out
    }

    #[test]
    fn zeros_stop_at_the_magic_before_the_cap() {
        let zeros = xz(&vec![0u8; 1 << 20]);
        assert_eq!(
            decompress_xz_capped(&zeros, 1024),
            Err(BtfError::BadMagic(0))
        );
    }

    #[test]
    fn the_decompressed_size_is_capped() {
        let mut blob = vec![0u8; 4096];
        blob[..2].copy_from_slice(&0xeb9f_u16.to_le_bytes());
        assert_eq!(
            decompress_xz_capped(&xz(&blob), 1024),
            Err(BtfError::Refused(InputError::TooLarge { limit: 1024 }))
        );
        assert_eq!(
            decompress_xz_capped(&xz(&blob), 4096).map(|b| b.len()),
            Ok(4096)
        );
    }
}
