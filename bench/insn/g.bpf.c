// SPDX-License-Identifier: GPL-2.0
// Anchor for: from task select tid, task.mm.total_vm as vm
//             where task.mm.total_vm > 0x1_0000_0000 and task.flags & 0x200000 == 0
// (a 64-bit constant: one ld_imm64, two slots, on both sides)
#include "iter.h"

#define ROW_BYTES 24
struct row {
	__s32 tid;            // [0..4)   task->pid
	__u32 pad;            // [4..8)
	__u64 vm;             // [8..16)  task->mm->total_vm
	__u8 vm_null;         // [16]     1 when mm is NULL
	__u8 pad2[7];
};
_Static_assert(sizeof(struct row) == ROW_BYTES, "row layout as bpfq explain prints it");

SEC("iter/task")
int query(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	if (!task)
		return 0;
	struct row row = {};
	__u64 vm = task->mm->total_vm;
	if (!(vm > 0x100000000ULL && (task->flags & 0x200000) == 0))
		return 0;
	row.tid = task->pid;
	if (task->mm)
		row.vm = task->mm->total_vm;
	else
		row.vm_null = 1;
	bpf_seq_write(seq, &row, sizeof(row));
	return 0;
}
