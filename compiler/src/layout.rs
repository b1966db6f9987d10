//! Stage `emit` -> `read`: the binary row layout. Guarantees every column lies inside `size` bytes,
//! is naturally aligned, and `size` is a multiple of 8 (one row = one `bpf_seq_write`).

/// Bytes before the first name slot of a `KernfsPath` or `DentryPath` column (the count byte,
/// for a dentry path the two marker bytes, padded).
pub const KERNFS_PATH_HEADER: u32 = 8;
/// Byte of a `DentryPath` column that is 1 when the walk stopped before the root (shown as a
/// leading `…/`).
pub const DENTRY_PATH_CUT: u32 = 1;
/// Byte of a `DentryPath` column that is 1 when the file is deleted (shown as the kernel's
/// ` (deleted)` suffix).
pub const DENTRY_PATH_DELETED: u32 = 2;
/// Byte of a `DentryPath` column that is 1 for a pseudo file named by its filesystem: then
/// slot 0 holds the dentry's name, slot 1 the filesystem's (`pipefs`, `sockfs`...) and the 8
/// bytes at slot 2 the inode number, from which user space writes the kernel's name for it
/// (`pipe:[N]`, `socket:[N]`, `anon_inode:NAME`).
pub const DENTRY_PATH_PSEUDO: u32 = 3;

/// What an 8-byte count of nanoseconds means (a `timestamp`, `boot_timestamp` or `duration`
/// column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    /// Since the epoch (CLOCK_REALTIME): shown as a date and time.
    Timestamp,
    /// Since boot (CLOCK_BOOTTIME): shown as the date and time it was, boot time + the value.
    BootTimestamp,
    /// A length of time (`format_duration`).
    Duration,
}

impl TimeKind {
    /// The view's name in the stdlib (`column x: timestamp = ...`).
    pub fn name(self) -> &'static str {
        match self {
            TimeKind::Timestamp => "timestamp",
            TimeKind::BootTimestamp => "boot_timestamp",
            TimeKind::Duration => "duration",
        }
    }
}
/// Bytes of an `InetAddr` column: the family (u16) at 0, the IPv4 address (network order) at
/// `INET_ADDR_V4`, the IPv6 address at `INET_ADDR_V6`; only the family's field is written.
pub const INET_ADDR_V4: u32 = 4;
pub const INET_ADDR_V6: u32 = 8;

/// What a `KernfsPath` column shows of the path it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathShown {
    /// The path itself.
    Path,
    /// The container (or systemd unit) a cgroup path names, derived in user space.
    Container,
}

/// How the bytes of one column are to be read and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// Integer of 1, 2, 4 or 8 bytes, little-endian (host order).
    Int { bytes: u8, signed: bool },
    /// 0 or 1 in one byte.
    Bool,
    /// A C char array: text up to the first NUL, at most `len` bytes.
    Chars { len: u32 },
    /// Integer rendered by enumerator name when one matches.
    Enum {
        bytes: u8,
        signed: bool,
        names: Vec<(i64, String)>,
    },
    /// A kernel address: hidden unless the user asks for raw pointers.
    KernelPointer,
    /// Raw bytes rendered as hex; the 8 bytes at each of `pointers` (offsets in the column,
    /// from the value's BTF layout) are a kernel address, hidden like a `KernelPointer`.
    Bytes { len: u32, pointers: Vec<u32> },
    /// A `struct in6_addr`: 16 bytes in network order, rendered as an IPv6 address.
    Ipv6,
    /// An IPv4 address: 4 bytes in network order, rendered as a dotted quad.
    Ipv4,
    /// A socket address in its own family (`Ty::InetAddr`, laid out as `INET_ADDR_V4` says):
    /// rendered as the IPv4 or the IPv6 address the family says, NULL for another family.
    InetAddr,
    /// One byte of VMA permission bits (`Ty::VmaPerms`), rendered as `rwxp`/`rwxs` text.
    VmaPerms,
    /// An 8-byte integer shown as its view's text (`Ty::Shown`: a state letter, a terminal).
    Shown(crate::int_view::IntView),
    /// A kernfs node's path (`kernfs_path`): byte 0 counts the names, then from byte 8 `levels`
    /// NUL-terminated names of at most `slot` bytes, the node's own first; shown as
    /// `/` + the names joined by `/` in reverse (`/` alone for the root).
    KernfsPath {
        levels: u32,
        slot: u32,
        shown: PathShown,
    },
    /// A file's path from a dentry walk (`d_path` without `bpf_d_path`): the `KernfsPath`
    /// layout and text, after `…/` when byte `DENTRY_PATH_CUT` is set and followed by
    /// ` (deleted)` when byte `DENTRY_PATH_DELETED` is.
    DentryPath { levels: u32, slot: u32 },
    /// A 64-bit IEEE float (`avg`); computed in user space, never written by a BPF program.
    Float,
    /// 8 bytes of nanoseconds (`TimeKind` says since when, or how long).
    Time(TimeKind),
    /// Text computed in user space (`upper`, `concat`...); never in a kernel row.
    Text,
}

impl ColumnKind {
    /// Bytes the column occupies in a row.
    pub fn width(&self) -> u32 {
        match self {
            ColumnKind::Int { bytes, .. } | ColumnKind::Enum { bytes, .. } => u32::from(*bytes),
            ColumnKind::Bool | ColumnKind::VmaPerms => 1,
            ColumnKind::Chars { len } | ColumnKind::Bytes { len, .. } => *len,
            ColumnKind::KernelPointer
            | ColumnKind::Float
            | ColumnKind::Time(_)
            | ColumnKind::Shown(_) => 8,
            ColumnKind::Text => 0,
            ColumnKind::Ipv6 => 16,
            ColumnKind::Ipv4 => 4,
            ColumnKind::InetAddr => INET_ADDR_V6 + 16,
            ColumnKind::KernfsPath { levels, slot, .. }
            | ColumnKind::DentryPath { levels, slot } => KERNFS_PATH_HEADER + levels * slot,
        }
    }

    /// Alignment of the column inside the row.
    pub fn align(&self) -> u32 {
        match self {
            ColumnKind::Chars { .. }
            | ColumnKind::Bytes { .. }
            | ColumnKind::Ipv6
            | ColumnKind::InetAddr
            | ColumnKind::KernfsPath { .. }
            | ColumnKind::DentryPath { .. } => 8,
            ColumnKind::Text => 1,
            other => other.width().min(8),
        }
    }
}

/// One output column: where its bytes are in the row and how to show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnLayout {
    pub name: String,
    pub offset: u32,
    pub kind: ColumnKind,
    /// Byte offset of a flag byte that is 1 when the value is NULL (a pointer chain hit NULL).
    pub null_flag: Option<u32>,
}

/// The largest row segment written by one `bpf_seq_write` (or ring record) from the stack; the
/// rest of the 512-byte stack is left for spilled values.
pub const SEGMENT_MAX: u32 = 384;
/// One object's output must stay below the kernel's 32 KiB seq buffer.
pub const ROW_MAX: u32 = 32 * 1024 - 8;

/// The fixed-size binary row the BPF program writes for each matching object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowLayout {
    pub size: u32,
    pub columns: Vec<ColumnLayout>,
}

impl RowLayout {
    /// Places columns in order, each at its natural alignment, then the null flags of nullable
    /// columns together at the end, and pads the row to 8 bytes.
    pub fn pack(columns: impl IntoIterator<Item = (String, ColumnKind, bool)>) -> RowLayout {
        Self::place(columns, false)
    }

    /// Like `pack`, but each null flag follows its column, so a column and its flag can be
    /// written together when a wide row goes out in several pieces.
    pub fn pack_inline(columns: impl IntoIterator<Item = (String, ColumnKind, bool)>) -> RowLayout {
        Self::place(columns, true)
    }

    fn place(
        columns: impl IntoIterator<Item = (String, ColumnKind, bool)>,
        inline_flags: bool,
    ) -> RowLayout {
        let mut size = 0u32;
        let mut placed = Vec::new();
        let mut trailing = Vec::new();
        for (name, kind, nullable) in columns {
            let offset = size.next_multiple_of(kind.align());
            size = offset + kind.width();
            let null_flag = match (nullable, inline_flags) {
                (false, _) => None,
                (true, true) => {
                    size += 1;
                    Some(size - 1)
                }
                (true, false) => {
                    trailing.push(placed.len());
                    None
                }
            };
            placed.push(ColumnLayout {
                name,
                offset,
                kind,
                null_flag,
            });
        }
        for index in trailing {
            placed[index].null_flag = Some(size);
            size += 1;
        }
        RowLayout {
            size: size.next_multiple_of(8).max(8),
            columns: placed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_aligns_each_column_and_pads_the_row() {
        let layout = RowLayout::pack([
            (
                "pid".to_string(),
                ColumnKind::Int {
                    bytes: 4,
                    signed: true,
                },
                false,
            ),
            ("comm".to_string(), ColumnKind::Chars { len: 16 }, false),
            ("flag".to_string(), ColumnKind::Bool, true),
            (
                "ts".to_string(),
                ColumnKind::Int {
                    bytes: 8,
                    signed: false,
                },
                false,
            ),
        ]);
        let offsets: Vec<u32> = layout.columns.iter().map(|c| c.offset).collect();
        assert_eq!(offsets, vec![0, 8, 24, 32]);
        assert_eq!(
            layout.columns[2].null_flag,
            Some(40),
            "flags go after every column"
        );
        assert_eq!(layout.size, 48);
    }

    #[test]
    fn pack_inline_puts_each_flag_after_its_column() {
        let layout = RowLayout::pack_inline([
            (
                "a".to_string(),
                ColumnKind::Int {
                    bytes: 4,
                    signed: true,
                },
                true,
            ),
            (
                "b".to_string(),
                ColumnKind::Int {
                    bytes: 4,
                    signed: true,
                },
                false,
            ),
        ]);
        assert_eq!(layout.columns[0].null_flag, Some(4));
        assert_eq!(layout.columns[1].offset, 8);
        assert_eq!(layout.size, 16);
    }
}
