//! Micro-benchmark (not a test): BTF open, query compile, and aya's full BTF parse as the anchor
//! that motivated bpfq's own reader and loader. Run: `cargo bench --bench compile`.

use bpfq_compiler::bind::BindEnv;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::pipeline::compile;
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::Btf;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(rounds: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn open_btf() -> Btf {
    let map = bpfq_runtime::sys::mmap_readonly(Path::new(VMLINUX)).expect("mmap vmlinux BTF");
    Btf::from_shared(Box::new(map)).expect("parse BTF")
}

fn main() {
    if !Path::new(VMLINUX).exists() {
        eprintln!("compile bench: {VMLINUX} is missing; nothing to measure");
        return;
    }
    let open_and_find = time(51, || {
        let btf = open_btf();
        let target = bpfq_kernel::catalogue::find_target(&btf, "task").unwrap();
        assert!(target.is_some());
    });

    let btf = open_btf();
    bpfq_kernel::catalogue::find_target(&btf, "task").unwrap();
    let params = HashMap::new();
    let query = "from task select pid, tgid, comm where comm == \"bash\" or pid == 1";
    let compile_once = time(201, || {
        let mut sources = Sources::new();
        let file = sources.add("<query>", query);
        let stdlib = Stdlib::load_for(&mut sources, Some("task"), &[]).unwrap();
        let env = BindEnv {
            btf: &btf,
            stdlib: &stdlib,
            sources: &sources,
            params: &params,
            maps: None,
        };
        let compiled = compile(file, &env).unwrap();
        assert!(!compiled.program.insns.is_empty());
    });

    let find_only = time(201, || {
        std::hint::black_box(bpfq_kernel::catalogue::find_target(&btf, "task").unwrap());
    });
    let stdlib_only = time(201, || {
        let mut sources = Sources::new();
        std::hint::black_box(Stdlib::load_for(&mut sources, Some("task"), &[]).unwrap());
    });

    let aya_parse = time(11, || {
        let parsed = aya::Btf::from_sys_fs().expect("aya parses vmlinux BTF");
        std::hint::black_box(parsed);
    });

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "bpfq BTF mmap + find target `task`: {:8.3} ms",
        ms(open_and_find)
    );
    println!(
        "bpfq compile (BTF open, stdlib parse, all stages): {:8.3} ms",
        ms(compile_once)
    );
    println!(
        "  of which: find target in open BTF: {:8.3} ms, stdlib parse: {:8.3} ms",
        ms(find_only),
        ms(stdlib_only)
    );
    println!(
        "aya Btf::from_sys_fs (anchor):      {:8.3} ms",
        ms(aya_parse)
    );
    println!(
        "ratio open/aya: {:.3}   compile/aya: {:.3}",
        ms(open_and_find) / ms(aya_parse),
        ms(compile_once) / ms(aya_parse)
    );
    println!(
        "goal: compile < 1 ms once BTF is open: {}",
        if ms(compile_once) < 1.0 {
            "PASS"
        } else {
            "MISS"
        }
    );
}
