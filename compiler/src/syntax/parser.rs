//! Queries and module items (stage: parse): pest pairs -> `ast::Query` / `ast::Module`,
//! including the `---` doc comments that precede module items.

use pest::iterators::Pair;

use super::ast::*;
use super::expr::expr;
use super::literal::decode_integer;
use super::tree::{significant, Ctx};
use super::Rule;
use crate::diagnostic::Diagnostic;

/// `query_input`: one query, optionally ended by `;`.
pub fn query_input(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Query, Diagnostic> {
    let query_pair = significant(pair.clone())
        .find(|child| child.as_rule() == Rule::query)
        .ok_or_else(|| ctx.internal_missing(&pair, "query"))?;
    query(ctx, query_pair)
}

/// `module_input`: items separated by `;`.
pub fn module_input(ctx: Ctx<'_>, src: &str, pair: Pair<'_, Rule>) -> Result<Module, Diagnostic> {
    let mut items = Vec::new();
    for child in significant(pair) {
        let doc = doc_comment(src, child.as_span().start());
        let span = ctx.span(&child);
        let item = match child.as_rule() {
            Rule::query => Item::Bare(query(ctx, child)?),
            Rule::use_decl => Item::Use(UseDecl {
                path: names(ctx, child)?,
                span,
            }),
            Rule::param_decl => Item::Param(param_decl(ctx, child, doc)?),
            Rule::query_decl | Rule::metric_decl => Item::Query(query_decl(ctx, child, doc)?),
            Rule::column_decl => Item::Column(column_decl(ctx, child, doc)?),
            Rule::defaults_decl => Item::Defaults(defaults_decl(ctx, child, doc)?),
            _ => return Err(ctx.internal(&child, "unknown module item")),
        };
        items.push(item);
    }
    Ok(Module { items })
}

fn query(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Query, Diagnostic> {
    let span = ctx.span(&pair);
    let mut from = None;
    let mut query = QueryParts::default();
    for clause in significant(pair.clone()) {
        match clause.as_rule() {
            Rule::kw_from => {}
            Rule::source => from = Some(source(ctx, clause)?),
            Rule::join => query.joins.push(join(ctx, clause)?),
            Rule::select_clause => query.select = Some(select(ctx, clause)?),
            Rule::where_clause => query.filter = Some(single_expr(ctx, clause)?),
            Rule::group_clause => query.group_by = exprs(ctx, clause)?,
            Rule::having_clause => query.having = Some(single_expr(ctx, clause)?),
            Rule::order_clause => {
                for key in significant(clause).filter(|c| c.as_rule() == Rule::order_key) {
                    query.order_by.push(order_key(ctx, key)?);
                }
            }
            Rule::limit_clause => query.limit = Some(limit(ctx, clause)?),
            _ => return Err(ctx.internal(&clause, "unknown query clause")),
        }
    }
    let from = from.ok_or_else(|| ctx.internal_missing(&pair, "source"))?;
    Ok(Query {
        from,
        joins: query.joins,
        select: query.select,
        filter: query.filter,
        group_by: query.group_by,
        having: query.having,
        order_by: query.order_by,
        limit: query.limit,
        span,
    })
}

#[derive(Default)]
struct QueryParts {
    joins: Vec<Join>,
    select: Option<Select>,
    filter: Option<Expr>,
    group_by: Vec<Expr>,
    having: Option<Expr>,
    order_by: Vec<OrderKey>,
    limit: Option<Limit>,
}

fn source(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Source, Diagnostic> {
    let span = ctx.span(&pair);
    let mut target = None;
    let mut params = Vec::new();
    let mut alias = None;
    for child in significant(pair.clone()) {
        match child.as_rule() {
            Rule::ident if target.is_none() => target = Some(ctx.ident(child)?),
            Rule::ident => alias = Some(ctx.ident(child)?),
            Rule::kw_as => {}
            Rule::source_params => {
                for param in significant(child) {
                    let mut parts = significant(param.clone());
                    let name = parts
                        .next()
                        .ok_or_else(|| ctx.internal_missing(&param, "parameter name"))?;
                    let value = parts
                        .next()
                        .ok_or_else(|| ctx.internal_missing(&param, "parameter value"))?;
                    params.push((ctx.ident(name)?, expr(ctx, value)?));
                }
            }
            _ => return Err(ctx.internal(&child, "unexpected part of a source")),
        }
    }
    let target = target.ok_or_else(|| ctx.internal_missing(&pair, "target"))?;
    Ok(Source {
        target,
        params,
        alias,
        span,
    })
}

fn join(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Join, Diagnostic> {
    let span = ctx.span(&pair);
    let mut source_part = None;
    let mut on = None;
    for child in significant(pair.clone()) {
        match child.as_rule() {
            Rule::kw_join | Rule::kw_on => {}
            Rule::source => source_part = Some(source(ctx, child)?),
            Rule::expr => on = Some(expr(ctx, child)?),
            _ => return Err(ctx.internal(&child, "unexpected part of a join")),
        }
    }
    match (source_part, on) {
        (Some(source), Some(on)) => Ok(Join { source, on, span }),
        _ => Err(ctx.internal_missing(&pair, "join source or condition")),
    }
}

fn select(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Select, Diagnostic> {
    let mut items = Vec::new();
    let mut star = None;
    for child in significant(pair) {
        match child.as_rule() {
            Rule::kw_select => {}
            Rule::star => star = Some(ctx.span(&child)),
            Rule::select_item => {
                let span = ctx.span(&child);
                let mut item_expr = None;
                let mut alias = None;
                for part in significant(child.clone()) {
                    match part.as_rule() {
                        Rule::expr_nocast => item_expr = Some(expr(ctx, part)?),
                        Rule::ident => alias = Some(ctx.ident(part)?),
                        Rule::kw_as => {}
                        _ => return Err(ctx.internal(&part, "unexpected part of a select item")),
                    }
                }
                let expr =
                    item_expr.ok_or_else(|| ctx.internal_missing(&child, "select expression"))?;
                items.push(SelectItem { expr, alias, span });
            }
            _ => return Err(ctx.internal(&child, "unexpected part of select")),
        }
    }
    Ok(match star {
        Some(span) if items.is_empty() => Select::Star(span),
        Some(span) => Select::StarAnd(span, items),
        None => Select::Items(items),
    })
}

/// The one expression of `where`/`having`.
fn single_expr(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Expr, Diagnostic> {
    let child = significant(pair.clone())
        .find(|child| child.as_rule() == Rule::expr)
        .ok_or_else(|| ctx.internal_missing(&pair, "expression"))?;
    expr(ctx, child)
}

/// Every expression of `group by`.
fn exprs(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Vec<Expr>, Diagnostic> {
    significant(pair)
        .filter(|child| child.as_rule() == Rule::expr)
        .map(|child| expr(ctx, child))
        .collect()
}

fn order_key(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<OrderKey, Diagnostic> {
    let span = ctx.span(&pair);
    let mut key = None;
    let mut descending = false;
    for child in significant(pair.clone()) {
        match child.as_rule() {
            Rule::expr => key = Some(expr(ctx, child)?),
            Rule::kw_desc => descending = true,
            Rule::kw_asc => descending = false,
            _ => return Err(ctx.internal(&child, "unexpected part of an order key")),
        }
    }
    let expr = key.ok_or_else(|| ctx.internal_missing(&pair, "order expression"))?;
    Ok(OrderKey {
        expr,
        descending,
        span,
    })
}

fn limit(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Limit, Diagnostic> {
    let number = significant(pair.clone())
        .find(|child| child.as_rule() == Rule::integer)
        .ok_or_else(|| ctx.internal_missing(&pair, "limit count"))?;
    let span = ctx.span(&number);
    let count = decode_integer(number.as_str(), ctx.file, span.start as usize)?;
    Ok(Limit { count, span })
}

/// All `ident` children, in order.
fn names(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Vec<Ident>, Diagnostic> {
    significant(pair)
        .filter(|child| child.as_rule() == Rule::ident)
        .map(|child| ctx.ident(child))
        .collect()
}

fn param_decl(ctx: Ctx<'_>, pair: Pair<'_, Rule>, doc: String) -> Result<ParamDecl, Diagnostic> {
    let span = ctx.span(&pair);
    let mut name = None;
    let mut ty = None;
    let mut default = None;
    for child in significant(pair.clone()) {
        match child.as_rule() {
            Rule::kw_param => {}
            Rule::ident => name = Some(ctx.ident(child)?),
            Rule::type_name => ty = Some(ctx.type_name(child)?),
            Rule::literal => default = Some(literal(ctx, child)?),
            _ => return Err(ctx.internal(&child, "unexpected part of a param")),
        }
    }
    let name = name.ok_or_else(|| ctx.internal_missing(&pair, "parameter name"))?;
    Ok(ParamDecl {
        doc,
        name,
        ty,
        default,
        span,
    })
}

/// A parameter default: a literal, integers optionally negated.
fn literal(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Expr, Diagnostic> {
    let span = ctx.span(&pair);
    let mut negated = false;
    for child in significant(pair.clone()) {
        let child_span = ctx.span(&child);
        let kind = match child.as_rule() {
            Rule::op_neg => {
                negated = true;
                continue;
            }
            Rule::integer => ExprKind::Int(decode_integer(
                child.as_str(),
                ctx.file,
                child_span.start as usize,
            )?),
            Rule::string => {
                let body = child
                    .clone()
                    .into_inner()
                    .next()
                    .ok_or_else(|| ctx.internal_missing(&child, "string body"))?;
                let start = ctx.base + body.as_span().start();
                ExprKind::Str(super::literal::decode_string(
                    body.as_str(),
                    ctx.file,
                    start,
                )?)
            }
            Rule::kw_true => ExprKind::Bool(true),
            Rule::kw_false => ExprKind::Bool(false),
            Rule::kw_null => ExprKind::Null,
            _ => return Err(ctx.internal(&child, "unexpected literal")),
        };
        let value = Expr {
            kind,
            span: child_span,
        };
        return Ok(if negated {
            Expr {
                kind: ExprKind::Unary(UnaryOp::Neg, Box::new(value)),
                span,
            }
        } else {
            value
        });
    }
    Err(ctx.internal_missing(&pair, "literal"))
}

/// `query NAME = ...` or `metric NAME[: KIND] = ...` (the first name is the query's, a second
/// one the metric's kind).
fn query_decl(ctx: Ctx<'_>, pair: Pair<'_, Rule>, doc: String) -> Result<NamedQuery, Diagnostic> {
    let span = ctx.span(&pair);
    let mut name = None;
    let mut body = None;
    let mut metric = None;
    for child in significant(pair.clone()) {
        match child.as_rule() {
            Rule::kw_query | Rule::colon | Rule::equals => {}
            Rule::kw_metric => metric = Some(MetricHead { kind: None }),
            Rule::ident if name.is_some() => {
                let kind = Some(ctx.ident(child)?);
                metric = Some(MetricHead { kind });
            }
            Rule::ident => name = Some(ctx.ident(child)?),
            Rule::query => body = Some(query(ctx, child)?),
            _ => return Err(ctx.internal(&child, "unexpected part of a query item")),
        }
    }
    match (name, body) {
        (Some(name), Some(query)) => Ok(NamedQuery {
            doc,
            name,
            query,
            span,
            metric,
        }),
        _ => Err(ctx.internal_missing(&pair, "query name or body")),
    }
}

fn column_decl(ctx: Ctx<'_>, pair: Pair<'_, Rule>, doc: String) -> Result<ColumnDecl, Diagnostic> {
    let span = ctx.span(&pair);
    let mut target = None;
    let mut name = None;
    let mut ty = None;
    let mut alternatives = Vec::new();
    for child in significant(pair.clone()) {
        match child.as_rule() {
            Rule::kw_column => {}
            Rule::ident => target = Some(ctx.ident(child)?),
            Rule::field_name => name = Some(ctx.ident(child)?),
            Rule::type_name => ty = Some(ctx.type_name(child)?),
            Rule::expr => alternatives.push(expr(ctx, child)?),
            _ => return Err(ctx.internal(&child, "unexpected part of a column")),
        }
    }
    match (target, name) {
        (Some(target), Some(name)) if !alternatives.is_empty() => Ok(ColumnDecl {
            doc,
            target,
            name,
            ty,
            alternatives,
            span,
        }),
        _ => Err(ctx.internal_missing(&pair, "column target, name or definition")),
    }
}

fn defaults_decl(
    ctx: Ctx<'_>,
    pair: Pair<'_, Rule>,
    doc: String,
) -> Result<DefaultsDecl, Diagnostic> {
    let span = ctx.span(&pair);
    let mut idents = names(ctx, pair.clone())?.into_iter();
    let target = idents
        .next()
        .ok_or_else(|| ctx.internal_missing(&pair, "defaults target"))?;
    Ok(DefaultsDecl {
        doc,
        target,
        columns: idents.collect(),
        span,
    })
}

/// The `---` lines directly above the item starting at `item_start`, without the
/// dashes and one following space, joined by newlines. A line of only dashes
/// (`------`, a separator) or any other line, an empty one too, ends the block.
pub fn doc_comment(src: &str, item_start: usize) -> String {
    let before = src.get(..item_start).unwrap_or("");
    // The item's own line must hold nothing before the item.
    let (complete_lines, own_line) = match before.rfind('\n') {
        Some(newline) => (&before[..newline], &before[newline + 1..]),
        None => ("", before),
    };
    if !own_line.trim().is_empty() || before.is_empty() {
        return String::new();
    }
    let mut lines: Vec<&str> = Vec::new();
    // `split`, not `lines`: an empty line right above the item must end the block too
    // (`lines` drops the last one).
    for line in complete_lines.split('\n').rev() {
        let line = line.trim();
        match super::lexical::doc_comment_text(line) {
            Some(text) => lines.push(text.trim_end()),
            None => break,
        }
    }
    lines.reverse();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::doc_comment;

    #[test]
    fn doc_comments_are_the_triple_dash_lines_right_above() {
        let src = "-- plain\n--- first\n---second\n  column x";
        assert_eq!(
            doc_comment(src, src.find("column").unwrap_or(0)),
            "first\nsecond"
        );
        let separated = "--- doc\n------\ncolumn x";
        assert_eq!(
            doc_comment(separated, separated.find("column").unwrap_or(0)),
            ""
        );
        let blank_line = "--- doc\n\ncolumn x";
        assert_eq!(
            doc_comment(blank_line, blank_line.find("column").unwrap_or(0)),
            ""
        );
        let same_line = "--- doc\na; column x";
        assert_eq!(
            doc_comment(same_line, same_line.find("column").unwrap_or(0)),
            ""
        );
    }
}
