//! Stage `lower` output, for people: a textual IR listing used by `bpfq explain` and snapshots.

use super::{
    BinOp, Cmp, Function, Helper, Inst, MapRef, Operand, PrintfArg, Terminator, UnOp, Width,
};
use std::fmt;

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Value(v) => write!(f, "{v}"),
            Operand::Imm(i) => write!(f, "{i}"),
        }
    }
}

impl fmt::Display for Width {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bytes() * 8)
    }
}

fn binop_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "add",
        BinOp::Sub => "sub",
        BinOp::Mul => "mul",
        BinOp::UDiv => "udiv",
        BinOp::SDiv => "sdiv",
        BinOp::URem => "urem",
        BinOp::SRem => "srem",
        BinOp::And => "and",
        BinOp::Or => "or",
        BinOp::Xor => "xor",
        BinOp::Shl => "shl",
        BinOp::LShr => "lshr",
        BinOp::AShr => "ashr",
    }
}

fn cmp_name(cmp: Cmp) -> &'static str {
    match cmp {
        Cmp::Eq => "eq",
        Cmp::Ne => "ne",
        Cmp::ULt => "ult",
        Cmp::ULe => "ule",
        Cmp::UGt => "ugt",
        Cmp::UGe => "uge",
        Cmp::SLt => "slt",
        Cmp::SLe => "sle",
        Cmp::SGt => "sgt",
        Cmp::SGe => "sge",
    }
}

impl fmt::Display for Inst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inst::Context => write!(f, "context"),
            Inst::Const(c) => write!(f, "const {c:#x}"),
            Inst::Load {
                base,
                offset,
                width,
                signed,
            } => {
                let sign = if *signed { "s" } else { "u" };
                write!(f, "load.{sign}{width} [{base} + {offset}]")
            }
            Inst::Binary { op, lhs, rhs } => write!(f, "{} {lhs}, {rhs}", binop_name(*op)),
            Inst::Unary { op: UnOp::Neg, arg } => write!(f, "neg {arg}"),
            Inst::Unary {
                op: UnOp::BitNot,
                arg,
            } => write!(f, "not {arg}"),
            Inst::Unary {
                op: UnOp::ByteSwap(bytes),
                arg,
            } => write!(f, "bswap{} {arg}", u32::from(*bytes) * 8),
            Inst::SlotStore { slot, value } => write!(f, "store slot{slot}, {value}"),
            Inst::SlotLoad { slot } => write!(f, "load slot{slot}"),
            Inst::ZeroRow { words } => {
                let list: Vec<String> = words.iter().map(|w| w.to_string()).collect();
                write!(f, "zero_row [{}]", list.join(", "))
            }
            Inst::StoreRow {
                offset,
                width,
                value,
            } => write!(f, "store.{width} row[{offset}], {value}"),
            Inst::CopyToRow {
                offset,
                base,
                src_offset,
                len,
            } => {
                write!(
                    f,
                    "copy row[{offset}..{}], [{base} + {src_offset}]",
                    offset + len
                )
            }
            Inst::ProbeStrToRow { offset, base, len } => write!(
                f,
                "probe_read_str row[{offset}..{}], [{base}]",
                offset + len
            ),
            Inst::DPathToRow {
                offset,
                base,
                src_offset,
                len,
            } => write!(
                f,
                "d_path row[{offset}..{}], [{base} + {src_offset}]",
                offset + len
            ),
            Inst::CastPointer {
                ptr,
                btf_type,
                kfunc: Some(_),
            } => write!(f, "rdonly_cast {ptr} to btf type [{btf_type}]"),
            Inst::CastPointer {
                ptr,
                btf_type,
                kfunc: None,
            } => write!(
                f,
                "untyped {ptr} as btf type [{btf_type}] (read with probes)"
            ),
            Inst::ProbeLoad {
                base,
                offset,
                width,
                signed,
            } => {
                let sign = if *signed { "s" } else { "u" };
                write!(f, "probe_read.{sign}{width} [{base} + {offset}]")
            }
            Inst::ProbeCopyToRow {
                offset,
                base,
                src_offset,
                len,
            } => {
                write!(
                    f,
                    "probe_read row[{offset}..{}], [{base} + {src_offset}]",
                    offset + len
                )
            }
            Inst::Call {
                helper: Helper::SeqWrite,
                seq,
                len,
            } => write!(f, "call seq_write({seq}, row, {len})"),
            Inst::RingOutput { map, len } => {
                write!(f, "call ringbuf_output({}, row, {len}, 0)", map_name(*map))
            }
            Inst::LoadRow {
                offset,
                width,
                signed,
            } => {
                let sign = if *signed { "s" } else { "u" };
                write!(f, "load.{sign}{width} row[{offset}]")
            }
            Inst::SkStorageGet { map, sk } => {
                write!(f, "call sk_storage_get({}, {sk}, 0, 0)", map_name(*map))
            }
            Inst::SkcToTcpSock { sk } => write!(f, "call skc_to_tcp_sock({sk})"),
            Inst::MapLookup { map, key } => {
                write!(f, "call map_lookup_elem({}, row+{key})", map_name(*map))
            }
            Inst::MapInsert { map, key, value } => write!(
                f,
                "call map_update_elem({}, row+{key}, row+{value}, BPF_NOEXIST)",
                map_name(*map)
            ),
            Inst::Store {
                base,
                offset,
                width,
                value,
            } => write!(f, "store.{width} [{base} + {offset}], {value}"),
            Inst::SeqPrintf {
                seq,
                format,
                len,
                arg,
            } => {
                write!(
                    f,
                    "call seq_printf({seq}, formats[{format}..{}]",
                    format + len
                )?;
                match arg {
                    Some(PrintfArg::Value(v)) => write!(f, ", {v})"),
                    Some(PrintfArg::RowAddress(offset)) => write!(f, ", &row[{offset}])"),
                    None => write!(f, ")"),
                }
            }
        }
    }
}

fn map_name(map: MapRef) -> &'static str {
    match map {
        MapRef::RowRing => "row_ring",
        MapRef::Groups => "groups",
        MapRef::Formats => "formats",
        MapRef::SkStorage => "sk_storage",
        MapRef::SocketKeys => "socket_keys",
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "function (row {} bytes)", self.row_size)?;
        for &block in &self.layout {
            let data = &self.blocks[block];
            writeln!(f, "{block}:")?;
            for inst in &data.insts {
                if let Some(note) = &inst.note {
                    writeln!(f, "    ; {note}")?;
                }
                match inst.result {
                    Some(v) => writeln!(f, "    {v} = {}", inst.inst)?,
                    None => writeln!(f, "    {}", inst.inst)?,
                }
            }
            if let Some(note) = &data.terminator_note {
                writeln!(f, "    ; {note}")?;
            }
            match &data.terminator {
                Terminator::Jump(to) => writeln!(f, "    jump {to}")?,
                Terminator::Branch {
                    cmp,
                    lhs,
                    rhs,
                    then_to,
                    else_to,
                } => writeln!(
                    f,
                    "    br.{} {lhs}, {rhs} ? {then_to} : {else_to}",
                    cmp_name(*cmp)
                )?,
                Terminator::Return(code) => writeln!(f, "    return {code}")?,
            }
        }
        Ok(())
    }
}
