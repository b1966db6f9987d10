// SPDX-License-Identifier: GPL-2.0
// Benchmark anchor: the C equivalent of
// `bpfq 'from tcp select family, src, sport, dst, dport, state'`: one 24-byte
// binary row per socket, the same layout bpfq's program writes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct tcp_row {
	__u16 family;
	__u32 src;
	__u16 sport;
	__u32 dst;
	__u16 dport;
	__u8 state;
	__u8 pad[5]; // bpfq pads rows to 8 bytes
};

SEC("iter/tcp")
int dump_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *sk = ctx->sk_common;
	if (!sk)
		return 0;
	struct tcp_row row = {};
	row.family = sk->skc_family;
	row.src = sk->skc_rcv_saddr;
	row.sport = sk->skc_num;
	row.dst = sk->skc_daddr;
	row.dport = __builtin_bswap16(sk->skc_dport);
	row.state = sk->skc_state;
	bpf_seq_write(ctx->meta->seq, &row, sizeof(row));
	return 0;
}
