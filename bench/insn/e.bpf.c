// SPDX-License-Identifier: GPL-2.0
// Anchor for: from task select pid, vsize where uid == 0 and tid == pid
#include "iter.h"

#define ROW_BYTES 24
struct row {
	__s32 pid;            // [0..4)   task->tgid
	__u32 pad;            // [4..8)
	__u64 vsize;          // [8..16)  task->mm->total_vm * 4096
	__u8 vsize_null;      // [16]     1 when mm is NULL
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
	if (task->cred->uid.val != 0 || task->pid != task->tgid)
		return 0;
	row.pid = task->tgid;
	struct mm_struct *mm = task->mm;
	if (mm)
		row.vsize = mm->total_vm * 4096;
	else
		row.vsize_null = 1;
	bpf_seq_write(seq, &row, sizeof(row));
	return 0;
}
