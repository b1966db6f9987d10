//! Kernel test: constant folding computes what the program computes. Fixed cases with values
//! written from BPF's semantics, then a differential test: seeded random well-typed expressions
//! (literals, `cast(C as T)` of every width and signedness, typed `$param`s of a query file;
//! every arithmetic, bitwise, shift, comparison and logical operator, unary minus and `~`,
//! casts) are computed three ways, one column each, over a process the test spawns:
//! (a) folded by the compiler, (b) by the kernel, the same expression with each constant leaf
//! made a run-time value (`pid - pid + C`), (c) by user space, that run-time expression as the
//! result of a grouped query whose keys are its casts. All three must agree. The expressions
//! come from `common/expr_gen.rs`; `BPFQ_FOLD_SEED=N` runs another seed.

use crate::common;

use common::expr_gen::{folded, runtime, Gen, Rng, E};
use common::*;
use std::fmt::Write as _;

/// The single row of `query` run from a query file (with `decls` before it), as csv fields.
fn file_row(decls: &str, query: &str) -> Vec<String> {
    // Tests run in parallel: each file its own directory.
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("bpfq-fold-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("q.bpfq");
    std::fs::write(&file, format!("{decls}{query}\n")).expect("write query file");
    let out = bpfq(&["run", file.to_str().unwrap(), "-o", "csv"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{query}:\n{}", stderr(&out));
    let text = stdout(&out);
    let rows = csv_rows(&text);
    assert_eq!(rows.len(), 1, "one row from {query}: {text}");
    rows.into_iter().next().unwrap_or_default()
}

#[test]
fn folded_constants_have_the_programs_values() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("fx"));
    let pid = child.pid();
    // (expression, value as BPF computes it: 64-bit registers, signed among literals)
    let cases = [
        ("-1 < 0", "true"),
        ("-16 / 3", "-5"),
        ("-16 >> 2", "-4"),
        ("-16 % 3", "-1"),
        (
            "cast(-9223372036854775808 as s64) / -1",
            "-9223372036854775808",
        ),
        ("cast(-9223372036854775808 as s64) % -1", "0"),
        ("cast(-1 as u32) > 0", "true"),
        ("cast(-1 as u32)", "4294967295"),
        ("cast(300 as u8)", "44"),
        ("cast(200 as s8)", "-56"),
        ("cast(65535 as s16) < 0", "true"),
        ("-cast(5 as u8)", "-5"),
        ("~cast(0 as u16)", "18446744073709551615"),
        ("cast(-7 as s32) / 2", "-3"),
        ("1 << 65", "2"),
        ("cast(-8 as u64) >> 1", "9223372036854775804"),
        ("cast(-1 as u32) == -1", "true"),
    ];
    let columns: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, (e, _))| format!("{e} as c{i}"))
        .collect();
    let row = file_row(
        "",
        &format!("from task select {} where pid == {pid}", columns.join(", ")),
    );
    for ((expr, want), got) in cases.iter().zip(&row) {
        assert_eq!(got, want, "{expr}");
    }
    // A filter with a folded bound, and parameters, fold the same way.
    let row = file_row(
        "",
        &format!("from task select pid where pid == {pid} and pid > -16 / 3 + 4"),
    );
    assert_eq!(row, vec![pid.to_string()], "-16 / 3 + 4 is -1");
    // A parameter is a constant of its declared type.
    let row = file_row(
        "param s: s32 = -16;\nparam big: u64 = 0xffffffffffffffff;\nparam b: u8 = 200;\n",
        &format!(
            "from task select $s >> 2, $s / 3, $s < 0, $big > 0, $big >> 60, cast($b as s8) \
             where pid == {pid}"
        ),
    );
    assert_eq!(row, ["-4", "-5", "true", "true", "15", "-56"]);
}

#[test]
fn like_patterns_that_always_or_never_match_load() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("lk"));
    let pid = child.pid();
    let (_, rows) = query_csv(
        &format!("from task select pid where pid == {pid} and comm like \"%\""),
        &[],
    );
    assert_eq!(rows, vec![vec![pid.to_string()]]);
    // Never true: the program must not hold the row code the verifier sees as unreachable.
    let (_, rows) = query_csv(
        &format!("from task select pid where pid == {pid} and comm not like \"%\""),
        &[],
    );
    assert!(rows.is_empty(), "{rows:?}");
}

/// The seed: `BPFQ_FOLD_SEED` or a fixed one, so a run is reproducible.
fn seed() -> u64 {
    std::env::var("BPFQ_FOLD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f01d)
}

const BATCHES: usize = 10;
const PER_BATCH: usize = 40;

#[test]
fn folder_kernel_and_user_space_agree_on_random_expressions() {
    let _k = shared_kernel();
    let child = Named::spawn(&unique_name("fo"));
    let pid = child.pid();
    let seed = seed();
    let mut gen = Gen {
        choices: Rng(seed | 1),
        params: Vec::new(),
    };
    let mut checked = 0;
    for batch in 0..BATCHES {
        gen.params.clear();
        let exprs: Vec<E> = (0..PER_BATCH)
            .map(|i| if i % 4 == 0 { gen.cond(3) } else { gen.int(4) })
            .collect();
        let decls: String = gen.params.iter().map(|p| p.declaration()).collect();
        let mut keys = vec!["pid".to_string()];
        let (mut a, mut b) = (String::new(), String::new());
        for (i, e) in exprs.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(a, "{sep}{} as e{i}", folded(e)).unwrap();
            write!(b, "{sep}{} as e{i}", runtime(e, "pid - pid", &mut keys)).unwrap();
        }
        let filter = format!("where pid == {pid}");
        let at_compile = file_row(&decls, &format!("from task select {a} {filter}"));
        let in_kernel = file_row(&decls, &format!("from task select {b} {filter}"));
        let in_user = file_row(
            &decls,
            &format!("from task select {b} {filter} group by {}", keys.join(", ")),
        );
        for (i, e) in exprs.iter().enumerate() {
            let (x, y, z) = (&at_compile[i], &in_kernel[i], &in_user[i]);
            assert!(
                x == y && y == z,
                "seed {seed}, batch {batch}: {}\n  folded: {x}\n  kernel: {y} ({})\n  user space: {z}\n{decls}",
                folded(e),
                runtime(e, "pid - pid", &mut Vec::new()),
            );
            checked += 1;
        }
    }
    assert_eq!(checked, BATCHES * PER_BATCH);
}
