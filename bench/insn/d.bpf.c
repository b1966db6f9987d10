// SPDX-License-Identifier: GPL-2.0
// Anchor for: from task select pid, ppid, uid, gid, comm
#include "iter.h"

#define ROW_BYTES 32
struct row {
	__s32 pid;            // [0..4)   task->tgid
	__s32 ppid;           // [4..8)   task->real_parent->tgid
	__u32 uid;            // [8..12)  task->cred->uid.val
	__u32 gid;            // [12..16) task->cred->gid.val
	char comm[16];        // [16..32)
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
	row.pid = task->tgid;
	row.ppid = task->real_parent->tgid;
	row.uid = task->cred->uid.val;
	row.gid = task->cred->gid.val;
	__builtin_memcpy(row.comm, task->comm, sizeof(row.comm));
	bpf_seq_write(seq, &row, sizeof(row));
	return 0;
}
