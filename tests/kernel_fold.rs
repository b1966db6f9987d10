//! Kernel test: constant folding computes what the program computes. Fixed cases with values
//! written from BPF's semantics, then a differential test: seeded random well-typed expressions
//! (literals, `cast(C as T)` of every width and signedness, typed `$param`s of a query file;
//! every arithmetic, bitwise, shift, comparison and logical operator, unary minus and `~`,
//! casts) are computed three ways, one column each, over a process the test spawns:
//! (a) folded by the compiler, (b) by the kernel, the same expression with each constant leaf
//! made a run-time value (`pid - pid + C`), (c) by user space, that run-time expression as the
//! result of a grouped query whose keys are its casts. All three must agree.

mod common;

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
    let text = bpfq_ok(&["run", file.to_str().unwrap(), "-o", "csv"]);
    let _ = std::fs::remove_dir_all(&dir);
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
    let row = file_row(
        "param s: s32 = -16;\n",
        &format!("from task select $s >> 2, $s / 3, $s < 0 where pid == {pid}"),
    );
    assert_eq!(row, ["-4", "-5", "true"]);
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

/// A deterministic xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Ty {
    Lit,
    Int(u8, bool),
    Bool,
}

const TYPES: &[(u8, bool)] = &[
    (1, false),
    (2, false),
    (4, false),
    (8, false),
    (1, true),
    (2, true),
    (4, true),
    (8, true),
];

fn type_name((bytes, signed): (u8, bool)) -> String {
    format!("{}{}", if signed { 's' } else { 'u' }, bytes * 8)
}

const VALUES: &[i128] = &[
    0,
    1,
    2,
    3,
    5,
    7,
    63,
    64,
    -1,
    -2,
    -3,
    -16,
    127,
    128,
    255,
    256,
    -128,
    -129,
    32767,
    32768,
    65535,
    65536,
    2147483647,
    2147483648,
    4294967295,
    4294967296,
    -2147483648,
    9223372036854775807,
    -9223372036854775808,
    18446744073709551615,
    6148914691236517205,
];

fn literal(v: i128) -> String {
    if v < 0 {
        format!("({v})")
    } else {
        v.to_string()
    }
}

#[derive(Clone, Debug)]
enum E {
    /// A literal or a `$param` (both literals to the binder), as written.
    Lit(String),
    /// `cast(C as T)`.
    Typed(i128, (u8, bool)),
    Unary(&'static str, Box<E>, Ty),
    Arith(&'static str, Box<E>, Box<E>, Ty),
    Cast(Box<E>, (u8, bool)),
    Compare(&'static str, Box<E>, Box<E>),
    Logic(&'static str, Box<E>, Box<E>),
    Not(Box<E>),
}

impl E {
    fn ty(&self) -> Ty {
        match self {
            E::Lit(_) => Ty::Lit,
            E::Typed(_, t) | E::Cast(_, t) => Ty::Int(t.0, t.1),
            E::Unary(_, _, ty) | E::Arith(_, _, _, ty) => *ty,
            E::Compare(..) | E::Logic(..) | E::Not(_) => Ty::Bool,
        }
    }
}

fn signed(t: Ty) -> bool {
    matches!(t, Ty::Int(_, true))
}

/// The generator: `params` collects the `$param` declarations the expressions use.
struct Gen {
    rng: Rng,
    params: Vec<String>,
}

impl Gen {
    fn leaf(&mut self) -> E {
        match self.rng.below(3) {
            0 => E::Lit(literal(*self.rng.pick(VALUES))),
            1 => E::Typed(*self.rng.pick(VALUES), *self.rng.pick(TYPES)),
            _ => {
                let (bytes, signed) = *self.rng.pick(TYPES);
                let bits = u32::from(bytes) * 8;
                let (min, max) = if signed {
                    (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
                } else {
                    (0, (1i128 << bits) - 1)
                };
                let v = (*self.rng.pick(VALUES)).clamp(min, max);
                let name = format!("p{}", self.params.len());
                self.params.push(format!(
                    "param {name}: {} = {v};\n",
                    type_name((bytes, signed))
                ));
                E::Lit(format!("${name}"))
            }
        }
    }

    fn int(&mut self, depth: u32) -> E {
        if depth == 0 || self.rng.below(4) == 0 {
            return self.leaf();
        }
        match self.rng.below(10) {
            0 => {
                let op = *self.rng.pick(&["-", "~"]);
                let e = self.int(depth - 1);
                let ty = match e.ty() {
                    Ty::Lit => Ty::Lit,
                    t => Ty::Int(8, signed(t) || op == "-"),
                };
                E::Unary(op, Box::new(e), ty)
            }
            1 => {
                let inner = if self.rng.below(4) == 0 {
                    self.cond(depth - 1)
                } else {
                    self.int(depth - 1)
                };
                E::Cast(Box::new(inner), *self.rng.pick(TYPES))
            }
            _ => {
                let op = *self
                    .rng
                    .pick(&["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]);
                let l = self.int(depth - 1);
                let mut r = self.int(depth - 1);
                if op == "/" || op == "%" {
                    // Never the constant 0 (E0206); run-time zeros are BPF's x / 0 = 0 above.
                    let ty = match r.ty() {
                        Ty::Lit => Ty::Lit,
                        t => Ty::Int(8, signed(t)),
                    };
                    r = E::Arith("|", Box::new(r), Box::new(E::Lit("1".into())), ty);
                }
                let ty = match (l.ty(), r.ty()) {
                    (Ty::Lit, Ty::Lit) => Ty::Lit,
                    (a, b) => Ty::Int(8, signed(a) || signed(b)),
                };
                E::Arith(op, Box::new(l), Box::new(r), ty)
            }
        }
    }

    fn cond(&mut self, depth: u32) -> E {
        match self.rng.below(if depth == 0 { 1 } else { 4 }) {
            0 | 1 => {
                let op = *self.rng.pick(&["==", "!=", "<", "<=", ">", ">="]);
                let d = depth.saturating_sub(1);
                E::Compare(op, Box::new(self.int(d)), Box::new(self.int(d)))
            }
            2 => {
                let op = *self.rng.pick(&["and", "or"]);
                E::Logic(
                    op,
                    Box::new(self.cond(depth - 1)),
                    Box::new(self.cond(depth - 1)),
                )
            }
            _ => E::Not(Box::new(self.cond(depth - 1))),
        }
    }
}

/// The expression as written: every constant a constant, so the binder folds what it can.
fn folded(e: &E) -> String {
    match e {
        E::Lit(text) => text.clone(),
        E::Typed(v, t) => format!("cast({} as {})", literal(*v), type_name(*t)),
        E::Unary(op, a, _) => format!("{op}({})", folded(a)),
        E::Arith(op, a, b, _) | E::Compare(op, a, b) => {
            format!("({} {op} {})", folded(a), folded(b))
        }
        E::Logic(op, a, b) => format!("({} {op} {})", folded(a), folded(b)),
        E::Not(a) => format!("(not {})", folded(a)),
        E::Cast(a, t) => format!("cast({} as {})", folded(a), type_name(*t)),
    }
}

/// The expression with its constants made run-time values of the same type: `cast(C as T)`
/// becomes `cast(pid - pid + C as T)`; a literal becomes the s64 `(pid - pid + C)` where it
/// meets only literals (literals are signed 64-bit among themselves), and stays a literal where
/// it meets a typed operand (where it takes that operand's signedness). `keys` collects the
/// casts, the group keys of the user-space evaluation.
fn runtime(e: &E, literal_ok: bool, keys: &mut Vec<String>) -> String {
    let text = match e {
        E::Lit(text) if literal_ok => format!("(pid - pid + {text})"),
        E::Lit(text) => text.clone(),
        E::Typed(v, t) => format!("cast(pid - pid + {} as {})", literal(*v), type_name(*t)),
        E::Unary(op, a, ty) => {
            if *ty == Ty::Lit && !literal_ok {
                return folded(e);
            }
            format!("{op}({})", runtime(a, literal_ok, keys))
        }
        E::Arith(op, a, b, _) | E::Compare(op, a, b) => {
            let both = a.ty() == Ty::Lit && b.ty() == Ty::Lit;
            if both && !literal_ok && matches!(e, E::Arith(..)) {
                return folded(e);
            }
            format!(
                "({} {op} {})",
                runtime(a, both, keys),
                runtime(b, both, keys)
            )
        }
        E::Logic(op, a, b) => format!(
            "({} {op} {})",
            runtime(a, true, keys),
            runtime(b, true, keys)
        ),
        E::Not(a) => format!("(not {})", runtime(a, true, keys)),
        E::Cast(a, t) => format!("cast({} as {})", runtime(a, true, keys), type_name(*t)),
    };
    if matches!(e, E::Typed(..) | E::Cast(..)) && !keys.contains(&text) {
        keys.push(text.clone());
    }
    text
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
    let child = Named::spawn(&unique_name("fd"));
    let pid = child.pid();
    let seed = seed();
    let mut gen = Gen {
        rng: Rng(seed | 1),
        params: Vec::new(),
    };
    let mut checked = 0;
    for batch in 0..BATCHES {
        gen.params.clear();
        let exprs: Vec<E> = (0..PER_BATCH)
            .map(|i| if i % 4 == 0 { gen.cond(3) } else { gen.int(4) })
            .collect();
        let decls = gen.params.concat();
        let mut keys = vec!["pid".to_string()];
        let (mut a, mut b) = (String::new(), String::new());
        for (i, e) in exprs.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(a, "{sep}{} as e{i}", folded(e)).unwrap();
            write!(b, "{sep}{} as e{i}", runtime(e, true, &mut keys)).unwrap();
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
                runtime(e, true, &mut Vec::new()),
            );
            checked += 1;
        }
    }
    assert_eq!(checked, BATCHES * PER_BATCH);
}
