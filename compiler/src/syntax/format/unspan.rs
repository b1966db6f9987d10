//! Span-free trees (stage: fmt): a module with every span zeroed, so that two parses of
//! differently laid out text compare equal exactly when they mean the same (doc comments
//! included, since the parser keeps them in the tree).

use crate::diagnostic::Span;
use crate::syntax::ast::*;

/// `module` with every span set to zero.
pub fn without_spans(module: &Module) -> Module {
    let mut module = module.clone();
    for item in &mut module.items {
        match item {
            Item::Use(decl) => {
                decl.span = NONE;
                decl.path.iter_mut().for_each(ident);
            }
            Item::Param(decl) => {
                decl.span = NONE;
                ident(&mut decl.name);
                decl.ty.iter_mut().for_each(type_name);
                decl.default.iter_mut().for_each(expr);
            }
            Item::Query(named) => {
                named.span = NONE;
                ident(&mut named.name);
                if let Some(head) = &mut named.metric {
                    head.kind.iter_mut().for_each(ident);
                }
                query(&mut named.query);
            }
            Item::Column(column) => {
                column.span = NONE;
                ident(&mut column.target);
                ident(&mut column.name);
                column.ty.iter_mut().for_each(type_name);
                column.alternatives.iter_mut().for_each(expr);
            }
            Item::Defaults(defaults) => {
                defaults.span = NONE;
                ident(&mut defaults.target);
                defaults.columns.iter_mut().for_each(ident);
            }
            Item::Bare(bare) => query(bare),
        }
    }
    module
}

const NONE: Span = Span {
    file: 0,
    start: 0,
    end: 0,
};

fn ident(ident: &mut Ident) {
    ident.span = NONE;
}

fn type_name(ty: &mut TypeName) {
    ty.span = NONE;
}

fn query(query: &mut Query) {
    query.span = NONE;
    source(&mut query.from);
    for join in &mut query.joins {
        join.span = NONE;
        source(&mut join.source);
        expr(&mut join.on);
    }
    match &mut query.select {
        Some(Select::Star(span)) => *span = NONE,
        Some(Select::StarAnd(span, items)) => {
            *span = NONE;
            items.iter_mut().for_each(select_item);
        }
        Some(Select::Items(items)) => items.iter_mut().for_each(select_item),
        None => {}
    }
    query.filter.iter_mut().for_each(expr);
    query.group_by.iter_mut().for_each(expr);
    query.having.iter_mut().for_each(expr);
    for key in &mut query.order_by {
        key.span = NONE;
        expr(&mut key.expr);
    }
    if let Some(limit) = &mut query.limit {
        limit.span = NONE;
    }
}

fn source(source: &mut Source) {
    source.span = NONE;
    ident(&mut source.target);
    for (name, value) in &mut source.params {
        ident(name);
        expr(value);
    }
    source.alias.iter_mut().for_each(ident);
}

fn select_item(item: &mut SelectItem) {
    item.span = NONE;
    expr(&mut item.expr);
    item.alias.iter_mut().for_each(ident);
}

fn path(segments: &mut [PathSegment]) {
    for segment in segments {
        match segment {
            PathSegment::Field(name) => ident(name),
            PathSegment::Index(index, span) => {
                *span = NONE;
                expr(index);
            }
        }
    }
}

fn expr(expr_node: &mut Expr) {
    expr_node.span = NONE;
    match &mut expr_node.kind {
        ExprKind::Int(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Param(_)
        | ExprKind::CountStar => {}
        ExprKind::Path(segments) => path(segments),
        ExprKind::Member {
            base,
            path: segments,
        } => {
            expr(base);
            path(segments);
        }
        ExprKind::Unary(_, inner) => expr(inner),
        ExprKind::Binary(_, lhs, rhs) => {
            expr(lhs);
            expr(rhs);
        }
        ExprKind::Like {
            expr: subject,
            pattern,
            ..
        } => {
            expr(subject);
            expr(pattern);
        }
        ExprKind::In {
            expr: subject,
            list,
            ..
        } => {
            expr(subject);
            list.iter_mut().for_each(expr);
        }
        ExprKind::IsNull { expr: subject, .. } => expr(subject),
        ExprKind::Cast { expr: subject, ty } => {
            expr(subject);
            type_name(ty);
        }
        ExprKind::Call { func, args, .. } => {
            ident(func);
            args.iter_mut().for_each(expr);
        }
    }
}
