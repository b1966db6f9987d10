//! `bpfq QUERY`: compile, load as an anonymous iterator, read binary rows, format them. Every
//! kernel object is held by an fd owned here, so it is released on every path, including early
//! exit (limit, closed pipe) and signals (the kernel closes the fds of a dying process).

use super::timings::{TimedSink, Timings};
use super::watch::{self, Repeat};
use super::{
    args::{Common, OutputArgs, RunArgs},
    compile_query_timed, open_kernel_probed, Failure,
};
use bpfq_compiler::bind::{IterParams, MapParam};
use bpfq_compiler::bpf::asm::Program;
use bpfq_compiler::bpf::insn::encode;
use bpfq_compiler::group_place::GroupPlace;
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::pipeline::{Compiled, CompiledQuery};
use bpfq_kernel::catalogue::RowTransport;
use bpfq_runtime::loader::{load_iter_program, IterProgramSpec, LoadError};
use bpfq_runtime::loader::{IterLink, LoadedProgram};
use bpfq_runtime::netns::all_network_namespaces;
use bpfq_runtime::pipeline::{stream_rows_of, StreamSummary};
use bpfq_runtime::verifier_report;
use bpfq_runtime::IterReader;
use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

pub fn run(
    query: &str,
    common: &Common,
    output: &OutputArgs,
    how: &RunArgs,
) -> Result<(), Failure> {
    let mut timings = Timings::new(how.timings);
    let result = run_timed(query, common, output, how, &mut timings);
    timings.report();
    result
}

fn run_timed(
    query: &str,
    common: &Common,
    output: &OutputArgs,
    how: &RunArgs,
    timings: &mut Timings,
) -> Result<(), Failure> {
    if common.btf.is_some() {
        return Err(Failure::Usage("--btf is for compile-only commands (explain, targets); a query runs against the running kernel".into()));
    }
    if common.map_shape.is_some() {
        return Err(Failure::Usage(
            "--map-shape is for compile-only commands (explain, check); a query runs on a real map"
                .into(),
        ));
    }
    let kernel = timings.time("open BTF", || open_kernel_probed(None))?;
    let (compiled, _sources) = compile_query_timed(query, &kernel, common, timings)?;
    execute_query(&compiled, query, common, output, how, timings)
}

/// Runs a compiled query: one program (`execute`) or a join (`run_join.rs`).
pub fn execute_query(
    compiled: &CompiledQuery,
    query: &str,
    common: &Common,
    output: &OutputArgs,
    how: &RunArgs,
    timings: &mut Timings,
) -> Result<(), Failure> {
    match compiled {
        CompiledQuery::Single(compiled) => execute(compiled, query, common, output, how, timings),
        CompiledQuery::Join(join) => {
            if Repeat::from_args(how).is_some() {
                return Err(Failure::Usage("--watch and --count run single-source queries; a join loads one program per source".into()));
            }
            super::run_join::run_join(join, query, common, output)
        }
    }
}

/// Loads `compiled` (from the source text `query`), reads it once or on the `--watch`
/// schedule, and formats its rows.
pub fn execute(
    compiled: &Compiled,
    query: &str,
    common: &Common,
    output: &OutputArgs,
    how: &RunArgs,
    timings: &mut Timings,
) -> Result<(), Failure> {
    if let Some(GroupPlace::Kernel(kernel)) = &compiled.plan.group_place {
        // Each run fills a group map of its own (`run_groups.rs`); --timings shows compile only.
        let mut once = || super::run_groups::run_groups(query, compiled, kernel, common, output);
        return match Repeat::from_args(how) {
            None => once().map(|_| ()),
            Some(repeat) => watch::repeat(&repeat, query, &mut once),
        };
    }
    if matches!(compiled.plan.rows_from, RowsFrom::MapWalk(_)) {
        // No program: each run walks the map's elements from user space.
        let mut once = || walk_map(compiled, output, timings);
        return match Repeat::from_args(how) {
            None => once().map(|_| ()),
            Some(repeat) => watch::repeat(&repeat, query, &mut once),
        };
    }
    if matches!(compiled.plan.rows_from, RowsFrom::SocketIterators(_)) {
        // One program per socket iterator, loaded once; each run reads new iterators of them.
        let links = timings.time("load (verifier)", || {
            super::socket_run::load(compiled, query, common)
        })?;
        let mut once = || -> Result<StreamSummary, Failure> {
            let mut readers =
                timings.time("iterator create", || links.open(compiled, query, common))?;
            stream_to_stdout(&mut readers, compiled, output, timings)
        };
        return match Repeat::from_args(how) {
            None => once().map(|_| ()),
            Some(repeat) => watch::repeat(&repeat, query, &mut once),
        };
    }
    if compiled.plan.target.transport == RowTransport::RingBuf {
        // Each run walks into a ring of its own (`run_ring.rs`); --timings shows compile only.
        let mut once = || super::run_ring::run_ring(query, compiled, common, output);
        return match Repeat::from_args(how) {
            None => once().map(|_| ()),
            Some(repeat) => watch::repeat(&repeat, query, &mut once),
        };
    }
    let (_program, link) = load_and_attach(compiled, query, common, timings)?;
    let failed = |e| load_failure(e, query, &compiled.program, common.verbose);
    let mut once = || -> Result<StreamSummary, Failure> {
        // Each run reads a new iterator of the same link: the program is loaded only once.
        let opened = timings.time("iterator create", || {
            open_iterators(&link, compiled.plan.iter_params.as_ref())
        });
        let mut readers = opened.map_err(|e| opening_failure(e, &failed))?;
        let mut sink = super::output::row_sink(output);
        let mut timed = TimedSink {
            inner: sink.as_mut(),
            spent: Duration::ZERO,
            enabled: timings.enabled(),
        };
        let started = Instant::now();
        let result = stream_rows_of(
            &mut readers,
            &compiled.layout,
            &compiled.plan.user,
            &mut timed,
        );
        let format_time = timed.spent;
        // A long dump is read ahead by a second thread: "read" is then the time spent waiting
        // for rows, not the whole time the kernel spent producing them.
        timings.record("read", started.elapsed().saturating_sub(format_time));
        timings.record("format", format_time);
        timings.count_run();
        result.map_err(super::output::stream_failure)
    };
    match Repeat::from_args(how) {
        None => once().map(|_| ()),
        Some(repeat) => watch::repeat(&repeat, query, &mut once),
    }
    // `link` and `program` are dropped here, after every reader: every fd closes on every path.
}

/// One run of a query whose rows come from a user-space walk of its map.
fn walk_map(
    compiled: &Compiled,
    output: &OutputArgs,
    timings: &mut Timings,
) -> Result<StreamSummary, Failure> {
    let mut walk = [super::map_run::walk_rows(compiled)?];
    stream_to_stdout(&mut walk, compiled, output, timings)
}

/// Reads `sources` one after the other and formats their rows to stdout.
fn stream_to_stdout<S: bpfq_runtime::row_source::RowSource>(
    sources: &mut [S],
    compiled: &Compiled,
    output: &OutputArgs,
    timings: &mut Timings,
) -> Result<StreamSummary, Failure> {
    let mut sink = super::output::row_sink(output);
    let mut timed = TimedSink {
        inner: sink.as_mut(),
        spent: Duration::ZERO,
        enabled: timings.enabled(),
    };
    let started = Instant::now();
    let result = stream_rows_of(sources, &compiled.layout, &compiled.plan.user, &mut timed);
    let format_time = timed.spent;
    timings.record("read", started.elapsed().saturating_sub(format_time));
    timings.record("format", format_time);
    timings.count_run();
    result.map_err(super::output::stream_failure)
}

/// Loads `compiled`'s program (seq transport) and creates its link, with the link info of its
/// parameters; a map's fd stays open until the link exists. Drop the link before the program.
pub(super) fn load_and_attach(
    compiled: &Compiled,
    query: &str,
    common: &Common,
    timings: &mut Timings,
) -> Result<(LoadedProgram, IterLink), Failure> {
    let insns = encode(&compiled.program.insns);
    load_and_attach_bytes(compiled, &insns, query, common, timings)
}

/// `load_and_attach` of `insns`, the program's wire form with its map fds patched in.
pub(super) fn load_and_attach_bytes(
    compiled: &Compiled,
    insns: &[u8],
    query: &str,
    common: &Common,
    timings: &mut Timings,
) -> Result<(LoadedProgram, IterLink), Failure> {
    let spec = IterProgramSpec {
        name: &compiled.prog_name,
        insns,
        license: "GPL",
        attach_btf_id: compiled.plan.target.attach_func.0,
    };
    let failed = |e| load_failure(e, query, &compiled.program, common.verbose);
    let program = timings
        .time("load (verifier)", || {
            load_iter_program(&spec, common.verbose)
        })
        .map_err(failed)?;
    // A map-element query's link info is an fd of its map, open until the link exists.
    let map_fd = match &compiled.plan.iter_params {
        Some(IterParams::Map(param)) => Some(super::map_run::open_for_link(param)?),
        _ => None,
    };
    let link_info = match (&compiled.plan.iter_params, &map_fd) {
        (_, Some(fd)) => Some(MapParam::link_info(fd.as_raw_fd() as u32)),
        (Some(params), None) => params.link_info(&cgroup_id_of).map_err(Failure::Runtime)?,
        (None, None) => None,
    };
    let link = timings
        .time("attach (link)", || program.attach(link_info.as_deref()))
        .map_err(failed)?;
    drop(map_fd);
    Ok((program, link))
}

pub(super) fn opening_failure(e: Opening, failed: &dyn Fn(LoadError) -> Failure) -> Failure {
    match e {
        Opening::Load(e) => failed(e),
        Opening::Namespaces(e) => {
            Failure::Runtime(format!("listing the network namespaces failed: {e}"))
        }
    }
}

pub(super) enum Opening {
    Load(LoadError),
    Namespaces(io::Error),
}

/// The iterators to read: one, created in this process's network namespace or the one
/// `netns = ...` names, or with `netns = all` one in each namespace of the machine.
pub(super) fn open_iterators(
    link: &IterLink,
    params: Option<&IterParams>,
) -> Result<Vec<IterReader>, Opening> {
    let Some(IterParams::Netns(ns)) = params else {
        return link.open().map(|r| vec![r]).map_err(Opening::Load);
    };
    if let Some(path) = ns.path() {
        let reader = link
            .open_in_netns(std::path::Path::new(&path))
            .map_err(Opening::Load)?;
        return Ok(vec![reader]);
    }
    let mut readers = Vec::new();
    for namespace in all_network_namespaces().map_err(Opening::Namespaces)? {
        use std::os::fd::AsFd;
        readers.push(
            link.open_in_net_namespace(namespace.file.as_fd())
                .map_err(Opening::Load)?,
        );
    }
    Ok(readers)
}

/// A cgroup's id: the inode number of its directory in the cgroup2 hierarchy.
pub(super) fn cgroup_id_of(path: &str) -> Result<u64, String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot use cgroup {path}: {e}"))?;
    if !meta.is_dir() {
        return Err(format!(
            "cannot use cgroup {path}: not a directory of the cgroup2 hierarchy"
        ));
    }
    Ok(meta.ino())
}

pub(super) fn load_failure(
    err: LoadError,
    query: &str,
    program: &Program,
    verbose: bool,
) -> Failure {
    // Which clause the verifier stopped in: the note of the instruction it stopped at.
    let stopped = err.failed_insn().and_then(|instruction| {
        program
            .note_at(instruction)
            .map(|clause| verifier_report::StoppedAt {
                instruction,
                clause,
            })
    });
    Failure::Runtime(verifier_report::report(&err, query, stopped, verbose))
}
