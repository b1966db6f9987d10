//! Queries and module items for the formatter (stage: fmt): one clause per line (`from`,
//! each `join`, `select`, `where`, `group by`, `having`, `order by`, `limit`), select lists
//! and other comma lists filled to the width with continuation lines aligned after the
//! keyword, `column` alternatives one per line (`??` first) when they do not fit on one.

use super::doc::Doc;
use super::expr::{concat, type_name};
use super::spelling;
use super::Builder;
use crate::diagnostic::Span;
use crate::syntax::ast::*;

impl Builder<'_> {
    /// Every item, each ended by `;` (but a file holding a single bare query has none), one
    /// empty line between items, then the comments after the last.
    pub fn module(&mut self, module: &Module) -> Doc {
        let single_query = matches!(module.items.as_slice(), [Item::Bare(_)]);
        let mut docs = Vec::new();
        for (index, item) in module.items.iter().enumerate() {
            if index > 0 {
                docs.push(Doc::BlankLine);
            }
            let span = item_span(item);
            docs.extend(self.comments.before(span.start as usize));
            docs.push(self.item(item));
            if !single_query {
                docs.push(Doc::text(";"));
            }
            docs.extend(self.comments.after(span.end as usize));
        }
        docs.extend(self.comments.rest());
        Doc::Concat(docs)
    }

    fn item(&mut self, item: &Item) -> Doc {
        match item {
            Item::Bare(query) => self.query(query),
            Item::Use(decl) => {
                let names: Vec<String> = decl
                    .path
                    .iter()
                    .map(|name| spelling::ident(&name.name))
                    .collect();
                Doc::text(format!("use {}", names.join(".")))
            }
            Item::Param(decl) => {
                let mut head = format!("param {}", spelling::ident(&decl.name.name));
                if let Some(ty) = &decl.ty {
                    head.push_str(&format!(": {}", type_name(ty)));
                }
                let mut docs = vec![Doc::text(head)];
                if let Some(default) = &decl.default {
                    docs.push(Doc::text(" = "));
                    docs.push(self.expr(default));
                }
                concat(docs)
            }
            Item::Query(named) => {
                let name = spelling::ident(&named.name.name);
                let head = match &named.metric {
                    None => format!("query {name} ="),
                    Some(MetricHead { kind: None }) => format!("metric {name} ="),
                    Some(MetricHead { kind: Some(kind) }) => {
                        format!("metric {name}: {} =", spelling::ident(&kind.name))
                    }
                };
                let body = self.query(&named.query);
                concat(vec![
                    Doc::text(head),
                    Doc::nest(4, concat(vec![Doc::HardLine, body])),
                ])
            }
            Item::Column(column) => self.column(column),
            Item::Defaults(defaults) => {
                let head = format!("defaults {}: ", spelling::ident(&defaults.target.name));
                let mut names = Vec::new();
                for name in &defaults.columns {
                    let mut docs = self.comments.before(name.span.start as usize);
                    docs.push(Doc::text(spelling::ident(&name.name)));
                    docs.extend(self.comments.after(name.span.end as usize));
                    names.push(concat(docs));
                }
                concat(vec![Doc::text(head), Doc::align(Doc::Fill(names, ","))])
            }
        }
    }

    /// `column T.name[: type] = alt ?? alt`: on one line, or each alternative on its own.
    fn column(&mut self, column: &ColumnDecl) -> Doc {
        let mut head = format!(
            "column {}.{}",
            spelling::ident(&column.target.name),
            spelling::field(&column.name.name)
        );
        if let Some(ty) = &column.ty {
            head.push_str(&format!(": {}", type_name(ty)));
        }
        head.push_str(" =");
        let mut body = Vec::new();
        for (index, alternative) in column.alternatives.iter().enumerate() {
            let mut docs = self.comments.before(alternative.span.start as usize);
            docs.push(Doc::Line);
            if index > 0 {
                docs.push(Doc::text("?? "));
            }
            docs.push(self.expr(alternative));
            // The first alternative moves to the next line only when it does not fit after `=`.
            body.push(if index == 0 {
                Doc::group(concat(docs))
            } else {
                concat(docs)
            });
            // A line comment after an alternative puts the next one on its own line; the
            // last alternative's comment ends the item, after its `;`.
            let is_last = index + 1 == column.alternatives.len();
            if let Some(comment) = self.comments.after_unless(is_last, alternative.span.end) {
                body.extend([comment, Doc::BreakParent]);
            }
        }
        Doc::group(concat(vec![Doc::text(head), Doc::nest(4, concat(body))]))
    }

    fn query(&mut self, query: &Query) -> Doc {
        let mut clauses = Vec::new();
        let leading = self.comments.before(query.span.start as usize);
        let from = self.source(&query.from);
        clauses.push(self.clause(leading, "from ", from, query.from.span.end));
        for join in &query.joins {
            let leading = self.comments.before(join.span.start as usize);
            let source = self.source(&join.source);
            let on = self.expr(&join.on);
            let body = concat(vec![source, Doc::text(" on "), on]);
            clauses.push(self.clause(leading, "join ", body, join.span.end));
        }
        if let Some(select) = &query.select {
            clauses.push(self.select(select));
        }
        if let Some(filter) = &query.filter {
            let leading = self.before_keyword(filter.span.start, 1);
            let body = self.expr(filter);
            clauses.push(self.clause(leading, "where ", body, filter.span.end));
        }
        if let Some(first) = query.group_by.first() {
            let leading = self.before_keyword(first.span.start, 2);
            let keys: Vec<(&Expr, bool, Span)> = query
                .group_by
                .iter()
                .map(|key| (key, false, key.span))
                .collect();
            let body = self.keys(&keys);
            clauses.push(self.clause(leading, "group by ", body, u32::MAX));
        }
        if let Some(having) = &query.having {
            let leading = self.before_keyword(having.span.start, 1);
            let body = self.expr(having);
            clauses.push(self.clause(leading, "having ", body, having.span.end));
        }
        if let Some(first) = query.order_by.first() {
            let leading = self.before_keyword(first.span.start, 2);
            let keys: Vec<(&Expr, bool, Span)> = query
                .order_by
                .iter()
                .map(|key| (&key.expr, key.descending, key.span))
                .collect();
            let body = self.keys(&keys);
            clauses.push(self.clause(leading, "order by ", body, u32::MAX));
        }
        if let Some(limit) = &query.limit {
            let leading = self.before_keyword(limit.span.start, 1);
            let count = spelling::integer(self.src.get(limit.span.range()), limit.count);
            clauses.push(self.clause(leading, "limit ", Doc::text(count), limit.span.end));
        }
        let mut docs = Vec::new();
        for (index, clause) in clauses.into_iter().enumerate() {
            if index > 0 {
                docs.push(Doc::HardLine);
            }
            docs.push(clause);
        }
        Doc::Concat(docs)
    }

    /// A clause on its own line: the comments before its keyword, the keyword, the body
    /// aligned after it, a comment that ends its last line (`end`: where its code ends;
    /// `u32::MAX` when the body took that comment itself).
    fn clause(&mut self, leading: Vec<Doc>, keyword: &str, body: Doc, end: u32) -> Doc {
        let mut docs = leading;
        docs.push(Doc::text(keyword));
        docs.push(Doc::align(body));
        if end != u32::MAX {
            docs.extend(self.comments.after(end as usize));
        }
        concat(docs)
    }

    /// `group by` / `order by` keys, filled; each keeps the comment that ends its line.
    fn keys(&mut self, keys: &[(&Expr, bool, Span)]) -> Doc {
        let mut items = Vec::new();
        for (expr, descending, span) in keys {
            let mut docs = vec![self.expr(expr)];
            if *descending {
                docs.push(Doc::text(" desc"));
            }
            docs.extend(self.comments.after(span.end as usize));
            items.push(concat(docs));
        }
        Doc::Fill(items, ",")
    }

    fn select(&mut self, select: &Select) -> Doc {
        let (star, items) = match select {
            Select::Star(span) => (Some(*span), &[][..]),
            Select::StarAnd(span, items) => (Some(*span), items.as_slice()),
            Select::Items(items) => (None, items.as_slice()),
        };
        let first_start = match (star, items.first()) {
            (Some(span), _) => span.start,
            (None, Some(item)) => item.span.start,
            (None, None) => 0,
        };
        let leading = self.before_keyword(first_start, 1);
        let mut entries = Vec::new();
        if let Some(span) = star {
            let mut docs = self.comments.before(span.start as usize);
            docs.push(Doc::text("*"));
            docs.extend(self.comments.after(span.end as usize));
            entries.push(concat(docs));
        }
        for item in items {
            let mut docs = vec![self.expr(&item.expr)];
            if let Some(alias) = &item.alias {
                docs.push(Doc::text(format!(" as {}", spelling::ident(&alias.name))));
            }
            docs.extend(self.comments.after(item.span.end as usize));
            entries.push(Doc::group(concat(docs)));
        }
        self.clause(leading, "select ", Doc::Fill(entries, ","), u32::MAX)
    }

    fn source(&mut self, source: &Source) -> Doc {
        let mut docs = vec![Doc::text(spelling::ident(&source.target.name))];
        if !source.params.is_empty() {
            let mut params = Vec::new();
            for (name, value) in &source.params {
                let mut param = self.comments.before(name.span.start as usize);
                param.push(Doc::text(format!("{} = ", spelling::field(&name.name))));
                param.push(self.expr(value));
                param.extend(self.comments.after(value.span.end as usize));
                params.push(concat(param));
            }
            docs.push(Doc::text("("));
            docs.push(Doc::align(Doc::Fill(params, ",")));
            docs.push(Doc::text(")"));
        }
        if let Some(alias) = &source.alias {
            docs.push(Doc::text(format!(" as {}", spelling::ident(&alias.name))));
        }
        concat(docs)
    }

    /// The comments before the clause keyword `back` tokens before `offset` (`where` before
    /// a filter, `order` of `order by` before the first key).
    fn before_keyword(&mut self, offset: u32, back: usize) -> Vec<Doc> {
        let offset = offset as usize;
        let before = self.tokens.partition_point(|token| token.end <= offset);
        let start = before
            .checked_sub(back)
            .and_then(|index| self.tokens.get(index))
            .map_or(offset, |token| token.start);
        self.comments.before(start)
    }
}

pub fn item_span(item: &Item) -> Span {
    match item {
        Item::Use(decl) => decl.span,
        Item::Param(decl) => decl.span,
        Item::Query(named) => named.span,
        Item::Column(column) => column.span,
        Item::Defaults(defaults) => defaults.span,
        Item::Bare(query) => query.span,
    }
}
