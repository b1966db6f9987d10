//! `bpfq serve`, start: the served files (a query file, or a directory's `*.bpfq` files in name
//! order) and their `metric` items, each compiled and given its shape. Guarantees every metric
//! of every file compiled and has a shape before anything is loaded: the first that does not
//! is returned with its diagnostic (the command then exits non-zero); names are unique across
//! the files and apart from bpfq's own `bpfq_query_*`.

use std::path::{Path, PathBuf};

use bpfq_compiler::codes;
use bpfq_compiler::diagnostic::{Diagnostic, Sources, Span};
use bpfq_compiler::metric::{shape, MetricShape};
use bpfq_compiler::pipeline::CompiledQuery;
use bpfq_compiler::syntax::ast::{Item, Module, NamedQuery};

use super::super::args::Common;
use super::super::timings::Timings;
use super::super::{queryfile, Failure, Kernel};

/// Names of bpfq's own metrics start with this.
pub const OWN_PREFIX: &str = "bpfq_query_";

/// One `metric` item, compiled.
pub struct CompiledMetric {
    pub shape: MetricShape,
    pub compiled: CompiledQuery,
    /// The query's source text (for the verifier's messages).
    pub text: String,
}

/// The files `paths` name: each file as it is, each directory's `*.bpfq` files sorted by name.
pub fn served_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| {
            Failure::Usage(format!("cannot read directory {}: {e}", path.display()))
        })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "bpfq") && p.is_file())
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(no_metric(path, "the directory holds no *.bpfq file"));
        }
        files.extend(found);
    }
    Ok(files)
}

/// Every `metric` item of `files`, compiled for `kernel`.
pub fn compile_metrics(
    files: &[PathBuf],
    common: &Common,
    kernel: &Kernel,
) -> Result<Vec<CompiledMetric>, Failure> {
    let mut metrics: Vec<CompiledMetric> = Vec::new();
    for path in files {
        let mut sources = Sources::new();
        let parsed = queryfile::parse_file(path, &mut sources)?;
        let items: Vec<&NamedQuery> = metric_items(&parsed.module).collect();
        if items.is_empty() {
            return Err(no_metric(
                path,
                "the file has no `metric NAME = QUERY;` item",
            ));
        }
        for item in items {
            let mut timings = Timings::new(false);
            let (compiled, text) = queryfile::compile_parsed(
                &parsed,
                sources.clone(),
                Some(&item.name.name),
                common,
                kernel,
                &mut timings,
                None,
            )?;
            let failed = |diag| Failure::Compile(Box::new(diag), Box::new(sources.clone()));
            let shape = shape(item, &compiled).map_err(failed)?;
            if let Some(clash) = clash(&shape, &metrics, item.name.span) {
                return Err(failed(clash));
            }
            metrics.push(CompiledMetric {
                shape,
                compiled,
                text,
            });
        }
    }
    Ok(metrics)
}

/// The `metric` items of `module`, in file order.
fn metric_items(module: &Module) -> impl Iterator<Item = &NamedQuery> {
    module.items.iter().filter_map(|item| match item {
        Item::Query(named) if named.metric.is_some() => Some(named),
        _ => None,
    })
}

/// The `metric` item called `name` in `module`, if there is one (a bare query, `None`, is not).
pub fn metric_item<'m>(module: &'m Module, name: Option<&str>) -> Option<&'m NamedQuery> {
    let name = name?;
    metric_items(module).find(|item| item.name.name == name)
}

/// E0925 when `shape` publishes a family another metric (or bpfq itself) does.
fn clash(shape: &MetricShape, earlier: &[CompiledMetric], span: Span) -> Option<Diagnostic> {
    let own = shape.name.starts_with(OWN_PREFIX);
    let taken = earlier.iter().find(|m| {
        m.shape.name == shape.name
            || m.shape
                .samples
                .iter()
                .any(|(_, family)| shape.samples.iter().any(|(_, mine)| mine == family))
    });
    if !own && taken.is_none() {
        return None;
    }
    let (message, why) = match taken {
        Some(other) => (
            format!("metric `{}` is published twice", shape.name),
            format!(
                "metric `{}` of a file before publishes it too",
                other.shape.name
            ),
        ),
        None => (
            format!(
                "metric `{}` takes the name of one of bpfq's own",
                shape.name
            ),
            format!("names starting `{OWN_PREFIX}` are bpfq's own metrics"),
        ),
    };
    Some(
        Diagnostic::error(codes::METRIC_DUPLICATE, message)
            .with_primary(span, why)
            .with_note("rename the metric: each metric name is published once"),
    )
}

fn no_metric(path: &Path, why: &str) -> Failure {
    Failure::Refused(Box::new(
        Diagnostic::error(
            codes::SERVE_NO_METRIC,
            format!("nothing to serve in {}: {why}", path.display()),
        )
        .with_note("declare what to publish: `metric tcp_sockets = from tcp select state, count(*) as sockets group by state;`"),
    ))
}
