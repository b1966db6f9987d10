//! Stage `plan`: the layout of the rows a plan's kernel part writes. Guarantees: every column
//! has a fixed place and width, a column read through loaded pointers has a NULL flag, and a
//! row wider than one segment (`SEGMENT_MAX`) keeps each flag in its column's segment.

use crate::bind::nullable::null_sources;
use crate::bind::{array_pointer_slots, pointer_slots, OutputColumn, Ty};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::layout::{ColumnKind, RowLayout, SEGMENT_MAX};
use bpfq_kernel::{Btf, BtfType};

fn internal(msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(
        codes::INTERNAL,
        format!("internal error (this is a bug in bpfq): {}", msg.into()),
    )
}

/// The row column kind of a typed expression.
pub fn column_kind(btf: &Btf, ty: &Ty) -> Result<ColumnKind, Diagnostic> {
    Ok(match ty {
        Ty::Int { bytes, signed } => ColumnKind::Int {
            bytes: *bytes,
            signed: *signed,
        },
        Ty::Literal => ColumnKind::Int {
            bytes: 8,
            signed: true,
        },
        Ty::Bool => ColumnKind::Bool,
        Ty::Chars { len } => ColumnKind::Chars { len: *len },
        Ty::Ptr { .. } => ColumnKind::KernelPointer,
        Ty::Ipv4 => ColumnKind::Ipv4,
        Ty::Time(kind) => ColumnKind::Time(*kind),
        Ty::InetAddr => ColumnKind::InetAddr,
        Ty::AddressFamily { bytes } => ColumnKind::Enum {
            bytes: *bytes,
            signed: false,
            names: crate::address::FAMILIES
                .iter()
                .map(|(name, value)| (*value, name.to_string()))
                .collect(),
        },
        Ty::VmaPerms => ColumnKind::VmaPerms,
        Ty::Shown(view) => ColumnKind::Shown(*view),
        Ty::KernfsPath {
            levels,
            slot,
            shown,
        } => ColumnKind::KernfsPath {
            levels: *levels,
            slot: *slot,
            shown: *shown,
        },
        Ty::DentryPath { levels, slot } => ColumnKind::DentryPath {
            levels: *levels,
            slot: *slot,
        },
        // Map keys and values: user data, never kernel addresses.
        Ty::Bytes { len } => ColumnKind::Bytes {
            len: *len,
            pointers: Vec::new(),
        },
        Ty::Struct { id } if btf.name_of(*id) == Some("in6_addr") => ColumnKind::Ipv6,
        Ty::Struct { id } => ColumnKind::Bytes {
            len: btf.size_of(*id).map_err(|e| internal(e.to_string()))?,
            pointers: pointer_slots(btf, *id).map_err(|e| internal(e.to_string()))?,
        },
        Ty::Array { elem, len } => ColumnKind::Bytes {
            len: btf.size_of(*elem).map_err(|e| internal(e.to_string()))? * len,
            pointers: array_pointer_slots(btf, *elem, *len).map_err(|e| internal(e.to_string()))?,
        },
        Ty::Enum { id, bytes, signed } => {
            let names = match btf.get(*id) {
                Ok(BtfType::Enum { values, .. }) => {
                    values.iter().map(|(n, v)| (*v, n.to_string())).collect()
                }
                _ => Vec::new(),
            };
            ColumnKind::Enum {
                bytes: *bytes,
                signed: *signed,
                names,
            }
        }
        other => {
            return Err(internal(format!(
                "a {} reached the row layout",
                other.describe()
            )))
        }
    })
}

/// The layout of the rows a program writes for `columns`, the kernel columns of a plan (for a kernel-grouped query: the row it
/// builds on the stack before updating its group).
pub fn row_layout(columns: &[OutputColumn], btf: &Btf) -> Result<RowLayout, Diagnostic> {
    let mut kinds = Vec::new();
    for column in columns {
        let nullable = column.expr.ty != Ty::Bool && null_sources(&column.expr).any();
        kinds.push((
            column.name.clone(),
            column_kind(btf, &column.expr.ty)?,
            nullable,
        ));
    }
    // Null flags go together at the end of the row, unless the row is written in several
    // segments: then each flag follows its column so both are in the same segment.
    let compact = RowLayout::pack(kinds.clone());
    Ok(if compact.size <= SEGMENT_MAX {
        compact
    } else {
        RowLayout::pack_inline(kinds)
    })
}
