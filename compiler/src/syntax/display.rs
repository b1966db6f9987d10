//! AST outline (stage: parse, for `bpfq explain` and tests): queries and items as
//! indented lines with byte spans, expressions as fully parenthesised S-expressions
//! so that precedence is visible at a glance.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::*;

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Int(value) => write!(f, "{value}"),
            ExprKind::Str(text) => write!(f, "{text:?}"),
            ExprKind::Bool(value) => write!(f, "{value}"),
            ExprKind::Null => f.write_str("null"),
            ExprKind::Param(name) => write!(f, "${name}"),
            ExprKind::Path(segments) => write_path(f, segments, true),
            ExprKind::Member { base, path } => {
                write!(f, "(member {base} ")?;
                write_path(f, path, false)?;
                f.write_str(")")
            }
            ExprKind::Unary(op, operand) => write!(f, "({} {operand})", op.symbol()),
            ExprKind::Binary(op, lhs, rhs) => write!(f, "({} {lhs} {rhs})", op.symbol()),
            ExprKind::Like {
                expr,
                pattern,
                negated,
            } => {
                let op = if *negated { "not-like" } else { "like" };
                write!(f, "({op} {expr} {pattern})")
            }
            ExprKind::In {
                expr,
                list,
                negated,
            } => {
                let op = if *negated { "not-in" } else { "in" };
                write!(f, "({op} {expr} [")?;
                for (index, item) in list.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("])")
            }
            ExprKind::IsNull { expr, negated } => {
                let op = if *negated { "is-not-null" } else { "is-null" };
                write!(f, "({op} {expr})")
            }
            ExprKind::Cast { expr, ty } => write!(f, "(cast {expr} {ty})"),
            ExprKind::Call {
                func,
                args,
                distinct,
            } => {
                write!(f, "(call {}", func.name)?;
                if *distinct {
                    f.write_str(" distinct")?;
                }
                for arg in args {
                    write!(f, " {arg}")?;
                }
                f.write_str(")")
            }
            ExprKind::CountStar => f.write_str("(count *)"),
        }
    }
}

fn write_path(f: &mut Formatter<'_>, segments: &[PathSegment], first_bare: bool) -> fmt::Result {
    for (index, segment) in segments.iter().enumerate() {
        match segment {
            PathSegment::Field(ident) if index == 0 && first_bare => f.write_str(&ident.name)?,
            PathSegment::Field(ident) => write!(f, ".{}", ident.name)?,
            PathSegment::Index(expr, _) => write!(f, "[{expr}]")?,
        }
    }
    Ok(())
}

impl Display for TypeName {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.is_struct {
            f.write_str("struct ")?;
        }
        f.write_str(&self.name)
    }
}

/// Indented outline of a query.
pub fn query_outline(query: &Query) -> String {
    let mut out = String::new();
    write_query(&mut out, query, 0);
    out
}

/// Indented outline of a module, one block per item.
pub fn module_outline(module: &Module) -> String {
    let mut out = String::new();
    for item in &module.items {
        write_item(&mut out, item);
    }
    out
}

fn line(out: &mut String, indent: usize, text: impl Display) {
    let _ = writeln!(out, "{:indent$}{text}", "", indent = indent * 2);
}

fn span_text(span: crate::diagnostic::Span) -> String {
    format!("@{}..{}", span.start, span.end)
}

fn write_doc(out: &mut String, doc: &str) {
    for doc_line in doc.lines() {
        line(out, 1, format_args!("doc: {doc_line}"));
    }
}

fn write_item(out: &mut String, item: &Item) {
    match item {
        Item::Use(decl) => {
            let path: Vec<&str> = decl.path.iter().map(|ident| ident.name.as_str()).collect();
            line(
                out,
                0,
                format_args!("use {} {}", path.join("."), span_text(decl.span)),
            );
        }
        Item::Param(decl) => {
            line(
                out,
                0,
                format_args!("param {} {}", decl.name.name, span_text(decl.span)),
            );
            write_doc(out, &decl.doc);
            if let Some(ty) = &decl.ty {
                line(out, 1, format_args!("type: {ty}"));
            }
            if let Some(default) = &decl.default {
                line(out, 1, format_args!("default: {default}"));
            }
        }
        Item::Query(named) => {
            line(
                out,
                0,
                format_args!("query {} {}", named.name.name, span_text(named.span)),
            );
            if let Some(head) = &named.metric {
                let kind = head.kind.as_ref().map_or("(gauge)", |k| k.name.as_str());
                line(out, 1, format_args!("metric: {kind}"));
            }
            write_doc(out, &named.doc);
            write_query(out, &named.query, 1);
        }
        Item::Column(column) => {
            line(
                out,
                0,
                format_args!(
                    "column {}.{} {}",
                    column.target.name,
                    column.name.name,
                    span_text(column.span)
                ),
            );
            write_doc(out, &column.doc);
            if let Some(ty) = &column.ty {
                line(out, 1, format_args!("type: {ty}"));
            }
            for alternative in &column.alternatives {
                line(out, 1, format_args!("= {alternative}"));
            }
        }
        Item::Defaults(defaults) => {
            let columns: Vec<&str> = defaults
                .columns
                .iter()
                .map(|ident| ident.name.as_str())
                .collect();
            line(
                out,
                0,
                format_args!(
                    "defaults {}: {} {}",
                    defaults.target.name,
                    columns.join(", "),
                    span_text(defaults.span)
                ),
            );
            write_doc(out, &defaults.doc);
        }
        Item::Bare(query) => write_query(out, query, 0),
    }
}

fn write_source(out: &mut String, keyword: &str, source: &Source, indent: usize) {
    let mut text = format!("{keyword} {}", source.target.name);
    if !source.params.is_empty() {
        let params: Vec<String> = source
            .params
            .iter()
            .map(|(name, value)| format!("{} = {value}", name.name))
            .collect();
        let _ = write!(text, "({})", params.join(", "));
    }
    if let Some(alias) = &source.alias {
        let _ = write!(text, " as {}", alias.name);
    }
    line(
        out,
        indent,
        format_args!("{text} {}", span_text(source.span)),
    );
}

fn write_query(out: &mut String, query: &Query, indent: usize) {
    line(out, indent, format_args!("query {}", span_text(query.span)));
    let indent = indent + 1;
    write_source(out, "from", &query.from, indent);
    for join in &query.joins {
        write_source(out, "join", &join.source, indent);
        line(out, indent + 1, format_args!("on {}", join.on));
    }
    match &query.select {
        None => {}
        Some(Select::Star(span)) => {
            line(out, indent, format_args!("select * {}", span_text(*span)))
        }
        Some(Select::StarAnd(span, items)) => {
            line(
                out,
                indent,
                format_args!("select * {}, and", span_text(*span)),
            );
            write_items(out, items, indent);
        }
        Some(Select::Items(items)) => {
            line(out, indent, "select");
            write_items(out, items, indent);
        }
    }
    if let Some(filter) = &query.filter {
        line(out, indent, format_args!("where {filter}"));
    }
    for key in &query.group_by {
        line(out, indent, format_args!("group by {key}"));
    }
    if let Some(having) = &query.having {
        line(out, indent, format_args!("having {having}"));
    }
    for key in &query.order_by {
        let direction = if key.descending { "desc" } else { "asc" };
        line(
            out,
            indent,
            format_args!("order by {} {direction}", key.expr),
        );
    }
    if let Some(limit) = &query.limit {
        line(
            out,
            indent,
            format_args!("limit {} {}", limit.count, span_text(limit.span)),
        );
    }
}

/// The items of a select list, one per line.
fn write_items(out: &mut String, items: &[crate::syntax::ast::SelectItem], indent: usize) {
    for item in items {
        let alias = item
            .alias
            .as_ref()
            .map(|alias| format!(" as {}", alias.name))
            .unwrap_or_default();
        line(
            out,
            indent + 1,
            format_args!("{}{alias} {}", item.expr, span_text(item.span)),
        );
    }
}
