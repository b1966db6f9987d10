//! Kernel test of stages 2-10 together: deterministic random well-typed queries over target
//! `task` must pass the kernel's verifier, and, for queries over this process's ids, compute
//! the same column values as an independent evaluator written here in Rust.
//!
//! The generator is a fixed-seed xorshift PRNG, so every run builds the same queries and a
//! failure names a query that can be pasted into `bpfq explain`.

use crate::common;

use common::*;

/// Queries that only have to load and run.
const VERIFIER_QUERIES: usize = 200;
/// Queries whose values are checked against the Rust evaluator.
const VALUE_QUERIES: usize = 50;
/// Generated queries printed (with `--nocapture`) so a reader sees what is tested.
const SAMPLES_SHOWN: usize = 2;
/// Failures printed verbatim before the test fails.
const SHOWN_FAILURES: usize = 10;

/// The seed of a test: fixed, unless `BPFQ_RANDOM_SEED` asks for another run to explore.
fn seed(fixed: u64) -> u64 {
    std::env::var("BPFQ_RANDOM_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(fixed, |s| s ^ fixed)
}

/// How many queries a test runs: `default`, unless `BPFQ_RANDOM_COUNT` says otherwise.
fn count(default: usize) -> usize {
    std::env::var("BPFQ_RANDOM_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: small, deterministic, good enough to pick grammar productions.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// An integer field usable in a query, with how bpfq types it.
#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    signed: bool,
}

const fn field(name: &'static str, signed: bool) -> Field {
    Field { name, signed }
}

/// Every integer field the verifier test draws from (signedness does not matter there).
const ALL_FIELDS: &[Field] = &[
    field("pid", true),
    field("tid", true),
    field("tgid", true),
    field("ppid", true),
    field("uid", false),
    field("gid", false),
    field("prio", true),
    field("nice", true),
    field("threads", true),
    field("vsize", false),
    field("task.prio", true),
    field("task.static_prio", true),
    field("task.flags", false),
    field("task.real_parent.tgid", true),
    field("task.real_parent.real_parent.pid", true),
    field("task.mm.total_vm", false),
    field("task.signal.nr_threads", true),
    field("task.se.load.weight", false),
];

/// The fields whose values this process can read from /proc (pid, tid, tgid, ppid: s32 in the
/// kernel; uid, gid: u32).
const PROC_FIELDS: &[Field] = &[
    field("pid", true),
    field("tid", true),
    field("tgid", true),
    field("ppid", true),
    field("uid", false),
    field("gid", false),
];

/// Literals as written in the query, with their value.
const LITERALS: &[(&str, u64)] = &[
    ("0", 0),
    ("1", 1),
    ("2", 2),
    ("3", 3),
    ("7", 7),
    ("42", 42),
    ("100", 100),
    ("4096", 4096),
    ("0x7fffffff", 0x7fff_ffff),
    ("0x1_0000_0000", 0x1_0000_0000),
    ("-5", 5u64.wrapping_neg()),
    ("-1", u64::MAX),
];

/// An operator enum and the table of how each is written in a query.
macro_rules! operators {
    ($enum:ident, $table:ident: $($variant:ident $text:literal),* $(,)?) => {
        #[derive(Clone, Copy, PartialEq, Debug)]
        enum $enum {
            $($variant),*
        }

        const $table: &[($enum, &str)] = &[$(($enum::$variant, $text)),*];
    };
}

operators!(Arith, ARITH:
    Add "+", Sub "-", Mul "*", Div "/", Rem "%",
    And "&", Or "|", Xor "^", Shl "<<", Shr ">>",
);

operators!(Cmp, CMP: Eq "==", Ne "!=", Lt "<", Le "<=", Gt ">", Ge ">=");

#[derive(Clone, Debug)]
enum IntExpr {
    Field(&'static str, bool),
    Literal(&'static str, u64),
    Neg(Box<IntExpr>),
    BitNot(Box<IntExpr>),
    Binary(Arith, &'static str, Box<IntExpr>, Box<IntExpr>),
}

#[derive(Clone, Debug)]
enum BoolExpr {
    Compare(Cmp, &'static str, IntExpr, IntExpr),
    In(IntExpr, Vec<IntExpr>),
    CommIs { equal: bool, text: String },
    And(Box<BoolExpr>, Box<BoolExpr>),
    Or(Box<BoolExpr>, Box<BoolExpr>),
    Not(Box<BoolExpr>),
}

#[derive(Clone, Debug)]
enum Column {
    Int(IntExpr),
    Bool(BoolExpr),
    Comm,
}

/// The generator: `fields` are the names it may use; `depth` counts nesting levels left.
struct Generator<'a> {
    rng: Rng,
    fields: &'a [Field],
    text_tests: bool,
}

impl<'a> Generator<'a> {
    /// A generator seeded from `fixed_seed` (see `seed`), using `fields`; `text_tests` allows
    /// comparisons of `comm` with strings.
    fn new(fixed_seed: u64, fields: &'a [Field], text_tests: bool) -> Self {
        Generator {
            rng: Rng::new(seed(fixed_seed)),
            fields,
            text_tests,
        }
    }

    fn int(&mut self, depth: u32) -> IntExpr {
        if depth == 0 || self.rng.chance(25) {
            return self.leaf();
        }
        match self.rng.below(10) {
            0 => IntExpr::Neg(Box::new(self.int(depth - 1))),
            1 => IntExpr::BitNot(Box::new(self.int(depth - 1))),
            _ => {
                let (op, symbol) = *self.rng.pick(ARITH);
                let lhs = self.int(depth - 1);
                let rhs = self.int(depth - 1);
                let rhs = self.safe_rhs(op, rhs);
                IntExpr::Binary(op, symbol, Box::new(lhs), Box::new(rhs))
            }
        }
    }

    fn leaf(&mut self) -> IntExpr {
        if self.rng.chance(60) {
            let f = *self.rng.pick(self.fields);
            IntExpr::Field(f.name, f.signed)
        } else {
            let (text, value) = *self.rng.pick(LITERALS);
            IntExpr::Literal(text, value)
        }
    }

    /// Keeps the query well-typed: a constant divisor of zero is a compile error by design, and
    /// a constant shift of 64 or more is refused by the verifier.
    fn safe_rhs(&mut self, op: Arith, rhs: IntExpr) -> IntExpr {
        match (op, constant_value(&rhs)) {
            (Arith::Div | Arith::Rem, Some(0)) => IntExpr::Literal("7", 7),
            (Arith::Shl | Arith::Shr, Some(amount)) if amount >= 64 => {
                let (text, value) = *self.rng.pick(&[("1", 1), ("3", 3), ("12", 12), ("63", 63)]);
                IntExpr::Literal(text, value)
            }
            _ => rhs,
        }
    }

    fn condition(&mut self, depth: u32) -> BoolExpr {
        let inner = depth.saturating_sub(1);
        if depth == 0 || self.rng.chance(30) {
            if self.text_tests && self.rng.chance(15) {
                return BoolExpr::CommIs {
                    equal: self.rng.chance(50),
                    text: self.text(),
                };
            }
            if self.rng.chance(25) {
                let count = 1 + self.rng.below(4);
                let items = (0..count).map(|_| self.int(inner.min(2))).collect();
                return BoolExpr::In(self.int(inner), items);
            }
            let (op, symbol) = *self.rng.pick(CMP);
            return BoolExpr::Compare(op, symbol, self.int(inner), self.int(inner));
        }
        match self.rng.below(3) {
            0 => BoolExpr::And(
                Box::new(self.condition(inner)),
                Box::new(self.condition(inner)),
            ),
            1 => BoolExpr::Or(
                Box::new(self.condition(inner)),
                Box::new(self.condition(inner)),
            ),
            _ => BoolExpr::Not(Box::new(self.condition(inner))),
        }
    }

    /// A comm to compare with: 1 to 15 characters, sometimes a real kernel thread's name.
    fn text(&mut self) -> String {
        if self.rng.chance(30) {
            return (*self
                .rng
                .pick(&["kthreadd", "ksoftirqd/0", "sshd", "rcu_preempt"]))
            .into();
        }
        let len = 1 + self.rng.below(15);
        (0..len)
            .map(|_| (b'a' + self.rng.below(26) as u8) as char)
            .collect()
    }

    fn column(&mut self) -> Column {
        let depth = 1 + self.rng.below(5) as u32;
        match self.rng.below(20) {
            0 if self.text_tests => Column::Comm,
            1..=3 => Column::Bool(self.condition(depth)),
            _ => Column::Int(self.int(depth)),
        }
    }

    fn columns(&mut self) -> Vec<Column> {
        let count = 1 + self.rng.below(14);
        (0..count).map(|_| self.column()).collect()
    }
}

/// The value bpfq folds a literal-only expression to (it folds in u64), or None.
fn constant_value(expr: &IntExpr) -> Option<u64> {
    match expr {
        IntExpr::Field(..) => None,
        IntExpr::Literal(_, v) => Some(*v),
        IntExpr::Neg(inner) => constant_value(inner).map(u64::wrapping_neg),
        IntExpr::BitNot(inner) => constant_value(inner).map(|v| !v),
        IntExpr::Binary(op, _, l, r) => {
            let (a, b) = (constant_value(l)?, constant_value(r)?);
            Some(arith(*op, a, b, false))
        }
    }
}

// ---- rendering -------------------------------------------------------------------------------

fn render_int(expr: &IntExpr) -> String {
    match expr {
        IntExpr::Field(name, _) => (*name).into(),
        IntExpr::Literal(text, _) => (*text).into(),
        IntExpr::Neg(inner) => format!("-({})", render_int(inner)),
        IntExpr::BitNot(inner) => format!("~({})", render_int(inner)),
        IntExpr::Binary(_, symbol, l, r) => {
            format!("({} {symbol} {})", render_int(l), render_int(r))
        }
    }
}

fn render_bool(expr: &BoolExpr) -> String {
    match expr {
        BoolExpr::Compare(_, symbol, l, r) => {
            format!("({} {symbol} {})", render_int(l), render_int(r))
        }
        BoolExpr::In(value, items) => {
            let items: Vec<String> = items.iter().map(render_int).collect();
            format!("({} in ({}))", render_int(value), items.join(", "))
        }
        BoolExpr::CommIs { equal, text } => {
            format!("(comm {} \"{text}\")", if *equal { "==" } else { "!=" })
        }
        BoolExpr::And(l, r) => format!("({} and {})", render_bool(l), render_bool(r)),
        BoolExpr::Or(l, r) => format!("({} or {})", render_bool(l), render_bool(r)),
        BoolExpr::Not(inner) => format!("(not {})", render_bool(inner)),
    }
}

fn render_query(columns: &[Column], filter: Option<&str>) -> String {
    let columns: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let text = match c {
                Column::Int(e) => render_int(e),
                Column::Bool(e) => render_bool(e),
                Column::Comm => "comm".into(),
            };
            format!("{text} as c{i}")
        })
        .collect();
    let mut query = format!("from task select {}", columns.join(", "));
    if let Some(filter) = filter {
        query.push_str(" where ");
        query.push_str(filter);
    }
    query
}

// ---- the evaluator ---------------------------------------------------------------------------

/// bpfq's integer semantics: 64-bit, signed if any operand is signed; a literal takes the
/// signedness of a typed operand, and literals among themselves are signed (a literal-only
/// expression stays a literal). Runtime division by zero gives 0, modulo by zero
/// the dividend, shift amounts are taken modulo 64 (BPF's rules).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Literal,
    Signed,
    Unsigned,
}

#[derive(Clone, Copy, Debug)]
struct Value {
    bits: u64,
    kind: Kind,
}

impl Value {
    fn signed(self) -> bool {
        self.kind == Kind::Signed
    }

    /// How `-o csv` prints it: signed and literal columns as i64, unsigned as u64.
    fn render(self) -> String {
        match self.kind {
            Kind::Unsigned => self.bits.to_string(),
            Kind::Signed | Kind::Literal => (self.bits as i64).to_string(),
        }
    }
}

fn arith(op: Arith, a: u64, b: u64, signed: bool) -> u64 {
    let shift = (b & 63) as u32;
    match op {
        Arith::Add => a.wrapping_add(b),
        Arith::Sub => a.wrapping_sub(b),
        Arith::Mul => a.wrapping_mul(b),
        Arith::Div if b == 0 => 0,
        Arith::Rem if b == 0 => a,
        Arith::Div if signed => (a as i64).wrapping_div(b as i64) as u64,
        Arith::Rem if signed => (a as i64).wrapping_rem(b as i64) as u64,
        Arith::Div => a / b,
        Arith::Rem => a % b,
        Arith::And => a & b,
        Arith::Or => a | b,
        Arith::Xor => a ^ b,
        Arith::Shl => a << shift,
        Arith::Shr if signed => ((a as i64) >> shift) as u64,
        Arith::Shr => a >> shift,
    }
}

/// This thread's view of the fields in PROC_FIELDS, read from /proc.
struct ProcSelf {
    values: Vec<(&'static str, u64)>,
    comm: String,
}

impl ProcSelf {
    fn read() -> ProcSelf {
        let pid = std::process::id();
        let thread = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
        let tid: u32 = thread
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok())
            .expect("tid in /proc/thread-self");
        let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
        // Fields after the parenthesised comm: state, ppid, ...
        let after_comm = &stat[stat.rfind(')').expect("comm in stat") + 2..];
        let ppid: u32 = after_comm
            .split(' ')
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("ppid in stat");
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let real_id = |key: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .expect("id in status")
        };
        let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
            .expect("comm")
            .trim_end()
            .to_string();
        ProcSelf {
            values: vec![
                ("pid", u64::from(pid)),
                ("tid", u64::from(tid)),
                ("tgid", u64::from(pid)),
                ("ppid", u64::from(ppid)),
                ("uid", real_id("Uid:")),
                ("gid", real_id("Gid:")),
            ],
            comm,
        }
    }

    fn get(&self, name: &str) -> u64 {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .expect("a /proc field")
    }

    fn int(&self, expr: &IntExpr) -> Value {
        match expr {
            IntExpr::Field(name, signed) => Value {
                bits: self.get(name),
                kind: if *signed {
                    Kind::Signed
                } else {
                    Kind::Unsigned
                },
            },
            IntExpr::Literal(_, v) => Value {
                bits: *v,
                kind: Kind::Literal,
            },
            IntExpr::Neg(inner) => {
                let v = self.int(inner);
                let kind = if v.kind == Kind::Literal {
                    Kind::Literal
                } else {
                    Kind::Signed
                };
                Value {
                    bits: v.bits.wrapping_neg(),
                    kind,
                }
            }
            IntExpr::BitNot(inner) => {
                let v = self.int(inner);
                Value {
                    bits: !v.bits,
                    kind: v.kind,
                }
            }
            IntExpr::Binary(op, _, l, r) => {
                let (a, b) = (self.int(l), self.int(r));
                let kind = match (a.kind, b.kind) {
                    (Kind::Literal, Kind::Literal) => Kind::Literal,
                    _ if a.signed() || b.signed() => Kind::Signed,
                    _ => Kind::Unsigned,
                };
                Value {
                    bits: arith(*op, a.bits, b.bits, kind != Kind::Unsigned),
                    kind,
                }
            }
        }
    }

    fn condition(&self, expr: &BoolExpr) -> bool {
        match expr {
            BoolExpr::Compare(op, _, l, r) => {
                let (a, b) = (self.int(l), self.int(r));
                let literals = a.kind == Kind::Literal && b.kind == Kind::Literal;
                let ordering = if a.signed() || b.signed() || literals {
                    (a.bits as i64).cmp(&(b.bits as i64))
                } else {
                    a.bits.cmp(&b.bits)
                };
                match op {
                    Cmp::Eq => ordering.is_eq(),
                    Cmp::Ne => ordering.is_ne(),
                    Cmp::Lt => ordering.is_lt(),
                    Cmp::Le => ordering.is_le(),
                    Cmp::Gt => ordering.is_gt(),
                    Cmp::Ge => ordering.is_ge(),
                }
            }
            BoolExpr::In(value, items) => {
                let v = self.int(value).bits;
                items.iter().any(|item| self.int(item).bits == v)
            }
            BoolExpr::CommIs { equal, text } => (self.comm == *text) == *equal,
            BoolExpr::And(l, r) => self.condition(l) && self.condition(r),
            BoolExpr::Or(l, r) => self.condition(l) || self.condition(r),
            BoolExpr::Not(inner) => !self.condition(inner),
        }
    }

    fn column(&self, column: &Column) -> String {
        match column {
            Column::Int(e) => self.int(e).render(),
            Column::Bool(e) => self.condition(e).to_string(),
            Column::Comm => self.comm.clone(),
        }
    }
}

// ---- the tests -------------------------------------------------------------------------------

/// Runs `query` with `-o csv`; Err holds the query and everything bpfq said.
fn run_csv(query: &str) -> Result<String, String> {
    let out = bpfq(&[query, "-o", "csv"]);
    if out.status.success() {
        Ok(stdout(&out))
    } else {
        Err(format!(
            "query: {query}\nexit: {:?}\nstderr:\n{}",
            out.status.code(),
            stderr(&out).trim_end()
        ))
    }
}

fn report(what: &str, passed: usize, failures: &[String]) {
    println!("{what}: {passed} passed, {} failed", failures.len());
    for failure in failures.iter().take(SHOWN_FAILURES) {
        println!("---- failure\n{failure}");
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {} queries failed; first failure:\n{}",
        failures.len(),
        passed + failures.len(),
        failures[0]
    );
}

#[test]
fn random_task_queries_pass_the_verifier() {
    let _k = shared_kernel();
    let mut generator = Generator::new(0x5eed_b9f0_0001, ALL_FIELDS, true);
    let mut passed = 0;
    let mut failures = Vec::new();
    for _ in 0..count(VERIFIER_QUERIES) {
        let columns = generator.columns();
        let filter = if generator.rng.chance(70) {
            let depth = 1 + generator.rng.below(5) as u32;
            Some(render_bool(&generator.condition(depth)))
        } else {
            None
        };
        let query = render_query(&columns, filter.as_deref());
        if passed + failures.len() < SAMPLES_SHOWN {
            println!("sample: {query}");
        }
        match run_csv(&query) {
            Ok(text) => {
                let header = text.lines().next().unwrap_or("");
                if header.split(',').count() == columns.len() {
                    passed += 1;
                } else {
                    failures.push(format!("query: {query}\nheader has wrong width: {header}"));
                }
            }
            Err(failure) => failures.push(failure),
        }
    }
    report("verifier", passed, &failures);
}

#[test]
fn random_expressions_compute_what_rust_computes() {
    let _k = shared_kernel();
    let me = ProcSelf::read();
    let filter = format!("pid == {} and tid == {}", me.get("pid"), me.get("tid"));
    let mut generator = Generator::new(0x5eed_b9f0_0002, PROC_FIELDS, false);
    let mut passed = 0;
    let mut failures = Vec::new();
    for _ in 0..count(VALUE_QUERIES) {
        let columns = generator.columns();
        let query = render_query(&columns, Some(&filter));
        if passed + failures.len() < SAMPLES_SHOWN {
            println!("sample: {query}");
        }
        let text = match run_csv(&query) {
            Ok(text) => text,
            Err(failure) => {
                failures.push(failure);
                continue;
            }
        };
        let rows = csv_rows(&text);
        if rows.len() != 1 {
            failures.push(format!("query: {query}\nexpected one row, got:\n{text}"));
            continue;
        }
        let mismatches: Vec<String> = columns
            .iter()
            .zip(&rows[0])
            .enumerate()
            .filter_map(|(i, (column, got))| {
                let want = me.column(column);
                (want != *got).then(|| format!("  c{i}: bpfq {got}, Rust {want}"))
            })
            .collect();
        if rows[0].len() != columns.len() {
            failures.push(format!("query: {query}\nrow has wrong width: {text}"));
        } else if mismatches.is_empty() {
            passed += 1;
        } else {
            failures.push(format!(
                "query: {query}\nthis thread: {:?}\n{}",
                me.values,
                mismatches.join("\n")
            ));
        }
    }
    report("values", passed, &failures);
}
