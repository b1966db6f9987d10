//! `bpfq explain`: compiles a query (given, or one of a query file's: `-f FILE [NAME]`) and
//! shows every stage's output — plan, IR, BPF listing, row layout — without loading anything
//! into the kernel; for an older kernel (`--btf`, or the running one) first the variants its
//! features made the compiler choose.

use super::queryfile::compile_from_file;
use super::timings::Timings;
use super::{args::Common, compile_query, features_for, open_kernel_probed, Failure};
use bpfq_compiler::bpf::disasm::disassemble;
use bpfq_compiler::ir::MapRef;
use bpfq_compiler::layout::RowLayout;
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::pipeline::{Compiled, CompiledQuery};
use bpfq_compiler::socket_storage::SocketLookup;
use bpfq_compiler::variants::{older_variants, path_variants};
use bpfq_kernel::catalogue::RowTransport;
use bpfq_kernel::{helpers, KernelFeatures};
use std::fmt::Write;
use std::path::Path;

pub fn explain(query: &str, common: &Common) -> Result<(), Failure> {
    let kernel = open_kernel_probed(common.btf.as_deref())?;
    let (compiled, _sources) = compile_query(query, &kernel, common)?;
    let features = features_for(&kernel, common)?;
    super::output::print(explain_compiled(&compiled, &features).as_bytes())
}

/// `bpfq explain -f FILE [NAME]`: a query of a file, compiled as `bpfq run FILE NAME` would.
pub fn explain_file(path: &Path, name: Option<&str>, common: &Common) -> Result<(), Failure> {
    let kernel = open_kernel_probed(common.btf.as_deref())?;
    let mut timings = Timings::new(false);
    let (compiled, _text) = compile_from_file(path, name, common, &kernel, &mut timings)?;
    let features = features_for(&kernel, common)?;
    super::output::print(explain_compiled(&compiled, &features).as_bytes())
}

fn explain_compiled(compiled: &CompiledQuery, features: &KernelFeatures) -> String {
    let mut out = String::new();
    // What an older kernel gets instead of the newest instructions, and why (nothing on 6.6+).
    let mut variants = older_variants(features);
    let plans: Vec<&Compiled> = match compiled {
        CompiledQuery::Single(compiled) => vec![compiled],
        CompiledQuery::Join(join) => join.sides.iter().collect(),
    };
    for one in plans {
        variants.extend(path_variants(&one.plan, features));
    }
    if !variants.is_empty() {
        let _ = writeln!(
            out,
            "== variants for this kernel\n{}\n",
            variants.join("\n")
        );
    }
    match compiled {
        CompiledQuery::Single(compiled) => explain_one(&mut out, compiled),
        CompiledQuery::Join(join) => {
            let _ = writeln!(
                out,
                "== join ({} programs, run one after the other, then joined in user space)\n{}",
                join.sides.len(),
                join.join.describe()
            );
            for (name, side) in join.join.names.iter().zip(&join.sides) {
                let _ = writeln!(out, "==== source `{name}`");
                explain_one(&mut out, side);
            }
        }
    }
    out
}

fn explain_one(out: &mut String, compiled: &Compiled) {
    let _ = writeln!(out, "== plan\n{}", compiled.plan.describe());
    if matches!(compiled.plan.rows_from, RowsFrom::MapWalk(_)) {
        let _ = writeln!(
            out,
            "== program\nnone: the rows are computed in user space from each element's key and value\n"
        );
        let _ = write!(
            out,
            "== row layout\n{}",
            describe_layout(&compiled.plan.layout)
        );
        return;
    }
    if let RowsFrom::SocketIterators(sockets) = &compiled.plan.rows_from {
        for socket in &compiled.socket_programs {
            let _ = writeln!(
                out,
                "== program {}\nname {}, attach to BTF FUNC bpf_iter_{} {}, license GPL, {} \
                 instructions\nmaps: {}{}; their fds replace map[fd:-1]",
                socket.target.name,
                socket.prog_name,
                socket.target.name,
                socket.target.attach_func,
                socket.program.insns.len(),
                match sockets.lookup {
                    SocketLookup::SkStorage =>
                        "the query's map (BPF_MAP_TYPE_SK_STORAGE, opened at run time)".to_string(),
                    SocketLookup::SockmapKey { .. } => format!(
                        "{} (BPF_MAP_TYPE_HASH, the socket cookie -> key of each socket of the \
                         query's sockmap, created and filled at run time)",
                        bpfq_runtime::socket_keys::MAP_NAME
                    ),
                },
                if socket.target.transport == RowTransport::RingBuf {
                    ", bpfq_rows (BPF_MAP_TYPE_RINGBUF, created at run time)"
                } else {
                    ""
                }
            );
            let _ = writeln!(out, "\n== IR\n{}", socket.ir);
            let _ = writeln!(
                out,
                "== BPF\n{}",
                disassemble(&socket.program, &helper_name)
            );
        }
        let _ = write!(
            out,
            "== row layout\n{}",
            describe_layout(&compiled.plan.layout)
        );
        return;
    }
    let _ = writeln!(
        out,
        "== program\nname {}, attach to BTF FUNC bpf_iter_{} {}, license GPL, {} instructions",
        compiled.prog_name,
        compiled.plan.target.name,
        compiled.plan.target.attach_func,
        compiled.program.insns.len()
    );
    if let Some(first) = compiled.program.relocations.first() {
        let (name, kind) = match first.map {
            MapRef::RowRing => (bpfq_runtime::ringbuf::RING_NAME, "BPF_MAP_TYPE_RINGBUF"),
            MapRef::Groups => (bpfq_runtime::execute::GROUP_MAP_NAME, "BPF_MAP_TYPE_HASH"),
            // Only `bpfq pin`/`compile` build text programs; explain shows binary ones.
            MapRef::Formats => ("bpfq_formats", "BPF_MAP_TYPE_ARRAY, read-only"),
            MapRef::SkStorage => ("the query's map", "BPF_MAP_TYPE_SK_STORAGE"),
            MapRef::SocketKeys => (
                bpfq_runtime::socket_keys::MAP_NAME,
                "BPF_MAP_TYPE_HASH, socket cookie -> sockmap key",
            ),
        };
        let _ = writeln!(
            out,
            "maps: {name} ({kind}, created at run time; its fd replaces map[fd:-1] at {})",
            compiled
                .program
                .relocations
                .iter()
                .map(|r| format!("instruction {}", r.slot))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(out, "\n== IR\n{}", compiled.ir);
    let _ = writeln!(
        out,
        "== BPF\n{}",
        disassemble(&compiled.program, &helper_name)
    );
    let _ = write!(
        out,
        "== row layout\n{}",
        describe_layout(&compiled.plan.layout)
    );
}

/// `bpf_<name>` for the helpers bpfq calls, for the listing.
fn helper_name(id: i32) -> Option<String> {
    helpers::ALL
        .iter()
        .find(|(_, known)| i64::from(*known) == i64::from(id))
        .map(|(name, _)| format!("bpf_{name}"))
}

pub fn describe_layout(layout: &RowLayout) -> String {
    let mut out = format!("{} bytes per row\n", layout.size);
    for column in &layout.columns {
        let flag = column
            .null_flag
            .map(|f| format!(", NULL when byte {f} is 1"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  [{:>3}..{:>3}) {:<16} {:?}{flag}",
            column.offset,
            column.offset + column.kind.width(),
            column.name,
            column.kind
        );
    }
    out
}
