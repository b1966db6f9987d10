//! `bpfq QUERY`: compile, then run through the runtime's execution API
//! (`bpfq_runtime::execute`): the sink is chosen here, the query is loaded once and run once or
//! on the `--watch` schedule, its rows written as they are or, with `--changes`, as changes. Every kernel object is held by an fd the prepared query owns, so
//! it is released on every path, including early exit (limit, closed pipe) and signals (the
//! kernel closes the fds of a dying process).

use super::timings::{self, Timings};
use super::watch::{self, Repeat};
use super::{
    args::{Common, Format, OutputArgs, RunArgs},
    compile_query_timed, open_kernel_probed, Failure,
};
use bpfq_compiler::bpf::asm::Program;
use bpfq_compiler::pipeline::CompiledQuery;
use bpfq_runtime::execute::{load_failure_text, Prepared, RunOptions};
use bpfq_runtime::format::ChangeSink;
use bpfq_runtime::loader::LoadError;
use std::time::SystemTime;

pub fn run(
    query: &str,
    common: &Common,
    output: &OutputArgs,
    how: &RunArgs,
) -> Result<(), Failure> {
    let mut timings = Timings::new(how.timings);
    let result = run_timed(query, common, output, how, &mut timings);
    timings::report(&timings);
    result
}

fn run_timed(
    query: &str,
    common: &Common,
    output: &OutputArgs,
    how: &RunArgs,
    timings: &mut Timings,
) -> Result<(), Failure> {
    refuse_compile_only(common, "explain, targets")?;
    let kernel = timings.time("open BTF", || open_kernel_probed(None))?;
    let (compiled, _sources) = compile_query_timed(query, &kernel, common, timings)?;
    execute_query(&compiled, query, common, output, how, timings)
}

/// Refuses the options of compile-only commands in a command that runs a query (`btf_commands`:
/// the commands its `--btf` message names).
pub fn refuse_compile_only(common: &Common, btf_commands: &str) -> Result<(), Failure> {
    if common.btf.is_some() {
        return Err(Failure::Usage(format!(
            "--btf is for compile-only commands ({btf_commands}); a query runs against the running kernel"
        )));
    }
    if common.map_shape.is_some() {
        return Err(Failure::Usage(
            "--map-shape is for compile-only commands (explain, check); a query runs on a real map"
                .into(),
        ));
    }
    Ok(())
}

/// Loads `compiled` (from the source text `query`), runs it once or on the `--watch` schedule,
/// and formats its rows to standard output.
pub fn execute_query(
    compiled: &CompiledQuery,
    query: &str,
    common: &Common,
    output: &OutputArgs,
    how: &RunArgs,
    timings: &mut Timings,
) -> Result<(), Failure> {
    let repeat = Repeat::from_args(how);
    if repeat.is_some() && matches!(compiled, CompiledQuery::Join(_)) {
        return Err(Failure::Usage(
            "--watch and --count run single-source queries; a join loads one program per source"
                .into(),
        ));
    }
    let mut change_log = super::changes::change_log(how, compiled, query, repeat.is_some())?;
    let prepared = Prepared::new(compiled, query, run_options(common), timings)
        .map_err(super::output::run_failure)?;
    // One pointer key for every run, so a hidden address reads the same in each.
    let format = super::output::format_options(output);
    let mut once = || {
        let mut sink = super::output::row_sink(output, format);
        if let Some(log) = change_log.as_mut() {
            sink = Box::new(ChangeSink::new(log, sink, SystemTime::now()));
        }
        prepared
            .run(sink.as_mut(), timings)
            .map_err(super::output::run_failure)
    };
    match repeat {
        None => once().map(|_| ()),
        Some(mut repeat) => {
            // A change log in JSON Lines is one stream of changes, each line a document.
            repeat.separate_runs = !(how.changes && output.output == Format::Jsonl);
            watch::repeat(&repeat, query, &mut once)
        }
    }
    // `prepared` is dropped here, after every reader: every fd closes on every path.
}

/// The runtime's options from the command line's.
pub(super) fn run_options(common: &Common) -> RunOptions {
    RunOptions {
        verbose: common.verbose,
        ring_size: common.ring_size,
        group_entries: common.group_entries,
        max_join_rows: common.max_join_rows,
        notes: super::output::run_notes(common.verbose),
    }
}

/// A refusal of `program` in the user's terms (`bpfq pin`'s load).
pub(super) fn load_failure(
    err: LoadError,
    query: &str,
    program: &Program,
    verbose: bool,
) -> Failure {
    Failure::Runtime(load_failure_text(&err, query, program, verbose))
}
