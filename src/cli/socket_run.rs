//! `bpfq QUERY` of a `bpf_sk_storage_map` query whose plan reads the sockets through socket
//! iterators (`RowsFrom::SocketIterators`: this kernel refuses map-element programs). Guarantees:
//! the map is the one compiled for (reopened as for a link, sizes checked) and its fd is patched
//! into every program, held until each is loaded; every program is loaded and attached before
//! any iterator is read, each is read in every network namespace of the machine (as
//! `netns = all` does), and the links and programs outlive the readers (the caller drops the
//! readers first); any failure closes everything opened so far.

use super::run::load_failure;
use super::{args::Common, Failure};
use bpfq_compiler::bind::IterParams;
use bpfq_compiler::bpf::asm::MAP_FD_PLACEHOLDER;
use bpfq_compiler::ir::MapRef;
use bpfq_compiler::pipeline::Compiled;
use bpfq_runtime::loader::{load_iter_program, IterLink, IterProgramSpec, LoadedProgram};
use bpfq_runtime::netns::all_network_namespaces;
use bpfq_runtime::IterReader;
use std::os::fd::{AsFd, AsRawFd};

/// The attached programs of one query, one per socket iterator, in the plan's order.
pub struct SocketLinks {
    // Each link before its program (fields drop in order).
    links: Vec<(IterLink, LoadedProgram)>,
}

/// Loads and attaches every socket program of `compiled`.
pub fn load(compiled: &Compiled, query: &str, common: &Common) -> Result<SocketLinks, Failure> {
    let Some(IterParams::Map(param)) = &compiled.plan.iter_params else {
        return Err(Failure::Runtime(
            "socket iterators without a map (this is a bug in bpfq)".into(),
        ));
    };
    let map = super::map_run::open_for_link(param)?;
    let mut links = Vec::new();
    for socket in &compiled.socket_programs {
        let insns = socket.program.to_bytes_with_maps(|wanted| match wanted {
            MapRef::SkStorage => map.as_raw_fd(),
            // A socket program writes seq rows only: no ring, no groups, no formats.
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
        links.push((link, program));
    }
    Ok(SocketLinks { links })
}

impl SocketLinks {
    /// New iterators of each link, one per network namespace of the machine (a tcp or udp
    /// iterator sees the sockets of one namespace; the map holds sockets of any), to read one
    /// after the other.
    pub fn open(
        &self,
        compiled: &Compiled,
        query: &str,
        common: &Common,
    ) -> Result<Vec<IterReader>, Failure> {
        let namespaces = all_network_namespaces()
            .map_err(|e| Failure::Runtime(format!("listing the network namespaces failed: {e}")))?;
        let mut readers = Vec::new();
        for ((link, _), socket) in self.links.iter().zip(&compiled.socket_programs) {
            for namespace in &namespaces {
                readers.push(
                    link.open_in_net_namespace(namespace.file.as_fd())
                        .map_err(|e| load_failure(e, query, &socket.program, common.verbose))?,
                );
            }
        }
        Ok(readers)
    }
}
