//! Stage `load` + `read`, one source of rows: the strategy a compiled query's plan picks (a seq
//! program, a ring program, a kernel group map, a user-space map walk, socket-iterator
//! programs), loaded once and walked as many times as asked. Guarantees: the only place a plan
//! is turned into a strategy; every program is loaded at `load` and each walk creates new
//! iterators of it; what holds a walk's results (a ring, a group map) is created with its
//! program and emptied at each walk, and replaced (with the program) only by a larger one when
//! a walk fills it; every iterator a walk opens is closed before the next walk.

use bpfq_compiler::bind::IterParams;
use bpfq_compiler::group_place::GroupPlace;
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::pipeline::Compiled;
use bpfq_kernel::catalogue::RowTransport;

use super::attach::{attach_query, load_failure, Attached, MapFds};
use super::groups::GroupProgram;
use super::namespaces::Namespaces;
use super::ring::RingProgram;
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
    /// A ring program and its ring, loaded once.
    Ring(RingProgram),
    /// A kernel-grouped program and its group map, loaded once.
    Groups(GroupProgram<'c>),
    /// No program: the map's elements walked from user space.
    MapWalk,
    /// One program per socket iterator, each loaded once (a ring one with its ring).
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
            Strategy::Groups(GroupProgram::load(compiled, kernel, context, timings)?)
        } else if matches!(plan.rows_from, RowsFrom::MapWalk(_)) {
            Strategy::MapWalk
        } else if matches!(plan.rows_from, RowsFrom::SocketIterators(_)) {
            Strategy::Sockets(SocketLinks::load(compiled, context, timings)?)
        } else if plan.target.transport == RowTransport::RingBuf {
            Strategy::Ring(RingProgram::load(
                compiled,
                context,
                MapFds::default(),
                timings,
            )?)
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
            // A walk that fills its ring or group map loads the program again with a larger one.
            Strategy::Ring(_) | Strategy::Groups(_) => vec![Needs::Tracing],
            Strategy::MapWalk => vec![Needs::SysAdmin],
            // In every namespace of the machine, with rings that may grow.
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
            Strategy::Ring(ring) => {
                let namespaces = Namespaces::of(params)?;
                let maps = MapFds::default();
                vec![Rows::Ring(ring.walk(
                    compiled,
                    context,
                    &namespaces,
                    maps,
                    timings,
                )?)]
            }
            Strategy::Groups(groups) => {
                let grouper = groups.walk(compiled, context, timings)?;
                return Ok(Walked::Groups(grouper));
            }
            Strategy::MapWalk => vec![Rows::Map(super::map_open::walk_rows(compiled)?)],
            Strategy::Sockets(links) => links.walk(compiled, context, timings)?,
        }))
    }
}
