//! Stdlib stage check for the BPF object targets (`bpf_map`, `bpf_prog`, `bpf_link`): every
//! column binds against the BTF of each fixture kernel that offers the target, and the
//! `name type` listing per kernel is snapshotted so a kernel change shows up in review.

use crate::common;

use bpfq_kernel::catalogue::find_target;
use bpfq_kernel::Btf;

const KERNELS: [&str; 4] = ["5.10", "6.1", "6.12", "6.18"];

/// (target, kernels without that iterator): the bpf_link iterator arrived in Linux 5.19.
const TARGETS: [(&str, &[&str]); 3] =
    [("bpf_map", &[]), ("bpf_prog", &[]), ("bpf_link", &["5.10"])];

use common::fixture;

/// Every stdlib column of `target` bound against `btf`: `name type`, or why it cannot bind.
fn describe_columns(btf: &Btf, target: &str) -> String {
    common::stdlib_columns(btf, target)
        .into_iter()
        .map(|c| {
            format!(
                "{:<13} {}\n",
                c.name,
                c.ty.unwrap_or_else(|e| format!("unavailable: {e}"))
            )
        })
        .collect()
}

/// Whether this kernel offers the iterator, as `bpfq targets` finds it.
fn has_target(btf: &Btf, target: &str) -> bool {
    find_target(btf, target)
        .expect("fixture BTF reads")
        .is_some()
}

#[test]
fn stdlib_bpf_object_columns_bind_on_every_fixture_kernel() {
    let mut all = String::new();
    for version in KERNELS {
        let btf = fixture(version);
        for (target, missing_in) in TARGETS {
            let expected_missing = missing_in.contains(&version);
            assert_eq!(
                has_target(btf, target),
                !expected_missing,
                "Linux {version}: the skip list of `{target}` is out of date"
            );
            if expected_missing {
                all.push_str(&format!("## Linux {version} {target}: no such iterator\n"));
                continue;
            }
            let text = describe_columns(btf, target);
            assert!(!text.is_empty(), "{target} has no stdlib columns");
            assert!(
                !text.contains("unavailable"),
                "Linux {version} {target}:\n{text}"
            );
            all.push_str(&format!("## Linux {version} {target}\n{text}"));
        }
    }
    insta::assert_snapshot!(all);
}
