// SPDX-License-Identifier: GPL-2.0
// Benchmark anchor: the C equivalent of
// `bpfq 'from ksym select name, type, module, address'`: one 584-byte binary
// row per symbol, the same layout bpfq's program writes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct ksym_row {
	char name[512];
	char type;
	char pad[7];
	char module[56];
	__u64 address;
};

// Too big for the 512-byte BPF stack: build the row in a per-CPU scratch slot.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ksym_row);
} scratch SEC(".maps");

SEC("iter/ksym")
int dump_ksym(struct bpf_iter__ksym *ctx)
{
	struct kallsym_iter *sym = ctx->ksym;
	__u32 zero = 0;
	if (!sym)
		return 0;
	struct ksym_row *row = bpf_map_lookup_elem(&scratch, &zero);
	if (!row)
		return 0;
	bpf_probe_read_kernel(row->name, sizeof(row->name), sym->name);
	row->type = sym->type;
	bpf_probe_read_kernel(row->module, sizeof(row->module), sym->module_name);
	row->address = sym->value;
	bpf_seq_write(ctx->meta->seq, row, sizeof(*row));
	return 0;
}
