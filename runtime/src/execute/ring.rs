//! Stage `load` + `read`, ring transport (`RowTransport::RingBuf`, iter/unix): for each
//! namespace a ring is created, the program loaded with the ring's fd patched in, every object
//! walked in one read, and the walk run again with a ring twice as large while the program
//! says it is full (`ring_walk.rs`). Guarantees: each namespace's rows come from one complete
//! walk; program, link and iterator of an attempt are closed before its ring is read.

use std::os::fd::{AsFd, AsRawFd};

use bpfq_compiler::bind::{IterParams, NetnsRef};
use bpfq_compiler::layout::SEGMENT_MAX;
use bpfq_compiler::pipeline::Compiled;

use super::attach::{attach_query, load_failure, MapFds};
use super::namespaces::Namespaces;
use super::timings::Timings;
use super::{Context, RunError};
use crate::grow::warn_if_paused;
use crate::ring_walk::{walk_into_ring, RingWalkError};
use crate::ringbuf::RowRing;
use crate::row_source::RingRows;

/// First ring when the number of objects cannot be estimated: about 30,000 rows of 128 bytes.
const DEFAULT_RING: u64 = 4 << 20;

/// The rows of one walk per namespace of `namespaces`, each in a ring of its own; `maps` has
/// the fds of the maps the program reads besides its ring.
pub fn walk(
    compiled: &Compiled,
    context: &Context<'_>,
    namespaces: &Namespaces,
    maps: MapFds,
    timings: &mut Timings,
) -> Result<Vec<RingRows>, RunError> {
    (0..namespaces.len())
        .map(|index| walk_namespace(compiled, context, namespaces, index, maps, timings))
        .collect()
}

/// The rows of the `index`th namespace in a ring, grown until they fit.
fn walk_namespace(
    compiled: &Compiled,
    context: &Context<'_>,
    namespaces: &Namespaces,
    index: usize,
    maps: MapFds,
    timings: &mut Timings,
) -> Result<RingRows, RunError> {
    let verbose = context.options.verbose;
    let walk_once = |ring: &RowRing| -> Result<_, RunError> {
        let maps = MapFds {
            ring: ring.as_fd().as_raw_fd(),
            ..maps
        };
        let attached = attach_query(compiled, maps, context.query, verbose, timings)?;
        let mut reader = timings
            .time("iterator create", || namespaces.open(&attached.link, index))
            .map_err(|e| load_failure(e, context.query, &compiled.program, verbose))?;
        // Reader, link and program close at the end of the closure, before the ring is read.
        timings
            .time("read", || reader.walk_silent())
            .map_err(|err| RunError::Failed(err.to_string()))
    };
    let first = context
        .options
        .ring_size
        .unwrap_or_else(|| first_ring_size(compiled));
    let on_full = |old: u32, new: u32| {
        if verbose {
            eprintln!(
                "bpfq: the {} KiB ring buffer filled up; walking again with {} KiB",
                old >> 10,
                new >> 10
            );
        }
    };
    let (rows, summary) = walk_into_ring(first, walk_once, on_full).map_err(|err| match err {
        RingWalkError::Walk(failure) => failure,
        RingWalkError::Ring(err) => RunError::Failed(err.to_string()),
        too_many @ RingWalkError::TooManyRows { .. } => {
            RunError::Failed(too_many.map_walk(|_| "").to_string())
        }
    })?;
    if verbose {
        eprintln!(
            "bpfq: rows via a {} KiB ring buffer: {} bytes of records, {} walk(s)",
            summary.ring_size >> 10,
            summary.used,
            summary.walks
        );
    }
    let target = &compiled.plan.target;
    warn_if_paused(summary.pauses, &target.name, target.transport);
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
