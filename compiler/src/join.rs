//! Stage `bind` + `plan` for joins: `from A join B on A.x == B.y ...` becomes one ordinary
//! single-source query per source (its own kernel program: the columns it contributes, its join
//! keys, the `where` conditions that use only it) plus a `JoinPlan` that user space runs: a hash
//! join on the equality keys, then order and limit. Guarantees every expression belongs to
//! exactly one source (qualified by the source's name or alias, or unambiguous), and the `on`
//! condition is a conjunction of equalities between the two sources (E0224 otherwise).

use crate::bind::{bind, BindEnv, CmpOp, SortKey, Ty, TypedQuery};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::{self, BinaryOp, Expr, ExprKind, PathSegment};

/// One result column of a join: column `column` of source `side`'s rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinColumn {
    pub name: String,
    pub side: usize,
    pub column: usize,
    /// Added only to sort by; not printed.
    pub hidden: bool,
}

/// A `where` condition comparing a value of each source: checked on each joined pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinFilter {
    pub op: CmpOp,
    /// (source, column) of each operand.
    pub lhs: (usize, usize),
    pub rhs: (usize, usize),
    /// As written, for `explain`.
    pub text: String,
}

/// What user space does with the rows of the sources' programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinPlan {
    /// The name each source is known by (its alias, else its target name).
    pub names: Vec<String>,
    /// Equality keys: (column of source 0, column of source 1).
    pub keys: Vec<(usize, usize)>,
    /// Source text of the `on` condition, for `explain`.
    pub on_text: String,
    /// `where` conditions that use both sources, checked after joining.
    pub after: Vec<JoinFilter>,
    pub columns: Vec<JoinColumn>,
    pub order_by: Vec<SortKey>,
    pub limit: Option<u64>,
    /// Indices of the result columns that are printed, in order.
    pub visible: Vec<usize>,
}

fn text(env: &BindEnv, span: Span) -> String {
    env.sources
        .text(span.file)
        .get(span.start as usize..span.end as usize)
        .unwrap_or("")
        .trim()
        .to_string()
}

fn unsupported(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::UNSUPPORTED,
        format!("{what} is not supported with `join` yet"),
    )
    .with_primary(span, "not supported with a join")
    .with_note("planned in a later issue (joins run in user space)")
}

/// `a and b and c` -> [a, b, c].
fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match &expr.kind {
        ExprKind::Binary(BinaryOp::And, l, r) => {
            let mut all = conjuncts(l);
            all.extend(conjuncts(r));
            all
        }
        _ => vec![expr],
    }
}

/// The heads of every path in `expr` (`task_file` in `task_file.pid`).
fn path_heads<'e>(expr: &'e Expr, out: &mut Vec<&'e ast::Ident>) {
    let walk_path = |path: &'e [PathSegment], out: &mut Vec<&'e ast::Ident>| {
        for seg in path {
            if let PathSegment::Index(e, _) = seg {
                path_heads(e, out);
            }
        }
    };
    match &expr.kind {
        ExprKind::Path(path) => {
            if let Some(PathSegment::Field(head)) = path.first() {
                out.push(head);
            }
            walk_path(path, out);
        }
        ExprKind::Member { base, path } => {
            path_heads(base, out);
            walk_path(path, out);
        }
        ExprKind::Unary(_, e)
        | ExprKind::IsNull { expr: e, .. }
        | ExprKind::Cast { expr: e, .. } => path_heads(e, out),
        ExprKind::Binary(_, l, r) => {
            path_heads(l, out);
            path_heads(r, out);
        }
        ExprKind::Like { expr, pattern, .. } => {
            path_heads(expr, out);
            path_heads(pattern, out);
        }
        ExprKind::In { expr, list, .. } => {
            path_heads(expr, out);
            list.iter().for_each(|e| path_heads(e, out));
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|e| path_heads(e, out)),
        _ => {}
    }
}

struct Sides<'q> {
    sources: Vec<&'q ast::Source>,
    names: Vec<String>,
}

impl Sides<'_> {
    /// A query of `source` alone selecting `items` where all of `filters` hold.
    fn query(&self, side: usize, items: Vec<ast::SelectItem>, filters: &[&Expr]) -> ast::Query {
        let source = self.sources[side].clone();
        let filter = filters.iter().copied().cloned().reduce(|a, b| Expr {
            span: Span {
                start: a.span.start.min(b.span.start),
                end: a.span.end.max(b.span.end),
                ..a.span
            },
            kind: ExprKind::Binary(BinaryOp::And, Box::new(a), Box::new(b)),
        });
        ast::Query {
            span: source.span,
            from: source,
            joins: Vec::new(),
            select: Some(ast::Select::Items(items)),
            filter,
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            limit: None,
        }
    }

    /// The source `expr` belongs to: the one its paths name, else the only one it binds in.
    fn side_of(&self, expr: &Expr, env: &BindEnv) -> Result<usize, Diagnostic> {
        let mut heads = Vec::new();
        path_heads(expr, &mut heads);
        let mut named: Vec<usize> = heads
            .iter()
            .filter_map(|h| self.names.iter().position(|n| *n == h.name))
            .collect();
        named.dedup();
        let uses_both = || {
            Diagnostic::error(
                codes::JOIN_AMBIGUOUS,
                format!(
                    "`{}` uses both `{}` and `{}`",
                    text(env, expr.span),
                    self.names[0],
                    self.names[1]
                ),
            )
            .with_primary(expr.span, "one value must come from one source")
            .with_note("compute each value from one source; compare two sources' values with `==` in `on`, or `a.x < b.y` in `where`")
        };
        match named.as_slice() {
            [side] => return Ok(*side),
            [_, _, ..] => return Err(uses_both()),
            // A constant: any source computes it.
            [] if heads.is_empty() => return Ok(0),
            [] => {}
        }
        let binds_in = |e: &Expr| -> Vec<usize> {
            let item = ast::SelectItem {
                expr: e.clone(),
                alias: None,
                span: e.span,
            };
            (0..self.sources.len())
                .filter(|&side| bind(&self.query(side, vec![item.clone()], &[]), env).is_ok())
                .collect()
        };
        let bound = binds_in(expr);
        if bound.len() == 1 {
            return Ok(bound[0]);
        }
        if bound.is_empty() {
            // Names that each belong to a different source: say so rather than "unknown".
            let mut only = Vec::new();
            for head in &heads {
                let name = Expr {
                    kind: ExprKind::Path(vec![PathSegment::Field((*head).clone())]),
                    span: head.span,
                };
                if let [side] = binds_in(&name).as_slice() {
                    only.push(*side);
                }
            }
            if only.contains(&0) && only.contains(&1) {
                return Err(uses_both());
            }
            let item = ast::SelectItem {
                expr: expr.clone(),
                alias: None,
                span: expr.span,
            };
            return Err(match bind(&self.query(0, vec![item], &[]), env) {
                Err(diag) => diag,
                Ok(_) => crate::bind::internal_error(expr.span, "binds after all"),
            });
        }
        let written = text(env, expr.span);
        Err(Diagnostic::error(
            codes::JOIN_AMBIGUOUS,
            format!(
                "`{written}` means something in both `{}` and `{}`",
                self.names[0], self.names[1]
            ),
        )
        .with_primary(expr.span, "ambiguous in a join")
        .with_note(format!(
            "qualify it with the source: `{}.{written}` or `{}.{written}`",
            self.names[0], self.names[1]
        )))
    }
}

/// `lhs <op> rhs` for a comparison operator.
fn cross_comparison(expr: &Expr) -> Option<(CmpOp, &Expr, &Expr)> {
    let ExprKind::Binary(op, lhs, rhs) = &expr.kind else {
        return None;
    };
    let op = match op {
        BinaryOp::Eq => CmpOp::Eq,
        BinaryOp::Ne => CmpOp::Ne,
        BinaryOp::Lt => CmpOp::Lt,
        BinaryOp::Le => CmpOp::Le,
        BinaryOp::Gt => CmpOp::Gt,
        BinaryOp::Ge => CmpOp::Ge,
        _ => return None,
    };
    Some((op, lhs, rhs))
}

/// One source of a join: its typed query and the source text of its `where` conditions (not
/// one span: the conditions of the sources may interleave).
pub struct JoinSide {
    pub query: TypedQuery,
    pub filter_text: Option<String>,
}

/// Splits a query with one `join` into one typed query per source and the user-space join.
pub fn plan_join(
    query: &ast::Query,
    env: &BindEnv,
) -> Result<(Vec<JoinSide>, JoinPlan), Diagnostic> {
    let join = match query.joins.as_slice() {
        [join] => join,
        [_, second, ..] => return Err(unsupported("more than one `join`", second.span)),
        [] => return Err(crate::bind::internal_error(query.span, "no join to plan")),
    };
    if let Some(first) = query.group_by.first() {
        return Err(unsupported("`group by`", first.span));
    }
    if let Some(having) = &query.having {
        return Err(unsupported("`having`", having.span));
    }
    let items = match &query.select {
        Some(ast::Select::Items(items)) => items,
        Some(ast::Select::Star(span)) | Some(ast::Select::StarAnd(span, _)) => {
            return Err(unsupported("`select *`", *span))
        }
        None => return Err(unsupported("a join without `select`", query.span)),
    };
    let sources = vec![&query.from, &join.source];
    let names: Vec<String> = sources
        .iter()
        .map(|s| s.alias.as_ref().unwrap_or(&s.target).name.clone())
        .collect();
    if names[0] == names[1] {
        return Err(Diagnostic::error(
            codes::JOIN_AMBIGUOUS,
            format!("both sources are called `{}`", names[0]),
        )
        .with_primary(join.source.span, "same name as the first source")
        .with_note(format!(
            "give one an alias: `join {} as other on ...`",
            names[1]
        )));
    }
    let sides = Sides { sources, names };
    let mut side_items: Vec<Vec<ast::SelectItem>> = vec![Vec::new(), Vec::new()];
    let mut add = |side: usize, expr: &Expr| {
        side_items[side].push(ast::SelectItem {
            expr: expr.clone(),
            alias: None,
            span: expr.span,
        });
        side_items[side].len() - 1
    };

    let mut columns = Vec::new();
    for item in items {
        if let Some(span) = crate::bind::find_aggregate(&item.expr) {
            return Err(unsupported("an aggregate", span));
        }
        let side = sides.side_of(&item.expr, env)?;
        columns.push(JoinColumn {
            name: match &item.alias {
                Some(alias) => alias.name.clone(),
                None => text(env, item.expr.span),
            },
            side,
            column: add(side, &item.expr),
            hidden: false,
        });
    }

    let mut keys = Vec::new();
    let mut key_spans = Vec::new();
    for condition in conjuncts(&join.on) {
        let bad = || {
            Diagnostic::error(
                codes::JOIN_CONDITION,
                "a join condition compares a value of each source with `==`",
            )
            .with_primary(condition.span, "not an equality between the two sources")
            .with_note(format!(
                "write `{}.x == {}.y`, several joined with `and`; filter rows in `where`",
                sides.names[0], sides.names[1]
            ))
        };
        let ExprKind::Binary(BinaryOp::Eq, lhs, rhs) = &condition.kind else {
            return Err(bad());
        };
        let constant = |e: &Expr| {
            let mut heads = Vec::new();
            path_heads(e, &mut heads);
            heads.is_empty()
        };
        if constant(lhs) || constant(rhs) {
            return Err(bad());
        }
        let (l, r) = (sides.side_of(lhs, env)?, sides.side_of(rhs, env)?);
        let (first, second) = match (l, r) {
            (0, 1) => (lhs, rhs),
            (1, 0) => (rhs, lhs),
            _ => return Err(bad()),
        };
        keys.push((add(0, first), add(1, second)));
        key_spans.push(condition.span);
    }

    let mut filters: Vec<Vec<&Expr>> = vec![Vec::new(), Vec::new()];
    let mut after = Vec::new();
    let mut after_spans = Vec::new();
    if let Some(filter) = &query.filter {
        for condition in conjuncts(filter) {
            if let Some(span) = crate::bind::find_aggregate(condition) {
                return Err(unsupported("an aggregate", span));
            }
            match sides.side_of(condition, env) {
                Ok(side) => filters[side].push(condition),
                Err(err) => match cross_comparison(condition) {
                    // `a.x < b.y`: each operand from one source, compared after the join.
                    Some((op, lhs, rhs)) => {
                        let (Ok(l), Ok(r)) = (sides.side_of(lhs, env), sides.side_of(rhs, env))
                        else {
                            return Err(err);
                        };
                        if l == r {
                            return Err(err);
                        }
                        after.push(JoinFilter {
                            op,
                            lhs: (l, add(l, lhs)),
                            rhs: (r, add(r, rhs)),
                            text: text(env, condition.span),
                        });
                        after_spans.push(condition.span);
                    }
                    _ => return Err(err),
                },
            }
        }
    }

    let mut order_by = Vec::new();
    for key in &query.order_by {
        let written = text(env, key.expr.span);
        let column = match columns.iter().position(|c| !c.hidden && c.name == written) {
            Some(index) => index,
            None => {
                let side = sides.side_of(&key.expr, env)?;
                columns.push(JoinColumn {
                    name: written,
                    side,
                    column: add(side, &key.expr),
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

    let mut typed = Vec::new();
    for (side, items) in side_items.into_iter().enumerate() {
        let texts: Vec<String> = filters[side].iter().map(|f| text(env, f.span)).collect();
        typed.push(JoinSide {
            query: bind(&sides.query(side, items, &filters[side]), env)?,
            filter_text: (!texts.is_empty()).then(|| texts.join(" and ")),
        });
    }
    let pairs = keys
        .iter()
        .map(|&(a, b)| ((0, a), (1, b)))
        .zip(key_spans)
        .chain(after.iter().map(|f| (f.lhs, f.rhs)).zip(after_spans));
    for ((a, b), span) in pairs {
        let (ta, tb) = (
            &typed[a.0].query.columns[a.1].expr.ty,
            &typed[b.0].query.columns[b.1].expr.ty,
        );
        let comparable = (ta.is_integer() && tb.is_integer())
            || matches!((ta, tb), (Ty::Chars { .. }, Ty::Chars { .. }))
            || (ta == tb && matches!(ta, Ty::Ipv4 | Ty::VmaPerms | Ty::Ptr { .. }));
        if !comparable {
            return Err(Diagnostic::error(
                codes::TYPE_MISMATCH,
                format!("cannot join {} with {}", ta.a(), tb.a()),
            )
            .with_primary(span, "mismatched types"));
        }
    }
    let visible = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.hidden)
        .map(|(i, _)| i)
        .collect();
    Ok((
        typed,
        JoinPlan {
            names: sides.names,
            keys,
            on_text: text(env, join.on.span),
            after,
            columns,
            order_by,
            limit: query.limit.as_ref().map(|l| l.count),
            visible,
        },
    ))
}

impl JoinPlan {
    /// What user space does with the sources' rows, for `explain`.
    pub fn describe(&self) -> String {
        let mut steps = vec![format!(
            "hash join of {} rows with {} rows on `{}`",
            self.names[0], self.names[1], self.on_text
        )];
        for filter in &self.after {
            steps.push(format!("keep pairs where `{}`", filter.text));
        }
        if !self.order_by.is_empty() {
            let keys: Vec<String> = self
                .order_by
                .iter()
                .map(|k| {
                    format!(
                        "{}{}",
                        self.columns[k.column].name,
                        if k.descending { " desc" } else { "" }
                    )
                })
                .collect();
            steps.push(format!("sort by {}", keys.join(", ")));
        }
        if let Some(limit) = self.limit {
            steps.push(format!("stop after {limit} rows"));
        }
        steps.push("format".to_string());
        format!("user space:  {}\n", steps.join(", "))
    }
}
