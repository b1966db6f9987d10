//! Stage `read` -> `format`: one binary row -> typed values, by the compiler's row layout.
//! Guarantees one value per layout column, never a panic: a column that does not fit inside the
//! row (a layout/row mismatch) decodes as `Null`. Streaming rows are read as borrowed `Cell`s
//! (no allocation per row); owned `Value`s are made only for rows that must be kept.

use std::borrow::Cow;
use std::ffi::CStr;
use std::net::{Ipv4Addr, Ipv6Addr};

use bpfq_compiler::address::{AF_INET, AF_INET6};
use bpfq_compiler::layout::{
    ColumnKind, ColumnLayout, PathShown, RowLayout, TimeKind, INET_ADDR_V4, INET_ADDR_V6,
};

/// One decoded column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    UInt(u64),
    /// A value computed in user space (`avg`); BPF programs never write floats.
    Float(f64),
    Bool(bool),
    Text(String),
    /// An enum value and the name of the enumerator it matches, if any.
    Enum {
        value: i64,
        name: Option<String>,
    },
    /// A kernel address (formatters hide it unless asked).
    Pointer(u64),
    /// A value's bytes; `pointers` are the offsets of the kernel addresses among them (from
    /// `ColumnKind::Bytes`), which formatters hide like `Pointer`s.
    Bytes {
        bytes: Vec<u8>,
        pointers: Vec<u32>,
    },
    /// Nanoseconds since the epoch (a `boot_timestamp` already moved there).
    Timestamp(i64),
    /// A length of time in nanoseconds.
    Duration(i64),
}

/// One column value borrowed from where it lives: the row bytes the kernel wrote (text of a
/// char array, an enumerator's name in the layout) or an owned `Value` kept for sorting. The
/// streaming path decodes into cells and formats them without allocating; addresses and
/// permissions stay numbers here and become text only in the sink.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    /// Borrowed when the bytes are valid UTF-8 (the usual case); owned only after a lossy fix
    /// or for a text built from parts (a kernfs path).
    Text(Cow<'a, str>),
    Enum {
        value: i64,
        name: Option<&'a str>,
    },
    Pointer(u64),
    Bytes {
        bytes: &'a [u8],
        pointers: &'a [u32],
    },
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// VM_READ/VM_WRITE/VM_EXEC/VM_MAYSHARE bits, shown as /proc/PID/maps' `r-xp`.
    VmaPerms(u64),
    Timestamp(i64),
    Duration(i64),
}

impl Cell<'_> {
    /// The owned value, for rows that must be kept (sort, grouping, joins).
    pub fn to_value(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Int(n) => Value::Int(*n),
            Cell::UInt(n) => Value::UInt(*n),
            Cell::Float(x) => Value::Float(*x),
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Text(text) => Value::Text(text.to_string()),
            Cell::Enum { value, name } => Value::Enum {
                value: *value,
                name: name.map(str::to_string),
            },
            Cell::Pointer(address) => Value::Pointer(*address),
            Cell::Bytes { bytes, pointers } => Value::Bytes {
                bytes: bytes.to_vec(),
                pointers: pointers.to_vec(),
            },
            Cell::Ipv4(address) => Value::Text(address.to_string()),
            Cell::Ipv6(address) => Value::Text(address.to_string()),
            Cell::VmaPerms(bits) => Value::Text(vma_perms_text(*bits).iter().collect()),
            Cell::Timestamp(ns) => Value::Timestamp(*ns),
            Cell::Duration(ns) => Value::Duration(*ns),
        }
    }
}

impl Value {
    /// The value as an integer when it is one (enums, booleans and times included).
    pub fn as_integer(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(i128::from(*i)),
            Value::UInt(u) => Some(i128::from(*u)),
            Value::Bool(b) => Some(i128::from(*b)),
            Value::Enum { value, .. } => Some(i128::from(*value)),
            Value::Timestamp(ns) | Value::Duration(ns) => Some(i128::from(*ns)),
            _ => None,
        }
    }

    /// This value as a cell, borrowing its text.
    pub fn as_cell(&self) -> Cell<'_> {
        match self {
            Value::Null => Cell::Null,
            Value::Int(n) => Cell::Int(*n),
            Value::UInt(n) => Cell::UInt(*n),
            Value::Float(x) => Cell::Float(*x),
            Value::Bool(b) => Cell::Bool(*b),
            Value::Text(text) => Cell::Text(Cow::Borrowed(text)),
            Value::Enum { value, name } => Cell::Enum {
                value: *value,
                name: name.as_deref(),
            },
            Value::Pointer(address) => Cell::Pointer(*address),
            Value::Bytes { bytes, pointers } => Cell::Bytes { bytes, pointers },
            Value::Timestamp(ns) => Cell::Timestamp(*ns),
            Value::Duration(ns) => Cell::Duration(*ns),
        }
    }
}

/// A row as sinks see it: a number of cells, each produced on demand.
pub trait Row {
    fn cell_count(&self) -> usize;
    /// Cell `index` (< `cell_count`); out of range is `Null`.
    fn cell(&self, index: usize) -> Cell<'_>;
}

/// Rows kept in memory (sorted, grouped or joined).
impl Row for Vec<Value> {
    fn cell_count(&self) -> usize {
        self.len()
    }
    fn cell(&self, index: usize) -> Cell<'_> {
        self.get(index).map_or(Cell::Null, Value::as_cell)
    }
}

/// A row of values made on the spot (the `targets` listing, tests).
impl<const N: usize> Row for [Value; N] {
    fn cell_count(&self) -> usize {
        N
    }
    fn cell(&self, index: usize) -> Cell<'_> {
        self.get(index).map_or(Cell::Null, Value::as_cell)
    }
}

/// A row straight from the kernel's bytes: the `columns` of `layout` (indices, in output
/// order) decoded when asked, so nothing is copied or allocated per row.
pub struct RawRow<'a> {
    pub layout: &'a RowLayout,
    pub bytes: &'a [u8],
    pub columns: &'a [usize],
}

impl Row for RawRow<'_> {
    fn cell_count(&self) -> usize {
        self.columns.len()
    }
    fn cell(&self, index: usize) -> Cell<'_> {
        self.columns
            .get(index)
            .and_then(|&column| self.layout.columns.get(column))
            .map_or(Cell::Null, |column| decode_cell(column, self.bytes))
    }
}

/// Decodes every column of `row` (little-endian, as the BPF program wrote it).
pub fn decode_row(layout: &RowLayout, row: &[u8]) -> Vec<Value> {
    layout
        .columns
        .iter()
        .map(|column| decode_cell(column, row).to_value())
        .collect()
}

/// One column of `row`, borrowing its text from the row (or the layout's enumerator names).
pub fn decode_cell<'a>(column: &'a ColumnLayout, row: &'a [u8]) -> Cell<'a> {
    if let Some(flag) = column.null_flag {
        if row.get(flag as usize) == Some(&1) {
            return Cell::Null;
        }
    }
    let start = column.offset as usize;
    let Some(bytes) = row.get(start..start + column.kind.width() as usize) else {
        return Cell::Null;
    };
    match &column.kind {
        ColumnKind::Int { signed: true, .. } => Cell::Int(signed(bytes)),
        ColumnKind::Int { signed: false, .. } => Cell::UInt(unsigned(bytes)),
        ColumnKind::Bool => Cell::Bool(bytes[0] != 0),
        ColumnKind::Chars { .. } => Cell::Text(text_until_nul(bytes)),
        ColumnKind::Enum {
            signed: is_signed,
            names,
            ..
        } => {
            // Unsigned values keep their bit pattern in i64, matching how names are stored.
            let value = if *is_signed {
                signed(bytes)
            } else {
                unsigned(bytes) as i64
            };
            let name = names
                .iter()
                .find(|(known, _)| *known == value)
                .map(|(_, name)| name.as_str());
            Cell::Enum { value, name }
        }
        ColumnKind::KernelPointer => Cell::Pointer(unsigned(bytes)),
        ColumnKind::Float => Cell::Float(f64::from_bits(unsigned(bytes))),
        ColumnKind::Bytes { pointers, .. } => Cell::Bytes { bytes, pointers },
        ColumnKind::VmaPerms => Cell::VmaPerms(unsigned(bytes)),
        ColumnKind::Shown(view) => Cell::Text(view.text(unsigned(bytes))),
        ColumnKind::Ipv4 => match <[u8; 4]>::try_from(bytes) {
            Ok(octets) => Cell::Ipv4(Ipv4Addr::from(octets)),
            Err(_) => Cell::Null,
        },
        ColumnKind::KernfsPath {
            levels,
            slot,
            shown: PathShown::Path,
        } => kernfs_path_text(bytes, *levels, *slot),
        ColumnKind::KernfsPath {
            levels,
            slot,
            shown: PathShown::Container,
        } => match kernfs_path_text(bytes, *levels, *slot) {
            Cell::Text(path) => crate::container::of_cgroup(&path)
                .map_or(Cell::Null, |name| Cell::Text(Cow::Owned(name))),
            _ => Cell::Null,
        },
        ColumnKind::DentryPath { levels, slot } => dentry_path_text(bytes, *levels, *slot),
        ColumnKind::Ipv6 => match <[u8; 16]>::try_from(bytes) {
            Ok(octets) => Cell::Ipv6(Ipv6Addr::from(octets)),
            Err(_) => Cell::Null,
        },
        ColumnKind::Time(TimeKind::Timestamp) => Cell::Timestamp(unsigned(bytes) as i64),
        ColumnKind::Time(TimeKind::BootTimestamp) => {
            Cell::Timestamp(crate::clock::boot_time_ns().wrapping_add(unsigned(bytes) as i64))
        }
        ColumnKind::Time(TimeKind::Duration) => Cell::Duration(unsigned(bytes) as i64),
        // Never in a kernel row.
        ColumnKind::Text => Cell::Null,
        ColumnKind::InetAddr => inet_addr(bytes),
    }
}

/// A socket address column: the IPv4 or IPv6 address its family says (an IPv4-mapped IPv6
/// address stays IPv6, `::ffff:a.b.c.d`, as ss shows it), NULL for any other family.
fn inet_addr(bytes: &[u8]) -> Cell<'_> {
    let field = |at: u32, len: usize| bytes.get(at as usize..at as usize + len);
    let family = field(0, 2).map(|f| u16::from_le_bytes([f[0], f[1]]));
    match family {
        Some(AF_INET) => match field(INET_ADDR_V4, 4).and_then(|f| <[u8; 4]>::try_from(f).ok()) {
            Some(octets) => Cell::Ipv4(Ipv4Addr::from(octets)),
            None => Cell::Null,
        },
        Some(AF_INET6) => {
            match field(INET_ADDR_V6, 16).and_then(|f| <[u8; 16]>::try_from(f).ok()) {
                Some(octets) => Cell::Ipv6(Ipv6Addr::from(octets)),
                None => Cell::Null,
            }
        }
        _ => Cell::Null,
    }
}

/// The text of a char array up to its first NUL (all of it without one): borrowed when it is
/// valid UTF-8, which the fast checks below confirm without the lossy decoder's per-chunk work.
fn text_until_nul(bytes: &[u8]) -> Cow<'_, str> {
    let text = match CStr::from_bytes_until_nul(bytes) {
        Ok(text) => text.to_bytes(),
        Err(_) => bytes,
    };
    match std::str::from_utf8(text) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(text),
    }
}

/// `/` and the names of a `KernfsPath` column joined in reverse (the node's own name is in the
/// first slot); a count beyond the slots is a layout mismatch: NULL.
fn kernfs_path_text(bytes: &[u8], levels: u32, slot: u32) -> Cell<'static> {
    let count = u32::from(bytes[0]);
    if count > levels {
        return Cell::Null;
    }
    let header = bpfq_compiler::layout::KERNFS_PATH_HEADER as usize;
    let mut names = Vec::new();
    for level in (0..count as usize).rev() {
        let start = header + level * slot as usize;
        let Some(name) = bytes.get(start..start + slot as usize) else {
            return Cell::Null;
        };
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        names.push(String::from_utf8_lossy(&name[..end]).into_owned());
    }
    Cell::Text(Cow::Owned(format!("/{}", names.join("/"))))
}

/// A `DentryPath` column: the names joined as for a kernfs path, after `…/` when the walk
/// stopped before the root, with the kernel's ` (deleted)` suffix for a deleted file; a pseudo
/// file as its filesystem's `d_dname` names it.
fn dentry_path_text(bytes: &[u8], levels: u32, slot: u32) -> Cell<'static> {
    use bpfq_compiler::layout::DENTRY_PATH_PSEUDO;
    let flag = |at: u32| bytes.get(at as usize).is_some_and(|&b| b != 0);
    if flag(DENTRY_PATH_PSEUDO) {
        return pseudo_file_name(bytes, slot).map_or(Cell::Null, |t| Cell::Text(Cow::Owned(t)));
    }
    let Cell::Text(joined) = kernfs_path_text(bytes, levels, slot) else {
        return Cell::Null;
    };
    let mut text = joined.into_owned();
    if flag(bpfq_compiler::layout::DENTRY_PATH_CUT) {
        text.replace_range(..1, "…/");
    }
    if flag(bpfq_compiler::layout::DENTRY_PATH_DELETED) {
        text.push_str(" (deleted)");
    }
    Cell::Text(Cow::Owned(text))
}

/// The name the kernel's `d_dname` of a pseudo filesystem gives its file, from the dentry's
/// name (slot 0), the filesystem's (slot 1) and the inode number (8 bytes at slot 2): pipefs
/// `pipe:[N]`, sockfs `socket:[N]`, anon_inodefs `anon_inode:NAME`, pidfs
/// `anon_inode:[pidfd]`; None (NULL) for the others (nsfs, dmabuf...).
fn pseudo_file_name(bytes: &[u8], slot: u32) -> Option<String> {
    let header = bpfq_compiler::layout::KERNFS_PATH_HEADER as usize;
    let slot = slot as usize;
    let text = |index: usize| {
        let at = header + index * slot;
        bytes.get(at..at + slot).map(text_until_nul)
    };
    let ino_at = header + 2 * slot;
    let ino = unsigned(bytes.get(ino_at..ino_at + 8)?);
    Some(match text(1)?.as_ref() {
        "pipefs" => format!("pipe:[{ino}]"),
        "sockfs" => format!("socket:[{ino}]"),
        "anon_inodefs" => format!("anon_inode:{}", text(0)?),
        "pidfs" => "anon_inode:[pidfd]".to_string(),
        _ => return None,
    })
}

/// The permission column of /proc/PID/maps from VM_READ, VM_WRITE, VM_EXEC and VM_MAYSHARE
/// (0x80; `s` for shared, `p` for private).
pub fn vma_perms_text(bits: u64) -> [char; 4] {
    let flag = |bit: u64, set: char, clear: char| if bits & bit != 0 { set } else { clear };
    [
        flag(1, 'r', '-'),
        flag(2, 'w', '-'),
        flag(4, 'x', '-'),
        flag(0x80, 's', 'p'),
    ]
}

/// Little-endian unsigned value of 1 to 8 bytes (longer input: the first 8 bytes).
fn unsigned(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Little-endian value of 1 to 8 bytes, sign-extended from its top bit.
fn signed(bytes: &[u8]) -> i64 {
    let width_bits = (bytes.len().clamp(1, 8) * 8) as u32;
    let unused_bits = 64 - width_bits;
    ((unsigned(bytes) << unused_bits) as i64) >> unused_bits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(columns: Vec<(&str, ColumnKind, bool)>) -> RowLayout {
        RowLayout::pack(
            columns
                .into_iter()
                .map(|(name, kind, nullable)| (name.to_string(), kind, nullable)),
        )
    }

    #[test]
    fn socket_addresses_are_shown_in_their_own_family() {
        let layout = layout(vec![("src", ColumnKind::InetAddr, false)]);
        let address_of = |family: u16, v4: [u8; 4], v6: [u8; 16]| {
            let mut row = vec![0u8; layout.size as usize];
            row[..2].copy_from_slice(&family.to_le_bytes());
            row[4..8].copy_from_slice(&v4);
            row[8..24].copy_from_slice(&v6);
            decode_row(&layout, &row).remove(0)
        };
        let mapped: std::net::Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
        let text = |t: &str| Value::Text(t.into());
        assert_eq!(
            address_of(2, [127, 0, 0, 1], mapped.octets()),
            text("127.0.0.1")
        );
        assert_eq!(
            address_of(10, [127, 0, 0, 1], mapped.octets()),
            text("::ffff:127.0.0.1")
        );
        let compressed: std::net::Ipv6Addr = "2001:db8:0:0:1:0:0:1".parse().unwrap();
        assert_eq!(
            address_of(10, [0; 4], compressed.octets()),
            text("2001:db8::1:0:0:1")
        );
        // A unix or netlink socket has no internet address.
        assert_eq!(address_of(1, [0; 4], [0; 16]), Value::Null);
    }

    #[test]
    fn kernfs_paths_join_the_names_in_reverse() {
        let kind = ColumnKind::KernfsPath {
            levels: 3,
            slot: 8,
            shown: PathShown::Path,
        };
        let layout = layout(vec![("path", kind, false)]);
        let path_of = |count: u8, names: &[&[u8]]| {
            let mut row = vec![0u8; layout.size as usize];
            row[0] = count;
            for (level, name) in names.iter().enumerate() {
                let start = 8 + level * 8;
                row[start..start + name.len()].copy_from_slice(name);
            }
            decode_row(&layout, &row).remove(0)
        };
        assert_eq!(path_of(0, &[]), Value::Text("/".into()));
        assert_eq!(
            path_of(3, &[b"c", b"bb\0old", b"a"]),
            Value::Text("/a/bb/c".into())
        );
        // Names past the count are stale bytes, not part of the path.
        assert_eq!(path_of(1, &[b"c", b"b"]), Value::Text("/c".into()));
        assert_eq!(path_of(4, &[b"c"]), Value::Null);
    }

    #[test]
    fn dentry_paths_mark_a_cut_walk_a_deleted_file_and_name_pseudo_files() {
        let kind = ColumnKind::DentryPath { levels: 2, slot: 8 };
        let layout = layout(vec![("path", kind, false)]);
        let path_of = |count: u8, cut: u8, deleted: u8, names: &[&[u8]]| {
            let mut row = vec![0u8; layout.size as usize];
            row[..3].copy_from_slice(&[count, cut, deleted]);
            for (level, name) in names.iter().enumerate() {
                let start = 8 + level * 8;
                row[start..start + name.len()].copy_from_slice(name);
            }
            decode_row(&layout, &row).remove(0)
        };
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(path_of(0, 0, 0, &[]), text("/"));
        assert_eq!(path_of(2, 0, 0, &[b"c", b"b"]), text("/b/c"));
        assert_eq!(path_of(2, 1, 0, &[b"c", b"b"]), text("…/b/c"));
        assert_eq!(path_of(1, 0, 1, &[b"memfd:x"]), text("/memfd:x (deleted)"));
        assert_eq!(path_of(2, 1, 1, &[b"c", b"b"]), text("…/b/c (deleted)"));
        assert_eq!(path_of(3, 0, 0, &[b"c"]), Value::Null);
        // A pseudo file: name in slot 0, filesystem in slot 1, inode number at slot 2.
        let kind = ColumnKind::DentryPath {
            levels: 3,
            slot: 16,
        };
        let wide = self::layout(vec![("path", kind, false)]);
        let pseudo = |fs: &[u8], name: &[u8]| {
            let mut row = vec![0u8; wide.size as usize];
            row[..4].copy_from_slice(&[1, 0, 0, 1]);
            row[8..8 + name.len()].copy_from_slice(name);
            row[24..24 + fs.len()].copy_from_slice(fs);
            row[40..48].copy_from_slice(&626390u64.to_le_bytes());
            decode_row(&wide, &row).remove(0)
        };
        assert_eq!(pseudo(b"pipefs", b""), text("pipe:[626390]"));
        assert_eq!(pseudo(b"sockfs", b""), text("socket:[626390]"));
        assert_eq!(
            pseudo(b"anon_inodefs", b"[eventfd]"),
            text("anon_inode:[eventfd]")
        );
        assert_eq!(pseudo(b"pidfs", b""), text("anon_inode:[pidfd]"));
        assert_eq!(pseudo(b"nsfs", b""), Value::Null);
    }

    #[test]
    fn sign_extends_each_width() {
        assert_eq!(signed(&[0xff]), -1);
        assert_eq!(signed(&[0x7f]), 127);
        assert_eq!(signed(&[0x00, 0x80]), -32768);
        assert_eq!(signed(&[0xfe, 0xff, 0xff, 0xff]), -2);
        assert_eq!(signed(&[0xff; 8]), -1);
        assert_eq!(unsigned(&[0xfe, 0xff, 0xff, 0xff]), 0xffff_fffe);
    }

    #[test]
    fn decodes_each_kind_and_nulls() {
        let layout = layout(vec![
            (
                "i",
                ColumnKind::Int {
                    bytes: 4,
                    signed: true,
                },
                false,
            ),
            (
                "u",
                ColumnKind::Int {
                    bytes: 2,
                    signed: false,
                },
                false,
            ),
            ("b", ColumnKind::Bool, false),
            ("s", ColumnKind::Chars { len: 8 }, false),
            (
                "e",
                ColumnKind::Enum {
                    bytes: 4,
                    signed: false,
                    names: vec![(7, "SEVEN".into())],
                },
                false,
            ),
            ("p", ColumnKind::KernelPointer, true),
            (
                "x",
                ColumnKind::Bytes {
                    len: 2,
                    pointers: Vec::new(),
                },
                false,
            ),
        ]);
        let mut row = vec![0u8; layout.size as usize];
        let at = |name: &str| {
            layout
                .columns
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.offset as usize)
                .unwrap_or(0)
        };
        row[at("i")..at("i") + 4].copy_from_slice(&(-5i32).to_le_bytes());
        row[at("u")..at("u") + 2].copy_from_slice(&65535u16.to_le_bytes());
        row[at("b")] = 1;
        row[at("s")..at("s") + 3].copy_from_slice(b"ab\xff");
        row[at("e")..at("e") + 4].copy_from_slice(&7u32.to_le_bytes());
        let pointer_flag = layout.columns[5].null_flag.map(|f| f as usize).unwrap_or(0);
        row[pointer_flag] = 1;
        row[at("x")..at("x") + 2].copy_from_slice(&[0xde, 0xad]);
        assert_eq!(
            decode_row(&layout, &row),
            vec![
                Value::Int(-5),
                Value::UInt(65535),
                Value::Bool(true),
                Value::Text("ab\u{fffd}".into()),
                Value::Enum {
                    value: 7,
                    name: Some("SEVEN".into())
                },
                Value::Null,
                Value::Bytes {
                    bytes: vec![0xde, 0xad],
                    pointers: Vec::new(),
                },
            ]
        );
    }

    #[test]
    fn short_row_gives_null_not_panic() {
        let layout = layout(vec![(
            "i",
            ColumnKind::Int {
                bytes: 8,
                signed: true,
            },
            false,
        )]);
        assert_eq!(decode_row(&layout, &[1, 2, 3]), vec![Value::Null]);
    }
}
