//! Micro-benchmark (not a test): BTF open, query compile, aya's full BTF parse as the anchor
//! that motivated bpfq's own reader and loader, and row decoding + formatting (table, csv,
//! json) of 10k canned binary rows. Run: `cargo bench --bench compile`.

use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::layout::{ColumnKind, RowLayout};
use bpfq_compiler::pipeline::{Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::Btf;
use bpfq_runtime::decode::RawRow;
use bpfq_runtime::format::{new_sink, FormatOptions, OutputFormat, PointerKey};
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

/// A tcp-like row: integers, an enum, addresses, text and a kernel pointer.
fn canned_layout() -> RowLayout {
    let state = ColumnKind::Enum {
        bytes: 1,
        signed: false,
        names: vec![(1, "TCP_ESTABLISHED".into()), (10, "TCP_LISTEN".into())],
    };
    RowLayout::pack([
        (
            "pid".to_string(),
            ColumnKind::Int {
                bytes: 4,
                signed: false,
            },
            false,
        ),
        ("comm".to_string(), ColumnKind::Chars { len: 16 }, false),
        ("src".to_string(), ColumnKind::Ipv4, false),
        (
            "sport".to_string(),
            ColumnKind::Int {
                bytes: 2,
                signed: false,
            },
            false,
        ),
        ("dst6".to_string(), ColumnKind::Ipv6, false),
        ("state".to_string(), state, false),
        ("sk".to_string(), ColumnKind::KernelPointer, true),
    ])
}

/// A ksym row: a long char array mostly unused, a type letter, a module name, a hidden address.
fn ksym_layout() -> RowLayout {
    RowLayout::pack([
        ("name".to_string(), ColumnKind::Chars { len: 512 }, false),
        ("type".to_string(), ColumnKind::Chars { len: 1 }, false),
        ("module".to_string(), ColumnKind::Chars { len: 56 }, false),
        ("address".to_string(), ColumnKind::KernelPointer, false),
    ])
}

/// 10k ksym rows: symbol names of 10 to 40 characters, every tenth in a module.
fn ksym_rows(layout: &RowLayout, count: u32) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut row = vec![0u8; layout.size as usize];
            let [name, kind, module, address] = &layout.columns[..] else {
                unreachable!("four columns")
            };
            let text = format!("{}_{i}", "do_sys_openat".repeat(1 + i as usize % 3));
            let at = name.offset as usize;
            row[at..at + text.len()].copy_from_slice(text.as_bytes());
            row[kind.offset as usize] = b"Ttd"[i as usize % 3];
            if i % 10 == 0 {
                let at = module.offset as usize;
                row[at..at + 4].copy_from_slice(b"xfs\0");
            }
            let at = address.offset as usize;
            let value = 0xffff_ffff_8100_0000u64 + u64::from(i) * 48;
            row[at..at + 8].copy_from_slice(&value.to_le_bytes());
            row
        })
        .collect()
}

/// 10k rows as a BPF program would write them: every column filled, deterministic content.
fn canned_rows(layout: &RowLayout, count: u32) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut row = vec![0u8; layout.size as usize];
            for column in &layout.columns {
                let at = column.offset as usize;
                let width = column.kind.width() as usize;
                for (k, byte) in row[at..at + width].iter_mut().enumerate() {
                    *byte = match column.kind {
                        ColumnKind::Chars { .. } => b"kworker/u8:3-ev"[k % 15],
                        ColumnKind::Enum { .. } => [1, 10][i as usize % 2],
                        _ => (i as usize * 31 + k * 7) as u8,
                    };
                }
            }
            row
        })
        .collect()
}

fn format_rows(layout: &RowLayout, rows: &[Vec<u8>], format: OutputFormat) -> usize {
    let options = FormatOptions {
        pointer_key: PointerKey::fixed(1, 2).into(),
        ..FormatOptions::default()
    };
    let mut out = Vec::with_capacity(rows.len() * 128);
    {
        let mut sink = new_sink(format, &mut out, options);
        sink.begin(layout).unwrap();
        // The streaming path of `pipeline::stream_rows`: cells decoded from the row bytes.
        let columns: Vec<usize> = (0..layout.columns.len()).collect();
        for bytes in rows {
            let row = RawRow {
                layout,
                bytes,
                columns: &columns,
            };
            sink.row(&row).unwrap();
        }
        sink.end().unwrap();
    }
    out.len()
}

fn bench_formatting() {
    let tcp_like = canned_layout();
    let ksym = ksym_layout();
    let cases = [
        ("rows (tcp-like)", &tcp_like, canned_rows(&tcp_like, 10_000)),
        ("ksym rows", &ksym, ksym_rows(&ksym, 10_000)),
    ];
    for (what, layout, rows) in &cases {
        for (name, format) in [
            ("table", OutputFormat::Table),
            ("csv", OutputFormat::Csv),
            ("json", OutputFormat::Json),
        ] {
            let mut bytes = 0;
            let took = time(21, || bytes = format_rows(layout, rows, format));
            println!(
                "decode + format 10k {what:<15} as {name:<5}: {:8.3} ms ({:.0} ns/row, {bytes} bytes)",
                took.as_secs_f64() * 1e3,
                took.as_secs_f64() * 1e9 / rows.len() as f64
            );
        }
    }
}

fn main() {
    bench_formatting();
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
    // Decided once when the CLI opens the BTF, outside the compile.
    let features = bpfq_kernel::KernelFeatures::from_btf(&btf).expect("features of the BTF");
    let query = "from task select pid, tgid, comm where comm == \"bash\" or pid == 1";
    let compile_once = time(201, || {
        let mut sources = Sources::new();
        let file = sources.add("<query>", query);
        let stdlib = Stdlib::load_for(&mut sources, Some("task"), &[]).unwrap();
        let env = Compiler::new(&btf, &features, &stdlib, &sources);
        let compiled = env
            .compile_single(Input::File(file), Options::default())
            .unwrap();
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
