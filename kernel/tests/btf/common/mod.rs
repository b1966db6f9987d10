//! Test support: the committed BTF fixtures (`fixtures`, opened once per test binary) and
//! decompressed copies of them for bpftool.

#![allow(dead_code)]

pub mod fixtures;

use bpfq_kernel::Btf;
use std::path::PathBuf;

pub use fixtures::{fixture, fixture_path, VERSIONS};

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
