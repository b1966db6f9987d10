// SPDX-License-Identifier: GPL-2.0
// Anchor for: from task select pid, ppid, uid, gid, comm
#include "iter.h"

#define ROW_BYTES 40
struct row {
	__s32 pid;            // [0..4)   task->tgid
	__s32 ppid;           // [4..8)   task->real_parent->tgid
	__u32 uid;            // [8..12)  task->cred->uid.val
	__u32 gid;            // [12..16) task->cred->gid.val
	char comm[16];        // [16..32)
	__u8 ppid_null;       // [32]     1 when real_parent is NULL
	__u8 uid_null;        // [33]     1 when cred is NULL
	__u8 gid_null;        // [34]
	__u8 pad[5];
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
	struct task_struct *parent = task->real_parent;
	if (parent)
		row.ppid = parent->tgid;
	else
		row.ppid_null = 1;
	const struct cred *cred = task->cred;
	if (cred)
		row.uid = cred->uid.val;
	else
		row.uid_null = 1;
	if (cred)
		row.gid = cred->gid.val;
	else
		row.gid_null = 1;
	__builtin_memcpy(row.comm, task->comm, sizeof(row.comm));
	bpf_seq_write(seq, &row, sizeof(row));
	return 0;
}
