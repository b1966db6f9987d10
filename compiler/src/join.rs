//! Stage `bind` + `plan` for joins: `from A join B on A.x == B.y [join C on ...]` becomes one
//! ordinary single-source query per source (its own kernel program: the columns it contributes,
//! its join keys, the `where` conditions that use only it) plus a `JoinPlan` that user space
//! runs: left-deep hash joins on the equality keys (A with B, that with C, ...), then order and
//! limit. Guarantees every expression belongs to exactly one source (qualified by the source's
//! name or alias, or unambiguous), and each `on` condition is a conjunction of equalities between
//! the source it joins and the sources before it (E0224 otherwise).

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

/// One `join ... on ...`: the rows joined so far meet the rows of source `side`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinStep {
    /// The source this step adds (step `i` adds source `i + 1`).
    pub side: usize,
    /// Equality keys: ((earlier source, its column), column of `side`).
    pub keys: Vec<((usize, usize), usize)>,
    /// Source text of the `on` condition, for `explain`.
    pub on_text: String,
}

/// What user space does with the rows of the sources' programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinPlan {
    /// The name each source is known by (its alias, else its target name).
    pub names: Vec<String>,
    /// The joins, in order: source 0 with source 1, the result with source 2, ...
    pub steps: Vec<JoinStep>,
    /// `where` conditions that compare two sources, each checked as soon as both are joined.
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
        named.sort_unstable();
        named.dedup();
        let uses_two = |a: usize, b: usize| {
            Diagnostic::error(
                codes::JOIN_AMBIGUOUS,
                format!(
                    "`{}` uses both `{}` and `{}`",
                    text(env, expr.span),
                    self.names[a],
                    self.names[b]
                ),
            )
            .with_primary(expr.span, "one value must come from one source")
            .with_note("compute each value from one source; compare two sources' values with `==` in `on`, or `a.x < b.y` in `where`")
        };
        match named.as_slice() {
            [side] => return Ok(*side),
            [a, b, ..] => return Err(uses_two(*a, *b)),
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
            only.sort_unstable();
            only.dedup();
            if let [a, b, ..] = only.as_slice() {
                return Err(uses_two(*a, *b));
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
        let (a, b) = (&self.names[bound[0]], &self.names[bound[1]]);
        Err(Diagnostic::error(
            codes::JOIN_AMBIGUOUS,
            format!("`{written}` means something in both `{a}` and `{b}`"),
        )
        .with_primary(expr.span, "ambiguous in a join")
        .with_note(format!(
            "qualify it with the source: `{a}.{written}` or `{b}.{written}`"
        )))
    }
}

/// `` `a`, `b` or `c` ``.
fn quoted(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// `lhs <op> rhs` for a comparison operator.
fn cross_comparison(expr: &Expr) -> Option<(CmpOp, &Expr, &Expr)> {
    let ExprKind::Binary(op, lhs, rhs) = &expr.kind else {
        return None;
    };
    Some((CmpOp::of(*op)?, lhs, rhs))
}

/// One source of a join: its typed query and the source text of its `where` conditions (not
/// one span: the conditions of the sources may interleave).
pub struct JoinSide {
    pub query: TypedQuery,
    pub filter_text: Option<String>,
}

/// Splits a query with `join`s into one typed query per source and the user-space joins.
pub fn plan_join(
    query: &ast::Query,
    env: &BindEnv,
) -> Result<(Vec<JoinSide>, JoinPlan), Diagnostic> {
    if query.joins.is_empty() {
        return Err(crate::bind::internal_error(query.span, "no join to plan"));
    }
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
    let mut sources = vec![&query.from];
    sources.extend(query.joins.iter().map(|j| &j.source));
    let names: Vec<String> = sources
        .iter()
        .map(|s| s.alias.as_ref().unwrap_or(&s.target).name.clone())
        .collect();
    for (later, name) in names.iter().enumerate().skip(1) {
        let Some(earlier) = names[..later].iter().position(|n| n == name) else {
            continue;
        };
        return Err(Diagnostic::error(
            codes::JOIN_AMBIGUOUS,
            format!("two sources are called `{name}`"),
        )
        .with_primary(sources[later].span, "same name as an earlier source")
        .with_secondary(sources[earlier].span, "first called so here")
        .with_note(format!(
            "give one an alias: `join {} as other on ...`",
            sources[later].target.name
        )));
    }
    let sides = Sides { sources, names };
    let mut side_items: Vec<Vec<ast::SelectItem>> = vec![Vec::new(); sides.sources.len()];
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

    let mut steps = Vec::new();
    let mut key_spans = Vec::new();
    for (step, join) in query.joins.iter().enumerate() {
        let joined = step + 1;
        let mut keys = Vec::new();
        for condition in conjuncts(&join.on) {
            let bad = || {
                let earlier = match joined {
                    1 => format!("`{}`", sides.names[0]),
                    _ => format!("one of {}", quoted(&sides.names[..joined])),
                };
                Diagnostic::error(
                    codes::JOIN_CONDITION,
                    "a join condition compares a value of each source with `==`",
                )
                .with_primary(
                    condition.span,
                    format!(
                        "not an equality between `{}` and {earlier}",
                        sides.names[joined]
                    ),
                )
                .with_note(format!(
                    "write `{}.x == {}.y`, several joined with `and`; filter rows in `where`",
                    sides.names[joined - 1],
                    sides.names[joined]
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
            let (earlier, new) = match (l, r) {
                (l, r) if r == joined && l < joined => ((l, lhs), rhs),
                (l, r) if l == joined && r < joined => ((r, rhs), lhs),
                _ => return Err(bad()),
            };
            keys.push(((earlier.0, add(earlier.0, earlier.1)), add(joined, new)));
            key_spans.push(condition.span);
        }
        steps.push(JoinStep {
            side: joined,
            keys,
            on_text: text(env, join.on.span),
        });
    }

    let mut filters: Vec<Vec<&Expr>> = vec![Vec::new(); sides.sources.len()];
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
    let pairs = steps
        .iter()
        .flat_map(|step| step.keys.iter().map(|&(a, b)| (a, (step.side, b))))
        .zip(key_spans)
        .chain(after.iter().map(|f| (f.lhs, f.rhs)).zip(after_spans));
    for ((a, b), span) in pairs {
        let (ta, tb) = (
            &typed[a.0].query.columns[a.1].expr.ty,
            &typed[b.0].query.columns[b.1].expr.ty,
        );
        let comparable = (ta.is_integer() && tb.is_integer())
            || matches!((ta, tb), (Ty::Chars { .. }, Ty::Chars { .. }))
            || (ta == tb
                && matches!(
                    ta,
                    Ty::Ipv4 | Ty::InetAddr | Ty::VmaPerms | Ty::Shown(_) | Ty::Ptr { .. }
                ));
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
            steps,
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
        let mut steps = Vec::new();
        for (index, step) in self.steps.iter().enumerate() {
            let with = format!("{} rows on `{}`", self.names[step.side], step.on_text);
            steps.push(match index {
                0 => format!("hash join of {} rows with {with}", self.names[0]),
                _ => format!("then with {with}"),
            });
        }
        for filter in &self.after {
            steps.push(format!("keep joined rows where `{}`", filter.text));
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
