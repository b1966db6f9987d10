//! `bpfq QUERY`: compile, load as an anonymous iterator, read binary rows, format them. Every
//! kernel object is held by an fd owned here, so it is released on every path, including early
//! exit (limit, closed pipe) and signals (the kernel closes the fds of a dying process).

use super::{
    args::{Common, OutputArgs},
    compile_query, open_btf, Failure,
};
use bpfq_compiler::bind::IterParams;
use bpfq_compiler::bpf::asm::Program;
use bpfq_compiler::bpf::insn::encode;
use bpfq_compiler::layout::RowLayout;
use bpfq_compiler::pipeline::{Compiled, CompiledQuery};
use bpfq_runtime::format::{new_sink, FormatOptions};
use bpfq_runtime::join::{hash_join, result_layout};
use bpfq_runtime::loader::{load_iter_program, IterProgramSpec, LoadError};
use bpfq_runtime::loader::{IterLink, LoadedProgram};
use bpfq_runtime::pipeline::stream_rows;
use bpfq_runtime::pipeline::{read_all, write_rows};
use bpfq_runtime::reader::IterReader;
use std::io;

/// One source's program, loaded and attached, with its iterator open. Fields drop in order:
/// the iterator, then the link, then the program.
struct Opened {
    reader: IterReader,
    _link: IterLink,
    _program: LoadedProgram,
}

fn open(compiled: &Compiled, query: &str, common: &Common) -> Result<Opened, Failure> {
    let insns = encode(&compiled.program.insns);
    let spec = IterProgramSpec {
        name: &compiled.prog_name,
        insns: &insns,
        license: "GPL",
        attach_btf_id: compiled.plan.target.attach_func.0,
    };
    let program = load_iter_program(&spec, common.verbose)
        .map_err(|e| load_failure(e, query, &compiled.program, common.verbose))?;
    let link_info = match &compiled.plan.iter_params {
        Some(params) => params.link_info(&cgroup_id_of).map_err(Failure::Runtime)?,
        None => None,
    };
    let link = program
        .attach(link_info.as_deref())
        .map_err(|e| load_failure(e, query, &compiled.program, common.verbose))?;
    let opened = match &compiled.plan.iter_params {
        Some(IterParams::Netns(ns)) => link.open_in_netns(std::path::Path::new(&ns.path())),
        _ => link.open(),
    };
    let reader = opened.map_err(|e| load_failure(e, query, &compiled.program, common.verbose))?;
    Ok(Opened {
        reader,
        _link: link,
        _program: program,
    })
}

pub fn run(query: &str, common: &Common, output: &OutputArgs) -> Result<(), Failure> {
    if common.btf.is_some() {
        return Err(Failure::Usage("--btf is for compile-only commands (explain, targets); a query runs against the running kernel".into()));
    }
    let btf = open_btf(None)?;
    let (compiled, _sources) = compile_query(query, &btf, common)?;

    let stdout = io::stdout().lock();
    let out = io::BufWriter::with_capacity(64 * 1024, stdout);
    let options = FormatOptions {
        header: !output.no_header,
        show_kptrs: output.show_kptrs,
        ..FormatOptions::default()
    };
    let format = super::output_format(output);
    let mut sink = new_sink(format, out, options);
    let result = match &compiled {
        CompiledQuery::Single(compiled) => {
            let mut opened = open(compiled, query, common)?;
            stream_rows(
                &mut opened.reader,
                &compiled.layout,
                &compiled.plan.user,
                sink.as_mut(),
            )
        }
        CompiledQuery::Join(join) => {
            // One source after the other: each program is unloaded before the next loads.
            let mut rows = Vec::new();
            for side in &join.sides {
                let mut opened = open(side, query, common)?;
                rows.push(
                    read_all(
                        &mut opened.reader,
                        &side.layout,
                        side.plan.user.drop_repeated_last,
                    )
                    .map_err(|err| Failure::Runtime(err.to_string()))?,
                );
            }
            let layouts: Vec<&RowLayout> = join.sides.iter().map(|s| &s.layout).collect();
            let joined = hash_join(&join.join, &rows[0], &rows[1]);
            write_rows(
                joined,
                &result_layout(&join.join, &layouts),
                &join.join.order_by,
                join.join.limit,
                &join.join.visible,
                sink.as_mut(),
            )
        }
    };
    result
        .map(|_| ())
        .map_err(|err| Failure::Runtime(err.to_string()))
}

/// A cgroup's id: the inode number of its directory in the cgroup2 hierarchy.
fn cgroup_id_of(path: &str) -> Result<u64, String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot use cgroup {path}: {e}"))?;
    if !meta.is_dir() {
        return Err(format!(
            "cannot use cgroup {path}: not a directory of the cgroup2 hierarchy"
        ));
    }
    Ok(meta.ino())
}

fn load_failure(err: LoadError, query: &str, program: &Program, verbose: bool) -> Failure {
    match &err {
        LoadError::Verifier { log, .. } => {
            let detail = if verbose {
                log.clone()
            } else {
                err.verifier_tail(8).unwrap_or_default()
            };
            let clause = err
                .failed_insn()
                .and_then(|at| {
                    program
                        .note_at(at)
                        .map(|note| format!("\nit stopped at instruction {at}, from: {note}"))
                })
                .unwrap_or_default();
            let hint = if verbose {
                ""
            } else {
                "\n(run with --verbose for the full verifier log)"
            };
            Failure::Runtime(format!(
                "the kernel's verifier refused the program compiled from:\n  {query}{clause}\nverifier says:\n{detail}{hint}\nthis is a bug in bpfq: please report it with the output of `bpfq explain`"
            ))
        }
        _ => Failure::Runtime(err.to_string()),
    }
}
