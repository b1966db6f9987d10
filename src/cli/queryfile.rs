//! `bpfq run FILE [NAME]` and `bpfq -f FILE`: a query kept in a file. The file is parsed as a
//! module (named queries, typed `param`s with defaults, columns of its own, comments); one
//! query is chosen and its parameters settled by `compiler/src/queryfile.rs`, the modules it
//! `use`s are loaded by `compiler/src/modules.rs` (from disk: `userlib::DiskModules`), then it
//! runs as a command-line query does. Command-line text (NAME, `--param` values) is added to the
//! diagnostic sources so errors can point at what was typed.

use super::args::{Common, OutputArgs, RunArgs};
use super::timings::Timings;
use super::{open_kernel_probed, run, userlib, Failure, Kernel};
use bpfq_compiler::bind::Params;
use bpfq_compiler::diagnostic::{FileId, Sources, Span};
use bpfq_compiler::modules::{resolve, Modules};
use bpfq_compiler::pipeline::{CompiledQuery, Compiler, Input};
use bpfq_compiler::plan::Output;
use bpfq_compiler::queryfile::{choose, query_names, undeclared_param, unknown_module, GivenParam};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_compiler::syntax::ast::{Ident, Module, Query};
use bpfq_compiler::syntax::parse_module_file;
use std::collections::HashSet;
use std::path::Path;

pub fn run_file(
    path: &Path,
    name: Option<&str>,
    common: &Common,
    output: &OutputArgs,
    how: &RunArgs,
) -> Result<(), Failure> {
    let mut timings = Timings::new(how.timings);
    let result = run_file_timed(path, name, common, output, how, &mut timings);
    super::timings::report(&timings);
    result
}

fn run_file_timed(
    path: &Path,
    name: Option<&str>,
    common: &Common,
    output: &OutputArgs,
    how: &RunArgs,
    timings: &mut Timings,
) -> Result<(), Failure> {
    run::refuse_compile_only(common, "check, explain, targets")?;
    let kernel = timings.time("open BTF", || open_kernel_probed(None))?;
    let (compiled, query_text) = compile_from_file(path, name, common, &kernel, timings)?;
    run::execute_query(&compiled, &query_text, common, output, how, timings)
}

/// The names `bpfq check` compiles in a file: each named query, or `None` for its only query
/// (or for none: a file of definitions is then checked by `check_module.rs`). The modules it
/// uses are loaded too, so a broken module fails the file once, not each query.
pub fn names_to_check(parsed: &ParsedFile) -> Vec<Option<String>> {
    let names = query_names(&parsed.module);
    if names.is_empty() {
        vec![None]
    } else {
        names.into_iter().map(|n| Some(n.to_string())).collect()
    }
}

/// A query file, parsed, with the modules it uses.
pub struct ParsedFile {
    file: FileId,
    pub module: Module,
    pub modules: Modules,
    /// How long reading, parsing and resolving took (`--timings`).
    pub parse_time: std::time::Duration,
}

/// Reads, parses and resolves the `use`s of the query file at `path`; a diagnostic takes the
/// sources with it.
pub fn parse_file(path: &Path, sources: &mut Sources) -> Result<ParsedFile, Failure> {
    let started = std::time::Instant::now();
    let text = read(path)?;
    let file = sources.add(path.display().to_string(), text.clone());
    let files = userlib::DiskModules::for_file(path);
    let parsed = parse_module_file(&text, file, &path.display().to_string()).and_then(|module| {
        let modules = resolve(&module, file, &userlib::identity(path), &files, sources)?;
        Ok((module, modules))
    });
    match parsed {
        Ok((module, modules)) => Ok(ParsedFile {
            file,
            module,
            modules,
            parse_time: started.elapsed(),
        }),
        Err(diag) => Err(Failure::Compile(
            Box::new(diag),
            Box::new(std::mem::take(sources)),
        )),
    }
}

pub(super) fn read(path: &Path) -> Result<String, Failure> {
    super::input::read_source(path, "query file")
}

/// Compiles query `name` of the file at `path` (or its only query) for `kernel`; returns it
/// with its source text (for the verifier's messages). A `--param` the file neither declares
/// nor its query uses is E0022.
pub fn compile_from_file(
    path: &Path,
    name: Option<&str>,
    common: &Common,
    kernel: &Kernel,
    timings: &mut Timings,
) -> Result<(CompiledQuery, String), Failure> {
    let mut sources = Sources::new();
    let parsed = parse_file(path, &mut sources)?;
    compile_parsed(&parsed, sources, name, common, kernel, timings, None)
}

/// `compile_from_file` on a file already parsed (with the `sources` that hold it): `check`
/// parses a file once for all its queries, and passes `claimed` to collect the `--param` names
/// some file declares or uses instead of refusing the others at once (it asks at the end whether
/// any file claimed each name).
pub fn compile_parsed(
    parsed: &ParsedFile,
    mut sources: Sources,
    name: Option<&str>,
    common: &Common,
    kernel: &Kernel,
    timings: &mut Timings,
    claimed: Option<&mut HashSet<String>>,
) -> Result<(CompiledQuery, String), Failure> {
    let ParsedFile {
        file,
        module,
        modules,
        parse_time,
    } = parsed;
    let file = *file;
    let given = given_params(&common.params, &mut sources)?;
    let compile_error = |diag, sources| Failure::Compile(Box::new(diag), Box::new(sources));
    // `mod.query` names a query of a used module: it runs with its module's params and the
    // file's columns.
    let (owner, owner_file, wanted) = match name.map(|n| (n, n.rsplit_once('.'))) {
        None => (module, file, None),
        Some((name, None)) => {
            let at = sources.add("<query name>", name);
            (
                module,
                file,
                Some(Ident {
                    name: name.to_string(),
                    span: Span::new(at, 0, name.len()),
                }),
            )
        }
        Some((name, Some((module_name, query)))) => {
            let at = sources.add("<query name>", name);
            let query_ident = Ident {
                name: query.to_string(),
                span: Span::new(at, module_name.len() + 1, name.len()),
            };
            match modules.module(module_name) {
                Some((used, used_file)) => (used, used_file, Some(query_ident)),
                None => {
                    let module_ident = Ident {
                        name: module_name.to_string(),
                        span: Span::new(at, 0, module_name.len()),
                    };
                    let used: Vec<&str> = modules.names().collect();
                    return Err(compile_error(unknown_module(&module_ident, &used), sources));
                }
            }
        }
    };
    let whole = Span::new(owner_file, 0, sources.text(owner_file).len());
    let chosen = match choose(owner, whole, wanted.as_ref(), &given) {
        Ok(chosen) => chosen,
        Err(diag) => return Err(compile_error(diag, sources)),
    };
    match claimed {
        Some(claimed) => claimed.extend(
            given
                .iter()
                .filter(|g| !chosen.unclaimed.iter().any(|u| u.name == g.name))
                .map(|g| g.name.clone()),
        ),
        None => {
            if let Some(first) = chosen.unclaimed.first() {
                let diag = undeclared_param(first, owner);
                return Err(compile_error(diag, sources));
            }
        }
    }
    let params = chosen.params.clone();
    let context = FileContext {
        module,
        modules,
        parse_time: *parse_time,
    };
    compile_in_context(
        chosen.query,
        &params,
        &context,
        sources,
        common,
        kernel,
        timings,
    )
}

/// The definitions a query of a file compiles with: the file's own and its used modules'.
pub(super) struct FileContext<'a> {
    pub module: &'a Module,
    pub modules: &'a Modules,
    pub parse_time: std::time::Duration,
}

/// Stages 3-7 for `query` (of the file, of a module it uses, or made up by `check`) with the
/// file's definitions; returns it with its source text (for the verifier's messages).
pub(super) fn compile_in_context(
    query: &Query,
    params: &Params,
    context: &FileContext,
    mut sources: Sources,
    common: &Common,
    kernel: &Kernel,
    timings: &mut Timings,
) -> Result<(CompiledQuery, String), Failure> {
    let compile_error = |diag, sources| Failure::Compile(Box::new(diag), Box::new(sources));
    // Only the target's stdlib file is parsed (every file for a join), and those of the
    // `std.NAME` modules the file uses; then the user's files, the used modules and the
    // file's own `column` and `defaults` items, each able to replace what came before.
    let targets: Option<Vec<String>> = query.joins.is_empty().then(|| {
        let mut targets = vec![query.from.target.name.clone()];
        targets.extend(context.modules.std_targets.iter().cloned());
        targets
    });
    let extra = userlib::user_files()?;
    let stdlib = timings.time("stdlib", || {
        let mut lib = Stdlib::load_targets(&mut sources, targets.as_deref(), &extra)?;
        context.modules.apply(&mut lib, context.module)?;
        Ok(lib)
    });
    let stdlib = match stdlib {
        Ok(lib) => lib,
        Err(diag) => return Err(compile_error(diag, sources)),
    };
    let maps = super::map_lookup(common)?;
    let features = super::features_for(kernel, common)?;
    let compiler = Compiler::new(&kernel.btf, &features, &stdlib, &sources)
        .with_params(params)
        .with_maps(maps.as_ref());
    let compiled = compiler.compile(
        Input::Parsed(query),
        super::options_for(common, Output::Rows),
    );
    let mut stage_times = compiler.times();
    stage_times.parse = context.parse_time;
    timings.record_compile(&stage_times);
    match compiled {
        Ok(compiled) => {
            let query_file = sources.text(query.span.file);
            let query_text = query_file.get(query.span.range()).unwrap_or(query_file);
            Ok((compiled, query_text.to_string()))
        }
        Err(diag) => Err(compile_error(diag, sources)),
    }
}

/// `--param NAME=VALUE` options, each added to `sources` so a bad value can be pointed at.
pub(super) fn given_params(
    params: &[String],
    sources: &mut Sources,
) -> Result<Vec<GivenParam>, Failure> {
    params
        .iter()
        .map(|option| match option.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                let file = sources.add("--param", option.clone());
                Ok(GivenParam {
                    name: name.trim_start_matches('$').to_string(),
                    name_span: Span::new(file, 0, name.len()),
                    value: value.to_string(),
                    value_span: Span::new(file, name.len() + 1, option.len()),
                })
            }
            _ => Err(Failure::Usage(format!(
                "--param expects NAME=VALUE, got `{option}`"
            ))),
        })
        .collect()
}
