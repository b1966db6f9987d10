//! BTF index stage: one pass over the type section that records where each type starts, using only kind and vlen; nothing is decoded.

use super::header::{read_u32, Header};
use super::kind::{record_len, Info, COMMON_LEN};
use super::BtfError;

/// Absolute start of each type record by id (entry 0 stands for void), plus why indexing stopped early, if it did.
pub(crate) struct Index {
    pub offsets: Vec<u32>,
    pub error: Option<BtfError>,
}

/// Builds the index; `visit(id, pos, info)` sees each well-formed record as it is indexed, so a
/// first lookup can share this single pass instead of making a second one.
pub(crate) fn build(
    bytes: &[u8],
    header: &Header,
    mut visit: impl FnMut(u32, usize, Info),
) -> Index {
    // vmlinux averages ~25 bytes per record; reserving for 24 avoids regrowth (a 0.5 MB copy).
    let mut offsets = Vec::with_capacity((header.types_end - header.types_start) / 24 + 1);
    offsets.push(0);
    let types = &bytes[..header.types_end];
    let mut pos = header.types_start;
    while pos < header.types_end {
        let id = offsets.len() as u32;
        let truncated = || BtfError::TruncatedType {
            id,
            offset: (pos - header.types_start) as u32,
        };
        if header.types_end - pos < COMMON_LEN {
            return Index {
                offsets,
                error: Some(truncated()),
            };
        }
        let Some(info) = read_u32(types, pos + 4, header.big_endian).map(Info::unpack) else {
            return Index {
                offsets,
                error: Some(truncated()),
            };
        };
        let Some(len) = record_len(info.kind_number, info.vlen) else {
            return Index {
                offsets,
                error: Some(BtfError::BadKind {
                    id,
                    kind: info.kind_number,
                }),
            };
        };
        if header.types_end - pos < len {
            return Index {
                offsets,
                error: Some(truncated()),
            };
        }
        if id == u32::MAX {
            return Index {
                offsets,
                error: Some(BtfError::TooManyTypes),
            };
        }
        visit(id, pos, info);
        offsets.push(pos as u32);
        pos += len;
    }
    Index {
        offsets,
        error: None,
    }
}
