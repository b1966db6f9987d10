//! Test support: opens the committed BTF fixtures once per test binary and writes decompressed copies for bpftool.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use bpfq_kernel::Btf;

pub const VERSIONS: [&str; 4] = ["5.10", "6.1", "6.12", "6.18"];

pub fn fixture_path(version: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/btf")
        .join(format!("linux-{version}.btf.xz"))
}

/// The fixture for `version`, decompressed and opened once per test binary.
pub fn fixture(version: &str) -> &'static Btf {
    static OPENED: [OnceLock<Btf>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let slot = VERSIONS
        .iter()
        .position(|v| *v == version)
        .expect("known fixture version");
    OPENED[slot].get_or_init(|| Btf::from_file(&fixture_path(version)).expect("fixture opens"))
}

/// Writes the raw (decompressed) bytes of `btf` to a per-process temp file and returns its path.
pub fn raw_copy(btf: &Btf, label: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("bpfq-kernel-{label}-{}.btf", std::process::id()));
    std::fs::write(&path, btf.bytes()).expect("temp file writable");
    path
}
