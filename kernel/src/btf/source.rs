//! BTF input stage: reads files and undoes xz compression so the parser always sees raw BTF bytes.

use super::BtfError;

const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];

pub(crate) fn is_xz(bytes: &[u8]) -> bool {
    bytes.starts_with(&XZ_MAGIC)
}

pub(crate) fn decompress_xz(bytes: &[u8]) -> Result<Vec<u8>, BtfError> {
    let mut input = bytes;
    let mut output = Vec::with_capacity(bytes.len() * 5);
    lzma_rs::xz_decompress(&mut input, &mut output)
        .map_err(|error| BtfError::Decompress(error.to_string()))?;
    Ok(output)
}

pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>, BtfError> {
    std::fs::read(path).map_err(|error| BtfError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    })
}
