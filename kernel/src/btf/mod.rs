//! BTF reader stage: opens a BTF blob (raw or xz) after checking only its header; type records are indexed as far as lookups need and decoded one at a time.

mod access;
mod decode;
mod error;
mod header;
mod index;
mod kind;
mod lookup;
mod members;
mod resolve;
mod source;
mod xz_scan;

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

pub use decode::BtfType;
pub use error::BtfError;
pub use kind::Kind;
pub use members::Member;

use header::{parse_header, read_u32, Header};
use index::Index;
use kind::{Info, COMMON_LEN};

/// A BTF type id; 0 is `void`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TypeId(pub u32);

impl fmt::Display for TypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.0)
    }
}

/// A BTF blob plus a table of where each type record starts, extended as lookups need it.
pub struct Btf {
    data: Box<dyn AsRef<[u8]> + Send + Sync>,
    header: Header,
    index: Mutex<Index>,
    /// Results of `find_many` by kind and name, so a name is searched for once per blob
    /// (`check` of a file of many queries asks for its target once per query).
    found: Mutex<Found>,
}

/// `find_many`'s memo: kind -> name -> first id of that kind and name (None: not in the blob).
pub(crate) type Found =
    std::collections::HashMap<Kind, std::collections::HashMap<Box<str>, Option<TypeId>>>;

/// The fixed part of one type record, with its position in the blob.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    pub pos: usize,
    pub name_off: u32,
    pub info: Info,
    pub kind: Kind,
    pub size_or_type: u32,
}

impl fmt::Debug for Btf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("bytes", &self.bytes().len())
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Btf {
    /// Opens BTF held in memory by someone else (e.g. an mmap of /sys/kernel/btf/vmlinux).
    /// Only the header is checked here; xz-compressed input is decompressed first.
    pub fn from_shared(bytes: Box<dyn AsRef<[u8]> + Send + Sync>) -> Result<Btf, BtfError> {
        let slice: &[u8] = (*bytes).as_ref();
        if source::is_xz(slice) {
            return Btf::from_bytes(source::decompress_xz(slice)?);
        }
        let header = parse_header(slice)?;
        Ok(Btf {
            data: bytes,
            index: Mutex::new(Index::new(&header)),
            found: Mutex::default(),
            header,
        })
    }

    /// Opens BTF from owned bytes: raw BTF or an xz stream of it.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Btf, BtfError> {
        if source::is_xz(&bytes) {
            return Btf::from_bytes(source::decompress_xz(&bytes)?);
        }
        let header = parse_header(&bytes)?;
        Ok(Btf {
            data: Box::new(bytes),
            index: Mutex::new(Index::new(&header)),
            found: Mutex::default(),
            header,
        })
    }

    /// Reads a raw or xz-compressed BTF file (fixtures, `--btf FILE`).
    pub fn from_file(path: &std::path::Path) -> Result<Btf, BtfError> {
        Btf::from_bytes(source::read_file(path)?)
    }

    /// The whole blob as handed in (decompressed if it was xz).
    pub fn bytes(&self) -> &[u8] {
        (*self.data).as_ref()
    }

    /// Number of type ids including void (id 0). If a record is malformed, only the ids before it count.
    pub fn type_count(&self) -> u32 {
        self.whole_index().offsets.len() as u32
    }

    /// Checks that every type record is well formed (kind known, record inside the type section).
    /// Lookups work on the well-formed prefix even when this fails.
    pub fn validate(&self) -> Result<(), BtfError> {
        match &self.whole_index().error {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// The index as far as it is built. Callers must not call back into a locking method while
    /// holding it; entries never change once recorded, so a poisoned lock is still consistent.
    pub(crate) fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `find_many`'s memo (a poisoned lock holds only complete entries).
    pub(crate) fn found(&self) -> MutexGuard<'_, Found> {
        self.found.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The index of every record (or up to the first malformed one).
    fn whole_index(&self) -> MutexGuard<'_, Index> {
        let mut index = self.index();
        if !index.complete(&self.header) {
            index.extend(self.bytes(), &self.header, |_, _, _| false);
        }
        index
    }

    pub(crate) fn u32_at(&self, pos: usize) -> Option<u32> {
        read_u32(self.bytes(), pos, self.header.big_endian)
    }

    /// The fixed part of the record of `id` (not valid for void).
    pub(crate) fn record(&self, id: TypeId) -> Result<Record, BtfError> {
        let wanted = id.0 as usize;
        let pos = {
            let mut index = self.index();
            if wanted >= index.offsets.len() && !index.complete(&self.header) {
                index.extend(self.bytes(), &self.header, |indexed, _, _| {
                    indexed as usize >= wanted
                });
            }
            match index.offsets.get(wanted) {
                Some(&pos) if id.0 != 0 => pos as usize,
                _ => {
                    return Err(match (&index.error, wanted >= index.offsets.len()) {
                        (Some(error), true) => error.clone(),
                        // Out of range only once the walk reached the end: the count is final.
                        _ => BtfError::TypeIdOutOfRange {
                            id,
                            count: index.offsets.len() as u32,
                        },
                    });
                }
            }
        };
        self.record_at(pos).ok_or(BtfError::TruncatedType {
            id: id.0,
            offset: (pos - self.header.types_start) as u32,
        })
    }

    /// Decodes the fixed part at `pos`; the index guarantees it lies in the type section.
    pub(crate) fn record_at(&self, pos: usize) -> Option<Record> {
        let info = Info::unpack(self.u32_at(pos + 4)?);
        Some(Record {
            pos,
            name_off: self.u32_at(pos)?,
            info,
            kind: Kind::from_number(info.kind_number)?,
            size_or_type: self.u32_at(pos + 8)?,
        })
    }

    /// Position of the `n`th trailing entry of a record whose entries are `entry_len` bytes.
    pub(crate) fn trailing_pos(record: &Record, n: usize, entry_len: usize) -> usize {
        record.pos + COMMON_LEN + n * entry_len
    }

    fn strings(&self) -> &[u8] {
        &self.bytes()[self.header.strings_start..self.header.strings_end]
    }

    /// The NUL-terminated string at `offset` in the string section.
    pub(crate) fn str_at(&self, offset: u32) -> Result<&str, BtfError> {
        let strings = self.strings();
        let tail = strings
            .get(offset as usize..)
            .filter(|tail| !tail.is_empty())
            .ok_or(BtfError::StringOffsetOutOfRange {
                offset,
                len: strings.len() as u32,
            })?;
        let end = tail
            .iter()
            .position(|&b| b == 0)
            .ok_or(BtfError::BadString { offset })?;
        std::str::from_utf8(&tail[..end]).map_err(|_| BtfError::BadString { offset })
    }

    /// The string section; hot loops fetch it once because `bytes()` is a dynamic call.
    pub(crate) fn string_section(&self) -> &[u8] {
        self.strings()
    }
    /// The name of a type; `None` for void, anonymous types and unreadable names.
    pub fn name_of(&self, id: TypeId) -> Option<&str> {
        let record = self.record(id).ok()?;
        self.str_at(record.name_off)
            .ok()
            .filter(|name| !name.is_empty())
    }

    /// The kind of a type; `None` for void.
    pub fn kind_of(&self, id: TypeId) -> Result<Option<Kind>, BtfError> {
        if id.0 == 0 {
            return Ok(None);
        }
        Ok(Some(self.record(id)?.kind))
    }
}
