//! Stage `plan` -> metric shape for `bpfq serve`: what a `metric NAME[: KIND] = QUERY;` item
//! publishes, read from its compiled plan. Guarantees every result column has one role: a
//! `group by` key (or an expression of keys alone) is a label, a column computed from
//! aggregates is a sample and is a number; names are ones Prometheus accepts; anything else is
//! a coded diagnostic (E0920-E0924, E0929) pointing at the query.

use crate::bind::{GExpr, GKind, Grouping};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::pipeline::CompiledQuery;
use crate::syntax::ast::NamedQuery;

/// Gauge or counter (`metric NAME: counter = ...`; gauge when not said).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Gauge,
    Counter,
}

/// What a metric query publishes: one family per sample column, one series per result row,
/// labelled by the row's label columns.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricShape {
    /// The `metric` item's name.
    pub name: String,
    pub kind: MetricKind,
    /// `# HELP`: the item's `---` doc comment, joined into one line.
    pub help: String,
    /// (index in the result row, label name), in column order.
    pub labels: Vec<(usize, String)>,
    /// (index in the result row, family name), in column order.
    pub samples: Vec<(usize, String)>,
}

/// The shape of `item` (a `metric` item) compiled to `compiled`.
pub fn shape(item: &NamedQuery, compiled: &CompiledQuery) -> Result<MetricShape, Diagnostic> {
    let name = &item.name;
    check_name(&name.name, name.span, "metric", true)?;
    let kind = match item.metric.as_ref().and_then(|head| head.kind.as_ref()) {
        None => MetricKind::Gauge,
        Some(kind) if kind.name.eq_ignore_ascii_case("gauge") => MetricKind::Gauge,
        Some(kind) if kind.name.eq_ignore_ascii_case("counter") => MetricKind::Counter,
        Some(kind) => {
            return Err(Diagnostic::error(
                codes::METRIC_KIND,
                format!("`{}` is not a kind of metric", kind.name),
            )
            .with_primary(kind.span, "expected `gauge` or `counter`")
            .with_note("a gauge goes up and down (a count of sockets); a counter only grows"))
        }
    };
    let single = match compiled {
        CompiledQuery::Single(single) => single,
        CompiledQuery::Join(_) => {
            return Err(Diagnostic::error(
                codes::METRIC_JOIN,
                format!("metric `{}` joins several sources", name.name),
            )
            .with_primary(item.query.span, "a join")
            .with_note("publish each source as a metric of its own"))
        }
    };
    let user = &single.plan.user;
    let Some(grouping) = &user.grouping else {
        return Err(Diagnostic::error(
            codes::METRIC_NOT_GROUPED,
            format!(
                "metric `{}` has a row per object, not per label set",
                name.name
            ),
        )
        .with_primary(item.query.span, "no `group by` or aggregate")
        .with_note(
            "group by the columns that become labels and aggregate the values, e.g. \
             `select state, count(*) as sockets group by state`",
        ));
    };
    let mut labels = Vec::new();
    let mut samples = Vec::new();
    for (index, &column) in user.visible.iter().enumerate() {
        let column = &grouping.columns[column];
        if !uses_aggregate(&column.expr) {
            check_name(&column.name, column.expr.span, "label", false)?;
            labels.push((index, column.name.clone()));
            continue;
        }
        if !column.expr.ty.is_numeric() {
            return Err(Diagnostic::error(
                codes::METRIC_SAMPLE_NOT_NUMBER,
                format!(
                    "column `{}` of metric `{}` is a {}, not a number",
                    column.name,
                    name.name,
                    column.expr.ty.describe()
                ),
            )
            .with_primary(column.expr.span, "a sample must be a number")
            .with_note(
                "group by it to make it a label, or aggregate a number (count, sum, min, max, avg)",
            ));
        }
        samples.push((index, column.name.clone()));
    }
    if samples.is_empty() {
        return Err(no_sample(item, grouping));
    }
    if let Some(key) = unselected_key(grouping, &user.visible) {
        let key = item
            .query
            .group_by
            .get(key)
            .map_or(item.query.span, |e| e.span);
        return Err(Diagnostic::error(
            codes::METRIC_KEY_NOT_LABEL,
            format!("metric `{}` groups by a key it does not select", name.name),
        )
        .with_primary(key, "not among the selected columns")
        .with_note(
            "select it too: two groups differing only in it would publish the same series",
        ));
    }
    let samples = if let [(index, _)] = samples.as_slice() {
        vec![(*index, name.name.clone())]
    } else {
        let named = samples
            .into_iter()
            .map(|(index, column)| (index, format!("{}_{column}", name.name)));
        named.collect()
    };
    Ok(MetricShape {
        name: name.name.clone(),
        kind,
        help: help_line(&item.doc, &name.name),
        labels,
        samples,
    })
}

fn no_sample(item: &NamedQuery, grouping: &Grouping) -> Diagnostic {
    let diag = Diagnostic::error(
        codes::METRIC_NO_SAMPLE,
        format!("metric `{}` has no value to publish", item.name.name),
    )
    .with_primary(item.query.span, "every column is a label");
    let hint = if grouping.keys.is_empty() {
        "add an aggregate column, e.g. `count(*) as objects`"
    } else {
        "add an aggregate column after the keys, e.g. `count(*) as objects`"
    };
    diag.with_note(hint)
}

/// The first `group by` key no visible column is (labels tell groups apart only if every key
/// is one of them).
fn unselected_key(grouping: &Grouping, visible: &[usize]) -> Option<usize> {
    (0..grouping.keys.len()).find(|&key| {
        !visible
            .iter()
            .any(|&column| grouping.columns[column].expr.kind == GKind::Key(key))
    })
}

/// Whether `expr` reads an aggregate anywhere (then it is a sample; else it is made of keys
/// and constants, the same in every row of a group: a label).
fn uses_aggregate(expr: &GExpr) -> bool {
    match &expr.kind {
        GKind::Agg(_) => true,
        GKind::Key(_) | GKind::Int(_) | GKind::Str(_) => false,
        GKind::Arith { lhs, rhs, .. } | GKind::Compare { lhs, rhs, .. } => {
            uses_aggregate(lhs) || uses_aggregate(rhs)
        }
        GKind::And(lhs, rhs) | GKind::Or(lhs, rhs) => uses_aggregate(lhs) || uses_aggregate(rhs),
        GKind::Neg(inner) | GKind::BitNot(inner) | GKind::Not(inner) => uses_aggregate(inner),
        GKind::Call { args, .. } => args.iter().any(uses_aggregate),
    }
}

/// Prometheus's names: `[a-zA-Z_:][a-zA-Z0-9_:]*` for metrics, without `:` for labels, which
/// must not start with `__` (reserved for Prometheus's own).
fn check_name(text: &str, span: Span, what: &str, colon: bool) -> Result<(), Diagnostic> {
    let allowed = |c: char, first: bool| {
        c == '_' || c.is_ascii_alphabetic() || (!first && c.is_ascii_digit()) || (colon && c == ':')
    };
    let well_formed = text
        .chars()
        .enumerate()
        .all(|(index, c)| allowed(c, index == 0))
        && !text.is_empty();
    let reserved = !colon && text.starts_with("__");
    if well_formed && !reserved {
        return Ok(());
    }
    let why = if reserved {
        "names starting with `__` are Prometheus's own"
    } else {
        "letters, digits and `_` only, not starting with a digit"
    };
    Err(Diagnostic::error(
        codes::METRIC_NAME,
        format!("`{text}` cannot be a Prometheus {what} name"),
    )
    .with_primary(span, why)
    .with_note(if colon {
        "rename the metric: `metric some_name = ...`"
    } else {
        "rename the column: `... as some_name`"
    }))
}

/// The doc comment as one `# HELP` line; the metric's name when it has none.
fn help_line(doc: &str, name: &str) -> String {
    let joined: Vec<&str> = doc.split_whitespace().collect();
    if joined.is_empty() {
        format!("bpfq metric {name}")
    } else {
        joined.join(" ")
    }
}
