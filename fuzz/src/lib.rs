//! Fuzzing support shared by the cargo-fuzz targets: the 6.18 fixture BTF and the stdlib,
//! loaded once per process, and the one property every target checks — bad input gives a
//! coded diagnostic or an error value, never a panic (libFuzzer reports a panic as a crash).

use bpfq_compiler::bind::BindEnv;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::pipeline::compile;
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::Btf;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// Decompressed bytes of tests/fixtures/btf/linux-6.18.btf.xz (never the host's BTF).
pub fn fixture_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/btf/linux-6.18.btf.xz"
        );
        Btf::from_file(Path::new(path))
            .expect("fixture BTF")
            .bytes()
            .to_vec()
    })
}

/// The stdlib parsed once, with the sources that hold its files.
fn stdlib() -> &'static (Sources, Stdlib) {
    static STDLIB: OnceLock<(Sources, Stdlib)> = OnceLock::new();
    STDLIB.get_or_init(|| {
        let mut sources = Sources::new();
        let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib parses");
        (sources, stdlib)
    })
}

/// Compiles `query` against `btf`; the result is dropped, only a panic matters.
pub fn compile_against(btf: &Btf, query: &str) {
    let (stdlib_sources, stdlib) = stdlib();
    let mut sources = stdlib_sources.clone();
    let file = sources.add("<fuzz>", query);
    let params = HashMap::from([("p".to_string(), "7".to_string())]);
    // Broken BTF (the btf target patches bytes) has no features: nothing to compile.
    let Ok(features) = bpfq_kernel::KernelFeatures::from_btf(btf) else {
        return;
    };
    let env = BindEnv {
        btf,
        stdlib,
        sources: &sources,
        params: &params,
        maps: None,
        features: &features,
    };
    if let Err(diagnostic) = compile(file, &env) {
        // Rendering walks the spans: a span outside its file would panic here.
        let _ = diagnostic.render(&sources);
    }
}

/// The 6.18 fixture, opened once.
pub fn fixture() -> &'static Btf {
    static BTF: OnceLock<Btf> = OnceLock::new();
    BTF.get_or_init(|| Btf::from_bytes(fixture_bytes().to_vec()).expect("fixture BTF"))
}

/// The fixture with `patches` applied: each 5-byte chunk is a little-endian offset (modulo the
/// length) and the byte to store there, so small inputs reach every part of a large file.
pub fn patched_fixture(patches: &[u8]) -> Vec<u8> {
    let mut bytes = fixture_bytes().to_vec();
    for chunk in patches.chunks_exact(5) {
        let offset = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as usize;
        let len = bytes.len();
        bytes[offset % len] = chunk[4];
    }
    bytes
}

/// Queries that reach the reader's lookups: a target, stdlib columns and raw member paths.
pub const BTF_PROBE_QUERIES: &[&str] = &[
    "from task select pid, comm, task.mm.total_vm",
    "from tcp select src, sport, dst, dport, state",
    "from ipv6_route select rt.fib6_dst.addr, rt.fib6_nh[0].nh_common.nhc_dev.name",
];

/// Everything the BTF reader offers a caller, on possibly corrupt bytes.
pub fn exercise_btf(bytes: Vec<u8>) {
    let Ok(btf) = Btf::from_bytes(bytes) else {
        return;
    };
    let _ = btf.validate();
    let _ = bpfq_kernel::catalogue::discover(&btf);
    let _ = bpfq_kernel::catalogue::meta_layout(&btf);
    for query in BTF_PROBE_QUERIES {
        compile_against(&btf, query);
    }
}
