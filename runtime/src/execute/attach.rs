//! Stage `load`, one program: its map references patched to fds, loaded, and attached with the
//! link info of its parameters. Guarantees: the only load-and-attach sequence of the runtime
//! (queries, their socket programs, pinned iterators); a map named in the link info stays open
//! until the link exists; the link is dropped before its program.

use std::os::fd::{AsRawFd, OwnedFd};

use bpfq_compiler::bind::{IterParams, MapParam};
use bpfq_compiler::bpf::asm::{Program, MAP_FD_PLACEHOLDER};
use bpfq_compiler::ir::MapRef;
use bpfq_compiler::pipeline::Compiled;

use super::map_open::open_for_link;
use super::timings::Timings;
use super::RunError;
use crate::loader::{load_iter_program, IterLink, IterProgramSpec, LoadError, LoadedProgram};
use crate::verifier_report;

/// The fds a program's map references are patched to (`MAP_FD_PLACEHOLDER`: none).
#[derive(Clone, Copy)]
pub struct MapFds {
    pub ring: i32,
    pub groups: i32,
    pub formats: i32,
    /// The sk_storage map, or the socket keys of a sockmap (`socket_keys.rs`).
    pub sockets: i32,
}

impl Default for MapFds {
    fn default() -> MapFds {
        MapFds {
            ring: MAP_FD_PLACEHOLDER,
            groups: MAP_FD_PLACEHOLDER,
            formats: MAP_FD_PLACEHOLDER,
            sockets: MAP_FD_PLACEHOLDER,
        }
    }
}

impl MapFds {
    /// `program`'s wire form with these fds patched in.
    pub fn bytes(&self, program: &Program) -> Vec<u8> {
        program.to_bytes_with_maps(|map| match map {
            MapRef::RowRing => self.ring,
            MapRef::Groups => self.groups,
            MapRef::Formats => self.formats,
            MapRef::SkStorage | MapRef::SocketKeys => self.sockets,
        })
    }
}

/// A loaded, attached program. Fields drop in order: the link before its program.
pub struct Attached {
    pub link: IterLink,
    pub program: LoadedProgram,
}

/// What to load and how to attach it.
pub struct Attach<'a> {
    pub name: &'a str,
    pub program: &'a Program,
    pub attach_btf_id: u32,
    pub maps: MapFds,
    /// The target's `union bpf_iter_link_info` (a pid, a cgroup, a map fd...), if any.
    pub link_info: Option<&'a [u8]>,
}

/// Loads and attaches `what`, timing both steps.
pub fn load_and_attach(
    what: &Attach<'_>,
    verbose: bool,
    timings: &mut Timings,
) -> Result<Attached, LoadError> {
    let insns = what.maps.bytes(what.program);
    let spec = IterProgramSpec {
        name: what.name,
        insns: &insns,
        license: "GPL",
        attach_btf_id: what.attach_btf_id,
    };
    let program = timings.time("load (verifier)", || load_iter_program(&spec, verbose))?;
    let link = timings.time("attach (link)", || program.attach(what.link_info))?;
    Ok(Attached { link, program })
}

/// The link info of `params`: for a map-element query an fd of its map (returned too: it must
/// stay open until the link exists).
pub fn link_info(
    params: Option<&IterParams>,
) -> Result<(Option<Vec<u8>>, Option<OwnedFd>), RunError> {
    match params {
        Some(IterParams::Map(param)) => {
            let fd = open_for_link(param)?;
            Ok((Some(MapParam::link_info(fd.as_raw_fd() as u32)), Some(fd)))
        }
        Some(params) => Ok((
            params.link_info(&cgroup_id_of).map_err(RunError::Failed)?,
            None,
        )),
        None => Ok((None, None)),
    }
}

/// Loads and attaches `compiled`'s own program with `maps` patched in.
pub fn attach_query(
    compiled: &Compiled,
    maps: MapFds,
    query: &str,
    verbose: bool,
    timings: &mut Timings,
) -> Result<Attached, RunError> {
    let (info, map_fd) = link_info(compiled.plan.iter_params.as_ref())?;
    let what = Attach {
        name: &compiled.prog_name,
        program: &compiled.program,
        attach_btf_id: compiled.plan.target.attach_func.0,
        maps,
        link_info: info.as_deref(),
    };
    let attached = load_and_attach(&what, verbose, timings)
        .map_err(|e| load_failure(e, query, &compiled.program, verbose))?;
    drop(map_fd);
    Ok(attached)
}

/// A cgroup's id: the inode number of its directory in the cgroup2 hierarchy.
pub fn cgroup_id_of(path: &str) -> Result<u64, String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot use cgroup {path}: {e}"))?;
    if !meta.is_dir() {
        return Err(format!(
            "cannot use cgroup {path}: not a directory of the cgroup2 hierarchy"
        ));
    }
    Ok(meta.ino())
}

/// A refusal of `program` (compiled from the source text `query`) in the user's terms: the
/// verifier's reason, and the clause it stopped in.
pub fn load_failure(err: LoadError, query: &str, program: &Program, verbose: bool) -> RunError {
    RunError::Failed(load_failure_text(&err, query, program, verbose))
}

/// The text of `load_failure`.
pub fn load_failure_text(err: &LoadError, query: &str, program: &Program, verbose: bool) -> String {
    // Which clause the verifier stopped in: the note of the instruction it stopped at.
    let stopped = err.failed_insn().and_then(|instruction| {
        program
            .note_at(instruction)
            .map(|clause| verifier_report::StoppedAt {
                instruction,
                clause,
            })
    });
    match err {
        LoadError::Verifier { errno, log } => {
            let refusal = verifier_report::Refusal { errno: *errno, log };
            verifier_report::report(refusal, query, stopped, verbose)
        }
        other => other.to_string(),
    }
}
