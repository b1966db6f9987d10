//! Fuzzing support shared by the cargo-fuzz targets: the 6.18 fixture BTF and the stdlib,
//! loaded once per process, and the one property every target checks — bad input gives a
//! coded diagnostic or an error value, never a panic (libFuzzer reports a panic as a crash);
//! the `fold` target also checks that constant folding computes what the map walk's evaluator
//! computes for the same expression with run-time operands.

use bpfq_compiler::bind::Params;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::map_walk_eval::{Element, Evaluator};
use bpfq_compiler::maps::{MapLookup, MapLookupError, MapRef, MapShape};
use bpfq_compiler::pipeline::{Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::Btf;
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
    let params = Params::from_iter([("p".to_string(), "7".to_string())]);
    // Broken BTF (the btf target patches bytes) has no features: nothing to compile.
    let Ok(features) = bpfq_kernel::KernelFeatures::from_btf(btf) else {
        return;
    };
    let env = Compiler::new(btf, &features, stdlib, &sources).with_params(&params);
    if let Err(diagnostic) = env.compile_single(Input::File(file), Options::default()) {
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

/// The expression generator of the kernel test `tests/kernel/fold.rs`.
#[path = "../../tests/common/expr_gen.rs"]
pub mod expr_gen;

/// Every map is a hash map of 4-byte keys and 8-byte values.
struct OneMap;

impl MapLookup for OneMap {
    fn lookup(&self, _map: &MapRef) -> Result<MapShape, MapLookupError> {
        Ok(MapShape {
            map_type: 1,
            key_size: 4,
            value_size: 8,
            name: "m".into(),
            id: 1,
            possible_cpus: 1,
        })
    }
}

/// The column of `from bpf_map_elem(map = "m") select EXPR` for one element (key 7), computed
/// by the map walk's evaluator (the fixture's features with map-element programs refused), as
/// (column kind, row bytes); a compile error is a panic (the generator's expressions are well
/// typed).
fn walked_column(expr: &str, params: &Params) -> (String, Vec<u8>) {
    let (stdlib_sources, stdlib) = stdlib();
    let mut sources = stdlib_sources.clone();
    let query = format!("from bpf_map_elem(map = \"m\") select {expr} as x");
    let file = sources.add("<fold>", &query);
    static FEATURES: OnceLock<bpfq_kernel::KernelFeatures> = OnceLock::new();
    let features = FEATURES.get_or_init(|| {
        let mut features = bpfq_kernel::KernelFeatures::from_btf(fixture()).expect("features");
        features.map_elem_programs = false;
        features.why.map_elem_programs = bpfq_kernel::Why::Given("the fold fuzz target");
        features
    });
    let env = Compiler::new(fixture(), features, stdlib, &sources).with_params(params).with_maps(&OneMap);
    let compiled = match env.compile_single(Input::File(file), Options::default()) {
        Ok(c) => c,
        Err(diagnostic) => panic!("{query}\n{}", diagnostic.render(&sources)),
    };
    let RowsFrom::MapWalk(walk) = &compiled.plan.rows_from else {
        panic!("{query} is not walked");
    };
    let evaluator = Evaluator::new(&compiled.plan, walk, &compiled.layout, &walk.map.shape);
    let mut row = vec![0u8; compiled.layout.size as usize];
    let element = Element {
        key: &7u32.to_le_bytes(),
        value: &[0; 8],
    };
    let passed = evaluator
        .row(&element, &mut row)
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    assert!(passed, "{query}: no filter, yet no row");
    let column = &compiled.layout.columns[0];
    let at = column.offset as usize;
    let width = column.kind.width() as usize;
    (format!("{:?}", column.kind), row[at..at + width].to_vec())
}

/// An expression generated from `data`, folded by the binder and, with its constants made
/// run-time values of the key, computed by the map walk's evaluator: the two must agree.
pub fn fold_agrees(data: &[u8]) {
    let mut gen = expr_gen::Gen {
        choices: expr_gen::Bytes(data),
        params: Vec::new(),
    };
    let expr = if expr_gen::Choices::below(&mut gen.choices, 2) == 0 {
        gen.cond(3)
    } else {
        gen.int(4)
    };
    // As a query file's declarations give them: the value and its declared type.
    let params = gen.params.iter().fold(Params::new(), |mut params, p| {
        params.set(p.name.clone(), p.value.to_string());
        params.with_type(&p.name, &expr_gen::type_name(p.ty))
    });
    let folded = expr_gen::folded(&expr);
    let run_time = expr_gen::runtime(&expr, "cast(key - key as s64)", &mut Vec::new());
    let at_compile = walked_column(&folded, &params);
    let evaluated = walked_column(&run_time, &params);
    assert_eq!(
        at_compile, evaluated,
        "folded: {folded}\nevaluated: {run_time}\nparams: {params:?}"
    );
}
