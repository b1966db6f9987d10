//! Stage `parse` -> `bind` for query files (`bpfq run FILE [NAME]`): picks one query of a
//! module (`query NAME = ...;` items or a single bare query) and settles its `$params` from the
//! file's `param` declarations and the command line. Guarantees every parameter value handed to
//! the binder fits its declared type; every problem is a coded diagnostic pointing at the file
//! or at the command-line text it came from (sources the caller added).

use crate::bind::Params;
use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, Span};
use crate::syntax::ast::{
    Expr, ExprKind, Ident, Item, Module, ParamDecl, PathSegment, Query, Select, UnaryOp,
};
use std::collections::HashSet;

/// A `--param NAME=VALUE`; `value_span` points at VALUE in a source holding the option text.
#[derive(Debug, Clone)]
pub struct GivenParam {
    pub name: String,
    pub name_span: Span,
    pub value: String,
    pub value_span: Span,
}

/// The query to compile and the value of each `$param`, as text the binder reads (and, for a
/// parameter declared with an integer type, that type).
#[derive(Debug)]
pub struct Chosen<'m, 'g> {
    pub query: &'m Query,
    /// The query's name, if it has one.
    pub name: Option<&'m str>,
    pub params: Params,
    /// The given parameters the file does not declare and the query does not use (E0022 for
    /// a run of this query: `undeclared_param`; `check` of several files asks them all).
    pub unclaimed: Vec<&'g GivenParam>,
}

/// The names of the `query NAME = ...` items, in file order.
pub fn query_names(module: &Module) -> Vec<&str> {
    module
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Query(named) => Some(named.name.name.as_str()),
            _ => None,
        })
        .collect()
}

/// The query `wanted` names (its span is in a command-line source), or the file's only query;
/// `file_span` (the whole file) carries errors about the file as a whole.
pub fn choose<'m, 'g>(
    module: &'m Module,
    file_span: Span,
    wanted: Option<&Ident>,
    given: &'g [GivenParam],
) -> Result<Chosen<'m, 'g>, Diagnostic> {
    let named: Vec<(&'m Ident, &'m Query)> = module
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Query(q) => Some((&q.name, &q.query)),
            _ => None,
        })
        .collect();
    let bare: Vec<&'m Query> = module
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Bare(q) => Some(q),
            _ => None,
        })
        .collect();
    let (name, query) = match wanted {
        Some(ident) => match named.iter().find(|(n, _)| n.name == ident.name) {
            Some(&(n, q)) => (Some(n.name.as_str()), q),
            None => return Err(unknown_query(ident, &named)),
        },
        None => match (named.as_slice(), bare.as_slice()) {
            ([], [only]) => (None, *only),
            ([(n, only)], []) => (Some(n.name.as_str()), *only),
            ([], []) => {
                return Err(
                    Diagnostic::error(codes::NO_QUERY_IN_FILE, "the file holds no query")
                        .with_primary(file_span, "only declarations here")
                        .with_note("add `from <target> select ...`, or `query NAME = from ...;`"),
                )
            }
            _ => return Err(not_chosen(&named, &bare)),
        },
    };
    let used = params_used(query);
    let declared = declared_params(module);
    Ok(Chosen {
        query,
        name,
        params: settle_params(module, given, &used)?,
        unclaimed: given
            .iter()
            .filter(|g| !declared.contains(&g.name.as_str()) && !used.contains(&g.name))
            .collect(),
    })
}

/// `bpfq run FILE mod.query` where the file uses no module `mod` (`wanted` spans `mod`).
pub fn unknown_module(wanted: &Ident, used: &[&str]) -> Diagnostic {
    let diag = Diagnostic::error(
        codes::UNKNOWN_QUERY,
        format!("the file uses no module `{}`", wanted.name),
    )
    .with_primary(wanted.span, "not used by the file");
    match (
        nearest_names(&wanted.name, used.iter().copied(), 1).first(),
        used,
    ) {
        (_, []) => diag.with_note("the file uses no modules: name one of its own queries"),
        (Some(near), _) => diag.with_note(format!(
            "did you mean `{near}`? the modules it uses: {}",
            used.join(", ")
        )),
        (None, _) => diag.with_note(format!("the modules it uses: {}", used.join(", "))),
    }
}

fn unknown_query(wanted: &Ident, named: &[(&Ident, &Query)]) -> Diagnostic {
    let names: Vec<&str> = named.iter().map(|(n, _)| n.name.as_str()).collect();
    let diag = Diagnostic::error(
        codes::UNKNOWN_QUERY,
        format!("the file has no query named `{}`", wanted.name),
    )
    .with_primary(wanted.span, "no such query");
    let near = nearest_names(&wanted.name, names.iter().copied(), 1);
    match (near.first(), names.is_empty()) {
        (_, true) => diag.with_note("the file has no named queries: leave the name out"),
        (Some(first), false) => diag.with_note(format!(
            "did you mean `{first}`? the file's queries: {}",
            names.join(", ")
        )),
        (None, false) => diag.with_note(format!("the file's queries: {}", names.join(", "))),
    }
}

/// Several queries and no name: each query is pointed at, the named ones by their name.
fn not_chosen(named: &[(&Ident, &Query)], bare: &[&Query]) -> Diagnostic {
    let mut spans: Vec<(Span, String)> = named
        .iter()
        .map(|(n, _)| (n.span, format!("query `{}`", n.name)))
        .chain(
            bare.iter()
                .map(|q| (q.span, "a query without a name".to_string())),
        )
        .collect();
    spans.sort_by_key(|(span, _)| span.start);
    let mut diag = Diagnostic::error(
        codes::QUERY_NOT_CHOSEN,
        "the file holds several queries: which one?",
    );
    for (index, (span, label)) in spans.into_iter().enumerate() {
        diag = if index == 0 {
            diag.with_primary(span, label)
        } else {
            diag.with_secondary(span, label)
        };
    }
    if bare.is_empty() {
        let names: Vec<&str> = named.iter().map(|(n, _)| n.name.as_str()).collect();
        diag.with_note(format!("name one after the file: {}", names.join(" | ")))
    } else {
        diag.with_note("give each query of the file a name (`query NAME = from ...;`), then name one after the file")
    }
}

/// The names of the parameters `module` declares.
pub fn declared_params(module: &Module) -> Vec<&str> {
    module
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Param(p) => Some(p.name.name.as_str()),
            _ => None,
        })
        .collect()
}

/// Each declared parameter's value (given, else its default) checked against its type, plus
/// given values of undeclared parameters as they are (the binder reads those the query uses).
fn settle_params(
    module: &Module,
    given: &[GivenParam],
    used: &HashSet<String>,
) -> Result<Params, Diagnostic> {
    let mut values: Params = given
        .iter()
        .map(|g| (g.name.clone(), g.value.clone()))
        .collect();
    for decl in module.items.iter().filter_map(|item| match item {
        Item::Param(p) => Some(p),
        _ => None,
    }) {
        let kind = match &decl.ty {
            Some(ty) => Some(ParamType::named(&ty.name).ok_or_else(|| {
                Diagnostic::error(
                    codes::BAD_PARAM_TYPE,
                    format!("`{}` is not a parameter type", ty.name),
                )
                .with_primary(ty.span, "unknown type")
                .with_note("parameter types: u8 u16 u32 u64 s8 s16 s32 s64 bool string")
            })?),
            None => None,
        };
        let name = &decl.name.name;
        let given_here = given.iter().rev().find(|g| &g.name == name);
        let (text, span) = match (given_here, &decl.default) {
            (Some(g), _) => (g.value.clone(), g.value_span),
            (None, Some(default)) => (default_text(default), default.span),
            (None, None) if !used.contains(name) => continue,
            (None, None) => {
                return Err(Diagnostic::error(
                    codes::MISSING_PARAM,
                    format!("parameter `{name}` needs a value"),
                )
                .with_primary(decl.span, "declared without a default, used by this query")
                .with_note(format!("pass it with `--param {name}=VALUE`")))
            }
        };
        let value = match kind {
            Some(kind) => kind
                .check(&text)
                .map_err(|why| wrong_type(decl, &text, span, why))?,
            None => text,
        };
        values.set(name.clone(), value);
        if let (Some(ParamType::Int { .. }), Some(ty)) = (kind, &decl.ty) {
            values = values.with_type(name, &ty.name);
        }
    }
    Ok(values)
}

/// E0022 for `--param NAME=...` of a parameter `module` does not declare and its query does
/// not use (one of `Chosen::unclaimed`).
pub fn undeclared_param(given: &GivenParam, module: &Module) -> Diagnostic {
    let declared = declared_params(module);
    let diag = Diagnostic::error(
        codes::UNDECLARED_PARAM_GIVEN,
        format!("the query file has no parameter `{}`", given.name),
    )
    .with_primary(
        given.name_span,
        "not declared by the file nor used by its query",
    );
    let near = nearest_names(&given.name, declared.iter().copied(), 1);
    match (near.first(), declared.is_empty()) {
        (_, true) => diag.with_note("the file declares no parameters: leave `--param` out"),
        (Some(first), false) => diag.with_note(format!(
            "did you mean `{first}`? the file's parameters: {}",
            declared.join(", ")
        )),
        (None, false) => diag.with_note(format!("the file's parameters: {}", declared.join(", "))),
    }
}

fn wrong_type(decl: &ParamDecl, text: &str, span: Span, why: String) -> Diagnostic {
    let ty = decl.ty.as_ref().map(|t| t.name.as_str()).unwrap_or("?");
    let mut diag = Diagnostic::error(
        codes::PARAM_TYPE,
        format!("`{text}` is not a value of parameter `{}`", decl.name.name),
    )
    .with_primary(span, why);
    if let Some(t) = &decl.ty {
        if t.span != span {
            diag = diag.with_secondary(t.span, format!("declared as {ty}"));
        }
    }
    diag.with_note(format!("give a {ty}: `--param {}=...`", decl.name.name))
}

/// The names of the `$params` that `query` uses.
fn params_used(query: &Query) -> HashSet<String> {
    let mut exprs: Vec<&Expr> = Vec::new();
    let mut sources = vec![&query.from];
    sources.extend(query.joins.iter().map(|j| &j.source));
    for source in sources {
        exprs.extend(source.params.iter().map(|(_, e)| e));
    }
    exprs.extend(query.joins.iter().map(|j| &j.on));
    match &query.select {
        Some(Select::Items(items)) | Some(Select::StarAnd(_, items)) => {
            exprs.extend(items.iter().map(|i| &i.expr))
        }
        Some(Select::Star(_)) | None => {}
    }
    exprs.extend(query.filter.iter());
    exprs.extend(query.group_by.iter());
    exprs.extend(query.having.iter());
    exprs.extend(query.order_by.iter().map(|k| &k.expr));
    let mut used = HashSet::new();
    while let Some(expr) = exprs.pop() {
        match &expr.kind {
            ExprKind::Param(name) => {
                used.insert(name.clone());
            }
            ExprKind::Path(segments) => exprs.extend(indexes(segments)),
            ExprKind::Member { base, path } => {
                exprs.push(base);
                exprs.extend(indexes(path));
            }
            ExprKind::Unary(_, a) | ExprKind::IsNull { expr: a, .. } => exprs.push(a),
            ExprKind::Cast { expr: a, .. } => exprs.push(a),
            ExprKind::Binary(_, a, b) => exprs.extend([&**a, &**b]),
            ExprKind::Like { expr, pattern, .. } => exprs.extend([&**expr, &**pattern]),
            ExprKind::In { expr, list, .. } => {
                exprs.push(expr);
                exprs.extend(list.iter());
            }
            ExprKind::Call { args, .. } => exprs.extend(args.iter()),
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Null
            | ExprKind::CountStar => {}
        }
    }
    used
}

fn indexes(path: &[PathSegment]) -> impl Iterator<Item = &Expr> {
    path.iter().filter_map(|segment| match segment {
        PathSegment::Index(index, _) => Some(&**index),
        PathSegment::Field(_) => None,
    })
}

/// A default literal as the text a `--param` would give.
fn default_text(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Unary(UnaryOp::Neg, inner) => format!("-{}", default_text(inner)),
        ExprKind::Str(s) => s.clone(),
        ExprKind::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// The types a parameter may declare.
#[derive(Debug, Clone, Copy)]
enum ParamType {
    Int { bits: u32, signed: bool },
    Bool,
    Text,
}

impl ParamType {
    fn named(name: &str) -> Option<ParamType> {
        let int = |bits, signed| Some(ParamType::Int { bits, signed });
        match name {
            "u8" => int(8, false),
            "u16" => int(16, false),
            "u32" => int(32, false),
            "u64" => int(64, false),
            "s8" | "i8" => int(8, true),
            "s16" | "i16" => int(16, true),
            "s32" | "i32" => int(32, true),
            "s64" | "i64" => int(64, true),
            "bool" => Some(ParamType::Bool),
            "string" | "str" => Some(ParamType::Text),
            _ => None,
        }
    }

    /// The value as the binder reads it (integers in decimal, booleans as 1 or 0), or why not.
    fn check(self, text: &str) -> Result<String, String> {
        match self {
            ParamType::Text => Ok(text.to_string()),
            ParamType::Bool => match text {
                "true" | "1" => Ok("1".to_string()),
                "false" | "0" => Ok("0".to_string()),
                _ => Err("expected true or false".to_string()),
            },
            ParamType::Int { bits, signed } => {
                let name = format!("{}{bits}", if signed { "s" } else { "u" });
                let value = parse_int(text).ok_or_else(|| format!("not an integer ({name})"))?;
                let (min, max) = if signed {
                    (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
                } else {
                    (0, (1i128 << bits) - 1)
                };
                if value < min || value > max {
                    return Err(format!("out of range for {name} ({min}..={max})"));
                }
                Ok(value.to_string())
            }
        }
    }
}

/// Decimal, `0x` hex or `0b` binary, optionally negative, `_` separators allowed.
fn parse_int(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let digits = digits.replace('_', "");
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()?
    } else if let Some(bin) = digits.strip_prefix("0b") {
        u64::from_str_radix(bin, 2).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    let value = i128::from(magnitude);
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_types_check_their_range() {
        let u16 = ParamType::named("u16").unwrap();
        assert_eq!(u16.check("22").as_deref(), Ok("22"));
        assert_eq!(u16.check("0xffff").as_deref(), Ok("65535"));
        assert!(u16.check("65536").is_err());
        assert!(u16.check("-1").is_err());
        assert!(u16.check("ssh").is_err());
        let s8 = ParamType::named("s8").unwrap();
        assert_eq!(s8.check("-128").as_deref(), Ok("-128"));
        assert!(s8.check("128").is_err());
        let bool_type = ParamType::named("bool").unwrap();
        assert_eq!(bool_type.check("true").as_deref(), Ok("1"));
        assert!(bool_type.check("yes").is_err());
        assert!(ParamType::named("float").is_none());
    }
}
