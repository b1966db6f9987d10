//! Shared support of the compile-only tests: the BTF fixtures kept in the repo (never the
//! host's BTF), a bind environment over one of them, and the stdlib columns of a target as a
//! given kernel binds them.
#![allow(dead_code, unused_macros)]

#[path = "../../../../kernel/tests/btf/common/fixtures.rs"]
pub mod fixtures;
pub mod maps;
pub mod targets;

pub use fixtures::{fixture, VERSIONS};

/// `snap!(name, src)`: an insta snapshot of the calling file's `check(src)`, with the input as
/// the snapshot's description so a reviewer sees both.
macro_rules! snap {
    ($name:literal, $src:expr) => {{
        let src: &str = $src;
        insta::with_settings!({ description => src, omit_expression => true }, {
            insta::assert_snapshot!($name, check(src));
        });
    }};
}

use bpfq_compiler::describe::ColumnInfo;
use bpfq_compiler::diagnostic::{FileId, Sources};
use bpfq_compiler::pipeline::Compiler;
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::Btf;

/// Runs `use_env` with a compiler session over `btf`, the embedded stdlib, no parameters and no
/// maps, and `query` as the source file it is given.
pub fn with_env<T>(btf: &Btf, query: &str, use_env: impl FnOnce(FileId, &Compiler) -> T) -> T {
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib parses");
    let features = bpfq_kernel::KernelFeatures::from_btf(btf).expect("features of the BTF");
    let env = Compiler::new(btf, &features, &stdlib, &sources);
    use_env(file, &env)
}

/// Every stdlib column of `target`, bound against `btf` (its type, or why it cannot be bound).
pub fn stdlib_columns(btf: &Btf, target: &str) -> Vec<ColumnInfo> {
    with_env(btf, "", |_, env| env.columns(target))
}
