// witness.c: an XDP program that reads byte 40 of the packet without
// checking data_end: on packets of 40 bytes or fewer it faults, and
// xebpf verify --witness shows such a packet.
#include "xebpf/bpf.h"

SEC("xdp")
int xdp_past_check(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;

	if (data + 14 > end)
		return XDP_DROP;
	return data[40] == 1 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
