//! BTF kinds: maps kind numbers to `Kind` and gives each record's length from kind and vlen alone, which is all the lazy index needs.

/// The kind of a BTF type record (numbering from the kernel's `BTF_KIND_*`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

/// `BTF_KIND_*` numbers 0..=19 (0 is unused); a table lookup keeps the index pass free of branches on kind.
const KINDS_BY_NUMBER: [Option<Kind>; 20] = [
    None,
    Some(Kind::Int),
    Some(Kind::Ptr),
    Some(Kind::Array),
    Some(Kind::Struct),
    Some(Kind::Union),
    Some(Kind::Enum),
    Some(Kind::Fwd),
    Some(Kind::Typedef),
    Some(Kind::Volatile),
    Some(Kind::Const),
    Some(Kind::Restrict),
    Some(Kind::Func),
    Some(Kind::FuncProto),
    Some(Kind::Var),
    Some(Kind::Datasec),
    Some(Kind::Float),
    Some(Kind::DeclTag),
    Some(Kind::TypeTag),
    Some(Kind::Enum64),
];

/// Record length by kind number as (fixed trailing bytes, bytes per vlen entry); `None` for unknown kinds.
const LENGTHS_BY_NUMBER: [Option<(u8, u8)>; 32] = {
    let mut table = [None; 32];
    let mut number = 1;
    while number < KINDS_BY_NUMBER.len() {
        if let Some(kind) = KINDS_BY_NUMBER[number] {
            table[number] = Some(kind.trailing_shape());
        }
        number += 1;
    }
    table
};

/// Total record length (common part included) for a kind number and vlen; `None` for unknown kinds.
pub(crate) fn record_len(kind_number: u32, vlen: usize) -> Option<usize> {
    let (fixed, per_entry) = LENGTHS_BY_NUMBER[(kind_number & 0x1f) as usize]?;
    Some(COMMON_LEN + fixed as usize + per_entry as usize * vlen)
}

/// Every record starts with name_off, info and size/type: three u32.
pub(crate) const COMMON_LEN: usize = 12;

impl Kind {
    pub(crate) fn from_number(number: u32) -> Option<Kind> {
        KINDS_BY_NUMBER.get(number as usize).copied().flatten()
    }

    /// Bytes that follow the common 12-byte part of a record of this kind.
    #[cfg(test)]
    pub(crate) fn trailing_len(self, vlen: usize) -> usize {
        let (fixed, per_entry) = self.trailing_shape();
        fixed as usize + per_entry as usize * vlen
    }

    /// (fixed bytes, bytes per vlen entry) after the common part.
    const fn trailing_shape(self) -> (u8, u8) {
        match self {
            Kind::Int | Kind::Var | Kind::DeclTag => (4, 0),
            Kind::Array => (12, 0),
            Kind::Struct | Kind::Union | Kind::Datasec | Kind::Enum64 => (0, 12),
            Kind::Enum | Kind::FuncProto => (0, 8),
            Kind::Ptr
            | Kind::Fwd
            | Kind::Typedef
            | Kind::Volatile
            | Kind::Const
            | Kind::Restrict
            | Kind::Func
            | Kind::Float
            | Kind::TypeTag => (0, 0),
        }
    }
}

/// The fields packed in a record's `info` word.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Info {
    pub kind_number: u32,
    pub vlen: usize,
    pub kind_flag: bool,
}

impl Info {
    pub(crate) fn unpack(info: u32) -> Info {
        Info {
            kind_number: (info >> 24) & 0x1f,
            vlen: (info & 0xffff) as usize,
            kind_flag: info >> 31 == 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_info_and_lengths() {
        let info = Info::unpack(0x8400_0003);
        assert_eq!(info.kind_number, 4);
        assert_eq!(info.vlen, 3);
        assert!(info.kind_flag);
        assert_eq!(Kind::from_number(4), Some(Kind::Struct));
        assert_eq!(Kind::Struct.trailing_len(3), 36);
        assert_eq!(Kind::from_number(0), None);
        assert_eq!(Kind::from_number(20), None);
        assert_eq!(Kind::Enum.trailing_len(2), 16);
        assert_eq!(Kind::Int.trailing_len(9), 4);
        assert_eq!(record_len(4, 2), Some(36));
        assert_eq!(record_len(0, 2), None);
        assert_eq!(record_len(31, 0), None);
    }
}
