//! Shared support of the compile-only tests: the BTF fixtures kept in the repo (never the
//! host's BTF) and the stdlib columns of a target as a given kernel binds them.
#![allow(dead_code)]

use bpfq_compiler::bind::BindEnv;
use bpfq_compiler::describe::ColumnInfo;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::Btf;
use std::collections::HashMap;
use std::path::Path;

/// The kernels whose BTF is kept in tests/fixtures/btf.
pub const VERSIONS: [&str; 4] = ["5.10", "6.1", "6.12", "6.18"];

/// The BTF of Linux `version` from tests/fixtures/btf (xz-compressed raw BTF).
pub fn fixture(version: &str) -> Btf {
    let path = format!(
        "{}/../tests/fixtures/btf/linux-{version}.btf.xz",
        env!("CARGO_MANIFEST_DIR")
    );
    Btf::from_file(Path::new(&path)).expect("fixture BTF")
}

/// Every stdlib column of `target`, bound against `btf` (its type, or why it cannot be bound).
pub fn stdlib_columns(btf: &Btf, target: &str) -> Vec<ColumnInfo> {
    let mut sources = Sources::new();
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib parses");
    let params = HashMap::new();
    let env = BindEnv {
        btf,
        stdlib: &stdlib,
        sources: &sources,
        params: &params,
        maps: None,
    };
    bpfq_compiler::describe::columns(&env, target)
}
