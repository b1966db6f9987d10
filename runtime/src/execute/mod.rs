//! Stages `load` + `read` + `format`, the one way a compiled query runs: a `CompiledQuery` (and
//! its source text, for the verifier's messages) goes in, its rows come out into a `RowSink`.
//! Guarantees: a query is loaded once (`Prepared::new`) and may be run many times (`run`: each a
//! complete result set from a fresh walk); every strategy goes through `Producer`; a join is one
//! producer per source plus the hash join; every path records its stages in `Timings`; every
//! kernel object is held by an fd owned here, released when its value drops (the kernel closes
//! them if the process dies).

mod attach;
mod groups;
mod join;
mod map_open;
mod namespaces;
mod producer;
mod ring;
mod rows;
mod sockets;
mod timings;

pub use attach::{link_info, load_and_attach, load_failure_text, Attach, Attached, MapFds};
pub use groups::GROUP_MAP_NAME;
pub use map_open::open_for_link;
pub use timings::{TimedSink, Timings};

use std::fmt;
use std::io;

use bpfq_compiler::pipeline::{CompiledJoin, CompiledQuery};

use crate::format::RowSink;
use crate::notes::NoteSink;
use crate::pipeline::{stream_rows_of, write_groups, StreamError, StreamSummary};
use producer::{Producer, Walked};

/// The run options of the command line that reach the kernel side.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Keep and show the verifier's log (how rings and group maps were sized goes to `notes`
    /// as `NoteLevel::Verbose` notes either way).
    pub verbose: bool,
    /// The first ring of a ring-transport walk (bytes); estimated when `None`.
    pub ring_size: Option<u64>,
    /// The first group map of a kernel-grouped walk (entries); the plan's when `None`.
    pub group_entries: Option<u32>,
    /// The most row combinations a join may hold in memory (`--max-join-rows`).
    pub max_join_rows: usize,
    /// Where the run's notes and warnings go.
    pub notes: NoteSink,
}

/// Why a run failed.
#[derive(Debug)]
pub enum RunError {
    /// The kernel refused, a read failed: a message in the user's terms.
    Failed(String),
    /// Writing to the sink failed.
    Write(io::Error),
    /// A limit the user can raise, as a coded diagnostic (E0127).
    Refused(Box<bpfq_compiler::diagnostic::Diagnostic>),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Failed(text) => f.write_str(text),
            RunError::Write(err) => err.fmt(f),
            RunError::Refused(diag) => f.write_str(&diag.message),
        }
    }
}

impl std::error::Error for RunError {}

impl From<StreamError> for RunError {
    fn from(err: StreamError) -> RunError {
        match err {
            StreamError::Write(err) => RunError::Write(err),
            StreamError::Read(err) => RunError::Failed(err.to_string()),
        }
    }
}

/// What every step of a run is told: the query's source text and the options.
pub struct Context<'c> {
    pub query: &'c str,
    pub options: RunOptions,
}

/// A compiled query, loaded and ready to run. `Send`, so a server may keep it behind a `Mutex`
/// and run it from any thread; not `Sync`, as a run reads the kept ring after its walk, so
/// runs of one `Prepared` never overlap.
pub struct Prepared<'c> {
    context: Context<'c>,
    what: Loaded<'c>,
}

enum Loaded<'c> {
    Single(Producer<'c>),
    /// A join loads its sources one at a time, at each run.
    Join(&'c CompiledJoin),
}

impl<'c> Prepared<'c> {
    /// Loads `compiled` (compiled from the source text `query`).
    pub fn new(
        compiled: &'c CompiledQuery,
        query: &'c str,
        options: RunOptions,
        timings: &mut Timings,
    ) -> Result<Prepared<'c>, RunError> {
        let context = Context { query, options };
        let what = match compiled {
            CompiledQuery::Single(compiled) => {
                Loaded::Single(Producer::load(compiled, &context, timings)?)
            }
            CompiledQuery::Join(join) => Loaded::Join(join),
        };
        Ok(Prepared { context, what })
    }

    /// What each run asks of the kernel beyond what `new` loaded (a join loads every source's
    /// program at each run).
    pub fn walk_needs(&self) -> Vec<crate::caps::Needs> {
        match &self.what {
            Loaded::Single(producer) => producer.walk_needs(),
            Loaded::Join(_) => vec![crate::caps::Needs::Tracing],
        }
    }

    /// Whether the query groups in the kernel (a group map) rather than in user space.
    pub fn groups_in_kernel(&self) -> bool {
        matches!(&self.what, Loaded::Single(producer) if matches!(
            producer.compiled().plan.group_place,
            Some(bpfq_compiler::group_place::GroupPlace::Kernel(_))
        ))
    }

    /// One run: a fresh walk of the kernel's objects, its rows written to `sink`.
    pub fn run(
        &self,
        sink: &mut dyn RowSink,
        timings: &mut Timings,
    ) -> Result<StreamSummary, RunError> {
        let producer = match &self.what {
            Loaded::Join(join) => return join::run(join, &self.context, sink, timings),
            Loaded::Single(producer) => producer,
        };
        let compiled = producer.compiled();
        let walked = producer.walk(&self.context, timings)?;
        let mut timed = TimedSink::new(sink, timings);
        let written = match walked {
            Walked::Rows(mut rows) => {
                // A long dump is read ahead by a second thread: "read" is then the time spent
                // waiting for rows, not the whole time the kernel spent producing them.
                let started = std::time::Instant::now();
                let written = stream_rows_of(
                    &mut rows,
                    &compiled.plan.layout,
                    &compiled.plan.user,
                    &mut timed,
                );
                timings.record("read", started.elapsed().saturating_sub(timed.spent));
                written
            }
            Walked::Groups(grouper) => write_groups(
                grouper,
                &compiled.plan.layout,
                &compiled.plan.user,
                &mut timed,
            ),
        };
        timed.record_format(timings);
        timings.count_run();
        Ok(written?)
    }
}

// A server keeps a `Prepared` behind a `Mutex` shared by its threads: the build fails here if a
// field ever stops being `Send`.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Prepared<'static>>();
};
