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

/// Writes the raw (decompressed) bytes of `btf` to a temp file of its own and returns its path.
pub fn raw_copy(btf: &Btf, label: &str) -> PathBuf {
    // Tests of one binary run at once: each copy gets its own name, or one test's removal
    // pulls the file from under another's bpftool.
    static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "bpfq-kernel-{label}-{}-{n}.btf",
        std::process::id()
    ));
    std::fs::write(&path, btf.bytes()).expect("temp file writable");
    path
}
