// SPDX-License-Identifier: GPL-2.0
// Benchmark anchor: the C equivalent of
// `bpfq 'from ipv6_route select dst, dst_len, gateway, dev, metric'`: one
// 64-byte binary row per route, the same layout bpfq's program writes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct route_row {
	__u8 dst[16];
	__s32 dst_len;
	__u32 pad0;
	__u8 gateway[16];
	char dev[16];
	__u32 metric;
	__u8 dev_is_null;
	__u8 pad1[3];
};

SEC("iter/ipv6_route")
int dump_route(struct bpf_iter__ipv6_route *ctx)
{
	struct fib6_info *rt = ctx->rt;
	if (!rt)
		return 0;
	struct route_row row = {};
	__builtin_memcpy(row.dst, &rt->fib6_dst.addr, 16);
	row.dst_len = rt->fib6_dst.plen;
	__builtin_memcpy(row.gateway, &rt->fib6_nh[0].nh_common.nhc_gw.ipv6, 16);
	struct net_device *dev = rt->fib6_nh[0].nh_common.nhc_dev;
	if (dev)
		bpf_probe_read_kernel_str(row.dev, sizeof(row.dev), dev->name);
	else
		row.dev_is_null = 1;
	row.metric = rt->fib6_metric;
	bpf_seq_write(ctx->meta->seq, &row, sizeof(row));
	return 0;
}
