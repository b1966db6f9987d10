//! Stage `load` + `read`, one source of rows: the strategy a compiled query's plan picks (a seq
//! program, a ring program, a kernel group map, a user-space map walk, socket-iterator
//! programs), loaded once and walked as many times as asked. Guarantees: the only place a plan
//! is turned into a strategy; what can be loaded once (a seq link, socket links) is, and each
//! walk creates new iterators of it; what holds a walk's results (a ring, a group map) is
//! created afresh at each walk; every fd a walk opens is closed before the next walk.

use bpfq_compiler::bind::IterParams;
use bpfq_compiler::group_place::{GroupPlace, KernelGrouping};
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::pipeline::Compiled;
use bpfq_kernel::catalogue::RowTransport;

use super::attach::{attach_query, load_failure, Attached, MapFds};
use super::namespaces::Namespaces;
use super::rows::Rows;
use super::sockets::SocketLinks;
use super::timings::Timings;
use super::{Context, RunError};
use crate::caps::Needs;
use crate::group::Grouper;

/// How a query's rows are produced, and what stays loaded between walks.
enum Strategy<'c> {
    /// A seq program: loaded and attached once.
    Seq(Attached),
    /// A ring program, loaded at each walk with a ring of its own.
    Ring,
    /// A kernel-grouped program, loaded at each walk with a group map of its own.
    Groups(&'c KernelGrouping),
    /// No program: the map's elements walked from user space.
    MapWalk,
    /// One program per socket iterator; the seq ones loaded once.
    Sockets(SocketLinks),
}

/// A compiled query, loaded: each `walk` is a fresh read of the kernel's objects.
pub struct Producer<'c> {
    compiled: &'c Compiled,
    strategy: Strategy<'c>,
}

/// What one walk produced: rows, or the groups of a kernel-grouped query.
pub enum Walked<'c> {
    Rows(Vec<Rows<'c>>),
    Groups(Grouper<'c>),
}

impl<'c> Producer<'c> {
    /// Loads what `compiled`'s strategy keeps loaded between walks.
    pub fn load(
        compiled: &'c Compiled,
        context: &Context<'_>,
        timings: &mut Timings,
    ) -> Result<Producer<'c>, RunError> {
        let plan = &compiled.plan;
        let strategy = if let Some(GroupPlace::Kernel(kernel)) = &plan.group_place {
            Strategy::Groups(kernel)
        } else if matches!(plan.rows_from, RowsFrom::MapWalk(_)) {
            Strategy::MapWalk
        } else if matches!(plan.rows_from, RowsFrom::SocketIterators(_)) {
            Strategy::Sockets(SocketLinks::load(compiled, context, timings)?)
        } else if plan.target.transport == RowTransport::RingBuf {
            Strategy::Ring
        } else {
            let verbose = context.options.verbose;
            let maps = MapFds::default();
            Strategy::Seq(attach_query(
                compiled,
                maps,
                context.query,
                verbose,
                timings,
            )?)
        };
        Ok(Producer { compiled, strategy })
    }

    pub fn compiled(&self) -> &'c Compiled {
        self.compiled
    }

    /// What each walk asks of the kernel beyond the fds loaded once (`bpfq serve` keeps the
    /// capabilities of these and drops the rest after loading).
    pub fn walk_needs(&self) -> Vec<Needs> {
        let params = self.compiled.plan.iter_params.as_ref();
        let in_other_namespaces = matches!(params, Some(IterParams::Netns(_)));
        let mut needs = match &self.strategy {
            Strategy::Seq(_) => vec![],
            Strategy::Ring | Strategy::Groups(_) => vec![Needs::Tracing],
            Strategy::MapWalk => vec![Needs::SysAdmin],
            // Ring programs load at each walk, in every namespace of the machine.
            Strategy::Sockets(_) => vec![Needs::Tracing, Needs::Namespaces],
        };
        if in_other_namespaces {
            needs.push(Needs::Namespaces);
        }
        needs
    }

    /// One walk of the kernel's objects.
    pub fn walk(
        &self,
        context: &Context<'_>,
        timings: &mut Timings,
    ) -> Result<Walked<'c>, RunError> {
        let compiled = self.compiled;
        let params = compiled.plan.iter_params.as_ref();
        Ok(Walked::Rows(match &self.strategy {
            Strategy::Seq(attached) => {
                let namespaces = Namespaces::of(params)?;
                let verbose = context.options.verbose;
                timings
                    .time("iterator create", || namespaces.open_all(&attached.link))
                    .map_err(|e| load_failure(e, context.query, &compiled.program, verbose))?
                    .into_iter()
                    .map(Rows::Seq)
                    .collect()
            }
            Strategy::Ring => {
                let namespaces = Namespaces::of(params)?;
                let rings =
                    super::ring::walk(compiled, context, &namespaces, MapFds::default(), timings)?;
                rings.into_iter().map(Rows::Ring).collect()
            }
            Strategy::Groups(kernel) => {
                let grouper = super::groups::walk(compiled, kernel, context, timings)?;
                return Ok(Walked::Groups(grouper));
            }
            Strategy::MapWalk => vec![Rows::Map(super::map_open::walk_rows(compiled)?)],
            Strategy::Sockets(links) => links.walk(compiled, context, timings)?,
        }))
    }
}
