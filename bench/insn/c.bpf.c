// SPDX-License-Identifier: GPL-2.0
// Anchor for: from task select tid, comm where comm == "sshd"
#include "iter.h"

#define ROW_BYTES 24
struct row {
	__s32 tid;            // [0..4)   task->pid
	__u32 pad;            // [4..8)
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
	// The same test bpfq makes: "sshd" as one little-endian u32, then the NUL byte.
	if (*(__u32 *)task->comm != 0x64687373 || task->comm[4] != 0)
		return 0;
	row.tid = task->pid;
	__builtin_memcpy(row.comm, task->comm, sizeof(row.comm));
	bpf_seq_write(seq, &row, sizeof(row));
	return 0;
}
