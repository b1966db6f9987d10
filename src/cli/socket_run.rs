//! `bpfq QUERY` of a `bpf_sk_storage_map` or `sockmap` query whose plan reads the sockets through
//! socket iterators (`RowsFrom::SocketIterators`: this kernel refuses map-element programs).
//! Guarantees: the map is the one compiled for (reopened as for a link, sizes checked), held
//! while any program may still load; the programs read the sk_storage map itself, or for a
//! sockmap the cookie -> key map (`socket_keys.rs`) filled from it before every walk, and its fd
//! is patched into every program; each iterator is read in
//! every network namespace of the machine (as `netns = all` does), tcp and udp through the seq
//! buffer (loaded and attached once, before any is read; the links and programs outlive the
//! readers, which the caller drops first), unix through a ring buffer walked at `open`
//! (`run_ring.rs`: its seq output loses objects); any failure closes everything opened so far.

use super::run::load_failure;
use super::{args::Common, Failure};
use bpfq_compiler::bind::{IterParams, NetnsRef};
use bpfq_compiler::bpf::asm::MAP_FD_PLACEHOLDER;
use bpfq_compiler::ir::{Function, MapRef};
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::pipeline::{Compiled, SocketProgram};
use bpfq_compiler::socket_storage::SocketLookup;
use bpfq_kernel::catalogue::RowTransport;
use bpfq_runtime::loader::{load_iter_program, IterLink, IterProgramSpec, LoadedProgram};
use bpfq_runtime::netns::all_network_namespaces;
use bpfq_runtime::row_source::{RingRows, RowSource};
use bpfq_runtime::socket_keys::SocketKeys;
use bpfq_runtime::sys::MapElements;
use bpfq_runtime::{IterReader, ReadError};
use std::ops::ControlFlow;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// The attached seq programs of one query, and the map for the ring programs' loads.
pub struct SocketLinks {
    // Each link before its program (fields drop in order).
    links: Vec<(usize, IterLink, LoadedProgram)>,
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
    fn open(compiled: &Compiled) -> Result<ProgramMap, Failure> {
        let (Some(IterParams::Map(param)), RowsFrom::SocketIterators(sockets)) =
            (&compiled.plan.iter_params, &compiled.plan.rows_from)
        else {
            return Err(Failure::Runtime(
                "socket iterators without a map (this is a bug in bpfq)".into(),
            ));
        };
        let map = super::map_run::open_for_link(param)?;
        if sockets.lookup == SocketLookup::SkStorage {
            return Ok(ProgramMap::Storage(map));
        }
        let cannot =
            |e: std::io::Error| Failure::Runtime(format!("cannot read {}: {e}", param.map));
        let sockmap = MapElements::new(map, 1).map_err(cannot)?;
        let keys = SocketKeys::create(&sockmap).map_err(|e| {
            Failure::Runtime(format!(
                "cannot create the map of {}'s socket cookies: {e}",
                param.map
            ))
        })?;
        Ok(ProgramMap::Keys { sockmap, keys })
    }

    fn fd(&self) -> i32 {
        match self {
            ProgramMap::Storage(fd) => fd.as_raw_fd(),
            ProgramMap::Keys { keys, .. } => keys.fd().as_raw_fd(),
        }
    }

    /// Before a walk: the sockmap's sockets now, into the map the programs read.
    fn refresh(&self) -> Result<(), Failure> {
        let ProgramMap::Keys { sockmap, keys } = self else {
            return Ok(());
        };
        let filled = keys.fill(sockmap).map_err(|e| {
            Failure::Runtime(format!(
                "reading the sockmap {} failed: {e}",
                sockmap.info().name
            ))
        })?;
        if filled.repeated > 0 {
            eprintln!(
                "bpfq: warning: {} slot(s) of the sockmap hold a socket another slot holds too; \
                 read through the socket iterators, each socket is listed at one key only",
                filled.repeated
            );
        }
        Ok(())
    }
}

/// The rows of one socket iterator in one namespace.
pub enum SocketRows {
    Seq(IterReader),
    Ring(RingRows),
}

impl RowSource for SocketRows {
    fn read_runs(
        &mut self,
        row_size: usize,
        on_run: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        match self {
            SocketRows::Seq(reader) => reader.read_runs(row_size, on_run),
            SocketRows::Ring(rows) => rows.read_runs(row_size, on_run),
        }
    }
}

/// Loads and attaches every seq socket program of `compiled` (the ring ones load at `open`).
pub fn load(compiled: &Compiled, query: &str, common: &Common) -> Result<SocketLinks, Failure> {
    let map = ProgramMap::open(compiled)?;
    let mut links = Vec::new();
    for (index, socket) in compiled.socket_programs.iter().enumerate() {
        if socket.target.transport == RowTransport::RingBuf {
            continue;
        }
        let insns = socket.program.to_bytes_with_maps(|wanted| match wanted {
            MapRef::SkStorage | MapRef::SocketKeys => map.fd(),
            // A seq socket program writes seq rows only: no ring, no groups, no formats.
            MapRef::RowRing | MapRef::Groups | MapRef::Formats => MAP_FD_PLACEHOLDER,
        });
        let spec = IterProgramSpec {
            name: &socket.prog_name,
            insns: &insns,
            license: "GPL",
            attach_btf_id: socket.target.attach_func.0,
        };
        let failed = |e| load_failure(e, query, &socket.program, common.verbose);
        let program = load_iter_program(&spec, common.verbose).map_err(failed)?;
        let link = program.attach(None).map_err(failed)?;
        links.push((index, link, program));
    }
    Ok(SocketLinks { links, map })
}

impl SocketLinks {
    /// The rows of every socket iterator in every network namespace, in the plan's order of
    /// iterators: new seq iterators of the links, and for a ring program a fresh walk (a
    /// sockmap's cookies are read again first).
    pub fn open(
        &self,
        compiled: &Compiled,
        query: &str,
        common: &Common,
    ) -> Result<Vec<SocketRows>, Failure> {
        let namespaces = all_network_namespaces()
            .map_err(|e| Failure::Runtime(format!("listing the network namespaces failed: {e}")))?;
        self.map.refresh()?;
        let mut rows = Vec::new();
        for (index, socket) in compiled.socket_programs.iter().enumerate() {
            if socket.target.transport == RowTransport::RingBuf {
                let view = ring_view(compiled, socket);
                let rings =
                    super::run_ring::ring_rows_with_map(query, &view, common, self.map.fd())?;
                rows.extend(rings.into_iter().map(SocketRows::Ring));
                continue;
            }
            let Some((_, link, _)) = self.links.iter().find(|(i, _, _)| *i == index) else {
                return Err(Failure::Runtime(
                    "a socket program was not loaded (this is a bug in bpfq)".into(),
                ));
            };
            for namespace in &namespaces {
                rows.push(SocketRows::Seq(
                    link.open_in_net_namespace(namespace.file.as_fd())
                        .map_err(|e| load_failure(e, query, &socket.program, common.verbose))?,
                ));
            }
        }
        Ok(rows)
    }
}

/// `socket`'s program as a query of its own target over every network namespace, for the
/// ring walk of `run_ring.rs`: same rows (the plan's layout), its target, program and name.
fn ring_view(compiled: &Compiled, socket: &SocketProgram) -> Compiled {
    let mut plan = compiled.plan.clone();
    plan.target = socket.target.clone();
    plan.iter_params = Some(IterParams::Netns(NetnsRef::All));
    plan.rows_from = RowsFrom::Program;
    Compiled {
        plan,
        ir: Function::empty(),
        program: socket.program.clone(),
        layout: compiled.layout.clone(),
        prog_name: socket.prog_name.clone(),
        socket_programs: Vec::new(),
    }
}
