//! Which code variants the compiler picks for a kernel, in words (`bpfq explain`). Guarantees:
//! one line for each choice that differs from what the newest kernels get, with the reason from
//! `KernelFeatures`; no line for a kernel that has everything.

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
