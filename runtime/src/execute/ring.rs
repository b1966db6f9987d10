//! Stage `load` + `read`, ring transport (`RowTransport::RingBuf`, iter/unix): a ring is created
//! and the program loaded with the ring's fd patched in, once; each walk empties the ring, reads
//! one iterator per namespace into it (every namespace of the machine with `netns = all`, one
//! after the other), and walks again with a ring twice as large (and the program loaded again
//! with it, then kept) while the program says it is full (`ring_walk.rs`). Guarantees: the rows
//! come from one complete walk; every iterator of a walk is closed before the ring is read.

use std::os::fd::{AsFd, AsRawFd};

use bpfq_compiler::bind::{IterParams, NetnsRef};
use bpfq_compiler::layout::SEGMENT_MAX;
use bpfq_compiler::pipeline::Compiled;

use std::cell::RefCell;

use super::attach::{attach_query, load_failure, Attached, MapFds};
use super::namespaces::Namespaces;
use super::timings::Timings;
use super::{Context, RunError};
use crate::grow::{warn_if_paused, Kept};
use crate::reader::SilentWalk;
use crate::ring_walk::{walk_into_ring, RingPair, RingWalkError, MAX_RING};
use crate::ringbuf::{ring_size_for, RowRing};
use crate::row_source::RingRows;

/// First ring when the number of objects cannot be estimated: about 30,000 rows of 128 bytes.
const DEFAULT_RING: u64 = 4 << 20;

/// A ring program and its ring, loaded once and kept between walks (a larger pair replaces
/// them when a walk fills the ring).
pub struct RingProgram {
    first: u64,
    kept: RefCell<Option<Kept<RingPair<Attached>>>>,
}

impl RingProgram {
    /// Creates the first ring (`--ring-size`, else sized from the kernel's count of objects)
    /// and loads and attaches `compiled`'s program with its fd; `maps` has the fds of the maps
    /// the program reads besides its ring.
    pub fn load(
        compiled: &Compiled,
        context: &Context<'_>,
        maps: MapFds,
        timings: &mut Timings,
    ) -> Result<RingProgram, RunError> {
        let first = ring_size_for(
            context
                .options
                .ring_size
                .unwrap_or_else(|| first_ring_size(compiled)),
        )
        .min(MAX_RING);
        let size = u32::try_from(first).unwrap_or(u32::MAX);
        let ring = RowRing::create(size).map_err(|err| RunError::Failed(err.to_string()))?;
        let program = load_with_ring(compiled, context, maps, &ring, timings)?;
        let kept = Kept {
            size: first,
            value: RingPair { program, ring },
        };
        Ok(RingProgram {
            first,
            kept: RefCell::new(Some(kept)),
        })
    }

    /// The rows of one walk of every namespace of `namespaces`, in order, all in the kept ring
    /// (grown until they fit).
    pub fn walk(
        &self,
        compiled: &Compiled,
        context: &Context<'_>,
        namespaces: &Namespaces,
        maps: MapFds,
        timings: &mut Timings,
    ) -> Result<RingRows, RunError> {
        let notes = &context.options.notes;
        let timings = RefCell::new(timings);
        let load = |ring: &RowRing| {
            load_with_ring(compiled, context, maps, ring, &mut timings.borrow_mut())
        };
        let walk_once = |attached: &Attached| -> Result<SilentWalk, RunError> {
            let mut walked = SilentWalk::default();
            for index in 0..namespaces.len() {
                let timings = &mut timings.borrow_mut();
                let mut reader = timings
                    .time("iterator create", || namespaces.open(&attached.link, index))
                    .map_err(|e| {
                        load_failure(e, context.query, &compiled.program, context.options.verbose)
                    })?;
                // The iterator closes at the end of the loop body, before the ring is read.
                let walk = timings
                    .time("read", || reader.walk_silent())
                    .map_err(|err| RunError::Failed(err.to_string()))?;
                walked.pauses += walk.pauses;
                if walk.overflowed {
                    walked.overflowed = true;
                    break;
                }
            }
            Ok(walked)
        };
        let on_full = |old: u32, new: u32| {
            notes.verbose(format!(
                "the {} KiB ring buffer filled up; walking again with {} KiB",
                old >> 10,
                new >> 10
            ));
        };
        let mut kept = self.kept.borrow_mut();
        let (rows, summary) = walk_into_ring(&mut kept, self.first, load, walk_once, on_full)
            .map_err(|err| match err {
                RingWalkError::Walk(failure) => failure,
                RingWalkError::Ring(err) => RunError::Failed(err.to_string()),
                too_many @ RingWalkError::TooManyRows { .. } => {
                    RunError::Failed(too_many.map_walk(|_| "").to_string())
                }
            })?;
        notes.verbose(format!(
            "rows via a {} KiB ring buffer: {} bytes of records, {} walk(s)",
            summary.ring_size >> 10,
            summary.used,
            summary.walks
        ));
        let target = &compiled.plan.target;
        warn_if_paused(summary.pauses, &target.name, target.transport, notes);
        Ok(rows)
    }
}

/// Loads and attaches `compiled`'s program with `ring`'s fd patched in.
fn load_with_ring(
    compiled: &Compiled,
    context: &Context<'_>,
    maps: MapFds,
    ring: &RowRing,
    timings: &mut Timings,
) -> Result<Attached, RunError> {
    let maps = MapFds {
        ring: ring.as_fd().as_raw_fd(),
        ..maps
    };
    attach_query(
        compiled,
        maps,
        context.query,
        context.options.verbose,
        timings,
    )
}

/// A ring for about 1.5 times the objects the kernel counts now (more may appear before the
/// walk; a ring that fills up costs one more walk), or `DEFAULT_RING`.
fn first_ring_size(compiled: &Compiled) -> u64 {
    let size = u64::from(compiled.plan.layout.size);
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
