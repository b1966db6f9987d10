//! Stage `bind`: the table of built-in functions, the one place that names them. Guarantees
//! every call is looked up here: a scalar is bound by its entry (arity checked here, arguments
//! typed by the entry), an aggregate is recognised by it, and an unknown name is a coded
//! diagnostic whose suggestion draws from the table.
//!
//! A scalar of register arguments (`Scalar`) becomes a `TKind::Call` node: a new one is a row
//! here, a `scalar_fn::ScalarFn` variant with its user-space `eval`, and its IR in
//! `lower::scalar_fn`. A reader of kernel memory (`d_path`, `kernfs_path`) has its own node
//! kind, because its lowering, NULL-ness and row layout are its own.
//!
//! Column views (`port`, `ipv4`, `address_family`, `tcp_state`, `string`, `kptr`, `char`, `vma_perms`, BTF enums)
//! are not here: they are no calls but a stdlib column's declared type, applied to its one
//! bound value by `Binder::apply_view`, and most only retype it (`kptr`, `ipv4`, an enum).

use super::{Binder, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, Span};
use crate::scalar_fn::ScalarFn;
use crate::syntax::ast::Expr;

/// The aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

/// How a scalar built-in's argument is bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A condition (`bind_condition`); its register is 1 when it holds.
    Condition,
    /// An integer.
    Integer,
}

/// What a built-in is and how it is bound.
#[derive(Clone, Copy)]
pub(crate) enum BuiltinKind {
    /// A function of its arguments' registers: bound as `args` says, typed by `result`.
    Scalar {
        func: ScalarFn,
        args: &'static [Arg],
        result: fn(&[TExpr]) -> Ty,
    },
    /// A reader of kernel memory, bound by its own hook from its arguments.
    Reader(fn(&mut Binder<'_>, &[Expr], Span) -> Result<TExpr, Diagnostic>),
    /// An aggregate over the rows of a group (`bind_grouped`).
    Aggregate(AggFunc),
}

/// One built-in function.
pub(crate) struct Builtin {
    pub name: &'static str,
    /// Its arguments as a wrong call is told (`(condition, then, else)`).
    pub params: &'static str,
    pub arity: usize,
    /// One line for people: what it computes.
    pub doc: &'static str,
    /// A call to show when the arguments are wrong.
    pub example: Option<&'static str>,
    pub kind: BuiltinKind,
}

/// Every built-in function.
pub(crate) const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "if",
        params: "condition, then, else",
        arity: 3,
        doc: "the integer `then` when the condition holds, else the integer `else`",
        example: None,
        kind: BuiltinKind::Scalar {
            func: ScalarFn::If,
            args: &[Arg::Condition, Arg::Integer, Arg::Integer],
            result: if_result,
        },
    },
    Builtin {
        name: "d_path",
        params: "a struct path",
        arity: 1,
        doc: "a file's path as /proc shows it",
        example: Some(
            "e.g. d_path(file.f_path) on task_file, d_path(vma.vm_file.f_path) on task_vma",
        ),
        kind: BuiltinKind::Reader(|b, args, span| b.bind_d_path(&args[0], span)),
    },
    Builtin {
        name: "kernfs_path",
        params: "a struct kernfs_node pointer",
        arity: 1,
        doc: "a cgroup's path from the cgroup2 root",
        example: Some("e.g. kernfs_path(cgroup.kn) on cgroup"),
        kind: BuiltinKind::Reader(|b, args, span| b.bind_kernfs_path(&args[0], span)),
    },
    Builtin {
        name: "inet_addr",
        params: "a family, an IPv4 field, an IPv6 field",
        arity: 3,
        doc: "a socket's address in its own family, shown as 127.0.0.1 or ::1 and filtered by address or prefix",
        example: Some(
            "e.g. inet_addr(sk_common.skc_family, sk_common.skc_daddr, sk_common.skc_v6_daddr) on tcp",
        ),
        kind: BuiltinKind::Reader(|b, args, span| b.bind_inet_addr(args, span)),
    },
    aggregate("count", AggFunc::Count, "the rows, or the non-NULL values"),
    aggregate(
        "sum",
        AggFunc::Sum,
        "the sum of the integers, wrapping in 64 bits",
    ),
    aggregate("min", AggFunc::Min, "the least value"),
    aggregate("max", AggFunc::Max, "the greatest value"),
    aggregate("avg", AggFunc::Avg, "the mean of the integers, as a float"),
];

const fn aggregate(name: &'static str, func: AggFunc, doc: &'static str) -> Builtin {
    Builtin {
        name,
        params: "a value",
        arity: 1,
        doc,
        example: None,
        kind: BuiltinKind::Aggregate(func),
    }
}

/// The built-in called `name`: scalars by their exact name, aggregates in any case (`COUNT`).
pub(crate) fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| match b.kind {
        BuiltinKind::Aggregate(_) => b.name.eq_ignore_ascii_case(name),
        BuiltinKind::Scalar { .. } | BuiltinKind::Reader(_) => b.name == name,
    })
}

impl AggFunc {
    /// The aggregate called `name` (in any case).
    pub fn from_name(name: &str) -> Option<AggFunc> {
        match builtin(name)?.kind {
            BuiltinKind::Aggregate(func) => Some(func),
            BuiltinKind::Scalar { .. } | BuiltinKind::Reader(_) => None,
        }
    }

    pub fn name(self) -> &'static str {
        BUILTINS
            .iter()
            .find(|b| matches!(b.kind, BuiltinKind::Aggregate(f) if f == self))
            .map_or("aggregate", |b| b.name)
    }
}

/// `if`'s type: a 64-bit register, signed when an arm is or is a negative literal
/// (`if(c, 1, -1)`).
fn if_result(args: &[TExpr]) -> Ty {
    let negative = |e: &TExpr| matches!(e.kind, TKind::Int(v) if (v as i64) < 0);
    let signed = args
        .iter()
        .skip(1)
        .any(|arm| arm.ty.is_signed() || negative(arm));
    Ty::Int { bytes: 8, signed }
}

/// An aggregate where only plain values may appear (`where`, `group by`, inside an aggregate).
pub(super) fn misplaced_aggregate(span: Span, place: &str, hint: &str) -> Diagnostic {
    Diagnostic::error(
        codes::AGGREGATE_MISPLACED,
        format!("an aggregate cannot be used {place}"),
    )
    .with_primary(span, "aggregate here")
    .with_note(hint.to_string())
}

/// A call of no built-in: the nearest names, or all of them.
pub(crate) fn unknown_function(name: &str, span: Span) -> Diagnostic {
    let names = BUILTINS.iter().map(|b| b.name);
    let diag = Diagnostic::error(codes::UNKNOWN_NAME, format!("unknown function `{name}`"))
        .with_primary(span, "no built-in function of this name");
    match nearest_names(name, names.clone(), 1)
        .first()
        .and_then(|near| builtin(near))
    {
        Some(near) => diag.with_note(format!(
            "help: did you mean `{}`? {}({}): {}",
            near.name, near.name, near.params, near.doc
        )),
        None => diag.with_note(format!(
            "the functions are {}",
            names.collect::<Vec<_>>().join(", ")
        )),
    }
}

impl Binder<'_> {
    /// A call of the scalar or reader `builtin` (not an aggregate: those are bound by
    /// `bind_grouped`).
    pub(super) fn bind_call(
        &mut self,
        builtin: &Builtin,
        args: &[Expr],
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        if args.len() != builtin.arity {
            let diag = Diagnostic::error(
                codes::TYPE_MISMATCH,
                format!(
                    "`{}` takes {} argument{} ({}), not {}",
                    builtin.name,
                    builtin.arity,
                    if builtin.arity == 1 { "" } else { "s" },
                    builtin.params,
                    args.len()
                ),
            )
            .with_primary(span, "here");
            return Err(match builtin.example {
                Some(example) => diag.with_note(example),
                None => diag,
            });
        }
        match builtin.kind {
            BuiltinKind::Scalar {
                func,
                args: kinds,
                result,
            } => {
                let mut bound = Vec::with_capacity(args.len());
                for (arg, kind) in args.iter().zip(kinds) {
                    bound.push(match kind {
                        Arg::Condition => self.bind_condition(arg)?,
                        Arg::Integer => self.integer(arg)?,
                    });
                }
                Ok(TExpr {
                    ty: result(&bound),
                    kind: TKind::Call { func, args: bound },
                    span,
                })
            }
            BuiltinKind::Reader(bind) => bind(self, args, span),
            BuiltinKind::Aggregate(_) => Err(misplaced_aggregate(
                span,
                "here",
                "aggregates go in `select`, `having` and `order by`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_aggregates_ignore_case() {
        for (i, b) in BUILTINS.iter().enumerate() {
            assert!(
                BUILTINS[i + 1..].iter().all(|o| o.name != b.name),
                "{} twice",
                b.name
            );
        }
        assert_eq!(AggFunc::from_name("COUNT"), Some(AggFunc::Count));
        assert_eq!(AggFunc::Avg.name(), "avg");
        assert!(builtin("IF").is_none());
        assert!(builtin("kernfs_path").is_some());
    }
}
