//! Stage `load`: BPF instructions -> loaded iterator program -> link -> iterator fd. Guarantees
//! every kernel object is owned by a Rust value and released on drop, and that a refused load
//! comes back with the verifier's reason (or the missing capabilities) rather than a bare errno.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use aya_obj::generated::{bpf_attach_type, bpf_prog_type};

use crate::caps;
use crate::reader::IterReader;
use crate::sys;
use crate::verifier_report;

/// First verifier log buffer; the log of a rejected small query fits easily.
const INITIAL_LOG_SIZE: usize = 256 * 1024;
/// The kernel refuses log buffers larger than this (UINT_MAX >> 2 on new kernels, 16 MiB on
/// older ones); 16 MiB is also plenty for log level 1.
const MAX_LOG_SIZE: usize = 16 * 1024 * 1024;

/// One iterator program ready to load.
#[derive(Debug, Clone, Copy)]
pub struct IterProgramSpec<'a> {
    /// Kernel program name: at most 15 characters of `[A-Za-z0-9_.]`.
    pub name: &'a str,
    /// Little-endian `struct bpf_insn` array (length a multiple of 8).
    pub insns: &'a [u8],
    /// Must be GPL-compatible ("GPL") or the kernel refuses even plain BTF loads.
    pub license: &'a str,
    /// BTF id of FUNC `bpf_iter_<target>` in vmlinux.
    pub attach_btf_id: u32,
}

/// Why a program could not be loaded, attached or opened.
#[derive(Debug)]
pub enum LoadError {
    /// The spec itself is malformed (checked before asking the kernel).
    InvalidProgram { reason: String },
    /// The verifier refused the program; `log` is its full level-1 log.
    Verifier { errno: i32, log: String },
    /// The kernel said EPERM; `missing` names the capabilities to grant.
    Permission { missing: String },
    /// The kernel said EPERM to `what` although this process holds the capabilities: a policy
    /// of this kernel (lockdown, a security module, a distribution's patch) denies it.
    Policy { what: &'static str },
    /// More instructions than the kernel loads (E2BIG from BPF_PROG_LOAD).
    TooLarge { insns: usize },
    /// Any other failed system call.
    Sys { what: &'static str, err: io::Error },
}

/// Most instructions the kernel takes in one program from a process with CAP_BPF or
/// CAP_SYS_ADMIN (`BPF_COMPLEXITY_LIMIT_INSNS`); without them, `BPF_MAXINSNS`.
pub const KERNEL_MAX_INSNS: usize = 1_000_000;
/// `BPF_MAXINSNS`: the limit for a process without CAP_BPF or CAP_SYS_ADMIN.
pub const KERNEL_MAX_INSNS_UNPRIVILEGED: usize = 4096;

impl LoadError {
    /// The index of the instruction the verifier stopped at: the last `N: (..)` line of its log.
    pub fn failed_insn(&self) -> Option<usize> {
        let LoadError::Verifier { log, .. } = self else {
            return None;
        };
        log.lines().rev().find_map(|line| {
            let (index, rest) = line.split_once(": (")?;
            index.trim().parse().ok().filter(|_| rest.len() > 2)
        })
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::InvalidProgram { reason } => write!(f, "invalid BPF program: {reason}"),
            LoadError::Verifier { errno, log } => {
                // The log itself is shown only on request (`verifier_report::report`).
                write!(f, "{}", verifier_report::summary(*errno, log))
            }
            LoadError::Permission { missing } => write!(
                f,
                "not allowed to load BPF iterator programs: this process lacks {missing}; \
                 run as root or grant those capabilities"
            ),
            LoadError::Policy { what } => write!(
                f,
                "this kernel ({}) answers {what} with EPERM although bpfq holds CAP_BPF, \
                 CAP_PERFMON and CAP_SYS_ADMIN: a policy of this kernel (lockdown, a security \
                 module or a patch of its distribution) forbids it; `bpfq doctor` lists what \
                 this kernel allows",
                verifier_report::kernel_release()
            ),
            LoadError::TooLarge { insns } => write!(
                f,
                "the program is too large for the kernel: {insns} instructions, where the kernel \
                 loads at most {KERNEL_MAX_INSNS} ({KERNEL_MAX_INSNS_UNPRIVILEGED} for a process \
                 without CAP_BPF or CAP_SYS_ADMIN); select fewer columns or use shorter `in` lists"
            ),
            LoadError::Sys { what, err } => write!(f, "{what} failed: {err}"),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Sys { err, .. } => Some(err),
            _ => None,
        }
    }
}

/// `sys_error` of a failed BPF_PROG_LOAD of `insns` instructions: E2BIG is the program's size.
fn load_error(insns: usize, err: io::Error) -> LoadError {
    if err.raw_os_error() == Some(libc::E2BIG) {
        return LoadError::TooLarge { insns };
    }
    sys_error("BPF_PROG_LOAD", err)
}

/// Turns an errno from the kernel into a `LoadError`, naming capabilities on EPERM.
fn sys_error(what: &'static str, err: io::Error) -> LoadError {
    if err.raw_os_error() == Some(libc::EPERM) {
        let missing = caps::effective_capabilities()
            .ok()
            .and_then(caps::missing_for_tracing);
        return match missing {
            Some(missing) => LoadError::Permission { missing },
            None => LoadError::Policy { what },
        };
    }
    LoadError::Sys { what, err }
}

/// A loaded iterator program; the kernel frees it when this (and any link) is dropped.
#[derive(Debug)]
pub struct LoadedProgram {
    fd: OwnedFd,
    verifier_log: Option<String>,
}

impl LoadedProgram {
    /// The verifier's log when it was captured (`verbose_log`).
    pub fn verifier_log(&self) -> Option<&str> {
        self.verifier_log.as_deref()
    }

    /// Kernel id and name of this program.
    pub fn info(&self) -> io::Result<sys::ProgInfo> {
        sys::prog_info(self.fd.as_fd())
    }

    /// `BPF_LINK_CREATE` with attach type BPF_TRACE_ITER; `iter_info` is the target's
    /// `union bpf_iter_link_info` (e.g. a task's pid), `None` for the whole system.
    pub fn attach(&self, iter_info: Option<&[u8]>) -> Result<IterLink, LoadError> {
        let fd = sys::link_create_iter(self.fd.as_fd(), iter_info)
            .map_err(|err| sys_error("BPF_LINK_CREATE", err))?;
        Ok(IterLink { fd })
    }
}

impl AsFd for LoadedProgram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// An iterator link: each `open` starts a fresh walk over the target's objects.
#[derive(Debug)]
pub struct IterLink {
    fd: OwnedFd,
}

const SETNS: &str = "entering the network namespace (setns)";

impl IterLink {
    /// Creates the iterator while this thread is in the network namespace named by `ns_path`
    /// (network iterators show the namespace current at creation), then returns to its own.
    pub fn open_in_netns(&self, ns_path: &std::path::Path) -> Result<IterReader, LoadError> {
        // The errors name the path: a bare ENOENT or EINVAL would not say which was wrong.
        let named = |err: &io::Error, why: String| io::Error::new(err.kind(), why);
        let target = std::fs::File::open(ns_path).map_err(|err| LoadError::Sys {
            what: "opening the network namespace",
            err: named(&err, format!("{}: {err}", ns_path.display())),
        })?;
        self.open_in_net_namespace(target.as_fd())
            .map_err(|error| match error {
                LoadError::Sys { what, err }
                    if what == SETNS && err.raw_os_error() == Some(libc::EINVAL) =>
                {
                    LoadError::Sys {
                        what,
                        err: named(
                            &err,
                            format!("{} is not a network namespace file", ns_path.display()),
                        ),
                    }
                }
                other => other,
            })
    }

    /// As `open_in_netns`, with the namespace given as an open namespace file.
    pub fn open_in_net_namespace(&self, target: BorrowedFd<'_>) -> Result<IterReader, LoadError> {
        let own = std::fs::File::open("/proc/thread-self/ns/net")
            .map_err(|err| sys_error("opening this thread's network namespace", err))?;
        sys::enter_net_namespace(target).map_err(|err| sys_error(SETNS, err))?;
        let opened = self.open();
        // Always come back, whatever the iterator creation did.
        sys::enter_net_namespace(own.as_fd())
            .map_err(|err| sys_error("returning to this thread's network namespace", err))?;
        opened
    }

    /// `BPF_ITER_CREATE`: an anonymous iterator fd to read rows from.
    pub fn open(&self) -> Result<IterReader, LoadError> {
        let fd =
            sys::iter_create(self.fd.as_fd()).map_err(|err| sys_error("BPF_ITER_CREATE", err))?;
        Ok(IterReader::new(fd))
    }

    /// Kernel id of this link and of its program.
    pub fn info(&self) -> io::Result<sys::LinkInfo> {
        sys::link_info(self.fd.as_fd())
    }
}

impl AsFd for IterLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn validate_name(name: &str) -> Result<(), LoadError> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    if name.len() > 15 || !valid_chars {
        return Err(LoadError::InvalidProgram {
            reason: format!("program name {name:?} must be at most 15 characters of [A-Za-z0-9_.]"),
        });
    }
    Ok(())
}

/// Loads an iterator program (BPF_PROG_TYPE_TRACING / BPF_TRACE_ITER against vmlinux BTF).
/// Tries without a log first (fast path); on a refusal loads again with a level-1 log to report
/// the verifier's reason. `verbose_log` captures the log even on success.
pub fn load_iter_program(
    spec: &IterProgramSpec<'_>,
    verbose_log: bool,
) -> Result<LoadedProgram, LoadError> {
    validate_name(spec.name)?;
    if spec.insns.is_empty() || !spec.insns.len().is_multiple_of(8) {
        return Err(LoadError::InvalidProgram {
            reason: format!(
                "{} bytes of instructions is not a non-zero multiple of 8",
                spec.insns.len()
            ),
        });
    }
    let insns = spec.insns.len() / 8;
    if insns > KERNEL_MAX_INSNS {
        return Err(LoadError::TooLarge { insns });
    }
    let license = CString::new(spec.license).map_err(|_| LoadError::InvalidProgram {
        reason: "license contains a NUL byte".to_string(),
    })?;
    let request = sys::ProgLoad {
        prog_type: bpf_prog_type::BPF_PROG_TYPE_TRACING,
        expected_attach_type: bpf_attach_type::BPF_TRACE_ITER,
        attach_btf_id: spec.attach_btf_id,
        insns: spec.insns,
        license: &license,
        name: spec.name,
    };
    if !verbose_log {
        match sys::prog_load(&request, None) {
            Ok(fd) => {
                return Ok(LoadedProgram {
                    fd,
                    verifier_log: None,
                })
            }
            Err(err) if is_verifier_refusal(&err) => {}
            Err(err) => return Err(load_error(insns, err)),
        }
    }
    load_with_log(&request)
}

fn is_verifier_refusal(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EACCES) | Some(libc::EINVAL))
}

/// Loads with a level-1 log, growing the buffer while the kernel reports ENOSPC.
fn load_with_log(request: &sys::ProgLoad<'_>) -> Result<LoadedProgram, LoadError> {
    let mut size = INITIAL_LOG_SIZE;
    loop {
        let mut buf = vec![0u8; size];
        let mut log = sys::VerifierLog {
            level: 1,
            buf: &mut buf,
            true_size: 0,
        };
        let result = sys::prog_load(request, Some(&mut log));
        let wanted = log.true_size as usize;
        let text = log_text(&buf);
        match result {
            Ok(fd) => {
                return Ok(LoadedProgram {
                    fd,
                    verifier_log: Some(text),
                })
            }
            Err(err) if err.raw_os_error() == Some(libc::ENOSPC) && size < MAX_LOG_SIZE => {
                size = wanted.max(size * 2).min(MAX_LOG_SIZE);
            }
            Err(err) if is_verifier_refusal(&err) || err.raw_os_error() == Some(libc::ENOSPC) => {
                return Err(LoadError::Verifier {
                    errno: err.raw_os_error().unwrap_or(0),
                    log: text,
                })
            }
            Err(err) => return Err(load_error(request.insns.len() / 8, err)),
        }
    }
}

/// The NUL-terminated text the kernel wrote into the log buffer.
fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn failed_insn_is_the_last_instruction_line_of_the_log() {
        let log = "func#0 @0\n0: R1=ctx() R10=fp0\n0: (79) r2 = *(u64 *)(r1 +8)\n1: (15) if r2 == 0x0 goto pc+3\n2: (61) r3 = *(u32 *)(r2 +99999)\ninvalid access to memory\nprocessed 3 insns\n";
        let err = LoadError::Verifier {
            errno: 13,
            log: log.to_string(),
        };
        assert_eq!(err.failed_insn(), Some(2));
        let none = LoadError::Verifier {
            errno: 13,
            log: "nothing useful".to_string(),
        };
        assert_eq!(none.failed_insn(), None);
    }

    use super::*;

    #[test]
    fn a_program_over_the_kernel_limit_is_refused_in_user_terms() {
        let insns = vec![0u8; (KERNEL_MAX_INSNS + 1) * 8];
        let spec = IterProgramSpec {
            name: "bpfq_task",
            insns: &insns,
            license: "GPL",
            attach_btf_id: 1,
        };
        let err = load_iter_program(&spec, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the program is too large for the kernel: 1000001 instructions, where the kernel \
             loads at most 1000000 (4096 for a process without CAP_BPF or CAP_SYS_ADMIN); \
             select fewer columns or use shorter `in` lists"
        );
        let from_kernel = load_error(5000, io::Error::from_raw_os_error(libc::E2BIG));
        assert!(matches!(from_kernel, LoadError::TooLarge { insns: 5000 }));
    }

    #[test]
    fn display_shows_the_reason_in_bpfq_words() {
        let err = LoadError::Verifier {
            errno: libc::EACCES,
            log: "0: (79) r1 = *(u64 *)(r1 +0)\nR1 invalid mem access 'scalar'\n".to_string(),
        };
        let text = err.to_string();
        assert!(text.contains("verifier rejected"), "{text}");
        assert!(
            text.contains("a load through R1, which holds a number, not a pointer"),
            "{text}"
        );
        assert!(
            !text.contains("invalid mem access"),
            "the log is not shown: {text}"
        );
    }

    #[test]
    fn bad_specs_are_refused_before_the_kernel_sees_them() {
        let insns = [0u8; 16];
        let long_name = IterProgramSpec {
            name: "a_name_that_is_too_long",
            insns: &insns,
            license: "GPL",
            attach_btf_id: 1,
        };
        assert!(matches!(
            load_iter_program(&long_name, false),
            Err(LoadError::InvalidProgram { .. })
        ));
        let torn = IterProgramSpec {
            name: "ok",
            insns: &insns[..12],
            license: "GPL",
            attach_btf_id: 1,
        };
        assert!(matches!(
            load_iter_program(&torn, false),
            Err(LoadError::InvalidProgram { .. })
        ));
        let bad_license = IterProgramSpec {
            name: "ok",
            insns: &insns,
            license: "G\0PL",
            attach_btf_id: 1,
        };
        assert!(matches!(
            load_iter_program(&bad_license, false),
            Err(LoadError::InvalidProgram { .. })
        ));
    }
}
