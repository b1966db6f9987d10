// SPDX-License-Identifier: GPL-2.0
// Anchor for: from task select pid, task.prio - 120 as nice, task.mm.total_vm * 4096 as vsize
//             where pid > 100 or tid < 10
#include "iter.h"

#define ROW_BYTES 32
struct row {
	__s32 pid;            // [0..4)   task->tgid
	__u32 pad;            // [4..8)
	__s64 nice;           // [8..16)  task->prio - 120, computed in 64 bits
	__u64 vsize;          // [16..24) task->mm->total_vm * 4096
	__u8 vsize_null;      // [24]     1 when mm is NULL
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
	if (!(task->tgid > 100 || task->pid < 10))
		return 0;
	row.pid = task->tgid;
	row.nice = (__s64)task->prio - 120;
	struct mm_struct *mm = task->mm;
	if (mm)
		row.vsize = mm->total_vm * 4096;
	else
		row.vsize_null = 1;
	bpf_seq_write(seq, &row, sizeof(row));
	return 0;
}
