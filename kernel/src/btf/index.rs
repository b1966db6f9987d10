//! BTF index stage: records where each type starts, walking the type section only as far as a
//! lookup needs (a query's target is found about halfway into vmlinux), using only kind and vlen;
//! nothing is decoded. Entries once recorded never change.

use super::header::{read_u32, Header};
use super::kind::{record_len, Info, COMMON_LEN};
use super::BtfError;

/// Absolute start of each type record indexed so far, by id (entry 0 stands for void), plus why
/// indexing stopped early, if it did.
pub(crate) struct Index {
    pub offsets: Vec<u32>,
    pub error: Option<BtfError>,
    /// Where the first record not yet indexed starts.
    next_pos: usize,
}

impl Index {
    pub fn new(header: &Header) -> Index {
        // vmlinux averages ~25 bytes per record; reserving for 24 avoids regrowth (a 0.5 MB copy).
        // Only the pages the walk reaches are ever touched.
        let mut offsets = Vec::with_capacity((header.types_end - header.types_start) / 24 + 1);
        offsets.push(0);
        Index {
            offsets,
            error: None,
            next_pos: header.types_start,
        }
    }

    /// Whether every record is indexed, or a malformed one ended the walk.
    pub fn complete(&self, header: &Header) -> bool {
        self.error.is_some() || self.next_pos >= header.types_end
    }

    /// Indexes further records until `stop(id, pos, info)` returns true for one (it is indexed
    /// first), a malformed record ends the walk (kept in `error`) or none are left.
    pub fn extend(
        &mut self,
        bytes: &[u8],
        header: &Header,
        mut stop: impl FnMut(u32, usize, Info) -> bool,
    ) {
        if self.error.is_some() {
            return;
        }
        let types = &bytes[..header.types_end];
        let mut pos = self.next_pos;
        while pos < header.types_end {
            let id = self.offsets.len() as u32;
            let truncated = || BtfError::TruncatedType {
                id,
                offset: (pos - header.types_start) as u32,
            };
            if header.types_end - pos < COMMON_LEN {
                self.error = Some(truncated());
                break;
            }
            let Some(info) = read_u32(types, pos + 4, header.big_endian).map(Info::unpack) else {
                self.error = Some(truncated());
                break;
            };
            let Some(len) = record_len(info.kind_number, info.vlen) else {
                self.error = Some(BtfError::BadKind {
                    id,
                    kind: info.kind_number,
                });
                break;
            };
            if header.types_end - pos < len {
                self.error = Some(truncated());
                break;
            }
            if id == u32::MAX {
                self.error = Some(BtfError::TooManyTypes);
                break;
            }
            self.offsets.push(pos as u32);
            pos += len;
            if stop(id, pos - len, info) {
                break;
            }
        }
        self.next_pos = pos;
    }
}
