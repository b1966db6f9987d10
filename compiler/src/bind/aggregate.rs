//! Stage `bind`: grouped queries (`group by`, aggregates, `having`). Guarantees the kernel part
//! gets only plain typed columns (group keys and aggregate arguments, each bound once), and every
//! result expression refers only to group keys, aggregates and constants; anything else is a
//! coded diagnostic (E0220-E0223) at the offending span.

use super::builtins::{misplaced_aggregate, AggFunc};
use super::grouping::{Aggregate, GExpr, GKind, GTy, GroupColumn, Grouping};
use super::{source_text, ArithOp, Binder, CmpOp, OutputColumn, SortKey, TExpr, TKind, Ty};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::{self, BinaryOp, Expr, ExprKind, PathSegment, UnaryOp};

/// The span of the first aggregate call inside `expr`, if any.
pub fn find_aggregate(expr: &Expr) -> Option<Span> {
    let any = |list: &[Expr]| list.iter().find_map(find_aggregate);
    let in_path = |path: &[PathSegment]| {
        path.iter().find_map(|seg| match seg {
            PathSegment::Index(e, _) => find_aggregate(e),
            PathSegment::Field(_) => None,
        })
    };
    match &expr.kind {
        ExprKind::CountStar => Some(expr.span),
        ExprKind::Call { func, .. } if AggFunc::from_name(&func.name).is_some() => Some(expr.span),
        ExprKind::Call { args, .. } => any(args),
        ExprKind::Path(path) => in_path(path),
        ExprKind::Member { base, path } => find_aggregate(base).or_else(|| in_path(path)),
        ExprKind::Unary(_, e)
        | ExprKind::IsNull { expr: e, .. }
        | ExprKind::Cast { expr: e, .. } => find_aggregate(e),
        ExprKind::Binary(_, l, r) => find_aggregate(l).or_else(|| find_aggregate(r)),
        ExprKind::Like { expr, pattern, .. } => {
            find_aggregate(expr).or_else(|| find_aggregate(pattern))
        }
        ExprKind::In { expr, list, .. } => find_aggregate(expr).or_else(|| any(list)),
        ExprKind::Int(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Param(_) => None,
    }
}

/// Whether the query is grouped: `group by`, or an aggregate in select, having or order by.
pub(super) fn is_grouped(query: &ast::Query) -> bool {
    let items: &[ast::SelectItem] = match &query.select {
        Some(ast::Select::Items(items)) | Some(ast::Select::StarAnd(_, items)) => items,
        _ => &[],
    };
    !query.group_by.is_empty()
        || items.iter().any(|i| find_aggregate(&i.expr).is_some())
        || query
            .having
            .as_ref()
            .is_some_and(|h| find_aggregate(h).is_some())
        || query
            .order_by
            .iter()
            .any(|k| find_aggregate(&k.expr).is_some())
}

/// The kernel columns and grouping of a grouped query under construction.
#[derive(Default)]
struct Grouper {
    /// Kernel columns, each with the canonical text of its typed expression (bound once).
    columns: Vec<(String, OutputColumn)>,
    keys: Vec<usize>,
    aggregates: Vec<Aggregate>,
}

impl Grouper {
    /// The kernel column computing `expr`, added if no column computes the same thing yet.
    fn column(&mut self, name: String, expr: TExpr) -> usize {
        let canonical = expr.to_string();
        if let Some(i) = self.columns.iter().position(|(c, _)| *c == canonical) {
            return i;
        }
        self.columns.push((
            canonical,
            OutputColumn {
                name,
                expr,
                hidden: false,
            },
        ));
        self.columns.len() - 1
    }

    fn key_of(&self, expr: &TExpr) -> Option<usize> {
        let canonical = expr.to_string();
        self.keys
            .iter()
            .position(|&k| self.columns[k].0 == canonical)
    }
}

/// What binding a grouped query gives back to `bind`.
pub(super) struct Grouped {
    pub columns: Vec<OutputColumn>,
    pub grouping: Grouping,
    pub order_by: Vec<SortKey>,
}

fn bool_expr(kind: GKind, span: Span) -> GExpr {
    GExpr {
        kind,
        ty: GTy::Kernel(Ty::Bool),
        span,
    }
}

impl Binder<'_> {
    /// Binds the select items (after the default columns named in `defaults`, for `select *`),
    /// `group by`, `having` and `order by` of a grouped query.
    pub(super) fn bind_grouped(
        &mut self,
        query: &ast::Query,
        defaults: &[ast::Ident],
        items: &[ast::SelectItem],
    ) -> Result<Grouped, Diagnostic> {
        let sources = self.env.sources;
        let mut g = Grouper::default();
        for key in &query.group_by {
            if let Some(span) = find_aggregate(key) {
                return Err(misplaced_aggregate(
                    span,
                    "in `group by`",
                    "group by plain values; aggregates go in `select`, `having` or `order by`",
                ));
            }
            // `group by name` may name a select item by its alias.
            let aliased = match &key.kind {
                ExprKind::Path(segs) => match segs.as_slice() {
                    [PathSegment::Field(ident)] => items.iter().find(|i| {
                        i.alias.as_ref().is_some_and(|a| a.name == ident.name)
                            && find_aggregate(&i.expr).is_none()
                    }),
                    _ => None,
                },
                _ => None,
            };
            let written = aliased.map_or(key, |item| &item.expr);
            let bound = self.bind_expr(written)?;
            self.check_selectable(&bound)?;
            let column = g.column(source_text(sources, key.span), bound);
            if !g.keys.contains(&column) {
                g.keys.push(column);
            }
        }

        let mut columns = Vec::new();
        for ident in defaults {
            let expr = Expr {
                kind: ExprKind::Path(vec![PathSegment::Field(ident.clone())]),
                span: ident.span,
            };
            columns.push(GroupColumn {
                name: ident.name.clone(),
                expr: self.group_expr(&mut g, &expr)?,
                hidden: false,
            });
        }
        for item in items {
            let name = match &item.alias {
                Some(alias) => alias.name.clone(),
                None => source_text(sources, item.expr.span),
            };
            columns.push(GroupColumn {
                name,
                expr: self.group_expr(&mut g, &item.expr)?,
                hidden: false,
            });
        }

        let having = match &query.having {
            Some(expr) => {
                let bound = self.group_expr(&mut g, expr)?;
                if bound.ty != GTy::Kernel(Ty::Bool) {
                    return Err(Diagnostic::error(
                        codes::EXPECTED_CONDITION,
                        format!("expected a condition, found {}", bound.ty.a()),
                    )
                    .with_primary(expr.span, "not a condition")
                    .with_note("compare it with something, e.g. `count(*) > 1`"));
                }
                Some(bound)
            }
            None => None,
        };

        let mut order_by = Vec::new();
        for key in &query.order_by {
            let by_name = match &key.expr.kind {
                ExprKind::Path(segs) => match segs.as_slice() {
                    [PathSegment::Field(ident)] => columns
                        .iter()
                        .position(|c| !c.hidden && c.name == ident.name),
                    _ => None,
                },
                _ => None,
            };
            let written = source_text(sources, key.expr.span);
            let by_text = columns.iter().position(|c| !c.hidden && c.name == written);
            let column = match by_name.or(by_text) {
                Some(index) => index,
                None => {
                    let expr = self.group_expr(&mut g, &key.expr)?;
                    columns.push(GroupColumn {
                        name: written,
                        expr,
                        hidden: true,
                    });
                    columns.len() - 1
                }
            };
            order_by.push(SortKey {
                column,
                descending: key.descending,
            });
        }

        Ok(Grouped {
            columns: g.columns.into_iter().map(|(_, c)| c).collect(),
            grouping: Grouping {
                keys: g.keys,
                aggregates: g.aggregates,
                columns,
                having,
                having_text: query.having.as_ref().map(|h| source_text(sources, h.span)),
            },
            order_by,
        })
    }

    /// An expression evaluated once per group.
    fn group_expr(&mut self, g: &mut Grouper, expr: &Expr) -> Result<GExpr, Diagnostic> {
        let span = expr.span;
        match &expr.kind {
            ExprKind::CountStar => return self.aggregate(g, AggFunc::Count, None, false, expr),
            ExprKind::Call {
                func,
                args,
                distinct,
            } => {
                if let Some(agg) = AggFunc::from_name(&func.name) {
                    let arg = match args.as_slice() {
                        [arg] => arg,
                        _ => {
                            return Err(Diagnostic::error(
                                codes::AGGREGATE_ARGUMENT,
                                format!("`{}` takes one argument, not {}", agg.name(), args.len()),
                            )
                            .with_primary(span, "here"))
                        }
                    };
                    return self.aggregate(g, agg, Some(arg), *distinct, expr);
                }
            }
            _ => {}
        }
        if find_aggregate(expr).is_none() {
            let bound = self.bind_expr(expr)?;
            if let Some(key) = g.key_of(&bound) {
                return Ok(GExpr {
                    kind: GKind::Key(key),
                    ty: GTy::Kernel(bound.ty),
                    span,
                });
            }
            match bound.kind {
                TKind::Int(v) => {
                    return Ok(GExpr {
                        kind: GKind::Int(v),
                        ty: GTy::Kernel(bound.ty),
                        span,
                    })
                }
                TKind::Str(s) => {
                    return Ok(GExpr {
                        kind: GKind::Str(s),
                        ty: GTy::Kernel(Ty::Str),
                        span,
                    })
                }
                _ => {}
            }
        }
        match &expr.kind {
            ExprKind::Binary(op, lhs, rhs) => self.group_binary(g, *op, lhs, rhs, span),
            ExprKind::Unary(UnaryOp::Not, inner) => {
                let inner = self.group_condition(g, inner)?;
                Ok(bool_expr(GKind::Not(Box::new(inner)), span))
            }
            ExprKind::Unary(UnaryOp::Neg, inner) => {
                let inner = self.group_number(g, inner)?;
                let ty = match inner.ty {
                    GTy::Float => GTy::Float,
                    _ => GTy::Kernel(Ty::Int {
                        bytes: 8,
                        signed: true,
                    }),
                };
                Ok(GExpr {
                    kind: GKind::Neg(Box::new(inner)),
                    ty,
                    span,
                })
            }
            ExprKind::Unary(UnaryOp::BitNot, inner) => {
                let inner = self.group_number(g, inner)?;
                let GTy::Kernel(inner_ty) = &inner.ty else {
                    return Err(Diagnostic::error(
                        codes::EXPECTED_INTEGER,
                        "`~` needs an integer, not a float",
                    )
                    .with_primary(span, "the operand is a float (from `avg`)"));
                };
                let ty = GTy::Kernel(Ty::Int {
                    bytes: 8,
                    signed: inner_ty.is_signed(),
                });
                Ok(GExpr {
                    kind: GKind::BitNot(Box::new(inner)),
                    ty,
                    span,
                })
            }
            _ => Err(self.not_grouped(expr)),
        }
    }

    fn not_grouped(&self, expr: &Expr) -> Diagnostic {
        let text = source_text(self.env.sources, expr.span);
        if find_aggregate(expr).is_some() {
            return Diagnostic::error(
                codes::UNSUPPORTED,
                format!("`{text}` is not supported on aggregates yet"),
            )
            .with_primary(expr.span, "computed over groups in user space")
            .with_note("aggregates combine with arithmetic, comparisons, `and`, `or` and `not`");
        }
        Diagnostic::error(
            codes::NOT_GROUPED,
            format!("`{text}` is neither grouped nor aggregated"),
        )
        .with_primary(expr.span, "one value per group is needed here")
        .with_note(format!(
            "add `{text}` to `group by`, or use an aggregate such as `min({text})` or `count({text})`"
        ))
    }

    fn group_condition(&mut self, g: &mut Grouper, expr: &Expr) -> Result<GExpr, Diagnostic> {
        let bound = self.group_expr(g, expr)?;
        if bound.ty == GTy::Kernel(Ty::Bool) {
            return Ok(bound);
        }
        Err(Diagnostic::error(
            codes::EXPECTED_CONDITION,
            format!("expected a condition, found {}", bound.ty.a()),
        )
        .with_primary(expr.span, "not a condition"))
    }

    fn group_number(&mut self, g: &mut Grouper, expr: &Expr) -> Result<GExpr, Diagnostic> {
        let bound = self.group_expr(g, expr)?;
        if bound.ty.is_numeric() {
            return Ok(bound);
        }
        Err(Diagnostic::error(
            codes::EXPECTED_INTEGER,
            format!("expected a number, found {}", bound.ty.a()),
        )
        .with_primary(expr.span, "not a number"))
    }

    fn group_binary(
        &mut self,
        g: &mut Grouper,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
    ) -> Result<GExpr, Diagnostic> {
        let arith = match op {
            BinaryOp::And | BinaryOp::Or => {
                let l = Box::new(self.group_condition(g, lhs)?);
                let r = Box::new(self.group_condition(g, rhs)?);
                let kind = if op == BinaryOp::And {
                    GKind::And(l, r)
                } else {
                    GKind::Or(l, r)
                };
                return Ok(bool_expr(kind, span));
            }
            other => match CmpOp::of(other) {
                Some(cmp) => cmp,
                None => return self.group_arith(g, other, lhs, rhs, span),
            },
        };
        let is_string = |e: &Expr| matches!(e.kind, crate::syntax::ast::ExprKind::Str(_));
        let (l, r) = match (self.group_expr(g, lhs), self.group_expr(g, rhs)) {
            // `state == "TCP_LISTEN"`: a string names a member of the other side's enum (E0226
            // when it names none).
            (Ok(l), Ok(_)) if is_string(rhs) && is_enum(&l) => {
                let r = self.enum_member_named(&l, rhs)?;
                (l, r)
            }
            (Ok(_), Ok(r)) if is_string(lhs) && is_enum(&r) => {
                (self.enum_member_named(&r, lhs)?, r)
            }
            (Ok(l), Ok(r)) => (l, r),
            // `state == LISTEN`: a bare name is looked up among the other side's enum members.
            (Ok(l), Err(err)) => {
                let r = self.enum_member(&l, rhs).ok_or(err)?;
                (l, r)
            }
            (Err(err), Ok(r)) => (self.enum_member(&r, lhs).ok_or(err)?, r),
            (Err(err), Err(_)) => return Err(err),
        };
        let text = |t: &GTy| matches!(t, GTy::Kernel(Ty::Chars { .. } | Ty::Str));
        let comparable = (l.ty.is_numeric() && r.ty.is_numeric())
            || (text(&l.ty) && text(&r.ty))
            || (l.ty == r.ty && !matches!(l.ty, GTy::Kernel(Ty::Bool)));
        if !comparable {
            let diag = Diagnostic::error(
                codes::TYPE_MISMATCH,
                format!("cannot compare {} with {}", l.ty.a(), r.ty.a()),
            )
            .with_primary(span, "mismatched types");
            let address = |t: &GTy| matches!(t, GTy::Kernel(Ty::InetAddr));
            return Err(if address(&l.ty) || address(&r.ty) {
                diag.with_note(
                    "help: filter addresses in `where`, which runs in the kernel before grouping",
                )
            } else {
                diag
            });
        }
        // As the program compares: signedness from the operand types, a negative literal taken
        // at the width of a narrower unsigned operand.
        let (signed, l, r) = match (&l.ty, &r.ty) {
            (GTy::Kernel(a), GTy::Kernel(b)) => {
                let signed = super::signed_operation(a, b);
                let (a, b) = (a.clone(), b.clone());
                (signed, narrowed(l, &b), narrowed(r, &a))
            }
            _ => (false, l, r),
        };
        Ok(bool_expr(
            GKind::Compare {
                op: arith,
                lhs: Box::new(l),
                rhs: Box::new(r),
                signed,
            },
            span,
        ))
    }

    /// `name` as a member of `value`'s enum, when `value` is an enum and `name` one of its
    /// members (exactly or after a common prefix, as in `where`).
    fn enum_member(&mut self, value: &GExpr, name: &Expr) -> Option<GExpr> {
        let GTy::Kernel(ty @ (Ty::Enum { .. } | Ty::AddressFamily { .. })) = &value.ty else {
            return None;
        };
        let probe = TExpr {
            kind: TKind::Int(0),
            ty: ty.clone(),
            span: value.span,
        };
        match self.bind_against(&probe, name) {
            Ok(TExpr {
                kind: TKind::Int(v),
                ty,
                span,
            }) => Some(GExpr {
                kind: GKind::Int(v),
                ty: GTy::Kernel(ty),
                span,
            }),
            _ => None,
        }
    }

    /// The string `text` as a member of `value`'s enum, or E0226 when it names none.
    fn enum_member_named(&mut self, value: &GExpr, text: &Expr) -> Result<GExpr, Diagnostic> {
        let GTy::Kernel(ty) = &value.ty else {
            return Err(super::internal(
                text.span,
                "enum member of a non-kernel value",
            ));
        };
        let probe = TExpr {
            kind: TKind::Int(0),
            ty: ty.clone(),
            span: value.span,
        };
        let member = self.bind_against(&probe, text)?;
        let TKind::Int(v) = member.kind else {
            return Err(super::internal(
                text.span,
                "an enum member that is no constant",
            ));
        };
        Ok(GExpr {
            kind: GKind::Int(v),
            ty: GTy::Kernel(member.ty),
            span: member.span,
        })
    }

    fn group_arith(
        &mut self,
        g: &mut Grouper,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
    ) -> Result<GExpr, Diagnostic> {
        let Some(arith) = ArithOp::of(op) else {
            return Err(super::internal(span, "comparison reached arithmetic"));
        };
        let l = self.group_number(g, lhs)?;
        let r = self.group_number(g, rhs)?;
        let float = l.ty == GTy::Float || r.ty == GTy::Float;
        let bitwise = !matches!(
            arith,
            ArithOp::Add | ArithOp::Sub | ArithOp::Mul | ArithOp::Div
        );
        if float && bitwise {
            return Err(Diagnostic::error(
                codes::EXPECTED_INTEGER,
                "bit operators and `%` need integers, not floats",
            )
            .with_primary(span, "an operand is a float (from `avg`)"));
        }
        if matches!(arith, ArithOp::Div | ArithOp::Rem) && r.kind == GKind::Int(0) {
            return Err(
                Diagnostic::error(codes::DIVISION_BY_ZERO, "division by zero")
                    .with_primary(rhs.span, "this is zero"),
            );
        }
        let signed = match (&l.ty, &r.ty) {
            (GTy::Kernel(a), GTy::Kernel(b)) => super::signed_operation(a, b),
            _ => false,
        };
        let ty = if float {
            GTy::Float
        } else {
            GTy::Kernel(Ty::Int { bytes: 8, signed })
        };
        Ok(GExpr {
            kind: GKind::Arith {
                op: arith,
                lhs: Box::new(l),
                rhs: Box::new(r),
                signed,
            },
            ty,
            span,
        })
    }

    /// `func(arg)` (`arg` None: `count(*)`): its argument becomes a kernel column.
    fn aggregate(
        &mut self,
        g: &mut Grouper,
        func: AggFunc,
        arg: Option<&Expr>,
        distinct: bool,
        call: &Expr,
    ) -> Result<GExpr, Diagnostic> {
        let text = source_text(self.env.sources, call.span);
        let (column, arg_ty) = match arg {
            None => (None, None),
            Some(arg) => {
                if let Some(span) = find_aggregate(arg) {
                    return Err(misplaced_aggregate(
                        span,
                        "inside another aggregate",
                        "aggregate plain values, e.g. `sum(vsize)`, not `sum(count(*))`",
                    ));
                }
                let bound = self.bind_expr(arg)?;
                self.check_selectable(&bound)?;
                check_argument(func, &bound, call.span)?;
                let ty = bound.ty.clone();
                let name = source_text(self.env.sources, arg.span);
                (Some(g.column(name, bound)), Some(ty))
            }
        };
        let signed = arg_ty.as_ref().is_some_and(Ty::is_signed);
        let aggregate = Aggregate {
            func,
            arg: column,
            distinct,
            signed,
            text,
        };
        let index = match g
            .aggregates
            .iter()
            .position(|a| a.func == func && a.arg == column && a.distinct == distinct)
        {
            Some(i) => i,
            None => {
                g.aggregates.push(aggregate);
                g.aggregates.len() - 1
            }
        };
        let ty = match (func, arg_ty) {
            (AggFunc::Avg, _) => GTy::Float,
            (AggFunc::Min | AggFunc::Max, Some(Ty::Literal)) => GTy::Kernel(Ty::Int {
                bytes: 8,
                signed: true,
            }),
            (AggFunc::Min | AggFunc::Max, Some(ty)) => GTy::Kernel(ty),
            (AggFunc::Sum, _) => GTy::Kernel(Ty::Int { bytes: 8, signed }),
            _ => GTy::Kernel(Ty::Int {
                bytes: 8,
                signed: false,
            }),
        };
        Ok(GExpr {
            kind: GKind::Agg(index),
            ty,
            span: call.span,
        })
    }
}

/// `sum` and `avg` take integers; `min` and `max` also take text, enums, booleans and
/// pointers (anything with an order); `count` takes any column value.
fn check_argument(func: AggFunc, arg: &TExpr, call: Span) -> Result<(), Diagnostic> {
    let ok = match func {
        AggFunc::Count => true,
        AggFunc::Sum | AggFunc::Avg => matches!(arg.ty, Ty::Int { .. } | Ty::Literal),
        AggFunc::Min | AggFunc::Max => matches!(
            arg.ty,
            Ty::Int { .. }
                | Ty::Literal
                | Ty::Enum { .. }
                | Ty::AddressFamily { .. }
                | Ty::Chars { .. }
                | Ty::Bool
        ),
    };
    if ok {
        return Ok(());
    }
    let hint = match (func, &arg.ty) {
        (_, Ty::Chars { .. }) => "text can be counted (`count`) or ordered (`min`, `max`)",
        (AggFunc::Sum | AggFunc::Avg, Ty::Enum { .. } | Ty::AddressFamily { .. }) => {
            "an enum names states; count them with `count(*)` and `group by`"
        }
        _ => "sum and avg take integers, min and max ordered values, count any value",
    };
    Err(Diagnostic::error(
        codes::AGGREGATE_ARGUMENT,
        format!("`{}` cannot take {}", func.name(), arg.ty.a()),
    )
    .with_primary(call, format!("{} of {}", func.name(), arg.ty.a()))
    .with_secondary(arg.span, arg.ty.describe())
    .with_note(hint))
}

fn is_enum(value: &GExpr) -> bool {
    matches!(
        value.ty,
        GTy::Kernel(Ty::Enum { .. } | Ty::AddressFamily { .. })
    )
}

/// `constant` as the program compares it with a value of type `other` (`bind::narrow_literal`);
/// anything but a constant unchanged.
fn narrowed(constant: GExpr, other: &Ty) -> GExpr {
    let (GKind::Int(v), GTy::Kernel(ty)) = (&constant.kind, &constant.ty) else {
        return constant;
    };
    let probe = TExpr {
        kind: TKind::Int(*v),
        ty: ty.clone(),
        span: constant.span,
    };
    match super::narrow_literal(probe, other).kind {
        TKind::Int(c) => GExpr {
            kind: GKind::Int(c),
            ..constant
        },
        _ => constant,
    }
}
