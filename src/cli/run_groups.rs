//! `bpfq QUERY` for a query grouped in the kernel (`GroupPlace::Kernel`): create the group map
//! (`bpfq_groups`), load the program with the map's fd patched in, walk every object (every
//! namespace with `netns = all`) with no output, and walk again with a map twice as large when
//! the program said the map was full; then read the groups and run `having`, sort, limit and
//! the output. Every fd is owned here, so program, link, iterators and map are released on
//! every path (the kernel closes them if the process dies).

use super::{
    args::{Common, OutputArgs},
    run::{load_failure, open_iterators, opening_failure, Opening},
    timings::Timings,
    Failure,
};
use bpfq_compiler::group_place::{KernelGrouping, MAX_ENTRIES};
use bpfq_compiler::ir::MapRef;
use bpfq_compiler::pipeline::Compiled;
use bpfq_runtime::caps::{self, Needs};
use bpfq_runtime::group::Grouper;
use bpfq_runtime::group_map::read_groups;
use bpfq_runtime::pipeline::{write_groups, StreamSummary};
use bpfq_runtime::sys::HashMapFd;
use std::os::fd::{AsFd, AsRawFd};

/// The kernel name of the group map (and the prefix the leak tests look for).
pub(super) const MAP_NAME: &str = "bpfq_groups";

/// Walks into a group map grown until the groups fit, then writes the groups out.
pub fn run_groups(
    query: &str,
    compiled: &Compiled,
    kernel: &KernelGrouping,
    common: &Common,
    output: &OutputArgs,
) -> Result<StreamSummary, Failure> {
    let Some(grouping) = &compiled.plan.user.grouping else {
        return Err(Failure::Runtime(
            "internal error (this is a bug in bpfq): kernel grouping without a grouping".into(),
        ));
    };
    let mut entries = common
        .group_entries
        .unwrap_or(kernel.first_entries)
        .min(MAX_ENTRIES);
    let mut walks = 1;
    let map = loop {
        let map = HashMapFd::create(MAP_NAME, kernel.key_size, kernel.value_size, entries)
            .map_err(|e| {
                Failure::Runtime(caps::failure_text(
                    "create the group map",
                    &e,
                    Needs::Tracing,
                ))
            })?;
        if !walk(query, compiled, common, &map)? {
            break map;
        }
        drop(map);
        if entries >= MAX_ENTRIES {
            return Err(Failure::Runtime(format!(
                "the groups do not fit the largest group map bpfq creates ({MAX_ENTRIES} entries)"
            )));
        }
        let next = entries.saturating_mul(2).min(MAX_ENTRIES);
        if common.verbose {
            eprintln!(
                "bpfq: the group map of {entries} entries filled up; walking again with {next}"
            );
        }
        entries = next;
        walks += 1;
    };
    let mut grouper = Grouper::new(grouping, &compiled.layout);
    let groups = read_groups(&map, kernel, &compiled.layout, &mut grouper)
        .map_err(|e| Failure::Runtime(format!("reading the group map failed: {e}")))?;
    drop(map);
    if common.verbose {
        eprintln!("bpfq: {groups} group(s) in a map of {entries} entries, {walks} walk(s)");
    }
    let mut sink = super::output::row_sink(output);
    write_groups(
        grouper,
        &compiled.layout,
        &compiled.plan.user,
        sink.as_mut(),
    )
    .map_err(super::output::stream_failure)
}

/// One walk of every iterator the query reads into `map`; true when the program reported the
/// map full (the groups are then incomplete and the walk must be run again).
fn walk(
    query: &str,
    compiled: &Compiled,
    common: &Common,
    map: &HashMapFd,
) -> Result<bool, Failure> {
    let fd = map.as_fd().as_raw_fd();
    let insns = compiled.program.to_bytes_with_maps(|map| match map {
        MapRef::Groups => fd,
        // A kernel-grouped program writes no rows, so it references no ring and no formats.
        MapRef::RowRing | MapRef::Formats | MapRef::SkStorage | MapRef::SocketKeys => {
            bpfq_compiler::bpf::asm::MAP_FD_PLACEHOLDER
        }
    });
    let mut timings = Timings::new(false);
    let (_program, link) =
        super::run::load_and_attach_bytes(compiled, &insns, query, common, &mut timings)?;
    let failed = |e| load_failure(e, query, &compiled.program, common.verbose);
    let mut readers = open_iterators(&link, compiled.plan.iter_params.as_ref())
        .map_err(|e: Opening| opening_failure(e, &failed))?;
    let mut pauses = 0;
    for reader in &mut readers {
        let walked = reader
            .walk_silent()
            .map_err(|err| Failure::Runtime(err.to_string()))?;
        if walked.overflowed {
            return Ok(true);
        }
        pauses += walked.pauses;
    }
    if pauses > 0 && compiled.plan.target.facts().seq_loses_objects {
        eprintln!(
            "bpfq: warning: the kernel paused the walk {pauses} time(s) after 1,000,000 objects; \
             iter/unix resumes at the next hash bucket, so objects of the bucket it paused in may be missing"
        );
    }
    Ok(false)
    // Readers, link and program close here, before the map is read.
}
