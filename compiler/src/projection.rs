//! Stage `plan` (helper): where the select expressions and `where` conditions that use a
//! function computed in user space (`upper(comm)`, `now() - task.started`) are split.
//! Guarantees the program computes every part it can (each largest sub-expression without such
//! a function becomes a kernel column, a constant stays a constant; each `and`-ed condition
//! without one stays the program's filter) and user space the rest, from those columns
//! (`Projection`), after the program's filter; a query without such a function keeps its
//! columns and filter as they are; such a function where only the program's values can be
//! (grouping, joins, text output) is E0232, never an internal error later.

use crate::bind::{
    internal_error, GExpr, GKind, GTy, GroupColumn, OutputColumn, TExpr, TKind, TypedQuery,
};
use crate::codes;
use crate::diagnostic::{Diagnostic, Sources};
use crate::layout::RowLayout;

/// The result columns of a query computed in user space from the kernel's row, one for each
/// selected column (sort-only ones included): `GKind::Key(k)` is the kernel row's column `k`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projection {
    pub columns: Vec<GroupColumn>,
    /// The `and`-ed conditions of `where` that user space checks (the program checked the
    /// others): a row is kept when this holds.
    pub filter: Option<GExpr>,
    /// Source text of `filter`, for `explain`.
    pub filter_text: Option<String>,
}

impl Projection {
    /// The layout of the result rows, given the kernel's row layout: only names and kinds mean
    /// something (result rows are values, never bytes).
    pub fn result_layout(&self, kernel: &RowLayout) -> RowLayout {
        RowLayout::pack(self.columns.iter().map(|c| {
            let kind = match &c.expr.kind {
                GKind::Key(k) => kernel.columns.get(*k).map(|k| k.kind.clone()),
                _ => None,
            };
            (
                c.name.clone(),
                kind.unwrap_or_else(|| c.expr.ty.computed_kind()),
                false,
            )
        }))
    }

    /// What user space computes, for `explain`.
    pub fn describe_steps(&self) -> Vec<String> {
        let filter = self
            .filter_text
            .iter()
            .map(|f| format!("keep rows where `{f}`"));
        filter
            .chain(
                self.columns
                    .iter()
                    .filter(|c| !matches!(c.expr.kind, GKind::Key(_)))
                    .map(|c| format!("compute {}", c.name)),
            )
            .collect()
    }
}

/// Splits `query`'s columns into the kernel's and a `Projection`, and its filter into the
/// program's and user space's, when they use a function computed in user space; refuses such a
/// function in a grouped query.
pub fn split(
    mut query: TypedQuery,
    sources: &Sources,
) -> Result<(TypedQuery, Option<Projection>), Diagnostic> {
    let filter_in_user_space = query.filter.as_ref().is_some_and(TExpr::in_user_space);
    if !filter_in_user_space && !query.columns.iter().any(|c| c.expr.in_user_space()) {
        return Ok((query, None));
    }
    if query.grouping.is_some() {
        // The rows are grouped as they are read (in the kernel, or before any user-space step).
        let hint = "group by the function's arguments and select them";
        for expr in query.columns.iter().map(|c| &c.expr) {
            refuse_inside(expr, "in a grouped query", hint)?;
        }
        if let Some(filter) = &query.filter {
            refuse_inside(
                filter,
                "in the `where` of a grouped query",
                "compare the function's arguments instead (`comm == \"sshd\"`), or leave out the grouping",
            )?;
        }
    }
    let (mut kernel_filter, mut user_filter) = (Vec::new(), Vec::new());
    for condition in query.filter.take().map(conjuncts).unwrap_or_default() {
        match condition.in_user_space() {
            true => user_filter.push(condition),
            false => kernel_filter.push(condition),
        }
    }
    query.filter = kernel_filter.into_iter().reduce(|a, b| {
        let span = a.span;
        TExpr {
            kind: TKind::And(Box::new(a), Box::new(b)),
            ty: crate::bind::Ty::Bool,
            span,
        }
    });
    let mut splitter = Splitter {
        sources,
        kernel: Vec::new(),
    };
    let columns = std::mem::take(&mut query.columns)
        .into_iter()
        .map(|column| {
            Ok(GroupColumn {
                expr: splitter.user(column.expr)?,
                name: column.name,
                hidden: column.hidden,
            })
        })
        .collect::<Result<Vec<_>, Diagnostic>>()?;
    let filter_text = (!user_filter.is_empty()).then(|| {
        user_filter
            .iter()
            .map(|c| splitter.text(c.span))
            .collect::<Vec<_>>()
            .join(" and ")
    });
    let filter = user_filter
        .into_iter()
        .map(|condition| splitter.user(condition))
        .reduce(|a, b| {
            let (a, b) = (a?, b?);
            let span = a.span;
            Ok(GExpr {
                kind: GKind::And(Box::new(a), Box::new(b)),
                ty: GTy::Kernel(crate::bind::Ty::Bool),
                span,
            })
        })
        .transpose()?;
    query.columns = splitter.kernel;
    Ok((
        query,
        Some(Projection {
            columns,
            filter,
            filter_text,
        }),
    ))
}

/// The conditions `and`-ed in `filter`, in order.
fn conjuncts(filter: TExpr) -> Vec<TExpr> {
    match filter.kind {
        TKind::And(a, b) => {
            let mut all = conjuncts(*a);
            all.extend(conjuncts(*b));
            all
        }
        _ => vec![filter],
    }
}

/// Refuses a function computed in user space inside `expr`, found `place`.
pub fn refuse_inside(expr: &TExpr, place: &str, hint: &str) -> Result<(), Diagnostic> {
    let mut call = None;
    expr.walk(&mut |e| {
        if let TKind::UserCall { func, .. } = &e.kind {
            call.get_or_insert((func.name(), e.span));
        }
    });
    match call {
        None => Ok(()),
        Some((name, span)) => Err(Diagnostic::error(
            codes::USER_FUNCTION_PLACE,
            format!("`{name}` is computed in user space and cannot be used {place}"),
        )
        .with_primary(span, "computed after the program has run")
        .with_note(format!("help: {hint}"))),
    }
}

struct Splitter<'s> {
    sources: &'s Sources,
    /// The kernel row's columns so far.
    kernel: Vec<OutputColumn>,
}

impl Splitter<'_> {
    /// The source text at `span`: a kernel column's name.
    fn text(&self, span: crate::diagnostic::Span) -> String {
        self.sources
            .text(span.file)
            .get(span.start as usize..span.end as usize)
            .unwrap_or("value")
            .to_string()
    }

    /// `expr` as user space computes it: the parts without a user-space function are kernel
    /// columns.
    fn user(&mut self, expr: TExpr) -> Result<GExpr, Diagnostic> {
        let (span, ty) = (expr.span, GTy::Kernel(expr.ty.clone()));
        let boxed = |this: &mut Self, e: Box<TExpr>| this.user(*e).map(Box::new);
        let kind = match expr.kind {
            TKind::Int(v) => GKind::Int(v),
            TKind::Str(s) => GKind::Str(s),
            _ if !expr.in_user_space() => {
                self.kernel.push(OutputColumn {
                    name: self.text(span),
                    expr,
                    hidden: false,
                });
                GKind::Key(self.kernel.len() - 1)
            }
            TKind::UserCall { func, args } => GKind::Call {
                func,
                args: args
                    .into_iter()
                    .map(|arg| self.user(arg))
                    .collect::<Result<_, _>>()?,
            },
            TKind::Arith {
                op,
                lhs,
                rhs,
                signed,
            } => GKind::Arith {
                op,
                lhs: boxed(self, lhs)?,
                rhs: boxed(self, rhs)?,
                signed,
            },
            TKind::Compare {
                op,
                lhs,
                rhs,
                signed,
            } => GKind::Compare {
                op,
                lhs: boxed(self, lhs)?,
                rhs: boxed(self, rhs)?,
                signed,
            },
            TKind::Neg(e) => GKind::Neg(boxed(self, e)?),
            TKind::BitNot(e) => GKind::BitNot(boxed(self, e)?),
            TKind::Not(e) => GKind::Not(boxed(self, e)?),
            TKind::And(a, b) => GKind::And(boxed(self, a)?, boxed(self, b)?),
            TKind::Or(a, b) => GKind::Or(boxed(self, a)?, boxed(self, b)?),
            kind => {
                let inside = TExpr {
                    kind,
                    ty: expr.ty,
                    span,
                };
                return Err(refuse_inside(
                    &inside,
                    "inside this expression",
                    "the program computes it: use the function's value alone, or in arithmetic, comparisons and other such functions",
                )
                .err()
                .unwrap_or_else(|| internal_error(span, "a user-space node without a call")));
            }
        };
        Ok(GExpr { kind, ty, span })
    }
}
