//! Expressions for the formatter (stage: fmt): `ast::Expr` -> `Doc` with the fewest
//! parentheses that give back the same tree under the precedence of syntax/expr.rs. Casts
//! are always written `cast(e as t)`, valid everywhere (a postfix `e as t` would read as an
//! alias at the top of a select item). Long operator chains break before an operator, with
//! continuation lines aligned under the chain's first operand.

use super::doc::Doc;
use super::spelling;
use super::Builder;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, PathSegment, TypeName, UnaryOp};

/// Binding strength, loosest first, as the Pratt parser in syntax/expr.rs applies it.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
/// Comparisons, `like`, `in`, `is null`: non-associative.
const COMPARE: u8 = 4;
/// `<<` and `>>`, the tightest bitwise operators.
const SHIFT: u8 = 8;
const PREFIX: u8 = 11;
/// A postfix `e as t` (only in conservative mode, where the source wrote one).
const POSTFIX: u8 = 12;
/// Operands that never need parentheses: literals, names, calls, `cast()`.
const ATOM: u8 = 13;

fn binary_level(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => OR,
        BinaryOp::And => AND,
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            COMPARE
        }
        BinaryOp::BitOr | BinaryOp::Concat => 5,
        BinaryOp::BitXor => 6,
        BinaryOp::BitAnd => 7,
        BinaryOp::Shl | BinaryOp::Shr => SHIFT,
        BinaryOp::Add | BinaryOp::Sub => 9,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 10,
    }
}

fn level(expr: &Expr) -> u8 {
    match &expr.kind {
        ExprKind::Binary(op, ..) => binary_level(*op),
        ExprKind::Unary(UnaryOp::Not, _) => NOT,
        ExprKind::Unary(..) => PREFIX,
        ExprKind::Like { .. } | ExprKind::In { .. } | ExprKind::IsNull { .. } => COMPARE,
        _ => ATOM,
    }
}

impl Builder<'_> {
    /// How tightly `expr` binds as printed (a postfix cast only in conservative mode).
    fn level(&self, expr: &Expr) -> u8 {
        if self.postfix_cast(expr) {
            POSTFIX
        } else {
            level(expr)
        }
    }

    /// Operands a comparison (`like`, `in`, `is null` too) keeps in parentheses: looser ones,
    /// another comparison (they do not chain), and bitwise operators, which bind tighter than
    /// `==` here but looser in C: `(flags & 1) != 0` reads the same to everyone (not in
    /// conservative mode, which adds no bracket the source does not have).
    fn compared_needs_parens(&self, operand: &Expr) -> bool {
        let loosest_kept = if self.conservative { COMPARE } else { SHIFT };
        self.level(operand) <= loosest_kept
    }

    /// Whether the source wrapped `expr` in parentheses of its own.
    fn source_parenthesized(&self, expr: &Expr) -> bool {
        self.closing.get(&(expr.span.start as usize)) == Some(&(expr.span.end as usize))
    }

    /// A cast the source wrote `e as t`, printed so in conservative mode (`cast(e as t)`
    /// would nest one bracket deeper than the source).
    fn postfix_cast(&self, expr: &Expr) -> bool {
        if !self.conservative || !matches!(expr.kind, ExprKind::Cast { .. }) {
            return false;
        }
        let start = expr.span.start as usize;
        let index = self.tokens.partition_point(|token| token.start < start);
        let call_form = match (self.tokens.get(index), self.tokens.get(index + 1)) {
            (Some(keyword), Some(open)) => {
                keyword.text(self.src).eq_ignore_ascii_case("cast")
                    && self.closing.get(&open.start) == Some(&(expr.span.end as usize))
            }
            _ => false,
        };
        !call_form
    }

    /// An expression, with the comments that come before it.
    pub fn expr(&mut self, expr: &Expr) -> Doc {
        let mut docs = self.comments.before(expr.span.start as usize);
        docs.push(self.expr_body(expr));
        concat(docs)
    }

    /// `expr`, in parentheses when `parenthesize` says so.
    fn operand(&mut self, expr: &Expr, parenthesize: bool) -> Doc {
        let parenthesize = parenthesize || (self.conservative && self.source_parenthesized(expr));
        let doc = self.expr(expr);
        if parenthesize {
            concat(vec![Doc::text("("), Doc::align(doc), Doc::text(")")])
        } else {
            doc
        }
    }

    fn expr_body(&mut self, expr: &Expr) -> Doc {
        match &expr.kind {
            ExprKind::Int(value) => {
                Doc::text(spelling::integer(self.src.get(expr.span.range()), *value))
            }
            ExprKind::Str(value) => Doc::text(spelling::string(value)),
            ExprKind::Bool(value) => Doc::text(if *value { "true" } else { "false" }),
            ExprKind::Null => Doc::text("null"),
            ExprKind::Param(name) => Doc::text(format!("${name}")),
            ExprKind::CountStar => Doc::text("count(*)"),
            ExprKind::Path(segments) => self.path(segments, true),
            ExprKind::Member { base, path } => {
                // `(a.b).c` is not `a.b.c` in the tree: a path or member base keeps its parentheses.
                let keep = self.level(base) < ATOM
                    || matches!(base.kind, ExprKind::Path(_) | ExprKind::Member { .. });
                let base = self.operand(base, keep);
                concat(vec![base, self.path(path, false)])
            }
            ExprKind::Unary(op, inner) => self.unary(*op, inner),
            ExprKind::Binary(..) => self.chain(expr),
            ExprKind::Like {
                expr: subject,
                pattern,
                negated,
            } => {
                // Comments before the subject stay outside the group, as in `chain`.
                let mut docs = self.comments.before(subject.span.start as usize);
                let subject = self.operand(subject, self.compared_needs_parens(subject));
                let keyword = if *negated { "not like " } else { "like " };
                let pattern = self.operand(pattern, self.compared_needs_parens(pattern));
                docs.push(Doc::align(Doc::group(concat(vec![
                    subject,
                    Doc::Line,
                    Doc::text(keyword),
                    pattern,
                ]))));
                concat(docs)
            }
            ExprKind::In {
                expr: subject,
                list,
                negated,
            } => {
                let subject = self.operand(subject, self.compared_needs_parens(subject));
                let keyword = if *negated { " not in (" } else { " in (" };
                let list = self.list(list);
                concat(vec![subject, Doc::text(keyword), list, Doc::text(")")])
            }
            ExprKind::IsNull {
                expr: subject,
                negated,
            } => {
                let subject = self.operand(subject, self.compared_needs_parens(subject));
                let test = if *negated { " is not null" } else { " is null" };
                concat(vec![subject, Doc::text(test)])
            }
            ExprKind::Cast { expr: inner, ty } if self.postfix_cast(expr) => {
                let inner = self.operand(inner, self.level(inner) < POSTFIX);
                concat(vec![inner, Doc::text(format!(" as {}", type_name(ty)))])
            }
            ExprKind::Cast { expr: inner, ty } => {
                let inner = self.expr(inner);
                concat(vec![
                    Doc::text("cast("),
                    Doc::align(inner),
                    Doc::text(format!(" as {})", type_name(ty))),
                ])
            }
            ExprKind::Call {
                func,
                args,
                distinct,
            } => {
                let mut open = format!("{}(", spelling::ident(&func.name));
                if *distinct {
                    open.push_str(if args.is_empty() {
                        "distinct"
                    } else {
                        "distinct "
                    });
                }
                let args = self.list(args);
                concat(vec![Doc::text(open), args, Doc::text(")")])
            }
        }
    }

    /// Comma-separated expressions (call arguments, `in` lists), filled and aligned.
    fn list(&mut self, exprs: &[Expr]) -> Doc {
        let mut items = Vec::with_capacity(exprs.len());
        for expr in exprs {
            let mut item = vec![self.expr(expr)];
            if let Some(comment) = self.comments.after(expr.span.end as usize) {
                item.push(comment);
            }
            items.push(concat(item));
        }
        Doc::align(Doc::Fill(items, ","))
    }

    /// `a.b[0].c`; `head` says whether the first name is an `ident` (the start of a path).
    fn path(&mut self, segments: &[PathSegment], head: bool) -> Doc {
        let mut docs = Vec::with_capacity(segments.len());
        for (index, segment) in segments.iter().enumerate() {
            match segment {
                PathSegment::Field(name) if index == 0 && head => {
                    docs.push(Doc::text(spelling::ident(&name.name)));
                }
                PathSegment::Field(name) => {
                    docs.push(Doc::text(format!(".{}", spelling::field(&name.name))));
                }
                PathSegment::Index(index_expr, _) => {
                    let index_doc = self.expr(index_expr);
                    docs.extend([Doc::text("["), index_doc, Doc::text("]")]);
                }
            }
        }
        concat(docs)
    }

    fn unary(&mut self, op: UnaryOp, inner: &Expr) -> Doc {
        match op {
            UnaryOp::Not => {
                let inner = self.operand(inner, self.level(inner) < NOT);
                concat(vec![Doc::text("not "), inner])
            }
            UnaryOp::Neg | UnaryOp::BitNot => {
                let parens = self.level(inner) < PREFIX
                    || (self.conservative && self.source_parenthesized(inner));
                // `- -x` must not print as `--x`, a comment (and a space nests no deeper
                // than parentheses would).
                let double_minus = op == UnaryOp::Neg
                    && !parens
                    && matches!(inner.kind, ExprKind::Unary(UnaryOp::Neg, _));
                let symbol = if double_minus { "- " } else { op.symbol() };
                let inner = self.operand(inner, parens);
                concat(vec![Doc::text(symbol), inner])
            }
        }
    }

    /// A run of binary operators of one level (`a + b - c`), broken before operators when
    /// too long. Comparisons do not chain: each side of one is a single operand.
    fn chain(&mut self, expr: &Expr) -> Doc {
        let mut rest: Vec<(BinaryOp, &Expr)> = Vec::new();
        let mut first = expr;
        let chain_level = level(expr);
        while let ExprKind::Binary(op, lhs, rhs) = &first.kind {
            if binary_level(*op) != chain_level {
                break;
            }
            rest.push((*op, rhs));
            first = lhs;
            if chain_level == COMPARE {
                break;
            }
        }
        rest.reverse();
        let left_parens = |this: &Self, operand: &Expr| {
            this.level(operand) < chain_level
                || (chain_level == COMPARE && this.compared_needs_parens(operand))
        };
        let right_parens = |this: &Self, operand: &Expr| {
            this.level(operand) <= chain_level
                || (chain_level == COMPARE && this.compared_needs_parens(operand))
        };
        // Comments before the first operand stay outside the group: whether they were caught
        // here or by an enclosing node must not change whether the chain breaks.
        let leading = self.comments.before(first.span.start as usize);
        let first_parens = left_parens(self, first);
        let mut docs = vec![self.operand(first, first_parens)];
        let mut previous_end = first.span.end as usize;
        for (op, operand) in rest {
            if let Some(comment) = self.comments.after(previous_end) {
                docs.extend([comment, Doc::BreakParent]);
            }
            docs.extend(self.comments.before(operand.span.start as usize));
            docs.push(Doc::Line);
            docs.push(Doc::text(format!("{} ", op.symbol())));
            let parens = right_parens(self, operand);
            docs.push(self.operand(operand, parens));
            previous_end = operand.span.end as usize;
        }
        let mut all = leading;
        all.push(Doc::align(Doc::group(concat(docs))));
        concat(all)
    }
}

/// `u32`, `struct sock`
pub fn type_name(ty: &TypeName) -> String {
    if ty.is_struct {
        format!("struct {}", spelling::ident(&ty.name))
    } else {
        spelling::ident(&ty.name)
    }
}

pub fn concat(mut docs: Vec<Doc>) -> Doc {
    if docs.len() == 1 {
        docs.pop().unwrap_or(Doc::Concat(Vec::new()))
    } else {
        Doc::Concat(docs)
    }
}
