// SPDX-License-Identifier: GPL-2.0
// Shared prelude of the clang anchors of bench/insn_count.sh: the license, the section
// macro and the one helper they call. Declared here rather than taken from libbpf's
// bpf_helpers.h so the benchmark needs only clang and bpftool.
#ifndef BPFQ_BENCH_INSN_ITER_H
#define BPFQ_BENCH_INSN_ITER_H

#include "vmlinux.h"

#define SEC(name) __attribute__((section(name), used))

char LICENSE[] SEC("license") = "GPL";

// Helper 127, as bpfq's programs call it.
static long (*bpf_seq_write)(struct seq_file *m, const void *data, __u32 len) = (void *)127;

#endif
