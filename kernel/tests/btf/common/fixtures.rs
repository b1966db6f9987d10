//! The committed BTF fixtures (tests/fixtures/btf, never the host's BTF), each decompressed and
//! opened once per test binary: the one loader of the kernel crate's and the compiler's tests.

use bpfq_kernel::Btf;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The kernels whose BTF is kept in tests/fixtures/btf.
pub const VERSIONS: [&str; 4] = ["5.10", "6.1", "6.12", "6.18"];

/// tests/fixtures/btf/linux-VERSION.btf.xz (xz-compressed raw BTF).
pub fn fixture_path(version: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/btf")
        .join(format!("linux-{version}.btf.xz"))
}

/// The BTF of Linux `version`, opened on first use and shared by every test of the binary.
pub fn fixture(version: &str) -> &'static Btf {
    static OPENED: [OnceLock<Btf>; VERSIONS.len()] = [const { OnceLock::new() }; VERSIONS.len()];
    let slot = VERSIONS
        .iter()
        .position(|v| *v == version)
        .expect("known fixture version");
    OPENED[slot].get_or_init(|| Btf::from_file(&fixture_path(version)).expect("fixture opens"))
}
