//! Randomised robustness test of the whole compiler against the 6.18 BTF fixture: token soups
//! built from the language's vocabulary, mutations of valid queries and raw bytes must each give
//! a program or a coded diagnostic — never a panic, never an internal-error code.

use bpfq_compiler::bind::Params;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::pipeline::{Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::Btf;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "from",
    "task",
    "tcp",
    "ksym",
    "ipv6_route",
    "task_file",
    "select",
    "where",
    "order",
    "by",
    "limit",
    "as",
    "and",
    "or",
    "not",
    "in",
    "like",
    "is",
    "null",
    "group",
    "having",
    "join",
    "on",
    "cast",
    "struct",
    "desc",
    "asc",
    "*",
    "pid",
    "tid",
    "comm",
    "task.mm",
    "task.real_parent",
    ".",
    "tgid",
    "total_vm",
    "state",
    "LISTEN",
    "TCP_LISTEN",
    "(",
    ")",
    "[",
    "]",
    ",",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "<<",
    ">>",
    "~",
    "0",
    "1",
    "42",
    "0x1_0000_0000",
    "-1",
    "\"bash\"",
    "\"k%\"",
    "\"\"",
    "$p",
    "u8",
    "u32",
    "s64",
    "task_struct",
    "sk_common",
    "rt",
    "fib6_nh",
    "[0]",
    "uid",
    "sport",
    "dst",
    "name",
    "ksym.name",
    "true",
];

const VALID: &[&str] = &[
    "from task select pid, comm where comm like \"k%\" and pid > 10 order by pid desc limit 5",
    "from tcp select src, sport, dst, dport, state where state == LISTEN",
    "from task select cast(task.real_parent as struct task_struct).tgid, task.mm.total_vm * 4096",
    "from ipv6_route select rt.fib6_dst.addr, rt.fib6_nh[0].nh_common.nhc_dev.name",
    "from task(pid = 5) select tid, task.restart_block.nanosleep.type",
];

/// The fixture, and the stdlib parsed once: every query is one more file in the same sources.
struct Front {
    btf: Btf,
    sources: Sources,
    stdlib: Stdlib,
}

fn check(front: &mut Front, query: &str) {
    let file = front.sources.add("<fuzz>", query);
    let (btf, sources, stdlib) = (&front.btf, &front.sources, &front.stdlib);
    let params = Params::from_iter([("p".to_string(), "7".to_string())]);
    let features = bpfq_kernel::KernelFeatures::from_btf(btf).expect("features of the BTF");
    let env = Compiler::new(btf, &features, stdlib, sources).with_params(&params);
    let result = catch_unwind(AssertUnwindSafe(|| {
        env.compile_single(Input::File(file), Options::default())
            .map(|_| ())
            .map_err(|d| (d.code, d.render(sources)))
    }));
    match result {
        Err(_) => panic!("the compiler panicked on {query:?}"),
        Ok(Err((code, text))) => {
            assert!(
                code.starts_with('E') && !code.starts_with("E09"),
                "internal error on {query:?}:\n{text}"
            );
        }
        Ok(Ok(())) => {}
    }
}

#[test]
fn random_inputs_never_panic() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/btf/linux-6.18.btf.xz"
    );
    let btf = Btf::from_file(std::path::Path::new(path)).expect("fixture");
    let mut sources = Sources::new();
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib");
    let front = &mut Front {
        btf,
        sources,
        stdlib,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..600 {
        let len = 1 + rng.below(14);
        let soup: Vec<&str> = (0..len).map(|_| rng.pick(WORDS)).collect();
        check(front, &format!("from task select {}", soup.join(" ")));
        check(front, &soup.join(" "));
    }
    for valid in VALID {
        check(front, valid);
        let bytes = valid.as_bytes();
        for _ in 0..80 {
            let mut mutated = bytes.to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(mutated.len());
                match rng.below(3) {
                    0 => mutated[at] = b" ()[].,\"%_=<>!$0a9"[rng.below(18)],
                    1 => {
                        mutated.remove(at);
                    }
                    _ => mutated.insert(at, bytes[rng.below(bytes.len())]),
                }
            }
            check(front, &String::from_utf8_lossy(&mutated));
        }
    }
    for _ in 0..300 {
        let raw: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
        check(front, &String::from_utf8_lossy(&raw));
    }
}
