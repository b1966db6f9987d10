//! Stage `bind` output, for people: a compact rendering of typed expressions used by snapshots
//! and `bpfq explain` (`load.u32 [task + 2468]`, `text_eq(...)`).

use super::{ArithOp, CmpOp, TExpr, TKind, TypedQuery};
use std::fmt;

fn arith(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
        ArithOp::Rem => "%",
        ArithOp::BitAnd => "&",
        ArithOp::BitOr => "|",
        ArithOp::BitXor => "^",
        ArithOp::Shl => "<<",
        ArithOp::Shr => ">>",
    }
}

fn cmp(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

impl fmt::Display for TExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TKind::CtxField { name, offset } => write!(f, "ctx.{name}@{offset}"),
            TKind::CtxValue { name, offset, .. } => write!(f, "ctx.{name}@{offset}"),
            TKind::Place { ptr, offset } => write!(f, "&[{ptr} + {offset}]"),
            TKind::Load {
                ptr,
                offset,
                bytes,
                signed,
                bitfield,
            } => {
                write!(
                    f,
                    "load.{}{} [{ptr} + {offset}]",
                    if *signed { "s" } else { "u" },
                    bytes * 8
                )?;
                if let Some((bit, bits)) = bitfield {
                    write!(f, " bits {bit}..{}", bit + bits)?;
                }
                Ok(())
            }
            TKind::Int(v) => write!(f, "{}", *v as i64),
            TKind::Str(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
            TKind::Neg(e) => write!(f, "-({e})"),
            TKind::BitNot(e) => write!(f, "~({e})"),
            TKind::Arith {
                op,
                lhs,
                rhs,
                signed,
            } => {
                write!(
                    f,
                    "({lhs} {}{} {rhs})",
                    arith(*op),
                    if *signed { "s" } else { "" }
                )
            }
            TKind::Compare {
                op,
                lhs,
                rhs,
                signed,
            } => {
                write!(
                    f,
                    "({lhs} {}{} {rhs})",
                    cmp(*op),
                    if *signed { "s" } else { "" }
                )
            }
            TKind::TextEq {
                text,
                literal,
                negated,
            } => {
                write!(
                    f,
                    "text_{}({text}, {:?})",
                    if *negated { "ne" } else { "eq" },
                    String::from_utf8_lossy(literal)
                )
            }
            TKind::Like {
                text,
                pattern,
                negated,
            } => {
                write!(
                    f,
                    "{}like({text}, {:?})",
                    if *negated { "not_" } else { "" },
                    String::from_utf8_lossy(pattern)
                )
            }
            TKind::Cast {
                value,
                bytes,
                signed,
            } => write!(
                f,
                "cast({value} as {}{})",
                if *signed { "s" } else { "u" },
                bytes * 8
            ),
            TKind::CString { ptr, max } => write!(f, "string({ptr}, {max})"),
            TKind::DPath { path, max } => write!(f, "d_path({path}, {max})"),
            TKind::KernfsPath {
                node,
                parent_offset,
                name_offset,
            } => write!(
                f,
                "kernfs_path({node}, parent +{parent_offset}, name +{name_offset})"
            ),
            TKind::DentryPath { path, walk } => write!(
                f,
                "d_path_walk({path}, parent +{}, name +{}, mount +{})",
                walk.d_parent, walk.d_name, walk.mount_mnt
            ),
            TKind::BoolToInt { cond } => write!(f, "int({cond})"),
            TKind::InetAddr { family, v4, v6 } => write!(f, "inet_addr({family}, {v4}, {v6})"),
            TKind::Call { func, args } => {
                let args: Vec<String> = args.iter().map(TExpr::to_string).collect();
                write!(f, "{}({})", func.name(), args.join(", "))
            }
            TKind::UserCall { func, args } => {
                let args: Vec<String> = args.iter().map(TExpr::to_string).collect();
                write!(f, "user {}({})", func.name(), args.join(", "))
            }
            TKind::ByteSwap { value, bytes } => {
                write!(f, "bswap{}({value})", u32::from(*bytes) * 8)
            }
            TKind::StructCast {
                value,
                target,
                kfunc: Some(_),
            } => write!(f, "cast({value} as {target})"),
            TKind::StructCast {
                value,
                target,
                kfunc: None,
            } => write!(f, "cast({value} as {target}, read with probes)"),
            TKind::And(a, b) => write!(f, "({a} and {b})"),
            TKind::Or(a, b) => write!(f, "({a} or {b})"),
            TKind::Not(a) => write!(f, "not {a}"),
        }?;
        write!(f, ": {}", self.ty.describe())
    }
}

impl fmt::Display for TypedQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "target {} (attach {})",
            self.target.name, self.target.attach_func
        )?;
        for column in &self.columns {
            writeln!(
                f,
                "column {}{} = {}",
                column.name,
                if column.hidden { " (hidden)" } else { "" },
                column.expr
            )?;
        }
        if let Some(filter) = &self.filter {
            writeln!(f, "where {filter}")?;
        }
        if let Some(grouping) = &self.grouping {
            write!(f, "{grouping}")?;
        }
        for key in &self.order_by {
            writeln!(
                f,
                "order by #{}{}",
                key.column,
                if key.descending { " desc" } else { "" }
            )?;
        }
        if let Some(limit) = self.limit {
            writeln!(f, "limit {limit}")?;
        }
        Ok(())
    }
}
