//! Compile-only tests of how a `d_path` column is computed, against the BTF fixtures: with
//! `bpf_d_path` where the kernel allows it (6.18 with its default features), by a dentry walk
//! where it does not (5.10: not in iterators; 6.18 with `vma_file_path_trusted` off, as the
//! probe finds on a kernel that does not trust `vma->vm_file`): the plan, IR, BPF listing and
//! row layout of the walk, the `explain` line naming the variant, and a table of which way
//! each (kernel, features, query) goes.

use crate::common;

use bpfq_compiler::bpf::disasm::disassemble;
use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::pipeline::{Compiled, Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_compiler::variants::path_variants;
use bpfq_kernel::{KernelFeatures, Why};
use common::fixture;

/// The features of `version`'s BTF; with `untrusted_vm_file`, `vma_file_path_trusted` off as
/// the probe settles it on a kernel whose verifier refuses `bpf_d_path` of a loaded vm_file.
fn features(version: &str, untrusted_vm_file: bool) -> KernelFeatures {
    let mut features = KernelFeatures::from_btf(fixture(version)).expect("features");
    if untrusted_vm_file {
        features.vma_file_path_trusted = false;
        features.why.vma_file_path_trusted = Why::Probed("a stand-in for the probe");
    }
    features
}

/// `query` compiled for `version`, or its rendered diagnostic.
fn compiled(version: &str, untrusted_vm_file: bool, query: &str) -> Result<Compiled, String> {
    let features = features(version, untrusted_vm_file);
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib parses");
    let env = Compiler::new(fixture(version), &features, &stdlib, &sources);
    env.compile_single(Input::File(file), Options::default())
        .map_err(|d| format!("{}\n{}", d.code, d.render(&sources)))
}

fn helper_name(id: i32) -> Option<String> {
    bpfq_kernel::helpers::ALL
        .iter()
        .find(|(_, n)| i64::from(*n) == i64::from(id))
        .map(|(name, _)| format!("bpf_{name}"))
}

/// The explain lines, plan, IR, BPF listing and row layout of `query`.
fn listing(version: &str, untrusted_vm_file: bool, query: &str) -> String {
    match compiled(version, untrusted_vm_file, query) {
        Ok(c) => {
            let layout: Vec<String> = c
                .plan
                .layout
                .columns
                .iter()
                .map(|col| format!("{} @{} {:?}", col.name, col.offset, col.kind))
                .collect();
            format!(
                "== variants\n{}\n== plan\n{}\n== IR\n{}\n== BPF\n{}\n== row {} bytes: {}\n",
                path_variants(&c.plan, &features(version, untrusted_vm_file)).join("\n"),
                c.plan.describe(),
                c.ir,
                disassemble(&c.program, &helper_name),
                c.plan.layout.size,
                layout.join("; ")
            )
        }
        Err(diag) => diag,
    }
}

/// One snapshot per line: `name: "version", untrusted vm_file, "query";`.
macro_rules! golden_on {
    ($($(#[$doc:meta])* $name:ident: $version:literal, $untrusted:literal, $query:expr;)*) => {$(
        $(#[$doc])*
        #[test]
        fn $name() {
            let description = format!(
                "Linux {} (vma_file_path_trusted {}): {}",
                $version, !$untrusted, $query
            );
            insta::with_settings!({ description => description, omit_expression => true }, {
                insta::assert_snapshot!(listing($version, $untrusted, $query));
            });
        }
    )*};
}

golden_on! {
    /// 5.10 refuses bpf_d_path in iterators: the walk, from the context's file.
    task_file_path_on_5_10_is_a_dentry_walk: "5.10", false, "from task_file select path";
    /// 5.10 has no task_vma iterator at all (5.12): the target's own diagnostic.
    task_vma_path_on_5_10_has_no_target: "5.10", false, "from task_vma select path";
    /// A 6.18 whose verifier does not trust vma->vm_file: the walk, after vm_file's NULL check.
    task_vma_path_on_6_18_with_untrusted_vm_file_is_a_dentry_walk: "6.18", true, "from task_vma select path";
}

/// Which way each `d_path` column goes: `bpf_d_path` (a `d_path` helper call in the listing)
/// or the walk (probe reads and `probe_read_kernel_str`, no `d_path` call), and the layout.
#[test]
fn each_kernel_and_feature_set_gets_the_expected_way() {
    // (version, untrusted vm_file, query, expected way)
    let table = [
        ("6.18", false, "from task_file select path", "bpf_d_path"),
        ("6.18", false, "from task_vma select path", "bpf_d_path"),
        ("6.18", true, "from task_file select path", "bpf_d_path"),
        ("6.18", true, "from task_vma select path", "walk"),
        ("5.10", false, "from task_file select path", "walk"),
        ("5.10", true, "from task_file select path", "walk"),
    ];
    for (version, untrusted, query, want) in table {
        let c = compiled(version, untrusted, query).unwrap_or_else(|d| panic!("{d}"));
        let text = disassemble(&c.program, &helper_name);
        let calls_d_path = text.contains("bpf_d_path");
        let walks = text.contains("bpf_probe_read_kernel_str");
        let kind = format!("{:?}", c.plan.layout.columns[0].kind);
        let got = match (calls_d_path, walks) {
            (true, false) if kind == "Chars { len: 256 }" => "bpf_d_path",
            (false, true) if kind.starts_with("DentryPath") => "walk",
            _ => "mixed",
        };
        assert_eq!(
            got, want,
            "Linux {version} untrusted={untrusted} `{query}`: {kind}"
        );
        let lines = path_variants(&c.plan, &features(version, untrusted));
        assert_eq!(lines.len(), usize::from(want == "walk"), "{lines:?}");
    }
}
