// SPDX-License-Identifier: GPL-2.0
// Benchmark anchor: the C equivalent of
// `bpfq 'from unix select type, state, inode, peer'`: one 32-byte binary row
// per socket, the same layout bpfq's program writes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct unix_row {
	__u16 type;
	__u8 state;
	__u64 inode;
	__u64 peer;
	__u8 peer_is_null;
};

SEC("iter/unix")
int dump_unix(struct bpf_iter__unix *ctx)
{
	struct unix_sock *u = ctx->unix_sk;
	if (!u)
		return 0;
	struct unix_row row = {};
	row.type = u->sk.sk_type;
	row.state = u->sk.__sk_common.skc_state;
	row.inode = u->sk.sk_ino;
	struct sock *peer = u->peer;
	if (peer)
		row.peer = peer->sk_ino;
	else
		row.peer_is_null = 1;
	bpf_seq_write(ctx->meta->seq, &row, sizeof(row));
	return 0;
}
