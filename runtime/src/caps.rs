//! Stage `load` (diagnostics): which Linux capabilities this process holds, so a refused load
//! can name exactly the capabilities that are missing instead of a bare EPERM.

use std::io;

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

/// What to tell the user is missing for loading and running tracing programs, or `None` when
/// the capabilities are all present (then the refusal comes from elsewhere, e.g. lockdown).
pub fn missing_for_tracing(mask: u64) -> Option<String> {
    if has(mask, CAP_SYS_ADMIN) || (has(mask, CAP_BPF) && has(mask, CAP_PERFMON)) {
        return None;
    }
    let missing: Vec<&str> = [(CAP_BPF, "CAP_BPF"), (CAP_PERFMON, "CAP_PERFMON")]
        .into_iter()
        .filter(|&(cap, _)| !has(mask, cap))
        .map(|(_, name)| name)
        .collect();
    Some(format!("{} (or CAP_SYS_ADMIN)", missing.join(" and ")))
}

/// After an EPERM from bpf(2) for bpfq's own programs or maps: the capabilities this process
/// lacks, if that is why (else the refusal comes from elsewhere and `None`).
pub fn missing_after_eperm(err: &io::Error) -> Option<String> {
    if err.raw_os_error() != Some(libc::EPERM) {
        return None;
    }
    missing_for_tracing(effective_capabilities().ok()?)
}

/// After an EPERM while opening another program's map by id (`BPF_MAP_GET_FD_BY_ID` and
/// `BPF_MAP_GET_NEXT_ID` need CAP_SYS_ADMIN whatever else is held): `CAP_SYS_ADMIN` if missing.
pub fn missing_for_map_lookup_after_eperm(err: &io::Error) -> Option<&'static str> {
    if err.raw_os_error() != Some(libc::EPERM) {
        return None;
    }
    let mask = effective_capabilities().ok()?;
    (!has(mask, CAP_SYS_ADMIN)).then_some("CAP_SYS_ADMIN")
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
    }
}
