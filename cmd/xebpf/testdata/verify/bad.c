// bad.c: two XDP programs; xdp_unchecked reads the packet without
// checking data_end and is rejected, xdp_ok is accepted.
#include "xebpf/bpf.h"

SEC("xdp")
int xdp_unchecked(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	if (data[12] == 0x08)
		return XDP_PASS;
	return XDP_DROP;
}

SEC("xdp")
int xdp_ok(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
