//! BTF decode stage: turns one indexed type record into a `BtfType` view borrowing names from the blob; checks string offsets as it goes.

use super::{Btf, BtfError, Kind, TypeId};

/// One decoded BTF type. Names borrow from the BTF blob.
///
/// Enum values: 32-bit enums give their value sign- or zero-extended per `signed`;
/// unsigned 64-bit values above `i64::MAX` wrap (reinterpret with `as u64`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BtfType<'a> {
    Void,
    Int {
        name: &'a str,
        size: u32,
        bits: u32,
        bit_offset: u32,
        signed: bool,
        is_char: bool,
        is_bool: bool,
    },
    Ptr {
        target: TypeId,
    },
    Array {
        elem: TypeId,
        index: TypeId,
        len: u32,
    },
    Struct {
        name: Option<&'a str>,
        size: u32,
        vlen: u16,
    },
    Union {
        name: Option<&'a str>,
        size: u32,
        vlen: u16,
    },
    Enum {
        name: Option<&'a str>,
        size: u32,
        signed: bool,
        values: Vec<(&'a str, i64)>,
    },
    Fwd {
        name: &'a str,
        is_union: bool,
    },
    Typedef {
        name: &'a str,
        target: TypeId,
    },
    Volatile {
        target: TypeId,
    },
    Const {
        target: TypeId,
    },
    Restrict {
        target: TypeId,
    },
    TypeTag {
        name: &'a str,
        target: TypeId,
    },
    DeclTag {
        name: &'a str,
        target: TypeId,
        component_idx: i32,
    },
    Func {
        name: &'a str,
        proto: TypeId,
        linkage: u32,
    },
    FuncProto {
        ret: TypeId,
        params: Vec<(&'a str, TypeId)>,
    },
    Var {
        name: &'a str,
        target: TypeId,
        linkage: u32,
    },
    Datasec {
        name: &'a str,
        size: u32,
    },
    Float {
        name: &'a str,
        size: u32,
    },
}

impl BtfType<'_> {
    /// The kind of this type; `None` for void.
    pub fn kind(&self) -> Option<Kind> {
        Some(match self {
            BtfType::Void => return None,
            BtfType::Int { .. } => Kind::Int,
            BtfType::Ptr { .. } => Kind::Ptr,
            BtfType::Array { .. } => Kind::Array,
            BtfType::Struct { .. } => Kind::Struct,
            BtfType::Union { .. } => Kind::Union,
            BtfType::Enum { .. } => Kind::Enum,
            BtfType::Fwd { .. } => Kind::Fwd,
            BtfType::Typedef { .. } => Kind::Typedef,
            BtfType::Volatile { .. } => Kind::Volatile,
            BtfType::Const { .. } => Kind::Const,
            BtfType::Restrict { .. } => Kind::Restrict,
            BtfType::TypeTag { .. } => Kind::TypeTag,
            BtfType::DeclTag { .. } => Kind::DeclTag,
            BtfType::Func { .. } => Kind::Func,
            BtfType::FuncProto { .. } => Kind::FuncProto,
            BtfType::Var { .. } => Kind::Var,
            BtfType::Datasec { .. } => Kind::Datasec,
            BtfType::Float { .. } => Kind::Float,
        })
    }
}

const INT_SIGNED: u32 = 1;
const INT_CHAR: u32 = 2;
const INT_BOOL: u32 = 4;

impl Btf {
    /// Decodes the type `id` (id 0 is `Void`).
    pub fn get(&self, id: TypeId) -> Result<BtfType<'_>, BtfError> {
        if id.0 == 0 {
            return Ok(BtfType::Void);
        }
        let record = self.record(id)?;
        let name = self.str_at(record.name_off)?;
        let optional_name = (!name.is_empty()).then_some(name);
        let target = TypeId(record.size_or_type);
        let size = record.size_or_type;
        let truncated = || BtfError::TruncatedType {
            id: id.0,
            offset: record.pos as u32,
        };
        let trailing = |n: usize, entry_len: usize, field: usize| {
            self.u32_at(Btf::trailing_pos(&record, n, entry_len) + field * 4)
                .ok_or_else(truncated)
        };
        Ok(match record.kind {
            Kind::Int => {
                let encoding = trailing(0, 4, 0)?;
                let flags = (encoding >> 24) & 0xf;
                BtfType::Int {
                    name,
                    size,
                    bits: encoding & 0xff,
                    bit_offset: (encoding >> 16) & 0xff,
                    signed: flags & INT_SIGNED != 0,
                    is_char: flags & INT_CHAR != 0,
                    is_bool: flags & INT_BOOL != 0,
                }
            }
            Kind::Ptr => BtfType::Ptr { target },
            Kind::Array => BtfType::Array {
                elem: TypeId(trailing(0, 12, 0)?),
                index: TypeId(trailing(0, 12, 1)?),
                len: trailing(0, 12, 2)?,
            },
            Kind::Struct => BtfType::Struct {
                name: optional_name,
                size,
                vlen: record.info.vlen as u16,
            },
            Kind::Union => BtfType::Union {
                name: optional_name,
                size,
                vlen: record.info.vlen as u16,
            },
            Kind::Enum | Kind::Enum64 => {
                let signed = record.info.kind_flag;
                let is64 = record.kind == Kind::Enum64;
                let entry_len = if is64 { 12 } else { 8 };
                let mut values = Vec::with_capacity(record.info.vlen);
                for n in 0..record.info.vlen {
                    let value_name = self.str_at(trailing(n, entry_len, 0)?)?;
                    let low = trailing(n, entry_len, 1)?;
                    let value = match (is64, signed) {
                        (true, _) => {
                            ((u64::from(trailing(n, entry_len, 2)?) << 32) | u64::from(low)) as i64
                        }
                        (false, true) => i64::from(low as i32),
                        (false, false) => i64::from(low),
                    };
                    values.push((value_name, value));
                }
                BtfType::Enum {
                    name: optional_name,
                    size,
                    signed,
                    values,
                }
            }
            Kind::Fwd => BtfType::Fwd {
                name,
                is_union: record.info.kind_flag,
            },
            Kind::Typedef => BtfType::Typedef { name, target },
            Kind::Volatile => BtfType::Volatile { target },
            Kind::Const => BtfType::Const { target },
            Kind::Restrict => BtfType::Restrict { target },
            Kind::TypeTag => BtfType::TypeTag { name, target },
            Kind::DeclTag => BtfType::DeclTag {
                name,
                target,
                component_idx: trailing(0, 4, 0)? as i32,
            },
            Kind::Func => BtfType::Func {
                name,
                proto: target,
                linkage: record.info.vlen as u32,
            },
            Kind::FuncProto => {
                let mut params = Vec::with_capacity(record.info.vlen);
                for n in 0..record.info.vlen {
                    params.push((self.str_at(trailing(n, 8, 0)?)?, TypeId(trailing(n, 8, 1)?)));
                }
                BtfType::FuncProto {
                    ret: target,
                    params,
                }
            }
            Kind::Var => BtfType::Var {
                name,
                target,
                linkage: trailing(0, 4, 0)?,
            },
            Kind::Datasec => BtfType::Datasec { name, size },
            Kind::Float => BtfType::Float { name, size },
        })
    }
}
