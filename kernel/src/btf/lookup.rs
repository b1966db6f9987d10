//! BTF name lookup stage: scans type records comparing name bytes in place (no decoding, no allocation per type); a scan indexes records as it goes and stops at the last name it wants.

use super::header::read_u32;
use super::kind::{Info, COMMON_LEN};
use super::{Btf, Kind, TypeId};

/// Whether the NUL-terminated string at `offset` is exactly `wanted`, without decoding or allocating.
pub(super) fn str_is(strings: &[u8], offset: u32, wanted: &[u8]) -> bool {
    let start = offset as usize;
    let end = start + wanted.len();
    // Most names differ in the first byte; checking it inline skips a memcmp call per type.
    if strings.get(start) != wanted.first() {
        return false;
    }
    strings.get(start..end) == Some(wanted) && strings.get(end) == Some(&0)
}

/// Whether the string at `offset` starts with `prefix`.
fn str_starts_with(strings: &[u8], offset: u32, prefix: &[u8]) -> bool {
    let start = offset as usize;
    strings.get(start..start + prefix.len()) == Some(prefix)
}

impl Btf {
    /// Calls `visit(id, name_off, kind, at)` for each well-formed record in id order until it
    /// returns false, extending the index only as far as the visit goes; `at` is where the
    /// record starts and its vlen. `visit` runs with the index locked, so it must not look
    /// types up by id.
    fn scan_records(&self, mut visit: impl FnMut(TypeId, u32, Kind, RecordAt) -> bool) {
        // Fetched once: `bytes()` goes through a trait object and would not inline in the loop.
        let bytes = self.bytes();
        let big_endian = self.header.big_endian;
        let mut visit_at = |id: u32, pos: usize, info: Info| match (
            read_u32(bytes, pos, big_endian),
            Kind::from_number(info.kind_number),
        ) {
            (Some(name_off), Some(kind)) => visit(
                TypeId(id),
                name_off,
                kind,
                RecordAt {
                    pos,
                    vlen: info.vlen,
                },
            ),
            _ => true,
        };
        let mut index = self.index();
        for (id, &pos) in index.offsets.iter().enumerate().skip(1) {
            let Some(info) = read_u32(bytes, pos as usize + 4, big_endian) else {
                continue;
            };
            if !visit_at(id as u32, pos as usize, Info::unpack(info)) {
                return;
            }
        }
        if !index.complete(&self.header) {
            index.extend(bytes, &self.header, |id, pos, info| {
                !visit_at(id, pos, info)
            });
        }
    }

    /// The first type of `kind` named `name`.
    pub fn find(&self, kind: Kind, name: &str) -> Option<TypeId> {
        self.find_many(&[(kind, name)]).pop().flatten()
    }

    /// Finds several (kind, name) pairs in one pass; each result is the first match, in input order.
    /// Each pair is searched for once per blob: later calls answer from a memo.
    pub fn find_many(&self, wanted: &[(Kind, &str)]) -> Vec<Option<TypeId>> {
        let known: Vec<Option<Option<TypeId>>> = {
            let memo = self.found();
            wanted
                .iter()
                .map(|(kind, name)| memo.get(kind).and_then(|names| names.get(*name)).copied())
                .collect()
        };
        let mut found: Vec<Option<TypeId>> = known.iter().map(|k| k.flatten()).collect();
        let mut searched: Vec<bool> = known.iter().map(Option::is_some).collect();
        let mut missing = known.iter().filter(|k| k.is_none()).count();
        if missing == 0 {
            return found;
        }
        let strings = self.string_section();
        self.scan_records(|id, name_off, kind, _| {
            for ((slot, done), (wanted_kind, name)) in
                found.iter_mut().zip(&mut searched).zip(wanted)
            {
                if slot.is_none()
                    && !*done
                    && kind == *wanted_kind
                    && str_is(strings, name_off, name.as_bytes())
                {
                    *slot = Some(id);
                    *done = true;
                    missing -= 1;
                }
            }
            missing > 0
        });
        let mut memo = self.found();
        for ((kind, name), (result, before)) in wanted.iter().zip(found.iter().zip(&known)) {
            if before.is_none() {
                memo.entry(*kind)
                    .or_default()
                    .insert((*name).into(), *result);
            }
        }
        found
    }

    /// Every type of `kind` whose name starts with `prefix`, in id order.
    pub fn find_prefixed(&self, kind: Kind, prefix: &str) -> Vec<(TypeId, &str)> {
        let mut found = Vec::new();
        let strings = self.string_section();
        self.scan_records(|id, name_off, record_kind, _| {
            if record_kind == kind && str_starts_with(strings, name_off, prefix.as_bytes()) {
                if let Ok(name) = self.str_at(name_off) {
                    found.push((id, name));
                }
            }
            true
        });
        found
    }

    /// The enum type and value of the enumerator named `name` (e.g. `TCP_ESTABLISHED`), first in
    /// id order. Compares enumerator names in place while walking, and stops at the first match.
    pub fn find_enumerator(&self, name: &str) -> Option<(TypeId, i64)> {
        let mut found = None;
        self.scan(|record| {
            if let Some(n) = record.enumerator_index(name) {
                found = Some((record.id, n));
            }
            found.is_none()
        });
        let (id, n) = found?;
        match self.get(id) {
            Ok(super::BtfType::Enum { values, .. }) => values.get(n).map(|&(_, v)| (id, v)),
            _ => None,
        }
    }
}

impl Btf {
    /// Calls `visit` with each well-formed record in id order until it returns false; names are
    /// compared in place (`ScannedRecord`), so a pass that looks for several things at once
    /// costs one walk. `visit` must not look types up by id (the index is locked meanwhile).
    pub(crate) fn scan(&self, mut visit: impl FnMut(&ScannedRecord<'_>) -> bool) {
        let bytes = self.bytes();
        let strings = self.string_section();
        let big_endian = self.header.big_endian;
        self.scan_records(|id, name_off, kind, at| {
            visit(&ScannedRecord {
                id,
                kind,
                name_off,
                at,
                bytes,
                strings,
                big_endian,
            })
        });
    }

    /// Why the index stopped before the end of the type section, if a malformed record did.
    pub(crate) fn index_error(&self) -> Option<super::BtfError> {
        self.index().error.clone()
    }
}

/// One type record met by `Btf::scan`: its id and kind, with its name and (for an enum) its
/// enumerators' names compared in place, nothing decoded or allocated.
pub(crate) struct ScannedRecord<'b> {
    pub id: TypeId,
    pub kind: Kind,
    name_off: u32,
    at: RecordAt,
    bytes: &'b [u8],
    strings: &'b [u8],
    big_endian: bool,
}

impl ScannedRecord<'_> {
    /// Whether the record is named exactly `name`.
    pub fn name_is(&self, name: &str) -> bool {
        str_is(self.strings, self.name_off, name.as_bytes())
    }

    /// The position of the enumerator named `name` in an ENUM or ENUM64 record.
    pub fn enumerator_index(&self, name: &str) -> Option<usize> {
        let entry_len = match self.kind {
            Kind::Enum => 8,
            Kind::Enum64 => 12,
            _ => return None,
        };
        let first = self.at.pos + COMMON_LEN;
        (0..self.at.vlen).find(|n| {
            read_u32(self.bytes, first + n * entry_len, self.big_endian)
                .is_some_and(|name_off| str_is(self.strings, name_off, name.as_bytes()))
        })
    }

    /// Whether an ENUM or ENUM64 record has an enumerator named `name`.
    pub fn has_enumerator(&self, name: &str) -> bool {
        self.enumerator_index(name).is_some()
    }
}

/// Where a record starts and how many trailing entries it has.
#[derive(Clone, Copy)]
struct RecordAt {
    pos: usize,
    vlen: usize,
}
