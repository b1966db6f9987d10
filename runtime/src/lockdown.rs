//! The kernel lockdown mode, read from securityfs: what it is and what it denies BPF programs.
//! Reading it never fails: an unreadable mode is `Lockdown::Unknown` with the reason.

use std::io;

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
