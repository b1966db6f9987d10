//! `bpfq QUERY` on a target whose rows travel through a ring buffer (`RowTransport::RingBuf`,
//! iter/unix): create a ring, load the program with the ring's fd patched in, walk every object
//! in one read, and walk again with a ring twice as large if the program said it was full; then
//! stream the ring's rows like seq rows. Every fd and mapping is owned here or below, so all
//! are released on every path (the kernel closes them if the process dies).

use super::{
    args::{Common, OutputArgs},
    run::{cgroup_id_of, load_failure},
    Failure,
};
use bpfq_compiler::bind::{IterParams, NetnsRef};
use bpfq_compiler::ir::MapRef;
use bpfq_compiler::layout::SEGMENT_MAX;
use bpfq_compiler::pipeline::Compiled;
use bpfq_runtime::loader::{load_iter_program, IterProgramSpec};
use bpfq_runtime::netns::all_network_namespaces;
use bpfq_runtime::pipeline::{stream_rows_of, StreamSummary};
use bpfq_runtime::ring_walk::{walk_into_ring, RingWalkError};
use bpfq_runtime::ringbuf::RowRing;
use bpfq_runtime::row_source::RingRows;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};

/// First ring when the number of objects cannot be estimated: about 30,000 rows of 128 bytes.
const DEFAULT_RING: u64 = 4 << 20;

/// One walk per network namespace (`netns = all`: each of the machine's, rows concatenated;
/// otherwise the one named, or ours), then the rows streamed to the output.
pub fn run_ring(
    query: &str,
    compiled: &Compiled,
    common: &Common,
    output: &OutputArgs,
) -> Result<StreamSummary, Failure> {
    let mut rows = ring_rows(query, compiled, common)?;
    let mut sink = super::output::row_sink(output);
    stream_rows_of(
        &mut rows,
        &compiled.layout,
        &compiled.plan.user,
        sink.as_mut(),
    )
    .map_err(super::output::stream_failure)
}

/// The rows of every namespace the query reads, each in a ring of its own.
pub(super) fn ring_rows(
    query: &str,
    compiled: &Compiled,
    common: &Common,
) -> Result<Vec<RingRows>, Failure> {
    ring_rows_with_map(
        query,
        compiled,
        common,
        bpfq_compiler::bpf::asm::MAP_FD_PLACEHOLDER,
    )
}

/// `ring_rows` of a program that also reads the map `socket_map` (an fd, patched in at each
/// load: the sk_storage map or the socket keys of the unix program of a query read through
/// socket iterators, `socket_run.rs`).
pub(super) fn ring_rows_with_map(
    query: &str,
    compiled: &Compiled,
    common: &Common,
    socket_map: i32,
) -> Result<Vec<RingRows>, Failure> {
    let namespaces: Vec<Option<File>> = match &compiled.plan.iter_params {
        Some(IterParams::Netns(NetnsRef::All)) => all_network_namespaces()
            .map_err(|e| Failure::Runtime(format!("listing the network namespaces failed: {e}")))?
            .into_iter()
            .map(|ns| Some(ns.file))
            .collect(),
        Some(IterParams::Netns(ns)) => {
            let path = ns.path().unwrap_or_default();
            let file = File::open(&path).map_err(|e| {
                Failure::Runtime(format!("opening the network namespace {path}: {e}"))
            })?;
            vec![Some(file)]
        }
        _ => vec![None],
    };
    let mut rows = Vec::with_capacity(namespaces.len());
    for namespace in &namespaces {
        rows.push(walk_namespace(
            query,
            compiled,
            common,
            namespace.as_ref(),
            socket_map,
        )?);
    }
    Ok(rows)
}

/// The rows of one namespace (`None`: this process's) in a ring, grown until they fit.
fn walk_namespace(
    query: &str,
    compiled: &Compiled,
    common: &Common,
    namespace: Option<&File>,
    socket_map: i32,
) -> Result<RingRows, Failure> {
    let link_info = match &compiled.plan.iter_params {
        Some(params) => params.link_info(&cgroup_id_of).map_err(Failure::Runtime)?,
        None => None,
    };
    let walk_once = |ring: &RowRing| -> Result<_, Failure> {
        let fd = ring.as_fd().as_raw_fd();
        let insns = compiled.program.to_bytes_with_maps(|map| match map {
            MapRef::RowRing => fd,
            // Only a kernel-grouped program (`run_groups.rs`) references a group map.
            MapRef::Groups => bpfq_compiler::bpf::asm::MAP_FD_PLACEHOLDER,
            // Only text-output programs (`bpfq pin`) print through a format map.
            MapRef::Formats => bpfq_compiler::bpf::asm::MAP_FD_PLACEHOLDER,
            // Only the socket iterator programs of sk_storage and sockmap queries
            // (`socket_run.rs`).
            MapRef::SkStorage | MapRef::SocketKeys => socket_map,
        });
        let spec = IterProgramSpec {
            name: &compiled.prog_name,
            insns: &insns,
            license: "GPL",
            attach_btf_id: compiled.plan.target.attach_func.0,
        };
        let failure = |e| load_failure(e, query, &compiled.program, common.verbose);
        let program = load_iter_program(&spec, common.verbose).map_err(failure)?;
        let link = program.attach(link_info.as_deref()).map_err(failure)?;
        let mut reader = match namespace {
            Some(file) => link.open_in_net_namespace(file.as_fd()),
            None => link.open(),
        }
        .map_err(failure)?;
        // Dropped in this order at the end of the closure, before the ring is read.
        reader
            .walk_silent()
            .map_err(|err| Failure::Runtime(err.to_string()))
    };
    let first = common
        .ring_size
        .unwrap_or_else(|| first_ring_size(compiled));
    let on_full = |old: u32, new: u32| {
        if common.verbose {
            eprintln!(
                "bpfq: the {} KiB ring buffer filled up; walking again with {} KiB",
                old >> 10,
                new >> 10
            );
        }
    };
    let (rows, summary) = walk_into_ring(first, walk_once, on_full).map_err(|err| match err {
        RingWalkError::Walk(failure) => failure,
        RingWalkError::Ring(err) => Failure::Runtime(err.to_string()),
        too_many @ RingWalkError::TooManyRows { .. } => {
            Failure::Runtime(too_many.map_walk(|_| "").to_string())
        }
    })?;
    if common.verbose {
        eprintln!(
            "bpfq: rows via a {} KiB ring buffer: {} bytes of records, {} walk(s)",
            summary.ring_size >> 10,
            summary.used,
            summary.walks
        );
    }
    if summary.pauses > 0 {
        eprintln!(
            "bpfq: warning: the kernel paused the walk {} time(s) after 1,000,000 objects; \
             iter/{} resumes at the next hash bucket, so rows of the bucket it paused in may be missing",
            summary.pauses, compiled.plan.target.name
        );
    }

    Ok(rows)
}

/// A ring for about 1.5 times the objects the kernel counts now (more may appear before the
/// walk; a ring that fills up costs one more walk), or `DEFAULT_RING`.
fn first_ring_size(compiled: &Compiled) -> u64 {
    let size = u64::from(compiled.layout.size);
    // Each record (one per <= SEGMENT_MAX-byte segment) has an 8-byte header and pads to 8.
    let record_bytes = size + 16 * size.div_ceil(u64::from(SEGMENT_MAX)).max(1);
    let netns = match &compiled.plan.iter_params {
        Some(IterParams::Netns(ns)) => Some(ns),
        _ => None,
    };
    match expected_objects(&compiled.plan.target.name, netns) {
        Some(count) => (count + 64) * record_bytes * 3 / 2,
        None => DEFAULT_RING,
    }
}

/// The kernel's count of the target's objects in the namespace the iterator will show, when
/// it keeps one (`TargetFacts::object_count` names the /proc/PID/net file and how to read it).
fn expected_objects(target: &str, netns: Option<&NetnsRef>) -> Option<u64> {
    let count = bpfq_kernel::catalogue::facts_of(target).object_count?;
    let file = match netns {
        None => format!("/proc/self/net/{}", count.proc_net_file),
        Some(NetnsRef::Pid(pid)) => format!("/proc/{pid}/net/{}", count.proc_net_file),
        Some(NetnsRef::Path(_)) | Some(NetnsRef::All) => return None,
    };
    (count.parse)(&std::fs::read_to_string(file).ok()?)
}
