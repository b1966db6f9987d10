//! `bpfq check` of a module — a file of definitions and no query: stages 0-7 for each of its
//! columns alone (`from T select C`) and each `defaults` line (`from T select *`), with the
//! modules it uses, so a module kept in git is checked like a query file. Nothing is loaded.

use super::args::Common;
use super::queryfile::{compile_in_context, parse_file, read, FileContext, ParsedFile};
use super::timings::Timings;
use super::{Failure, Kernel};
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::syntax::ast::Item;
use bpfq_compiler::syntax::{parse_module, parse_query};
use std::path::Path;

/// Whether the file at `path` holds definitions only (no query): `check` compiles each one.
pub fn is_module(path: &Path) -> bool {
    let mut sources = Sources::new();
    let Ok(text) = read(path) else {
        return false;
    };
    let file = sources.add(path.display().to_string(), text.clone());
    parse_module(&text, file).is_ok_and(|module| {
        let queries = module
            .items
            .iter()
            .any(|i| matches!(i, Item::Query(_) | Item::Bare(_)));
        let definitions = module
            .items
            .iter()
            .any(|i| matches!(i, Item::Column(_) | Item::Defaults(_)));
        !queries && definitions
    })
}

/// A module (definitions, no query): each column and `defaults` line compiled alone; (ok,
/// failed) counts.
pub fn check_module(
    path: &Path,
    common: &Common,
    kernel: &Kernel,
) -> Result<(usize, usize), Failure> {
    let (mut ok, mut failed) = (0, 0);
    // Parsed once for all its items; each compile gets its own (cheap) copy of the sources.
    let mut sources = Sources::new();
    let parsed = parse_file(path, &mut sources)?;
    for (what, query) in module_checks(&parsed) {
        let shown = format!("{} {what}", path.display());
        match check_module_item(&parsed, sources.clone(), &query, common, kernel) {
            Ok(()) => {
                super::output::line(&format!("ok      {shown}"))?;
                ok += 1;
            }
            Err(failure) => {
                super::output::line(&format!("FAILED  {shown}"))?;
                failure.report();
                failed += 1;
            }
        }
    }
    Ok((ok, failed))
}

/// What `bpfq check` compiles for a module (a file of definitions and no query): each column
/// alone (`from T select C`) and each `defaults` line (`from T select *`), as text.
fn module_checks(parsed: &ParsedFile) -> Vec<(String, String)> {
    parsed
        .module
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Column(c) => Some((
                format!("column {}.{}", c.target.name, c.name.name),
                format!("from {} select {}", c.target.name, c.name.name),
            )),
            Item::Defaults(d) => Some((
                format!("defaults {}", d.target.name),
                format!("from {} select *", d.target.name),
            )),
            _ => None,
        })
        .collect()
}

/// Compiles `query` (from `module_checks`) with the definitions of the module `parsed` (held
/// in `sources`).
fn check_module_item(
    parsed: &ParsedFile,
    mut sources: Sources,
    query: &str,
    common: &Common,
    kernel: &Kernel,
) -> Result<(), Failure> {
    let file = sources.add("<check>", query);
    let ast = match parse_query(query, file) {
        Ok(ast) => ast,
        Err(diag) => return Err(Failure::Compile(Box::new(diag), Box::new(sources))),
    };
    let params = super::parse_params(&common.params)?;
    let context = FileContext {
        module: &parsed.module,
        modules: &parsed.modules,
        parse_time: std::time::Duration::ZERO,
    };
    let mut timings = Timings::new(false);
    compile_in_context(
        &ast,
        &params,
        &context,
        sources,
        common,
        kernel,
        &mut timings,
    )
    .map(|_| ())
}
