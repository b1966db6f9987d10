//! Stage `load` + `read` of a `bpf_sk_storage_map` or `sockmap` query whose plan reads the
//! sockets through socket iterators (`RowsFrom::SocketIterators`: this kernel refuses
//! map-element programs). Guarantees: the map is the one compiled for (reopened as for a link,
//! sizes checked), held while any program may still load; the programs read the sk_storage map
//! itself, or for a sockmap the cookie -> key map (`socket_keys.rs`) filled from it before every
//! walk, and its fd is patched into every program; each iterator is read in every network
//! namespace of the machine (as `netns = all` does), tcp and udp through the seq buffer, unix
//! through a ring buffer (`ring.rs`: its seq output loses objects), every program loaded and
//! attached once, before any is read (the links and programs outlive the readers); any
//! failure closes everything opened so far.

use std::os::fd::{AsRawFd, OwnedFd};

use bpfq_compiler::bind::{IterParams, NetnsRef};
use bpfq_compiler::ir::Function;
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::pipeline::{Compiled, SocketProgram};
use bpfq_compiler::socket_storage::SocketLookup;
use bpfq_kernel::catalogue::RowTransport;

use super::attach::{load_and_attach, load_failure, Attach, Attached, MapFds};
use super::map_open::open_for_link;
use super::namespaces::Namespaces;
use super::ring::RingProgram;
use super::rows::Rows;
use super::timings::Timings;
use super::{Context, RunError};
use crate::notes::NoteSink;
use crate::socket_keys::SocketKeys;
use crate::sys::MapElements;

/// The attached programs of one query, and the map they read.
pub struct SocketLinks {
    // The programs before the map (fields drop in order).
    links: Vec<(usize, Attached)>,
    /// The ring programs, each with its view as a query of its own target (`ring_view`).
    rings: Vec<(usize, Compiled, RingProgram)>,
    map: ProgramMap,
}

/// The map the socket programs read.
enum ProgramMap {
    /// The query's sk_storage map.
    Storage(OwnedFd),
    /// The query's sockmap, read before each walk into `keys`, which the programs read.
    Keys {
        sockmap: MapElements,
        keys: SocketKeys,
    },
}

impl ProgramMap {
    /// The map of `compiled`'s plan, opened as for a link, and what the programs read of it.
    fn open(compiled: &Compiled) -> Result<ProgramMap, RunError> {
        let (Some(IterParams::Map(param)), RowsFrom::SocketIterators(sockets)) =
            (&compiled.plan.iter_params, &compiled.plan.rows_from)
        else {
            return Err(RunError::Failed(
                "socket iterators without a map (this is a bug in bpfq)".into(),
            ));
        };
        let map = open_for_link(param)?;
        if sockets.lookup == SocketLookup::SkStorage {
            return Ok(ProgramMap::Storage(map));
        }
        let cannot =
            |e: std::io::Error| RunError::Failed(format!("cannot read {}: {e}", param.map));
        let sockmap = MapElements::new(map, 1).map_err(cannot)?;
        let keys = SocketKeys::create(&sockmap).map_err(|e| {
            RunError::Failed(format!(
                "cannot create the map of {}'s socket cookies: {e}",
                param.map
            ))
        })?;
        Ok(ProgramMap::Keys { sockmap, keys })
    }

    /// The fds of the programs' maps.
    fn fds(&self) -> MapFds {
        let sockets = match self {
            ProgramMap::Storage(fd) => fd.as_raw_fd(),
            ProgramMap::Keys { keys, .. } => keys.fd().as_raw_fd(),
        };
        MapFds {
            sockets,
            ..MapFds::default()
        }
    }

    /// Before a walk: the sockmap's sockets now, into the map the programs read.
    fn refresh(&self, notes: &NoteSink) -> Result<(), RunError> {
        let ProgramMap::Keys { sockmap, keys } = self else {
            return Ok(());
        };
        let filled = keys.fill(sockmap).map_err(|e| {
            RunError::Failed(format!(
                "reading the sockmap {} failed: {e}",
                sockmap.info().name
            ))
        })?;
        if filled.repeated > 0 {
            notes.warning(format!(
                "{} slot(s) of the sockmap hold a socket another slot holds too; \
                 read through the socket iterators, each socket is listed at one key only",
                filled.repeated
            ));
        }
        Ok(())
    }
}

impl SocketLinks {
    /// Loads and attaches every socket program of `compiled` (a ring one with its ring).
    pub fn load(
        compiled: &Compiled,
        context: &Context<'_>,
        timings: &mut Timings,
    ) -> Result<SocketLinks, RunError> {
        let map = ProgramMap::open(compiled)?;
        let verbose = context.options.verbose;
        let mut links = Vec::new();
        let mut rings = Vec::new();
        for (index, socket) in compiled.socket_programs.iter().enumerate() {
            if socket.target.transport == RowTransport::RingBuf {
                let view = ring_view(compiled, socket);
                let ring = RingProgram::load(&view, context, map.fds(), timings)?;
                rings.push((index, view, ring));
                continue;
            }
            let what = Attach {
                name: &socket.prog_name,
                program: &socket.program,
                attach_btf_id: socket.target.attach_func.0,
                maps: map.fds(),
                link_info: None,
            };
            let attached = load_and_attach(&what, verbose, timings)
                .map_err(|e| load_failure(e, context.query, &socket.program, verbose))?;
            links.push((index, attached));
        }
        Ok(SocketLinks { links, rings, map })
    }

    /// The rows of every socket iterator in every network namespace, in the plan's order of
    /// iterators: new iterators of the links, a ring program's read into its ring (a sockmap's
    /// cookies are read again first).
    pub fn walk(
        &self,
        compiled: &Compiled,
        context: &Context<'_>,
        timings: &mut Timings,
    ) -> Result<Vec<Rows<'static>>, RunError> {
        let namespaces = Namespaces::every()?;
        self.map.refresh(&context.options.notes)?;
        let verbose = context.options.verbose;
        let mut rows = Vec::new();
        for (index, socket) in compiled.socket_programs.iter().enumerate() {
            if let Some((_, view, ring)) = self.rings.iter().find(|(i, _, _)| *i == index) {
                let maps = self.map.fds();
                rows.push(Rows::Ring(ring.walk(
                    view,
                    context,
                    &namespaces,
                    maps,
                    timings,
                )?));
                continue;
            }
            let Some((_, attached)) = self.links.iter().find(|(i, _)| *i == index) else {
                return Err(RunError::Failed(
                    "a socket program was not loaded (this is a bug in bpfq)".into(),
                ));
            };
            let readers = timings
                .time("iterator create", || namespaces.open_all(&attached.link))
                .map_err(|e| load_failure(e, context.query, &socket.program, verbose))?;
            rows.extend(readers.into_iter().map(Rows::Seq));
        }
        Ok(rows)
    }
}

/// `socket`'s program as a query of its own target over every network namespace, for the
/// ring walk of `ring.rs`: same rows (the plan's layout), its target, program and name.
fn ring_view(compiled: &Compiled, socket: &SocketProgram) -> Compiled {
    let mut plan = compiled.plan.clone();
    plan.target = socket.target.clone();
    plan.iter_params = Some(IterParams::Netns(NetnsRef::All));
    plan.rows_from = RowsFrom::Program;
    Compiled {
        plan,
        ir: Function::empty(),
        program: socket.program.clone(),
        prog_name: socket.prog_name.clone(),
        socket_programs: Vec::new(),
    }
}
