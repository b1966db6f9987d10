//! Stage `load`, pinned iterators (`bpfq pin` / `bpfq unpin`): a text-output program is
//! loaded with its format map, attached, and its link pinned in a BPF filesystem, where the
//! kernel keeps it after bpfq exits (`cat PATH` runs it). Guarantees: the path is checked to be
//! on a bpffs, in a directory `trust::check` accepts, and the mode to be permission bits only,
//! before anything is loaded; the mode is set on the pinned inode, never through a symbolic
//! link; on any failure nothing stays pinned or loaded (every fd is dropped, a pin made before
//! a failed chmod is removed); `unpin` removes only the iterator links bpfq pinned, never
//! through a symbolic link or an untrusted directory.

use std::fmt;
use std::fs::Permissions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bpfq_compiler::bind::PROGRAM_PREFIX;
use bpfq_compiler::bpf::asm::Program;
use bpfq_compiler::codes;
use bpfq_compiler::diagnostic::Diagnostic;

use crate::caps::{self, Needs};
use crate::execute::{load_and_attach, Attach, MapFds, Timings};
use crate::loader::LoadError;
use crate::sys;
use crate::trust::{self, Untrusted};

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
    /// `unpin` of a file that is no pinned BPF object.
    NotALink {
        path: PathBuf,
    },
    /// The pin's directory (or a parent) is not trusted (`trust.rs`).
    Untrusted(Untrusted),
    /// A mode with bits beyond 0777.
    ModeBits {
        mode: u32,
    },
    /// The path's last component is a symbolic link.
    Symlink {
        path: PathBuf,
    },
    /// `unpin` of a pinned object bpfq did not create; `owner` owns the pin file.
    Foreign {
        path: PathBuf,
        object: PinnedObject,
        owner: u32,
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
            PinError::Untrusted(untrusted) => write!(f, "bpfq does not trust {untrusted}"),
            PinError::ModeBits { mode } => write!(
                f,
                "--mode {mode:o} has bits beyond the permission bits (setuid, setgid or sticky)"
            ),
            PinError::Symlink { path } => write!(
                f,
                "{} is a symbolic link; bpfq never follows one at a pin path",
                path.display()
            ),
            PinError::Foreign {
                path,
                object,
                owner,
            } => write!(
                f,
                "{} is {object}, pinned by {}, which `bpfq pin` did not create",
                path.display(),
                trust::user(*owner)
            ),
            PinError::Load(err) => write!(f, "{err}"),
            PinError::Refused(text) => write!(f, "{text}"),
            PinError::Sys { what, err } => write!(f, "{what}: {err}"),
        }
    }
}

impl std::error::Error for PinError {}

impl PinError {
    /// The coded diagnostic of a refusal (untrusted directory, mode, symlink, foreign pin);
    /// `None` for the other errors, which are reported as text.
    pub fn diagnostic(&self) -> Option<Diagnostic> {
        let message = self.to_string();
        Some(match self {
            PinError::Untrusted(untrusted) => untrusted.diagnostic(),
            PinError::ModeBits { .. } => Diagnostic::error(codes::PIN_MODE_BITS, message)
                .with_note("help: give permission bits only, 0 to 0777, such as 0600 or 0644"),
            PinError::Symlink { .. } => Diagnostic::error(codes::PIN_PATH_SYMLINK, message)
                .with_note("help: name the pinned file itself, not a link to it"),
            PinError::Foreign { path, .. } => Diagnostic::error(codes::UNPIN_FOREIGN, message)
                .with_note(format!(
                    "`bpfq unpin` removes only the iterator links `bpfq pin` makes, whose \
                     programs are named {PROGRAM_PREFIX}*"
                ))
                .with_note(format!(
                    "help: remove it with the tool that pinned it; `rm {}` would take the link \
                     away from whoever relies on it",
                    path.display()
                )),
            _ => return None,
        })
    }
}

fn sys_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> PinError {
    let what = what.into();
    move |err| PinError::Sys { what, err }
}

/// The directory a pin at `path` lives in.
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks that `mode` is permission bits only and that `path` would be created in a trusted
/// directory of a bpffs and does not exist yet.
pub fn check_pin_path(path: &Path, mode: u32) -> Result<(), PinError> {
    if mode & !0o777 != 0 {
        return Err(PinError::ModeBits { mode });
    }
    if let Ok(meta) = path.symlink_metadata() {
        if meta.file_type().is_symlink() {
            return Err(PinError::Symlink {
                path: path.to_path_buf(),
            });
        }
        return Err(PinError::Exists {
            path: path.to_path_buf(),
        });
    }
    let parent = directory_of(path);
    trust::check(parent).map_err(PinError::Untrusted)?;
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
    check_pin_path(request.path, request.mode)?;
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
    let what = Attach {
        name: request.prog_name,
        program: request.program,
        attach_btf_id: request.attach_btf_id,
        // A text program writes no ring records and groups nothing; socket iterator programs
        // of sk_storage and sockmap queries are never pinned (E0304).
        maps: MapFds {
            formats: formats.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
            ..MapFds::default()
        },
        link_info: request.link_info,
    };
    let attached =
        load_and_attach(&what, verbose, &mut Timings::new(false)).map_err(PinError::Load)?;
    sys::obj_pin(attached.link.as_fd(), request.path).map_err(|err| match err.raw_os_error() {
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
    set_mode(request.path, attached.link.as_fd(), request.mode)
}

/// Sets the mode of the pin just made at `path`, on the pinned inode itself: the entry is
/// opened without following a symbolic link (O_PATH | O_NOFOLLOW), checked to be a file on a
/// bpffs holding the link `link`, and changed through that handle, so a name swapped in the
/// meantime is never what changes. A pin whose mode could not be set is removed; an entry that
/// is no longer ours is left alone.
fn set_mode(path: &Path, link: BorrowedFd<'_>, mode: u32) -> Result<(), PinError> {
    let failed = |what: &str| sys_error(format!("{what} {}", path.display()));
    let entry = sys::open_entry_no_follow(path).map_err(|err| match err.raw_os_error() {
        Some(libc::ELOOP) => PinError::Symlink {
            path: path.to_path_buf(),
        },
        _ => failed("opening the new pin")(err),
    })?;
    // chmod(2) through the magic link reaches exactly the inode the O_PATH handle holds.
    let handle = PathBuf::from(format!("/proc/self/fd/{}", entry.as_raw_fd()));
    let ours = std::fs::metadata(&handle)
        .map_err(failed("inspecting the new pin"))?
        .file_type()
        .is_file()
        && sys::filesystem_magic(&handle).ok() == Some(sys::BPF_FS_MAGIC)
        && same_link(&handle, link);
    if !ours {
        return Err(PinError::Sys {
            what: format!(
                "the pin at {} was replaced before its mode was set; it is left as it is",
                path.display()
            ),
            err: io::Error::from_raw_os_error(libc::ESTALE),
        });
    }
    if let Err(err) = std::fs::set_permissions(&handle, Permissions::from_mode(mode)) {
        // Leave nothing behind: the pin is the only reference that outlives `pin_iterator`.
        let _ = std::fs::remove_file(path);
        return Err(failed(&format!("chmod {mode:o}"))(err));
    }
    Ok(())
}

/// Whether the BPF object at `handle` is the link `link`.
fn same_link(handle: &Path, link: BorrowedFd<'_>) -> bool {
    let pinned = sys::obj_get(handle).and_then(|fd| sys::link_info(fd.as_fd()));
    let created = sys::link_info(link);
    matches!((pinned, created), (Ok(a), Ok(b)) if a.id == b.id)
}

/// A pinned BPF object, as `unpin` names it.
#[derive(Debug)]
pub enum PinnedObject {
    /// A link: its kind as the kernel names it (`iter`, `cgroup`...), id and program.
    Link {
        link_type: String,
        id: u32,
        program: Option<sys::ProgInfo>,
    },
    Program(sys::ProgInfo),
    Map(sys::MapInfo),
}

impl PinnedObject {
    /// Identifies the object behind `fd` (from BPF_OBJ_GET) by its fdinfo, which has a
    /// `link_type` line for links, `prog_type` for programs and `map_type` for maps.
    fn of(fd: BorrowedFd<'_>) -> io::Result<Option<PinnedObject>> {
        let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))?;
        let field = |key: &str| {
            fdinfo
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
                .map(|value| value.trim().to_string())
        };
        Ok(if let Some(link_type) = field("link_type") {
            let id = field("link_id").and_then(|v| v.parse().ok()).unwrap_or(0);
            let program = field("prog_id")
                .and_then(|v| v.parse().ok())
                .and_then(|prog_id| sys::prog_fd_by_id(prog_id).ok())
                .and_then(|prog| sys::prog_info(prog.as_fd()).ok());
            Some(PinnedObject::Link {
                link_type,
                id,
                program,
            })
        } else if field("prog_type").is_some() {
            Some(PinnedObject::Program(sys::prog_info(fd)?))
        } else if field("map_type").is_some() {
            Some(PinnedObject::Map(sys::map_info(fd)?))
        } else {
            None
        })
    }

    /// Whether `bpfq pin` made it: an iterator link whose program bears bpfq's name. This
    /// recognises bpfq's pins, it does not authenticate them: anyone who may load a program
    /// may name it so, and may as well remove the pin with `rm`.
    fn is_bpfqs(&self) -> bool {
        matches!(self, PinnedObject::Link { link_type, program: Some(program), .. }
            if link_type == "iter" && program.name.starts_with(PROGRAM_PREFIX))
    }
}

impl fmt::Display for PinnedObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinnedObject::Link {
                link_type,
                id,
                program,
            } => {
                write!(f, "a pinned `{link_type}` link (id {id})")?;
                match program {
                    Some(p) if p.name.is_empty() => {
                        write!(f, " of an unnamed program (id {})", p.id)
                    }
                    Some(p) => write!(f, " of program `{}` (id {})", p.name, p.id),
                    None => write!(f, " without a program"),
                }
            }
            PinnedObject::Program(p) => {
                write!(f, "a pinned BPF program `{}` (id {})", p.name, p.id)
            }
            PinnedObject::Map(m) => write!(f, "a pinned BPF map `{}` (id {})", m.name, m.id),
        }
    }
}

/// Removes the pinned link at `path`, if `bpfq pin` made it; the kernel frees the link, its
/// program and maps once no reader holds them. A symbolic link, a pin in an untrusted directory
/// and any other object are refused.
pub fn unpin(path: &Path) -> Result<(), PinError> {
    let meta = path.symlink_metadata().map_err(|err| match err.kind() {
        io::ErrorKind::NotFound => PinError::Sys {
            what: format!("{} does not exist", path.display()),
            err,
        },
        _ => sys_error(format!("cannot inspect {}", path.display()))(err),
    })?;
    if meta.file_type().is_symlink() {
        return Err(PinError::Symlink {
            path: path.to_path_buf(),
        });
    }
    trust::check(directory_of(path)).map_err(PinError::Untrusted)?;
    let not_a_link = || PinError::NotALink {
        path: path.to_path_buf(),
    };
    let fd = sys::obj_get(path).map_err(|_| not_a_link())?;
    let object = PinnedObject::of(fd.as_fd())
        .map_err(sys_error("reading the pinned object's fdinfo"))?
        .ok_or_else(not_a_link)?;
    drop(fd);
    if !object.is_bpfqs() {
        return Err(PinError::Foreign {
            path: path.to_path_buf(),
            object,
            owner: meta.uid(),
        });
    }
    std::fs::remove_file(path).map_err(sys_error(format!("removing {}", path.display())))
}
