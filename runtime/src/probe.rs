//! What the running kernel allows, found by asking it: the lockdown mode, the boot's identity,
//! and whether the verifier accepts a compiled program (loaded with stand-in maps of the sizes it
//! names, then dropped). Every fd made here is closed before a call returns.

use crate::loader::{load_iter_program, IterProgramSpec, LoadError};
use crate::sys;
use bpfq_compiler::group_place::GroupPlace;
use bpfq_compiler::ir::MapRef;
use bpfq_compiler::pipeline::Compiled;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Where the kernel publishes its lockdown mode (securityfs).
pub const LOCKDOWN_FILE: &str = "/sys/kernel/security/lockdown";

/// The kernel lockdown mode (`lockdown=` on the command line, or forced by the kernel's config
/// as Secure Boot distributions do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lockdown {
    None,
    /// Denies writing kernel or user memory from BPF (`bpf_probe_write_user`).
    Integrity,
    /// Also denies reading kernel memory: `bpf_probe_read_kernel` and friends.
    Confidentiality,
    /// The mode could not be read (securityfs not mounted, or no lockdown LSM).
    Unknown(String),
}

impl Lockdown {
    /// The mode's name as the kernel spells it, or why it is unknown.
    pub fn describe(&self) -> String {
        match self {
            Lockdown::None => "none".into(),
            Lockdown::Integrity => "integrity".into(),
            Lockdown::Confidentiality => "confidentiality".into(),
            Lockdown::Unknown(why) => format!("unknown ({why})"),
        }
    }
}

/// The lockdown mode: the bracketed word of `LOCKDOWN_FILE` (`none [integrity] confidentiality`).
pub fn lockdown() -> Lockdown {
    match std::fs::read_to_string(LOCKDOWN_FILE) {
        Ok(text) => parse_lockdown(&text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Lockdown::Unknown(format!(
            "{LOCKDOWN_FILE} is missing: securityfs not mounted, or a kernel without the lockdown LSM"
        )),
        Err(e) => Lockdown::Unknown(format!("{LOCKDOWN_FILE}: {e}")),
    }
}

/// The mode named in brackets in the text of the lockdown file.
pub fn parse_lockdown(text: &str) -> Lockdown {
    let chosen = text
        .split_whitespace()
        .find_map(|word| word.strip_prefix('[')?.strip_suffix(']'));
    match chosen {
        Some("none") => Lockdown::None,
        Some("integrity") => Lockdown::Integrity,
        Some("confidentiality") => Lockdown::Confidentiality,
        _ => Lockdown::Unknown(format!("unexpected contents `{}`", text.trim())),
    }
}

/// This boot's random identity (changes at every boot; keys the probe's cache).
pub fn boot_id() -> io::Result<String> {
    Ok(std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_string())
}

/// Loads `compiled`'s program with stand-in maps of the sizes it names and drops it: Ok when the
/// verifier accepts it, else the kernel's refusal (with the verifier's log).
pub fn verifier_accepts(compiled: &Compiled) -> Result<(), LoadError> {
    let maps = StandInMaps::for_program(compiled).map_err(|err| LoadError::Sys {
        what: "creating a stand-in map",
        err,
    })?;
    let insns = compiled.program.to_bytes_with_maps(|map| maps.fd_of(map));
    let spec = IterProgramSpec {
        name: &compiled.prog_name,
        insns: &insns,
        license: "GPL",
        attach_btf_id: compiled.plan.target.attach_func.0,
    };
    load_iter_program(&spec, false).map(drop)
}

/// One small map for each map the program refers to, shaped as the real run would create it.
struct StandInMaps {
    ring: Option<OwnedFd>,
    groups: Option<sys::HashMapFd>,
    formats: Option<OwnedFd>,
}

impl StandInMaps {
    fn for_program(compiled: &Compiled) -> io::Result<StandInMaps> {
        let uses = |wanted: MapRef| compiled.program.relocations.iter().any(|r| r.map == wanted);
        let ring = match uses(MapRef::RowRing) {
            true => Some(sys::ringbuf_create("bpfq_probe", sys::page_size() as u32)?),
            false => None,
        };
        let groups = match (&compiled.plan.group_place, uses(MapRef::Groups)) {
            (Some(GroupPlace::Kernel(kernel)), true) => Some(sys::HashMapFd::create(
                "bpfq_probe",
                kernel.key_size,
                kernel.value_size,
                1,
            )?),
            _ => None,
        };
        let formats = match uses(MapRef::Formats) {
            true => Some(sys::frozen_array_create(
                "bpfq_probe",
                &compiled.program.formats,
            )?),
            false => None,
        };
        Ok(StandInMaps {
            ring,
            groups,
            formats,
        })
    }

    fn fd_of(&self, map: MapRef) -> i32 {
        let fd = match map {
            MapRef::RowRing => self.ring.as_ref().map(|fd| fd.as_raw_fd()),
            MapRef::Groups => self.groups.as_ref().map(|map| map.as_fd().as_raw_fd()),
            MapRef::Formats => self.formats.as_ref().map(|fd| fd.as_raw_fd()),
        };
        fd.unwrap_or(-1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bracketed_mode_is_the_one_in_force() {
        assert_eq!(
            parse_lockdown("none [integrity] confidentiality\n"),
            Lockdown::Integrity
        );
        assert_eq!(
            parse_lockdown("[none] integrity confidentiality"),
            Lockdown::None
        );
        assert_eq!(
            parse_lockdown("none integrity [confidentiality]"),
            Lockdown::Confidentiality
        );
        assert!(matches!(parse_lockdown("garbage"), Lockdown::Unknown(_)));
    }
}
