//! Stage `load` + `read`, a query grouped in the kernel (`GroupPlace::Kernel`): the group map
//! (`bpfq_groups`) is created and the program loaded with its fd patched in, once; each walk
//! reads every object (every namespace with `netns = all`) with no output, again with a map
//! twice as large (and the program loaded again with it, then kept) while the program says the
//! map is full (`grow.rs`); then the groups are taken out of the map. Guarantees: the groups
//! come from one complete walk into an empty map; the iterators are closed before the map is
//! read; the map is left empty.

use std::cell::RefCell;
use std::os::fd::{AsFd, AsRawFd};

use bpfq_compiler::group_place::{KernelGrouping, MAX_ENTRIES};
use bpfq_compiler::pipeline::Compiled;

use super::attach::{attach_query, load_failure, Attached, MapFds};
use super::namespaces::Namespaces;
use super::timings::Timings;
use super::{Context, RunError};
use crate::caps::{self, Needs};
use crate::group::Grouper;
use crate::group_map::{empty_map, take_groups};
use crate::grow::{until_fits_kept, warn_if_paused, Attempt, GrowError, Kept};
use crate::sys::HashMapFd;

/// The kernel name of the group map (and the prefix the leak tests look for).
pub const GROUP_MAP_NAME: &str = "bpfq_groups";

/// A group map and the program loaded with its fd (dropped first), kept between walks.
struct GroupPair {
    attached: Attached,
    map: HashMapFd,
}

/// A kernel-grouped query's program and group map, loaded once and kept between walks (a
/// larger pair replaces them when a walk fills the map).
pub struct GroupProgram<'c> {
    kernel: &'c KernelGrouping,
    first: u64,
    kept: RefCell<Option<Kept<GroupPair>>>,
}

impl<'c> GroupProgram<'c> {
    /// Creates the first group map (`--group-entries`, else the plan's size) and loads and
    /// attaches `compiled`'s program with its fd.
    pub fn load(
        compiled: &Compiled,
        kernel: &'c KernelGrouping,
        context: &Context<'_>,
        timings: &mut Timings,
    ) -> Result<GroupProgram<'c>, RunError> {
        let first = u64::from(
            context
                .options
                .group_entries
                .unwrap_or(kernel.first_entries)
                .min(MAX_ENTRIES),
        );
        let pair = load_pair(compiled, kernel, context, first, timings)?;
        Ok(GroupProgram {
            kernel,
            first,
            kept: RefCell::new(Some(Kept {
                size: first,
                value: pair,
            })),
        })
    }

    /// The groups of one walk of `compiled`, in the kept map (grown until they fit), which
    /// is left empty.
    pub fn walk(
        &self,
        compiled: &'c Compiled,
        context: &Context<'_>,
        timings: &mut Timings,
    ) -> Result<Grouper<'c>, RunError> {
        let Some(grouping) = &compiled.plan.user.grouping else {
            return Err(RunError::Failed(
                "internal error (this is a bug in bpfq): kernel grouping without a grouping".into(),
            ));
        };
        let kernel = self.kernel;
        let notes = &context.options.notes;
        let timings = RefCell::new(timings);
        let make = |entries: u64| {
            load_pair(
                compiled,
                kernel,
                context,
                entries,
                &mut timings.borrow_mut(),
            )
        };
        let attempt = |pair: &GroupPair| -> Result<Attempt<u32>, RunError> {
            let emptied = empty_map(&pair.map, kernel);
            emptied.map_err(|e| RunError::Failed(format!("emptying the group map failed: {e}")))?;
            Ok(
                match walk_into(compiled, context, &pair.attached, &mut timings.borrow_mut())? {
                    Some(pauses) => Attempt::Fits(pauses),
                    None => Attempt::Full,
                },
            )
        };
        let on_full = |entries: u64, next: u64| {
            notes.verbose(format!(
                "the group map of {entries} entries filled up; walking again with {next}"
            ));
        };
        let mut kept = self.kept.borrow_mut();
        let max = u64::from(MAX_ENTRIES);
        let grown = until_fits_kept(&mut kept, self.first, max, make, attempt, on_full)
            .map_err(|err| match err {
                GrowError::TooLarge { .. } => RunError::Failed(format!(
                    "the groups do not fit the largest group map bpfq creates ({MAX_ENTRIES} entries)"
                )),
                GrowError::Walk(err) => err,
            })?;
        let timings = timings.into_inner();
        let target = &compiled.plan.target;
        warn_if_paused(grown.value, &target.name, target.transport, notes);
        let Some(pair) = kept.as_ref() else {
            return Err(RunError::Failed(
                "internal error (this is a bug in bpfq): no group map after a walk".into(),
            ));
        };
        let layout = &compiled.plan.layout;
        let mut grouper = Grouper::new(grouping, layout);
        let groups = timings
            .time("read", || {
                take_groups(&pair.value.map, kernel, layout, &mut grouper)
            })
            .map_err(|e| RunError::Failed(format!("reading the group map failed: {e}")))?;
        notes.verbose(format!(
            "{groups} group(s) in a map of {} entries, {} walk(s)",
            grown.size, grown.walks
        ));
        Ok(grouper)
    }
}

/// A group map of `entries` entries, and `compiled`'s program loaded and attached with its fd.
fn load_pair(
    compiled: &Compiled,
    kernel: &KernelGrouping,
    context: &Context<'_>,
    entries: u64,
    timings: &mut Timings,
) -> Result<GroupPair, RunError> {
    let entries = u32::try_from(entries).unwrap_or(MAX_ENTRIES);
    let map = HashMapFd::create(GROUP_MAP_NAME, kernel.key_size, kernel.value_size, entries)
        .map_err(|e| {
            RunError::Failed(caps::failure_text(
                "create the group map",
                &e,
                Needs::Tracing,
            ))
        })?;
    let maps = MapFds {
        groups: map.as_fd().as_raw_fd(),
        ..MapFds::default()
    };
    let verbose = context.options.verbose;
    let attached = attach_query(compiled, maps, context.query, verbose, timings)?;
    Ok(GroupPair { attached, map })
}

/// One walk of every iterator the query reads with the program of `attached`: the kernel's
/// pauses, or `None` when the program reported the map full (the groups are then incomplete).
fn walk_into(
    compiled: &Compiled,
    context: &Context<'_>,
    attached: &Attached,
    timings: &mut Timings,
) -> Result<Option<u32>, RunError> {
    let verbose = context.options.verbose;
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
    // The iterators close here, before the map is read.
}
