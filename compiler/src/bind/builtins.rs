//! Stage `bind`: the table of built-in functions, the one place that names them. Guarantees
//! every call is looked up here: a scalar is bound by its entry (arity checked here, arguments
//! typed by the entry), an aggregate is recognised by it, and an unknown name is a coded
//! diagnostic whose suggestion draws from the table.
//!
//! A scalar of register arguments (`Scalar`) becomes a `TKind::Call` node: a new one is a row
//! here, a `scalar_fn::ScalarFn` variant with its user-space `eval`, and its IR in
//! `lower::scalar_fn`. A scalar computed in user space (`User`: text, formatting, the clock)
//! becomes a `TKind::UserCall`: a new one is a row here, a `scalar_fn::UserFn` variant and its
//! value in `bpfq_runtime::user_fn`. A reader of kernel memory (`d_path`, `kernfs_path`) has
//! its own node kind, because its lowering, NULL-ness and row layout are its own.
//!
//! Column views (`port`, `ipv4`, `address_family`, `tcp_state`, `string`, `kptr`, `char`, `vma_perms`, BTF enums)
//! are not here: they are no calls but a stdlib column's declared type, applied to its one
//! bound value by `Binder::apply_view`, and most only retype it (`kptr`, `ipv4`, an enum).

use super::{Binder, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, Span};
use crate::layout::TimeKind;
use crate::scalar_fn::{ScalarFn, UserFn};
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
    /// Text: a char array, a string, a path, an address or text computed in user space.
    Text,
    /// Any value that is not a kernel address nor raw bytes (text, integers, times).
    Value,
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
    /// A function user space computes from values the program writes: bound as `args` says
    /// (the last kind repeats for further arguments), typed by `result`.
    User {
        func: UserFn,
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
    /// The fewest and the most arguments it takes (`usize::MAX`: any number).
    pub arity: (usize, usize),
    /// What it gives, for `bpfq describe functions`.
    pub returns: &'static str,
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
        arity: (3, 3),
        returns: "integer",
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
        arity: (1, 1),
        returns: "text",
        doc: "a file's path as /proc shows it",
        example: Some(
            "e.g. d_path(file.f_path) on task_file, d_path(vma.vm_file.f_path) on task_vma",
        ),
        kind: BuiltinKind::Reader(|b, args, span| b.bind_d_path(&args[0], span)),
    },
    Builtin {
        name: "kernfs_path",
        params: "a struct kernfs_node pointer",
        arity: (1, 1),
        returns: "text",
        doc: "a cgroup's path from the cgroup2 root",
        example: Some("e.g. kernfs_path(cgroup.kn) on cgroup"),
        kind: BuiltinKind::Reader(|b, args, span| b.bind_kernfs_path(&args[0], span)),
    },
    Builtin {
        name: "inet_addr",
        params: "a family, an IPv4 field, an IPv6 field",
        arity: (3, 3),
        returns: "address",
        doc: "a socket's address in its own family, shown as 127.0.0.1 or ::1 and filtered by address or prefix",
        example: Some(
            "e.g. inet_addr(sk_common.skc_family, sk_common.skc_daddr, sk_common.skc_v6_daddr) on tcp",
        ),
        kind: BuiltinKind::Reader(|b, args, span| b.bind_inet_addr(args, span)),
    },
    user(
        "upper",
        UserFn::Upper,
        "text",
        (1, 1),
        "the text in upper case (ASCII letters)",
        &[Arg::Text],
        text_result,
    ),
    user(
        "lower",
        UserFn::Lower,
        "text",
        (1, 1),
        "the text in lower case (ASCII letters)",
        &[Arg::Text],
        text_result,
    ),
    user(
        "length",
        UserFn::Length,
        "text",
        (1, 1),
        "the number of characters of the text",
        &[Arg::Text],
        |_| Ty::Int {
            bytes: 8,
            signed: false,
        },
    ),
    user(
        "substr",
        UserFn::Substr,
        "text, start[, length]",
        (2, 3),
        "the characters from `start` (the first is 1), at most `length` of them",
        &[Arg::Text, Arg::Integer, Arg::Integer],
        text_result,
    ),
    user(
        "concat",
        UserFn::Concat,
        "value, value, ...",
        (1, usize::MAX),
        "the values' text one after the other (also `a || b`); NULL when one is NULL",
        &[Arg::Value],
        text_result,
    ),
    user(
        "coalesce",
        UserFn::Coalesce,
        "value, value, ...",
        (1, usize::MAX),
        "the first of the values that is not NULL",
        &[Arg::Value],
        coalesce_result,
    ),
    user(
        "hex",
        UserFn::Hex,
        "integer",
        (1, 1),
        "the integer in hexadecimal, `0x` first (a negative one as its 64 bits)",
        &[Arg::Integer],
        text_result,
    ),
    user(
        "format_bytes",
        UserFn::FormatBytes,
        "integer",
        (1, 1),
        "a size in bytes as `ls -h` shows it, in powers of 1024: 512, 1.5K, 12M, 3.0G",
        &[Arg::Integer],
        text_result,
    ),
    user(
        "format_duration",
        UserFn::FormatDuration,
        "nanoseconds",
        (1, 1),
        "a length of time in nanoseconds as people read it: 250ns, 1.5ms, 2.0s, 3d4h5m6s",
        &[Arg::Integer],
        text_result,
    ),
    user(
        "now",
        UserFn::Now,
        "",
        (0, 0),
        "the time the query runs (one value for every row), a timestamp",
        &[],
        |_| Ty::Time(TimeKind::Timestamp),
    ),
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

#[allow(clippy::too_many_arguments)]
const fn user(
    name: &'static str,
    func: UserFn,
    params: &'static str,
    arity: (usize, usize),
    doc: &'static str,
    args: &'static [Arg],
    result: fn(&[TExpr]) -> Ty,
) -> Builtin {
    Builtin {
        name,
        params,
        arity,
        returns: user_returns(func),
        doc,
        example: None,
        kind: BuiltinKind::User { func, args, result },
    }
}

/// Text made in user space.
fn text_result(_: &[TExpr]) -> Ty {
    Ty::Str
}

/// `coalesce`'s type: text when an argument is text, else the first argument's.
fn coalesce_result(args: &[TExpr]) -> Ty {
    match args.iter().any(|arg| is_text(&arg.ty)) {
        true => Ty::Str,
        false => args.first().map_or(Ty::Literal, |arg| arg.ty.clone()),
    }
}

/// Whether values of `ty` are shown as text.
pub(super) fn is_text(ty: &Ty) -> bool {
    matches!(
        ty,
        Ty::Chars { .. }
            | Ty::Str
            | Ty::KernfsPath { .. }
            | Ty::DentryPath { .. }
            | Ty::Ipv4
            | Ty::VmaPerms
    )
}

const fn aggregate(name: &'static str, func: AggFunc, doc: &'static str) -> Builtin {
    Builtin {
        name,
        params: "a value",
        arity: (1, 1),
        returns: "aggregate",
        doc,
        example: None,
        kind: BuiltinKind::Aggregate(func),
    }
}

/// The built-in called `name`: scalars by their exact name, aggregates in any case (`COUNT`).
pub(crate) fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| match b.kind {
        BuiltinKind::Aggregate(_) => b.name.eq_ignore_ascii_case(name),
        BuiltinKind::Scalar { .. } | BuiltinKind::User { .. } | BuiltinKind::Reader(_) => {
            b.name == name
        }
    })
}

impl UserFn {
    /// The name the query language calls it by (its row in `BUILTINS`).
    pub fn name(self) -> &'static str {
        BUILTINS
            .iter()
            .find(|b| matches!(b.kind, BuiltinKind::User { func, .. } if func == self))
            .map_or("function", |b| b.name)
    }
}

/// One line per function for people (`bpfq describe functions`, the man page): name and
/// arguments, what it gives, where it runs and what it computes.
pub fn describe_functions() -> Vec<[String; 4]> {
    BUILTINS
        .iter()
        .map(|b| {
            let runs = match b.kind {
                BuiltinKind::Scalar { .. } | BuiltinKind::Reader(_) => "kernel",
                BuiltinKind::User { .. } => "user space",
                BuiltinKind::Aggregate(_) => "kernel or user space",
            };
            [
                format!("{}({})", b.name, b.params),
                b.returns.to_string(),
                runs.to_string(),
                b.doc.to_string(),
            ]
        })
        .collect()
}

const fn user_returns(func: UserFn) -> &'static str {
    match func {
        UserFn::Length => "integer",
        UserFn::Coalesce => "its arguments' type",
        UserFn::Now => "timestamp",
        _ => "text",
    }
}

impl AggFunc {
    /// The aggregate called `name` (in any case).
    pub fn from_name(name: &str) -> Option<AggFunc> {
        match builtin(name)?.kind {
            BuiltinKind::Aggregate(func) => Some(func),
            BuiltinKind::Scalar { .. } | BuiltinKind::User { .. } | BuiltinKind::Reader(_) => None,
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
        None => diag.with_note("help: `bpfq describe functions` lists every function"),
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
        let (fewest, most) = builtin.arity;
        if args.len() < fewest || args.len() > most {
            let count = match (fewest, most) {
                (0, 0) => "no arguments".to_string(),
                (n, m) if n == m => format!("{n} argument{}", if n == 1 { "" } else { "s" }),
                (n, usize::MAX) => {
                    format!("at least {n} argument{}", if n == 1 { "" } else { "s" })
                }
                (n, m) => format!("{n} to {m} arguments"),
            };
            let code = match builtin.kind {
                BuiltinKind::User { .. } => codes::FUNCTION_ARITY,
                _ => codes::TYPE_MISMATCH,
            };
            let diag = Diagnostic::error(
                code,
                match builtin.params {
                    "" => format!("`{}` takes {count}, not {}", builtin.name, args.len()),
                    params => format!(
                        "`{}` takes {count} ({params}), not {}",
                        builtin.name,
                        args.len()
                    ),
                },
            )
            .with_primary(span, "here")
            .with_note(format!(
                "{}({}): {}",
                builtin.name, builtin.params, builtin.doc
            ));
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
                        Arg::Integer | Arg::Text | Arg::Value => self.integer(arg)?,
                    });
                }
                Ok(TExpr {
                    ty: result(&bound),
                    kind: TKind::Call { func, args: bound },
                    span,
                })
            }
            BuiltinKind::User {
                func,
                args: kinds,
                result,
            } => {
                let mut bound = Vec::with_capacity(args.len());
                for (at, arg) in args.iter().enumerate() {
                    let kind = kinds.get(at).or(kinds.last()).copied();
                    bound.push(self.user_argument(builtin, arg, kind)?);
                }
                Ok(TExpr {
                    ty: result(&bound),
                    kind: TKind::UserCall { func, args: bound },
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

impl Binder<'_> {
    /// An argument of the user-space function `builtin`, bound as `kind` says.
    fn user_argument(
        &mut self,
        builtin: &Builtin,
        arg: &Expr,
        kind: Option<Arg>,
    ) -> Result<TExpr, Diagnostic> {
        let bound = match kind {
            Some(Arg::Condition) => return self.bind_condition(arg),
            Some(Arg::Integer) => return self.integer(arg),
            _ => self.bind_expr(arg)?,
        };
        let fits = match kind {
            Some(Arg::Text) => is_text(&bound.ty),
            // Never a kernel address nor raw bytes: text of them would show what is hidden.
            _ => is_text(&bound.ty) || bound.ty.is_integer() || bound.ty == Ty::Bool,
        };
        if fits {
            return Ok(bound);
        }
        let wanted = match kind {
            Some(Arg::Text) => "text",
            _ => "text, an integer or a time",
        };
        Err(Diagnostic::error(
            codes::FUNCTION_ARGUMENT,
            format!(
                "`{}` takes {wanted} here, not {}",
                builtin.name,
                bound.ty.a()
            ),
        )
        .with_primary(arg.span, format!("this is {}", bound.ty.a()))
        .with_note(format!(
            "{}({}): {}",
            builtin.name, builtin.params, builtin.doc
        )))
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
