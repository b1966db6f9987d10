//! Text output (`bpfq pin`, `bpfq compile`) against the Linux 6.18 BTF fixture: the IR and BPF
//! listing of a program that prints its rows with `bpf_seq_printf`, its format table, the E0303
//! refusals, and the ELF object's sections as a reader of ELF (this file's own few lines, not
//! the writer) sees them.

use crate::common;

use bpfq_compiler::bpf::disasm::disassemble;
use bpfq_compiler::diagnostic::Diagnostic;
use bpfq_compiler::elf::{write_object, ObjectSpec};
use bpfq_compiler::pipeline::{Compiled, Input, Options};
use bpfq_kernel::Btf;
use common::targets::TEXT_OUTPUT_TARGETS;
use common::{fixture, with_env, VERSIONS};

fn linux_6_18() -> &'static Btf {
    fixture("6.18")
}

fn text(query: &str) -> Result<Compiled, String> {
    text_on(linux_6_18(), query)
}

fn text_on(btf: &Btf, query: &str) -> Result<Compiled, String> {
    with_env(btf, query, |file, env| {
        env.compile_single(Input::File(file), Options::text())
            .map_err(|d: Diagnostic| format!("{}\n{}", d.code, d.render(env.sources())))
    })
}

fn formats(compiled: &Compiled) -> String {
    compiled
        .program
        .formats
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_text_program_prints_each_column_with_seq_printf() {
    let compiled =
        text("from task select pid, comm, task.mm.total_vm as vm, state where comm == \"bash\"")
            .expect("compiles");
    let listing = format!(
        "== formats\n{}\n== IR\n{}\n== BPF\n{}",
        formats(&compiled),
        compiled.ir,
        disassemble(&compiled.program, &|id| {
            (id == 126).then(|| "bpf_seq_printf".to_string())
        })
    );
    insta::assert_snapshot!(listing);
}

#[test]
fn addresses_enums_and_bools_have_kernel_formats() {
    let compiled = text(
        "from tcp select src, dst, state, cast(sport == 22 as u8) as ssh, sport == 22 as is_ssh",
    )
    .expect("compiles");
    insta::assert_snapshot!(formats(&compiled));
}

#[test]
fn queries_that_need_user_space_are_e0303() {
    let mut out = String::new();
    for query in [
        "from task select pid order by pid",
        "from task select pid limit 3",
        "from task select comm, count(*) group by comm",
        "from unix select inode",
        "from cgroup select id, path",
        "from task_file as f join tcp on f.inode == tcp.inode select f.pid",
    ] {
        let error = text(query).expect_err(query);
        assert!(error.starts_with("E0303"), "{error}");
        out.push_str(&format!("### {query}\n{error}\n"));
    }
    insta::assert_snapshot!(out);
}

/// (name, type, flags, size, link, info) of each section, read from the ELF headers.
fn sections(elf: &[u8]) -> Vec<(String, u32, u64, u64, u32, u32)> {
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap());
    let table = u64_at(40) as usize;
    let count = u16_at(60) as usize;
    let names_header = table + 64 * u16_at(62) as usize;
    let names = u64_at(names_header + 24) as usize;
    (1..count)
        .map(|i| {
            let h = table + 64 * i;
            let name_at = names + u32_at(h) as usize;
            let end = elf[name_at..].iter().position(|&b| b == 0).unwrap();
            (
                String::from_utf8_lossy(&elf[name_at..name_at + end]).into_owned(),
                u32_at(h + 4),
                u64_at(h + 8),
                u64_at(h + 32),
                u32_at(h + 40),
                u32_at(h + 44),
            )
        })
        .collect()
}

#[test]
fn the_object_has_the_sections_libbpf_reads() {
    let compiled = text("from task select pid, comm").expect("compiles");
    let elf = write_object(&ObjectSpec {
        program: &compiled.program,
        target: "task",
        function: &compiled.prog_name,
        context_struct: "bpf_iter__task",
    })
    .expect("object");
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), 247, "EM_BPF");
    let found = sections(&elf);
    let code = found
        .iter()
        .find(|s| s.0 == "iter/task")
        .expect("iter/task");
    assert_eq!(code.3, compiled.program.to_bytes().len() as u64);
    let listing: Vec<String> = found
        .iter()
        .map(|(name, kind, flags, size, link, info)| {
            format!("{name} type={kind} flags={flags} size={size} link={link} info={info}")
        })
        .collect();
    insta::assert_snapshot!(listing.join("\n"));
}

/// Every target's default columns print in the kernel on every fixture kernel that has the
/// target and its columns (map-element targets need a live map, unix and ksym are E0303 by
/// design, as is a `d_path` built by a dentry walk: task_file on 5.10).
#[test]
fn every_target_prints_its_default_columns_on_every_fixture() {
    let targets = TEXT_OUTPUT_TARGETS.iter().chain(&["dmabuf"]);
    let mut summary = String::new();
    for version in VERSIONS {
        let btf = fixture(version);
        for target in targets.clone() {
            let line = match text_on(btf, &format!("from {target} select *")) {
                Ok(compiled) => format!(
                    "{} instructions, {} format bytes",
                    compiled.program.insns.len(),
                    compiled.program.formats.len()
                ),
                // Binding errors (no such target, a stdlib column this kernel cannot compute)
                // are the binary compile's too; text output must add none of its own.
                Err(error) if error.starts_with("E01") => error[..5].to_string(),
                // A path built by a dentry walk (bpf_d_path refused) is joined in user space.
                Err(error) if error.starts_with("E0303") && error.contains("dentry walk") => {
                    "E0303 (path by a dentry walk)".to_string()
                }
                Err(error) => panic!("{version} {target}: {error}"),
            };
            summary.push_str(&format!("{version} {target}: {line}\n"));
        }
    }
    insta::assert_snapshot!(summary);
}
