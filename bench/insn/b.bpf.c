// SPDX-License-Identifier: GPL-2.0
// Anchor for: from task select pid, tgid, comm where pid == 42
#include "iter.h"

#define ROW_BYTES 24
struct row {
	__s32 pid;            // [0..4)   task->tgid
	__s32 tgid;           // [4..8)   task->tgid
	char comm[16];        // [8..24)
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
	if (task->tgid != 42)
		return 0;
	row.pid = task->tgid;
	row.tgid = task->tgid;
	__builtin_memcpy(row.comm, task->comm, sizeof(row.comm));
	bpf_seq_write(seq, &row, sizeof(row));
	return 0;
}
