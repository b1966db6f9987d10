//! Stage `bind`: AST + kernel BTF + stdlib -> typed query. Guarantees: every name in the result is
//! resolved to a BTF location and every expression is typed; any failure is a coded diagnostic
//! pointing at the source (or stdlib) span that caused it.

mod aggregate;
mod builtins;
mod d_path;
mod display;
mod enum_names;
mod expr;
mod grouping;
mod inet_addr;
mod kernfs_path;
mod map_elem;
pub mod nullable;
mod param_values;
mod params;
mod path;
mod pointer_slots;
mod quirks;
mod shown;
pub mod typed;
mod vma_perms;

pub use aggregate::find_aggregate;
pub use builtins::{describe_functions, AggFunc};
pub use d_path::{walk_note, D_PATH_MAX, D_PATH_WALK_LEVELS, D_PATH_WALK_SLOT};
pub use grouping::{Aggregate, GExpr, GKind, GTy, GroupColumn, Grouping};
pub use kernfs_path::{KERNFS_NAME_SLOT, KERNFS_PATH_LEVELS};
pub use map_elem::{MapParam, ELEMENT_BYTES_MAX};
pub use param_values::{ParamValue, Params};
pub use params::{CgroupOrder, CgroupStart, IterParams, NetnsRef, CGROUP2_ROOT_ID};
pub use pointer_slots::{array_pointer_slots, pointer_slots};
pub use quirks::holds_address;
pub use typed::*;

use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, Sources, Span};
use crate::stdlib::Stdlib;
use crate::syntax::ast::{self, Select};
use bpfq_kernel::catalogue::{self, IterTarget};
use bpfq_kernel::Btf;
use std::collections::HashMap;

/// What binding needs from the outside world.
pub struct BindEnv<'a> {
    pub btf: &'a Btf,
    pub stdlib: &'a Stdlib,
    pub sources: &'a Sources,
    /// `--param name=value` pairs, typed when a query uses `$name`.
    pub params: &'a Params,
    /// Looks up the map of a map-element query (`from bpf_map_elem(map = ...)`); None where no
    /// map can be looked up.
    pub maps: Option<&'a dyn crate::maps::MapLookup>,
    /// What the kernel lets the program do (`KernelFeatures::from_btf` of `btf`, or a runtime
    /// probe's): which variant of an instruction or a pointer cast the compiler emits.
    pub features: &'a bpfq_kernel::KernelFeatures,
}

impl<'a> BindEnv<'a> {
    /// The same environment over the source files `sources` (a scratch query's).
    pub fn over<'s>(&self, sources: &'s Sources) -> BindEnv<'s>
    where
        'a: 's,
    {
        BindEnv { sources, ..*self }
    }
}

pub(crate) struct Binder<'a> {
    env: &'a BindEnv<'a>,
    target: IterTarget,
    alias: Option<String>,
    /// Stdlib columns being bound, to report cycles instead of recursing forever.
    in_progress: Vec<String>,
    /// How deep `bind_expr` is now: columns bound in place add their depth to their user's.
    depth: usize,
    /// Struct names already looked up for pointer casts (each lookup scans the BTF).
    cast_types: HashMap<String, Option<bpfq_kernel::TypeId>>,
    /// The `bpf_rdonly_cast` kfunc, once looked up (None inside: this kernel lacks it, or the
    /// features say not to use it: casts are then read with probes).
    rdonly_cast: Option<Option<bpfq_kernel::TypeId>>,
    /// The map a map-element query walks, once its `map` parameter is looked up.
    map_shape: Option<crate::maps::MapShape>,
}

fn unsupported(what: &str, span: Span, issue: &str) -> Diagnostic {
    Diagnostic::error(codes::UNSUPPORTED, format!("{what} is not supported yet"))
        .with_primary(span, "not supported yet")
        .with_note(format!("planned in {issue}"))
}

/// An internal error (a bug in bpfq) at `span`.
pub fn internal_error(span: Span, err: impl std::fmt::Display) -> Diagnostic {
    internal(span, err)
}

/// The BTF itself is malformed (a `--btf` file, or a broken kernel's): bad input, not a bug.
fn malformed_btf(span: Span, err: bpfq_kernel::BtfError) -> Diagnostic {
    Diagnostic::error(codes::MALFORMED_BTF, format!("malformed BTF: {err}"))
        .with_primary(span, "reading the BTF types this needs")
        .with_note("check the BTF file with `bpftool btf dump file FILE`; a kernel's own is /sys/kernel/btf/vmlinux")
}

fn internal(span: Span, err: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        codes::INTERNAL,
        format!("internal error (this is a bug in bpfq): {err}"),
    )
    .with_primary(span, "while compiling this")
}

/// How every program bpfq loads is named (`bpfq unpin` recognises bpfq's pins by it).
pub const PROGRAM_PREFIX: &str = "bpfq_";

/// The kernel's name for the program of a query on `target` (at most 15 bytes).
pub fn program_name(target: &str) -> String {
    let mut name = format!("{PROGRAM_PREFIX}{target}");
    name.truncate(15);
    name
}

/// Finds the iterator target named in `from`, or explains which targets exist.
pub fn resolve_target(btf: &Btf, target: &ast::Ident) -> Result<IterTarget, Diagnostic> {
    let found =
        catalogue::find_target(btf, &target.name).map_err(|e| malformed_btf(target.span, e))?;
    if let Some(t) = found {
        if t.attach_func.is_some() {
            return Ok(t);
        }
    }
    let all = catalogue::discover(btf).map_err(|e| malformed_btf(target.span, e))?;
    let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    let mut diag = Diagnostic::error(
        codes::UNKNOWN_TARGET,
        format!("unknown iterator target `{}`", target.name),
    )
    .with_primary(target.span, "this kernel has no BPF iterator of that name");
    let near = nearest_names(&target.name, names.iter().copied(), 3);
    if !near.is_empty() {
        diag = diag.with_note(format!("did you mean {}?", quote_list(&near)));
    }
    Err(diag.with_note(format!("targets of this kernel: {}", names.join(", "))))
}

/// The source text of a span, trimmed: the title of an unaliased column.
fn source_text(sources: &Sources, span: Span) -> String {
    sources
        .text(span.file)
        .get(span.start as usize..span.end as usize)
        .unwrap_or("")
        .trim()
        .to_string()
}

pub(crate) fn quote_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// Binds a parsed query against the kernel's BTF and the stdlib.
pub fn bind(query: &ast::Query, env: &BindEnv) -> Result<TypedQuery, Diagnostic> {
    bind_query(query, env, true)
}

/// Like `bind`, but a map-element target may go without its `map` (for `describe`, which types
/// the columns that do not depend on the map).
pub fn bind_without_map(query: &ast::Query, env: &BindEnv) -> Result<TypedQuery, Diagnostic> {
    bind_query(query, env, false)
}

fn bind_query(
    query: &ast::Query,
    env: &BindEnv,
    map_required: bool,
) -> Result<TypedQuery, Diagnostic> {
    if let Some(join) = query.joins.first() {
        return Err(Diagnostic::error(
            codes::INTERNAL,
            "internal error (this is a bug in bpfq): a join reached the single-source binder",
        )
        .with_primary(join.span, "planned by `join::plan_join`"));
    }
    let grouped = aggregate::is_grouped(query);
    if let (Some(having), false) = (&query.having, grouped) {
        return Err(Diagnostic::error(
            codes::HAVING_WITHOUT_GROUPING,
            "`having` without `group by` or an aggregate",
        )
        .with_primary(having.span, "there are no groups to filter")
        .with_note("filter rows with `where`, or add `group by`"));
    }
    let target = resolve_target(env.btf, &query.from.target)?;
    let meta = target
        .meta
        .ok_or_else(|| internal(query.from.span, "iterator context without `meta`"))?;
    let attach_func = target
        .attach_func
        .ok_or_else(|| internal(query.from.span, "target without attach function"))?;
    let (object_offset, object_field) = target
        .final_null
        .map(|i| {
            (
                target.context[i].byte_offset,
                target.context[i].name.clone(),
            )
        })
        .ok_or_else(|| {
            Diagnostic::error(
                codes::UNSUPPORTED,
                format!(
                    "target `{}` has no object pointer in its context",
                    target.name
                ),
            )
            .with_primary(query.from.target.span, "not supported yet")
        })?;
    let bound_target = BoundTarget {
        name: target.name.clone(),
        ctx_struct: target.ctx_struct,
        ctx_struct_name: format!("bpf_iter__{}", target.name),
        attach_func,
        meta_offset: meta.meta_offset,
        seq_offset: meta.seq_offset,
        seq_num_offset: meta.seq_num_offset,
        object_offset,
        object_field,
        // Before Linux 5.8 there is no ring buffer: rows go through the seq buffer, with the
        // losses `TargetFacts::transport` describes for the targets that prefer the ring.
        transport: match env.features.ringbuf {
            true => target.transport,
            false => bpfq_kernel::catalogue::RowTransport::Seq,
        },
    };
    let mut binder = Binder {
        env,
        target,
        alias: query.from.alias.as_ref().map(|a| a.name.clone()),
        in_progress: Vec::new(),
        depth: 0,
        cast_types: HashMap::new(),
        rdonly_cast: None,
        map_shape: None,
    };
    // A map's key and value types come from the map: look it up before any column.
    let map_param = binder.bind_map_param(&query.from, map_required)?;

    // Parameters first: `netns = all` adds the `netns` column to the defaults.
    let mut iter_params = match map_param {
        Some(map) => Some(IterParams::Map(map)),
        None if maps_target(&bound_target.name) => None,
        None => binder.bind_params(&query.from.params, query.from.span)?,
    };

    // `select *` (or no select) starts with the target's default columns; items follow.
    let (star, items): (Option<Span>, &[ast::SelectItem]) = match &query.select {
        None => (Some(query.from.span), &[]),
        Some(Select::Star(span)) => (Some(*span), &[]),
        Some(Select::StarAnd(span, items)) => (Some(*span), items),
        Some(Select::Items(items)) => (None, items),
    };
    let mut defaults: Vec<ast::Ident> = match star {
        Some(span) => env
            .stdlib
            .defaults(&bound_target.name)
            .ok_or_else(|| {
                Diagnostic::error(
                    codes::NO_DEFAULT_COLUMNS,
                    format!("target `{}` has no default columns", bound_target.name),
                )
                .with_primary(span, "name the columns to select")
                .with_note(format!(
                    "`bpfq describe {}` lists its fields",
                    bound_target.name
                ))
            })?
            .to_vec(),
        None => Vec::new(),
    };
    let mut columns = Vec::new();
    if let Some(span) = star {
        if matches!(iter_params, Some(IterParams::Netns(NetnsRef::All)))
            && !defaults.iter().any(|d| d.name == "netns")
        {
            // Rows of several namespaces: say which one each row comes from.
            defaults.push(ast::Ident {
                name: "netns".to_string(),
                span,
            });
        }
    }
    let mut order_by = Vec::new();
    let mut grouping = None;
    if grouped {
        let bound = binder.bind_grouped(query, &defaults, items)?;
        columns = bound.columns;
        order_by = bound.order_by;
        grouping = Some(bound.grouping);
    } else {
        for ident in &defaults {
            let expr = binder
                .bind_column_by_name(&ident.name, ident.span)?
                .ok_or_else(|| {
                    // A `defaults` line of a user or query file may name a column nobody defined.
                    Diagnostic::error(
                        codes::UNKNOWN_NAME,
                        format!(
                            "default column `{}` is not a column of `{}`",
                            ident.name, bound_target.name
                        ),
                    )
                    .with_primary(ident.span, "named in this `defaults` list")
                    .with_note(format!(
                        "define it with `column {}.{} = ...;` or remove it from the list",
                        bound_target.name, ident.name
                    ))
                })?;
            binder.check_selectable(&expr)?;
            columns.push(OutputColumn {
                name: ident.name.clone(),
                expr,
                hidden: false,
            });
        }
        for item in items {
            let expr = binder.bind_expr(&item.expr)?;
            binder.check_selectable(&expr)?;
            let name = match &item.alias {
                Some(alias) => alias.name.clone(),
                None => source_text(env.sources, item.expr.span),
            };
            columns.push(OutputColumn {
                name,
                expr,
                hidden: false,
            });
        }
    }

    if let Some(span) = query.filter.as_ref().and_then(aggregate::find_aggregate) {
        return Err(builtins::misplaced_aggregate(
            span,
            "in `where`",
            "`where` picks rows before grouping; filter groups with `having`",
        ));
    }
    let user_filter = match &query.filter {
        Some(expr) => Some(binder.bind_condition(expr)?),
        None => None,
    };
    let prog_name = program_name(&bound_target.name);
    let filter = match (
        user_filter,
        binder.quirk_filter(&prog_name, query.from.span)?,
    ) {
        (Some(user), Some(quirk)) => {
            let span = user.span;
            Some(TExpr {
                kind: TKind::And(Box::new(user), Box::new(quirk)),
                ty: Ty::Bool,
                span,
            })
        }
        (user, quirk) => user.or(quirk),
    };

    for key in query.order_by.iter().filter(|_| !grouped) {
        let by_name = match &key.expr.kind {
            ast::ExprKind::Path(segs) if segs.len() == 1 => match &segs[0] {
                ast::PathSegment::Field(ident) => columns
                    .iter()
                    .position(|c| !c.hidden && c.name == ident.name),
                ast::PathSegment::Index(..) => None,
            },
            _ => None,
        };
        let column = match by_name {
            Some(index) => index,
            None => {
                let expr = binder.bind_expr(&key.expr)?;
                binder.check_selectable(&expr)?;
                columns.push(OutputColumn {
                    name: source_text(env.sources, key.expr.span),
                    expr,
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

    let (iter_params, filter) = if env.features.task_iter_params {
        if let (None, Some(filter)) = (&iter_params, &filter) {
            iter_params = binder.push_down(filter)?;
        }
        (iter_params, filter)
    } else {
        // Before Linux 6.1 a task iterator's link takes no process: `task(pid = N)` becomes a
        // condition of the program, which then visits every task.
        binder.task_params_as_filter(iter_params, filter, query.from.span)?
    };

    Ok(TypedQuery {
        target: bound_target,
        columns,
        filter,
        order_by,
        limit: query.limit.as_ref().map(|l| l.count),
        iter_params,
        grouping,
    })
}

/// The map-element targets, whose only parameter is `map`.
fn maps_target(target: &str) -> bool {
    crate::maps::accepted_types(target).is_some()
}
