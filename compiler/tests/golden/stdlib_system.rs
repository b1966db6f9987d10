//! Stage: bind. Every stdlib column of the system targets (task_vma, task_file, ksym,
//! kmem_cache, ipv6_route, cgroup, dmabuf) binds against each committed BTF fixture that offers the
//! target; the `name type` listing per kernel is snapshotted for a reviewer.

use crate::common;

use bpfq_kernel::catalogue::find_target;
use bpfq_kernel::Btf;

const KERNELS: [&str; 4] = ["5.10", "6.1", "6.12", "6.18"];
const TARGETS: [&str; 7] = [
    "task_vma",
    "task_file",
    "ksym",
    "kmem_cache",
    "ipv6_route",
    "cgroup",
    "dmabuf",
];

/// Targets that older kernels do not offer (iterators added later: task_vma, ksym and cgroup
/// in 5.12-6.1, kmem_cache in 6.13, dmabuf in 6.16). The test checks that each really is missing.
fn missing_in(version: &str) -> &'static [&'static str] {
    match version {
        "5.10" => &["task_vma", "ksym", "kmem_cache", "cgroup", "dmabuf"],
        "6.1" | "6.12" => &["kmem_cache", "dmabuf"],
        _ => &[],
    }
}

use common::fixture;

/// `name type` of every stdlib column of `target` bound against `btf` (or why it cannot be).
fn describe_columns(btf: &Btf, target: &str) -> String {
    let columns = common::stdlib_columns(btf, target);
    assert!(!columns.is_empty(), "stdlib has columns for {target}");
    columns
        .into_iter()
        .map(|c| {
            format!(
                "  {:<17} {}\n",
                c.name,
                c.ty.unwrap_or_else(|e| format!("unavailable: {e}"))
            )
        })
        .collect()
}

#[test]
fn stdlib_system_columns_bind_on_every_fixture_kernel() {
    let mut all = String::new();
    for version in KERNELS {
        let btf = fixture(version);
        all.push_str(&format!("## Linux {version}\n"));
        for target in TARGETS {
            let offered = find_target(btf, target).expect("BTF readable").is_some();
            let skipped = missing_in(version).contains(&target);
            assert_eq!(
                offered, !skipped,
                "Linux {version}: {target} offered = {offered}, skip list says {skipped}"
            );
            if skipped {
                all.push_str(&format!("{target}: not offered by this kernel\n"));
                continue;
            }
            let text = describe_columns(btf, target);
            assert!(!text.contains("unavailable"), "{version} {target}:\n{text}");
            all.push_str(&format!("{target}:\n{text}"));
        }
    }
    insta::assert_snapshot!(all);
}
