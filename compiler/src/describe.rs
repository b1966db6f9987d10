//! Introspection for `bpfq describe`: a target's stdlib columns (bound against this BTF, with
//! their docs and types), its context fields, and the members of the struct behind any path.
//! Uses the same binder as queries, so what it lists is exactly what a query can use.

use crate::bind::{bind_without_map, holds_address, resolve_target, BindEnv, Ty};
use crate::diagnostic::{Diagnostic, FileId, Sources, Span};
use crate::syntax::ast::Ident;
use crate::syntax::parse_query;
use bpfq_kernel::catalogue::type_name;
use bpfq_kernel::TypeId;
use std::fmt::Write;

/// Every built-in function, one line each (`bpfq describe functions`): the call, what it
/// gives, where it runs and what it computes, from the table of functions.
pub fn functions() -> String {
    let rows = crate::bind::describe_functions();
    let width = |at: usize| {
        rows.iter()
            .map(|r| r[at].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (call, gives, runs) = (width(0), width(1), width(2));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:call$}  {:gives$}  {:runs$}  what",
        "function", "gives", "runs in"
    );
    for [name, returns, place, doc] in &rows {
        let _ = writeln!(out, "{name:call$}  {returns:gives$}  {place:runs$}  {doc}");
    }
    out.push_str(
        "\nFunctions computed in user space go in `select` and `where` (conditions joined \
         with `and` are split between the program and user space), not in grouped queries, \
         joins or pinned programs.\n",
    );
    out
}

/// The type shown for a map key or value column, which the map decides.
pub const MAP_TYPED: &str = "per map";

/// A stdlib column as this kernel sees it.
pub struct ColumnInfo {
    pub name: String,
    pub doc: String,
    /// The type, or why the column cannot be computed on this kernel.
    pub ty: Result<String, String>,
}

/// Binds `from <target> select <expr>` in a scratch source map and returns the expression's type.
/// Diagnostics are moved onto `expr_at`: the file and offset where `expr` itself is written.
pub(crate) fn type_of(
    env: &BindEnv,
    target: &str,
    expr: &str,
    expr_at: Option<Span>,
) -> Result<Ty, Diagnostic> {
    let mut sources = Sources::new();
    let prefix = format!("from {target} select ");
    let file = sources.add("<describe>", format!("{prefix}{expr}"));
    let scoped = env.over(&sources);
    let typed = parse_query(sources.text(file), file)
        .and_then(|query| bind_without_map(&query, &scoped))
        .map_err(|mut diag| {
            if let Some(at) = expr_at {
                for label in &mut diag.labels {
                    if label.span.file == file {
                        let shift = |p: u32| at.start + p.saturating_sub(prefix.len() as u32);
                        label.span = Span {
                            file: at.file,
                            start: shift(label.span.start),
                            end: shift(label.span.end),
                        };
                    }
                }
            }
            diag
        })?;
    Ok(typed.columns[0].expr.ty.clone())
}

pub(crate) fn columns(env: &BindEnv, target: &str) -> Vec<ColumnInfo> {
    env.stdlib
        .columns_of(target)
        .map(|decl| ColumnInfo {
            name: decl.name.name.clone(),
            doc: decl.doc.trim().to_string(),
            ty: type_of(env, target, &decl.name.name, None)
                .map(|t| t.describe())
                .or_else(|d| {
                    // A map key or value: typed by the map the query names.
                    if d.code == crate::codes::MAP_REQUIRED {
                        Ok(MAP_TYPED.to_string())
                    } else {
                        Err(d.message)
                    }
                }),
        })
        .collect()
}

fn members_text(env: &BindEnv, id: TypeId) -> String {
    let mut out = String::new();
    match env.btf.members(id) {
        Ok(members) => {
            for m in members {
                let bits = m.bitfield_size.map(|b| format!(":{b}")).unwrap_or_default();
                let owner = env.btf.name_of(id).unwrap_or_default();
                let address = if holds_address(owner, m.name) {
                    "  (holds a kernel address: hidden like a pointer)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  {:<28} {:>6}  {}{bits}{address}",
                    m.name,
                    m.bit_offset / 8,
                    type_name(env.btf, m.type_id)
                );
            }
        }
        Err(e) => {
            let _ = writeln!(out, "  ({e})");
        }
    }
    out
}

/// The text of `bpfq describe SPEC`, where SPEC (a target name, or a path such as `task.mm`) is
/// the whole text of source file `spec_file`.
pub(crate) fn describe(env: &BindEnv, spec_file: FileId) -> Result<String, Diagnostic> {
    let spec = env.sources.text(spec_file).trim();
    let (target_name, path) = match spec.split_once('.') {
        Some((t, p)) => (t, Some(p)),
        None => (spec, None),
    };
    let whole = Span {
        file: spec_file,
        start: 0,
        end: spec.len() as u32,
    };
    let ident = Ident {
        name: target_name.to_string(),
        span: Span {
            end: target_name.len() as u32,
            ..whole
        },
    };
    let target = resolve_target(env.btf, &ident)?;
    let mut out = String::new();
    match path {
        None => {
            let _ = writeln!(
                out,
                "target {} (context struct bpf_iter__{})",
                target.name, target.name
            );
            let columns = columns(env, &target.name);
            if !columns.is_empty() {
                let _ = writeln!(out, "\nstdlib columns:");
                let rows: Vec<(String, String, String)> = columns
                    .into_iter()
                    .map(|c| {
                        let ty = c.ty.unwrap_or_else(|why| format!("unavailable: {why}"));
                        (c.name, ty, c.doc.replace('\n', " "))
                    })
                    .collect();
                let name_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
                let type_width = rows
                    .iter()
                    .map(|r| r.1.len())
                    .filter(|w| *w <= 16)
                    .max()
                    .unwrap_or(0);
                for (name, ty, doc) in rows {
                    let _ = writeln!(out, "  {name:<name_width$} {ty:<type_width$} {doc}");
                }
            }
            if let Some(defaults) = env.stdlib.defaults(&target.name) {
                let names: Vec<&str> = defaults.iter().map(|i| i.name.as_str()).collect();
                let _ = writeln!(out, "  (select * shows: {})", names.join(", "));
            }
            let _ = writeln!(out, "\ncontext fields:");
            for field in &target.context {
                let main = if Some(field) == target.main_object.map(|i| &target.context[i]) {
                    "  (main object)"
                } else {
                    ""
                };
                let _ = writeln!(out, "  {:<28} {}{main}", field.name, field.type_name);
            }
            if let Some(pointee) = target.main_object.and_then(|i| target.context[i].pointee) {
                let _ = writeln!(
                    out,
                    "\nmembers of {} (usable directly, e.g. `{}.x` or `x`):",
                    type_name(env.btf, pointee),
                    target.context[target.main_object.unwrap_or(0)].name
                );
                out.push_str(&members_text(env, pointee));
            }
        }
        Some(_) => {
            let ty = type_of(env, target_name, spec, Some(whole))?;
            let id = match ty {
                Ty::Ptr { pointee } => pointee,
                Ty::Struct { id } => id,
                other => {
                    let _ = writeln!(out, "{spec}: {}", other.describe());
                    return Ok(out);
                }
            };
            let _ = writeln!(out, "{spec}: {}", type_name(env.btf, id));
            out.push_str(&members_text(env, id));
        }
    }
    Ok(out)
}
