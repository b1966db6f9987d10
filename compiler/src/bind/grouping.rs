//! Stage `bind` output for grouped queries: what user space computes from the kernel's rows when
//! a query has `group by` or aggregates. Guarantees every reference is an index: `Key` into
//! `keys`, `Agg` into `aggregates`, kernel columns into `TypedQuery::columns`; no source names.

use super::builtins::AggFunc;
use super::{ArithOp, CmpOp, Ty};
use crate::diagnostic::Span;
use crate::layout::{ColumnKind, RowLayout};
use std::fmt;

/// One aggregate over the rows of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aggregate {
    pub func: AggFunc,
    /// The kernel column holding the argument; `None` for `count(*)`.
    pub arg: Option<usize>,
    /// `count(distinct x)`: each distinct non-NULL value counts once.
    pub distinct: bool,
    /// `sum` of a signed argument gives i64, of an unsigned one u64 (both wrap around).
    pub signed: bool,
    /// As written (`count(*)`, `sum(vsize)`), for `explain`.
    pub text: String,
}

/// The type of a value computed in user space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GTy {
    /// The same type as a kernel value (group keys, min, max, counts, sums, conditions).
    Kernel(Ty),
    /// `avg`: a 64-bit float.
    Float,
}

impl GTy {
    pub fn is_numeric(&self) -> bool {
        matches!(self, GTy::Float) || matches!(self, GTy::Kernel(t) if t.is_integer())
    }

    pub fn describe(&self) -> String {
        match self {
            GTy::Kernel(t) => t.describe(),
            GTy::Float => "float".into(),
        }
    }

    /// The short name with its article: "an inet_addr", "a float".
    pub fn a(&self) -> String {
        match self {
            GTy::Kernel(t) => t.a(),
            GTy::Float => "a float".into(),
        }
    }
}

/// An expression over one group: group keys, aggregates, constants and operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GExpr {
    pub kind: GKind,
    pub ty: GTy,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GKind {
    /// The value of group key `n` (the same in every row of the group).
    Key(usize),
    /// The result of aggregate `n`.
    Agg(usize),
    Int(u64),
    Str(Vec<u8>),
    Arith {
        op: ArithOp,
        lhs: Box<GExpr>,
        rhs: Box<GExpr>,
        signed: bool,
    },
    /// `signed`: as the program would compare integers (`bind::signed_operation`); floats and
    /// text compare by value.
    Compare {
        op: CmpOp,
        lhs: Box<GExpr>,
        rhs: Box<GExpr>,
        signed: bool,
    },
    Neg(Box<GExpr>),
    BitNot(Box<GExpr>),
    /// A function computed in user space (`upper`, `now`...) of its arguments' values.
    Call {
        func: crate::scalar_fn::UserFn,
        args: Vec<GExpr>,
    },
    And(Box<GExpr>, Box<GExpr>),
    Or(Box<GExpr>, Box<GExpr>),
    Not(Box<GExpr>),
}

/// One result column of a grouped query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupColumn {
    pub name: String,
    pub expr: GExpr,
    /// Added only to sort by; not printed.
    pub hidden: bool,
}

/// The user-space half of a grouped query. The kernel writes one row per matching object with
/// the key and argument columns; user space groups those rows by `keys`, computes
/// `aggregates`, keeps the groups `having` accepts and computes `columns` for each.
///
/// Kept apart from the sort/limit of `UserPart` so that grouping can later move into the
/// kernel (a BPF hash map keyed by `keys`, accumulators as its values) without touching them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grouping {
    /// Kernel columns that form the group key, in `group by` order. Empty: one group of all
    /// rows (a query of aggregates alone), which exists even when no row matched.
    pub keys: Vec<usize>,
    pub aggregates: Vec<Aggregate>,
    pub columns: Vec<GroupColumn>,
    pub having: Option<GExpr>,
    /// Source text of `having`, for `explain`.
    pub having_text: Option<String>,
}

impl Grouping {
    /// The layout of the result rows, given the kernel's row layout: only names and kinds mean
    /// something (result rows are values, never bytes).
    pub fn result_layout(&self, kernel: &RowLayout) -> RowLayout {
        RowLayout::pack(self.columns.iter().map(|c| {
            let kind = self.kind_of(&c.expr, kernel);
            (c.name.clone(), kind, false)
        }))
    }

    fn kind_of(&self, expr: &GExpr, kernel: &RowLayout) -> ColumnKind {
        let kernel_kind = |column: usize| {
            kernel
                .columns
                .get(column)
                .map(|c| c.kind.clone())
                .unwrap_or(ColumnKind::Int {
                    bytes: 8,
                    signed: true,
                })
        };
        match &expr.kind {
            GKind::Key(k) => kernel_kind(self.keys[*k]),
            GKind::Agg(a) => {
                let agg = &self.aggregates[*a];
                match (agg.func, agg.arg) {
                    (AggFunc::Min | AggFunc::Max, Some(arg)) => kernel_kind(arg),
                    (AggFunc::Avg, _) => ColumnKind::Float,
                    (AggFunc::Sum, _) => ColumnKind::Int {
                        bytes: 8,
                        signed: agg.signed,
                    },
                    _ => ColumnKind::Int {
                        bytes: 8,
                        signed: false,
                    },
                }
            }
            _ => expr.ty.computed_kind(),
        }
    }
}

impl GTy {
    /// How a value of this type computed in user space is shown.
    pub fn computed_kind(&self) -> ColumnKind {
        match self {
            GTy::Float => ColumnKind::Float,
            GTy::Kernel(Ty::Bool) => ColumnKind::Bool,
            GTy::Kernel(Ty::Str) => ColumnKind::Text,
            GTy::Kernel(Ty::Time(kind)) => ColumnKind::Time(*kind),
            GTy::Kernel(t) => ColumnKind::Int {
                bytes: 8,
                signed: t.is_signed() || matches!(t, Ty::Literal),
            },
        }
    }
}

impl Grouping {
    /// What user space does before sorting, for `explain`: group, aggregate, filter groups.
    pub fn describe_steps(&self, kernel: &[super::OutputColumn]) -> Vec<String> {
        let mut steps = Vec::new();
        if self.keys.is_empty() {
            steps.push("one group of all rows".to_string());
        } else {
            let keys: Vec<&str> = self
                .keys
                .iter()
                .filter_map(|&k| kernel.get(k).map(|c| c.name.as_str()))
                .collect();
            steps.push(format!("group by {} (hash map)", keys.join(", ")));
        }
        if !self.aggregates.is_empty() {
            let aggs: Vec<&str> = self.aggregates.iter().map(|a| a.text.as_str()).collect();
            steps.push(format!("compute {}", aggs.join(", ")));
        }
        if let Some(having) = &self.having_text {
            steps.push(format!("keep groups where `{having}`"));
        }
        steps
    }
}

impl fmt::Display for GExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            GKind::Key(k) => write!(f, "key#{k}"),
            GKind::Agg(a) => write!(f, "agg#{a}"),
            GKind::Int(v) => write!(f, "{}", *v as i64),
            GKind::Str(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
            GKind::Arith { op, lhs, rhs, .. } => write!(f, "({lhs} {op:?} {rhs})"),
            GKind::Compare { op, lhs, rhs, .. } => write!(f, "({lhs} {op:?} {rhs})"),
            GKind::Neg(e) => write!(f, "-({e})"),
            GKind::Call { func, args } => {
                let args: Vec<String> = args.iter().map(GExpr::to_string).collect();
                write!(f, "{}({})", func.name(), args.join(", "))
            }
            GKind::BitNot(e) => write!(f, "~({e})"),
            GKind::And(a, b) => write!(f, "({a} and {b})"),
            GKind::Or(a, b) => write!(f, "({a} or {b})"),
            GKind::Not(a) => write!(f, "not {a}"),
        }
    }
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(|k| format!("#{k}")).collect();
        writeln!(f, "group by [{}]", keys.join(", "))?;
        for (i, agg) in self.aggregates.iter().enumerate() {
            let arg = agg.arg.map_or("*".to_string(), |a| format!("#{a}"));
            writeln!(
                f,
                "agg#{i} = {}({}{arg}){}",
                agg.func.name(),
                if agg.distinct { "distinct " } else { "" },
                match (agg.func, agg.signed) {
                    (AggFunc::Sum, true) => ": s64",
                    (AggFunc::Sum, false) => ": u64",
                    _ => "",
                }
            )?;
        }
        for column in &self.columns {
            writeln!(
                f,
                "result {}{} = {}",
                column.name,
                if column.hidden { " (hidden)" } else { "" },
                column.expr
            )?;
        }
        if let Some(having) = &self.having {
            writeln!(f, "having {having}")?;
        }
        Ok(())
    }
}
