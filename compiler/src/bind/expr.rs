//! Stage `bind`: expressions. Types every operator, folds constant arithmetic, turns `in (...)`
//! into comparisons and char-array comparisons into text equality; rejects ill-typed input with a
//! coded diagnostic at the operator or operand that is wrong.

use super::enum_names;
use super::inet_addr::{self, PrefixUse};
use super::nullable::null_sources;
use super::shown;
use super::vma_perms::{self, VMA_PERMS_BITS};
use super::{internal, malformed_btf, ArithOp, Binder, CmpOp, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::int_view::IntView;
use crate::layout::TimeKind;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::syntax::MAX_EXPR_DEPTH;

/// The longest C string a `string` column reads (bytes, with the NUL).
pub const STRING_MAX: u32 = 64;

/// Structs and arrays up to this size can be selected whole, as bytes.
pub const MAX_VALUE_BYTES: u32 = 64;

/// Deepest chain of columns defined through columns: each one's expression is bound in place,
/// so later stages (which recurse over expressions) see depths adding up along the chain.
pub const MAX_COLUMN_NESTING: usize = 32;

/// Most values of an `in` list: each is a compare and a branch in the program (about 4
/// instructions), so the program stays far below the verifier's limits.
pub const MAX_IN_VALUES: usize = 4096;

/// `a or b or c ...` as a balanced tree (depth log2 of the count, not the count), left to right
/// in evaluation order; `None` for no operands.
fn balanced_or(mut operands: Vec<TExpr>, span: Span) -> Option<TExpr> {
    match operands.len() {
        0 => None,
        1 => operands.pop(),
        len => {
            let right = operands.split_off(len / 2);
            let (left, right) = (balanced_or(operands, span)?, balanced_or(right, span)?);
            Some(TExpr {
                kind: TKind::Or(Box::new(left), Box::new(right)),
                ty: Ty::Bool,
                span,
            })
        }
    }
}

impl Binder<'_> {
    /// A stdlib column of the target, bound now: the first alternative whose fields exist wins.
    /// `Ok(None)` when the stdlib has no column of that name.
    pub(super) fn bind_column_by_name(
        &mut self,
        name: &str,
        use_span: Span,
    ) -> Result<Option<TExpr>, Diagnostic> {
        let Some(decl) = self.env.stdlib.column(&self.target.name, name) else {
            return Ok(None);
        };
        if self.in_progress.iter().any(|n| n == name) {
            return Err(Diagnostic::error(
                codes::STDLIB_COLUMN_UNAVAILABLE,
                format!("stdlib column `{name}` is defined in terms of itself"),
            )
            .with_primary(decl.name.span, "cyclic definition"));
        }
        if self.in_progress.len() >= MAX_COLUMN_NESTING {
            return Err(Diagnostic::error(
                codes::COLUMNS_TOO_DEEP,
                format!(
                    "columns defined through columns nest more than {MAX_COLUMN_NESTING} deep (limit {MAX_COLUMN_NESTING}), from `{}` down to `{name}`",
                    self.in_progress[0]
                ),
            )
            .with_primary(decl.name.span, "one column too many in the chain")
            .with_secondary(use_span, "used here")
            .with_note(format!(
                "the chain: {} -> {name}",
                self.in_progress.join(" -> ")
            ))
            .with_note("help: define the column from fields, not through a long chain of columns"));
        }
        self.in_progress.push(name.to_string());
        let mut failures = Vec::new();
        let mut bound = None;
        for alternative in &decl.alternatives {
            match self.bind_expr(alternative) {
                Ok(expr) => {
                    bound = Some(expr);
                    break;
                }
                // Not a kernel difference: the map decides, the BTF is broken (an alternative
                // that avoids the broken type would hide it) or a limit is reached, so no
                // alternative can help.
                Err(diag)
                    if diag.code == codes::MAP_REQUIRED
                        || diag.code == codes::MAP_ELEMENT_UNREADABLE
                        || diag.code == codes::MALFORMED_BTF
                        || diag.code == codes::COLUMNS_TOO_DEEP
                        || diag.code == codes::BOUND_TOO_DEEP
                        || diag.code == codes::IN_LIST_TOO_LONG =>
                {
                    self.in_progress.pop();
                    // The chain is in the note already: one label per level would repeat it.
                    return Err(
                        if matches!(diag.code, codes::COLUMNS_TOO_DEEP | codes::BOUND_TOO_DEEP) {
                            diag
                        } else {
                            diag.with_secondary(use_span, "used here")
                        },
                    );
                }
                Err(diag) => failures.push((alternative.span, diag.message)),
            }
        }
        self.in_progress.pop();
        match bound {
            Some(mut expr) => {
                if let Some(view) = &decl.ty {
                    expr = self.apply_view(expr, view)?;
                }
                expr.span = use_span;
                Ok(Some(expr))
            }
            None => {
                let mut diag = Diagnostic::error(
                    codes::STDLIB_COLUMN_UNAVAILABLE,
                    format!(
                        "column `{name}` of `{}` cannot be computed on this kernel",
                        self.target.name
                    ),
                )
                .with_primary(use_span, "used here");
                for (span, message) in failures {
                    diag = diag.with_secondary(span, message);
                }
                Err(diag
                    .with_note("the stdlib definition's fields do not exist in this kernel's BTF"))
            }
        }
    }

    /// The size of a struct small enough to be a column of raw bytes (e.g. `struct in6_addr`).
    fn aggregate_bytes(&self, id: bpfq_kernel::TypeId) -> Option<u32> {
        self.env
            .btf
            .size_of(id)
            .ok()
            .filter(|size| *size <= MAX_VALUE_BYTES)
    }

    /// A stdlib column's declared type: how its bits are meant. `port` (a network-order u16,
    /// swapped to host order in the kernel), `ipv4` (a network-order u32, shown as a dotted
    /// quad), `tcp_state` (the kernel's anonymous TCP state enum), `char` (a one-byte integer
    /// in memory shown as the character it holds), or the name of a BTF enum.
    fn apply_view(
        &mut self,
        expr: TExpr,
        view: &crate::syntax::ast::TypeName,
    ) -> Result<TExpr, Diagnostic> {
        let btf = self.env.btf;
        let width = match expr.ty {
            Ty::Int { bytes, .. } | Ty::Enum { bytes, .. } => bytes,
            _ => 0,
        };
        let wrong = |want: &str| {
            Diagnostic::error(
                codes::BAD_CAST,
                format!(
                    "a `{}` column needs {want}, found {}",
                    view.name,
                    expr.ty.a()
                ),
            )
            .with_primary(view.span, "declared here")
            .with_secondary(expr.span, "this value")
        };
        let span = expr.span;
        match view.name.as_str() {
            "port" if width == 2 => Ok(TExpr {
                kind: TKind::ByteSwap {
                    value: Box::new(expr),
                    bytes: 2,
                },
                ty: Ty::Int {
                    bytes: 2,
                    signed: false,
                },
                span,
            }),
            "port" => Err(wrong("a 2-byte integer")),
            "ipv4" if width == 4 => Ok(TExpr {
                ty: Ty::Ipv4,
                ..expr
            }),
            "ipv4" => Err(wrong("a 4-byte integer")),
            "address_family" if width > 0 => Ok(TExpr {
                ty: Ty::AddressFamily { bytes: width },
                ..expr
            }),
            "address_family" => Err(wrong("an integer (an AF_* number)")),
            // Only the bits /proc/PID/maps shows, so equal text is equal bits (and one group).
            "vma_perms" if width > 0 => Ok(TExpr {
                kind: TKind::Arith {
                    op: ArithOp::BitAnd,
                    lhs: Box::new(expr),
                    rhs: Box::new(TExpr {
                        kind: TKind::Int(VMA_PERMS_BITS),
                        ty: Ty::Literal,
                        span,
                    }),
                    signed: false,
                },
                ty: Ty::VmaPerms,
                span,
            }),
            "vma_perms" => Err(wrong("an integer (a VMA's vm_flags)")),
            "container" => {
                super::kernfs_path::as_container(expr.clone()).ok_or_else(|| wrong("a kernfs_path"))
            }
            name if IntView::from_name(name).is_some() => match IntView::from_name(name) {
                Some(view) if width > 0 => Ok(TExpr {
                    ty: Ty::Shown(view),
                    ..expr
                }),
                _ => Err(wrong("an integer")),
            },
            // The byte itself, copied as a one-character text column (`T`, not 84).
            "char" => match expr.kind {
                TKind::Load {
                    ptr,
                    offset,
                    bytes: 1,
                    bitfield: None,
                    ..
                } => Ok(TExpr {
                    kind: TKind::Place { ptr, offset },
                    ty: Ty::Chars { len: 1 },
                    span,
                }),
                _ => Err(wrong("a one-byte integer field")),
            },
            // A kernel address kept in an integer: hidden in output unless --show-kptrs.
            "kptr" if width == 8 => Ok(TExpr {
                ty: Ty::Ptr {
                    pointee: bpfq_kernel::TypeId(0),
                },
                ..expr
            }),
            // Already a pointer (an address member of a target's quirks): nothing to change.
            "kptr" if matches!(expr.ty, Ty::Ptr { .. }) => Ok(expr),
            "kptr" => Err(wrong("an 8-byte integer")),
            // Nanoseconds: integers to the program, times to people.
            "timestamp" | "boot_timestamp" | "duration" if width == 8 || expr.ty == Ty::Literal => {
                let kind = match view.name.as_str() {
                    "timestamp" => TimeKind::Timestamp,
                    "boot_timestamp" => TimeKind::BootTimestamp,
                    _ => TimeKind::Duration,
                };
                Ok(TExpr {
                    ty: Ty::Time(kind),
                    ..expr
                })
            }
            "timestamp" | "boot_timestamp" | "duration" => {
                Err(wrong("an 8-byte integer of nanoseconds"))
            }
            "string" => match expr.ty {
                Ty::Ptr { pointee }
                    if matches!(
                        btf.get(pointee),
                        Ok(bpfq_kernel::BtfType::Int { size: 1, .. })
                    ) =>
                {
                    Ok(TExpr {
                        kind: TKind::CString {
                            ptr: Box::new(expr),
                            max: STRING_MAX,
                        },
                        ty: Ty::Chars { len: STRING_MAX },
                        span,
                    })
                }
                _ => Err(wrong("a `char *`")),
            },
            name => {
                let id = match name {
                    "tcp_state" => btf.find_enumerator("TCP_ESTABLISHED").map(|(id, _)| id),
                    _ => btf
                        .find(bpfq_kernel::Kind::Enum, name)
                        .or_else(|| btf.find(bpfq_kernel::Kind::Enum64, name)),
                };
                let Some(id) = id else {
                    return Err(Diagnostic::error(
                        codes::BAD_CAST,
                        format!("unknown column type `{name}`"),
                    )
                    .with_primary(
                        view.span,
                        "not port, ipv4, address_family, char, string, kptr, vma_perms, task_state, tty_device, container, tcp_state, timestamp, boot_timestamp, duration or an enum of this kernel",
                    ));
                };
                if width == 0 {
                    return Err(wrong("an integer"));
                }
                let signed = expr.ty.is_signed();
                Ok(TExpr {
                    ty: Ty::Enum {
                        id,
                        bytes: width,
                        signed,
                    },
                    ..expr
                })
            }
        }
    }

    /// Rejects values that cannot be a column (large structs and arrays, strings).
    pub(super) fn check_selectable(&self, expr: &TExpr) -> Result<(), Diagnostic> {
        match &expr.ty {
            Ty::Int { .. }
            | Ty::Bool
            | Ty::Chars { .. }
            | Ty::Ptr { .. }
            | Ty::Enum { .. }
            | Ty::Literal
            | Ty::Ipv4
            | Ty::InetAddr
            | Ty::AddressFamily { .. }
            | Ty::VmaPerms
            | Ty::Shown(_)
            | Ty::KernfsPath { .. }
            | Ty::DentryPath { .. }
            | Ty::Time(_)
            | Ty::Bytes { .. } => Ok(()),
            // Text computed in user space (`upper(comm)`).
            Ty::Str if expr.in_user_space() => Ok(()),
            Ty::Struct { id } if self.aggregate_bytes(*id).is_some() => Ok(()),
            Ty::Struct { id } => {
                let members = self
                    .env
                    .btf
                    .members(*id)
                    .map_err(|e| malformed_btf(expr.span, e))?;
                let names: Vec<&str> = members.iter().take(8).map(|m| m.name).collect();
                Err(Diagnostic::error(
                    codes::NOT_A_VALUE,
                    format!("a struct of more than {MAX_VALUE_BYTES} bytes cannot be a column"),
                )
                .with_primary(
                    expr.span,
                    format!(
                        "this is `{}`",
                        bpfq_kernel::catalogue::type_name(self.env.btf, *id)
                    ),
                )
                .with_note(format!(
                    "select one of its members, e.g. {}",
                    names.join(", ")
                )))
            }
            Ty::Array { elem, len }
                if self
                    .env
                    .btf
                    .size_of(*elem)
                    .is_ok_and(|s| s.checked_mul(*len).is_some_and(|b| b <= MAX_VALUE_BYTES)) =>
            {
                Ok(())
            }
            Ty::Array { len, .. } => Err(Diagnostic::error(
                codes::NOT_A_VALUE,
                format!("an array of more than {MAX_VALUE_BYTES} bytes cannot be a column"),
            )
            .with_primary(expr.span, format!("an array of {len} elements"))
            .with_note("select one element with `[index]`")),
            Ty::Str => Err(Diagnostic::error(
                codes::NOT_A_VALUE,
                "a string literal cannot be a column yet",
            )
            .with_primary(expr.span, "here")),
        }
    }

    /// An expression that must be a condition (`where`, operands of `and`/`or`/`not`).
    pub(super) fn bind_condition(&mut self, expr: &Expr) -> Result<TExpr, Diagnostic> {
        let bound = self.bind_expr(expr)?;
        match bound.ty {
            Ty::Bool => Ok(bound),
            _ => Err(Diagnostic::error(
                codes::EXPECTED_CONDITION,
                format!("expected a condition, found {}", bound.ty.a()),
            )
            .with_primary(expr.span, "not a condition")
            .with_note("compare it with something, e.g. `x != 0`")),
        }
    }

    /// Binds `expr`; refuses (E0126) to nest deeper than the parser's own limit once columns
    /// are bound in place, so no later stage's recursion over the typed tree runs out of stack.
    pub(super) fn bind_expr(&mut self, expr: &Expr) -> Result<TExpr, Diagnostic> {
        if self.depth >= MAX_EXPR_DEPTH {
            return Err(Diagnostic::error(
                codes::BOUND_TOO_DEEP,
                format!(
                    "expression nested too deeply once its columns are put in place (limit {MAX_EXPR_DEPTH})"
                ),
            )
            .with_primary(expr.span, "this is nested too deeply")
            .with_note(format!(
                "columns used: {}",
                self.in_progress.join(" -> ")
            ))
            .with_note("help: define columns from fields rather than through long chains of other columns"));
        }
        self.depth += 1;
        let bound = self.bind_expr_here(expr);
        self.depth -= 1;
        bound
    }

    fn bind_expr_here(&mut self, expr: &Expr) -> Result<TExpr, Diagnostic> {
        let span = expr.span;
        match &expr.kind {
            ExprKind::Int(v) => Ok(TExpr {
                kind: TKind::Int(*v),
                ty: Ty::Literal,
                span,
            }),
            ExprKind::Str(s) => Ok(TExpr {
                kind: TKind::Str(s.as_bytes().to_vec()),
                ty: Ty::Str,
                span,
            }),
            ExprKind::Bool(b) => Ok(TExpr {
                kind: TKind::Int(u64::from(*b)),
                ty: Ty::Literal,
                span,
            }),
            ExprKind::Null => Err(Diagnostic::error(
                codes::UNSUPPORTED,
                "`null` is only meaningful with `is null`",
            )
            .with_primary(span, "here")),
            ExprKind::Param(name) => self.bind_param(name, span),
            ExprKind::Path(segments) => self.bind_path(segments, span),
            ExprKind::Member { base, path } => {
                let mut bound = self.bind_expr(base)?;
                for segment in path {
                    bound = self.step(bound, segment)?;
                }
                bound.span = span;
                Ok(bound)
            }
            ExprKind::Unary(op, arg) => self.bind_unary(*op, arg, span),
            ExprKind::Binary(op, lhs, rhs) => self.bind_binary(*op, lhs, rhs, span),
            ExprKind::In {
                expr: needle,
                list,
                negated,
            } => {
                if list.len() > MAX_IN_VALUES {
                    return Err(Diagnostic::error(
                        codes::IN_LIST_TOO_LONG,
                        format!(
                            "`in` list of {} values is longer than bpfq compiles (limit {MAX_IN_VALUES})",
                            list.len()
                        ),
                    )
                    .with_primary(span, "this list")
                    .with_note("help: split the values over several queries, or select the column and filter the rows outside bpfq"));
                }
                let compares = list
                    .iter()
                    .map(|item| {
                        self.compare_with(CmpOp::Eq, needle, item, item.span, PrefixUse::Allowed)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut result = balanced_or(compares, span).ok_or_else(|| {
                    Diagnostic::error(codes::EXPECTED_CONDITION, "`in` needs at least one value")
                        .with_primary(span, "empty list")
                })?;
                // A list of one is that one comparison: it still stands for the whole `in`.
                result.span = span;
                Ok(if *negated {
                    TExpr {
                        kind: TKind::Not(Box::new(result)),
                        ty: Ty::Bool,
                        span,
                    }
                } else {
                    result
                })
            }
            ExprKind::IsNull {
                expr: inner,
                negated,
            } => {
                let bound = self.bind_expr(inner)?;
                if matches!(bound.ty, Ty::Ptr { .. }) {
                    return Ok(pointer_is_null(bound, *negated, span));
                }
                // A value read through pointers is NULL when one of them is: test those.
                let sources = null_sources(&bound);
                if sources.pointers.is_empty() || sources.helper {
                    let why = if sources.helper {
                        "NULL here only when the kernel fails to build it, which a filter cannot see"
                    } else {
                        "never NULL: it is not read through a pointer"
                    };
                    return Err(Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        format!(
                            "`is null` needs a pointer or a value read through one, found {}",
                            bound.ty.a()
                        ),
                    )
                    .with_primary(inner.span, why));
                }
                let tests = sources
                    .pointers
                    .into_iter()
                    .map(|ptr| pointer_is_null(ptr.clone(), *negated, span));
                // NULL when any pointer is NULL; not NULL when none is.
                let joined = tests.reduce(|acc, test| TExpr {
                    kind: if *negated {
                        TKind::And(Box::new(acc), Box::new(test))
                    } else {
                        TKind::Or(Box::new(acc), Box::new(test))
                    },
                    ty: Ty::Bool,
                    span,
                });
                joined.ok_or_else(|| {
                    internal(span, "`is null`: a list of NULL sources emptied itself")
                })
            }
            ExprKind::Like {
                expr: text,
                pattern,
                negated,
            } => self.bind_like(text, pattern, *negated, span),
            ExprKind::Cast { expr: value, ty } => self.bind_cast(value, ty, span),
            ExprKind::Call { func, args, .. } => match super::builtins::builtin(&func.name) {
                Some(builtin) => self.bind_call(builtin, args, span),
                None => Err(super::builtins::unknown_function(&func.name, func.span)),
            },
            ExprKind::CountStar => Err(super::builtins::misplaced_aggregate(
                span,
                "here",
                "aggregates go in `select`, `having` and `order by`",
            )),
        }
    }

    fn bind_like(
        &mut self,
        text: &Expr,
        pattern: &Expr,
        negated: bool,
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        let bound = self.bind_expr(text)?;
        if !matches!(bound.ty, Ty::Chars { .. }) {
            return Err(Diagnostic::error(
                codes::TYPE_MISMATCH,
                format!("`like` needs a char array, found {}", bound.ty.a()),
            )
            .with_primary(text.span, "not text"));
        }
        if matches!(bound.kind, TKind::CString { .. } | TKind::DPath { .. }) {
            return Err(super::unsupported(
                "matching a string read through a pointer or a path",
                text.span,
                "a later issue",
            ));
        }
        let pattern_bound = self.bind_expr(pattern)?;
        let TKind::Str(bytes) = pattern_bound.kind else {
            return Err(Diagnostic::error(
                codes::TYPE_MISMATCH,
                format!(
                    "a `like` pattern is a string literal, found {}",
                    pattern_bound.ty.a()
                ),
            )
            .with_primary(pattern.span, "not a string"));
        };
        // Every byte but `%` takes one byte of the text: as `==` with a longer string, a
        // pattern that needs more bytes than the array has can never match.
        let needed = bytes.iter().filter(|b| **b != b'%').count();
        if let Ty::Chars { len } = bound.ty {
            if needed > len as usize {
                return Err(Diagnostic::error(
                    codes::STRING_TOO_LONG,
                    format!(
                        "this pattern matches only text of {needed} bytes or more; the field holds at most {len}"
                    ),
                )
                .with_primary(pattern.span, "too long: `like` could never match")
                .with_secondary(text.span, format!("char[{len}]")));
            }
        }
        Ok(TExpr {
            kind: TKind::Like {
                text: Box::new(bound),
                pattern: bytes,
                negated,
            },
            ty: Ty::Bool,
            span,
        })
    }

    fn bind_cast(
        &mut self,
        value: &Expr,
        ty: &crate::syntax::ast::TypeName,
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        let target = if ty.is_struct {
            None
        } else {
            super::int_type(&ty.name)
        };
        let Some((bytes, signed)) = target else {
            return self.bind_struct_cast(value, ty, span);
        };
        let inner = self.bind_expr(value)?;
        // A condition becomes 0 or 1.
        let inner = if inner.ty == Ty::Bool {
            TExpr {
                kind: TKind::BoolToInt {
                    cond: Box::new(inner),
                },
                ty: Ty::Int {
                    bytes: 1,
                    signed: false,
                },
                span,
            }
        } else if inner.ty.is_integer() {
            inner
        } else {
            return Err(Diagnostic::error(
                codes::EXPECTED_INTEGER,
                format!("expected an integer or a condition, found {}", inner.ty.a()),
            )
            .with_primary(value.span, "cannot be cast to an integer"));
        };
        // 0 or 1 fits every width: no truncation needed.
        if matches!(inner.kind, TKind::BoolToInt { .. }) {
            return Ok(TExpr {
                ty: Ty::Int { bytes, signed },
                span,
                ..inner
            });
        }
        if let TKind::Int(v) = inner.kind {
            return Ok(TExpr {
                kind: TKind::Int(crate::alu::extend(v, 8 * u32::from(bytes), 0, signed)),
                ty: Ty::Int { bytes, signed },
                span,
            });
        }
        Ok(TExpr {
            kind: TKind::Cast {
                value: Box::new(inner),
                bytes,
                signed,
            },
            ty: Ty::Int { bytes, signed },
            span,
        })
    }

    /// `cast(p as [struct] T)`: a pointer seen as a pointer to struct or union `T`. With the
    /// `bpf_rdonly_cast` kfunc the verifier sees it as one; without (Linux < 6.2, or the FUNC
    /// missing) the verifier still sees what `p` was, so everything read through the cast is
    /// probe-read.
    fn bind_struct_cast(
        &mut self,
        value: &Expr,
        ty: &crate::syntax::ast::TypeName,
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        use bpfq_kernel::Kind;
        let btf = self.env.btf;
        // One BTF pass finds the struct and, the first time, the kfunc that casts need.
        if !self.cast_types.contains_key(&ty.name) {
            let kfunc_wanted = self.env.features.rdonly_cast && self.rdonly_cast.is_none();
            let mut wanted = vec![(Kind::Struct, ty.name.as_str()), (Kind::Union, &ty.name)];
            if kfunc_wanted {
                wanted.push((Kind::Func, "bpf_rdonly_cast"));
            }
            let found = btf.find_many(&wanted);
            self.cast_types
                .insert(ty.name.clone(), found[0].or(found[1]));
            self.rdonly_cast
                .get_or_insert(found.get(2).copied().flatten());
        }
        let kfunc = self.rdonly_cast.flatten();
        let Some(target) = self.cast_types.get(&ty.name).copied().flatten() else {
            return Err(Diagnostic::error(codes::BAD_CAST, format!("cannot cast to `{}`", ty.name))
                .with_primary(ty.span, "neither an integer type nor a struct of this kernel")
                .with_note("integer casts: u8 u16 u32 u64 s8 s16 s32 s64; pointer casts: `cast(p as struct NAME)`"));
        };
        let inner = self.bind_expr(value)?;
        if !matches!(inner.ty, Ty::Ptr { .. }) {
            return Err(Diagnostic::error(
                codes::BAD_CAST,
                format!("only pointers can be cast to `struct {}`", ty.name),
            )
            .with_primary(value.span, format!("this is {}", inner.ty.a())));
        }
        Ok(TExpr {
            kind: TKind::StructCast {
                value: Box::new(inner),
                target,
                kfunc,
            },
            ty: Ty::Ptr { pointee: target },
            span,
        })
    }

    fn bind_param(&mut self, name: &str, span: Span) -> Result<TExpr, Diagnostic> {
        let Some(value) = self.env.params.get(name) else {
            return Err(Diagnostic::error(
                codes::UNKNOWN_PARAM,
                format!("parameter `${name}` has no value"),
            )
            .with_primary(span, "not given")
            .with_note(format!("pass it with `--param {name}=VALUE`")));
        };
        let text = &value.text;
        let parsed = if let Some(hex) = text.strip_prefix("0x") {
            u64::from_str_radix(hex, 16).ok()
        } else if let Some(neg) = text.strip_prefix('-') {
            neg.parse::<u64>().ok().map(|v| v.wrapping_neg())
        } else {
            text.parse::<u64>().ok()
        };
        // A parameter declared with an integer type is a constant of that type.
        let declared = value.declared.as_deref().and_then(super::int_type);
        Ok(match parsed {
            Some(v) => match declared {
                Some((bytes, signed)) => TExpr {
                    kind: TKind::Int(crate::alu::extend(v, 8 * u32::from(bytes), 0, signed)),
                    ty: Ty::Int { bytes, signed },
                    span,
                },
                None => TExpr {
                    kind: TKind::Int(v),
                    ty: Ty::Literal,
                    span,
                },
            },
            None => TExpr {
                kind: TKind::Str(text.as_bytes().to_vec()),
                ty: Ty::Str,
                span,
            },
        })
    }

    fn bind_unary(&mut self, op: UnaryOp, arg: &Expr, span: Span) -> Result<TExpr, Diagnostic> {
        if op == UnaryOp::Not {
            let inner = self.bind_condition(arg)?;
            return Ok(TExpr {
                kind: TKind::Not(Box::new(inner)),
                ty: Ty::Bool,
                span,
            });
        }
        let inner = self.integer(arg)?;
        // A literal stays a literal; anything else is a 64-bit register value, signed after `-`.
        let ty = match inner.ty {
            Ty::Literal => Ty::Literal,
            _ => Ty::Int {
                bytes: 8,
                signed: inner.ty.is_signed() || op == UnaryOp::Neg,
            },
        };
        if let TKind::Int(v) = inner.kind {
            let folded = if op == UnaryOp::Neg {
                crate::alu::neg(v)
            } else {
                !v
            };
            return Ok(TExpr {
                kind: TKind::Int(folded),
                ty,
                span,
            });
        }
        let kind = if op == UnaryOp::Neg {
            TKind::Neg(Box::new(inner))
        } else {
            TKind::BitNot(Box::new(inner))
        };
        Ok(TExpr { kind, ty, span })
    }

    /// Binds an operand that must be an integer.
    pub(super) fn integer(&mut self, expr: &Expr) -> Result<TExpr, Diagnostic> {
        let bound = self.bind_expr(expr)?;
        if bound.ty.is_integer() {
            Ok(bound)
        } else {
            Err(Diagnostic::error(
                codes::EXPECTED_INTEGER,
                format!("expected an integer, found {}", bound.ty.a()),
            )
            .with_primary(expr.span, "not an integer"))
        }
    }

    fn bind_binary(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        let arith = match op {
            // `a || b` is `concat(a, b)`.
            BinaryOp::Concat => {
                let concat = super::builtins::builtin("concat")
                    .ok_or_else(|| super::internal(span, "no `concat` built-in"))?;
                return self.bind_call(concat, &[lhs.clone(), rhs.clone()], span);
            }
            BinaryOp::And | BinaryOp::Or => {
                let l = self.bind_condition(lhs)?;
                let r = self.bind_condition(rhs)?;
                let kind = if op == BinaryOp::And {
                    TKind::And(Box::new(l), Box::new(r))
                } else {
                    TKind::Or(Box::new(l), Box::new(r))
                };
                return Ok(TExpr {
                    kind,
                    ty: Ty::Bool,
                    span,
                });
            }
            other => match (CmpOp::of(other), ArithOp::of(other)) {
                (Some(cmp), _) => return self.compare(cmp, lhs, rhs, span),
                (None, Some(arith)) => arith,
                (None, None) => {
                    return Err(super::internal(span, "an operator that is not arithmetic"))
                }
            },
        };
        let l = self.integer(lhs)?;
        let r = self.integer(rhs)?;
        let signed = super::signed_operation(&l.ty, &r.ty);
        if matches!(arith, ArithOp::Div | ArithOp::Rem) && r.kind == TKind::Int(0) {
            return Err(
                Diagnostic::error(codes::DIVISION_BY_ZERO, "division by zero")
                    .with_primary(rhs.span, "this is zero"),
            );
        }
        // Two literals give a literal; otherwise the result is the 64-bit register the program
        // computes, folded or not.
        let ty = if l.ty == Ty::Literal && r.ty == Ty::Literal {
            Ty::Literal
        } else {
            Ty::Int { bytes: 8, signed }
        };
        if let (TKind::Int(a), TKind::Int(b)) = (&l.kind, &r.kind) {
            return Ok(TExpr {
                kind: TKind::Int(crate::alu::arith(arith, *a, *b, signed)),
                ty,
                span,
            });
        }
        Ok(TExpr {
            kind: TKind::Arith {
                op: arith,
                lhs: Box::new(l),
                rhs: Box::new(r),
                signed,
            },
            ty,
            span,
        })
    }

    /// The bare identifier of `expr` when it is not a column or context field name: maybe a
    /// member of the enum on the other side of a comparison (`state == LISTEN`).
    fn bare_name<'e>(&self, expr: &'e Expr) -> Option<&'e str> {
        let ExprKind::Path(segments) = &expr.kind else {
            return None;
        };
        let [crate::syntax::ast::PathSegment::Field(ident)] = segments.as_slice() else {
            return None;
        };
        let taken = self
            .env
            .stdlib
            .column(&self.target.name, &ident.name)
            .is_some()
            || self.target.context.iter().any(|f| f.name == ident.name);
        (!taken).then_some(ident.name.as_str())
    }

    /// Binds `other`, the operand compared with the already bound `value`. Against an enum, a
    /// bare name that is one of its members, exactly or after a common prefix (`LISTEN` for
    /// `TCP_LISTEN`), becomes that member, and so does a string naming one (`"TCP_LISTEN"`,
    /// as users of `ss` and SQL write it); a string naming none is E0226. Anything else binds as
    /// usual.
    pub(super) fn bind_against(
        &mut self,
        value: &TExpr,
        other: &Expr,
    ) -> Result<TExpr, Diagnostic> {
        let btf_values;
        let values: &[(&str, i64)] = match &value.ty {
            Ty::AddressFamily { .. } => crate::address::FAMILIES,
            Ty::Enum { id, .. } => match self.env.btf.get(*id) {
                Ok(bpfq_kernel::BtfType::Enum { values, .. }) => {
                    btf_values = values;
                    &btf_values
                }
                _ => return self.bind_expr(other),
            },
            _ => return self.bind_expr(other),
        };
        if let ExprKind::Str(text) = &other.kind {
            return match enum_names::member_value(values, text) {
                Some(v) => Ok(enum_member(value, v, other.span)),
                None => Err(enum_names::no_such_member(values, text, other.span)),
            };
        }
        if let Some(v) = self
            .bare_name(other)
            .and_then(|name| enum_names::member_value(values, name))
        {
            return Ok(enum_member(value, v, other.span));
        }
        self.bind_expr(other)
    }

    fn compare(
        &mut self,
        op: CmpOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
    ) -> Result<TExpr, Diagnostic> {
        self.compare_with(op, lhs, rhs, span, PrefixUse::Refused)
    }

    /// A comparison; `prefixes` says whether an address may be matched with a prefix (an item
    /// of `in (...)`).
    fn compare_with(
        &mut self,
        op: CmpOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
        prefixes: PrefixUse,
    ) -> Result<TExpr, Diagnostic> {
        // `state == LISTEN`, `"TCP_LISTEN" == state`: a bare name or a string is bound after the
        // other side, so it can be looked up among that side's enum members. Each operand is
        // bound once.
        let bound_last = |e: &Expr| matches!(e.kind, ExprKind::Str(_));
        let (l, r) = if self.bare_name(lhs).is_some() || bound_last(lhs) {
            let r = self.bind_expr(rhs)?;
            (self.bind_against(&r, lhs)?, r)
        } else {
            let l = self.bind_expr(lhs)?;
            let r = self.bind_against(&l, rhs)?;
            (l, r)
        };
        let pointer_vs_zero =
            |a: &TExpr, b: &TExpr| matches!(a.ty, Ty::Ptr { .. }) && b.kind == TKind::Int(0);
        match (l.ty.clone(), r.ty.clone()) {
            (a, b) if a.is_integer() && b.is_integer() => {
                let signed = super::signed_operation(&a, &b);
                Ok(TExpr {
                    kind: TKind::Compare {
                        op,
                        lhs: Box::new(super::narrow_literal(l, &b)),
                        rhs: Box::new(super::narrow_literal(r, &a)),
                        signed,
                    },
                    ty: Ty::Bool,
                    span,
                })
            }
            // A pointer against 0; text computed in user space, compared there as text.
            (a, b)
                if pointer_vs_zero(&l, &r)
                    || pointer_vs_zero(&r, &l)
                    || ((l.in_user_space() || r.in_user_space())
                        && super::builtins::is_text(&a)
                        && super::builtins::is_text(&b)) =>
            {
                Ok(TExpr {
                    kind: TKind::Compare {
                        op,
                        lhs: Box::new(l),
                        rhs: Box::new(r),
                        signed: false,
                    },
                    ty: Ty::Bool,
                    span,
                })
            }
            (Ty::VmaPerms, Ty::Str) | (Ty::Str, Ty::VmaPerms) | (Ty::VmaPerms, Ty::VmaPerms) => {
                vma_perms::compare(op, l, r, span)
            }
            (Ty::InetAddr, _) | (_, Ty::InetAddr) => {
                let name = if l.ty == Ty::InetAddr { lhs } else { rhs };
                inet_addr::compare(op, l, r, prefixes, &source_name(name), span)
            }
            (Ty::Shown(view), Ty::Str) | (Ty::Str, Ty::Shown(view)) => {
                shown::compare(view, op, l, r, span)
            }
            (Ty::Shown(a), Ty::Shown(b)) if a == b => shown::compare(a, op, l, r, span),
            (Ty::Ipv4, Ty::Str) | (Ty::Str, Ty::Ipv4) | (Ty::Ipv4, Ty::Ipv4) => {
                let as_address = |e: TExpr| -> Result<TExpr, Diagnostic> {
                    let TKind::Str(text) = &e.kind else {
                        return Ok(e);
                    };
                    let parsed: Option<std::net::Ipv4Addr> =
                        std::str::from_utf8(text).ok().and_then(|t| t.parse().ok());
                    let address = parsed.ok_or_else(|| {
                        Diagnostic::error(codes::TYPE_MISMATCH, "not an IPv4 address")
                            .with_primary(e.span, "expected a dotted quad such as \"127.0.0.1\"")
                    })?;
                    // The field holds network order; loaded little-endian it is this number.
                    Ok(TExpr {
                        kind: TKind::Int(u64::from(u32::from_le_bytes(address.octets()))),
                        ty: Ty::Literal,
                        span: e.span,
                    })
                };
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    return Err(Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        "addresses can only be compared with `==` or `!=`",
                    )
                    .with_primary(span, "ordering comparison on addresses"));
                }
                let (l, r) = (as_address(l)?, as_address(r)?);
                let strip = |e: TExpr| {
                    if e.ty == Ty::Ipv4 {
                        TExpr {
                            ty: Ty::Int {
                                bytes: 4,
                                signed: false,
                            },
                            ..e
                        }
                    } else {
                        e
                    }
                };
                Ok(TExpr {
                    kind: TKind::Compare {
                        op,
                        lhs: Box::new(strip(l)),
                        rhs: Box::new(strip(r)),
                        signed: false,
                    },
                    ty: Ty::Bool,
                    span,
                })
            }
            (Ty::Chars { len }, Ty::Str) | (Ty::Str, Ty::Chars { len }) => {
                let len = &len;
                let (text, literal) = if matches!(l.ty, Ty::Chars { .. }) {
                    (l, r)
                } else {
                    (r, l)
                };
                let TKind::Str(bytes) = literal.kind else {
                    return Err(internal(span, "string literal expected"));
                };
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    return Err(Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        "text can only be compared with `==` or `!=`",
                    )
                    .with_primary(span, "ordering comparison on text"));
                }
                if matches!(text.kind, TKind::CString { .. } | TKind::DPath { .. }) {
                    return Err(super::unsupported(
                        "comparing a string read through a pointer or a path",
                        text.span,
                        "a later issue",
                    ));
                }
                if bytes.len() > *len as usize {
                    return Err(Diagnostic::error(
                        codes::STRING_TOO_LONG,
                        format!(
                            "this string has {} bytes; the field holds at most {len}",
                            bytes.len()
                        ),
                    )
                    .with_primary(literal.span, "too long: the comparison could never be true")
                    .with_secondary(text.span, format!("char[{len}]")));
                }
                Ok(TExpr {
                    kind: TKind::TextEq {
                        text: Box::new(text),
                        literal: bytes,
                        negated: op == CmpOp::Ne,
                    },
                    ty: Ty::Bool,
                    span,
                })
            }
            (a, b) => Err(Diagnostic::error(
                codes::TYPE_MISMATCH,
                format!("cannot compare {} with {}", a.a(), b.a()),
            )
            .with_primary(span, "mismatched types")
            .with_secondary(lhs.span, a.describe())
            .with_secondary(rhs.span, b.describe())),
        }
    }
}

/// How a diagnostic's hint names the operand `expr`: its column name, or `address`.
fn source_name(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Path(segments) => match segments.as_slice() {
            [crate::syntax::ast::PathSegment::Field(ident)] => ident.name.clone(),
            _ => "address".into(),
        },
        _ => "address".into(),
    }
}

/// The enum member of value `v`, typed as the enum value it is compared with.
fn enum_member(compared_with: &TExpr, v: i64, span: Span) -> TExpr {
    TExpr {
        kind: TKind::Int(v as u64),
        ty: compared_with.ty.clone(),
        span,
    }
}

/// `ptr is null` (or `is not null` when `negated`): a compare with 0.
fn pointer_is_null(ptr: TExpr, negated: bool, span: Span) -> TExpr {
    let zero = TExpr {
        kind: TKind::Int(0),
        ty: Ty::Literal,
        span,
    };
    TExpr {
        kind: TKind::Compare {
            op: if negated { CmpOp::Ne } else { CmpOp::Eq },
            lhs: Box::new(ptr),
            rhs: Box::new(zero),
            signed: false,
        },
        ty: Ty::Bool,
        span,
    }
}
