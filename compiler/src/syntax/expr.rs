//! Expressions (stage: parse): pest `expr`/`expr_nocast` pairs -> `ast::Expr` with
//! precedence applied by a Pratt parser. Guarantees: comparisons never chain without
//! parentheses, literals are decoded, and no tree is deeper than `MAX_EXPR_DEPTH`.

use std::sync::LazyLock;

use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::{BinaryOp, Expr, ExprKind, PathSegment, UnaryOp};
use super::literal::{decode_integer, decode_string};
use super::tree::{significant, Ctx};
use super::Rule;
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};

/// Deepest expression tree accepted (long `a + b + c ...` chains nest on the left);
/// later stages recurse over expressions, so depth is bounded here once.
pub const MAX_EXPR_DEPTH: usize = 256;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::op_like, Assoc::Left)
            | Op::infix(Rule::op_not_like, Assoc::Left)
            | Op::postfix(Rule::op_in)
            | Op::postfix(Rule::op_not_in)
            | Op::postfix(Rule::op_is_null)
            | Op::postfix(Rule::op_not_null))
        .op(Op::infix(Rule::op_bitor, Assoc::Left) | Op::infix(Rule::op_concat, Assoc::Left))
        .op(Op::infix(Rule::op_bitxor, Assoc::Left))
        .op(Op::infix(Rule::op_bitand, Assoc::Left))
        .op(Op::infix(Rule::op_shl, Assoc::Left) | Op::infix(Rule::op_shr, Assoc::Left))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_rem, Assoc::Left))
        .op(Op::prefix(Rule::op_neg) | Op::prefix(Rule::op_bitnot))
        .op(Op::postfix(Rule::op_cast))
});

/// An expression under construction, with what the checks need to know about it.
struct Built {
    expr: Expr,
    depth: usize,
    /// a comparison not wrapped in parentheses: another comparison may not use it
    bare_comparison: bool,
}

type BuildResult = Result<Built, Diagnostic>;

/// Build an `expr` or `expr_nocast` pair.
pub fn expr(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Expr, Diagnostic> {
    build(ctx, pair).map(|built| built.expr)
}

fn build(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> BuildResult {
    if !matches!(pair.as_rule(), Rule::expr | Rule::expr_nocast) {
        return Err(ctx.internal(&pair, "expected an expression"));
    }
    PRATT
        .map_primary(|primary| build_primary(ctx, primary))
        .map_prefix(|op, operand| build_prefix(ctx, op, operand?))
        .map_postfix(|operand, op| build_postfix(ctx, operand?, op))
        .map_infix(|lhs, op, rhs| build_infix(ctx, lhs?, op, rhs?))
        .parse(pair.into_inner())
}

fn node(kind: ExprKind, span: Span, child_depth: usize, bare_comparison: bool) -> BuildResult {
    let depth = child_depth + 1;
    if depth > MAX_EXPR_DEPTH {
        return Err(Diagnostic::error(
            codes::PARSE_TOO_DEEP,
            format!("expression nests more than {MAX_EXPR_DEPTH} operators deep"),
        )
        .with_primary(span, "this expression is too deep")
        .with_note("help: a long chain of `or` can often be written as `x in (a, b, c)`"));
    }
    Ok(Built {
        expr: Expr { kind, span },
        depth,
        bare_comparison,
    })
}

fn build_prefix(ctx: Ctx<'_>, op: Pair<'_, Rule>, operand: Built) -> BuildResult {
    let unary = match op.as_rule() {
        Rule::op_not => UnaryOp::Not,
        Rule::op_neg => UnaryOp::Neg,
        Rule::op_bitnot => UnaryOp::BitNot,
        _ => return Err(ctx.internal(&op, "unknown prefix operator")),
    };
    let span = ctx.span(&op).to(operand.expr.span);
    node(
        ExprKind::Unary(unary, Box::new(operand.expr)),
        span,
        operand.depth,
        false,
    )
}

fn build_postfix(ctx: Ctx<'_>, operand: Built, op: Pair<'_, Rule>) -> BuildResult {
    let op_span = ctx.span(&op);
    let span = operand.expr.span.to(op_span);
    let rule = op.as_rule();
    if rule != Rule::op_cast {
        check_not_chained(&operand, op_span, op.as_str())?;
    }
    let inner = Box::new(operand.expr);
    match rule {
        Rule::op_cast => {
            let ty_pair = significant(op.clone())
                .find(|child| child.as_rule() == Rule::type_name)
                .ok_or_else(|| ctx.internal_missing(&op, "cast type"))?;
            let ty = ctx.type_name(ty_pair)?;
            node(
                ExprKind::Cast { expr: inner, ty },
                span,
                operand.depth,
                false,
            )
        }
        Rule::op_is_null | Rule::op_not_null => {
            let negated = rule == Rule::op_not_null;
            node(
                ExprKind::IsNull {
                    expr: inner,
                    negated,
                },
                span,
                operand.depth,
                true,
            )
        }
        Rule::op_in | Rule::op_not_in => {
            let negated = rule == Rule::op_not_in;
            let list_pair = significant(op.clone())
                .find(|child| child.as_rule() == Rule::expr_list_paren)
                .ok_or_else(|| ctx.internal_missing(&op, "`in` list"))?;
            let mut list = Vec::new();
            let mut depth = operand.depth;
            for item in significant(list_pair) {
                let built = build(ctx, item)?;
                depth = depth.max(built.depth);
                list.push(built.expr);
            }
            node(
                ExprKind::In {
                    expr: inner,
                    list,
                    negated,
                },
                span,
                depth,
                true,
            )
        }
        _ => Err(ctx.internal(&op, "unknown postfix operator")),
    }
}

fn build_infix(ctx: Ctx<'_>, lhs: Built, op: Pair<'_, Rule>, rhs: Built) -> BuildResult {
    let op_span = ctx.span(&op);
    let span = lhs.expr.span.to(rhs.expr.span);
    let depth = lhs.depth.max(rhs.depth);
    let binary = match op.as_rule() {
        Rule::op_like | Rule::op_not_like => {
            check_not_chained(&lhs, op_span, op.as_str())?;
            check_not_chained(&rhs, op_span, op.as_str())?;
            let kind = ExprKind::Like {
                expr: Box::new(lhs.expr),
                pattern: Box::new(rhs.expr),
                negated: op.as_rule() == Rule::op_not_like,
            };
            return node(kind, span, depth, true);
        }
        Rule::op_or => BinaryOp::Or,
        Rule::op_and => BinaryOp::And,
        Rule::op_eq => BinaryOp::Eq,
        Rule::op_ne => BinaryOp::Ne,
        Rule::op_lt => BinaryOp::Lt,
        Rule::op_le => BinaryOp::Le,
        Rule::op_gt => BinaryOp::Gt,
        Rule::op_ge => BinaryOp::Ge,
        Rule::op_bitor => BinaryOp::BitOr,
        Rule::op_concat => BinaryOp::Concat,
        Rule::op_bitxor => BinaryOp::BitXor,
        Rule::op_bitand => BinaryOp::BitAnd,
        Rule::op_shl => BinaryOp::Shl,
        Rule::op_shr => BinaryOp::Shr,
        Rule::op_add => BinaryOp::Add,
        Rule::op_sub => BinaryOp::Sub,
        Rule::op_mul => BinaryOp::Mul,
        Rule::op_div => BinaryOp::Div,
        Rule::op_rem => BinaryOp::Rem,
        _ => return Err(ctx.internal(&op, "unknown infix operator")),
    };
    if binary.is_comparison() {
        check_not_chained(&lhs, op_span, op.as_str())?;
        check_not_chained(&rhs, op_span, op.as_str())?;
    }
    let kind = ExprKind::Binary(binary, Box::new(lhs.expr), Box::new(rhs.expr));
    node(kind, span, depth, binary.is_comparison())
}

/// `a == b == c` reads differently to different people: ask for parentheses.
fn check_not_chained(operand: &Built, op_span: Span, op_text: &str) -> Result<(), Diagnostic> {
    if !operand.bare_comparison {
        return Ok(());
    }
    let op_text = op_text.split_whitespace().collect::<Vec<_>>().join(" ");
    Err(Diagnostic::error(
        codes::PARSE_CHAINED_COMPARISON,
        "comparison operators cannot be chained",
    )
    .with_primary(op_span, format!("`{op_text}` compares the result of another comparison"))
    .with_secondary(operand.expr.span, "this is already a comparison")
    .with_note("help: add parentheses to say what is compared, e.g. `(a == b) == c`, or combine comparisons with `and`"))
}

fn build_primary(ctx: Ctx<'_>, pair: Pair<'_, Rule>) -> BuildResult {
    if pair.as_rule() != Rule::primary {
        return Err(ctx.internal(&pair, "expected an operand"));
    }
    let mut children = significant(pair.clone());
    let atom = children
        .next()
        .ok_or_else(|| ctx.internal_missing(&pair, "operand"))?;
    let mut path = Vec::new();
    let mut depth = 0;
    for suffix in children {
        let suffix_span = ctx.span(&suffix);
        match suffix.as_rule() {
            Rule::field_access => {
                let name = significant(suffix.clone())
                    .next()
                    .ok_or_else(|| ctx.internal_missing(&suffix, "field name"))?;
                path.push(PathSegment::Field(ctx.ident(name)?));
            }
            Rule::subscript => {
                let index = significant(suffix.clone())
                    .next()
                    .ok_or_else(|| ctx.internal_missing(&suffix, "subscript"))?;
                let built = build(ctx, index)?;
                depth = depth.max(built.depth);
                path.push(PathSegment::Index(Box::new(built.expr), suffix_span));
            }
            _ => return Err(ctx.internal(&suffix, "unexpected field access")),
        }
    }
    let span = ctx.span(&pair);
    if atom.as_rule() == Rule::ident {
        path.insert(0, PathSegment::Field(ctx.ident(atom)?));
        return node(ExprKind::Path(path), span, depth, false);
    }
    let base = build_atom(ctx, atom)?;
    if path.is_empty() {
        return Ok(base);
    }
    let depth = depth.max(base.depth);
    node(
        ExprKind::Member {
            base: Box::new(base.expr),
            path,
        },
        span,
        depth,
        false,
    )
}

fn build_atom(ctx: Ctx<'_>, atom: Pair<'_, Rule>) -> BuildResult {
    let span = ctx.span(&atom);
    let leaf = |kind| node(kind, span, 0, false);
    match atom.as_rule() {
        Rule::integer => leaf(ExprKind::Int(decode_integer(
            atom.as_str(),
            ctx.file,
            span.start as usize,
        )?)),
        Rule::string => {
            let body = atom
                .clone()
                .into_inner()
                .next()
                .ok_or_else(|| ctx.internal_missing(&atom, "string body"))?;
            let start = ctx.base + body.as_span().start();
            leaf(ExprKind::Str(decode_string(
                body.as_str(),
                ctx.file,
                start,
            )?))
        }
        Rule::kw_true => leaf(ExprKind::Bool(true)),
        Rule::kw_false => leaf(ExprKind::Bool(false)),
        Rule::kw_null => leaf(ExprKind::Null),
        Rule::param_ref => {
            let name = atom.as_str().trim_start_matches('$').to_string();
            leaf(ExprKind::Param(name))
        }
        Rule::count_star => leaf(ExprKind::CountStar),
        Rule::paren => {
            let inner = significant(atom.clone())
                .next()
                .ok_or_else(|| ctx.internal_missing(&atom, "expression in parentheses"))?;
            let built = build(ctx, inner)?;
            // The parentheses settle any comparison chain and belong to the span.
            Ok(Built {
                expr: Expr { span, ..built.expr },
                depth: built.depth,
                bare_comparison: false,
            })
        }
        Rule::cast_call => {
            let mut inner_expr = None;
            let mut ty = None;
            for child in significant(atom.clone()) {
                match child.as_rule() {
                    Rule::expr_nocast => inner_expr = Some(build(ctx, child)?),
                    Rule::type_name => ty = Some(ctx.type_name(child)?),
                    Rule::kw_cast | Rule::kw_as => {}
                    _ => return Err(ctx.internal(&child, "unexpected part of cast()")),
                }
            }
            match (inner_expr, ty) {
                (Some(inner), Some(ty)) => node(
                    ExprKind::Cast {
                        expr: Box::new(inner.expr),
                        ty,
                    },
                    span,
                    inner.depth,
                    false,
                ),
                _ => Err(ctx.internal_missing(&atom, "cast operand or type")),
            }
        }
        Rule::call => {
            let mut func = None;
            let mut args = Vec::new();
            let mut distinct = false;
            let mut depth = 0;
            for child in significant(atom.clone()) {
                match child.as_rule() {
                    Rule::ident => func = Some(ctx.ident(child)?),
                    Rule::kw_distinct => distinct = true,
                    Rule::expr => {
                        let built = build(ctx, child)?;
                        depth = depth.max(built.depth);
                        args.push(built.expr);
                    }
                    _ => return Err(ctx.internal(&child, "unexpected part of a call")),
                }
            }
            let func = func.ok_or_else(|| ctx.internal_missing(&atom, "function name"))?;
            node(
                ExprKind::Call {
                    func,
                    args,
                    distinct,
                },
                span,
                depth,
                false,
            )
        }
        _ => Err(ctx.internal(&atom, "unknown operand")),
    }
}
