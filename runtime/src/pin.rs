//! Stage `load`, pinned iterators (`bpfq pin` / `bpfq unpin`): a text-output program is
//! loaded with its format map, attached, and its link pinned in a BPF filesystem, where the
//! kernel keeps it after bpfq exits (`cat PATH` runs it). Guarantees: the path is checked to be
//! on a bpffs before anything is loaded; on any failure nothing stays pinned or loaded (every
//! fd is dropped, a pin made before a failed chmod is removed); `unpin` removes only BPF links.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bpfq_compiler::bpf::asm::Program;
use bpfq_compiler::ir::MapRef;

use crate::caps::{self, Needs};
use crate::loader::{load_iter_program, IterProgramSpec, LoadError};
use crate::sys;

/// What to pin and where.
pub struct PinRequest<'a> {
    pub prog_name: &'a str,
    pub program: &'a Program,
    pub attach_btf_id: u32,
    /// The target's `union bpf_iter_link_info` (a pid, a cgroup, a map fd...), if any.
    pub link_info: Option<&'a [u8]>,
    pub path: &'a Path,
    /// File mode bits of the pin (0o600 by default in the CLI).
    pub mode: u32,
}

#[derive(Debug)]
pub enum PinError {
    /// The directory of the path is not in a BPF filesystem (BPF_OBJ_PIN would say EPERM).
    NotBpffs {
        path: PathBuf,
    },
    /// Something already exists at the path.
    Exists {
        path: PathBuf,
    },
    /// `unpin` of a file that is no pinned BPF link.
    NotALink {
        path: PathBuf,
    },
    Load(LoadError),
    /// A bpf(2) command failed, in the user's terms (`caps::failure_text`).
    Refused(String),
    Sys {
        what: String,
        err: io::Error,
    },
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinError::NotBpffs { path } => write!(
                f,
                "{} is not in a BPF filesystem; pin under a bpffs mount such as /sys/fs/bpf \
                 (mount one with `mount -t bpf bpf /sys/fs/bpf`)",
                path.display()
            ),
            PinError::Exists { path } => write!(
                f,
                "{} already exists; unpin it first (`bpfq unpin {}`)",
                path.display(),
                path.display()
            ),
            PinError::NotALink { path } => {
                write!(f, "{} is not a pinned BPF link", path.display())
            }
            PinError::Load(err) => write!(f, "{err}"),
            PinError::Refused(text) => write!(f, "{text}"),
            PinError::Sys { what, err } => write!(f, "{what}: {err}"),
        }
    }
}

impl std::error::Error for PinError {}

fn sys_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> PinError {
    let what = what.into();
    move |err| PinError::Sys { what, err }
}

/// Checks that `path` would be created in a bpffs and does not exist yet.
pub fn check_pin_path(path: &Path) -> Result<(), PinError> {
    if path.symlink_metadata().is_ok() {
        return Err(PinError::Exists {
            path: path.to_path_buf(),
        });
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let magic = sys::filesystem_magic(parent)
        .map_err(sys_error(format!("cannot inspect {}", parent.display())))?;
    if magic != sys::BPF_FS_MAGIC {
        return Err(PinError::NotBpffs {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Loads `request.program` (a text-output program), attaches it and pins its link at
/// `request.path` with `request.mode`. The program, its link and its format map then live
/// until the pin is removed.
pub fn pin_iterator(request: &PinRequest<'_>, verbose: bool) -> Result<(), PinError> {
    check_pin_path(request.path)?;
    let formats = if request.program.formats.is_empty() {
        None
    } else {
        Some(
            sys::frozen_array_create("bpfq_formats", &request.program.formats).map_err(|err| {
                PinError::Refused(caps::failure_text(
                    "create the format map (BPF_MAP_CREATE)",
                    &err,
                    Needs::Tracing,
                ))
            })?,
        )
    };
    let formats_fd = formats.as_ref().map_or(-1, |fd| fd.as_raw_fd());
    let insns = request.program.to_bytes_with_maps(|map| match map {
        MapRef::Formats => formats_fd,
        // A text program writes no ring records and groups nothing.
        MapRef::RowRing | MapRef::Groups => -1,
        // Socket iterator programs of sk_storage queries are never pinned (E0304).
        MapRef::SkStorage => -1,
    });
    let spec = IterProgramSpec {
        name: request.prog_name,
        insns: &insns,
        license: "GPL",
        attach_btf_id: request.attach_btf_id,
    };
    let program = load_iter_program(&spec, verbose).map_err(PinError::Load)?;
    let link = program.attach(request.link_info).map_err(PinError::Load)?;
    sys::obj_pin(link.as_fd(), request.path).map_err(|err| match err.raw_os_error() {
        Some(libc::EEXIST) => PinError::Exists {
            path: request.path.to_path_buf(),
        },
        _ => PinError::Sys {
            what: format!(
                "pinning the link at {} (BPF_OBJ_PIN)",
                request.path.display()
            ),
            err,
        },
    })?;
    let permissions = std::fs::Permissions::from_mode(request.mode);
    if let Err(err) = std::fs::set_permissions(request.path, permissions) {
        // Leave nothing behind: the pin is the only reference that outlives this function.
        let _ = std::fs::remove_file(request.path);
        return Err(PinError::Sys {
            what: format!("chmod {:o} {}", request.mode, request.path.display()),
            err,
        });
    }
    Ok(())
}

/// Removes the pinned link at `path`; the kernel frees the link, its program and maps once no
/// reader holds them.
pub fn unpin(path: &Path) -> Result<(), PinError> {
    let fd = sys::obj_get(path).map_err(|err| match err.raw_os_error() {
        Some(libc::ENOENT) => PinError::Sys {
            what: format!("{} does not exist", path.display()),
            err,
        },
        _ => PinError::NotALink {
            path: path.to_path_buf(),
        },
    })?;
    // fdinfo names the kind of BPF object: links have a `link_type` line, maps and programs not.
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))
        .map_err(sys_error("reading the pinned object's fdinfo"))?;
    if !fdinfo.lines().any(|line| line.starts_with("link_type:")) {
        return Err(PinError::NotALink {
            path: path.to_path_buf(),
        });
    }
    drop(fd);
    std::fs::remove_file(path).map_err(sys_error(format!("removing {}", path.display())))
}
