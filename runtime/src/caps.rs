//! Stage `load` (diagnostics): which Linux capabilities this process holds, so a refused load
//! can name exactly the capabilities that are missing instead of a bare EPERM.

use std::io;

const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capability set (`CapEff` in /proc/self/status) as a bit mask.
pub fn effective_capabilities() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    parse_cap_eff(&status).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "no CapEff line in /proc/self/status",
        )
    })
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

fn has(mask: u64, cap: u32) -> bool {
    mask & (1u64 << cap) != 0
}

/// What a bpf(2) command bpfq issues needs (kernel/bpf/syscall.c, Linux 6.x; CAP_SYS_ADMIN
/// stands in for CAP_BPF and CAP_PERFMON everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// BPF_PROG_LOAD of a tracing (iterator) program: CAP_BPF for any program, CAP_PERFMON for
    /// tracing types; attaching and reading it then need nothing more. Also the maps made only
    /// for such a program (ring, group and format maps): BPF_MAP_CREATE of a hash, array or
    /// ring buffer needs CAP_BPF alone (when kernel.unprivileged_bpf_disabled is set, as
    /// distributions do), but naming only that would send the user back for CAP_PERFMON.
    Tracing,
    /// BPF_MAP_GET_FD_BY_ID and BPF_MAP_GET_NEXT_ID (another program's map): CAP_SYS_ADMIN,
    /// whatever else is held.
    SysAdmin,
    /// Creating iterators in another network namespace: setns(2) needs CAP_SYS_ADMIN, and
    /// opening /proc/PID/ns/net of other users' processes CAP_SYS_PTRACE.
    Namespaces,
}

impl Needs {
    /// The capabilities that grant it, as a mask of capability bits.
    pub fn mask(self) -> u64 {
        let bits: &[u32] = match self {
            Needs::Tracing => &[CAP_BPF, CAP_PERFMON],
            Needs::SysAdmin => &[CAP_SYS_ADMIN],
            Needs::Namespaces => &[CAP_SYS_ADMIN, CAP_SYS_PTRACE],
        };
        bits.iter().fold(0, |mask, &cap| mask | (1u64 << cap))
    }
}

/// Lowers this thread's effective, permitted and inheritable capabilities to those of `needs`
/// (never raises one): threads started afterwards inherit the lowered sets, and a permitted
/// capability given up cannot be taken back. Returns the effective mask kept.
pub fn keep_only(needs: &[Needs]) -> io::Result<u64> {
    let wanted = needs.iter().fold(0, |mask, needs| mask | needs.mask());
    let kept = wanted & effective_capabilities()?;
    crate::sys::set_capabilities(kept)?;
    Ok(kept)
}

/// The capabilities of `needs` that `mask` lacks, as words, or `None` when none is missing
/// (then a refusal comes from elsewhere, e.g. lockdown or a security module).
pub fn missing(needs: Needs, mask: u64) -> Option<String> {
    let wanted: &[(u32, &str)] = match needs {
        Needs::Tracing => &[(CAP_BPF, "CAP_BPF"), (CAP_PERFMON, "CAP_PERFMON")],
        Needs::SysAdmin => return (!has(mask, CAP_SYS_ADMIN)).then(|| "CAP_SYS_ADMIN".into()),
        Needs::Namespaces => &[
            (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
            (CAP_SYS_PTRACE, "CAP_SYS_PTRACE"),
        ],
    };
    if has(mask, CAP_SYS_ADMIN) {
        return None;
    }
    let lacking: Vec<&str> = wanted
        .iter()
        .filter(|&&(cap, _)| !has(mask, cap))
        .map(|&(_, name)| name)
        .collect();
    (!lacking.is_empty()).then(|| format!("{} (or CAP_SYS_ADMIN)", lacking.join(" and ")))
}

/// What to tell the user is missing for loading and running tracing programs.
pub fn missing_for_tracing(mask: u64) -> Option<String> {
    missing(Needs::Tracing, mask)
}

/// After `err` from a bpf(2) command that `needs`: the capabilities this process lacks when
/// the error is EPERM and that is why, else `None`.
pub fn missing_after_eperm(err: &io::Error, needs: Needs) -> Option<String> {
    if err.raw_os_error() != Some(libc::EPERM) {
        return None;
    }
    missing(needs, effective_capabilities().ok()?)
}

/// `what` (e.g. "create the group map") failed with `err`: in the user's terms, naming the
/// missing capabilities when an EPERM comes from them.
pub fn failure_text(what: &str, err: &io::Error, needs: Needs) -> String {
    match missing_after_eperm(err, needs) {
        Some(missing) => refused(what, &missing),
        None => format!("cannot {what}: {err}"),
    }
}

/// The refusal sentence for `what` when `missing` capabilities are why.
pub fn refused(what: &str, missing: &str) -> String {
    let them = if missing.contains(" and ") {
        "them"
    } else {
        "it"
    };
    format!("not allowed to {what}: this process lacks {missing}; run as root or grant {them}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cap_eff_from_status_text() {
        let status = "Name:\tx\nCapPrm:\t0000000000000001\nCapEff:\t000001fffeffffff\n";
        assert_eq!(parse_cap_eff(status), Some(0x0000_01ff_feff_ffff));
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
    }

    #[test]
    fn names_only_the_missing_capabilities() {
        assert_eq!(missing_for_tracing(1 << CAP_SYS_ADMIN), None);
        assert_eq!(
            missing_for_tracing((1 << CAP_BPF) | (1 << CAP_PERFMON)),
            None
        );
        assert_eq!(
            missing_for_tracing(1 << CAP_BPF).as_deref(),
            Some("CAP_PERFMON (or CAP_SYS_ADMIN)")
        );
        assert_eq!(
            missing_for_tracing(0).as_deref(),
            Some("CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)")
        );
        assert_eq!(
            missing(Needs::SysAdmin, 1 << CAP_BPF).as_deref(),
            Some("CAP_SYS_ADMIN")
        );
        assert_eq!(missing(Needs::SysAdmin, 1 << CAP_SYS_ADMIN), None);
    }
}
