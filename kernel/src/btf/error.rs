//! BTF reader errors: every way a BTF blob can be malformed or misused maps to one variant with a readable message.

use std::fmt;

use super::{Kind, TypeId};

/// Why a BTF blob could not be read or a question about it could not be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BtfError {
    /// The file could not be read.
    Io { path: String, message: String },
    /// The xz stream could not be decompressed.
    Decompress(String),
    /// Fewer bytes than the fixed BTF header needs.
    TruncatedHeader { len: usize },
    /// The first two bytes are not the BTF magic 0xeb9f (in either byte order).
    BadMagic(u16),
    /// A BTF version other than 1.
    UnsupportedVersion(u8),
    /// A header field is inconsistent (e.g. header length smaller than the fixed part).
    BadHeader(String),
    /// A section described by the header does not fit in the blob.
    SectionOutOfBounds {
        section: &'static str,
        offset: u64,
        len: u64,
        available: u64,
    },
    /// The blob is split BTF (needs a base BTF such as vmlinux), which is not supported yet.
    SplitBtfUnsupported,
    /// A type record runs past the end of the type section.
    TruncatedType { id: u32, offset: u32 },
    /// A type record has a kind number that BTF does not define.
    BadKind { id: u32, kind: u32 },
    /// More types than a 32-bit id can address.
    TooManyTypes,
    /// A type id outside `0..type_count`.
    TypeIdOutOfRange { id: TypeId, count: u32 },
    /// A name offset outside the string section.
    StringOffsetOutOfRange { offset: u32, len: u32 },
    /// A string without a terminating NUL or not valid UTF-8.
    BadString { offset: u32 },
    /// Following typedef/const/volatile/restrict/type_tag (or nested arrays/anonymous members) did not end.
    TypeLoop { id: TypeId },
    /// Members were asked of a type that is not a struct or union.
    NotComposite { id: TypeId, kind: Option<Kind> },
    /// A size was asked of a type that has none (void, function, forward declaration...).
    NoSize { id: TypeId, kind: Option<Kind> },
    /// A size computation overflowed 32 bits.
    SizeOverflow { id: TypeId },
    /// A member reaches past the end of its struct or union (an absurd array length or offset).
    MemberOutside {
        container: TypeId,
        container_name: String,
        container_size: u32,
        member: String,
        member_type: TypeId,
        /// Where the member ends, in bits from the start of the container (u64::MAX: overflows).
        end_bits: u64,
    },
    /// The file is not a regular file, or it (or its decompressed content) exceeds the cap.
    Refused(crate::input::InputError),
    /// A type or member the caller needs is not in this BTF.
    NotFound(String),
}

fn kind_text(kind: &Option<Kind>) -> String {
    match kind {
        Some(kind) => format!("{kind:?}"),
        None => "void".to_string(),
    }
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfError::Io { path, message } => write!(f, "cannot read BTF file {path}: {message}"),
            BtfError::Decompress(message) => write!(f, "cannot decompress xz BTF: {message}"),
            BtfError::TruncatedHeader { len } => {
                write!(f, "BTF truncated: {len} bytes is shorter than the 24-byte header")
            }
            BtfError::BadMagic(magic) => write!(f, "not BTF: bad magic {magic:#06x} (expected 0xeb9f)"),
            BtfError::UnsupportedVersion(version) => {
                write!(f, "unsupported BTF version {version} (only version 1 is known)")
            }
            BtfError::BadHeader(message) => write!(f, "bad BTF header: {message}"),
            BtfError::SectionOutOfBounds { section, offset, len, available } => write!(
                f,
                "BTF truncated: {section} section at {offset} of {len} bytes exceeds the {available} bytes available"
            ),
            BtfError::SplitBtfUnsupported => write!(
                f,
                "split BTF (module BTF that needs a base such as vmlinux) is not supported"
            ),
            BtfError::TruncatedType { id, offset } => write!(
                f,
                "BTF truncated: type [{id}] at type-section offset {offset} runs past the end of the section"
            ),
            BtfError::BadKind { id, kind } => write!(f, "BTF type [{id}] has unknown kind {kind}"),
            BtfError::TooManyTypes => write!(f, "BTF has more types than 32-bit ids can address"),
            BtfError::TypeIdOutOfRange { id, count } => {
                write!(f, "BTF type id {id} out of range (this BTF has {count} ids)")
            }
            BtfError::StringOffsetOutOfRange { offset, len } => write!(
                f,
                "BTF string offset {offset} out of range (string section is {len} bytes)"
            ),
            BtfError::BadString { offset } => write!(
                f,
                "BTF string at offset {offset} is not NUL-terminated UTF-8"
            ),
            BtfError::TypeLoop { id } => write!(
                f,
                "BTF type {id} leads into a loop (or nests deeper than the reader allows)"
            ),
            BtfError::NotComposite { id, kind } => write!(
                f,
                "BTF type {id} is {}, not a struct or union",
                kind_text(kind)
            ),
            BtfError::NoSize { id, kind } => {
                write!(f, "BTF type {id} ({}) has no size", kind_text(kind))
            }
            BtfError::SizeOverflow { id } => write!(f, "size of BTF type {id} overflows 32 bits"),
            BtfError::MemberOutside {
                container,
                container_name,
                container_size,
                member,
                member_type,
                end_bits,
            } => {
                let end = if *end_bits == u64::MAX {
                    "a size that overflows".to_string()
                } else {
                    format!("{} bytes", end_bits.div_ceil(8))
                };
                write!(
                    f,
                    "member `{member}` (type {member_type}) of `{container_name}` {container} ends at {end}, past the struct's {container_size} bytes (an array length or offset is wrong)"
                )
            }
            BtfError::Refused(why) => write!(f, "{why}"),
            BtfError::NotFound(what) => write!(f, "{what} not found in BTF"),
        }
    }
}

impl std::error::Error for BtfError {}
