//! Which code variants the compiler picks for a kernel, in words (`bpfq explain`). Guarantees:
//! one line for each choice that differs from what the newest kernels get, with the reason from
//! `KernelFeatures`; no line for a kernel that has everything; one line per `d_path` column
//! built by a dentry walk instead of `bpf_d_path`, with the fact that decided it.

use crate::bind::{DPathWalkReason, TKind};
use crate::plan::Plan;
use bpfq_kernel::KernelFeatures;

/// The lines, in a fixed order (empty on Linux 6.6+ with its usual features).
pub fn older_variants(features: &KernelFeatures) -> Vec<String> {
    let mut lines = Vec::new();
    if !features.cpu_v4 {
        lines.push(format!(
            "kernel: no cpu v4 instructions (sign-extension by shifts, signed division by \
             unsigned division of magnitudes): {}",
            features.why.cpu_v4
        ));
    }
    if !features.rdonly_cast {
        lines.push(format!(
            "pointer casts: bpf_probe_read_kernel (no bpf_rdonly_cast kfunc: {})",
            features.why.rdonly_cast
        ));
    }
    lines
}

/// One line per kernel column of `plan` whose `d_path` is a dentry walk, saying why.
pub fn path_variants(plan: &Plan, features: &KernelFeatures) -> Vec<String> {
    let mut lines = Vec::new();
    for column in &plan.kernel.columns {
        let TKind::DentryPath { walk, .. } = &column.expr.kind else {
            continue;
        };
        let why = match walk.why {
            DPathWalkReason::NotInIterators => format!(
                "bpf_d_path is not allowed in iterator programs on this kernel: {}",
                features.why.d_path_in_iter
            ),
            DPathWalkReason::LoadedPointer => format!(
                "bpf_d_path of a struct path behind a loaded pointer (vm_file) is refused by \
                 this kernel: {}",
                features.why.vma_file_path_trusted
            ),
        };
        lines.push(format!(
            "column {}: d_path: dentry walk, {} names of up to {} bytes, probe-read ({why})",
            column.name,
            crate::bind::D_PATH_WALK_LEVELS,
            crate::bind::D_PATH_WALK_SLOT - 2
        ));
    }
    lines
}
