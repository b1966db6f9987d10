//! Stage `load` + `read`, a query grouped in the kernel (`GroupPlace::Kernel`): the group map
//! (`bpfq_groups`) is created, the program loaded with its fd patched in, every object walked
//! (every namespace with `netns = all`) with no output, and the walk run again with a map twice
//! as large while the program says the map is full (`grow.rs`); then the groups are read back.
//! Guarantees: the groups come from one complete walk; program, link and iterators are closed
//! before the map is read, and the map before the groups are handed back.

use std::os::fd::{AsFd, AsRawFd};

use bpfq_compiler::group_place::{KernelGrouping, MAX_ENTRIES};
use bpfq_compiler::pipeline::Compiled;

use super::attach::{attach_query, load_failure, MapFds};
use super::namespaces::Namespaces;
use super::timings::Timings;
use super::{Context, RunError};
use crate::caps::{self, Needs};
use crate::group::Grouper;
use crate::group_map::read_groups;
use crate::grow::{until_fits, warn_if_paused, Attempt, GrowError};
use crate::sys::HashMapFd;

/// The kernel name of the group map (and the prefix the leak tests look for).
pub const GROUP_MAP_NAME: &str = "bpfq_groups";

/// The groups of one walk of `compiled`, in a group map grown until they fit.
pub fn walk<'c>(
    compiled: &'c Compiled,
    kernel: &KernelGrouping,
    context: &Context<'_>,
    timings: &mut Timings,
) -> Result<Grouper<'c>, RunError> {
    let Some(grouping) = &compiled.plan.user.grouping else {
        return Err(RunError::Failed(
            "internal error (this is a bug in bpfq): kernel grouping without a grouping".into(),
        ));
    };
    let verbose = context.options.verbose;
    let first = context
        .options
        .group_entries
        .unwrap_or(kernel.first_entries);
    let attempt = |entries: u64| -> Result<Attempt<(HashMapFd, u32)>, RunError> {
        let entries = u32::try_from(entries).unwrap_or(MAX_ENTRIES);
        let map = HashMapFd::create(GROUP_MAP_NAME, kernel.key_size, kernel.value_size, entries)
            .map_err(|e| {
                RunError::Failed(caps::failure_text(
                    "create the group map",
                    &e,
                    Needs::Tracing,
                ))
            })?;
        Ok(match walk_into(compiled, context, &map, timings)? {
            Some(pauses) => Attempt::Fits((map, pauses)),
            None => Attempt::Full,
        })
    };
    let on_full = |entries: u64, next: u64| {
        if verbose {
            eprintln!(
                "bpfq: the group map of {entries} entries filled up; walking again with {next}"
            );
        }
    };
    let grown =
        until_fits(u64::from(first), u64::from(MAX_ENTRIES), attempt, on_full).map_err(|err| {
            match err {
                GrowError::TooLarge { .. } => RunError::Failed(format!(
                "the groups do not fit the largest group map bpfq creates ({MAX_ENTRIES} entries)"
            )),
                GrowError::Walk(err) => err,
            }
        })?;
    let (map, pauses) = grown.value;
    let target = &compiled.plan.target;
    warn_if_paused(pauses, &target.name, target.transport);
    let mut grouper = Grouper::new(grouping, &compiled.layout);
    let groups = timings
        .time("read", || {
            read_groups(&map, kernel, &compiled.layout, &mut grouper)
        })
        .map_err(|e| RunError::Failed(format!("reading the group map failed: {e}")))?;
    drop(map);
    if verbose {
        eprintln!(
            "bpfq: {groups} group(s) in a map of {} entries, {} walk(s)",
            grown.size, grown.walks
        );
    }
    Ok(grouper)
}

/// One walk of every iterator the query reads into `map`: the kernel's pauses, or `None` when
/// the program reported the map full (the groups are then incomplete).
fn walk_into(
    compiled: &Compiled,
    context: &Context<'_>,
    map: &HashMapFd,
    timings: &mut Timings,
) -> Result<Option<u32>, RunError> {
    let verbose = context.options.verbose;
    let maps = MapFds {
        groups: map.as_fd().as_raw_fd(),
        ..MapFds::default()
    };
    let attached = attach_query(compiled, maps, context.query, verbose, timings)?;
    let namespaces = Namespaces::of(compiled.plan.iter_params.as_ref())?;
    let mut readers = timings
        .time("iterator create", || namespaces.open_all(&attached.link))
        .map_err(|e| load_failure(e, context.query, &compiled.program, verbose))?;
    let mut pauses = 0;
    for reader in &mut readers {
        let walked = timings
            .time("read", || reader.walk_silent())
            .map_err(|err| RunError::Failed(err.to_string()))?;
        if walked.overflowed {
            return Ok(None);
        }
        pauses += walked.pauses;
    }
    Ok(Some(pauses))
    // Readers, link and program close here, before the map is read.
}
